"""One CLETS field's rules, compiled once per layout: the validator's check of a field text.

`FieldRules.reasons` is `engine.clets.fields.check_value` with everything that depends only
on the layout worked out when the layout loads: the reason texts, the code set, the date
checker for the layout's date format, the pattern's match function, and the set of values
already known to pass (every table code and ``none_value`` that passes the full check, so
a code field is one set look-up). The rules and their order are the same as ever.

Dates: `date_checker` answers exactly as ``datetime.strptime`` plus the fixed-width test
(strptime takes 1-digit months and days; the registry wants the fixed width). For a format
made of ``%Y``, ``%m`` and ``%d`` with punctuation between, text of fixed-width ASCII digits
is a valid date exactly when `datetime.date` accepts the numbers (strptime's own patterns
take both digits of a month 01-12 and of a day 01-31, and no other split fills the width),
so that text is checked without strptime; anything else still goes through strptime.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from collections.abc import Callable, Mapping
from typing import Generic, Protocol, TypeVar

__all__ = ["FieldRules", "FieldShape", "date_checker", "date_formatter"]


class TableShape(Protocol):
    """What the rules read of a field's code table (`engine.clets.layout.CodeTable`)."""

    @property
    def name(self) -> str: ...
    @property
    def codes(self) -> Mapping[str, str]: ...
    @property
    def code_set(self) -> frozenset[str]: ...


class FieldShape(Protocol):
    """What the rules read of a field's spec (`engine.clets.layout.FieldSpec`): the layout
    imports this module to compile its rules, so this module does not import the layout."""

    @property
    def mnemonic(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def max_length(self) -> int: ...
    @property
    def charset_name(self) -> str: ...
    @property
    def charset(self) -> frozenset[str]: ...
    @property
    def table(self) -> TableShape | None: ...
    @property
    def pattern(self) -> re.Pattern[str] | None: ...
    @property
    def none_value(self) -> str | None: ...


#: The spec type the rules were compiled from (the layout's `FieldSpec`), kept as ``spec``.
Spec = TypeVar("Spec", bound=FieldShape)

#: Directives the fast date path understands, with their fixed widths.
_WIDTHS = {"Y": 4, "m": 2, "d": 2}
#: Characters allowed between them (strptime matches each literally: no blanks, no letters).
_LITERALS = frozenset("-/._:,")


def _fixed_fields(fmt: str) -> list[str] | None:
    """``fmt`` as a list of directives ("Y", "m", "d") and literal characters, or None
    when it is not a fixed-width all-digit date format of each directive once."""
    parts: list[str] = []
    i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            directive = fmt[i + 1: i + 2]
            if directive not in _WIDTHS or directive in parts:
                return None
            parts.append(directive)
            i += 2
        elif fmt[i] in _LITERALS:
            parts.append("%" + fmt[i])  # a literal, marked so it never equals a directive
            i += 1
        else:
            return None
    return parts if sorted(p for p in parts if p in _WIDTHS) == ["Y", "d", "m"] else None


def _strptime_checker(fmt: str) -> Callable[[str], bool]:
    """The check as it always was: strptime, then the fixed width."""

    def check(value: str) -> bool:
        width = len(dt.date(2000, 1, 1).strftime(fmt))
        try:
            dt.datetime.strptime(value, fmt)
            if len(value) != width:
                raise ValueError(value)
        except ValueError:
            return False
        return True

    return check


@functools.cache
def date_checker(fmt: str) -> Callable[[str], bool]:
    """Whether a text is a valid date in ``fmt`` at its fixed width (see the module doc)."""
    slow = _strptime_checker(fmt)
    parts = _fixed_fields(fmt)
    if parts is None:
        return slow
    regex = re.compile("".join(f"([0-9]{{{_WIDTHS[p]}}})" if p in _WIDTHS else re.escape(p[1])
                               for p in parts))
    order = [p for p in parts if p in _WIDTHS]
    year, month, day = (order.index(p) + 1 for p in ("Y", "m", "d"))

    def check(value: str) -> bool:
        found = regex.fullmatch(value)
        if found is None:
            return slow(value)
        try:
            dt.date(int(found[year]), int(found[month]), int(found[day]))
        except ValueError:
            return False
        return True

    return check


@functools.cache
def date_formatter(fmt: str) -> Callable[[dt.date], str]:
    """``date.strftime(fmt)``, without strftime for 4-digit years in a format of
    ``%Y``, ``%m``, ``%d`` and punctuation (other years keep strftime's own spelling)."""
    parts = _fixed_fields(fmt)
    if parts is None:
        return lambda value: value.strftime(fmt)
    directives = {"Y": ("%04d", "year"), "m": ("%02d", "month"), "d": ("%02d", "day")}
    # A literal is one character of _LITERALS (never "%"), marked with a leading "%".
    template = "".join(directives[p][0] if p in directives else p[1] for p in parts)
    numbers = operator.attrgetter(*(directives[p][1] for p in parts if p in directives))

    def text(value: dt.date) -> str:
        if value.year >= 1000:
            return template % numbers(value)
        return value.strftime(fmt)

    return text


class FieldRules(Generic[Spec]):
    """The rules one field's text must keep, compiled from its spec and the layout."""

    __slots__ = ("_bad_char", "_bad_code", "_bad_date", "_bad_format", "_charset", "_codes",
                 "_date_ok", "_matches", "_max_length", "_none_value", "format_date",
                 "good_codes", "known_good", "prefix", "spec")

    def __init__(self, spec: Spec, value_separator: str, date_format: str,
                 date_format_text: str) -> None:
        self.spec = spec
        #: ``MNEMONIC/`` as the field's lines start
        self.prefix = spec.mnemonic + value_separator
        self._max_length = spec.max_length
        self._charset = spec.charset
        self._bad_char = f"bad character: outside the {spec.charset_name} set"
        self._none_value = spec.none_value
        self._codes = spec.table.code_set if spec.table is not None else None
        self._bad_code = f"bad code: not in table {spec.table.name}" if spec.table else ""
        self._date_ok = date_checker(date_format) if spec.kind == "date" else None
        self._bad_date = f"bad date: expected {date_format_text}"
        #: ``date.strftime`` in the layout's date format
        self.format_date = date_formatter(date_format)
        self._matches = spec.pattern.fullmatch if spec.pattern is not None else None
        self._bad_format = (f"bad format: does not match {spec.pattern.pattern}"
                            if spec.pattern is not None else "")
        #: values that break no rule, worked out once (table codes and ``none_value``)
        self.known_good: frozenset[str] = frozenset()
        candidates = set(self._codes or ())
        if spec.none_value is not None:
            candidates.add(spec.none_value)
        self.known_good = frozenset(v for v in candidates if not self.reasons(v))
        #: canonical word -> code, for the words whose code breaks no rule
        self.good_codes: dict[str, str] = (
            {w: c for w, c in spec.table.codes.items() if c in self.known_good}
            if spec.table is not None else {})

    def reasons(self, value: str) -> list[str]:
        """Every rule ``value`` breaks as this field's text, each reason starting with the
        rule (as `engine.clets.fields.check_value`)."""
        if value in self.known_good:
            return []
        if value == "":
            return ["missing required: empty value"]
        reasons = []
        if len(value) > self._max_length:
            reasons.append(f"too long: {len(value)} characters, max {self._max_length}")
        if not self._charset.issuperset(value):
            reasons.append(self._bad_char)
        if self._none_value is not None and value == self._none_value:
            return reasons
        if self._codes is not None and value not in self._codes:
            reasons.append(self._bad_code)
        if self._date_ok is not None and not self._date_ok(value):
            reasons.append(self._bad_date)
        if self._matches is not None and not self._matches(value):
            reasons.append(self._bad_format)
        return reasons
