"""The layout validator: a rejected field names its mnemonic and the rule it breaks."""

from __future__ import annotations

import pytest

from engine.clets import validate_clets
from engine.model import Action
from tests.conftest import FIXTURES

ENTRY = (FIXTURES / "clets" / "dv_tro_issue.txt").read_text(encoding="ascii")
EXTEND = (FIXTURES / "clets" / "dv_tro_issue.extend.txt").read_text(encoding="ascii")


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _errors(text: str, action: Action | None = None) -> list[tuple[str, str]]:
    return [(e.path, e.reason.split(":")[0]) for e in validate_clets(text, action)]


class TestFieldRules:
    def test_valid_entry_has_no_errors(self):
        """The golden entry message has no errors."""
        assert validate_clets(ENTRY) == []

    @pytest.mark.parametrize(("old", "new", "expected"), [
        ("NAM/OBRIEN,PATRICK SEAN JR\n", "NAM/" + "A" * 29 + ",B\n", ("NAM", "too long")),
        ("NAM/OBRIEN,PATRICK SEAN JR\n", "NAM/OBRIEN,PATRICK2\n", ("NAM", "bad character")),
        ("EYE/BLU\n", "EYE/BLX\n", ("EYE", "bad code")),
        ("DOB/19840317\n", "DOB/19841317\n", ("DOB", "bad date")),
        ("HGT/511\n", "HGT/512\n", ("HGT", "bad format")),
        ("NAM/OBRIEN,PATRICK SEAN JR\n", "NAM/OBRIEN PATRICK\n", ("NAM", "bad format")),
        ("SEX/M\n", "", ("SEX", "missing required")),
        ("SEX/M\n", "SEX/\n", ("SEX", "missing required")),
        ("SEX/M\n", "SEX/M\nSEX/F\n", ("SEX[1]", "repeated")),
        ("PPB/19870602\n", "PPB/1987062\n", ("PPB", "bad date")),
        ("PSX/M\n", "PSX/Q\n", ("SUP.PSX", "bad code")),
        ("SEX/M\n", "SEX/M\nNIC/H1\n", ("NIC", "not allowed")),
        ("SEX/M\n", "SEX/M\nZZZ/1\n", ("line 7", "not allowed")),
        ("SEX/M\n", "SEX/M\nJUNK\n", ("line 7", "bad format")),
        ("SEX/M\n", "SEX/M\nAKA/SMITH,JO\n", ("AKA", "not allowed")),
        ("PPN/OBRIEN,LIAM\n", "PSX/M\nPPN/OBRIEN,LIAM\n", ("SUP.PSX", "bad format")),
    ])
    def test_rejected_field_names_field_and_rule(self, old, new, expected):
        """A broken field is reported by its mnemonic with the rule it breaks."""
        assert expected in _errors(_replace(ENTRY, old, new))

    def test_reasons_never_carry_the_value(self):
        """Reasons name rules, never the offending value."""
        text = _replace(ENTRY, "NAM/OBRIEN,PATRICK SEAN JR\n", "NAM/ZEBULON9,QUIXOTE\n")
        assert all("ZEBULON" not in str(e) for e in validate_clets(text))


class TestMessageRules:
    def test_first_line_must_be_the_key(self):
        """A message that does not start with MKE is refused as missing its key."""
        assert _errors(ENTRY.split("\n", 1)[1]) == [("MKE", "missing required")]

    def test_unknown_key(self):
        """An unknown message key is a bad code of MKE."""
        assert _errors(_replace(ENTRY, "MKE/EPO", "MKE/QPO")) == [("MKE", "bad code")]

    def test_key_must_match_the_action(self):
        """Held to an action, a message with another action's key is refused."""
        assert _errors(ENTRY, Action.CANCEL) == [("MKE", "bad code")]

    def test_extend_requires_exp(self):
        """An extend without EXP is missing a required field."""
        assert ("EXP", "missing required") in _errors(
            _replace(EXTEND, "EXP/20270611\n", ""), Action.EXTEND)

    def test_shared_key_requires_only_what_all_require(self):
        """Read without an action, an MPO needs only what modify, extend and serve all need."""
        assert validate_clets(_replace(EXTEND, "EXP/20270611\n", "")) == []

    def test_later_action_without_nic(self):
        """A modify-family message without NIC is missing the record id."""
        assert ("NIC", "missing required") in _errors(_replace(EXTEND, "NIC/H000012345\n", ""))

    def test_non_ascii_bytes(self):
        """A message that is not ASCII is refused as a whole."""
        assert _errors(ENTRY.encode("ascii").replace(b"OBRIEN", "ÓBRIEN".encode())) == [
            ("(message)", "bad character")]

    def test_second_supplemental_marker(self):
        """Only one supplemental section is allowed."""
        last = len(ENTRY.splitlines()) + 1
        assert (f"line {last}", "bad format") in _errors(ENTRY + "SUP\n")


def test_validator_follows_a_layout_change(tmp_path):
    """A state's code-table edit changes what the validator accepts, without code changes."""
    from engine.clets import load_layout
    from engine.clets.layout import DEFAULT_LAYOUT_PATH

    path = tmp_path / "layout.yaml"
    path.write_text(DEFAULT_LAYOUT_PATH.read_text(encoding="utf-8")
                    .replace("black: BLK, blue: BLU,", "black: BLK, blue: BLE,"),
                    encoding="utf-8")
    changed = load_layout(path)
    assert [(e.path, e.reason.split(":")[0]) for e in validate_clets(ENTRY, layout=changed)] \
        == [("EYE", "bad code")]
    assert validate_clets(ENTRY.replace("EYE/BLU", "EYE/BLE"), layout=changed) == []
