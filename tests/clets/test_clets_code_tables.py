"""The layout's NCIC code tables use only codes the published NCIC code lists define.

Checked against the shared reference schemas beside the repository. A missing reference
folder is a failure, not a skip (tests.services.unavailable): the check must run.
"""

from __future__ import annotations

import pytest
from lxml import etree

from engine.clets import default_layout
from tests.conftest import SHARED_REFERENCE
from tests.services import unavailable

XS = "{http://www.w3.org/2001/XMLSchema}"
#: The tables the issue requires to be checked, and the reference list each must name.
REQUIRED_REFERENCES = {
    "sex": ("ncic-codes-5.0.1.xsd", "SEXCodeSimpleType"),
    "race": ("ncic-codes-5.0.1.xsd", "RACECodeSimpleType"),
    "eye": ("ncic-codes-5.0.1.xsd", "EYECodeSimpleType"),
    "hair": ("ncic-codes-5.0.1.xsd", "HAIRCodeSimpleType"),
    "skin": ("ncic-codes-5.0.1.xsd", "SKINCodeSimpleType"),
    "pco": ("ncic-codes-niem2.1-fbi.xsd", "PCOCodeSimpleType"),
}


def _reference_folder():
    if not SHARED_REFERENCE.is_dir():
        unavailable(f"shared reference folder missing: {SHARED_REFERENCE}")
    return SHARED_REFERENCE


def _enumeration(file: str, type_name: str) -> set[str]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    root = etree.parse(str(_reference_folder() / file), parser).getroot()
    found = root.findall(f"{XS}simpleType[@name='{type_name}']")
    assert found, f"{type_name} is not in {file}"
    return {e.get("value") for e in found[0].iter(f"{XS}enumeration")}


def test_required_tables_name_their_reference_lists():
    """Sex, race, eye, hair, skin and PCO tables each name the NCIC list they must match."""
    tables = default_layout().tables
    for name, reference in REQUIRED_REFERENCES.items():
        assert tables[name].reference == reference, name


@pytest.mark.parametrize("table_name", sorted(REQUIRED_REFERENCES))
def test_every_code_exists_in_the_ncic_list(table_name: str):
    """Every code the table maps to is an enumeration value of its NCIC simple type."""
    table = default_layout().tables[table_name]
    assert table.reference is not None
    allowed = _enumeration(*table.reference)
    missing = sorted(table.code_set - allowed)
    assert not missing, f"{table_name}: codes not in {table.reference[1]}: {missing}"


def test_reference_check_catches_a_wrong_code():
    """A code that NCIC does not define (eye 'BRN') is absent from the reference list."""
    assert "BRN" not in _enumeration("ncic-codes-5.0.1.xsd", "EYECodeSimpleType")
    assert "BRO" in _enumeration("ncic-codes-5.0.1.xsd", "EYECodeSimpleType")


def test_missing_reference_fails_without_the_opt_out(monkeypatch, tmp_path):
    """A missing reference folder fails the check instead of skipping it, unless the
    developer opted out with ENGINE_TESTS_ALLOW_SKIP=1."""
    import sys

    module = sys.modules[__name__]
    monkeypatch.setattr(module, "SHARED_REFERENCE", tmp_path / "absent")
    monkeypatch.delenv("ENGINE_TESTS_ALLOW_SKIP", raising=False)
    with pytest.raises(pytest.fail.Exception, match="reference folder missing"):
        _reference_folder()
    monkeypatch.setenv("ENGINE_TESTS_ALLOW_SKIP", "1")
    with pytest.raises(pytest.skip.Exception, match="reference folder missing"):
        _reference_folder()
