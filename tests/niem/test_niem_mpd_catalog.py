"""The IEPD's mpd-catalog.xml is valid to the NIEM MPD Specification 3.0.1 catalog schema.

MPD Specification 3.0.1, Rule 5-2: "An [MPD catalog document] MUST be valid to
mpd-catalog-3.0.xsd". The schema and the NIEM 3.0 subset it imports are the NIEM MPD
Toolkit 3.0.1's, vendored unchanged in tools/mpd-catalog-3.0/ (provenance in its README).
Rules 3-1 and 3-3 (classes MPD and IEPD) and the IEP conformance targets (section 3.2.2) are
checked on top of validity.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from engine.niem.iepd import CATALOG, IEPD_DIR, SAMPLES

TOOLKIT = Path(__file__).parents[2] / "tools" / "mpd-catalog-3.0"
C = "{http://reference.niem.gov/niem/resource/mpd/catalog/3.0/}"
MPD_SPEC = "http://reference.niem.gov/niem/specification/model-package-description/3.0/"
_PARSER = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)


@cache
def catalog_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(TOOLKIT / "mpd-catalog-3.0.xsd"), _PARSER))


def catalog_errors(document: bytes) -> list[str]:
    schema = catalog_schema()
    valid = schema.validate(etree.fromstring(document, _PARSER))
    return [] if valid else [f"line {e.line}: {e.message}" for e in schema.error_log]


def test_our_catalog_is_valid_to_the_mpd_catalog_schema() -> None:
    """Rule 5-2: mpd-catalog.xml validates against mpd-catalog-3.0.xsd and its NIEM 3.0."""
    assert catalog_errors((IEPD_DIR / CATALOG).read_bytes()) == []


@pytest.mark.parametrize(("what", "before", "after"), [
    ("an element the catalog schema does not declare", "<c:MPDInformation>",
     "<c:MPDInformation><c:Description>x</c:Description>"),
    ("the required c:mpdName attribute missing", ' c:mpdName="po-exchange"', ""),
    ("a version that breaks the version syntax (Rule 5-10)", 'c:mpdVersionID="',
     'c:mpdVersionID="v'),
    ("an artifact without its c:pathURI", '<c:ReadMe c:pathURI="README.md">', "<c:ReadMe>"),
])
def test_a_broken_catalog_is_not_valid(what: str, before: str, after: str) -> None:
    """The schema check can fail: each of these copies of our catalog is refused."""
    text = (IEPD_DIR / CATALOG).read_text(encoding="utf-8")
    assert before in text, what
    assert catalog_errors(text.replace(before, after, 1).encode("utf-8")) != [], what


def test_the_catalog_claims_the_mpd_and_iepd_classes() -> None:
    """Rules 3-1 and 3-3: c:mpdClassURIList holds both conformance target identifiers."""
    mpd = etree.parse(str(IEPD_DIR / CATALOG), _PARSER).getroot().find(f"{C}MPD")
    assert {f"{MPD_SPEC}#MPD", f"{MPD_SPEC}#IEPD"} <= set(mpd.get(f"{C}mpdClassURIList").split())


def test_every_sample_has_the_document_element_of_its_conformance_target() -> None:
    """Section 3.2.2: each IEP conformance target names its document element; every sample
    is listed under one, and its root element is the one that target names."""
    root = etree.parse(str(IEPD_DIR / CATALOG), _PARSER).getroot()
    listed = set()
    for target in root.iter(f"{C}IEPConformanceTarget"):
        element = target.find(f"{C}HasDocumentElement")
        prefix, _, local = element.get(f"{C}qualifiedNameList").partition(":")
        expected = f"{{{element.nsmap[prefix]}}}{local}"
        for sample in target.iter(f"{C}IEPSampleXMLDocument"):
            path = sample.get(f"{C}pathURI")
            listed.add(path)
            assert etree.parse(str(IEPD_DIR / path), _PARSER).getroot().tag == expected, path
    assert listed == {f"{SAMPLES}/{p.name}" for p in (IEPD_DIR / SAMPLES).glob("*.xml")}


def test_the_vendored_toolkit_is_the_one_its_readme_names() -> None:
    """Each vendored file's sha256 is the one tools/mpd-catalog-3.0/README.md records."""
    rows = re.findall(r"^\| (\S+) \| ([0-9a-f]{64}) \|$",
                      (TOOLKIT / "README.md").read_text(encoding="utf-8"), re.M)
    files = {str(p.relative_to(TOOLKIT)) for p in TOOLKIT.rglob("*") if p.is_file()}
    assert {name for name, _ in rows} == files - {"README.md"}
    for name, digest in rows:
        assert hashlib.sha256((TOOLKIT / name).read_bytes()).hexdigest() == digest, name
