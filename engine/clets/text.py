"""Text rules the registry imposes: upper case ASCII, a field's character set, NCIC names.

The registry's terminals carry upper-case ASCII only, so names and free text are
transliterated (Nguyễn -> NGUYEN, García -> GARCIA, Straße -> STRASSE): Unicode NFKD
splits off accents, and a small table covers the letters NFKD leaves whole (ß, Ø, Ł, Æ...).
A letter with no transliteration (CJK, Cyrillic...) is *counted*, never guessed, so the
caller can reject the field or drop it with a warning; the original spelling stays in the
NIEM document. Nothing here logs or raises with the text itself.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from pydantic import ValidationError

from engine.model import PersonName

__all__ = ["NAME_STEPS", "Fitted", "compound_surname_parts", "fit_to_charset",
           "format_ncic_name", "transliterate"]

#: Letters (and typographic marks) that NFKD does not decompose to ASCII.
_TABLE = {
    "ß": "SS", "ẞ": "SS", "Æ": "AE", "æ": "AE", "Œ": "OE", "œ": "OE",
    "Ø": "O", "ø": "O", "Đ": "D", "đ": "D", "Ð": "D", "ð": "D", "Þ": "TH", "þ": "TH",
    "Ł": "L", "ł": "L", "Ħ": "H", "ħ": "H", "\u0131": "I", "ĸ": "K", "Ŋ": "NG", "ŋ": "NG",
    "Ŧ": "T", "ŧ": "T", "Ŀ": "L", "ŀ": "L", "ƒ": "F", "Ɨ": "I", "ɨ": "I",
    "Ƶ": "Z", "ƶ": "Z", "Ǥ": "G", "ǥ": "G", "Ƀ": "B", "ƀ": "B",
    "\u2018": "'", "\u2019": "'", "\u02bc": "'", "\u201a": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u00a0": " ",
}


@dataclass(frozen=True, slots=True)
class Fitted:
    """Text fitted to a character set, and how many characters could not be carried."""

    text: str
    lost: int


def transliterate(text: str) -> Fitted:
    """Upper-case ASCII spelling of ``text``; characters with no ASCII form are counted."""
    return Fitted(*_transliterate(text))


def _transliterate(text: str) -> tuple[str, int]:
    if text.isascii():  # every character is kept as it is
        return text.upper(), 0
    out: list[str] = []
    lost = 0
    for char in text:
        if char.isascii():
            out.append(char)
            continue
        if char in _TABLE:
            out.append(_TABLE[char])
            continue
        if unicodedata.combining(char):
            continue  # an accent already split off: it carries no letter of its own
        base = "".join(c for c in unicodedata.normalize("NFKD", char)
                       if not unicodedata.combining(c))
        base = "".join(_TABLE.get(c, c) for c in base)
        if base and base.isascii():
            out.append(base)
        elif char.isspace():
            out.append(" ")
        else:
            lost += 1
    return "".join(out).upper(), lost


#: Stands for a character the set cannot carry; transliterated text is ASCII, so it never
#: stands for itself.
_LOST = "\ufffd"


@functools.cache  # one entry per character set and drop list of the layout: a handful
def _fitting_table(allowed: frozenset[str], drop: str) -> dict[int, str | None]:
    """`str.translate` table over ASCII: ``drop`` characters removed, blanks made spaces,
    characters ``allowed`` kept, every other one made `_LOST` (tested in that order)."""
    table: dict[int, str | None] = {}
    for code in range(128):
        char = chr(code)
        if char in drop:
            table[code] = None
        elif char.isspace():
            table[code] = " "
        elif char in allowed:
            table[code] = char
        else:
            table[code] = _LOST
    return table


def fit_to_charset(text: str, allowed: frozenset[str], drop: str = "") -> Fitted:
    """Transliterate, remove ``drop`` characters, collapse blanks, count what ``allowed``
    cannot carry (those are removed too). The result only uses characters in ``allowed``."""
    return Fitted(*_fit(text, allowed, drop))


def _fit(text: str, allowed: frozenset[str], drop: str) -> tuple[str, int]:
    upper, lost = _transliterate(text)  # upper-case ASCII
    kept = upper.translate(_fitting_table(allowed, drop))
    if _LOST in kept:
        lost += kept.count(_LOST)
        kept = kept.replace(_LOST, "")
    # Every blank is a space now: split() and join collapse the runs and trim the ends.
    return (" " if " " in allowed else "").join(kept.split()), lost


@functools.cache  # as `_fitting_table`: one entry per character set of the layout
def _without_comma(allowed: frozenset[str]) -> frozenset[str]:
    """A name part's characters: the comma separates the surname from the rest."""
    return allowed - {","}


#: The shortening steps of `format_ncic_name`, in the order NCIC's name rules allow them
#: (Personal Descriptors 2.1: surname first and kept; given name at least its initial; the
#: middle name is the first to give way; a suffix belongs to the name).
NAME_STEPS = (
    "middle name reduced to its initial",
    "further given names reduced to initials",
    "given name reduced to its initial",
    "middle initial dropped",
    "surname shortened",
)


def _compose(surname: str, given: list[str], middle: list[str], suffix: str) -> str:
    return f"{surname}," + " ".join([*given, *middle, *([suffix] if suffix else [])])


def _cut_surname(surname: str, room: int) -> str:
    """The first ``room`` characters of the surname, at a word boundary where one leaves
    at least a word (a shortened surname is still its beginning, never a middle piece)."""
    cut = surname[:max(room, 1)]
    if len(cut) < len(surname) and surname[len(cut)] not in " -":
        boundary = max(cut.rfind(" "), cut.rfind("-"))
        if boundary > 0:
            cut = cut[:boundary]
    # Never empty: the surname was stripped of blanks and hyphens, so its first character
    # (kept by every cut above) is neither.
    return cut.rstrip(" -")


def format_ncic_name(name: PersonName, allowed: frozenset[str], drop: str,
                     max_length: int) -> tuple[Fitted, tuple[str, ...]]:
    """``SURNAME,GIVEN MIDDLE SUFFIX`` in ``allowed`` characters, at most ``max_length`` long.

    Returns the fitted name and the shortening steps taken (empty when it fits as it is),
    each one of `NAME_STEPS`, taken in that order and only while the name is too long: the
    surname's beginning, the given initial and the suffix always stay.
    """
    allowed_part = _without_comma(allowed)
    parts = [_fit(p, allowed_part, drop) for p in
             (name.surname, name.given, name.middle, name.suffix) if p]
    # A part that leaves nothing behind (only marks the set cannot carry) counts as lost.
    lost = sum(part_lost + (not text.strip(" -")) for text, part_lost in parts)

    def part(value: str | None) -> str:
        return _fit(value, allowed_part, drop)[0].strip(" -") if value else ""

    surname = part(name.surname)
    given = part(name.given).split()
    middle = part(name.middle).split()
    suffix = part(name.suffix)
    steps: list[str] = []

    def too_long() -> bool:
        return len(_compose(surname, given, middle, suffix)) > max_length

    if too_long() and middle and middle != [middle[0][0]]:
        middle = [middle[0][0]]
        steps.append(NAME_STEPS[0])
    if too_long() and any(len(w) > 1 for w in given[1:]):  # a further given name, whole
        given = [given[0]] + [w[0] for w in given[1:]]
        steps.append(NAME_STEPS[1])
    if too_long() and given and given != [given[0][0]]:
        given = [given[0][0]]
        steps.append(NAME_STEPS[2])
    if too_long() and middle:
        middle = []
        steps.append(NAME_STEPS[3])
    if too_long():
        room = max_length - len(_compose("", given, middle, suffix))
        surname = _cut_surname(surname, room)
        steps.append(NAME_STEPS[4])
    text = _compose(surname, given, middle, suffix)[:max_length].rstrip(" -")
    return Fitted(text, lost), tuple(steps)


#: Splits a compound surname into its surnames: hyphens, and the Spanish "y" between two.
_COMPOUND = re.compile(r"\s*-\s*|\s+[yY]\s+")


def compound_surname_parts(name: PersonName) -> list[PersonName]:
    """The name once with each part of a compound surname as the surname (García-López ->
    García, López), so a search on either finds the person (Personal Descriptors 2.2).
    Empty for a simple surname; a part that is not a valid name part is left out."""
    pieces = [p.strip() for p in _COMPOUND.split(name.surname) if p.strip()]
    if len(pieces) < 2:
        return []
    out = []
    for piece in pieces:
        try:
            out.append(PersonName.model_validate({**name.model_dump(), "surname": piece}))
        except ValidationError:
            continue
    return out
