"""The value transforms a mapping can name: split a name, read a date, pick out a pattern.

Each is a plain function over one source value, raising `ValueProblem` (never anything
else) when the value cannot become what the canonical order needs. The mapping compiler
binds their settings once at load; the functions themselves hold no state.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "NAME_ORDERS",
    "ValueProblem",
    "as_text",
    "feet_inches",
    "join_values",
    "parse_date",
    "parse_datetime",
    "pattern_format",
    "split_name",
    "split_parts",
    "to_int",
]

#: How a full name is written: "SURNAME, GIVEN MIDDLE", "Given Middle Surname", or either
#: (a comma means surname first).
NAME_ORDERS = ("auto", "surname_first", "given_first")

_SUFFIX = re.compile(r"^(JR|SR|I|II|III|IV|V|VI)\.?$", re.IGNORECASE | re.ASCII)
_FEET_INCHES = re.compile(
    r"""^\s*(\d)\s*(?:'|ft\.?|feet|-|\s)\s*(\d{1,2})\s*(?:"|''|in\.?|inches)?\s*$""",
    re.IGNORECASE)
_NCIC_HEIGHT = re.compile(r"^\s*(\d)(\d\d)\s*$")  # NCIC HGT: feet then two-digit inches


class ValueProblem(Exception):
    """A source value that cannot become the target's value; the text names no value."""


def as_text(value: Any) -> str:
    """A source scalar as text (JSON numbers and booleans as JSON writes them)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        raise ValueProblem("expected one value, found a list")
    if isinstance(value, dict):
        raise ValueProblem("expected one value, found an object")
    raise ValueProblem("expected text")


def _suffix_of(tokens: list[str]) -> str | None:
    """Take a generational suffix off the end of a name part that has more than one token."""
    if len(tokens) > 1 and _SUFFIX.match(tokens[-1]):
        return tokens.pop().rstrip(".").upper()
    return None


def split_name(text: str, order: str = "auto") -> dict[str, str]:
    """A full name as canonical parts: ``surname`` always, ``given``/``middle``/``suffix``
    when written. Keeps every letter of the input in some part."""
    text = text.strip()
    if not text:
        raise ValueProblem("the name is empty")
    if order == "auto":
        head, _, tail = text.rpartition(",")
        is_suffix_only = bool(head) and bool(_SUFFIX.match(tail.strip()))
        order = "surname_first" if "," in text and not is_suffix_only else "given_first"
    parts: dict[str, str] = {}
    if order == "surname_first":
        surname_part, comma, rest = text.partition(",")
        surname_tokens = surname_part.split()
        rest_tokens = rest.replace(",", " ").split()
        if not comma:  # "SURNAME GIVEN MIDDLE" with blanks only
            surname_tokens, rest_tokens = surname_tokens[:1], surname_tokens[1:]
        suffix = _suffix_of(rest_tokens) or _suffix_of(surname_tokens)
        if not surname_tokens:
            raise ValueProblem("the name has no surname before the comma")
        parts["surname"] = " ".join(surname_tokens)
        given_tokens = rest_tokens
    elif order == "given_first":
        tokens = text.replace(",", " ").split()
        suffix = _suffix_of(tokens) if len(tokens) > 2 else None
        if not tokens:
            raise ValueProblem("the name is empty")
        parts["surname"] = tokens.pop()
        given_tokens = tokens
    else:
        raise ValueProblem(f"unknown name order {order!r}")
    if given_tokens:
        parts["given"] = given_tokens[0]
        if len(given_tokens) > 1:
            parts["middle"] = " ".join(given_tokens[1:])
    if suffix:
        parts["suffix"] = suffix
    return parts


#: Formats with a faster exact parser than strptime: the ISO 8601 shapes and the US shapes
#: old CMS exports use. A fast parser answers only for text it is sure of (else strptime
#: decides), and a differential test holds it to strptime's results.
_ISO_DATE = "%Y-%m-%d"
_ISO_DATE_TEXT = re.compile(r"\d{4}-\d\d-\d\d", re.ASCII)
_ISO_DATETIMES = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S")
_US_DATE = "%m/%d/%Y"
_US_DATE_TEXT = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})", re.ASCII)
_US_DATETIME = "%m/%d/%Y %I:%M %p"
_US_DATETIME_TEXT = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):([0-5]\d) ([AaPp][Mm])",
                               re.ASCII)


def _fast_date(text: str, fmt: str) -> dt.date | None:
    if fmt == _ISO_DATE and _ISO_DATE_TEXT.fullmatch(text):
        return dt.date.fromisoformat(text)
    if fmt == _US_DATE:
        match = _US_DATE_TEXT.fullmatch(text)
        if match and match.group(1) != "0" and match.group(2) != "0":
            return dt.date(int(match.group(3)), int(match.group(1)), int(match.group(2)))
    return None


def _fast_datetime(text: str, fmt: str) -> dt.datetime | None:
    if fmt == _US_DATETIME:
        match = _US_DATETIME_TEXT.fullmatch(text)
        if not match or match.group(1) == "0" or match.group(2) == "0":
            return None
        hour = int(match.group(4))
        if not 1 <= hour <= 12 or match.group(4) == "00":
            return None
        if match.group(6).upper() == "AM":
            hour = 0 if hour == 12 else hour
        else:
            hour = 12 if hour == 12 else hour + 12
        return dt.datetime(int(match.group(3)), int(match.group(1)), int(match.group(2)),
                           hour, int(match.group(5)))
    return _iso_fast(text, fmt)


def _pattern_moment(text: str, fmt: str, what: str) -> dt.datetime | None:
    """For a format made from a pattern (MMDDYYYY): the moment its exact digits say (read
    straight from them: strptime costs most of a record export's mapping), else None."""
    shape = getattr(fmt, "shape", None)
    if shape is None:
        return None
    match = shape.fullmatch(text)
    if match is None:
        raise ValueProblem(f"is not a {what} in the pattern's exact digits ({fmt!s})")
    parts = {k: int(v) for k, v in match.groupdict().items()}
    try:
        return dt.datetime(parts.get("Y", 1900), parts.get("m", 1), parts.get("d", 1),
                           parts.get("H", 0), parts.get("M", 0), parts.get("S", 0))
    except ValueError:
        raise ValueProblem(f"is not a {what} in the format {fmt!s}") from None


def parse_date(text: str, fmt: str) -> dt.date:
    """A date written in `fmt` (strptime codes); a datetime format gives its date."""
    text = text.strip()
    exact = _pattern_moment(text, fmt, "date")
    if exact is not None:
        return exact.date()
    try:
        return _fast_date(text, fmt) or dt.datetime.strptime(text, fmt).date()
    except (ValueError, OverflowError):
        raise ValueProblem(f"is not a date in the format {fmt!r}") from None


def parse_datetime(text: str, fmt: str, zone: ZoneInfo | None) -> dt.datetime:
    """A moment written in `fmt`; a time without an offset is local time in `zone`."""
    text = text.strip()
    exact = _pattern_moment(text, fmt, "date and time")
    try:
        moment = exact or _fast_datetime(text, fmt) or dt.datetime.strptime(text, fmt)
    except (ValueError, OverflowError):
        raise ValueProblem(f"is not a date and time in the format {fmt!r}") from None
    if moment.tzinfo is None:
        if zone is None:
            raise ValueProblem("has no UTC offset and the mapping gives no time zone")
        moment = moment.replace(tzinfo=zone)
    return moment


def _iso_fast(text: str, fmt: str) -> dt.datetime | None:
    """`fromisoformat` for text that is exactly `fmt`'s ISO shape; None to use strptime."""
    if fmt not in _ISO_DATETIMES or len(text) < 19 or text[10] != "T":
        return None
    if not _ISO_DATE_TEXT.fullmatch(text[:10]) or not re.fullmatch(r"\d\d:\d\d:\d\d",
                                                                     text[11:19], re.ASCII):
        return None
    if fmt.endswith("%z") != (len(text) > 19) or (len(text) > 19 and text[19] not in "+-Z"):
        return None
    if len(text) > 19 and not re.fullmatch(r"[+-]\d\d:?\d\d|Z", text[19:], re.ASCII):
        return None
    return dt.datetime.fromisoformat(text)


#: Tokens of a fixed-width date/time pattern such as ``MMDDYYYY`` or ``YYYYMMDD HHMM``
#: (an ``MM`` after ``HH`` is minutes): each stands for exactly that many digits.
_PATTERN_TOKEN = re.compile(r"YYYY|MM|DD|HH|SS")
_PATTERN_LITERAL = re.compile(r"[ T:/.\-]")


def pattern_format(pattern: str) -> tuple[str, re.Pattern[str]] | None:
    """A strict date pattern (``MMDDYYYY``) as (strptime format, its exact digit shape);
    None when `pattern` is not made of the pattern tokens and separators."""
    fmt, shape, seen_hour, pos = [], [], False, 0
    while pos < len(pattern):
        token = _PATTERN_TOKEN.match(pattern, pos)
        if token:
            text = token.group()
            if text == "HH":
                seen_hour = True
            code = {"YYYY": "%Y", "DD": "%d", "HH": "%H", "SS": "%S",
                    "MM": "%M" if seen_hour else "%m"}[text]
            if code in fmt:
                return None  # a part written twice
            fmt.append(code)
            shape.append(rf"(?P<{code[1]}>\d{{{len(text)}}})")
            pos = token.end()
        elif _PATTERN_LITERAL.match(pattern, pos):
            fmt.append(pattern[pos])
            shape.append(re.escape(pattern[pos]))
            pos += 1
        else:
            return None
    if not fmt:
        return None
    return "".join(fmt), re.compile("".join(shape), re.ASCII)


def split_parts(text: str, separator: str, parts: tuple[str, ...]) -> dict[str, str]:
    """``LAST*FIRST*MIDDLE*SUFFIX`` cut on `separator` into the named parts; an empty
    piece is no value, and a piece beyond the named parts is refused (never dropped)."""
    pieces = [p.strip() for p in text.split(separator)]
    if len(pieces) > len(parts) and any(pieces[len(parts):]):
        raise ValueProblem(f"has more {separator!r}-separated parts than the mapping "
                           f"names ({len(parts)})")
    out = {name: piece for name, piece in zip(parts, pieces, strict=False) if piece}
    if "surname" in parts and "surname" not in out:
        raise ValueProblem("the name has no surname part")
    return out


def to_int(text: str) -> int:
    """A whole number written in decimal digits."""
    stripped = text.strip()
    if not stripped.isascii() or not stripped.lstrip("-").isdigit() or len(stripped) > 18:
        raise ValueProblem("is not a whole number")
    return int(stripped)


def feet_inches(text: str) -> int:
    """A height written as feet and inches (5'11", 5-11, 5 ft 11 in, NCIC 511) in inches."""
    match = _FEET_INCHES.match(text) or _NCIC_HEIGHT.match(text)
    if not match:
        raise ValueProblem("is not a height in feet and inches")
    feet, inches = int(match.group(1)), int(match.group(2))
    if inches > 11:
        raise ValueProblem("has more than 11 inches")
    return feet * 12 + inches


def join_values(values: Any, separator: str) -> str | None:
    """Several source values as one text, leaving out the missing ones."""
    if not isinstance(values, list):
        return as_text(values)
    flat: list[Any] = []
    for value in values:  # a path to child records gives a list of its own
        flat.extend(value if isinstance(value, list) else [value])
    texts = [as_text(v).strip() for v in flat if v is not None]
    joined = separator.join(t for t in texts if t)
    return joined or None
