"""Golden tests: each canonical fixture order renders to its checked-in NIEM document.

The expected documents are tests/fixtures/niem/<stem>.xml. After an intended change to the
rendering, regenerate them and review the diff:

    UPDATE_GOLDEN=1 /work/venv/bin/python -m pytest -q tests/niem/test_niem_golden.py
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from lxml import etree

from engine.formats import RenderContext
from engine.law.derivations import apply_law
from engine.model import Action, Order
from engine.niem import read_niem, render_niem
from engine.niem.schema import message_schema

GOLDEN = Path(__file__).parents[1] / "fixtures" / "niem"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def golden_context(stem: str, order: Order) -> RenderContext:
    """The fixed transmission facts every golden document is rendered with."""
    return RenderContext(
        mcn=f"MCN-{stem}",
        sent_at=dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC),
        doj_record_id=None if order.action is Action.ISSUE else "CA-DOJ-PO-000042",
        previous_mcn=None if order.action is Action.ISSUE else f"MCN-{stem}-previous",
    )


def test_fixture_renders_to_its_golden_document(fixture_order: Order,
                                                fixture_order_path: Path) -> None:
    """A fixture order, as the intake sends it (with the values the law sets,
    `engine.law.derivations`), renders byte for byte to tests/fixtures/niem/<stem>.xml."""
    stem = fixture_order_path.stem
    order = apply_law(fixture_order).order
    body = render_niem(order, golden_context(stem, order)).body
    expected = GOLDEN / f"{stem}.xml"
    if UPDATE:
        expected.write_bytes(body)
    assert expected.exists(), f"no golden document for {stem}; run with UPDATE_GOLDEN=1"
    assert body.decode("utf-8") == expected.read_text(encoding="utf-8")


def test_golden_documents_validate_against_the_schemas(fixture_order_path: Path) -> None:
    """Every checked-in golden document is valid against schemas/niem/ (not just our output)."""
    document = etree.parse(str(GOLDEN / f"{fixture_order_path.stem}.xml"))
    assert message_schema().errors(document.getroot()) == []


def test_golden_document_reads_back_to_the_fixture(fixture_order: Order,
                                                   fixture_order_path: Path) -> None:
    """Reading a golden document gives back exactly the order it was made from (the
    fixture with the values the law sets)."""
    body = (GOLDEN / f"{fixture_order_path.stem}.xml").read_bytes()
    assert read_niem(body) == apply_law(fixture_order).order


def test_golden_documents_keep_names_in_their_original_spelling() -> None:
    """Names keep diacritics and apostrophes in the NIEM document (Nguyễn stays Nguyễn)."""
    text = (GOLDEN / "dv_tro_issue.xml").read_text(encoding="utf-8")
    assert "<nc:PersonSurName>Nguyễn</nc:PersonSurName>" in text
    assert "<nc:PersonSurName>O'Brien</nc:PersonSurName>" in text


def test_the_contract_example_is_the_golden_document() -> None:
    """docs/niem-contract.md shows the golden epo_issue message verbatim, so it cannot drift."""
    contract = (Path(__file__).parents[2] / "docs" / "niem-contract.md").read_text("utf-8")
    example = (GOLDEN / "epo_issue.xml").read_text("utf-8")
    assert f"```xml\n{example}```" in contract
