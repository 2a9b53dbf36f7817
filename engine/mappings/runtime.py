"""What runs per message: the small closures a compiled mapping is made of.

Everything here was decided at load (paths compiled, tables converted, conditions built);
per message these functions only read values, apply the bound steps and assemble a dict
in canonical intake shape. A value that cannot be mapped is recorded in the `Run` with
its canonical path, so one bad field never hides the others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.errors import FieldError
from engine.mappings.transforms import ValueProblem
from engine.model import OrderType

__all__ = [
    "GROUP",
    "LEAF",
    "NODE",
    "ORDER_TYPE",
    "READ",
    "Builder",
    "Condition",
    "Evaluator",
    "PlainRead",
    "Run",
    "group_builder",
    "leaf",
    "node_builder",
]

#: Reads one value for a target from a context; None when there is none.
Evaluator = Callable[[Any, "Run"], Any]
#: A test on a context (``when`` / ``where``).
Condition = Callable[[Any, "Run"], bool]
#: Builds a canonical dict (or list) for a model (or group) from a context.
Builder = Callable[[Any, "Run", str], Any]


class Run:
    """The state of mapping one message: the document, the order type, problems found."""

    __slots__ = ("doc", "order_type", "problems")

    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self.order_type: Any = None
        self.problems: list[FieldError] = []

#: Kinds of node entry.
READ, LEAF, ORDER_TYPE, NODE, GROUP = range(5)


class PlainRead:
    """A rule that only reads a path: the node calls `read` directly (the hot path)."""

    __slots__ = ("read",)

    def __init__(self, read: Callable[[Any], Any]) -> None:
        self.read = read

    def __call__(self, ctx: Any, run: Run) -> Any:
        return self.read(ctx)


def leaf(read: Callable[[Any], Any], steps: tuple[Callable[[Any], Any], ...], default: Any,
          when: Condition | None) -> Evaluator:
    if when is None and default is None and len(steps) == 1:
        step = steps[0]

        def one_step(ctx: Any, run: Run) -> Any:
            value = read(ctx)
            return None if value is None else step(value)
        return one_step

    def evaluate(ctx: Any, run: Run) -> Any:
        if when is not None and not when(ctx, run):
            return None
        value = read(ctx)
        if value is None:
            return default
        for step in steps:
            value = step(value)
            if value is None:
                return default
        return value
    return evaluate


def node_builder(entries: tuple[tuple[str, int, Any], ...], when: Condition | None) -> Builder:
    # Plain reads are most of any mapping: they get their own tight loop.
    reads = tuple((key, fn) for key, kind, fn in entries if kind is READ)
    others = tuple(e for e in entries if e[1] is not READ)

    def build(ctx: Any, run: Run, prefix: str) -> dict[str, Any] | None:
        if when is not None and not when(ctx, run):
            return None
        out: dict[str, Any] = {}
        for key, kind, fn in others:
            if kind is LEAF:
                try:
                    value = fn(ctx, run)
                except ValueProblem as problem:
                    run.problems.append(FieldError(prefix + key, str(problem)))
                    continue
                if value is not None:
                    out[key] = value
            elif kind is ORDER_TYPE:
                try:
                    value = fn(ctx, run)
                except ValueProblem as problem:
                    run.problems.append(FieldError(prefix + key, str(problem)))
                    continue
                try:
                    run.order_type = OrderType(value)
                except ValueError:
                    run.order_type = None
                if value is not None:
                    out[key] = value
            elif kind is GROUP:  # always set: an empty list is reported as too short
                out[key] = fn(ctx, run, f"{prefix}{key}.")
            else:
                value = fn(ctx, run, f"{prefix}{key}.")
                if value:
                    out[key] = value
        for key, read in reads:
            value = read(ctx)
            if value is not None:
                out[key] = value
        return out
    return build


def group_builder(specs: tuple[tuple[Any, ...], ...]) -> Builder:
    def build(ctx: Any, run: Run, prefix: str) -> list[Any]:
        out: list[Any] = []
        for items, where, when, build_item, evaluate in specs:
            if when is not None and not when(ctx, run):
                continue
            for item in items(ctx, run):
                if where is not None and not where(item, run):
                    continue
                if build_item is not None:
                    built = build_item(item, run, f"{prefix}{len(out)}.")
                    if built is not None:
                        out.append(built)
                    continue
                try:
                    value = evaluate(item, run)
                except ValueProblem as problem:
                    run.problems.append(FieldError(f"{prefix}{len(out)}", str(problem)))
                    out.append(None)
                    continue
                if value is not None:
                    out.append(value)
        return out
    return build


