"""Recovery after an outage, measured (issue #18): 1,000 orders accumulate in the ledger
while the DOJ endpoint is down, with the production backoff (30 s doubling to 15 min); when
the endpoint answers again the engine's probe (every ``breaker.reset_timeout``, 2 s here)
sees it and pulls every waiting transmission forward, earliest due first.

The figure is the result, not an assertion: the test prints the time from recovery to the
last ACK (and to the first), beside the latest retry the backoff had planned, and saves
them in bench/results/faults-last.json. It asserts only what must hold: every order
delivered once, in order, nothing lost (docs/reliability.md, "Recovery after an outage").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.ledger.schema import acknowledgements, transmissions
from tests.faults.harness import FaultRun, Published, order_stream, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ORDERS = 1000
PROBE_SECONDS = 2.0


def issued_just_now(item: Published, now: dt.datetime) -> Published:
    """The order issued a minute ago (its other dates moved with it), so every deadline is
    ahead and the backoff, not an overdue cap, decides when it would be retried."""
    data = json.loads(item.body)
    old = dt.datetime.fromisoformat(data["issued_at"])
    new = (now - dt.timedelta(minutes=1)).astimezone(old.tzinfo)
    days = dt.timedelta(days=(new.date() - old.date()).days)
    data["issued_at"] = new.isoformat()
    for key in ("effective_date", "expiration_date"):
        if data.get(key):
            data[key] = (dt.date.fromisoformat(data[key]) + days).isoformat()
    if data.get("order_type") == "epo" and data.get("expiration_date"):
        # Fam. Code 6256: an EPO ends at the earlier of the 5th court day and the 7th
        # calendar day after issue, so moving its dates by whole days can put a 7-day
        # expiry past the 5th court day (issued on a weekend). Five calendar days is within
        # both limits on any day of the week.
        latest = new.date() + dt.timedelta(days=5)
        data["expiration_date"] = min(dt.date.fromisoformat(data["expiration_date"]),
                                      latest).isoformat()
    if (data.get("service") or {}).get("served_at"):
        data["service"]["served_at"] = new.isoformat()
    return dataclasses.replace(item, body=json.dumps(data).encode())


def test_a_thousand_waiting_orders_go_the_moment_the_endpoint_answers(
        tmp_path: Path) -> None:
    run = FaultRun(tmp_path, f"receiver http: down while {ORDERS} orders arrive, then up",
                   endpoint="http", seed=18, extra_config={
                       # The production backoff: without pull-forward, recovery waits for it.
                       "reschedule": {"initial_interval": 30.0, "max_interval": 900.0,
                                      "jitter": 5.0},
                       "breaker": {"failure_threshold": 5, "reset_timeout": PROBE_SECONDS}})
    try:
        run.server.down()
        run.outages += 1
        now = dt.datetime.now(dt.UTC)
        stream = [issued_just_now(p, now) for p in order_stream(run.prefix, ORDERS, seed=18)
                  if p.version == 1]
        run.publish(stream)
        run.start_engine()
        run.wait_more_recorded(by=len(stream))
        wait_until(lambda: run.progress().get("RETRY_SCHEDULED", 0) > 0,
                   "the engine to meet the outage")
        assert run.acked() == 0
        ledger = run.ledger()
        with ledger.engine.connect() as conn:
            planned = conn.execute(sa.select(sa.func.max(transmissions.c.next_attempt_at))
                                   .where(transmissions.c.state == "RETRY_SCHEDULED")
                                   ).scalar_one()
        recovered_at = dt.datetime.now(dt.UTC)
        started = time.monotonic()
        run.server.up()
        run.wait_settled()
        with ledger.engine.connect() as conn:
            acked = sorted(conn.execute(sa.select(acknowledgements.c.received_at)).scalars())
        first, last = acked[0], acked[-1]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(acked)]

        def since(value: dt.datetime) -> float:
            aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            return round((aware - recovered_at).total_seconds(), 2)

        figures = {"orders": len(stream), "probe_interval_s": PROBE_SECONDS,
                   "recovery_to_first_ack_s": since(first),
                   "recovery_to_last_ack_s": since(last),
                   "latest_planned_retry_after_recovery_s": since(planned),
                   "acks_per_s_while_draining": round((len(acked) - 1) / max(
                       (last - first).total_seconds(), 1e-3), 1),
                   "longest_gap_between_acks_s": round(max(gaps, default=0.0), 2),
                   "wall_s": round(time.monotonic() - started, 2)}
        print(f"\nrecovery figures: {figures}")
        report = run.check(recovery=figures)
        run.assert_clean(report)
        assert report.versions == ORDERS
    finally:
        run.close()
