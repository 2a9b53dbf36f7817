"""Canonical order -> NIEM 5.2 protection-order message, validated before it leaves.

The document is built element by element with lxml (no templates, no string pasting), in
the sequence order the schemas require, then validated against the compiled subset schema
(`engine.niem.schema`). A document that does not validate is never returned: the caller
gets `RenderError` with element paths and value-free messages. Names keep their original
spelling (Nguyễn stays Nguyễn): this is the format that carries the order as issued.
"""

from __future__ import annotations

import datetime as dt
import re

from lxml import etree

from engine.errors import FieldError, RenderError
from engine.formats import RenderContext, Rendered
from engine.model import (
    Action,
    IdentifierKind,
    Order,
    PersonIdentifier,
    PersonName,
    ProtectedPerson,
    RestrainedPerson,
    ScarMarkTattoo,
    ServiceStatus,
    Sex,
)
from engine.niem import codes
from engine.niem.namespaces import DEFAULT_RECIPIENT, IEPD_VERSION, NSMAP, q
from engine.niem.schema import message_schema

__all__ = [
    "CASE_NUMBER_CATEGORY",
    "CONTENT_TYPE",
    "ORDER_ELEMENT_ID",
    "ORDER_ID_CATEGORY",
    "build_message",
    "render_niem",
    "test_indicator",
]

CONTENT_TYPE = "application/xml"
#: structures:id of j:ProtectionOrder; each protected-person association refers to it.
ORDER_ELEMENT_ID = "protection-order"
#: nc:IdentificationCategoryDescriptionText telling the two nc:ActivityIdentification apart.
ORDER_ID_CATEGORY = "CourtOrderIdentifier"
CASE_NUMBER_CATEGORY = "CourtCaseNumber"
HEIGHT_UNIT = "inches"
WEIGHT_UNIT = "pounds"

_SUB = etree.SubElement


class _Names:
    """The Clark names of one namespace's elements, each worked out once: ``NC.PersonName``
    is ``q("nc", "PersonName")`` (the renderer names ~100 elements per document)."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix

    def __getattr__(self, local: str) -> str:
        if local.startswith("_"):
            raise AttributeError(local)
        name = q(self._prefix, local)
        setattr(self, local, name)  # later look-ups find it without coming here
        return name


NC, J, NCIC, POX, POX_EXT, STRUCTURES, XSI = (
    _Names(p) for p in ("nc", "j", "ncic", "pox", "pox-ext", "structures", "xsi"))

# Where each identifier kind goes: (inside j:PersonAugmentation?, element name).
_IDENTIFIER_ELEMENTS: dict[IdentifierKind, tuple[bool, str]] = {
    IdentifierKind.PASSPORT: (False, NC.PersonPassportIdentification),
    IdentifierKind.SSN: (False, NC.PersonSSNIdentification),
    IdentifierKind.STATE_ID: (False, NC.PersonStateIdentification),
    IdentifierKind.DRIVERS_LICENSE: (True, J.DriverLicenseIdentification),
    IdentifierKind.FBI_NUMBER: (True, J.PersonFBIIdentification),
    IdentifierKind.STATE_ID_NUMBER: (True, J.PersonStateFingerprintIdentification),
}


def _leaf(parent: etree._Element, tag: str, text: str, where: str) -> etree._Element:
    element = _SUB(parent, tag)
    try:
        element.text = text
    except ValueError:  # lxml refuses characters XML 1.0 cannot carry
        raise RenderError(f"{where}: has characters XML cannot carry",
                          (FieldError(where, "has characters XML cannot carry"),)) from None
    return element


def _bool(value: bool) -> str:
    return "true" if value else "false"


def datetime_text(value: dt.datetime) -> str:
    """xs:dateTime text; an offset with seconds (which XML cannot write) becomes UTC."""
    offset = value.utcoffset()
    if offset is not None and (offset.seconds % 60 or offset.microseconds):
        value = value.astimezone(dt.UTC)
    return value.isoformat()


def _date(parent: etree._Element, tag: str, value: dt.date) -> None:
    _SUB(_SUB(parent, tag), NC.Date).text = value.isoformat()


def _datetime(parent: etree._Element, tag: str, value: dt.datetime) -> None:
    _SUB(_SUB(parent, tag), NC.DateTime).text = datetime_text(value)


def _name(parent: etree._Element, name: PersonName, category: str, where: str) -> None:
    element = _SUB(parent, NC.PersonName)
    if name.given is not None:
        _leaf(element, NC.PersonGivenName, name.given, f"{where}.given")
    if name.middle is not None:
        _leaf(element, NC.PersonMiddleName, name.middle, f"{where}.middle")
    _leaf(element, NC.PersonSurName, name.surname, f"{where}.surname")
    if name.suffix is not None:
        _SUB(element, NC.PersonNameSuffixText).text = name.suffix
    _SUB(element, NC.PersonNameCategoryCode).text = category


def _measure(parent: etree._Element, tag: str, value: int, unit: str) -> None:
    element = _SUB(parent, tag)
    _SUB(element, NC.MeasureIntegerValue).text = str(value)
    _SUB(element, NC.MeasureUnitText).text = unit


def _sex(parent: etree._Element, sex: Sex) -> None:
    _SUB(parent, NCIC.PersonSexCode).text = codes.SEX_CODES[sex]
    if sex is Sex.NONBINARY:
        _SUB(parent, NC.PersonSexText).text = codes.NONBINARY_SEX_TEXT


def _identification(parent: etree._Element, tag: str, ident: PersonIdentifier,
                    sequence: int, where: str) -> None:
    element = _SUB(parent, tag, {STRUCTURES.sequenceID: str(sequence)})
    _leaf(element, NC.IdentificationID, ident.value, f"{where}.value")
    if ident.expires_year is not None:
        expires = _SUB(element, NC.IdentificationExpirationDate)
        _SUB(expires, NC.YearDate).text = f"{ident.expires_year:04d}"
    if ident.issuer is not None:
        _SUB(element, NC.IdentificationSourceText).text = ident.issuer


def _restrained_person(parent: etree._Element, person: RestrainedPerson, where: str) -> None:
    el = _SUB(parent, J.ProtectionOrderRestrictedPerson)
    if person.birth_date is not None:
        _date(el, NC.PersonBirthDate, person.birth_date)
    if person.ethnicity is not None:
        _SUB(el, NCIC.PersonEthnicityCode).text = codes.ETHNICITY_CODES[person.ethnicity]
    if person.eye_color is not None:
        _SUB(el, NCIC.PersonEyeColorCode).text = codes.EYE_CODES[person.eye_color]
    if person.hair_color is not None:
        _SUB(el, NCIC.PersonHairColorCode).text = codes.HAIR_CODES[person.hair_color]
    if person.height_inches is not None:
        _measure(el, NC.PersonHeightMeasure, person.height_inches, HEIGHT_UNIT)
    _name(el, person.name, "Legal", f"{where}.name")
    for i, alias in enumerate(person.aliases):
        _name(el, alias, "Alternate", f"{where}.aliases.{i}")
    # nc:PersonPassportIdentification comes before the physical features in nc:PersonType.
    _identifiers_at(el, person, [IdentifierKind.PASSPORT], where)
    for i, mark in enumerate(person.scars_marks_tattoos):
        feature = _SUB(el, NC.PersonPhysicalFeature)
        at = f"{where}.scars_marks_tattoos.{i}"
        if isinstance(mark, ScarMarkTattoo):
            # The NCIC SMT code as the feature's category; the court's words beside it.
            _SUB(feature, NC.PhysicalFeatureCategoryText).text = mark.code
            if mark.description is not None:
                _leaf(feature, NC.PhysicalFeatureDescriptionText, mark.description,
                      f"{at}.description")
        else:
            _leaf(feature, NC.PhysicalFeatureDescriptionText, mark, at)
    _SUB(el, NCIC.PersonRaceCode).text = codes.RACE_CODES[person.race]
    _sex(el, person.sex)
    if person.skin_tone is not None:
        _SUB(el, NCIC.PersonSkinToneCode).text = codes.SKIN_CODES[person.skin_tone]
    _identifiers_at(el, person, [IdentifierKind.SSN, IdentifierKind.STATE_ID], where)
    if person.weight_pounds is not None:
        _measure(el, NC.PersonWeightMeasure, person.weight_pounds, WEIGHT_UNIT)
    _identifiers_at(el, person, [IdentifierKind.DRIVERS_LICENSE, IdentifierKind.FBI_NUMBER,
                                 IdentifierKind.STATE_ID_NUMBER], where)


def _identifiers_at(el: etree._Element, person: RestrainedPerson, kinds: list[IdentifierKind],
                    where: str) -> None:
    """Write the person's identifiers of these kinds, kind by kind, first of a kind first.

    structures:sequenceID is "the relative order of a property occurrence among sibling
    properties" (NIEM 5.2 structures.xsd), so it numbers same-named siblings of one parent
    1..n; the order within a kind (its first is the primary one) survives, the order across
    kinds is not carried (docs/niem-contract.md).
    """
    augmentation = None
    for kind in kinds:
        inside, tag = _IDENTIFIER_ELEMENTS[kind]
        sequence = 0
        for i, ident in enumerate(person.identifiers):
            if ident.kind is not kind:
                continue
            sequence += 1
            parent = el
            if inside:
                if augmentation is None:
                    augmentation = _SUB(el, J.PersonAugmentation)
                parent = augmentation
                if kind is IdentifierKind.DRIVERS_LICENSE:
                    # One j:DriverLicense per license: the licenses are the siblings.
                    parent = _SUB(augmentation, J.DriverLicense,
                                  {STRUCTURES.sequenceID: str(sequence)})
            _identification(parent, tag, ident, 1 if parent.tag == J.DriverLicense else sequence,
                            f"{where}.identifiers.{i}")


def _protected_person(parent: etree._Element, person: ProtectedPerson, where: str) -> None:
    association = _SUB(parent, J.ProtectionOrderProtectedPersonAssociation)
    _SUB(association, NC.Activity,
         {STRUCTURES.ref: ORDER_ELEMENT_ID, XSI.nil: "true"})
    el = _SUB(association, NC.Person)
    if person.birth_date is not None:
        _date(el, NC.PersonBirthDate, person.birth_date)
    _name(el, person.name, "Legal", f"{where}.name")
    _SUB(el, NCIC.PersonRaceCode).text = codes.RACE_CODES[person.race]
    _sex(el, person.sex)
    augmentation = _SUB(el, POX_EXT.PersonAugmentation)
    _SUB(augmentation, POX_EXT.PersonMinorIndicator).text = _bool(person.is_minor)
    link = _SUB(association, POX_EXT.ProtectedPersonAssociationAugmentation)
    _SUB(link, POX_EXT.PersonRelationshipCode).text = person.relationship.value


def _court(parent: etree._Element, order: Order) -> None:
    court = _SUB(parent, J.CourtOrderIssuingCourt)
    if order.court.county is not None:
        address = _SUB(_SUB(court, NC.OrganizationLocation), NC.Address)
        _leaf(address, NC.AddressCountyName, order.court.county, "court.county")
    augmentation = _SUB(court, J.OrganizationAugmentation)
    ori = _SUB(augmentation, J.OrganizationORIIdentification)
    _SUB(ori, NC.IdentificationID).text = order.court.ori
    _leaf(court, J.CourtName, order.court.name, "court.name")


def _activity_id(parent: etree._Element, value: str, category: str) -> None:
    ident = _SUB(parent, NC.ActivityIdentification)
    _SUB(ident, NC.IdentificationID).text = value
    _SUB(ident, NC.IdentificationCategoryDescriptionText).text = category


def _order_augmentation(parent: etree._Element, order: Order) -> None:
    aug = _SUB(parent, POX_EXT.ProtectionOrderAugmentation)
    _SUB(aug, POX_EXT.ProtectionOrderCategoryCode).text = order.order_type.value
    if order.expiration_date is not None:
        _date(aug, POX_EXT.ProtectionOrderExpirationDate, order.expiration_date)
    _SUB(aug, POX_EXT.FirearmsRelinquishmentOrderedIndicator).text = _bool(
        order.firearms.relinquishment_ordered)
    _SUB(aug, POX_EXT.CourtOrderServedIndicator).text = _bool(
        order.service.status is ServiceStatus.SERVED)
    if order.service.served_by is not None:
        _leaf(aug, POX_EXT.CourtOrderServedByText, order.service.served_by,
              "service.served_by")
    for i, condition in enumerate(order.conditions):
        if condition.text is None:
            continue
        detail = _SUB(aug, POX_EXT.ProtectionOrderCondition)
        _SUB(detail, NCIC.ProtectionOrderConditionCode).text = condition.code.value
        _leaf(detail, J.ProtectionOrderConditionText, condition.text,
              f"conditions.{i}.text")
    if order.image is not None:
        attachment = _SUB(aug, NC.Attachment)
        digest = _SUB(attachment, NC.BinaryHash)
        _SUB(digest, NC.BinaryHashCode).text = order.image.sha256
        _SUB(digest, NC.BinaryHashFunctionCode).text = "SHA-256"
        _SUB(attachment, NC.BinaryFormatText).text = order.image.media_type
        _leaf(attachment, NC.BinaryURI, order.image.uri, "image.uri")


def _protection_order(parent: etree._Element, order: Order) -> None:
    po = _SUB(parent, J.ProtectionOrder, {STRUCTURES.id: ORDER_ELEMENT_ID})
    _activity_id(po, order.order_id, ORDER_ID_CATEGORY)
    _activity_id(po, order.case_number, CASE_NUMBER_CATEGORY)
    _date(po, NC.ActivityEffectiveDate, order.effective_date)
    _court(po, order)
    _datetime(po, J.CourtOrderIssuingDate, order.issued_at)
    if order.judicial_officer is not None:
        official = _SUB(po, J.CourtOrderIssuingJudicialOfficial)
        name = _SUB(_SUB(official, NC.RoleOfPerson), NC.PersonName)
        _leaf(name, NC.PersonFullName, order.judicial_officer, "judicial_officer")
    if order.service.served_at is not None:
        _datetime(po, J.CourtOrderServiceDate, order.service.served_at)
    for i, person in enumerate(order.restrained_persons):
        _restrained_person(po, person, f"restrained_persons.{i}")
    _SUB(po, J.ProtectionOrderBradyIndicator).text = _bool(order.firearms.brady_indicator)
    if order.miscellaneous is not None:
        _leaf(po, J.ProtectionOrderConditionText, order.miscellaneous, "miscellaneous")
    for condition in order.conditions:
        _SUB(po, NCIC.ProtectionOrderConditionCode).text = condition.code.value
    _order_augmentation(po, order)


def build_message(order: Order, ctx: RenderContext) -> etree._Element:
    """The message as an lxml tree, not yet validated (`render_niem` validates it)."""
    if ctx.sent_at.utcoffset() is None:
        raise RenderError("render context: sent_at must carry a UTC offset")
    if order.action is not Action.ISSUE and not ctx.doj_record_id:
        raise RenderError(f"action '{order.action.value}' needs the DOJ record id of the entry",
                          (FieldError("doj_record_id", "required after the entry"),))
    if order.action is Action.ISSUE and ctx.doj_record_id:
        raise RenderError("action 'issue' creates the DOJ record: it cannot carry a record id",
                          (FieldError("doj_record_id", "not allowed on an issue"),))
    if order.action is Action.ISSUE and ctx.previous_mcn:
        raise RenderError("action 'issue' is the first message of an order: it follows none",
                          (FieldError("previous_mcn", "not allowed on an issue"),))
    root = etree.Element(POX.ProtectionOrderMessage, nsmap=NSMAP)
    _SUB(root, POX.IEPDVersionID).text = IEPD_VERSION
    _leaf(root, POX.MessageControlNumber, ctx.mcn, "mcn")
    if ctx.previous_mcn:
        _leaf(root, POX.PreviousMessageControlNumber, ctx.previous_mcn, "previous_mcn")
    _SUB(root, POX.MessageSenderORI).text = order.court.ori
    _leaf(root, POX.MessageRecipientID, ctx.recipient or DEFAULT_RECIPIENT, "recipient")
    _SUB(root, POX.MessageSentDateTime).text = datetime_text(ctx.sent_at)
    _SUB(root, POX.MessageTestIndicator).text = _bool(ctx.test)
    _SUB(root, POX.MessageActionCode).text = order.action.value
    _SUB(root, POX.OrderVersionNumber).text = str(order.version)
    if ctx.doj_record_id:
        _leaf(root, POX.DOJRecordID, ctx.doj_record_id, "doj_record_id")
    _protection_order(root, order)
    for i, person in enumerate(order.protected_persons):
        _protected_person(root, person, f"protected_persons.{i}")
    return root


_TEST_INDICATOR = re.compile(rb"<pox:MessageTestIndicator>(true|false)</pox:MessageTestIndicator>")


def test_indicator(body: bytes) -> bool | None:
    """Whether a message this renderer wrote is a test message (None: not one of ours)."""
    found = _TEST_INDICATOR.search(body, 0, 4096)  # the header comes first
    return None if found is None else found.group(1) == b"true"


def render_niem(order: Order, ctx: RenderContext) -> Rendered:
    """The order as a validated NIEM 5.2 message; `RenderError` if it cannot be one."""
    root = build_message(order, ctx)
    errors = message_schema().errors(root)
    if errors:
        raise RenderError(f"NIEM message for {order.version_key} does not validate: "
                          + "; ".join(str(e) for e in errors[:5]), tuple(errors))
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Rendered(body=body, content_type=CONTENT_TYPE)
