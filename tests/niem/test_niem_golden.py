"""Golden tests: each canonical fixture order renders to its checked-in NIEM document.

The expected documents are tests/fixtures/niem/<stem>.xml. These tests only compare; after
an intended change to the rendering, regenerate them with ``make goldens`` (tests/goldens.py)
and review the diff.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from engine.law.derivations import apply_law
from engine.model import Order
from engine.niem import read_niem
from engine.niem.schema import message_schema
from tests.goldens import NIEM_GOLDEN as GOLDEN
from tests.goldens import niem_golden
from tests.niem_carried import as_niem_carries


def test_fixture_renders_to_its_golden_document(fixture_order_path: Path) -> None:
    """A fixture order renders byte for byte to tests/fixtures/niem/<stem>.xml."""
    expected, body = niem_golden(fixture_order_path)
    assert expected.exists(), f"no golden document {expected.name}: run `make goldens`"
    assert body.decode("utf-8") == expected.read_text(encoding="utf-8"), (
        f"{expected.name} differs (`make goldens` and review the diff if intended)")


def test_golden_documents_validate_against_the_schemas(fixture_order_path: Path) -> None:
    """Every checked-in golden document is valid against schemas/niem/ (not just our output)."""
    document = etree.parse(str(GOLDEN / f"{fixture_order_path.stem}.xml"))
    assert message_schema().errors(document.getroot()) == []


def test_golden_document_reads_back_to_the_fixture(fixture_order: Order,
                                                   fixture_order_path: Path) -> None:
    """Reading a golden document gives back exactly the order it was made from (the
    fixture with the values the law sets), its identifiers grouped by kind."""
    body = (GOLDEN / f"{fixture_order_path.stem}.xml").read_bytes()
    assert read_niem(body) == as_niem_carries(apply_law(fixture_order).order)


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
