"""The transmitter's fault handling: breaker, rendering at send time, asynchronous acks."""

from __future__ import annotations

import json

from engine.errors import RenderError
from engine.ledger import AckKind, State
from engine.reliability.breaker import BreakerState
from tests.core.core_harness import Core, order_message

KEY = "CA019015J/LA-DV-1"


class TestBreaker:
    def test_outage_costs_one_retry_sequence_per_round(self, core: Core) -> None:
        """When a destination fails, the other orders due for it in the same round wait one
        reschedule interval instead of each retrying in turn."""
        core.receiver.down = True
        core.intake(*(order_message(f"LA-DV-{i}") for i in range(10)))
        core.transmitter.run_once()
        assert core.receiver.attempts == 3  # one transmission, three tries
        assert core.ledger.state_counts() == {"RETRY_SCHEDULED": 10}

    def test_outage_opens_the_breaker_and_stops_attempts(self, core: Core) -> None:
        """After the failure threshold, due work is not sent while the breaker is open."""
        core.receiver.down = True
        core.intake(*(order_message(f"LA-DV-{i}") for i in range(10)))
        for round_ in range(3):  # threshold 3: three failed rounds
            core.clock.advance(60 if round_ else 0)
            core.transmitter.run_once()
        assert core.receiver.attempts == 9
        assert core.transmitter.breakers["doj"].state is BreakerState.OPEN
        core.transmitter.run_once()
        assert core.receiver.attempts == 9

    def test_recovery_delivers_everything_once(self, core: Core) -> None:
        """After the outage every order is ACKED and each arrived exactly once."""
        core.receiver.down = True
        core.intake(*(order_message(f"LA-DV-{i}") for i in range(10)))
        core.drain(rounds=5, step=100)
        core.receiver.down = False
        core.drain(rounds=20, step=100)
        assert core.ledger.state_counts() == {"ACKED": 10}
        assert len(core.receiver.arrivals) == 10


class TestRenderAtSend:
    def test_the_rendered_bytes_are_kept_for_retries(self, core: Core) -> None:
        """A retried transmission sends exactly the bytes of its first attempt."""
        core.receiver.down = True
        core.intake(order_message())
        core.transmitter.run_once()
        core.clock.advance(100)
        core.receiver.down = False
        core.transmitter.run_once()
        [t] = core.ledger.transmissions_for(KEY)
        body = json.loads(t["body"])
        assert body["mcn"] == t["mcn"]
        assert body["sent_at"] == "2026-11-23T09:00:00+00:00"

    def test_an_order_that_cannot_render_at_send_is_invalid(self, core: Core) -> None:
        """A render failure at send time (a modify, rendered once the entry's record id
        exists) makes the version INVALID with the reason."""
        def broken(order, ctx):  # type: ignore[no-untyped-def]
            raise RenderError("cannot", ())

        core.intake(order_message())
        core.transmitter.run_once()
        core.intake(order_message(version=2))
        core.transmitter._renderers["niem"] = broken
        core.transmitter.run_once()
        row = core.ledger.version_row(KEY, 2)
        assert row is not None and row["state"] == State.INVALID
        assert "cannot render" in row["error_reason"]

    def test_an_entry_is_rendered_once_at_intake_and_sent_as_stored(self, core: Core) -> None:
        """An entry's message is rendered at intake with its real MCN; the transmitter sends
        those stored bytes and never renders it again."""
        core.intake(order_message())
        [stored] = core.ledger.transmissions_for(KEY)
        assert stored["body"] is not None
        assert json.loads(stored["body"])["mcn"] == stored["mcn"]

        def broken(order, ctx):  # type: ignore[no-untyped-def]
            raise AssertionError("an entry must not be rendered at send")

        core.transmitter._renderers["niem"] = broken
        core.transmitter.run_once()
        assert core.state(KEY, 1) == State.ACKED
        assert [a.mcn for a in core.receiver.arrivals] == [stored["mcn"]]
        [sent] = core.ledger.transmissions_for(KEY)
        assert sent["body"] == stored["body"] and sent["prepared_at"] == stored["prepared_at"]


class TestAsyncAcks:
    def test_async_acks_are_applied_by_the_correlator(self, core: Core) -> None:
        """With an asynchronous destination, the version is SENT until its ack is fed in."""
        core.receiver.asynchronous = True
        core.intake(order_message())
        core.transmitter.run_once()
        assert core.state(KEY, 1) == State.SENT
        [ack] = core.receiver.pending_acks
        assert core.correlator.apply_bytes(ack, "niem").kind is AckKind.ACCEPTED
        assert core.state(KEY, 1) == State.ACKED

    def test_malformed_ack_bytes_are_recorded_not_raised(self, core: Core) -> None:
        """Garbage on the ack channel is recorded as malformed."""
        assert core.correlator.apply_bytes(b"<<garbage", "niem").kind is AckKind.MALFORMED
        assert core.correlator.apply_bytes(b"{}", "clets").kind is AckKind.MALFORMED
        assert core.ledger.acknowledgement_counts() == {"malformed": 2}

    def test_ack_files_are_applied_then_archived(self, core: Core, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """The file inbox poller feeds each ack file to the correlator, then moves it to
        .done/ so it is not read twice."""
        from engine.acks.consumers import FileAckPoller

        core.receiver.asynchronous = True
        core.intake(order_message())
        core.transmitter.run_once()
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        (inbox / "ack-1.json").write_bytes(core.receiver.pending_acks[0])
        poller = FileAckPoller(inbox=inbox, fmt="niem", correlator=core.correlator)
        assert poller.run_once() == 1
        assert core.state(KEY, 1) == State.ACKED
        assert not (inbox / "ack-1.json").exists() and (inbox / ".done" / "ack-1.json").exists()
        assert poller.run_once() == 0
