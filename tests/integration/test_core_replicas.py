"""Beyond one box: two engine replicas (each an AMQP intake consumer and a transmitter)
compete on one REAL RabbitMQ intake queue and share one REAL PostgreSQL ledger. Versions of
one order are consumed by different replicas in any order; the ledger still sends each
transmission once and each order's versions in sequence.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pika
import pytest

from engine.acks.correlator import Correlator
from engine.config import AmqpConfig, CourtConfig, DestinationConfig, EngineConfig
from engine.delivery.transmitter import Transmitter
from engine.intake.amqp import AmqpIntake, declare_intake_topology
from engine.intake.pipeline import Pipeline
from engine.ledger import Ledger, State, open_database
from engine.receiver.stand_ins import StandInReceiver, parse_stand_in_ack, stand_in_render
from engine.reliability.retry import RetryPolicy
from tests.services import AMQP_URL, postgres_schema_url, require_broker

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parents[1] / "fixtures" / "orders" / "dv_tro_issue.json"
WAIT_LIMIT = 90.0


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A ledger URL in a fresh PostgreSQL schema, dropped after."""
    require_broker(AMQP_URL)
    with postgres_schema_url("core_rep") as url:
        yield url


def body(order_id: str, version: int) -> bytes:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    data.update(order_id=order_id, version=version,
                action="issue" if version == 1 else ("modify" if version == 2 else "cancel"))
    return json.dumps(data).encode()


def test_two_replicas_share_the_work_without_double_sends_or_disorder(pg_url: str) -> None:
    """100 orders of three versions each, published newest version first, consumed and sent
    by two replicas: every version ACKED, each MCN sent once, each order's versions reach
    the receiver as 1, 2, 3, and both replicas did some of the work."""
    sfx = uuid.uuid4().hex
    amqp = AmqpConfig(url=AMQP_URL, intake_queue=f"test.core.rep.{sfx}",
                      dead_letter_exchange=f"test.core.rep.dlx.{sfx}",
                      dead_letter_queue=f"test.core.rep.dlq.{sfx}",
                      prefetch=20, batch_size=10, batch_ms=10)
    config = EngineConfig(amqp=amqp, courts={"*": CourtConfig(destination="doj")},
                          destinations={"doj": DestinationConfig(
                              name="doj", transport="mock", format="niem")})
    Ledger(open_database(pg_url)).engine.dispose()  # migrate once, before the replicas
    receiver = StandInReceiver()
    stop = threading.Event()
    threads, transports, ledgers, intakes = [], [], [], []
    for n in range(2):
        ledger = Ledger(open_database(pg_url))
        transport = receiver.transport()
        transmitter = Transmitter(
            ledger, transports={"doj": transport}, renderers={"niem": stand_in_render},
            correlator=Correlator(ledger, {"niem": parse_stand_in_ack}), batch_size=10,
            retry=RetryPolicy(max_retries=0), worker_id=f"replica-{n}")
        intake = AmqpIntake(amqp, Pipeline.build(config, ledger,
                                                 renderers={"niem": stand_in_render}))
        threads += [threading.Thread(target=intake.run, args=(stop,), daemon=True),
                    threading.Thread(target=transmitter.run, args=(stop,),
                                     kwargs={"poll_interval": 0.02}, daemon=True)]
        transports.append(transport)
        ledgers.append(ledger)
        intakes.append(intake)
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    channel = connection.channel()
    declare_intake_topology(channel, amqp)
    try:
        for thread in threads:
            thread.start()
        channel.confirm_delivery()
        for version in (3, 2, 1):
            for i in range(100):
                channel.basic_publish("", amqp.intake_queue, body(f"REP-{i:03d}", version),
                                      pika.BasicProperties(delivery_mode=2), mandatory=True)
        deadline = time.monotonic() + WAIT_LIMIT
        while ledgers[0].state_counts().get(State.ACKED, 0) < 300:
            assert time.monotonic() < deadline, ledgers[0].state_counts()
            time.sleep(0.1)
        sent = [env.mcn for transport in transports for env in transport.sent]
        assert len(sent) == len(set(sent)) == 300
        assert all(transport.sent for transport in transports)
        by_order = defaultdict(list)
        for arrival in receiver.arrivals:
            by_order[arrival.order_key].append(arrival.version)
        assert len(by_order) == 100
        assert all(versions == [1, 2, 3] for versions in by_order.values())
    finally:
        stop.set()
        for thread in threads:
            thread.join(WAIT_LIMIT)
        channel.queue_delete(amqp.intake_queue)
        channel.queue_delete(amqp.dead_letter_queue)
        channel.exchange_delete(amqp.dead_letter_exchange)
        connection.close()
        for ledger in ledgers:
            ledger.engine.dispose()
