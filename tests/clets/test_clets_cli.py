"""`engine clets ...` and `convert_to_clets`: what an operator or DOJ team runs by hand."""

from __future__ import annotations

import pytest

from engine.cli import main
from engine.cli.clets import PREVIEW_RECORD_ID, convert_to_clets
from engine.errors import RenderError
from tests.conftest import FIXTURES

ORDERS = FIXTURES / "orders"
GOLDEN = FIXTURES / "clets"


def test_convert_prints_the_entry_message():
    """convert_to_clets gives the same message as the golden file, bar the MCN."""
    text = convert_to_clets(ORDERS / "dv_tro_issue.json", mcn="MCN-GOLDEN-0001")
    assert text == (GOLDEN / "dv_tro_issue.txt").read_text(encoding="ascii")


def test_convert_previews_later_actions_with_a_placeholder_nic():
    """A modify file converts with the placeholder record id unless one is given."""
    assert f"\nNIC/{PREVIEW_RECORD_ID}\n" in convert_to_clets(ORDERS / "ch_oah_modify.json")
    assert "\nNIC/H9\n" in convert_to_clets(ORDERS / "ch_oah_modify.json", doj_record_id="H9")


def test_convert_reports_render_errors(tmp_path):
    """A file the layout cannot carry raises RenderError naming the field."""
    bad = tmp_path / "bad.json"
    bad.write_text((ORDERS / "dv_tro_issue.json").read_text(encoding="utf-8")
                   .replace('"case_number": "24STRO01234"', '"case_number": "' + "9" * 30 + '"'),
                   encoding="utf-8")
    with pytest.raises(RenderError) as caught:
        convert_to_clets(bad)
    assert caught.value.errors[0].path == "case_number"


def test_validate_command(tmp_path, capsys):
    """`engine clets validate` exits 0 for a good message and 1, with the rule, for a bad one."""
    good = GOLDEN / "dv_tro_issue.txt"
    bad = tmp_path / "bad.txt"
    bad.write_text(good.read_text(encoding="ascii").replace("EYE/BLU", "EYE/BLX"),
                   encoding="ascii")
    assert main(["clets", "validate", str(good)]) == 0
    assert main(["clets", "validate", str(bad)]) == 1
    assert "EYE: bad code" in capsys.readouterr().out


def test_render_command(capsys):
    """`engine clets render` prints the message for an intake file."""
    assert main(["clets", "render", str(ORDERS / "epo_issue.json")]) == 0
    assert capsys.readouterr().out.startswith("MKE/EPO\nORI/CA037035J\n")


def test_layout_command_lists_assumptions(capsys):
    """`engine clets layout --assumptions` prints every fact to confirm, with its place."""
    assert main(["clets", "layout", "--assumptions"]) == 0
    out = capsys.readouterr().out
    assert "fields.POT:" in out and "tables.sex.nonbinary:" in out


def test_bad_layout_is_reported(tmp_path, capsys):
    """A broken --layout file exits 2 with the key at fault."""
    layout = tmp_path / "layout.yaml"
    layout.write_text("format: {}\n", encoding="utf-8")
    assert main(["clets", "layout", "--layout", str(layout)]) == 2
    assert "format.field_separator" in capsys.readouterr().err
