"""`engine check`'s second half: the order as each destination kind would render it.

`engine.law.checks` holds the rules of a sound order; each renderer holds its format's own rules
(the CLETS layout's required fields, lengths and code tables, the NIEM schema). A court that
checks its files must never be surprised at send time, so the check renders the order with
every destination kind (a preview transmission: placeholder MCN and DOJ record id) and
reports each renderer's field errors as its own. There is no second copy of any rule here.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterable

from engine.errors import FieldError, RenderError
from engine.formats import RenderContext, Renderer
from engine.model import Action, Order

__all__ = ["DESTINATION_KINDS", "preflight_problems", "preview_context"]

#: Every outbound format a destination can speak, and its renderer.
DESTINATION_KINDS: dict[str, str] = {
    "niem": "engine.niem:render_niem",
    "clets": "engine.clets:render_clets",
}
_PREVIEW_MCN = "PREVIEW-CHECK"
_PREVIEW_RECORD_ID = "PREVIEWNIC"


def _renderer(target: str) -> Renderer:
    module, _, name = target.partition(":")
    renderer: Renderer = getattr(importlib.import_module(module), name)
    return renderer


def preview_context(order: Order) -> RenderContext:
    """A transmission context every format accepts, for an order that is not being sent."""
    return RenderContext(mcn=_PREVIEW_MCN, sent_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
                         doj_record_id=None if order.action is Action.ISSUE
                         else _PREVIEW_RECORD_ID)


def preflight_problems(order: Order, kinds: Iterable[str] | None = None) -> list[FieldError]:
    """Every field error a destination kind's renderer finds in ``order`` (all kinds by
    default), each reason prefixed with the kind; empty when every one renders it."""
    problems: list[FieldError] = []
    ctx = preview_context(order)
    for kind in kinds if kinds is not None else DESTINATION_KINDS:
        try:
            _renderer(DESTINATION_KINDS[kind])(order, ctx)
        except RenderError as exc:
            problems += [FieldError(e.path, f"{kind}: {e.reason}") for e in exc.errors] or [
                FieldError("(order)", f"{kind}: {exc}")]
    return problems
