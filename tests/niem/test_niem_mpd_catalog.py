"""The IEPD's mpd-catalog.xml follows the NIEM MPD Specification 3.0.1.

Rule 5-2 asks for validity to the specification's mpd-catalog-3.0.xsd. That schema (with
the NIEM 3.0 subset it imports) is not in ../shared/reference and may not be copied into
this repository from elsewhere, so CI checks here what the specification requires of the
catalog, written from the specification's text and its schema's declared syntax: the
catalog namespace and root, the MPD's required name and version (their syntax), classes
MPD and IEPD (Rules 3-1, 3-3), a path for every artifact that exists in the package, and
the IEP conformance targets (section 3.2.2). The catalog was validated once against the
MPD Toolkit 3.0.1 copy of mpd-catalog-3.0.xsd (2026-12-05, docs/niem-contract.md); a DOJ
team can repeat that with their own copy.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lxml import etree

from engine.niem.iepd import CATALOG, IEPD_DIR, SAMPLES

C = "{http://reference.niem.gov/niem/resource/mpd/catalog/3.0/}"
MPD_SPEC = "http://reference.niem.gov/niem/specification/model-package-description/3.0/"
_PARSER = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
#: mpd-catalog-3.0.xsd's MPDNameSimpleType and MPDVersionIDSimpleType (Rule 5-10).
NAME_SYNTAX = re.compile(r"[A-Za-z]([-_ ]?[A-Za-z0-9]+)*")
VERSION_SYNTAX = re.compile(r"[0-9]+(\.[0-9]+)*((alpha|beta|rc|rev)[0-9]+)?")
#: The catalog's file artifacts (section 5.2: each names its file by c:pathURI).
FILE_ARTIFACTS = ("BusinessRulesArtifact", "ConformanceAssertion", "ExtensionSchemaDocument",
                  "IEPSampleXMLDocument", "MPDChangeLog", "ReadMe", "SubsetSchemaDocument",
                  "XMLCatalog", "XMLSchemaDocument")


def catalog_problems(document: bytes, package: Path = IEPD_DIR) -> list[str]:
    """What the MPD specification would refuse in this catalog document."""
    root = etree.fromstring(document, _PARSER)
    problems = []
    if root.tag != f"{C}Catalog":
        problems.append(f"root is {root.tag}, not c:Catalog")
    mpd = root.find(f"{C}MPD")
    if mpd is None:
        return [*problems, "no c:MPD"]
    name, version = mpd.get(f"{C}mpdName"), mpd.get(f"{C}mpdVersionID")
    if name is None or not NAME_SYNTAX.fullmatch(name):
        problems.append(f"c:mpdName {name!r} missing or not of the name syntax")
    if version is None or not VERSION_SYNTAX.fullmatch(version):
        problems.append(f"c:mpdVersionID {version!r} missing or not of the version syntax")
    for attribute in ("mpdURI", "mpdClassURIList"):
        if not mpd.get(f"{C}{attribute}"):
            problems.append(f"c:{attribute} missing")
    for element in root.iter(*(f"{C}{kind}" for kind in FILE_ARTIFACTS)):
        path = element.get(f"{C}pathURI")
        if path is None:
            problems.append(f"c:{element.tag[len(C):]} without c:pathURI")
        elif not (package / path).is_file():
            problems.append(f"c:pathURI {path} is not in the package")
    return problems


def test_our_catalog_meets_the_specification() -> None:
    assert catalog_problems((IEPD_DIR / CATALOG).read_bytes()) == []


@pytest.mark.parametrize(("what", "before", "after"), [
    ("the required c:mpdName attribute missing", ' c:mpdName="po-exchange"', ""),
    ("a version that breaks the version syntax (Rule 5-10)", 'c:mpdVersionID="',
     'c:mpdVersionID="v'),
    ("an artifact without its c:pathURI", '<c:ReadMe c:pathURI="README.md"', "<c:ReadMe"),
    ("an artifact the package does not hold", 'c:pathURI="README.md"',
     'c:pathURI="MISSING.md"'),
])
def test_a_broken_catalog_is_refused(what: str, before: str, after: str) -> None:
    """The check can fail: each of these copies of our catalog is refused."""
    text = (IEPD_DIR / CATALOG).read_text(encoding="utf-8")
    assert before in text, what
    assert catalog_problems(text.replace(before, after, 1).encode("utf-8")) != [], what


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
