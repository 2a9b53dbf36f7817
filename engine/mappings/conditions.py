"""Conditions of a mapping (`when`, `where`) and source paths, compiled at load.

A condition tests a source value (present, equal to, one of, none of) and/or the order's
mapped canonical type; several tests must all hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.mappings.reporter import Reporter
from engine.mappings.runtime import Condition, Run
from engine.mappings.sources import PathInvalid, Source
from engine.mappings.transforms import ValueProblem, as_text
from engine.mappings.yamlsource import Located, LocatedList
from engine.model import OrderType

__all__ = ["ConditionCompiler"]

_CONDITION_KEYS = ("path", "present", "equals", "in", "not_in", "order_type")


class ConditionCompiler:
    """Compiles conditions and source paths for one source format."""

    def __init__(self, reporter: Reporter, source: Source) -> None:
        self.error = reporter.error
        self.check_keys = reporter.check_keys
        self.source = source

    def condition(self, parent: Located, key: str, keypath: str) -> Condition | None:
        spec = parent.get(key)
        if spec is None:
            return None
        keypath = f"{keypath}.{key}"
        if not isinstance(spec, Located) or not spec:
            self.error(parent, key, keypath,
                       "a condition is a mapping, e.g. `{path: X, equals: Y}` or "
                       "`{order_type: [dv_tro]}`")
            return None
        self.check_keys(spec, _CONDITION_KEYS, keypath)
        checks: list[Condition] = []
        path = spec.get("path")
        if path is not None:
            get = self.getter(spec, "path", path, keypath)
            equals, one_of, none_of = spec.get("equals"), spec.get("in"), spec.get("not_in")
            present = spec.get("present", "true")
            if present not in ("true", "false"):
                self.error(spec, "present", f"{keypath}.present", "must be true or false")
            for list_key, values in (("in", one_of), ("not_in", none_of)):
                if values is not None and not isinstance(values, LocatedList):
                    self.error(spec, list_key, f"{keypath}.{list_key}", "must be a list")
            wanted = frozenset(one_of) if isinstance(one_of, LocatedList) else None
            unwanted = frozenset(none_of) if isinstance(none_of, LocatedList) else frozenset()
            if isinstance(equals, str):
                wanted = frozenset({equals})
            if present == "false":
                checks.append(lambda ctx, run: get(ctx) is None)
            else:
                def source_check(ctx: Any, run: Run) -> bool:
                    value = get(ctx)
                    if value is None:
                        return False
                    if value.__class__ is str:
                        text = value.strip()
                    else:
                        try:
                            text = as_text(value).strip()
                        except ValueProblem:
                            return False
                    return (wanted is None or text in wanted) and text not in unwanted
                checks.append(source_check)
        elif any(k in spec for k in ("present", "equals", "in", "not_in")):
            self.error(spec, next(iter(spec)), keypath, "a source test needs a `path`")
        order_types = spec.get("order_type")
        if order_types is not None:
            items = [order_types] if isinstance(order_types, str) else order_types
            allowed = {t.value for t in OrderType}
            if not isinstance(items, list) or any(i not in allowed for i in items):
                self.error(spec, "order_type", f"{keypath}.order_type",
                           f"must be canonical order types (one of: {', '.join(sorted(allowed))})")
            else:
                types_wanted = frozenset(OrderType(i) for i in items)
                checks.append(lambda ctx, run: run.order_type in types_wanted)
        if not checks:
            return None
        if len(checks) == 1:
            return checks[0]
        return lambda ctx, run: all(check(ctx, run) for check in checks)

    def getter(self, node: Located, key: str, path: Any, keypath: str) -> Callable[[Any], Any]:
        if not isinstance(path, str):
            self.error(node, key, f"{keypath}.{key}", "a path is one line of text")
            return lambda ctx: None
        try:
            return self.source.getter(path)
        except PathInvalid as exc:
            self.error(node, key, f"{keypath}.{key}", f"path can never match: {exc}")
            return lambda ctx: None

