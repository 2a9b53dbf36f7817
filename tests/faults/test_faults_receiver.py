"""Invariants 2, 4 and 5 against a misbehaving DOJ endpoint (the reference receiver's fault
modes, on a real socket or queue): timeouts, transient errors, an outage, answers lost,
doubled, late or garbled. Every version still ends ACKED exactly once, in order; a
permanently refused order ends REJECTED without holding the others.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.ledger.schema import audit
from tests.faults.harness import FaultRun, order_stream, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ORDERS = 120


@pytest.fixture
def rigs(tmp_path: Path) -> Iterator[list[FaultRun]]:
    made: list[FaultRun] = []
    yield made
    for rig in made:
        rig.close()


def test_http_endpoint_errors_timeouts_garbage_and_outage(tmp_path: Path,
                                                          rigs: list[FaultRun]) -> None:
    """HTTP: 15% 503s, 5% answers lost (connection closed), 5% garbage answers, a spell of
    answers slower than the read timeout, a 3 s outage, one refused order: all others
    ACKED once and in order; the refused entry REJECTED, its later versions WAITING."""
    run = FaultRun(tmp_path, "receiver http: 503s, drops, garbage, timeouts, outage",
                   endpoint="http", read_timeout=1.0, seed=11)
    rigs.append(run)
    stream = order_stream(run.prefix, ORDERS, seed=11)
    refused = stream[0].order_key
    faults = run.receiver.faults
    faults.rate("fail", 0.15).rate("drop", 0.05).rate("garbage", 0.05)
    faults.reject_order(refused)
    run.publish(stream)
    run.start_engine()
    # longer than the engine's 1 s read timeout
    _late_spell_then_outage(run, late=1.5, normal=0.0)
    report = run.check(expect_rejected=[refused])
    run.assert_clean(report)
    versions = run.versions()
    states = [versions[k]["state"] for k in sorted(versions) if k[0] == refused]
    # The entry is REJECTED (alerted, needs a person); its later versions wait behind it.
    assert states == ["REJECTED"] + ["WAITING"] * (len(states) - 1)
    assert "REFUSED" in versions[(refused, 1)]["error_reason"]
    assert report.notes["receiver"].get("garbage", 0) > 0
    assert report.notes["receiver"].get("failed", 0) > 0


def test_tcp_endpoint_answers_twice_drops_and_hangs_up(tmp_path: Path,
                                                       rigs: list[FaultRun]) -> None:
    """TCP frames: 30% of answers sent twice, 5% never sent (read timeout), 10% hang-ups:
    every version ACKED once, in order; stale second answers are skipped, not applied."""
    run = FaultRun(tmp_path, "receiver tcp: ack twice, drops, hang-ups", endpoint="tcp",
                   read_timeout=1.0, seed=12)
    rigs.append(run)
    run.receiver.faults.rate("ack-twice", 0.3).rate("drop", 0.05).rate("fail", 0.1)
    run.publish(order_stream(run.prefix, ORDERS, seed=12))
    run.start_engine()
    run.wait_settled()
    report = run.check()
    run.assert_clean(report)
    assert report.notes["faults_applied"].get("ack-twice", 0) > 0


def test_amqp_endpoint_acks_twice_late_busy_and_down(tmp_path: Path,
                                                     rigs: list[FaultRun]) -> None:
    """AMQP: 30% answers doubled, 10% BUSY rejects, 5% lost, answers late (a spell past the
    engine's ack timeout, so it resends under the same MCN), and the endpoint down for
    3 s: every version ACKED once, in order; extra answers recorded as duplicates."""
    run = FaultRun(tmp_path, "receiver amqp: ack twice, late, busy, lost, down",
                   endpoint="amqp", seed=13)
    rigs.append(run)
    faults = run.receiver.faults
    faults.rate("ack-twice", 0.3).rate("fail", 0.1).rate("drop", 0.05)
    faults.ack_delay = 0.3
    run.publish(order_stream(run.prefix, ORDERS, seed=13))
    run.start_engine()
    # answers late until the engine gives up on one and asks again, same MCN
    _late_spell_then_outage(run, late=4.0, normal=0.3, until_resent=True)
    report = run.check(ledger_acks=run.ledger().acknowledgement_counts())
    run.assert_clean(report)
    assert report.notes["ledger_acks"].get("duplicate", 0) > 0
    assert _resent_after_timeout(run) > 0


def _resent_after_timeout(run: FaultRun) -> int:
    """Transmissions the engine gave up waiting for and sent again under the same MCN (the
    ledger's audit line of `expire_unacknowledged`)."""
    ledger = run.ledger()
    with ledger.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(audit).where(
            audit.c.detail.like("%sending again with the same MCN%"))).scalar_one())


def _late_spell_then_outage(run: FaultRun, *, late: float, normal: float,
                            until_resent: bool = False) -> None:
    """Once 20 more versions are ACKED, answers come ``late`` for a 2 s spell or, with
    ``until_resent``, until the engine has given up waiting for one and sent it again
    under the same MCN (the event that must follow, waited for rather than a spell timed
    against the engine's ack timeout); 10 more later the endpoint is down for 3 s; then
    wait until every version is settled."""
    run.wait_more_acked(by=20)
    run.receiver.faults.ack_delay = late
    if until_resent:
        wait_until(lambda: _resent_after_timeout(run) > 0,
                   "the engine to resend a version whose answer came late", limit=60,
                   describe=run.engine.tail)
    else:
        time.sleep(2.0)  # the length of the slow spell, not a proof of anything
    run.receiver.faults.ack_delay = normal
    run.wait_more_acked(by=10)
    run.server.down()
    run.outages += 1
    time.sleep(3.0)
    run.server.up()
    run.wait_settled()
