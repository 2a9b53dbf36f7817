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

    __slots__ = ("doc", "lines", "order_type", "problems")

    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self.order_type: Any = None
        self.problems: list[FieldError] = []
        #: Canonical path of a list item -> the input line it came from (record exports).
        self.lines: dict[str, int] = {}

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
        one_step.read_and_step = (read, step)  # type: ignore[attr-defined]  # for inlining
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


def _read_lines(n: int, read: Any, names: dict[str, Any]) -> list[str]:
    """Source lines setting ``v`` to what getter `read` gives for ``ctx`` (inlined if simple)."""
    keys = getattr(read, "json_keys", None)
    if keys is None:
        names[f"r{n}"] = read
        return [f"v = r{n}(ctx)"]
    lines = []
    for depth, key in enumerate(keys):
        names[f"k{n}_{depth}"] = key
        if depth == 0:
            lines.append(f"v = c.get(k{n}_0)")
        else:
            lines.append(f"v = v.get(k{n}_{depth}) if v.__class__ is dict else None")
    lines.append("if v.__class__ is str and (not v or v.isspace()):")
    lines.append("    v = None")
    return lines


def node_builder(entries: tuple[tuple[str, int, Any], ...], when: Condition | None) -> Builder:
    """A builder for one record, generated as one function with simple reads inlined.

    Generating the function (once, at load) saves a call and a loop step per field, which is
    most of the cost of a mapping; the code only refers to objects by generated names, never
    to text from the mapping file.
    """
    names: dict[str, Any] = {"FieldError": FieldError, "ValueProblem": ValueProblem,
                             "OrderType": OrderType, "_EMPTY": {}, "when": when}
    body = ["def build(ctx, run, prefix):"]
    if when is not None:
        body += ["    if not when(ctx, run):", "        return None"]
    body += ["    c = ctx if ctx.__class__ is dict else _EMPTY", "    out = {}"]
    for n, (key, kind, fn) in enumerate(entries):
        names[f"key{n}"] = key
        names[f"sub{n}"] = key + "."
        if kind is READ:
            lines = _read_lines(n, fn, names)
            lines += ["if v is not None:", f"    out[key{n}] = v"]
        elif kind is LEAF and hasattr(fn, "read_and_step"):
            read, step = fn.read_and_step
            names[f"s{n}"] = step
            lines = _read_lines(n, read, names)
            lines += ["if v is not None:",
                      "    try:",
                      f"        v = s{n}(v)",
                      "    except ValueProblem as problem:",
                      f"        run.problems.append(FieldError(prefix + key{n}, str(problem)))",
                      "        v = None",
                      "    if v is not None:",
                      f"        out[key{n}] = v"]
        elif kind is LEAF or kind is ORDER_TYPE:
            names[f"f{n}"] = fn
            lines = ["try:",
                     f"    v = f{n}(ctx, run)",
                     "except ValueProblem as problem:",
                     f"    run.problems.append(FieldError(prefix + key{n}, str(problem)))",
                     "    v = None"]
            if kind is ORDER_TYPE:
                lines += ["try:",
                          "    run.order_type = OrderType(v)",
                          "except ValueError:",
                          "    run.order_type = None"]
            lines += ["if v is not None:", f"    out[key{n}] = v"]
        elif kind is GROUP:  # always set: an empty list is reported as too short
            names[f"f{n}"] = fn
            lines = [f"out[key{n}] = f{n}(ctx, run, prefix + sub{n})"]
        else:
            names[f"f{n}"] = fn
            lines = [f"v = f{n}(ctx, run, prefix + sub{n})", "if v:", f"    out[key{n}] = v"]
        body += ["    " + line for line in lines]
    body.append("    return out")
    code = compile("\n".join(body) + "\n", "<mapping record builder>", "exec")
    exec(code, names)  # noqa: S102 - generated from fixed templates; mapping text is data
    return names["build"]  # type: ignore[no-any-return]


def group_builder(specs: tuple[tuple[Any, ...], ...]) -> Builder:
    def build(ctx: Any, run: Run, prefix: str) -> list[Any]:
        out: list[Any] = []
        for items, where, when, build_item, evaluate in specs:
            if when is not None and not when(ctx, run):
                continue
            for item in items(ctx, run):
                if where is not None and not where(item, run):
                    continue
                line = getattr(item, "line", None)  # a record of a record export
                if line is not None:
                    run.lines[f"{prefix}{len(out)}"] = line
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


