"""The DOJ-facing contract document stays true to the layout and the parsers."""

from __future__ import annotations

import re
from pathlib import Path

from engine.clets import default_layout, parse_clets_ack, validate_clets

DOC = (Path(__file__).parents[2] / "docs" / "clets-contract.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```\n(.*?)```", DOC, flags=re.DOTALL)


def test_every_assumption_is_listed():
    """Each assumption in the layout is named in the contract's to-confirm list."""
    missing = [where for where, _ in default_layout().assumptions() if f"`{where}`" not in DOC]
    assert missing == []


def test_every_field_is_documented():
    """Each field of the layout has a row in the contract's field table."""
    assert [m for m in default_layout().fields if f"\n| {m} |" not in DOC] == []


def test_message_examples_are_valid():
    """Every example message in the contract passes the validator."""
    examples = [b for b in BLOCKS if b.startswith("MKE/") and "first line" not in b]
    assert len(examples) >= 2
    for example in examples:
        assert validate_clets(example) == []


def test_ack_examples_parse():
    """Every example acknowledgement in the contract parses."""
    examples = [b for b in BLOCKS if b.startswith("ACK/") and "<" not in b]
    assert len(examples) == 2
    for example in examples:
        parse_clets_ack(example.encode("ascii"))


def test_generated_sections_match_the_layout():
    """The contract's layout tables equal what the layout generates (run --sync-doc if not)."""
    from engine.clets.layout_doc import sync_document

    assert sync_document(DOC, default_layout()) == DOC
