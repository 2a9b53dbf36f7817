"""Acceptance (issue 6) on the REAL RabbitMQ with the REAL parts: court messages on the
intake queue -> engine (NIEM rendering, SQLite ledger) -> AMQP transport -> the DOJ reference
receiver (validates the NIEM schema, keeps the registry) -> ack queue -> correlator.

The reference receiver enforces the registry's rules itself: a modify or cancel that arrives
before its entry's record exists is rejected (NO_RECORD), so every version ending ACKED
proves the order of arrival. Queues are uuid-named and deleted after; waits are bounded.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pika
import pytest

from engine.acks.consumers import AmqpAckConsumer
from engine.acks.correlator import Correlator
from engine.config import AmqpConfig, CourtConfig, DestinationConfig, EngineConfig
from engine.delivery.transmitter import Transmitter
from engine.intake.amqp import AmqpIntake, declare_intake_topology
from engine.intake.pipeline import Pipeline
from engine.law.deadlines import due_at
from engine.ledger import Ledger, State, open_database
from engine.niem import parse_niem_ack, render_niem
from engine.receiver.amqp import AmqpReceiver
from engine.receiver.core import Receiver
from engine.receiver.faults import FaultPlan
from engine.reliability.breaker import BreakerPolicy
from engine.reliability.retry import RetryPolicy
from engine.transports import build_transport
from tests import services
from tests.services import AMQP_URL, require_broker

pytestmark = pytest.mark.integration

URL = AMQP_URL
FIXTURES = Path(__file__).parents[1] / "fixtures" / "orders"
WAIT_LIMIT = 90.0


def fixture_body(name: str, **changes: object) -> bytes:
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    data.update(changes)
    return json.dumps(data).encode()


wait_until = functools.partial(services.wait_until, limit=WAIT_LIMIT, step=0.1)


@dataclass
class Stack:
    intake_config: AmqpConfig
    doj_queue: str
    ack_queue: str
    ledger: Ledger
    faults: FaultPlan
    receiver: Receiver
    endpoint: AmqpReceiver
    stop: threading.Event
    threads: list[threading.Thread]

    def publish(self, *bodies: bytes) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(URL))
        channel = connection.channel()
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish("", self.intake_config.intake_queue, body,
                                  pika.BasicProperties(delivery_mode=2), mandatory=True)
        connection.close()

    def count(self, state: State) -> int:
        return self.ledger.state_counts().get(state, 0)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The engine and the reference receiver, wired through RabbitMQ on unique queues."""
    require_broker(URL)
    sfx = uuid.uuid4().hex
    intake = AmqpConfig(url=URL, intake_queue=f"test.core.acc.intake.{sfx}",
                        dead_letter_exchange=f"test.core.acc.dlx.{sfx}",
                        dead_letter_queue=f"test.core.acc.dlq.{sfx}",
                        prefetch=200, batch_size=100, batch_ms=20)
    doj_queue, ack_queue = f"test.core.acc.doj.{sfx}", f"test.core.acc.acks.{sfx}"
    config = EngineConfig(amqp=intake, courts={"*": CourtConfig(destination="doj")},
                          destinations={"doj": DestinationConfig(
                              name="doj", transport="amqp", format="niem",
                              settings={"url": URL, "allow_plaintext": True, "queue": doj_queue,
                                        "reply_to": ack_queue})})
    ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'ledger.db'}"))
    reschedule = RetryPolicy(initial_interval=0.2, max_interval=1.0, jitter=0.1)
    correlator = Correlator(ledger, {"niem": parse_niem_ack}, reschedule=reschedule)
    transport = build_transport({"kind": "amqp", "url": URL, "allow_plaintext": True,
                                 "queue": doj_queue, "reply_to": ack_queue, "declare_queue": True})
    transmitter = Transmitter(
        ledger, transports={"doj": transport}, renderers={"niem": render_niem},
        correlator=correlator, reschedule=reschedule, batch_size=100,
        retry=RetryPolicy(max_retries=1, initial_interval=0.05, max_interval=0.1, jitter=0),
        breaker=BreakerPolicy(failure_threshold=5, reset_timeout=0.5),
        ack_timeout=dt.timedelta(seconds=3))
    pipeline = Pipeline.build(config, ledger, renderers={"niem": render_niem}, due_at=due_at)
    faults = FaultPlan(seed=1)
    receiver = Receiver(format="niem", faults=faults)
    endpoint = AmqpReceiver(receiver, queue=doj_queue, settings=URL).up()
    connection = pika.BlockingConnection(pika.URLParameters(URL))
    declare_intake_topology(connection.channel(), intake)
    connection.close()
    stop = threading.Event()
    acks = AmqpAckConsumer(url=URL, queue=ack_queue, fmt="niem", correlator=correlator)
    intake_consumer = AmqpIntake(intake, pipeline)
    threads = [threading.Thread(target=intake_consumer.run, args=(stop,), daemon=True),
               threading.Thread(target=transmitter.run, args=(stop,),
                                kwargs={"poll_interval": 0.05}, daemon=True),
               threading.Thread(target=acks.run, args=(stop,), daemon=True)]
    for thread in threads:
        thread.start()
    wait_until(intake_consumer.connected.is_set, "the intake to connect")
    wait_until(acks.connected.is_set, "the ack consumer to connect")
    yield Stack(intake, doj_queue, ack_queue, ledger, faults, receiver, endpoint, stop,
                threads)
    stop.set()
    for thread in threads:
        thread.join(WAIT_LIMIT)
    endpoint.down()
    transmitter.close()
    connection = pika.BlockingConnection(pika.URLParameters(URL))
    channel = connection.channel()
    for queue in (intake.intake_queue, intake.dead_letter_queue, doj_queue,
                  f"{doj_queue}.dead", ack_queue):
        channel.queue_delete(queue)
    for exchange in (intake.dead_letter_exchange, f"{doj_queue}.dlx"):
        channel.exchange_delete(exchange)
    connection.close()
    ledger.engine.dispose()


class TestAcceptance:
    def test_a_thousand_orders_acked_by_the_reference_receiver_and_no_second_send(
            self, stack: Stack) -> None:
        """1,000 orders end ACKED with the receiver's record ids; publishing them again
        makes no second send (the receiver sees no duplicate MCN and no new record)."""
        bodies = [fixture_body("epo_issue.json", order_id=f"ACC-{i:04d}") for i in range(1000)]
        stack.publish(*bodies)
        wait_until(lambda: stack.count(State.ACKED) == 1000, "1,000 orders ACKED")
        rows = stack.ledger.find_versions(state="ACKED", limit=2000)
        records = {r["doj_record_id"] for r in rows}
        assert len(records) == 1000 and all(records)
        stack.publish(*bodies)
        wait_until(lambda: stack.ledger.intake_counts().get("duplicate", 0) == 1000,
                   "the re-published orders recorded as duplicates")
        # The event that must follow: one new order, published after the duplicates, is
        # sent and journaled by the receiver. A wrong second send of a duplicate would have
        # been queued before it, so once the new order is in the journal, it is too.
        stack.publish(fixture_body("epo_issue.json", order_id="ACC-AFTER"))
        wait_until(lambda: stack.receiver.journal.entries("CA037035J/ACC-AFTER") != [],
                   "the order published after the duplicates in the receiver's journal")
        stats = stack.receiver.journal.stats()
        assert len(stack.receiver.journal.entries()) == 1001
        assert stats.get("duplicates", 0) == 0

    def test_versions_out_of_order_and_a_failing_entry_still_arrive_in_order(
            self, stack: Stack) -> None:
        """Terminate, extend, serve and entry published newest first, with the entry's first
        answer a retryable BUSY: the receiver accepts all four, in order, with one record."""
        stack.faults.next("fail", 1)
        for name in ("dv_tro_terminate_v4.json", "dv_tro_extend_v3.json",
                     "dv_tro_serve_v2.json", "dv_tro_issue.json"):
            stack.publish(fixture_body(name))
        wait_until(lambda: stack.count(State.ACKED) == 4, "all four versions ACKED")
        accepted = [e for e in stack.receiver.journal.entries("CA019015J/LA-DV-2024-000123")
                    if e.outcome == "accepted"]
        assert [e.version for e in accepted] == [1, 2, 3, 4]
        history = stack.ledger.history("CA019015J/LA-DV-2024-000123")
        assert history["versions"][0]["transmissions"][0]["attempts"] == 2
        assert {e.record_id for e in accepted} == {history["doj_record_id"]}

    def test_outage_then_recovery_and_a_refused_order(self, stack: Stack) -> None:
        """The receiver goes down, then answers BUSY, then recovers: every order is
        delivered exactly once with backed-off attempts, and a refused order is REJECTED
        with its reason without holding up the others."""
        stack.endpoint.down()
        stack.faults.rate("fail", 1.0)
        stack.faults.reject_order("CA037035J/OUT-BAD")
        stack.publish(*(fixture_body("epo_issue.json", order_id=f"OUT-{i:02d}")
                        for i in range(30)), fixture_body("epo_issue.json", order_id="OUT-BAD"))
        wait_until(lambda: stack.count(State.SENT) == 31, "every order sent into the outage")
        stack.endpoint.up()  # up, but answering BUSY: retryable rejects, rescheduled
        wait_until(lambda: stack.count(State.RETRY_SCHEDULED) > 0, "BUSY answers rescheduled")
        # The next attempt after a BUSY answer: some order is tried again while BUSY lasts.
        wait_until(lambda: any(t["attempt_count"] >= 2 for i in range(30)
                               for t in stack.ledger.transmissions_for(f"CA037035J/OUT-{i:02d}")),
                   "an order tried again during the BUSY spell")
        stack.faults.rate("fail", 0.0)
        wait_until(lambda: stack.count(State.ACKED) == 30, "30 orders ACKED after recovery")
        wait_until(lambda: stack.count(State.REJECTED) == 1, "the refused order REJECTED")
        bad = stack.ledger.version_row("CA037035J/OUT-BAD", 1)
        assert bad is not None and "REFUSED" in bad["error_reason"]
        accepted = stack.receiver.journal.entries(outcome="accepted")
        assert len(accepted) == 30 == len({e.order_key for e in accepted})
        attempts = [t["attempt_count"] for i in range(30)
                    for t in stack.ledger.transmissions_for(f"CA037035J/OUT-{i:02d}")]
        assert max(attempts) >= 2          # they were tried again ...
        assert max(attempts) <= 15         # ... with backoff, not in a storm
