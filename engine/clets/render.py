"""Render one order version as one CLETS / NCIC fixed-field message, driven by the layout.

The action picks the message (key, field order, required fields) from
`schemas/clets-layout.yaml`; each field's value comes from its named source, is encoded
by its kind, and the whole message is validated by `engine.clets.validate` before it is
returned. Anything the renderer had to change (a transliterated name, a truncated text,
an identifier no field carries) is a warning in `Rendered.warnings`, worded without the
personal value. Every action after the entry needs the DOJ record id of the entry's
acknowledgement in ``ctx.doj_record_id``.
"""

from __future__ import annotations

from engine.clets.fields import NEEDS_ENCODING, encode_with, plain_text
from engine.clets.layout import FieldSpec, Layout, MessageSpec, default_layout
from engine.clets.sources import (
    SOURCE_PATHS,
    SOURCES,
    SourceInput,
    derived_aliases,
    uncoded_marks,
    unused_identifiers,
)
from engine.clets.validate import validate_clets
from engine.errors import FieldError, RenderError
from engine.formats import RenderContext, Rendered
from engine.model import DEPRECATED_RACES, Action, Order

__all__ = ["CONTENT_TYPE", "render_clets"]

CONTENT_TYPE = "text/plain"


class _Message:
    """Lines of one message being built, with what went wrong and what was changed."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.rules = layout.rules
        self.base: list[str] = []
        self.supplemental: list[str] = []
        self.warnings: list[str] = []
        self.errors: list[FieldError] = []
        #: fields whose value could not be encoded (their absence is not a second error)
        self.failed: set[str] = set()
        #: fields that got at least one line
        self.emitted: set[str] = set()

    def add(self, spec: FieldSpec, path: str, raw: object, supplemental: bool) -> None:
        rules = self.rules[spec.mnemonic]
        assert rules.spec is spec  # the layout compiled them from this very spec
        text = plain_text(rules, raw)
        if text is not NEEDS_ENCODING:  # no warning, no error: the line as encode_with makes it
            if text is not None:
                self.emitted.add(spec.mnemonic)
                (self.supplemental if supplemental else self.base).append(rules.prefix + text)
            return
        encoded = encode_with(rules, path, raw)
        if encoded.warnings:
            self.warnings += encoded.warnings
        if encoded.errors:
            self.errors += encoded.errors
            self.failed.add(spec.mnemonic)
        if encoded.text is not None:
            self.emitted.add(spec.mnemonic)
            (self.supplemental if supplemental else self.base).append(rules.prefix + encoded.text)

    def text(self) -> str:
        lines = list(self.base)
        if self.supplemental:
            lines += [self.layout.supplemental_marker, *self.supplemental]
        sep = self.layout.field_separator
        return sep.join(lines) + sep


def _add_field(msg: _Message, spec: FieldSpec, si: SourceInput) -> None:
    values = SOURCES[spec.source](si)
    supplemental = spec.section == "supplemental"
    if len(values) > spec.repeat:
        msg.errors.append(FieldError(values[spec.repeat][0],
                                     f"{spec.mnemonic}: repeated: the layout carries at most "
                                     f"{spec.repeat}"))
        values = values[: spec.repeat]
    for path, raw in values:
        msg.add(spec, path, raw, supplemental)


def _add_group(msg: _Message, name: str, si: SourceInput) -> None:
    layout = msg.layout
    group = layout.groups[name]
    members = SOURCES[group.source](si)
    if len(members) > group.max:
        msg.errors.append(FieldError(members[group.max][0],
                                     f"{name}: repeated: the layout carries at most {group.max}"))
    specs = [layout.fields[m] for m in group.fields]
    columns = [SOURCES[s.source](si) for s in specs]
    for index in range(min(len(members), group.max)):
        for spec, column in zip(specs, columns, strict=True):
            path, raw = column[index]
            if raw is not None:
                msg.add(spec, path, raw, supplemental=index > 0)


def _build(order: Order, ctx: RenderContext, spec: MessageSpec, layout: Layout) -> _Message:
    msg = _Message(layout)
    si = SourceInput(order=order, context=ctx, key=spec.key)
    msg.add(layout.fields[layout.key_field], "action", spec.key, supplemental=False)
    used_sources: set[str] = set()
    for item in spec.items:
        if item in layout.groups:
            _add_group(msg, item, si)
        else:
            _add_field(msg, layout.fields[item], si)
            used_sources.add(layout.fields[item].source)
    for mnemonic in sorted(spec.required - msg.emitted - msg.failed):
        source = layout.fields[mnemonic].source
        msg.errors.append(FieldError(SOURCE_PATHS.get(source, source),
                                     f"{mnemonic}: missing required"))
    for fields, rule in spec.required_one_of:
        if not msg.emitted.intersection(fields) and not msg.failed.intersection(fields):
            source = layout.fields[fields[0]].source
            msg.errors.append(FieldError(SOURCE_PATHS.get(source, source),
                                         f"{fields[0]}: missing required: {rule}"))
    msg.warnings += [f"identifier not carried by the {spec.key} message ({path})"
                     for path in unused_identifiers(order, used_sources)
                     if spec.action in (Action.ISSUE, Action.MODIFY)]
    msg.warnings += _content_warnings(order, used_sources)
    return msg


def _content_warnings(order: Order, used_sources: set[str]) -> list[str]:
    """What the message says differently from the order's own words, said by path."""
    warnings = []
    people = [("restrained_persons.0", order.restrained_persons[0].race, "RAC")]
    people += [(f"protected_persons.{i}", p.race, "PPR")
               for i, p in enumerate(order.protected_persons)]
    if "restrained.race" in used_sources:
        warnings += [f"{mnemonic}: deprecated race word sent as U (unknown): "
                     f"{DEPRECATED_RACES[race]} ({where}.race)"
                     for where, race, mnemonic in people if race in DEPRECATED_RACES]
    if "restrained.smt" in used_sources:
        warnings += [f"SMT: described without an NCIC SMT code, sent in MIS ({path})"
                     for path in uncoded_marks(order)]
    if "restrained.aliases" in used_sources and derived_aliases(order):
        warnings.append("AKA: each part of the compound surname also sent as an alias "
                        "(restrained_persons.0.name)")
    return warnings


def render_clets(order: Order, ctx: RenderContext, layout: Layout | None = None) -> Rendered:
    """The CLETS message for this order version, validated; `RenderError` lists every
    field problem (paths and rules, never values)."""
    layout = layout or default_layout()
    spec = layout.messages[order.action]
    problems: list[FieldError] = []
    if "NIC" in spec.required and not ctx.doj_record_id:
        problems.append(FieldError("context.doj_record_id",
                                   f"NIC: missing required: a {order.action.value} message "
                                   "carries the DOJ record id from the entry's acknowledgement"))
    if len(order.restrained_persons) > layout.max_restrained_persons:
        problems.append(FieldError("restrained_persons",
                                   f"NAM: repeated: a record carries at most "
                                   f"{layout.max_restrained_persons} restrained person(s); "
                                   "split the order"))
    if problems:
        raise RenderError(f"order {order.version_key} cannot be rendered as CLETS "
                          f"{spec.key}", tuple(problems))
    msg = _build(order, ctx, spec, layout)
    text = msg.text()
    # Problems found while encoding name order fields; only a message built without any is
    # worth validating (its errors would otherwise just echo the missing lines).
    problems = msg.errors or validate_clets(text, order.action, layout)
    if problems:
        detail = "; ".join(str(p) for p in problems)
        raise RenderError(f"order {order.version_key} cannot be rendered as CLETS "
                          f"{spec.key}: {detail}", tuple(problems))
    return Rendered(body=text.encode("ascii"), content_type=CONTENT_TYPE,
                    warnings=tuple(dict.fromkeys(msg.warnings)))
