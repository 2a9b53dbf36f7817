"""Unicode rules for text from courts: one normal form, and no characters that hide or fake.

An officer searching the registry types a name; the record must hold the same code points
or the order is not found. A clerk reading "NO CONTACT" must see what the record says.
So, at intake (hooked into `engine.model`'s text types):

- **Names** (`clean_name`): NFC (canonical composition: a decomposed "e" + U+0301 becomes
  "é"), full-width and half-width forms folded to their ordinary letters (their
  compatibility decomposition is tagged ``<wide>``/``<narrow>``), and refused if they hold
  an invisible or format character: general category Cf (zero-width space, joiners, bidi
  marks, the BOM, tags) or a variation selector. Unicode TR#39 (Security Mechanisms) lists
  these as not allowed in identifiers; TR#36 (Security Considerations) §3 describes
  the spoofing they make possible.
- **Free text** (`clean_text`): NFC, and refused if it holds a bidirectional control
  (U+202A-202E, U+2066-2069, U+200E/F, U+061C: TR#36 §2.4, "\\u202eTCATNOC ON" displays
  as "NO CONTACT"), a C1 control (U+0080-009F), the line or paragraph separator
  (U+2028/2029: a line break in "one line of text"), or a noncharacter (U+FDD0-FDEF and
  every U+xxFFFE/U+xxFFFF: Unicode §23.7, not for interchange).

The error names the rule, never the value (it may be a victim's name); pydantic adds the
field path. Sources: Python `unicodedata` (normalize, category, decomposition), Unicode
UAX#15 (normalization forms), UTS#39 and UTR#36; listed in docs/security.md.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

__all__ = ["clean_name", "clean_text", "name_problem", "text_problem"]

#: Variation selectors (category Mn, so not caught by Cf): VS1-16 and VS17-256, and the
#: Mongolian free variation selectors.
_VARIATION = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef\u180b-\u180d\u180f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_C1 = re.compile("[\x80-\x9f]")
_SEPARATORS = re.compile("[\u2028\u2029]")
_NONCHARACTER = re.compile("[\ufdd0-\ufdef\ufffe\uffff\U0001fffe\U0001ffff\U0002fffe"
                           "\U0002ffff\U0003fffe\U0003ffff\U0004fffe\U0004ffff\U0005fffe"
                           "\U0005ffff\U0006fffe\U0006ffff\U0007fffe\U0007ffff\U0008fffe"
                           "\U0008ffff\U0009fffe\U0009ffff\U000afffe\U000affff\U000bfffe"
                           "\U000bffff\U000cfffe\U000cffff\U000dfffe\U000dffff\U000efffe"
                           "\U000effff\U000ffffe\U000fffff\U0010fffe\U0010ffff]")


def _fold_width(text: str) -> str:
    """Full-width and half-width forms to their ordinary characters (NFKC of those only:
    NFKC of the whole name would also rewrite ligatures, superscripts and more)."""
    if text.isascii():
        return text
    return "".join(unicodedata.normalize("NFKC", ch)
                   if unicodedata.decomposition(ch).startswith(("<wide>", "<narrow>"))
                   else ch for ch in text)


def name_problem(text: str) -> str | None:
    """Why ``text`` cannot be a name part (after `clean_name`'s normalisation), or None."""
    if _VARIATION.search(text) or any(unicodedata.category(ch) == "Cf" for ch in text):
        return ("holds an invisible or formatting character (zero-width space or joiner, "
                "direction mark, variation selector): send the name as it is spelt, "
                "without them")
    return None


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be free text, or None."""
    if _BIDI.search(text):
        return ("holds a bidirectional control character (it can make the text display "
                "as something else): remove it")
    if _C1.search(text):
        return "holds a C1 control character (U+0080-U+009F): remove it"
    if _SEPARATORS.search(text):
        return "holds a line or paragraph separator (U+2028/U+2029): send one line"
    if _NONCHARACTER.search(text):
        return "holds a Unicode noncharacter (e.g. U+FFFE, U+FFFF): remove it"
    return None


def clean_name(value: Any) -> Any:
    """Pydantic before-validator for name parts: normalised, or `ValueError` saying why."""
    if not isinstance(value, str):
        return value  # the type check that follows reports it
    value = _fold_width(unicodedata.normalize("NFC", value))
    problem = name_problem(value) or text_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def clean_text(value: Any) -> Any:
    """Pydantic before-validator for free text: NFC, or `ValueError` saying why."""
    if not isinstance(value, str):
        return value
    value = unicodedata.normalize("NFC", value)
    problem = text_problem(value)
    if problem:
        raise ValueError(problem)
    return value
