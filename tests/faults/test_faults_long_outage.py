"""Invariant 5 over a long outage: the DOJ endpoint is down for 60 s while orders arrive.
Every order is delivered after recovery, exactly once and in order; attempts back off
(durable rescheduling and the circuit breaker), so the outage is no retry storm."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.harness import FaultRun, order_stream

pytestmark = [pytest.mark.integration, pytest.mark.faults]

OUTAGE_SECONDS = 60.0
ORDERS = 60


def test_sixty_second_endpoint_outage_then_recovery(tmp_path: Path) -> None:
    """With the endpoint down for 60 s, no order is lost or sent twice in effect, and no
    transmission is tried more often than backoff allows."""
    run = FaultRun(tmp_path, "receiver http: down 60 s, then recovery", endpoint="http",
                   seed=60, extra_config={
                       "reschedule": {"initial_interval": 1.0, "max_interval": 8.0,
                                      "jitter": 0.5},
                       "breaker": {"failure_threshold": 5, "reset_timeout": 5.0}})
    try:
        run.server.down()
        run.outages += 1
        stream = order_stream(run.prefix, ORDERS, seed=60)
        run.publish(stream)
        run.start_engine()
        run.wait_more_recorded(by=len(stream))
        time.sleep(OUTAGE_SECONDS)  # the outage itself, not a timing assertion
        assert run.acked() == 0
        run.server.up()
        run.wait_settled()
        report = run.check()
        run.assert_clean(report)
        attempts = [t["attempt_count"] for key in {p.order_key for p in stream}
                    for t in run.ledger().transmissions_for(key)]
        assert max(attempts) >= 2, "the outage should have made the engine try again"
        # Without backoff, a 50 ms poll would try each entry hundreds of times in 60 s.
        assert max(attempts) <= 20, f"retry storm: {max(attempts)} attempts"
    finally:
        run.close()
