"""Each canonical fact at its documented XPath in the rendered NIEM document.

docs/niem-contract.md ("Mapping: canonical field -> XPath") is what DOJ teams code against.
This file holds that table as data: canonical field, the XPath exactly as the contract writes
it (with its abbreviations ``M``, ``PO``, ``AUG``, ``RP``, ``PA``, ``PP``), and how to read
the expected text from the canonical order. Every fixture order is rendered and every fact
is looked up at its XPath; the expected text comes from the order (and the contract's code
tables), never from a golden document. A test also checks that each XPath here is the one
the contract documents, so the two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from engine.canonical import decode_order, order_from_dict, order_to_dict
from engine.formats import RenderContext
from engine.model import Order, PersonName, ProtectedPerson, RestrainedPerson
from engine.niem import render_niem
from tests.goldens import ORDER_FIXTURES

CONTRACT = (Path(__file__).parents[2] / "docs" / "niem-contract.md").read_text("utf-8")
NS = {"pox": "urn:ca-courts:po-exchange:message:1.0",
      "pox-ext": "urn:ca-courts:po-exchange:extension:1.0",
      "nc": "http://release.niem.gov/niem/niem-core/5.0/",
      "j": "http://release.niem.gov/niem/domains/jxdm/7.2/",
      "ncic": "http://release.niem.gov/niem/codes/ncic/5.2/",
      "structures": "http://release.niem.gov/niem/structures/5.0/"}


def _contract_codes(label: str) -> dict[str, str]:
    """A code table of the contract ("| eye | black BLK, ...") as canonical word -> code."""
    row = next(line for line in CONTRACT.splitlines() if line.startswith(f"| {label}"))
    mapping = row.split("|")[2]
    codes = dict(re.findall(r"\b([a-z_]+) ([A-Z]{1,3})\b", mapping))
    if "nonbinary: U" in mapping:
        codes["nonbinary"] = "U"
    return codes


SEX, RACE = _contract_codes("sex"), _contract_codes("race")
EYE, HAIR, SKIN = _contract_codes("eye"), _contract_codes("hair"), _contract_codes("skin")


def _abbreviations(restrained: int = 1, protected: int = 1) -> dict[str, str]:
    m = "/pox:ProtectionOrderMessage"
    po = f"{m}/j:ProtectionOrder"
    pa = f"{m}/j:ProtectionOrderProtectedPersonAssociation[{protected}]"
    return {"M": m, "PO": po, "AUG": f"{po}/pox-ext:ProtectionOrderAugmentation",
            "RP": f"{po}/j:ProtectionOrderRestrictedPerson[{restrained}]",
            "PA": pa, "PP": f"{pa}/nc:Person"}


def expand(path: str, **index: int) -> str:
    head, _, rest = path.partition("/")
    return f"{_abbreviations(**index)[head]}/{rest}" if rest else _abbreviations(**index)[head]


def _date(value: dt.date | None) -> list[str]:
    return [] if value is None else [value.isoformat()]


def _datetime(value: dt.datetime | None) -> list[str]:
    """xs:dateTime with its offset; an offset with seconds as the same instant in UTC."""
    if value is None:
        return []
    offset = value.utcoffset()
    if offset is not None and offset.seconds % 60:
        value = value.astimezone(dt.UTC)
    return [value.isoformat()]


def _bool(value: bool) -> list[str]:
    return ["true" if value else "false"]


def _opt(value: object) -> list[str]:
    return [] if value is None else [str(value)]


#: Order-level facts: (canonical field, XPath as the contract writes it, expected text).
ORDER_FACTS: list[tuple[str, str, Callable[[Order], list[str]]]] = [
    ("order_id", "PO/nc:ActivityIdentification[nc:IdentificationCategoryDescriptionText="
                 "'CourtOrderIdentifier']/nc:IdentificationID", lambda o: [o.order_id]),
    ("case_number", "PO/nc:ActivityIdentification[nc:IdentificationCategoryDescriptionText="
                    "'CourtCaseNumber']/nc:IdentificationID", lambda o: [o.case_number]),
    ("version", "M/pox:OrderVersionNumber", lambda o: [str(o.version)]),
    ("action", "M/pox:MessageActionCode", lambda o: [o.action.value]),
    ("order_type", "AUG/pox-ext:ProtectionOrderCategoryCode", lambda o: [o.order_type.value]),
    ("court.ori", "PO/j:CourtOrderIssuingCourt/j:OrganizationAugmentation/"
                  "j:OrganizationORIIdentification/nc:IdentificationID", lambda o: [o.court.ori]),
    ("court.ori", "M/pox:MessageSenderORI", lambda o: [o.court.ori]),
    ("court.name", "PO/j:CourtOrderIssuingCourt/j:CourtName", lambda o: [o.court.name]),
    ("court.county", "PO/j:CourtOrderIssuingCourt/nc:OrganizationLocation/nc:Address/"
                     "nc:AddressCountyName", lambda o: _opt(o.court.county)),
    ("judicial_officer", "PO/j:CourtOrderIssuingJudicialOfficial/nc:RoleOfPerson/"
                         "nc:PersonName/nc:PersonFullName", lambda o: _opt(o.judicial_officer)),
    ("issued_at", "PO/j:CourtOrderIssuingDate/nc:DateTime", lambda o: _datetime(o.issued_at)),
    ("effective_date", "PO/nc:ActivityEffectiveDate/nc:Date",
     lambda o: _date(o.effective_date)),
    ("expiration_date", "AUG/pox-ext:ProtectionOrderExpirationDate/nc:Date",
     lambda o: _date(o.expiration_date)),
    ("conditions[].code", "PO/ncic:ProtectionOrderConditionCode",
     lambda o: [c.code.value for c in o.conditions]),
    ("miscellaneous", "PO/j:ProtectionOrderConditionText", lambda o: _opt(o.miscellaneous)),
    ("firearms.brady_indicator", "PO/j:ProtectionOrderBradyIndicator",
     lambda o: _bool(o.firearms.brady_indicator)),
    ("firearms.relinquishment_ordered", "AUG/pox-ext:FirearmsRelinquishmentOrderedIndicator",
     lambda o: _bool(o.firearms.relinquishment_ordered)),
    ("service.status", "AUG/pox-ext:CourtOrderServedIndicator",
     lambda o: _bool(o.service.status.value == "served")),
    ("service.served_at", "PO/j:CourtOrderServiceDate/nc:DateTime",
     lambda o: _datetime(o.service.served_at)),
    ("service.served_by", "AUG/pox-ext:CourtOrderServedByText",
     lambda o: _opt(o.service.served_by)),
    ("image.uri", "AUG/nc:Attachment/nc:BinaryURI",
     lambda o: [] if o.image is None else [o.image.uri]),
    ("image.sha256", "AUG/nc:Attachment/nc:BinaryHash/nc:BinaryHashCode",
     lambda o: [] if o.image is None else [o.image.sha256]),
    ("image.media_type", "AUG/nc:Attachment/nc:BinaryFormatText",
     lambda o: [] if o.image is None else [o.image.media_type]),
]

#: Condition texts sit beside their code: one XPath per condition code with own words.
CONDITION_TEXT = ("AUG/pox-ext:ProtectionOrderCondition[ncic:ProtectionOrderConditionCode=code]"
                  "/j:ProtectionOrderConditionText")

_NAME_PARTS = (("nc:PersonGivenName", "given"), ("nc:PersonMiddleName", "middle"),
               ("nc:PersonSurName", "surname"), ("nc:PersonNameSuffixText", "suffix"))


def _name_parts(name: PersonName) -> list[str]:
    return [str(getattr(name, attr)) for _, attr in _NAME_PARTS if getattr(name, attr)]


def _identifiers(kind: str) -> Callable[[RestrainedPerson], list[str]]:
    return lambda p: [i.value for i in p.identifiers if i.kind.value == kind]


def _coded(table: dict[str, str], attr: str) -> Callable[[RestrainedPerson], list[str]]:
    def read(p: RestrainedPerson) -> list[str]:
        value = getattr(p, attr)
        return [] if value is None else [table[value.value]]
    return read


#: Restrained-person facts, relative to ``RP`` (each restrained person in order).
RESTRAINED_FACTS: list[tuple[str, str, Callable[[RestrainedPerson], list[str]]]] = [
    (".name", "RP/nc:PersonName[nc:PersonNameCategoryCode='Legal']",
     lambda p: _name_parts(p.name)),
    (".aliases[]", "RP/nc:PersonName[nc:PersonNameCategoryCode='Alternate']",
     lambda p: [part for alias in p.aliases for part in _name_parts(alias)]),
    (".sex", "RP/ncic:PersonSexCode", _coded(SEX, "sex")),
    (".race", "RP/ncic:PersonRaceCode", _coded(RACE, "race")),
    (".birth_date", "RP/nc:PersonBirthDate/nc:Date", lambda p: _date(p.birth_date)),
    (".height_inches", "RP/nc:PersonHeightMeasure/nc:MeasureIntegerValue",
     lambda p: _opt(p.height_inches)),
    (".weight_pounds", "RP/nc:PersonWeightMeasure/nc:MeasureIntegerValue",
     lambda p: _opt(p.weight_pounds)),
    (".eye_color", "RP/ncic:PersonEyeColorCode", _coded(EYE, "eye_color")),
    (".hair_color", "ncic:PersonHairColorCode", _coded(HAIR, "hair_color")),
    (".skin_tone", "ncic:PersonSkinToneCode", _coded(SKIN, "skin_tone")),
    (".scars_marks_tattoos[].code",
     "RP/nc:PersonPhysicalFeature/nc:PhysicalFeatureCategoryText",
     lambda p: [m.code for m in p.scars_marks_tattoos if getattr(m, "code", None)]),
    (".scars_marks_tattoos[].description",
     "RP/nc:PersonPhysicalFeature/nc:PhysicalFeatureDescriptionText",
     lambda p: [m.description for m in p.scars_marks_tattoos
                if getattr(m, "description", None)]),
    ("drivers_license", "RP/j:PersonAugmentation/j:DriverLicense/j:DriverLicenseIdentification",
     _identifiers("drivers_license")),
    ("cii", "RP/j:PersonAugmentation/j:PersonStateFingerprintIdentification",
     _identifiers("cii")),
    ("fbi_number", "RP/j:PersonAugmentation/j:PersonFBIIdentification",
     _identifiers("fbi_number")),
    ("ssn", "RP/nc:PersonSSNIdentification", _identifiers("ssn")),
    ("state_id", "RP/nc:PersonStateIdentification", _identifiers("state_id")),
    ("passport", "RP/nc:PersonPassportIdentification", _identifiers("passport")),
]

#: Protected-person facts, relative to ``PP`` / ``PA`` (each protected person in order).
PROTECTED_FACTS: list[tuple[str, str, Callable[[ProtectedPerson], list[str]]]] = [
    (".name", "PP/nc:PersonName", lambda p: _name_parts(p.name)),
    (".sex", "PP/ncic:PersonSexCode", lambda p: [SEX[p.sex.value]]),
    (".race", "PP/ncic:PersonRaceCode", lambda p: [RACE[p.race.value]]),
    (".birth_date", "PP/nc:PersonBirthDate/nc:Date", lambda p: _date(p.birth_date)),
    (".is_minor", "PP/pox-ext:PersonAugmentation/pox-ext:PersonMinorIndicator",
     lambda p: _bool(p.is_minor)),
    (".relationship", "PA/pox-ext:ProtectedPersonAssociationAugmentation/"
                      "pox-ext:PersonRelationshipCode", lambda p: [p.relationship.value]),
]


def _full_path(contract_path: str) -> str:
    """The contract's row for hair and skin writes their XPaths relative to ``RP``."""
    head = contract_path.split("/", 1)[0]
    return contract_path if head in _abbreviations() else f"RP/{contract_path}"


def _values(document: etree._Element, path: str) -> list[str]:
    """The text at an XPath: of the element itself, or of its parts for a name, or of its
    nc:IdentificationID for an identifier."""
    found = document.xpath(path, namespaces=NS)
    out: list[str] = []
    for element in found:
        if element.tag.endswith("}PersonName"):
            out += [element.findtext(tag.replace("nc:", f"{{{NS['nc']}}}"))
                    for tag, _ in _NAME_PARTS
                    if element.find(tag.replace("nc:", f"{{{NS['nc']}}}")) is not None]
        elif element.tag.endswith("Identification") and element.find(
                f"{{{NS['nc']}}}IdentificationID") is not None:
            out.append(element.findtext(f"{{{NS['nc']}}}IdentificationID"))
        else:
            out.append(element.text)
    return out


def _context(order: Order) -> RenderContext:
    return RenderContext(mcn="MCN-XPATH-1", sent_at=dt.datetime(2026, 11, 23, 9, 0,
                                                                tzinfo=dt.UTC),
                         doj_record_id=None if order.action.value == "issue" else "REC-1")


def _with_ssn(order: Order) -> Order:
    """An order whose first restrained person also has a social security number."""
    data = order_to_dict(order)
    person = data["restrained_persons"][0]
    person["identifiers"] = [*person.get("identifiers", []),
                             {"kind": "ssn", "value": "123456789"}]
    return order_from_dict(data)


_ORDERS = [(p.stem, decode_order(p.read_bytes())) for p in ORDER_FIXTURES]
_ORDERS.append(("with_ssn", _with_ssn(_ORDERS[0][1])))
DOCUMENTS = [(stem, order, etree.fromstring(render_niem(order, _context(order)).body))
             for stem, order in _ORDERS]
IDS = [stem for stem, _, _ in DOCUMENTS]


@pytest.mark.parametrize(("stem", "order", "document"), DOCUMENTS, ids=IDS)
def test_each_order_fact_is_at_its_documented_xpath(stem: str, order: Order,
                                                    document: etree._Element) -> None:
    """Every order-level canonical fact is at its XPath, with the order's own value."""
    wrong = {field: (_values(document, expand(path)), expected(order))
             for field, path, expected in ORDER_FACTS
             if _values(document, expand(path)) != expected(order)}
    for condition in order.conditions:
        path = expand(CONDITION_TEXT.replace("=code", f"='{condition.code.value}'"))
        if _values(document, path) != _opt(condition.text):
            wrong[f"conditions[{condition.code.value}].text"] = (
                _values(document, path), _opt(condition.text))
    assert wrong == {}


@pytest.mark.parametrize(("stem", "order", "document"), DOCUMENTS, ids=IDS)
def test_each_person_fact_is_at_its_documented_xpath(stem: str, order: Order,
                                                     document: etree._Element) -> None:
    """Every restrained and protected person's facts are at their XPaths, person by person
    in the order's sequence."""
    wrong = {}
    for i, person in enumerate(order.restrained_persons, start=1):
        for field, path, expected in RESTRAINED_FACTS:
            got = _values(document, expand(_full_path(path), restrained=i))
            if got != expected(person):
                wrong[f"restrained[{i}]{field}"] = (got, expected(person))
    for i, protected in enumerate(order.protected_persons, start=1):
        for field, path, expected_pp in PROTECTED_FACTS:
            got = _values(document, expand(path, protected=i))
            if got != expected_pp(protected):
                wrong[f"protected[{i}]{field}"] = (got, expected_pp(protected))
    assert wrong == {}


def test_message_header_carries_the_transmission_facts() -> None:
    """MCN and the DOJ record id are at their documented places in the message wrapper."""
    _, order, document = next(d for d in DOCUMENTS if d[1].action.value != "issue")
    ctx = _context(order)
    assert _values(document, "/pox:ProtectionOrderMessage/pox:MessageControlNumber") == [
        ctx.mcn]
    assert _values(document, "/pox:ProtectionOrderMessage/pox:DOJRecordID") == [
        ctx.doj_record_id]


def test_every_fact_is_checked_somewhere() -> None:
    """Each optional fact has at least one fixture where it is present, so no XPath above
    is only ever checked as absent."""
    unchecked = [field for field, _, expected in ORDER_FACTS
                 if not any(expected(order) for _, order, _ in DOCUMENTS)]
    unchecked += [field for field, _, expected in RESTRAINED_FACTS
                  if not any(expected(p) for _, order, _ in DOCUMENTS
                             for p in order.restrained_persons)]
    assert unchecked == []


def test_the_xpaths_here_are_the_contracts() -> None:
    """Every XPath in these tables is written, verbatim, in docs/niem-contract.md's mapping
    table (a changed XPath changes the contract and these tests together)."""
    table = CONTRACT.split("## Mapping: canonical field -> XPath", 1)[1].split("\n## ", 1)[0]
    paths = [p for _, p, _ in (*ORDER_FACTS, *RESTRAINED_FACTS, *PROTECTED_FACTS)]
    # The contract names the condition text's path once; its prose says which condition
    # (the one whose code is the condition's) the predicate here selects.
    condition_text = CONDITION_TEXT.replace("[ncic:ProtectionOrderConditionCode=code]", "")
    missing = [p for p in [*paths, condition_text] if f"`{p}`" not in table]
    assert missing == []
