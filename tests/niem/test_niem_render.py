"""Rendering: what goes where in the NIEM document, and how an unsendable order is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from lxml import etree

from engine.canonical import decode_order
from engine.errors import RenderError
from engine.formats import RenderContext
from engine.model import Action, Order, Sex
from engine.niem import read_niem, render_niem
from engine.niem.namespaces import NS
from engine.niem.schema import message_schema

ORDERS = Path(__file__).parents[1] / "fixtures" / "orders"
SENT_AT = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
CTX = RenderContext(mcn="MCN-1", sent_at=SENT_AT, doj_record_id="CA-DOJ-PO-000042")


def context_for(order: Order) -> RenderContext:
    """CTX, without the DOJ record id for an issue (the issue creates the record)."""
    return CTX if order.action is not Action.ISSUE else RenderContext(mcn="MCN-1",
                                                                      sent_at=SENT_AT)


def load(stem: str) -> Order:
    return decode_order((ORDERS / f"{stem}.json").read_bytes())


def xpath(body: bytes, path: str) -> list:
    return etree.fromstring(body).xpath(path, namespaces=NS)


def test_rendered_message_is_utf8_xml_with_the_xml_content_type() -> None:
    """The body declares UTF-8 and the content type is application/xml."""
    rendered = render_niem(load("epo_issue"), context_for(load("epo_issue")))
    assert rendered.content_type == "application/xml"
    assert rendered.body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert rendered.warnings == ()


def test_wrapper_carries_the_transmission_facts() -> None:
    """MCN, sender ORI, sent-at, action, version and DOJ record id sit in the pox wrapper."""
    body = render_niem(load("ch_oah_modify"), context_for(load("ch_oah_modify"))).body
    root = "/pox:ProtectionOrderMessage/pox:"
    assert xpath(body, f"{root}MessageControlNumber/text()") == ["MCN-1"]
    assert xpath(body, f"{root}MessageSenderORI/text()") == ["CA001013J"]
    assert xpath(body, f"{root}MessageSentDateTime/text()") == ["2026-11-23T09:00:00+00:00"]
    assert xpath(body, f"{root}MessageActionCode/text()") == ["modify"]
    assert xpath(body, f"{root}OrderVersionNumber/text()") == ["2"]
    assert xpath(body, f"{root}DOJRecordID/text()") == ["CA-DOJ-PO-000042"]


def test_order_facts_use_real_niem_elements() -> None:
    """Court ORI, Brady, PCO codes and the driver licence sit in their NIEM 5.2 elements."""
    body = render_niem(load("dv_tro_issue"), context_for(load("dv_tro_issue"))).body
    po = "/pox:ProtectionOrderMessage/j:ProtectionOrder"
    ori = (f"{po}/j:CourtOrderIssuingCourt/j:OrganizationAugmentation/"
           "j:OrganizationORIIdentification/nc:IdentificationID/text()")
    assert xpath(body, ori) == ["CA019015J"]
    assert xpath(body, f"{po}/j:ProtectionOrderBradyIndicator/text()") == ["false"]
    assert xpath(body, f"{po}/ncic:ProtectionOrderConditionCode/text()") == [
        "01", "04", "05", "07", "09"]
    licence = (f"{po}/j:ProtectionOrderRestrictedPerson/j:PersonAugmentation/j:DriverLicense/"
               "j:DriverLicenseIdentification")
    assert xpath(body, f"{licence}/nc:IdentificationID/text()") == ["D1234567"]
    assert xpath(body, f"{licence}/nc:IdentificationSourceText/text()") == ["CA"]
    assert xpath(body, f"{licence}/nc:IdentificationExpirationDate/nc:YearDate/text()") == [
        "2028"]
    assert xpath(body, f"{po}/j:ProtectionOrderRestrictedPerson/ncic:PersonEyeColorCode/"
                       "text()") == ["BLU"]


#: One fixture per action after the entry (each follows the entry, so carries its record id).
LATER_ACTIONS = {"modify": "ch_oah_modify", "extend": "dv_tro_extend_v3",
                 "serve": "dv_tro_serve_v2", "terminate": "dv_tro_terminate_v4",
                 "cancel": "cr_cpo_cancel_v2"}


def test_every_action_but_issue_has_a_fixture() -> None:
    assert set(LATER_ACTIONS) == {a.value for a in Action} - {"issue"}
    assert {load(stem).action.value for stem in LATER_ACTIONS.values()} == set(LATER_ACTIONS)


@pytest.mark.parametrize("action", sorted(LATER_ACTIONS))
def test_an_action_after_the_entry_without_the_doj_record_id_is_refused(action: str) -> None:
    """Every action after the entry must carry the DOJ record id; without it: RenderError."""
    ctx = RenderContext(mcn="MCN-1", sent_at=SENT_AT)
    with pytest.raises(RenderError) as exc:
        render_niem(load(LATER_ACTIONS[action]), ctx)
    assert [e.path for e in exc.value.errors] == ["doj_record_id"]


@pytest.mark.parametrize("action", sorted(LATER_ACTIONS))
def test_an_action_after_the_entry_names_the_message_it_follows(action: str) -> None:
    """A modify, extend, serve, terminate or cancel follows a message: its previous MCN and
    the record id are written (only an issue refuses a previous MCN)."""
    ctx = RenderContext(mcn="MCN-2", sent_at=SENT_AT, doj_record_id="R-1", previous_mcn="MCN-1")
    body = render_niem(load(LATER_ACTIONS[action]), ctx).body
    root = "/pox:ProtectionOrderMessage/pox:"
    assert xpath(body, f"{root}PreviousMessageControlNumber/text()") == ["MCN-1"]
    assert xpath(body, f"{root}DOJRecordID/text()") == ["R-1"]
    assert xpath(body, f"{root}MessageActionCode/text()") == [action]


def test_a_sent_at_without_offset_is_refused() -> None:
    """A naive sent-at would be ambiguous on the wire; it is refused."""
    ctx = RenderContext(mcn="MCN-1", sent_at=dt.datetime(2026, 11, 23, 9, 0))
    with pytest.raises(RenderError, match="UTC offset"):
        render_niem(load("epo_issue"), ctx)


def test_a_document_the_schema_refuses_is_never_returned_and_no_value_leaks() -> None:
    """An MCN with a space breaks the wrapper schema: RenderError with the path, not the value."""
    ctx = RenderContext(mcn="Nguyễn Lan", sent_at=SENT_AT)
    with pytest.raises(RenderError) as exc:
        render_niem(load("epo_issue"), ctx)
    assert [e.path for e in exc.value.errors] == [
        "/pox:ProtectionOrderMessage/pox:MessageControlNumber"]
    assert "Nguyễn" not in str(exc.value)
    assert "Nguyễn" not in " ".join(e.reason for e in exc.value.errors)


def test_text_xml_cannot_carry_is_refused_naming_the_field() -> None:
    """A character XML 1.0 forbids (U+FFFE) is a RenderError naming the field, not its text."""
    order = load("ch_oah_modify").model_copy(update={"miscellaneous": "Stay away \ufffe"})
    with pytest.raises(RenderError) as exc:
        render_niem(order, context_for(order))
    assert [e.path for e in exc.value.errors] == ["miscellaneous"]


def test_nonbinary_is_sent_as_ncic_unknown_with_the_sex_text() -> None:
    """NCIC has no nonbinary code: ncic:PersonSexCode U plus nc:PersonSexText, read back exactly."""
    order = load("epo_issue")
    person = order.restrained_persons[0].model_copy(update={"sex": Sex.NONBINARY})
    order = order.model_copy(update={"restrained_persons": (person,)})
    body = render_niem(order, context_for(order)).body
    restrained = "//j:ProtectionOrderRestrictedPerson"
    assert xpath(body, f"{restrained}/ncic:PersonSexCode/text()") == ["U"]
    assert xpath(body, f"{restrained}/nc:PersonSexText/text()") == ["nonbinary"]
    assert read_niem(body).restrained_persons[0].sex is Sex.NONBINARY


def test_an_offset_with_seconds_is_written_as_the_same_instant_in_utc() -> None:
    """xs:dateTime cannot carry an offset with seconds; the instant is kept, written in UTC."""
    odd = dt.timezone(dt.timedelta(hours=-7, seconds=-52))
    issued = dt.datetime(2026, 11, 20, 15, 42, tzinfo=odd)
    order = load("epo_issue").model_copy(update={"issued_at": issued})
    body = render_niem(order, context_for(order)).body
    (text,) = xpath(body, "//j:CourtOrderIssuingDate/nc:DateTime/text()")
    assert text.endswith("+00:00")
    assert dt.datetime.fromisoformat(text) == issued


def test_the_schema_is_compiled_once_per_process() -> None:
    """Every render validates with the same compiled schema object (compiled on first use)."""
    render_niem(load("epo_issue"), context_for(load("epo_issue")))
    assert message_schema() is message_schema()
    assert message_schema().schema is message_schema().schema


def test_the_header_names_recipient_mode_and_previous_message() -> None:
    """RenderContext's recipient, test flag and previous MCN reach the header."""
    from engine.niem.render import test_indicator

    order = load("ch_oah_modify")
    ctx = RenderContext(mcn="MCN-2", sent_at=SENT_AT, doj_record_id="R-1",
                        previous_mcn="MCN-1", test=True, recipient="CA-DOJ-TEST")
    body = render_niem(order, ctx).body
    root = "/pox:ProtectionOrderMessage/pox:"
    assert xpath(body, f"{root}PreviousMessageControlNumber/text()") == ["MCN-1"]
    assert xpath(body, f"{root}MessageRecipientID/text()") == ["CA-DOJ-TEST"]
    assert test_indicator(body) is True
    assert test_indicator(render_niem(order, context_for(order)).body) is False


def test_an_issue_with_a_previous_message_is_refused() -> None:
    """An issue is the first message of an order; a previous MCN on it is refused."""
    with pytest.raises(RenderError) as exc:
        render_niem(load("epo_issue"), RenderContext(mcn="M", sent_at=SENT_AT,
                                                     previous_mcn="M-0"))
    assert [e.path for e in exc.value.errors] == ["previous_mcn"]


def test_the_error_text_names_the_first_five_schema_errors_and_keeps_them_all() -> None:
    """Six schema errors: the text names the first five (a readable line), the error keeps six."""
    order = load("ch_oah_modify")
    broken = order.model_copy(update={  # model_copy skips validation: the schema must refuse
        "court": order.court.model_copy(update={"ori": "x y"}), "version": 0})
    ctx = RenderContext(mcn="a b", sent_at=SENT_AT, doj_record_id="c d", previous_mcn="e f",
                        recipient="g h")
    with pytest.raises(RenderError) as exc:
        render_niem(broken, ctx)
    paths = [e.path for e in exc.value.errors]
    assert len(paths) == 6
    text = str(exc.value)
    assert [path in text for path in paths] == [True] * 5 + [False]


def test_the_test_flag_is_read_from_the_first_4_kib_only() -> None:
    """`test_indicator` reads the header, which comes first: a flag ending at byte 4096 is
    found, one a byte later is not (a body cannot smuggle one in further down)."""
    from engine.niem.render import test_indicator

    flag = b"<pox:MessageTestIndicator>true</pox:MessageTestIndicator>"
    assert test_indicator(flag) is True
    assert test_indicator(b" " * (4096 - len(flag)) + flag) is True
    assert test_indicator(b" " * (4097 - len(flag)) + flag) is None
    assert test_indicator(b"<x/>") is None
