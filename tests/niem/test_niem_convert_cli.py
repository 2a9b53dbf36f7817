"""`engine convert --to niem|canonical`: the NIEM formats through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.canonical import decode_order, order_from_dict
from engine.cli import main
from engine.cli.convert import FORMATS
from engine.law.derivations import apply_law
from engine.niem import read_niem
from tests.niem_carried import as_niem_carries

ORDERS = Path(__file__).parents[1] / "fixtures" / "orders"
FIXED = ["--mcn", "MCN-CLI", "--sent-at", "2026-11-23T09:00:00Z"]


def test_convert_to_niem_prints_a_message_that_reads_back(
        capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """`convert --to niem` prints the NIEM message for an intake file, exit code 0."""
    path = ORDERS / "epo_issue.json"
    assert main(["convert", "--to", "niem", *FIXED, str(path)]) == 0
    out = capsysbinary.readouterr().out
    assert b"<pox:MessageControlNumber>MCN-CLI</pox:MessageControlNumber>" in out
    # What is sent is the order as the law reads it (the EPO's firearms prohibition).
    assert read_niem(out) == as_niem_carries(apply_law(decode_order(path.read_bytes())).order)


def test_convert_to_canonical_reads_a_niem_message(
        tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """`convert --to canonical` turns the NIEM message back into the same canonical JSON."""
    path = ORDERS / "ch_oah_modify.json"
    assert main(["convert", "--to", "niem", *FIXED, "--doj-record-id", "R-1", str(path)]) == 0
    xml_file = tmp_path / "order.xml"
    xml_file.write_bytes(capsysbinary.readouterr().out)
    assert main(["convert", "--to", "canonical", str(xml_file)]) == 0


    printed = json.loads(capsysbinary.readouterr().out)
    assert order_from_dict(printed) == apply_law(decode_order(path.read_bytes())).order


def test_convert_reports_a_render_error_with_its_field(
        capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """A modify without --doj-record-id fails with exit 1 and names the missing field."""
    assert main(["convert", "--to", "niem", *FIXED, str(ORDERS / "ch_oah_modify.json")]) == 1
    captured = capsysbinary.readouterr()
    assert captured.out == b""
    assert b"doj_record_id" in captured.err


def test_convert_reports_a_hostile_document(
        tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    """A NIEM file with a DOCTYPE is refused with exit 1 and a DecodeError line."""
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    assert main(["convert", "--to", "canonical", str(bad)]) == 1
    assert b"DecodeError" in capsysbinary.readouterr().err


def test_each_format_is_one_entry_in_the_table() -> None:
    """The convert command's formats come from engine.cli.convert.FORMATS (niem, canonical, ...)."""
    assert {"niem", "canonical"} <= set(FORMATS)
