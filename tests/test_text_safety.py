"""Unicode rules at intake (issue 21, found 8): names NFC-normalised and width-folded, and
refused with invisible or format characters; free text refused with bidi controls, C1
controls, line/paragraph separators and noncharacters. Expectations come from the Unicode
standard (UAX#15 normal forms, UTS#39 / UTR#36 security guidance), not from our output."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.canonical import decode_order
from engine.errors import OrderInvalid
from engine.text_safety import clean_name, clean_text

FIXTURE = Path(__file__).parent / "fixtures" / "orders" / "dv_tro_issue.json"
NAME = ("restrained_persons", 0, "name", "given")


def _with(path: tuple[object, ...], value: object) -> str:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    target = data
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return json.dumps(data)


def _given_name(value: str) -> str:
    order = decode_order(_with(NAME, value))
    given_name = order.restrained_persons[0].name.given
    assert given_name is not None
    return given_name


@pytest.mark.parametrize(("sent", "stored"), [
    ("Jose\u0301", "Jos\u00e9"),               # decomposed accent -> the composed letter
    ("\uff30\uff41\uff54", "Pat"),             # full-width letters -> ordinary letters
    ("Nguye\u0302\u0303n", "Nguy\u1ec5n"),     # two combining marks compose (NFC)
])
def test_names_are_normalised(sent: str, stored: str) -> None:
    assert _given_name(sent) == stored


@pytest.mark.parametrize("bad", [
    "Pat\u200drick",    # zero-width joiner (Cf)
    "Pat\u200brick",    # zero-width space (Cf)
    "Pat\u2060rick",    # word joiner (Cf)
    "Pat\ufe0frick",    # variation selector 16 (Mn, listed by UTS#39)
    "Pat\u202erick",    # right-to-left override (Cf, bidi)
    "\ufeffPatrick",    # byte order mark as zero-width no-break space (Cf)
])
def test_invisible_characters_in_names_are_refused_by_field(bad: str) -> None:
    with pytest.raises(OrderInvalid) as info:
        decode_order(_with(NAME, bad))
    text = str(info.value)
    assert "restrained_persons.0.name.given" in text and "invisible" in text
    assert "Pat" not in text and "Value error" not in text


@pytest.mark.parametrize(("bad", "words"), [
    ("\u202eTCATNOC ON", "bidirectional"),     # displays as "NO CONTACT"
    ("stay away \u2066x\u2069", "bidirectional"),
    ("stay\x85away", "C1 control"),
    ("stay away\u2028from", "separator"),
    ("stay away\ufffe", "noncharacter"),
    ("stay away\uffff", "noncharacter"),
    ("stay away\U0010fffe", "noncharacter"),
])
def test_free_text_refuses_what_fakes_its_display(bad: str, words: str) -> None:
    with pytest.raises(OrderInvalid) as info:
        decode_order(_with(("conditions", 0, "text"), bad))
    assert "conditions.0.text" in str(info.value) and words in str(info.value)
    assert "stay" not in str(info.value)


def test_free_text_is_nfc() -> None:
    order = decode_order(_with(("judicial_officer",), "Hon. Jose\u0301 Ruiz"))
    assert order.judicial_officer == "Hon. Jos\u00e9 Ruiz"


_FORBIDDEN_IN_TEXT = set(range(0x80, 0xA0)) | {0x2028, 0x2029, 0x202A, 0x202B, 0x202C,
                                                 0x202D, 0x202E, 0x2066, 0x2067, 0x2068,
                                                 0x2069, 0x200E, 0x200F, 0x061C}


def _noncharacter(cp: int) -> bool:
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


@given(st.text())
def test_clean_text_gives_nfc_without_forbidden_characters_or_refuses(text: str) -> None:
    """Property: the result is NFC and free of every forbidden code point, and cleaning it
    again changes nothing; otherwise a ValueError."""
    try:
        out = clean_text(text)
    except ValueError:
        normal = unicodedata.normalize("NFC", text)
        assert any(ord(c) in _FORBIDDEN_IN_TEXT or _noncharacter(ord(c)) for c in normal)
        return
    assert unicodedata.is_normalized("NFC", out) and clean_text(out) == out
    assert not any(ord(c) in _FORBIDDEN_IN_TEXT or _noncharacter(ord(c)) for c in out)


@given(st.text())
def test_clean_name_leaves_no_format_character(text: str) -> None:
    """Property: a cleaned name holds no Cf character and no variation selector, is NFC,
    and holds no full-width form."""
    try:
        out = clean_name(text)
    except ValueError:
        return
    assert unicodedata.is_normalized("NFC", out) and clean_name(out) == out
    assert not any(unicodedata.category(c) == "Cf" or 0xFE00 <= ord(c) <= 0xFE0F
                   or 0xFF01 <= ord(c) <= 0xFF5E for c in out)
