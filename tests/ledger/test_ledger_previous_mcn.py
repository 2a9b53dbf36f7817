"""The message a change follows, and when a version may go.

A modify, cancel or serve names the accepted message that carried the order's previous
version to the same destination (``Claim.previous_mcn``, sent as the header's previous-MCN
reference): the DOJ matches the change to the record that message created. Versions go in
order, each only after every earlier one was accepted (DESIGN.md, invariant 3).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import math

import sqlalchemy as sa

from engine.ledger import Ledger, State
from engine.ledger.repository import new_mcn
from engine.ledger.schema import audit

LEASE = dt.timedelta(seconds=60)


def key(order_id: str) -> str:
    return f"CA019015J/{order_id}"


def send(ledger: Ledger, *, order_id: str | None = None) -> list:  # type: ignore[type-arg]
    """Claim what is due (of one order, if named) and mark it sent."""
    claims = [c for c in ledger.claim_due("w1", limit=50, lease=LEASE)
              if order_id is None or c.order_key == key(order_id)]
    ledger.mark_sent_many(claims, "w1")
    return claims


def accept(ledger: Ledger, claim) -> None:  # type: ignore[no-untyped-def]
    result = ledger.record_acknowledgement(mcn=claim.mcn, accepted=True, record_id="H1")
    assert result is not None


def accepted_v1(ledger: Ledger, record, order_id: str, destination: str = "doj"):  # type: ignore[no-untyped-def]
    ledger.record_intake([dataclasses.replace(record(order_id), destination=destination)])
    [claim] = send(ledger, order_id=order_id)
    accept(ledger, claim)
    return claim


class TestPreviousMessage:
    def test_a_modify_names_the_accepted_message_of_version_1(self, ledger, record) -> None:
        first = accepted_v1(ledger, record, "O-1")
        ledger.record_intake([record("O-1", 2)])
        [claim] = send(ledger)
        assert (claim.version, claim.previous_mcn) == (2, first.mcn)

    def test_an_issue_follows_no_message(self, ledger, record) -> None:
        """Version 1 names no previous message, even with other orders' accepted."""
        accepted_v1(ledger, record, "A")
        ledger.record_intake([record("B")])
        [claim] = send(ledger)
        assert (claim.order_key, claim.previous_mcn) == (key("B"), None)

    def test_only_the_same_orders_messages_count(self, ledger, record) -> None:
        """Two orders each accepted: each modify names its own order's message, whatever
        order their keys sort in."""
        a, b, c = (accepted_v1(ledger, record, o) for o in ("A", "B", "C"))
        ledger.record_intake([record("B", 2)])
        [claim] = send(ledger)
        assert claim.previous_mcn == b.mcn != a.mcn != c.mcn

    def test_version_3_names_version_2_not_version_1(self, ledger, record) -> None:
        accepted_v1(ledger, record, "O-1")
        ledger.record_intake([record("O-1", 2)])
        [second] = send(ledger)
        accept(ledger, second)
        ledger.record_intake([record("O-1", 3, content="c")])
        [third] = send(ledger)
        assert (third.version, third.previous_mcn) == (3, second.mcn)

    def test_a_destination_that_never_had_the_order_gets_no_reference(self, ledger,
                                                                      record) -> None:
        """Version 1 went to "doj"; version 2 goes to "fbi", which never saw the order:
        naming the DOJ's message would point the FBI at a record it does not hold."""
        accepted_v1(ledger, record, "O-1", destination="doj")
        ledger.record_intake([dataclasses.replace(record("O-1", 2), destination="fbi")])
        [claim] = send(ledger)
        assert (claim.destination, claim.previous_mcn) == ("fbi", None)

    def test_the_reference_is_the_accepted_message_not_a_rejected_one(self, ledger,
                                                                     record) -> None:
        """Version 1 rejected, fixed and resent under a new MCN, then accepted: the modify
        follows the accepted resend."""
        ledger.record_intake([record("O-1")])
        [rejected] = send(ledger)
        ledger.record_acknowledgement(mcn=rejected.mcn, accepted=False, code="R1",
                                      reason="bad name")
        ledger.resend(key("O-1"), 1)
        [resent] = send(ledger)
        accept(ledger, resent)
        ledger.record_intake([record("O-1", 2)])
        [claim] = send(ledger)
        assert claim.previous_mcn == resent.mcn != rejected.mcn


class TestRelease:
    def release_reasons(self, ledger: Ledger, order_id: str) -> list[str]:
        with ledger.engine.connect() as conn:
            rows = conn.execute(sa.select(audit.c.detail).where(
                audit.c.order_key == key(order_id), audit.c.to_state == State.READY,
                audit.c.transmission_id.is_(None)).order_by(audit.c.id)).scalars()
            return [r for r in rows if r and r.startswith("released")]

    def test_the_audit_says_why_each_version_was_released(self, ledger, record) -> None:
        accepted_v1(ledger, record, "O-1")
        ledger.record_intake([record("O-1", 2)])
        [second] = send(ledger)
        accept(ledger, second)
        ledger.record_intake([record("O-1", 3, content="c")])
        assert self.release_reasons(ledger, "O-1")[-2:] == [
            "released: version 1 is ACKED", "released: version 2 is ACKED"]

    def test_a_released_version_is_due_at_once_and_a_waiting_one_not_at_all(
            self, ledger, record, clock) -> None:
        """The next attempt of a version that may go is now (the dashboard and the
        earliest-due ordering read it); one waiting for its predecessor has none planned."""
        ledger.record_intake([record("O-1"), record("O-1", 2)])
        first, second = ledger.transmissions_for(key("O-1"))
        assert first["state"] == State.READY
        assert first["next_attempt_at"].replace(tzinfo=dt.UTC) == clock.now
        assert (second["state"], second["next_attempt_at"]) == (State.WAITING, None)


def test_every_mcn_character_is_equally_likely() -> None:
    """An MCN is 12 characters of the 34-letter phone alphabet, each equally likely: a
    modulo bias would make some MCNs likelier and collisions commoner. Random bytes 238-255
    must be skipped (256 = 7 x 34 + 18): kept, they would make the characters they map to
    1/7 likelier than the rest. With 48,000 MCNs (16,941 per character expected, standard
    deviation about 128) even one such byte more per character sets it about 1,100 (8.8 sd)
    off; the limit, 6 sd, a fair generator exceeds with a chance below one in ten million."""
    mcns = [new_mcn() for _ in range(48_000)]
    assert {len(m) for m in mcns} == {12}
    counts = collections.Counter("".join(mcns))
    assert set(counts) == set("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
    expected = 12 * 48_000 / 34
    sd = math.sqrt(expected * (1 - 1 / 34))
    assert max(abs(n - expected) for n in counts.values()) < 6 * sd
