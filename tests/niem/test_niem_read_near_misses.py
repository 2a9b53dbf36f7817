"""The reader's checks compare for equality, and keep going after the first problem.

Each check is tried with a value that sorts before the expected one and one that sorts
after it (a check written as `<` or `>` instead of `!=` passes one of the two), and each
loop that refuses an element is given two bad elements: both are reported, so a court
fixes its export once, not once per element.
"""

from __future__ import annotations

import copy

import pytest
from lxml import etree

from engine.errors import OrderInvalid
from engine.niem import read_niem
from engine.niem.namespaces import q
from tests.niem.test_niem_read_no_silent_loss import (
    GOLDEN,
    ISSUE,
    MODIFY,
    ROOT,
    changed,
    one,
    refusal_paths,
)

PO = f"{ROOT}/j:ProtectionOrder"
PERSON = f"{PO}/j:ProtectionOrderRestrictedPerson"


def set_text(path: str, value: str):  # type: ignore[no-untyped-def]
    return lambda root: setattr(one(root, path), "text", value)


class TestWrapper:
    @pytest.mark.parametrize("version", ["1.0.0", "9.0.0"])
    def test_another_iepd_version_is_refused_older_or_newer(self, version: str) -> None:
        assert f"{ROOT}/pox:IEPDVersionID" in refusal_paths(
            changed(ISSUE, set_text("pox:IEPDVersionID", version)))

    @pytest.mark.parametrize("ori", ["CA0190000", "CA0199990"])
    def test_a_sender_that_is_not_the_court_is_refused_whichever_way_it_sorts(
            self, ori: str) -> None:
        assert one(etree.fromstring(ISSUE), "pox:MessageSenderORI").text == "CA019015J"
        assert f"{ROOT}/pox:MessageSenderORI" in refusal_paths(
            changed(ISSUE, set_text("pox:MessageSenderORI", ori)))

    @pytest.mark.parametrize("golden", ["cr_cpo_cancel_v2", "dv_tro_extend_v3",
                                        "ch_oah_modify", "dv_tro_terminate_v4",
                                        "dv_tro_serve_v2"])
    def test_every_action_after_the_entry_may_name_the_message_it_follows(
            self, golden: str) -> None:
        """Only an issue refuses a previous MCN (cancel and extend sort before 'issue')."""
        data = (GOLDEN / f"{golden}.xml").read_bytes()
        assert one(etree.fromstring(data), "pox:PreviousMessageControlNumber").text
        assert read_niem(data).action.value == golden.split("_")[2]


class TestReferences:
    @pytest.mark.parametrize("ref", ["a-order", "zz-order"])
    def test_an_association_referring_elsewhere_is_refused_whichever_way_it_sorts(
            self, ref: str) -> None:
        def elsewhere(root: etree._Element) -> None:
            activity = one(root, "j:ProtectionOrderProtectedPersonAssociation[1]/nc:Activity")
            assert activity.get(q("structures", "ref")) == "protection-order"
            activity.set(q("structures", "ref"), ref)

        problems = refusal_paths(changed(ISSUE, elsewhere))
        assert any(p.endswith("nc:Activity") and "structures:ref" in r
                   for p, r in problems.items())


class TestMeasures:
    @pytest.mark.parametrize("unit", ["cm", "meters"])
    def test_a_height_in_another_unit_is_refused_whichever_way_it_sorts(self, unit: str
                                                                        ) -> None:
        problems = refusal_paths(changed(ISSUE, set_text(
            "j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/nc:PersonHeightMeasure/"
            "nc:MeasureUnitText", unit)))
        assert problems[f"{PERSON}/nc:PersonHeightMeasure"] == (
            "unit must be nc:MeasureUnitText 'inches'")


class TestNames:
    def _legal_names(self, count: int):  # type: ignore[no-untyped-def]
        def change(root: etree._Element) -> None:
            name = one(root, "j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/"
                             "nc:PersonName")
            if count == 0:
                name.find(q("nc", "PersonNameCategoryCode")).text = "Alternate"
            for _ in range(count - 1):
                name.addnext(copy.deepcopy(name))
        return change

    @pytest.mark.parametrize("count", [0, 2])
    def test_a_person_needs_exactly_one_legal_name(self, count: int) -> None:
        problems = refusal_paths(changed(ISSUE, self._legal_names(count)))
        assert problems[PERSON] == "needs exactly one nc:PersonName that is not 'Alternate'"


class TestSexText:
    def _sex(self, code: str, text: str):  # type: ignore[no-untyped-def]
        def change(root: etree._Element) -> None:
            element = one(root, "j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/"
                                "ncic:PersonSexCode")
            element.text = code
            words = etree.Element(q("nc", "PersonSexText"))
            words.text = text
            element.addnext(words)
        return change

    @pytest.mark.parametrize("text", ["intersex", "other"])
    def test_beside_code_u_only_nonbinary_is_read(self, text: str) -> None:
        """Code U with a sex text other than 'nonbinary' (before or after it) is refused."""
        problems = refusal_paths(changed(ISSUE, self._sex("U", text)))
        assert list(problems) == [f"{PERSON}/nc:PersonSexText"]
        assert "the only nc:PersonSexText" in problems[f"{PERSON}/nc:PersonSexText"]

    def test_nonbinary_beside_code_u_is_read(self) -> None:
        from engine.model import Sex

        order = read_niem(changed(ISSUE, self._sex("U", " Nonbinary ")))
        assert order.restrained_persons[0].sex is Sex.NONBINARY


class TestDates:
    def test_a_date_where_a_date_and_time_belongs_is_refused(self) -> None:
        """nc:Date in j:CourtOrderIssuingDate (valid NIEM): refused, 'must be nc:DateTime'."""
        def date_instead(root: etree._Element) -> None:
            holder = one(root, "j:ProtectionOrder/j:CourtOrderIssuingDate")
            holder[0].tag = q("nc", "Date")
            holder[0].text = "2026-11-20"

        problems = refusal_paths(changed(ISSUE, date_instead))
        assert problems[f"{PO}/j:CourtOrderIssuingDate/nc:Date"] == "must be nc:DateTime"

    def test_a_date_with_a_time_zone_is_refused_as_unreadable(self) -> None:
        """xs:date admits '2026-11-20Z'; the canonical order has no zoned dates: refused."""
        problems = refusal_paths(changed(ISSUE, set_text(
            "j:ProtectionOrder/nc:ActivityEffectiveDate/nc:Date", "2026-11-20Z")))
        assert problems[f"{PO}/nc:ActivityEffectiveDate/nc:Date"] == (
            "is not a date the engine can read")

    LICENCE_EXPIRY = ("j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/"
                      "j:PersonAugmentation/j:DriverLicense/j:DriverLicenseIdentification/"
                      "nc:IdentificationExpirationDate")

    def test_a_licence_expiry_that_is_not_a_year_is_refused(self) -> None:
        def full_date(root: etree._Element) -> None:
            year = one(root, f"{self.LICENCE_EXPIRY}/nc:YearDate")
            year.tag = q("nc", "Date")
            year.text = "2028-06-30"

        problems = refusal_paths(changed(ISSUE, full_date))
        assert [r for p, r in problems.items() if p.endswith("nc:Date")] == [
            "must be nc:YearDate"]

    def test_a_licence_expiry_year_with_a_time_zone_is_refused(self) -> None:
        problems = refusal_paths(changed(ISSUE, set_text(f"{self.LICENCE_EXPIRY}/nc:YearDate",
                                                         "2028Z")))
        assert [r for p, r in problems.items() if p.endswith("nc:YearDate")] == [
            "must be a plain four-digit year"]


class TestNil:
    def test_xsi_nil_on_a_justice_element_is_refused(self) -> None:
        """j: elements sort before nc:Activity; nil on one is refused as on any other."""
        def nil_brady(root: etree._Element) -> None:
            brady = one(root, "j:ProtectionOrder/j:ProtectionOrderBradyIndicator")
            brady.text = None
            brady.set(q("xsi", "nil"), "true")

        with pytest.raises(OrderInvalid) as exc:
            read_niem(changed(ISSUE, nil_brady))
        assert [(e.path, e.reason) for e in exc.value.errors] == [
            (f"{PO}/j:ProtectionOrderBradyIndicator",
             "xsi:nil is allowed only on nc:Activity references")]


class TestEveryProblemIsReported:
    def test_two_unknown_identification_categories_are_both_reported(self) -> None:
        def unlabel(root: etree._Element) -> None:
            for element in root.xpath("j:ProtectionOrder/nc:ActivityIdentification/"
                                      "nc:IdentificationCategoryDescriptionText",
                                      namespaces={"j": root.nsmap["j"],
                                                  "nc": root.nsmap["nc"]}):
                element.text = "Something"

        problems = refusal_paths(changed(ISSUE, unlabel))
        assert {f"{PO}/nc:ActivityIdentification[1]",
                f"{PO}/nc:ActivityIdentification[2]"} <= set(problems)

    def test_two_condition_words_for_unlisted_codes_are_both_reported(self) -> None:
        def unlisted(root: etree._Element) -> None:
            detail = one(root, "//pox-ext:ProtectionOrderCondition")
            detail.find(q("ncic", "ProtectionOrderConditionCode")).text = "02"
            second = copy.deepcopy(detail)
            second.find(q("ncic", "ProtectionOrderConditionCode")).text = "03"
            detail.addnext(second)

        problems = refusal_paths(changed(MODIFY, unlisted))
        assert len([p for p, r in problems.items()
                    if r == "names a condition code the order does not list"]) == 2

    def test_two_repeated_condition_words_are_both_reported(self) -> None:
        def thrice(root: etree._Element) -> None:
            detail = one(root, "//pox-ext:ProtectionOrderCondition")
            detail.addnext(copy.deepcopy(detail))
            detail.addnext(copy.deepcopy(detail))

        problems = refusal_paths(changed(MODIFY, thrice))
        assert len([r for r in problems.values() if r.startswith("a second")]) == 2


def test_xsi_nil_on_a_core_element_after_nc_activity_is_refused() -> None:
    """nc:PersonMiddleName sorts after nc:Activity; nil on it is refused, not read as empty."""
    def nil_middle(root: etree._Element) -> None:
        name = one(root, "j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/nc:PersonName")
        middle = name.find(q("nc", "PersonMiddleName"))
        if middle is None:
            middle = etree.Element(q("nc", "PersonMiddleName"))
            name.find(q("nc", "PersonGivenName")).addnext(middle)
        middle.text = None
        middle.set(q("xsi", "nil"), "true")

    with pytest.raises(OrderInvalid) as exc:
        read_niem(changed(ISSUE, nil_middle))
    assert [(e.path.rsplit("/", 1)[-1], e.reason) for e in exc.value.errors] == [
        ("nc:PersonMiddleName", "xsi:nil is allowed only on nc:Activity references")]


def test_an_identifier_the_order_model_refuses_is_reported_at_its_element() -> None:
    """A 300-character licence number passes the schema (a string) but not the canonical
    order (64 at most): the refusal names the licence's element, not its person."""
    licence = ("j:ProtectionOrder/j:ProtectionOrderRestrictedPerson/j:PersonAugmentation/"
               "j:DriverLicense/j:DriverLicenseIdentification")
    problems = refusal_paths(changed(ISSUE, set_text(f"{licence}/nc:IdentificationID",
                                                     "D" * 300)))
    assert list(problems) == [f"{ROOT}/{licence}"]
    assert problems[f"{ROOT}/{licence}"].startswith("restrained_persons.0.identifiers.0.value:")
