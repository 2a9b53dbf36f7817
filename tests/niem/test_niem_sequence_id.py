"""structures:sequenceID orders siblings, as NIEM defines it; the first of a kind stays first.

NIEM 5.2 structures.xsd: sequenceID is "An identifier that establishes the relative order of
a property occurrence among sibling properties of a node or object", an xs:positiveInteger.
So the same-named siblings of one parent are numbered 1..n, and a reader restores their
order from it. The order *across* identifier kinds has no carrier in NIEM (the kinds are
different elements under different parents), so it is not a fact of the exchange.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from engine.canonical import decode_order, order_from_dict, order_to_dict
from engine.errors import OrderInvalid
from engine.formats import RenderContext
from engine.model import Order, PersonIdentifier
from engine.niem import read_niem, render_niem
from engine.niem.namespaces import NS, q

ORDERS = Path(__file__).parents[1] / "fixtures" / "orders"
CTX = RenderContext(mcn="MCN-SEQ-1", sent_at=dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC))
SEQUENCE_ID = q("structures", "sequenceID")
RP = ".//j:ProtectionOrderRestrictedPerson"

#: Interleaved kinds, two of several: the second license and FBI number follow others.
IDENTIFIERS = [
    {"kind": "drivers_license", "value": "D1111111", "issuer": "CA", "expires_year": 2028},
    {"kind": "fbi_number", "value": "FBI111"},
    {"kind": "passport", "value": "P1111111", "issuer": "US"},
    {"kind": "drivers_license", "value": "D2222222", "issuer": "NV"},
    {"kind": "cii", "value": "A11111111"},
    {"kind": "fbi_number", "value": "FBI222"},
    {"kind": "state_id", "value": "S1111111", "issuer": "CA"},
    {"kind": "passport", "value": "P2222222", "issuer": "MX"},
]


def _order() -> Order:
    data = order_to_dict(decode_order((ORDERS / "dv_tro_issue.json").read_bytes()))
    data["restrained_persons"][0]["identifiers"] = IDENTIFIERS
    return order_from_dict(data)


def _document() -> etree._Element:
    root: etree._Element = etree.fromstring(render_niem(_order(), CTX).body)
    return root


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _per_kind(identifiers: tuple[PersonIdentifier, ...]) -> dict[str, list[PersonIdentifier]]:
    kinds: dict[str, list[PersonIdentifier]] = {}
    for ident in identifiers:
        kinds.setdefault(ident.kind.value, []).append(ident)
    return kinds


def test_same_named_siblings_are_numbered_one_to_n_within_each_parent() -> None:
    """Every parent's sequenced children of one name carry 1..n, with no gaps or repeats."""
    root = _document()
    checked = 0
    for parent in root.iter():
        names = Counter(child.tag for child in parent if child.get(SEQUENCE_ID) is not None)
        for tag, count in names.items():
            numbers = sorted(int(child.get(SEQUENCE_ID, "0")) for child in parent
                             if child.tag == tag)
            assert numbers == list(range(1, count + 1)), (parent.tag, tag, numbers)
            checked += count
    assert checked >= len(IDENTIFIERS)


def test_each_license_is_its_own_sibling_in_the_person_augmentation() -> None:
    """Two licenses are two j:DriverLicense siblings, numbered 1 and 2 in the order's order."""
    licenses = _document().findall(f"{RP}/j:PersonAugmentation/j:DriverLicense", NS)
    assert [(d.get(SEQUENCE_ID), d.findtext("j:DriverLicenseIdentification/nc:IdentificationID",
                                            namespaces=NS)) for d in licenses] == [
        ("1", "D1111111"), ("2", "D2222222")]


def test_the_order_within_each_kind_survives_the_round_trip() -> None:
    """Read back, each kind lists its identifiers in the court's order (the first is primary)."""
    order = _order()
    read = read_niem(render_niem(order, CTX).body)
    assert _per_kind(read.restrained_persons[0].identifiers) == _per_kind(
        order.restrained_persons[0].identifiers)


def test_out_of_order_sequence_ids_are_restored() -> None:
    """Siblings written in reverse document order read back in sequenceID order."""
    root = _document()
    person = root.find(RP, NS)
    assert person is not None
    for path in ("nc:PersonPassportIdentification", "j:PersonAugmentation/j:DriverLicense",
                 "j:PersonAugmentation/j:PersonFBIIdentification"):
        siblings = person.findall(path, NS)
        assert len(siblings) == 2
        parent = siblings[0].getparent()
        assert parent is not None
        at = parent.index(siblings[0])
        parent.remove(siblings[1])
        parent.insert(at, siblings[1])  # now the sequenceID-2 one comes first
    read = read_niem(_bytes(root)).restrained_persons[0].identifiers
    kinds = _per_kind(read)
    assert [i.value for i in kinds["passport"]] == ["P1111111", "P2222222"]
    assert [i.value for i in kinds["drivers_license"]] == ["D1111111", "D2222222"]
    assert [i.value for i in kinds["fbi_number"]] == ["FBI111", "FBI222"]


@pytest.mark.parametrize("path", ["nc:PersonPassportIdentification",
                                  "j:PersonAugmentation/j:DriverLicense",
                                  "j:PersonAugmentation/j:PersonFBIIdentification"])
def test_a_repeated_sequence_id_among_siblings_is_refused_at_its_element(path: str) -> None:
    """Two siblings claiming the same place leave the order undetermined: refused, with a path."""
    root = _document()
    person = root.find(RP, NS)
    assert person is not None
    siblings = person.findall(path, NS)
    siblings[1].set(SEQUENCE_ID, "1")
    with pytest.raises(OrderInvalid) as exc:
        read_niem(_bytes(root))
    element = path.rsplit("/", 1)[-1]  # e.g. j:DriverLicense
    problems = [e for e in exc.value.errors if "sequenceID" in e.reason]
    assert problems, exc.value.errors
    assert [e.path.rsplit("/", 1)[-1] for e in problems] == [f"{element}[2]"]


def test_siblings_without_a_sequence_id_keep_document_order() -> None:
    """With no sequenceID at all, a kind reads in the order its elements are written."""
    root = _document()
    person = root.find(RP, NS)
    assert person is not None
    for element in person.iter():
        element.attrib.pop(SEQUENCE_ID, None)
    licenses = person.findall("j:PersonAugmentation/j:DriverLicense", NS)
    parent = licenses[0].getparent()
    assert parent is not None
    parent.remove(licenses[1])
    parent.insert(parent.index(licenses[0]), licenses[1])
    read = read_niem(_bytes(root)).restrained_persons[0].identifiers
    assert [i.value for i in _per_kind(read)["drivers_license"]] == ["D2222222", "D1111111"]


def test_a_sibling_without_a_sequence_id_follows_one_numbered_above_a_billion() -> None:
    """sequenceID is an unbounded xs:positiveInteger: whatever the number, the licence
    without one reads after the numbered one, though it is written first."""
    root = _document()
    licenses = root.findall(f"{RP}/j:PersonAugmentation/j:DriverLicense", NS)
    licenses[0].attrib.pop(SEQUENCE_ID)
    licenses[1].set(SEQUENCE_ID, str(10**12))
    read = read_niem(_bytes(root)).restrained_persons[0].identifiers
    assert [i.value for i in _per_kind(read)["drivers_license"]] == ["D2222222", "D1111111"]
