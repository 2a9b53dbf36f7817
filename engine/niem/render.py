"""Canonical order -> NIEM 5.2 protection-order message, validated before it leaves.

The document is built element by element with lxml (no templates, no string pasting), in
the sequence order the schemas require, then validated against the compiled subset schema
(`engine.niem.schema`). A document that does not validate is never returned: the caller
gets `RenderError` with element paths and value-free messages. Names keep their original
spelling (Nguyễn stays Nguyễn): this is the format that carries the order as issued.
"""

from __future__ import annotations

import datetime as dt

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
    ServiceStatus,
    Sex,
)
from engine.niem import codes
from engine.niem.namespaces import NSMAP, q
from engine.niem.schema import message_schema

__all__ = [
    "CASE_NUMBER_CATEGORY",
    "CONTENT_TYPE",
    "ORDER_ELEMENT_ID",
    "ORDER_ID_CATEGORY",
    "build_message",
    "render_niem",
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

# Where each identifier kind goes: (inside j:PersonAugmentation?, element name).
_IDENTIFIER_ELEMENTS: dict[IdentifierKind, tuple[bool, str]] = {
    IdentifierKind.PASSPORT: (False, q("nc", "PersonPassportIdentification")),
    IdentifierKind.SSN: (False, q("nc", "PersonSSNIdentification")),
    IdentifierKind.STATE_ID: (False, q("nc", "PersonStateIdentification")),
    IdentifierKind.DRIVERS_LICENSE: (True, q("j", "DriverLicenseIdentification")),
    IdentifierKind.FBI_NUMBER: (True, q("j", "PersonFBIIdentification")),
    IdentifierKind.STATE_ID_NUMBER: (True, q("j", "PersonStateFingerprintIdentification")),
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
    _SUB(_SUB(parent, tag), q("nc", "Date")).text = value.isoformat()


def _datetime(parent: etree._Element, tag: str, value: dt.datetime) -> None:
    _SUB(_SUB(parent, tag), q("nc", "DateTime")).text = datetime_text(value)


def _name(parent: etree._Element, name: PersonName, category: str, where: str) -> None:
    element = _SUB(parent, q("nc", "PersonName"))
    if name.given is not None:
        _leaf(element, q("nc", "PersonGivenName"), name.given, f"{where}.given")
    if name.middle is not None:
        _leaf(element, q("nc", "PersonMiddleName"), name.middle, f"{where}.middle")
    _leaf(element, q("nc", "PersonSurName"), name.surname, f"{where}.surname")
    if name.suffix is not None:
        _SUB(element, q("nc", "PersonNameSuffixText")).text = name.suffix
    _SUB(element, q("nc", "PersonNameCategoryCode")).text = category


def _measure(parent: etree._Element, tag: str, value: int, unit: str) -> None:
    element = _SUB(parent, tag)
    _SUB(element, q("nc", "MeasureIntegerValue")).text = str(value)
    _SUB(element, q("nc", "MeasureUnitText")).text = unit


def _sex(parent: etree._Element, sex: Sex) -> None:
    _SUB(parent, q("ncic", "PersonSexCode")).text = codes.SEX_CODES[sex]
    if sex is Sex.NONBINARY:
        _SUB(parent, q("nc", "PersonSexText")).text = codes.NONBINARY_SEX_TEXT


def _identification(parent: etree._Element, tag: str, ident: PersonIdentifier,
                    sequence: int, where: str) -> None:
    element = _SUB(parent, tag, {q("structures", "sequenceID"): str(sequence)})
    _leaf(element, q("nc", "IdentificationID"), ident.value, f"{where}.value")
    if ident.expires_year is not None:
        expires = _SUB(element, q("nc", "IdentificationExpirationDate"))
        _SUB(expires, q("nc", "YearDate")).text = f"{ident.expires_year:04d}"
    if ident.issuer is not None:
        _SUB(element, q("nc", "IdentificationSourceText")).text = ident.issuer


def _restrained_person(parent: etree._Element, person: RestrainedPerson, where: str) -> None:
    el = _SUB(parent, q("j", "ProtectionOrderRestrictedPerson"))
    if person.birth_date is not None:
        _date(el, q("nc", "PersonBirthDate"), person.birth_date)
    if person.eye_color is not None:
        _SUB(el, q("ncic", "PersonEyeColorCode")).text = codes.EYE_CODES[person.eye_color]
    if person.hair_color is not None:
        _SUB(el, q("ncic", "PersonHairColorCode")).text = codes.HAIR_CODES[person.hair_color]
    if person.height_inches is not None:
        _measure(el, q("nc", "PersonHeightMeasure"), person.height_inches, HEIGHT_UNIT)
    _name(el, person.name, "Legal", f"{where}.name")
    for i, alias in enumerate(person.aliases):
        _name(el, alias, "Alternate", f"{where}.aliases.{i}")
    # nc:PersonPassportIdentification comes before the physical features in nc:PersonType.
    _identifiers_at(el, person, [IdentifierKind.PASSPORT], where)
    for i, mark in enumerate(person.scars_marks_tattoos):
        feature = _SUB(el, q("nc", "PersonPhysicalFeature"))
        _leaf(feature, q("nc", "PhysicalFeatureDescriptionText"), mark,
              f"{where}.scars_marks_tattoos.{i}")
    _SUB(el, q("ncic", "PersonRaceCode")).text = codes.RACE_CODES[person.race]
    _sex(el, person.sex)
    if person.skin_tone is not None:
        _SUB(el, q("ncic", "PersonSkinToneCode")).text = codes.SKIN_CODES[person.skin_tone]
    _identifiers_at(el, person, [IdentifierKind.SSN, IdentifierKind.STATE_ID], where)
    if person.weight_pounds is not None:
        _measure(el, q("nc", "PersonWeightMeasure"), person.weight_pounds, WEIGHT_UNIT)
    _identifiers_at(el, person, [IdentifierKind.DRIVERS_LICENSE, IdentifierKind.FBI_NUMBER,
                                 IdentifierKind.STATE_ID_NUMBER], where)


def _identifiers_at(el: etree._Element, person: RestrainedPerson, kinds: list[IdentifierKind],
                    where: str) -> None:
    """Write the person's identifiers of these kinds, kind by kind, keeping list positions.

    NIEM groups identifiers by element; structures:sequenceID keeps each one's position in
    the canonical list so the reader restores the original order.
    """
    augmentation = None
    for kind in kinds:
        inside, tag = _IDENTIFIER_ELEMENTS[kind]
        for i, ident in enumerate(person.identifiers):
            if ident.kind is not kind:
                continue
            parent = el
            if inside:
                if augmentation is None:
                    augmentation = _SUB(el, q("j", "PersonAugmentation"))
                parent = augmentation
                if kind is IdentifierKind.DRIVERS_LICENSE:
                    parent = _SUB(augmentation, q("j", "DriverLicense"))
            _identification(parent, tag, ident, i + 1, f"{where}.identifiers.{i}")


def _protected_person(parent: etree._Element, person: ProtectedPerson, where: str) -> None:
    association = _SUB(parent, q("j", "ProtectionOrderProtectedPersonAssociation"))
    _SUB(association, q("nc", "Activity"),
         {q("structures", "ref"): ORDER_ELEMENT_ID, q("xsi", "nil"): "true"})
    el = _SUB(association, q("nc", "Person"))
    if person.birth_date is not None:
        _date(el, q("nc", "PersonBirthDate"), person.birth_date)
    _name(el, person.name, "Legal", f"{where}.name")
    _SUB(el, q("ncic", "PersonRaceCode")).text = codes.RACE_CODES[person.race]
    _sex(el, person.sex)
    augmentation = _SUB(el, q("pox-ext", "PersonAugmentation"))
    _SUB(augmentation, q("pox-ext", "PersonMinorIndicator")).text = _bool(person.is_minor)
    link = _SUB(association, q("pox-ext", "ProtectedPersonAssociationAugmentation"))
    _SUB(link, q("pox-ext", "PersonRelationshipCode")).text = person.relationship.value


def _court(parent: etree._Element, order: Order) -> None:
    court = _SUB(parent, q("j", "CourtOrderIssuingCourt"))
    if order.court.county is not None:
        address = _SUB(_SUB(court, q("nc", "OrganizationLocation")), q("nc", "Address"))
        _leaf(address, q("nc", "AddressCountyName"), order.court.county, "court.county")
    augmentation = _SUB(court, q("j", "OrganizationAugmentation"))
    ori = _SUB(augmentation, q("j", "OrganizationORIIdentification"))
    _SUB(ori, q("nc", "IdentificationID")).text = order.court.ori
    _leaf(court, q("j", "CourtName"), order.court.name, "court.name")


def _activity_id(parent: etree._Element, value: str, category: str) -> None:
    ident = _SUB(parent, q("nc", "ActivityIdentification"))
    _SUB(ident, q("nc", "IdentificationID")).text = value
    _SUB(ident, q("nc", "IdentificationCategoryDescriptionText")).text = category


def _order_augmentation(parent: etree._Element, order: Order) -> None:
    aug = _SUB(parent, q("pox-ext", "ProtectionOrderAugmentation"))
    _SUB(aug, q("pox-ext", "ProtectionOrderCategoryCode")).text = order.order_type.value
    if order.expiration_date is not None:
        _date(aug, q("pox-ext", "ProtectionOrderExpirationDate"), order.expiration_date)
    _SUB(aug, q("pox-ext", "FirearmsRelinquishmentOrderedIndicator")).text = _bool(
        order.firearms.relinquishment_ordered)
    _SUB(aug, q("pox-ext", "CourtOrderServedIndicator")).text = _bool(
        order.service.status is ServiceStatus.SERVED)
    if order.service.served_by is not None:
        _leaf(aug, q("pox-ext", "CourtOrderServedByText"), order.service.served_by,
              "service.served_by")
    for i, condition in enumerate(order.conditions):
        if condition.text is None:
            continue
        detail = _SUB(aug, q("pox-ext", "ProtectionOrderCondition"))
        _SUB(detail, q("ncic", "ProtectionOrderConditionCode")).text = condition.code.value
        _leaf(detail, q("j", "ProtectionOrderConditionText"), condition.text,
              f"conditions.{i}.text")
    if order.image is not None:
        attachment = _SUB(aug, q("nc", "Attachment"))
        digest = _SUB(attachment, q("nc", "BinaryHash"))
        _SUB(digest, q("nc", "BinaryHashCode")).text = order.image.sha256
        _SUB(digest, q("nc", "BinaryHashFunctionCode")).text = "SHA-256"
        _SUB(attachment, q("nc", "BinaryFormatText")).text = order.image.media_type
        _leaf(attachment, q("nc", "BinaryURI"), order.image.uri, "image.uri")


def _protection_order(parent: etree._Element, order: Order) -> None:
    po = _SUB(parent, q("j", "ProtectionOrder"), {q("structures", "id"): ORDER_ELEMENT_ID})
    _activity_id(po, order.order_id, ORDER_ID_CATEGORY)
    _activity_id(po, order.case_number, CASE_NUMBER_CATEGORY)
    _date(po, q("nc", "ActivityEffectiveDate"), order.effective_date)
    _court(po, order)
    _datetime(po, q("j", "CourtOrderIssuingDate"), order.issued_at)
    if order.judicial_officer is not None:
        official = _SUB(po, q("j", "CourtOrderIssuingJudicialOfficial"))
        name = _SUB(_SUB(official, q("nc", "RoleOfPerson")), q("nc", "PersonName"))
        _leaf(name, q("nc", "PersonFullName"), order.judicial_officer, "judicial_officer")
    if order.service.served_at is not None:
        _datetime(po, q("j", "CourtOrderServiceDate"), order.service.served_at)
    for i, person in enumerate(order.restrained_persons):
        _restrained_person(po, person, f"restrained_persons.{i}")
    _SUB(po, q("j", "ProtectionOrderBradyIndicator")).text = _bool(order.firearms.brady_indicator)
    if order.miscellaneous is not None:
        _leaf(po, q("j", "ProtectionOrderConditionText"), order.miscellaneous, "miscellaneous")
    for condition in order.conditions:
        _SUB(po, q("ncic", "ProtectionOrderConditionCode")).text = condition.code.value
    _order_augmentation(po, order)


def build_message(order: Order, ctx: RenderContext) -> etree._Element:
    """The message as an lxml tree, not yet validated (`render_niem` validates it)."""
    if ctx.sent_at.utcoffset() is None:
        raise RenderError("render context: sent_at must carry a UTC offset")
    if order.action is not Action.ISSUE and not ctx.doj_record_id:
        raise RenderError(f"action '{order.action.value}' needs the DOJ record id of the entry",
                          (FieldError("doj_record_id", "required after the entry"),))
    root = etree.Element(q("pox", "ProtectionOrderMessage"), nsmap=NSMAP)
    _leaf(root, q("pox", "MessageControlNumber"), ctx.mcn, "mcn")
    _SUB(root, q("pox", "MessageSenderORI")).text = order.court.ori
    _SUB(root, q("pox", "MessageSentDateTime")).text = datetime_text(ctx.sent_at)
    _SUB(root, q("pox", "MessageActionCode")).text = order.action.value
    _SUB(root, q("pox", "OrderVersionNumber")).text = str(order.version)
    if ctx.doj_record_id:
        _leaf(root, q("pox", "DOJRecordID"), ctx.doj_record_id, "doj_record_id")
    _protection_order(root, order)
    for i, person in enumerate(order.protected_persons):
        _protected_person(root, person, f"protected_persons.{i}")
    return root


def render_niem(order: Order, ctx: RenderContext) -> Rendered:
    """The order as a validated NIEM 5.2 message; `RenderError` if it cannot be one."""
    root = build_message(order, ctx)
    errors = message_schema().errors(root)
    if errors:
        raise RenderError(f"NIEM message for {order.version_key} does not validate: "
                          + "; ".join(str(e) for e in errors[:5]), tuple(errors))
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Rendered(body=body, content_type=CONTENT_TYPE)
