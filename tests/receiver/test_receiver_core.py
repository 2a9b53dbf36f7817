"""The reference receiver's rules: validation, duplicates, record ids, sequencing, faults."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.ack_types import Accepted, Rejected
from engine.errors import AckError, DecodeError
from engine.receiver import (
    FORMATS,
    GARBAGE_ACK,
    Fault,
    FaultPlan,
    Journal,
    Receiver,
    ReceiverFormat,
    Validated,
    parse_json_ack,
    render_json_ack,
)
from engine.receiver.formats import format_for


def canonical() -> Receiver:
    return Receiver(format="canonical")


def answer(receiver: Receiver, mcn: str, body: bytes):
    outcome = receiver.handle(mcn, body, "application/json", transport="test")
    assert outcome.action == "reply"
    return parse_json_ack(outcome.replies[0])


class TestRegistryRules:
    def test_issue_is_accepted_with_a_record_id(self, order_body) -> None:
        """A valid issue gets a record id of the form H + 9 digits (an NCIC-shaped NIC)."""
        ack = answer(canonical(), "M1", order_body())
        assert isinstance(ack, Accepted)
        assert ack.record_id.startswith("H")
        assert len(ack.record_id) == len("H") + 9

    def test_modify_hits_the_same_record(self, order_body) -> None:
        """A modify of an order gets the record id its entry created."""
        r = canonical()
        entry = answer(r, "M1", order_body())
        modify = answer(r, "M2", order_body(version=2, action="modify"))
        assert modify == Accepted("M2", entry.record_id)

    def test_different_orders_get_different_records(self, order_body) -> None:
        """Two orders never share a record id."""
        r = canonical()
        assert answer(r, "A", order_body()).record_id != answer(
            r, "B", order_body("epo_issue")).record_id

    def test_modify_before_entry_is_rejected(self, order_body) -> None:
        """A modify for an order with no record (entry not yet sent) is NO-RECORD."""
        ack = answer(canonical(), "M1", order_body(version=2, action="modify"))
        assert isinstance(ack, Rejected)
        assert ack.code == "NO-RECORD"

    def test_second_issue_of_an_order_is_a_duplicate_entry(self, order_body) -> None:
        """Issuing an already registered order under a new MCN is refused (double effect)."""
        r = canonical()
        answer(r, "M1", order_body())
        ack = answer(r, "M2", order_body())
        assert (ack.code, ack.retryable) == ("DUP-ENTRY", False)

    def test_cancel_closes_the_record(self, order_body) -> None:
        """After a cancel, a later modify finds no active record."""
        r = canonical()
        answer(r, "M1", order_body())
        assert isinstance(answer(r, "M2", order_body(version=2, action="cancel")), Accepted)
        assert answer(r, "M3", order_body(version=3, action="modify")).code == "NO-RECORD"

    def test_invalid_message_is_rejected_with_field_paths(self) -> None:
        """An invalid order is INVALID, with the reason naming fields, and journaled."""
        r = canonical()
        ack = answer(r, "BAD", b'{"court": {}}')
        assert ack.code == "INVALID"
        assert "case_number" in ack.reason
        assert r.journal.entries()[0].outcome == "rejected"

    def test_record_id_mismatch_is_rejected(self) -> None:
        """A modify naming a record id other than the order's is WRONG-NIC."""
        def validate(body: bytes) -> Validated:
            action, record = body.decode().split()
            return Validated("ORI/1", action, None, None if record == "-" else record)

        fmt = ReceiverFormat("t", validate, render_json_ack, "text/plain")
        r = Receiver(format="t", formats={"t": fmt})
        answer(r, "1", b"issue -")
        assert answer(r, "2", b"modify H999999999").code == "WRONG-NIC"
        assert isinstance(answer(r, "3", b"modify H000000001"), Accepted)


class TestDuplicates:
    def test_duplicate_mcn_gets_the_same_answer_and_no_effect(self, order_body) -> None:
        """A resent MCN is re-acked with the same record id, counted, and not journaled again."""
        r = canonical()
        first = answer(r, "M1", order_body())
        again = answer(r, "M1", order_body())
        assert first == again
        assert r.journal.duplicates == 1
        assert len(r.journal.entries()) == 1

    def test_duplicate_of_a_reject_gets_the_same_reject(self) -> None:
        """A resent invalid message gets the same reject, not a new decision."""
        r = canonical()
        assert answer(r, "X", b"{}") == answer(r, "X", b"{}")

    def test_duplicate_effects_are_reported(self, order_body) -> None:
        """The journal reports an order version accepted under two MCNs."""
        journal = Journal()
        r = Receiver(format="canonical", journal=journal)
        answer(r, "M1", order_body())
        answer(r, "M2", order_body(version=2, action="modify"))
        assert journal.duplicate_effects() == []
        answer(r, "M3", order_body(version=2, action="modify"))
        assert journal.duplicate_effects() == [("CA019015J/LA-DV-2024-000123", 2)]

    def test_arrival_order_per_order_is_kept(self, order_body) -> None:
        """entries(order_key) lists one order's messages in the order they arrived."""
        r = canonical()
        answer(r, "E", order_body())
        answer(r, "other", order_body("epo_issue"))
        answer(r, "M", order_body(version=2, action="modify"))
        entries = r.journal.entries("CA019015J/LA-DV-2024-000123")
        assert [(e.mcn, e.action) for e in entries] == [("E", "issue"), ("M", "modify")]


class TestFaults:
    def test_fail_next_fails_exactly_that_many(self, order_body) -> None:
        """fail armed for 2 fails two messages without recording them, then works."""
        r = canonical()
        r.faults.next(Fault.FAIL, 2)
        actions = [r.handle(f"M{i}", order_body(), None, transport="t").action for i in range(3)]
        assert actions == ["fail", "fail", "reply"]
        assert r.journal.counter("failed") == 2
        assert len(r.journal.entries()) == 1

    def test_drop_records_but_sends_nothing(self, order_body) -> None:
        """A dropped answer is still recorded: the resend is a duplicate with the same ack."""
        r = canonical()
        r.faults.next("drop")
        outcome = r.handle("M1", order_body(), None, transport="t")
        assert (outcome.action, outcome.replies) == ("drop", ())
        assert answer(r, "M1", order_body()) == outcome.ack

    def test_ack_twice_and_garbage(self, order_body) -> None:
        """ack-twice sends two identical replies; garbage replaces the reply with junk."""
        r = canonical()
        r.faults.next("ack-twice")
        twice = r.handle("M1", order_body(), None, transport="t")
        assert len(twice.replies) == 2
        assert twice.replies[0] == twice.replies[1]
        r.faults.next("garbage")
        assert r.handle("M1", order_body(), None, transport="t").replies == (GARBAGE_ACK,)

    def test_rejected_order_is_refused_permanently(self, order_body) -> None:
        """An order on the reject list gets REFUSED, not retryable."""
        r = canonical()
        r.faults.reject_order("CA019015J/LA-DV-2024-000123")
        ack = answer(r, "M1", order_body())
        assert (ack.code, ack.retryable) == ("REFUSED", False)
        assert isinstance(answer(r, "M2", order_body("epo_issue")), Accepted)

    def test_ack_delay_is_passed_to_the_server(self, order_body) -> None:
        """The configured ack delay travels in the outcome for the server to apply."""
        r = canonical()
        r.faults.ack_delay = 2.5
        assert r.handle("M1", order_body(), None, transport="t").delay == 2.5

    def test_rates_are_replayable_with_a_seed(self) -> None:
        """Two plans with the same seed and rate pick the same messages."""
        def picks(seed: int) -> list[bool]:
            plan = FaultPlan(seed=seed).rate("fail", 0.3)
            return [Fault.FAIL in plan.draw() for _ in range(200)]

        assert picks(7) == picks(7)
        assert 20 < sum(picks(7)) < 100

    def test_clear_turns_everything_off(self) -> None:
        """After clear() no fault is drawn."""
        plan = FaultPlan().next("drop", 5).rate("fail", 1.0)
        plan.ack_delay = 3
        plan.clear()
        assert plan.draw() == frozenset()
        assert plan.ack_delay == 0


class TestValidators:
    def test_unavailable_validator_rejects_retryably_without_recording(self) -> None:
        """When a format's module is missing the message is rejected as retryable, not journaled."""
        def missing(body: bytes) -> Validated:
            from engine.receiver.formats import ValidatorUnavailable
            raise ValidatorUnavailable("engine.niem.read_niem is not available")

        fmt = ReceiverFormat("niem", missing, render_json_ack, "application/xml")
        r = Receiver(format="niem", formats={"niem": fmt})
        ack = answer(r, "N1", b"<x/>")
        assert (ack.code, ack.retryable) == ("CANT-CHECK", True)
        assert r.journal.entries() == []

    def test_validator_bug_does_not_crash_the_receiver(self) -> None:
        """A validator raising an unexpected error gives a retryable CHECK-FAIL answer."""
        def broken(body: bytes) -> Validated:
            raise KeyError("oops")

        r = Receiver(format="b", formats={"b": ReceiverFormat("b", broken, render_json_ack,
                                                              "text/plain")})
        assert answer(r, "1", b"x").code == "CHECK-FAIL"

    def test_decode_errors_are_invalid(self) -> None:
        """A validator's DecodeError becomes an INVALID reject with its message."""
        def bad(body: bytes) -> Validated:
            raise DecodeError("not XML: line 1")

        r = Receiver(format="b", formats={"b": ReceiverFormat("b", bad, render_json_ack,
                                                              "text/plain")})
        assert answer(r, "1", b"x") == Rejected("1", "INVALID", "not XML: line 1")

    @pytest.mark.parametrize(("content_type", "body", "name"), [
        ("application/xml", b"x", "niem"), ("text/plain; charset=ascii", b"<", "clets"),
        ("application/json", b"", "canonical"), (None, b"  <a/>", "niem"),
        (None, b"{}", "canonical"), (None, b"1N01HEADER", "clets"),
    ])
    def test_auto_format_by_content_type_then_by_look(self, content_type, body, name) -> None:
        """auto picks the format from the content type, else from the first byte."""
        assert format_for("auto", content_type, body).name == name

    def test_unknown_format_is_refused_at_start(self) -> None:
        """A receiver cannot be built for a format it does not know."""
        with pytest.raises(ValueError, match="unknown format"):
            Receiver(format="edifact")

    def test_json_ack_round_trips(self) -> None:
        """render_json_ack and parse_json_ack are inverses for both answers."""
        for ack in (Accepted("M", "H000000001"), Rejected("M", "INVALID", "why", True)):
            assert parse_json_ack(render_json_ack(ack)) == ack

    def test_builtin_formats(self) -> None:
        """niem, clets and canonical are built in."""
        assert set(FORMATS) == {"niem", "clets", "canonical"}


class TestJsonAckParsing:
    @given(st.binary(max_size=300))
    def test_arbitrary_bytes_parse_or_raise_ack_error(self, data: bytes) -> None:
        """parse_json_ack never fails with anything but AckError on hostile input."""
        try:
            ack = parse_json_ack(data)
        except AckError:
            return
        assert isinstance(ack, Accepted | Rejected)

    @given(st.text(min_size=1, max_size=64), st.text(max_size=40), st.booleans())
    def test_render_then_parse_gives_the_ack_back(self, mcn: str, text: str,
                                                  retryable: bool) -> None:
        """Any accept or reject survives rendering and parsing unchanged."""
        for ack in (Accepted(mcn, text or "H000000001"),
                    Rejected(mcn, "INVALID", text, retryable)):
            assert parse_json_ack(render_json_ack(ack)) == ack


def test_require_client_cert_needs_a_ca() -> None:
    """Requiring client certificates without a CA to check them against is refused."""
    from pathlib import Path

    from engine.receiver import ServerTls

    with pytest.raises(ValueError, match="needs ca_file"):
        ServerTls(cert_file=Path("c.pem"), key_file=Path("k.pem"), require_client_cert=True)
