"""The IEPD in schemas/niem/: complete, current, every sample valid, its version everywhere.

(`tests/niem/test_niem_ndr.py` runs the NDR rules over the same samples.)
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from engine.cli import main
from engine.model import Action, OrderType
from engine.niem.iepd import (
    CATALOG,
    IEPD_DIR,
    MAPPING,
    SAMPLES,
    IepdError,
    export_iepd,
    validate_samples,
)
from engine.niem.namespaces import IEPD_VERSION, NS, q

BUILD = Path(__file__).parents[2] / "tools" / "build_iepd.py"
MPD = "http://reference.niem.gov/niem/resource/mpd/catalog/3.0/"
MESSAGES = [p for p in sorted((IEPD_DIR / SAMPLES).glob("*.xml"))
            if not p.name.startswith("ack_")]


def test_the_generated_parts_are_current() -> None:
    """Samples, mapping.csv and the catalog are what tools/build_iepd.py makes now."""
    result = subprocess.run([sys.executable, str(BUILD), "--check"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_every_sample_validates_against_the_iepd_schemas() -> None:
    """validate_samples compiles the IEPD's own root schema and checks each sample."""
    assert validate_samples(IEPD_DIR) == len(list((IEPD_DIR / SAMPLES).glob("*.xml")))


def test_there_is_a_sample_for_every_order_type_and_action() -> None:
    """Each OrderType and each Action appears in at least one sample message."""
    types, actions = set(), set()
    for path in MESSAGES:
        root = etree.parse(str(path)).getroot()
        types.add(root.findtext(".//pox-ext:ProtectionOrderCategoryCode", namespaces=NS))
        actions.add(root.findtext("pox:MessageActionCode", namespaces=NS))
    assert types == {t.value for t in OrderType}
    assert actions == {a.value for a in Action}


def test_acknowledgement_samples_accept_and_reject() -> None:
    roots = [etree.parse(str(IEPD_DIR / SAMPLES / f"ack_{kind}.xml")).getroot()
             for kind in ("accepted", "rejected")]
    assert roots[0].find(q("pox", "Accepted")) is not None
    assert roots[1].find(q("pox", "Rejected")) is not None


def test_the_iepd_version_is_in_every_sample_and_the_catalog() -> None:
    """pox:IEPDVersionID of each message and the catalog's mpdVersionID are IEPD_VERSION."""
    assert {etree.parse(str(p)).getroot().findtext(q("pox", "IEPDVersionID"))
            for p in MESSAGES} == {IEPD_VERSION}
    catalog = etree.parse(str(IEPD_DIR / CATALOG)).getroot()
    assert catalog[0].get(f"{{{MPD}}}mpdVersionID") == IEPD_VERSION
    assert f"## {IEPD_VERSION}" in (IEPD_DIR / "changelog.md").read_text(encoding="utf-8")


def test_the_catalog_lists_files_that_exist() -> None:
    catalog = etree.parse(str(IEPD_DIR / CATALOG)).getroot()
    paths = [a.get(f"{{{MPD}}}pathURI") for a in catalog.iter()
             if a.get(f"{{{MPD}}}pathURI") is not None]
    assert paths and all((IEPD_DIR / p).is_file() for p in paths)
    assert {f"{SAMPLES}/{p.name}" for p in (IEPD_DIR / SAMPLES).glob("*.xml")} <= set(paths)


#: Fields no fixture order carries (so no sample shows them); their XPaths are checked by
#: the round-trip property test, whose orders carry every identifier kind.
NOT_IN_SAMPLES = {"restrained_persons[].identifiers[] kind ssn"}


def test_every_mapping_xpath_selects_an_element_in_a_sample() -> None:
    """Each canonical field's XPath in mapping.csv finds something in some sample."""
    with (IEPD_DIR / MAPPING).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 30
    documents = [etree.parse(str(p)) for p in MESSAGES]
    unmatched = [r["canonical_field"] for r in rows
                 if not any(d.xpath(r["niem_xpath"], namespaces=NS) for d in documents)]
    assert sorted(unmatched) == sorted(NOT_IN_SAMPLES)


def test_engine_niem_iepd_writes_a_self_contained_copy(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """`engine niem iepd DIR` copies the IEPD and validates the samples in the copy."""
    out = tmp_path / "iepd"
    assert main(["niem", "iepd", str(out)]) == 0
    assert f"IEPD {IEPD_VERSION}" in capsys.readouterr().out
    for name in (CATALOG, MAPPING, "conformance-assertion.md", "message/pox-message.xsd"):
        assert (out / name).is_file(), name


def test_a_copy_with_an_invalid_sample_is_refused(tmp_path: Path) -> None:
    """A sample that breaks the schema (no message control number) fails validation."""
    out = tmp_path / "iepd"
    export_iepd(out)
    sample = out / SAMPLES / "dv_tro_issue.xml"
    root = etree.parse(str(sample)).getroot()
    root.remove(root.find(q("pox", "MessageControlNumber")))
    sample.write_bytes(etree.tostring(root))
    with pytest.raises(IepdError, match=r"dv_tro_issue\.xml does not validate"):
        validate_samples(out)


def test_the_reference_receiver_accepts_every_iepd_sample_message() -> None:
    """The receiver's NIEM validation (the DOJ's conformance check) takes every sample."""
    from engine.receiver.formats import FORMATS

    niem = FORMATS["niem"]
    for path in MESSAGES:
        validated = niem.validate(path.read_bytes())
        root = etree.parse(str(path)).getroot()
        assert validated.action == root.findtext(q("pox", "MessageActionCode")), path.name


def test_the_reference_receiver_refuses_a_message_the_iepd_refuses() -> None:
    """A sample with its sender ORI changed breaks the IEPD's rule; the receiver says where."""
    from engine.errors import OrderInvalid
    from engine.receiver.formats import FORMATS

    root = etree.parse(str(IEPD_DIR / SAMPLES / "dv_tro_issue.xml")).getroot()
    root.find(q("pox", "MessageSenderORI")).text = "CA0000000"
    with pytest.raises(OrderInvalid) as exc:
        FORMATS["niem"].validate(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    sender = "/pox:ProtectionOrderMessage/pox:MessageSenderORI"
    assert [e.path for e in exc.value.errors] == [sender]
