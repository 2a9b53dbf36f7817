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
import unicodedata
from dataclasses import dataclass

from engine.model import PersonName

__all__ = ["Fitted", "fit_to_charset", "format_ncic_name", "transliterate"]

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


@functools.lru_cache(maxsize=64)
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


@functools.lru_cache(maxsize=64)
def _without_comma(allowed: frozenset[str]) -> frozenset[str]:
    return allowed - {","}


def format_ncic_name(name: PersonName, allowed: frozenset[str], drop: str,
                     max_length: int) -> tuple[Fitted, bool]:
    """``SURNAME,GIVEN MIDDLE SUFFIX`` in ``allowed`` characters, at most ``max_length`` long.

    Returns the fitted name and whether it was truncated. Truncation cuts the given names
    first and always keeps the comma, so the surname stays recognisable as the surname.
    """
    allowed_part = _without_comma(allowed)
    parts = [_fit(p, allowed_part, drop) for p in
             (name.surname, name.given, name.middle, name.suffix) if p]
    # A part that leaves nothing behind (only marks the set cannot carry) counts as lost.
    lost = sum(part_lost + (not text.strip(" -")) for text, part_lost in parts)
    surname = parts[0][0].strip(" -")
    rest = " ".join(text.strip(" -") for text, _ in parts[1:] if text.strip(" -"))
    full = f"{surname},{rest}"
    if len(full) <= max_length:
        return Fitted(full, lost), False
    if len(surname) + 1 < max_length:
        cut = f"{surname},{rest}"[:max_length].rstrip(" -")
    else:
        cut = surname[: max_length - 1].rstrip(" -") + ","
    return Fitted(cut, lost), True
