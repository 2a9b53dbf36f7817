"""Transform steps of a rule (`transform: [...]`), checked and bound to their settings at load.

Each step is checked against the kind of value it receives (text, a list from `paths`, a
date, ...) so a chain that can never work (`upper` after `date`) fails the load; the
functions bound here are the plain ones of `engine.mappings.transforms`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.mappings.reporter import Reporter
from engine.mappings.transforms import (
    NAME_ORDERS,
    ValueProblem,
    as_text,
    feet_inches,
    join_values,
    parse_date,
    parse_datetime,
    pattern_format,
    split_name,
    split_parts,
    to_int,
)
from engine.mappings.yamlsource import Located, LocatedList

__all__ = ["TRANSFORM_NAMES", "TransformCompiler"]

_PLAIN_TRANSFORMS = ("strip", "upper", "lower", "int", "feet_inches")
_ARG_TRANSFORMS = ("split_name", "split", "date", "datetime", "join", "regex", "bool",
                   "none_if")
#: The parts a `split` transform can cut a name into (canonical PersonName fields).
_NAME_PARTS = ("surname", "given", "middle", "suffix")
#: Every transform a mapping can name.
TRANSFORM_NAMES = _PLAIN_TRANSFORMS + _ARG_TRANSFORMS


class TransformCompiler:
    """Compiles one transform step into (function, kind of value it gives)."""

    def __init__(self, reporter: Reporter) -> None:
        self.error = reporter.error

    def step(self, step: Any, steps: LocatedList, index: int, keypath: str,
                          kind: str) -> tuple[Callable[[Any], Any] | None, str]:
        """One transform step: (function, kind of value it gives)."""
        where = f"{keypath}.transform[{index}]"
        line_holder = LocatedList(steps.item_lines[index])
        if isinstance(step, str):
            name, arg = step, None
        elif isinstance(step, Located) and len(step) == 1:
            name, arg = next(iter(step.items()))
        else:
            self.error(line_holder, "", where,
                       "a transform is a name (`upper`) or one `name: setting` pair")
            return None, kind
        if name not in _PLAIN_TRANSFORMS + _ARG_TRANSFORMS:
            self.error(line_holder, "", where, f"unknown transform {name!r}; known: "
                       f"{', '.join(_PLAIN_TRANSFORMS + _ARG_TRANSFORMS)}")
            return None, kind
        if name in _PLAIN_TRANSFORMS and arg is not None:
            self.error(line_holder, "", where, f"transform {name!r} takes no setting")
            return None, kind
        if name != "join" and kind == "list":
            self.error(line_holder, "", where, f"{name!r} needs one value; `paths` gives "
                       "several: put a `join` first")
            return None, kind
        if name != "join" and kind not in ("text",):
            self.error(line_holder, "", where, f"{name!r} needs text, but the value is "
                       f"already a {kind}")
            return None, kind
        if name == "strip":
            return (lambda v: as_text(v).strip() or None), "text"
        if name == "upper":
            return (lambda v: as_text(v).upper()), "text"
        if name == "lower":
            return (lambda v: as_text(v).lower()), "text"
        if name == "int":
            return (lambda v: to_int(as_text(v))), "int"
        if name == "feet_inches":
            return (lambda v: feet_inches(as_text(v))), "int"
        if name == "split_name":
            if arg not in NAME_ORDERS:
                self.error(line_holder, "", where, f"split_name takes one of: "
                           f"{', '.join(NAME_ORDERS)}")
                return None, kind
            return (lambda v, order=arg: split_name(as_text(v), order)), "name"
        if name == "split":
            return self.split_transform(arg, line_holder, where)
        if name == "none_if":
            if not (isinstance(arg, LocatedList) and arg and all(isinstance(a, str)
                                                                 for a in arg)):
                self.error(line_holder, "", where, "none_if takes the list of texts that "
                           "mean no value, e.g. ['00000000', 'UNK']")
                return None, kind
            empty = frozenset(a.strip() for a in arg)
            return (lambda v: None if as_text(v).strip() in empty else v), "text"
        if name == "date":
            fmt = self.format_arg(arg, line_holder, where, "date")
            if fmt is None:
                return None, kind
            return (lambda v: parse_date(as_text(v), fmt)), "date"
        if name == "datetime":
            return self.datetime_transform(arg, line_holder, where)
        if name == "join":
            if not isinstance(arg, str):
                self.error(line_holder, "", where, "join takes the separator text, e.g. ' '")
                return None, kind
            return (lambda v, sep=arg: join_values(v, sep)), "text"
        if name == "regex":
            return self.regex_transform(arg, line_holder, where)
        return self.bool_transform(arg, line_holder, where)

    def format_arg(self, arg: Any, holder: LocatedList, where: str, name: str) -> str | None:
        """A strptime format, or a strict pattern (``MMDDYYYY``) made into one; a pattern's
        digits are then checked exactly (strptime alone takes ``1122026`` as 1/12/2026)."""
        if isinstance(arg, str) and "%" not in arg:
            found = pattern_format(arg)
            if found is not None:
                return _StrictFormat(*found)
        if not isinstance(arg, str) or "%" not in arg:
            self.error(holder, "", where, f"{name} takes a strptime format, e.g. '%m/%d/%Y', "
                       "or a pattern such as MMDDYYYY or 'YYYYMMDD HHMM'")
            return None
        return arg

    def split_transform(self, arg: Any, holder: LocatedList,
                        where: str) -> tuple[Callable[[Any], Any] | None, str]:
        if not (isinstance(arg, Located) and set(arg) == {"separator", "parts"}
                and isinstance(arg["separator"], str) and arg["separator"]
                and isinstance(arg["parts"], LocatedList) and arg["parts"]
                and all(p in _NAME_PARTS for p in arg["parts"])
                and len(set(arg["parts"])) == len(arg["parts"]) and "surname" in arg["parts"]):
            self.error(holder, "", where, "split takes {separator: '*', parts: [surname, "
                       "given, middle, suffix]} (name parts in the export's order, each once, "
                       "surname among them)")
            return None, "text"
        separator, parts = arg["separator"], tuple(arg["parts"])
        return (lambda v: split_parts(as_text(v), separator, parts)), "name"

    def datetime_transform(self, arg: Any, holder: LocatedList,
                           where: str) -> tuple[Callable[[Any], Any] | None, str]:
        if not isinstance(arg, Located) or set(arg) - {"format", "tz"}:
            self.error(holder, "", where,
                       "datetime takes {format: '<strptime format>', tz: <IANA zone>}")
            return None, "text"
        fmt = self.format_arg(arg.get("format"), holder, where, "datetime")
        if fmt is None:
            return None, "text"
        zone = None
        if arg.get("tz") is not None:
            try:
                zone = ZoneInfo(arg["tz"])
            except (ZoneInfoNotFoundError, ValueError):
                self.error(arg, "tz", f"{where}.tz", "not an IANA time zone name "
                           "(e.g. America/Los_Angeles)")
                return None, "text"
        elif "%z" not in fmt:
            self.error(holder, "", where, "a format without %z needs `tz` "
                       "(the court's time zone, e.g. America/Los_Angeles)")
            return None, "text"
        return (lambda v: parse_datetime(as_text(v), fmt, zone)), "datetime"

    def regex_transform(self, arg: Any, holder: LocatedList,
                        where: str) -> tuple[Callable[[Any], Any] | None, str]:
        arg_pattern: Any
        group: Any
        if isinstance(arg, str):
            arg_pattern, group = arg, "1"
        elif isinstance(arg, Located) and not set(arg) - {"pattern", "group"}:
            arg_pattern, group = arg.get("pattern"), arg.get("group", "1")
        else:
            self.error(holder, "", where, "regex takes a pattern or {pattern, group}")
            return None, "text"
        try:
            compiled = re.compile(arg_pattern)
            group_number = int(group)
        except (re.error, TypeError, ValueError) as exc:
            self.error(holder, "", where, f"not a usable regular expression: {exc}")
            return None, "text"
        if group_number > compiled.groups:
            self.error(holder, "", where, f"the pattern has {compiled.groups} group(s), "
                       f"not {group_number}")
            return None, "text"

        def extract(value: Any) -> Any:
            match = compiled.search(as_text(value))
            found = match.group(group_number) if match else None
            return found if found and found.strip() else None  # empty text is no value
        return extract, "text"

    def bool_transform(self, arg: Any, holder: LocatedList,
                       where: str) -> tuple[Callable[[Any], Any] | None, str]:
        if not (isinstance(arg, Located) and set(arg) == {"true", "false"}
                and all(isinstance(v, LocatedList) for v in arg.values())):
            self.error(holder, "", where, "bool takes {true: [codes], false: [codes]}")
            return None, "text"
        yes = frozenset(str(v).upper() for v in arg["true"])
        no = frozenset(str(v).upper() for v in arg["false"])

        def to_bool(value: Any) -> bool:
            code = as_text(value).strip().upper()
            if code in yes:
                return True
            if code in no:
                return False
            raise ValueProblem("is neither a true nor a false code of the bool transform")
        return to_bool, "bool"


class _StrictFormat(str):
    """A strptime format made from a pattern, with the exact digit shape it must match."""

    shape: re.Pattern[str]

    def __new__(cls, fmt: str, shape: re.Pattern[str]) -> _StrictFormat:
        made = super().__new__(cls, fmt)
        made.shape = shape
        return made
