"""NIEM 5.2 protection-order message from outside -> canonical order.

A court whose case management system already speaks NIEM sends these. The bytes go through
`engine.safexml.parse_untrusted_xml` (no DOCTYPE, no entities, no network, size and depth
caps), then the subset schema, then the canonical model and its cross-field checks:

- bytes that are not an XML protection-order message -> `DecodeError`;
- a message whose content breaks the schema or the order rules -> `OrderInvalid`, each
  problem with the element path where it sits (and the canonical field it feeds).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from lxml import etree

from engine.canonical import order_from_dict
from engine.errors import DecodeError, FieldError, OrderInvalid
from engine.model import Action, Order, Sex
from engine.niem import codes
from engine.niem.namespaces import IEPD_VERSION, NS, q
from engine.niem.render import (
    CASE_NUMBER_CATEGORY,
    HEIGHT_UNIT,
    ORDER_ID_CATEGORY,
    WEIGHT_UNIT,
)
from engine.niem.schema import message_schema
from engine.safexml import parse_untrusted_xml, require_utf8

__all__ = ["read_niem"]

_SEX = codes.reverse(codes.SEX_CODES)
_RACE = codes.reverse(codes.RACE_CODES)
_EYE = codes.reverse(codes.EYE_CODES)
_ETHNICITY = codes.reverse(codes.ETHNICITY_CODES)
_HAIR = codes.reverse(codes.HAIR_CODES)
_SKIN = codes.reverse(codes.SKIN_CODES)

# Identifier element -> canonical identifier kind.
_IDENTIFIER_KINDS = {
    q("nc", "PersonPassportIdentification"): "passport",
    q("nc", "PersonSSNIdentification"): "ssn",
    q("nc", "PersonStateIdentification"): "state_id",
    q("j", "DriverLicenseIdentification"): "drivers_license",
    q("j", "PersonFBIIdentification"): "fbi_number",
    q("j", "PersonStateFingerprintIdentification"): "cii",
}


class _Problems(Exception):
    """Content problems found while reading; turned into one `OrderInvalid`."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors


class _Reader:
    """Walks a schema-valid message, noting which element fed which canonical field."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.tree = root.getroottree()
        self.where: dict[str, str] = {}
        self.problems: list[FieldError] = []

    # -- small helpers -------------------------------------------------------------------
    def path(self, element: etree._Element) -> str:
        path: str = self.tree.getpath(element)
        return path

    def note(self, field: str, element: etree._Element) -> None:
        self.where[field] = self.path(element)

    def problem(self, element: etree._Element, reason: str) -> None:
        self.problems.append(FieldError(self.path(element), reason))

    def text(self, parent: etree._Element, tag: str, field: str) -> str | None:
        element = parent.find(tag)
        if element is None:
            return None
        self.note(field, element)
        return element.text or ""

    def code(self, parent: etree._Element, tag: str, field: str,
             table: dict[str, Any]) -> Any | None:
        value = self.text(parent, tag, field)
        if value is None:
            return None
        word = table.get(value.strip())
        if word is None:  # the schema's list may be wider than the canonical words
            self.problem(parent.find(tag), "is a code this contract does not read "
                                           f"(known: {', '.join(sorted(table))})")
        return word

    def boolean(self, parent: etree._Element, tag: str, field: str) -> bool | None:
        value = self.text(parent, tag, field)
        return None if value is None else value.strip() in ("true", "1")

    def _when(self, parent: etree._Element, tag: str, field: str, representation: str,
              parse: Callable[[str], Any], kind: str) -> Any | None:
        holder = parent.find(tag)
        if holder is None:
            return None
        self.note(field, holder)
        element = holder[0]  # the schema admits exactly one nc:DateRepresentation
        if element.tag != q("nc", representation):
            self.problem(element, f"must be nc:{representation}")
            return None
        try:
            return parse((element.text or "").strip())
        except ValueError:
            self.problem(element, f"is not a {kind} the engine can read")
            return None

    def date(self, parent: etree._Element, tag: str, field: str) -> dt.date | None:
        return self._when(parent, tag, field, "Date", dt.date.fromisoformat, "date")

    def datetime(self, parent: etree._Element, tag: str, field: str) -> dt.datetime | None:
        return self._when(parent, tag, field, "DateTime", dt.datetime.fromisoformat,
                          "date and time")

    def measure(self, parent: etree._Element, tag: str, field: str, unit: str) -> int | None:
        element = parent.find(tag)
        if element is None:
            return None
        self.note(field, element)
        value_el = element.find(q("nc", "MeasureIntegerValue"))
        unit_el = element.find(q("nc", "MeasureUnitText"))
        if unit_el is None or (unit_el.text or "").strip() != unit:
            self.problem(element, f"unit must be nc:MeasureUnitText '{unit}'")
            return None
        return int(value_el.text.strip())

    # -- the order -----------------------------------------------------------------------
    def name(self, element: etree._Element, field: str) -> dict[str, Any]:
        self.note(field, element)
        out: dict[str, Any] = {}
        for key, tag in (("given", "PersonGivenName"), ("middle", "PersonMiddleName"),
                         ("surname", "PersonSurName"), ("suffix", "PersonNameSuffixText")):
            value = self.text(element, q("nc", tag), f"{field}.{key}")
            if value is not None:
                out[key] = value
        if "surname" not in out:
            self.problem(element, "needs nc:PersonSurName")
        return out

    def names(self, person: etree._Element, field: str
              ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        legal: list[etree._Element] = []
        alternate: list[etree._Element] = []
        for element in person.findall(q("nc", "PersonName")):
            category = element.findtext(q("nc", "PersonNameCategoryCode"), "Legal").strip()
            (alternate if category == "Alternate" else legal).append(element)
        if len(legal) != 1:
            self.problem(person, "needs exactly one nc:PersonName that is not 'Alternate'")
            return {}, []
        aliases = [self.name(e, f"{field}.aliases.{i}") for i, e in enumerate(alternate)]
        return self.name(legal[0], f"{field}.name"), aliases

    def sex(self, person: etree._Element, field: str) -> Sex | None:
        """ncic:PersonSexCode, refined only by the one nc:PersonSexText the contract defines.

        Any other nc:PersonSexText is refused: dropping it would lose what the court wrote.
        """
        for tag in (q("ncic", "PersonSexCode"), q("nc", "PersonSexText")):
            repeated = person.findall(tag)[1:]  # NIEM admits two sex elements, of any kind
            for element in repeated:
                self.problem(element, "a person has one sex in this contract: a second "
                                      "is refused, not dropped")
        sex = self.code(person, q("ncic", "PersonSexCode"), field, _SEX)
        element = person.find(q("nc", "PersonSexText"))
        if element is None:
            return sex
        if (element.text or "").strip().lower() != codes.NONBINARY_SEX_TEXT:
            self.problem(element, f"the only nc:PersonSexText this contract reads is "
                                  f"'{codes.NONBINARY_SEX_TEXT}' (beside ncic:PersonSexCode "
                                  f"'{codes.SEX_CODES[Sex.NONBINARY]}')")
            return sex
        if sex is not Sex.UNKNOWN:
            self.problem(element, f"'{codes.NONBINARY_SEX_TEXT}' goes with ncic:PersonSexCode "
                                  f"'{codes.SEX_CODES[Sex.NONBINARY]}' only")
            return sex
        self.note(field, element)
        return Sex.NONBINARY

    def identifiers(self, person: etree._Element, field: str) -> list[dict[str, Any]]:
        """The person's identifiers, kind by kind, each kind in structures:sequenceID order.

        sequenceID orders same-named siblings of one parent (for a driver's license, the
        j:DriverLicense it sits in); siblings without one follow, in document order. NIEM
        does not carry the order across kinds (docs/niem-contract.md).
        """
        by_kind: dict[str, list[tuple[tuple[int, bool, int, int], dict[str, Any],
                                      etree._Element]]] = {}
        seen: set[tuple[etree._Element, str, int]] = set()
        document = {element: i for i, element in enumerate(person.iter())}
        for position, element in enumerate(person.iter(*_IDENTIFIER_KINDS)):
            ident = self.identifier(element)
            unit = element
            parent = element.getparent()
            if parent is not None and parent.tag == q("j", "DriverLicense"):
                unit = parent
            key = self.sequence(unit, document, seen)
            by_kind.setdefault(ident["kind"], []).append(((*key, position), ident, element))
        found = [item for kind in _IDENTIFIER_KINDS.values()
                 for item in sorted(by_kind.get(kind, []), key=lambda item: item[0])]
        for i, (_, _, element) in enumerate(found):
            self.note(f"{field}.identifiers.{i}", element)
        return [ident for _, ident, _ in found]

    def sequence(self, unit: etree._Element, document: dict[etree._Element, int],
                 seen: set[tuple[etree._Element, str, int]]) -> tuple[int, bool, int]:
        """Sort key of `unit`: its parent's place in the document, then its sequenceID;
        siblings without one follow those with one, in document order (the caller adds
        the position), however large the numbers.

        A sequenceID repeated among same-named siblings is refused.
        """
        parent = unit.getparent()
        assert parent is not None, "an identifier sits inside its person"
        sequence = unit.get(q("structures", "sequenceID"))
        if not sequence:
            return document[parent], True, 0
        number = int(sequence)
        sibling = (parent, unit.tag, number)
        if sibling in seen:
            self.problem(unit, f"structures:sequenceID {number} repeats a sibling's")
        seen.add(sibling)
        return document[parent], False, number

    def identifier(self, element: etree._Element) -> dict[str, Any]:
        ident: dict[str, Any] = {"kind": _IDENTIFIER_KINDS[element.tag],
                                 "value": element.findtext(q("nc", "IdentificationID"), "")}
        issuer = element.findtext(q("nc", "IdentificationSourceText"))
        if issuer is not None:
            ident["issuer"] = issuer.strip()
        expires = element.find(q("nc", "IdentificationExpirationDate"))
        if expires is not None:
            year = expires[0]
            if year.tag != q("nc", "YearDate"):
                self.problem(year, "must be nc:YearDate")
            else:
                try:
                    ident["expires_year"] = int((year.text or "").strip())
                except ValueError:  # a gYear with a time zone or a sign
                    self.problem(year, "must be a plain four-digit year")
        return ident

    def restrained_person(self, element: etree._Element, field: str) -> dict[str, Any]:
        self.note(field, element)
        name, aliases = self.names(element, field)
        person: dict[str, Any] = {"name": name, "aliases": aliases}
        person["sex"] = self.sex(element, f"{field}.sex")
        person["race"] = self.code(element, q("ncic", "PersonRaceCode"), f"{field}.race", _RACE)
        optional = {
            "birth_date": self.date(element, q("nc", "PersonBirthDate"), f"{field}.birth_date"),
            "height_inches": self.measure(element, q("nc", "PersonHeightMeasure"),
                                          f"{field}.height_inches", HEIGHT_UNIT),
            "weight_pounds": self.measure(element, q("nc", "PersonWeightMeasure"),
                                          f"{field}.weight_pounds", WEIGHT_UNIT),
            "ethnicity": self.code(element, q("ncic", "PersonEthnicityCode"),
                                   f"{field}.ethnicity", _ETHNICITY),
            "eye_color": self.code(element, q("ncic", "PersonEyeColorCode"),
                                   f"{field}.eye_color", _EYE),
            "hair_color": self.code(element, q("ncic", "PersonHairColorCode"),
                                    f"{field}.hair_color", _HAIR),
            "skin_tone": self.code(element, q("ncic", "PersonSkinToneCode"),
                                   f"{field}.skin_tone", _SKIN),
        }
        person.update({k: v for k, v in optional.items() if v is not None})
        marks: list[Any] = []
        for i, feature in enumerate(element.findall(q("nc", "PersonPhysicalFeature"))):
            at = f"{field}.scars_marks_tattoos.{i}"
            code = self.text(feature, q("nc", "PhysicalFeatureCategoryText"), f"{at}.code")
            if code is None:  # described in words only: no NCIC SMT code
                marks.append(self.text(feature, q("nc", "PhysicalFeatureDescriptionText"), at))
                continue
            mark = {"code": code}
            description = self.text(feature, q("nc", "PhysicalFeatureDescriptionText"),
                                    f"{at}.description")
            if description is not None:
                mark["description"] = description
            marks.append(mark)
        person["scars_marks_tattoos"] = marks
        person["identifiers"] = self.identifiers(element, field)
        return person

    def protected_person(self, association: etree._Element, field: str) -> dict[str, Any]:
        self.note(field, association)
        activity = association.find(q("nc", "Activity"))
        order_id = self.root.find(q("j", "ProtectionOrder")).get(q("structures", "id"))
        if activity.get(q("structures", "ref")) is None or \
                activity.get(q("structures", "ref")) != order_id:
            self.problem(activity, "must refer (structures:ref) to the j:ProtectionOrder")
        element = association.find(q("nc", "Person"))
        name, aliases = self.names(element, field)
        if aliases:
            self.problem(element, "a protected person has no alternate names in this contract")
        person: dict[str, Any] = {"name": name}
        for key, value in (
            ("sex", self.sex(element, f"{field}.sex")),
            ("race", self.code(element, q("ncic", "PersonRaceCode"), f"{field}.race", _RACE)),
            ("birth_date", self.date(element, q("nc", "PersonBirthDate"),
                                     f"{field}.birth_date")),
            ("relationship", self.relationship(association, f"{field}.relationship")),
        ):
            if value is not None:
                person[key] = value.strip() if isinstance(value, str) else value
        augmentation = element.find(q("pox-ext", "PersonAugmentation"))
        if augmentation is not None:
            person["is_minor"] = self.boolean(augmentation, q("pox-ext", "PersonMinorIndicator"),
                                              f"{field}.is_minor")
        return person

    def relationship(self, association: etree._Element, field: str) -> str | None:
        augmentation = association.find(q("pox-ext", "ProtectedPersonAssociationAugmentation"))
        if augmentation is None:
            return None
        return self.text(augmentation, q("pox-ext", "PersonRelationshipCode"), field)

    def court(self, po: etree._Element) -> dict[str, Any]:
        court_el = po.find(q("j", "CourtOrderIssuingCourt"))
        self.note("court", court_el)
        ori = court_el.find(f"{q('j', 'OrganizationAugmentation')}/"
                            f"{q('j', 'OrganizationORIIdentification')}")
        if ori is None:  # the augmentation point is optional in NIEM; the ORI is not here
            self.problem(court_el, "needs j:OrganizationAugmentation/"
                                   "j:OrganizationORIIdentification (the court's ORI)")
            raise _Problems(self.problems)
        court: dict[str, Any] = {
            "ori": (self.text(ori, q("nc", "IdentificationID"), "court.ori") or "").strip(),
            "name": self.text(court_el, q("j", "CourtName"), "court.name"),
        }
        address = court_el.find(f"{q('nc', 'OrganizationLocation')}/{q('nc', 'Address')}")
        if address is not None:
            county = self.text(address, q("nc", "AddressCountyName"), "court.county")
            if county is None:
                self.problem(address, "needs nc:AddressCountyName")
            else:
                court["county"] = county
        return court

    def identities(self, po: etree._Element) -> dict[str, str]:
        out: dict[str, str] = {}
        for element in po.findall(q("nc", "ActivityIdentification")):
            category = (element.findtext(q("nc", "IdentificationCategoryDescriptionText"))
                        or "").strip()
            key = {ORDER_ID_CATEGORY: "order_id", CASE_NUMBER_CATEGORY: "case_number"}.get(
                category)
            if key is None or key in out:
                self.problem(element, f"needs nc:IdentificationCategoryDescriptionText "
                                      f"'{ORDER_ID_CATEGORY}' or '{CASE_NUMBER_CATEGORY}', "
                                      f"each once")
                continue
            out[key] = (self.text(element, q("nc", "IdentificationID"), key) or "").strip()
        return out

    def conditions(self, po: etree._Element, augmentation: etree._Element
                   ) -> list[dict[str, Any]]:
        """Each listed code, with the words of its one pox-ext:ProtectionOrderCondition.

        A code is listed once (the canonical order refuses repeats), so it has one set of
        words: a second pox-ext:ProtectionOrderCondition for the same code is refused, never
        allowed to overwrite the first.
        """
        conditions: list[dict[str, Any]] = []
        for i, element in enumerate(po.findall(q("ncic", "ProtectionOrderConditionCode"))):
            self.note(f"conditions.{i}", element)
            conditions.append({"code": (element.text or "").strip()})
        by_code = {c["code"]: (i, c) for i, c in enumerate(conditions)}
        explained: set[str] = set()
        for detail in augmentation.findall(q("pox-ext", "ProtectionOrderCondition")):
            code = (detail.findtext(q("ncic", "ProtectionOrderConditionCode")) or "").strip()
            if code not in by_code:
                self.problem(detail, "names a condition code the order does not list")
                continue
            if code in explained:
                self.problem(detail, f"a second pox-ext:ProtectionOrderCondition for code "
                                     f"'{code}': a condition has one set of words")
                continue
            explained.add(code)
            i, condition = by_code[code]
            condition["text"] = self.text(detail, q("j", "ProtectionOrderConditionText"),
                                          f"conditions.{i}.text")
        return conditions

    def repeated_augmentations(self) -> None:
        """NIEM lets an augmentation point repeat; the reader reads each augmentation once,
        so a second one of the same name would be ignored: it is refused instead."""
        for element in self.root.iter():
            if not isinstance(element.tag, str) or \
                    not etree.QName(element).localname.endswith("Augmentation"):
                continue
            previous = element.getprevious()
            while previous is not None and previous.tag != element.tag:
                previous = previous.getprevious()
            if previous is not None:
                self.problem(element, "appears twice here; this contract reads it once")

    def order(self) -> dict[str, Any]:
        root = self.root
        self.repeated_augmentations()
        po = root.find(q("j", "ProtectionOrder"))
        augmentation = po.find(q("pox-ext", "ProtectionOrderAugmentation"))
        if augmentation is None:  # the schema admits only ours at this point; be sure
            self.problem(po, "needs pox-ext:ProtectionOrderAugmentation")
            raise _Problems(self.problems)
        order: dict[str, Any] = {
            "action": (self.text(root, q("pox", "MessageActionCode"), "action") or "").strip(),
            "version": int(self.text(root, q("pox", "OrderVersionNumber"), "version") or 0),
            "court": self.court(po),
            **self.identities(po),
            "order_type": (self.text(augmentation, q("pox-ext", "ProtectionOrderCategoryCode"),
                                     "order_type") or "").strip(),
            "issued_at": self.datetime(po, q("j", "CourtOrderIssuingDate"), "issued_at"),
            "effective_date": self.date(po, q("nc", "ActivityEffectiveDate"), "effective_date"),
            "restrained_persons": [
                self.restrained_person(e, f"restrained_persons.{i}")
                for i, e in enumerate(po.findall(q("j", "ProtectionOrderRestrictedPerson")))],
            "protected_persons": [
                self.protected_person(e, f"protected_persons.{i}")
                for i, e in enumerate(
                    root.findall(q("j", "ProtectionOrderProtectedPersonAssociation")))],
            "conditions": self.conditions(po, augmentation),
            "firearms": {
                "brady_indicator": self.boolean(po, q("j", "ProtectionOrderBradyIndicator"),
                                                "firearms.brady_indicator"),
                "relinquishment_ordered": self.boolean(
                    augmentation, q("pox-ext", "FirearmsRelinquishmentOrderedIndicator"),
                    "firearms.relinquishment_ordered"),
            },
        }
        officer = po.find(f"{q('j', 'CourtOrderIssuingJudicialOfficial')}/"
                          f"{q('nc', 'RoleOfPerson')}/{q('nc', 'PersonName')}")
        if officer is not None:
            full_name = self.text(officer, q("nc", "PersonFullName"), "judicial_officer")
            if full_name is None:
                self.problem(officer, "needs nc:PersonFullName")
            else:
                order["judicial_officer"] = full_name
        expiration = self.date(augmentation, q("pox-ext", "ProtectionOrderExpirationDate"),
                               "expiration_date")
        if expiration is not None:
            order["expiration_date"] = expiration
        miscellaneous = self.text(po, q("j", "ProtectionOrderConditionText"), "miscellaneous")
        if miscellaneous is not None:
            order["miscellaneous"] = miscellaneous
        order["service"] = self.service(po, augmentation)
        image = self.image(augmentation)
        if image is not None:
            order["image"] = image
        self.wrapper(order)
        if self.problems:
            raise _Problems(self.problems)
        return order

    def wrapper(self, order: dict[str, Any]) -> None:
        """The transmission facts must agree with the order they carry.

        The sender is the issuing court (its ORI is the record's owner in CLETS), and a DOJ
        record id is there exactly when the action follows the entry (`Action.ISSUE` makes
        the record; every later action names it).
        """
        version = self.root.find(q("pox", "IEPDVersionID"))
        if (version.text or "").strip() != IEPD_VERSION:
            self.problem(version, f"this reader implements IEPD {IEPD_VERSION} only")
        previous = self.root.find(q("pox", "PreviousMessageControlNumber"))
        if previous is not None and order["action"] == Action.ISSUE.value:
            self.problem(previous, "an 'issue' is the first message of an order: it follows "
                                   "none")
        sender = self.root.find(q("pox", "MessageSenderORI"))
        if (sender.text or "").strip() != order["court"]["ori"]:
            self.problem(sender, "must be the ORI of the issuing court "
                                 "(j:CourtOrderIssuingCourt/.../j:OrganizationORIIdentification)")
        record_id = self.root.find(q("pox", "DOJRecordID"))
        action = self.root.find(q("pox", "MessageActionCode"))
        if order["action"] == Action.ISSUE.value:
            if record_id is not None:
                self.problem(record_id, "an 'issue' creates the DOJ record: it has no record "
                                        "id yet")
        elif record_id is None:
            self.problem(action, f"action '{order['action']}' needs pox:DOJRecordID (the "
                                 f"record it acts on)")

    def service(self, po: etree._Element, augmentation: etree._Element) -> dict[str, Any]:
        served = self.boolean(augmentation, q("pox-ext", "CourtOrderServedIndicator"),
                              "service.status")
        service: dict[str, Any] = {"status": "served" if served else "not_served"}
        served_at = self.datetime(po, q("j", "CourtOrderServiceDate"), "service.served_at")
        if served_at is not None:
            service["served_at"] = served_at
        served_by = self.text(augmentation, q("pox-ext", "CourtOrderServedByText"),
                              "service.served_by")
        if served_by is not None:
            service["served_by"] = served_by
        return service

    def image(self, augmentation: etree._Element) -> dict[str, Any] | None:
        attachment = augmentation.find(q("nc", "Attachment"))
        if attachment is None:
            return None
        self.note("image", attachment)
        return {
            "uri": (self.text(attachment, q("nc", "BinaryURI"), "image.uri") or "").strip(),
            "sha256": (self.text(attachment.find(q("nc", "BinaryHash")), q("nc", "BinaryHashCode"),
                                 "image.sha256") or "").strip(),
            "media_type": (self.text(attachment, q("nc", "BinaryFormatText"), "image.media_type")
                           or "").strip(),
        }

    def element_path(self, field: str) -> str:
        """The element that fed a canonical field (or its nearest noted ancestor field)."""
        parts = field.split(".")
        while parts:
            found = self.where.get(".".join(parts))
            if found is not None:
                return found
            parts.pop()
        return self.path(self.root)


def read_niem(data: bytes) -> Order:
    """The canonical order a NIEM protection-order message carries.

    `DecodeError` when the bytes are not such a message; `OrderInvalid` (element paths)
    when its content breaks the schema or the order's rules.
    """
    require_utf8(data)
    root = parse_untrusted_xml(data)
    if root.tag != q("pox", "ProtectionOrderMessage"):
        raise DecodeError(f"not a protection-order message: the root element must be "
                          f"pox:ProtectionOrderMessage in {NS['pox']}")
    schema_problems = message_schema().errors(root)
    if schema_problems:
        raise OrderInvalid(schema_problems)
    reader = _Reader(root)
    nil = [reader.path(e) for e in root.iter() if e.get(q("xsi", "nil")) in ("true", "1")
           and e.tag != q("nc", "Activity")]
    if nil:  # NIEM allows xsi:nil on any of its elements; this contract only on references
        raise OrderInvalid([FieldError(path, "xsi:nil is allowed only on nc:Activity references")
                            for path in nil])
    try:
        data_dict = reader.order()
    except _Problems as exc:
        raise OrderInvalid(exc.errors) from None
    try:
        return order_from_dict(data_dict)
    except OrderInvalid as exc:
        raise OrderInvalid([FieldError(reader.element_path(e.path), f"{e.path}: {e.reason}")
                            for e in exc.errors]) from None
