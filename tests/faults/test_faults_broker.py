"""Invariant 1 when the broker link breaks: the engine's AMQP URL points at a chaos proxy
in front of the shared RabbitMQ (which is never restarted), and the proxy resets, cuts and
stalls the link while the engine consumes. Unacked messages come back; the ledger absorbs
the redelivered ones as duplicates; nothing is lost or sent twice in effect.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.chaos_proxy import ChaosProxy
from tests.faults.harness import FaultRun, order_stream, require_broker

pytestmark = [pytest.mark.integration, pytest.mark.faults]

ORDERS = 150


def test_broker_link_reset_cut_and_stalled_mid_stream(tmp_path: Path) -> None:
    """Connections reset, the link cut for 2 s, then stalled past two heartbeats: every
    published version ends ACKED, once, in order, and the intake queue drains."""
    require_broker()
    with ChaosProxy("127.0.0.1", 5672) as proxy:
        run = FaultRun(tmp_path, "broker link: reset, cut 2 s, stall 5 s",
                       engine_amqp_url=f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F",
                       heartbeat=2)
        try:
            stream = order_stream(run.prefix, ORDERS)
            parts = [stream[i::4] for i in range(4)]
            run.publish(sorted(parts[0], key=stream.index))
            run.start_engine()
            run.wait_more_acked(by=10)
            proxy.reset_connections()
            run.outages += 1
            run.publish(sorted(parts[1], key=stream.index))
            run.wait_more_recorded(by=10)  # the intake is back: it consumes again
            proxy.cut()
            run.outages += 1
            time.sleep(2.0)
            run.publish(sorted(parts[2], key=stream.index))
            proxy.restore()
            run.wait_more_recorded(by=10)
            proxy.stall()
            run.outages += 1
            run.publish(sorted(parts[3], key=stream.index))
            time.sleep(5.0)  # past two 2 s heartbeats: one side gives the link up
            proxy.restore()
            run.wait_settled()
            report = run.check(proxy_resets=proxy.resets,
                               proxy_connections=proxy.connections_made)
            run.assert_clean(report)
            assert proxy.resets >= 2 and proxy.connections_made >= 3, \
                "the engine's link was not actually broken and re-made"
        finally:
            run.close()
