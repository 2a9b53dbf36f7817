"""The core end to end in memory: intake -> ledger -> transmitter -> stand-in receiver ->
correlator, with the invariants of DESIGN.md as the behaviour under test."""

from __future__ import annotations

from engine.ledger import IntakeOutcome, State
from tests.core.core_harness import Core, order_message

KEY = "CA019015J/LA-DV-1"


class TestDelivery:
    def test_an_order_is_sent_and_acked_with_its_record_id(self, core: Core) -> None:
        """A valid entry goes READY, is sent once, and ends ACKED with the DOJ record id."""
        [result] = core.intake(order_message())
        assert (result.outcome, result.state) == (IntakeOutcome.NEW, State.READY)
        core.drain()
        assert core.state(KEY, 1) == State.ACKED
        assert core.ledger.history(KEY)["doj_record_id"] == "H000000001"
        assert len(core.receiver.arrivals) == 1

    def test_duplicate_intake_makes_no_second_version_or_send(self, core: Core) -> None:
        """The same order version sent twice is recorded as a duplicate and sent once."""
        core.intake(order_message())
        core.drain()
        [again] = core.intake(order_message())
        core.drain()
        assert again.outcome is IntakeOutcome.DUPLICATE
        assert len(core.receiver.arrivals) == 1
        assert len(core.ledger.history(KEY)["versions"]) == 1

    def test_same_version_with_other_content_is_a_conflict(self, core: Core) -> None:
        """A second, different message for a recorded version is a conflict, not applied."""
        core.intake(order_message())
        [conflict] = core.intake(order_message(judicial_officer="Hon. Someone Else"))
        assert conflict.outcome is IntakeOutcome.CONFLICT
        assert "conflict" in (conflict.reason or "")
        assert core.ledger.intake_counts()["conflict"] == 1
        assert core.state(KEY, 1) == State.READY


class TestSequencing:
    def test_versions_published_out_of_order_arrive_in_order(self, core: Core) -> None:
        """Cancel, modify, then entry published: the receiver gets entry, modify, cancel,
        and the later two carry the entry's record id."""
        core.intake(order_message(version=3, action="cancel"))
        core.intake(order_message(version=2))
        assert core.state(KEY, 3) == State.WAITING
        core.drain()
        assert core.receiver.arrivals == []
        core.intake(order_message(version=1))
        core.drain()
        arrived = [(a.version, a.action, a.record_id) for a in core.receiver.arrivals]
        assert arrived == [(1, "issue", None), (2, "modify", "H000000001"),
                           (3, "cancel", "H000000001")]
        assert [core.state(KEY, v) for v in (1, 2, 3)] == [State.ACKED] * 3

    def test_modify_waits_while_the_entry_is_failing(self, core: Core) -> None:
        """While the entry's sends fail, the modify is not sent; after recovery both go,
        in order."""
        core.receiver.down = True
        core.intake(order_message(version=1), order_message(version=2))
        core.drain()
        assert core.state(KEY, 1) == State.RETRY_SCHEDULED
        assert core.state(KEY, 2) == State.WAITING
        core.receiver.down = False
        core.drain(rounds=10, step=60)
        assert [a.version for a in core.receiver.arrivals] == [1, 2]
        assert core.state(KEY, 2) == State.ACKED


class TestFaults:
    def test_transient_failures_retry_in_process_then_succeed(self, core: Core) -> None:
        """Two failed sends are retried at once with backoff; the third succeeds."""
        core.receiver.fail_next = 2
        core.intake(order_message())
        core.drain()
        assert core.state(KEY, 1) == State.ACKED
        assert core.sleeps == [0.1, 0.2]

    def test_outage_reschedules_durably_with_growing_waits(self, core: Core) -> None:
        """During an outage the transmission is rescheduled with next_attempt_at backing off,
        keeping its MCN; after recovery it is delivered once."""
        core.receiver.down = True
        core.intake(order_message())
        waits = []
        for _ in range(3):
            core.transmitter.run_once()
            [t] = core.ledger.transmissions_for(KEY)
            waits.append(t["next_attempt_at"].replace(tzinfo=None)
                         - core.clock.now.replace(tzinfo=None))
            core.clock.advance(1000)
        assert waits[0] < waits[1]
        core.receiver.down = False
        core.drain(rounds=5, step=1000)
        [t] = core.ledger.transmissions_for(KEY)
        assert core.state(KEY, 1) == State.ACKED
        assert {a.mcn for a in core.receiver.arrivals} == {t["mcn"]}

    def test_a_rejected_order_does_not_block_others(self, core: Core) -> None:
        """A permanently refused order is REJECTED with its reason; another order goes on."""
        core.receiver.refuse.add("CA019015J/LA-DV-BAD")
        core.intake(order_message("LA-DV-BAD"), order_message("LA-DV-GOOD"))
        core.drain()
        bad = core.ledger.version_row("CA019015J/LA-DV-BAD", 1)
        assert bad is not None and bad["state"] == State.REJECTED
        assert "R042" in bad["error_reason"]
        assert core.state("CA019015J/LA-DV-GOOD", 1) == State.ACKED

    def test_invalid_message_is_recorded_with_field_paths(self, core: Core) -> None:
        """An order breaking a rule is INVALID with the field path and no field values."""
        [result] = core.intake(order_message(effective_date="2020-01-01"))
        assert result.state is State.INVALID
        assert "effective_date" in (result.reason or "")
        assert "2020" not in (result.reason or "")

    def test_unreadable_bytes_become_an_invalid_record(self, core: Core) -> None:
        """Bytes that are not JSON still become a findable INVALID version, not an error."""
        from engine.intake.pipeline import IntakeMessage

        [result] = core.intake(IntakeMessage(b"\x00not json"))
        assert result.state is State.INVALID
        assert core.ledger.find_versions(state="INVALID")[0]["order_key"].startswith(
            "UNKNOWN/UNREADABLE-")

    def test_rescheduled_work_survives_a_restart(self, core: Core, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """A transmission rescheduled by one engine process is sent by the next one,
        with the same MCN, from the ledger alone."""
        from engine.acks.correlator import Correlator
        from engine.delivery.transmitter import Transmitter
        from engine.ledger import Ledger, open_database
        from engine.receiver.stand_ins import StandInReceiver, parse_stand_in_ack, stand_in_render

        core.receiver.down = True
        core.intake(order_message())
        core.transmitter.run_once()
        [before] = core.ledger.transmissions_for(KEY)
        core.ledger.engine.dispose()  # the first process is gone

        ledger = Ledger(open_database(str(core.ledger.engine.url)), clock=core.clock)
        receiver = StandInReceiver()
        restarted = Transmitter(ledger, transports={"doj": receiver.transport()},
                                renderers={"niem": stand_in_render},
                                correlator=Correlator(ledger, {"niem": parse_stand_in_ack}),
                                clock=core.clock, sleep=lambda s: None)
        core.clock.advance(3600)
        restarted.run_once()
        assert [a.mcn for a in receiver.arrivals] == [before["mcn"]]
        assert ledger.version_row(KEY, 1)["state"] == State.ACKED
