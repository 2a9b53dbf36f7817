"""The engine against the REAL RabbitMQ: intake queue -> ledger -> transmitter -> receiver.

Each test declares its own queues (uuid-suffixed) and deletes them after. The DOJ side is
the in-process stand-in receiver (engine.receiver.stand_ins), so these tests pin the core's own
rules
(ack after commit, poison, reconnect, backoff) with fault control the real receiver lacks;
the 1,000-order acceptance with the real NIEM renderer and reference receiver is in
test_core_acceptance.py.
Waiting loops are bounded (they fail after a deadline; they assert no timing).
"""

from __future__ import annotations

import functools
import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pika
import pytest

from engine.acks.correlator import Correlator
from engine.config import AmqpConfig, CourtConfig, DestinationConfig, EngineConfig
from engine.delivery.transmitter import Transmitter
from engine.errors import LedgerError
from engine.intake.amqp import ERROR_HEADER, AmqpIntake, declare_intake_topology
from engine.intake.dead_letters import list_dead_letters, replay_dead_letters
from engine.intake.pipeline import Pipeline
from engine.ledger import Claim, Ledger, LedgerRefused, State, open_database
from engine.observability.hooks import EngineHooks
from engine.receiver.stand_ins import StandInReceiver, parse_stand_in_ack, stand_in_render
from engine.reliability.breaker import BreakerPolicy, BreakerState
from engine.reliability.retry import RetryPolicy
from tests import services
from tests.services import AMQP_URL, require_broker

pytestmark = pytest.mark.integration

URL = AMQP_URL
FIXTURE = Path(__file__).parents[1] / "fixtures" / "orders" / "dv_tro_issue.json"
#: Upper bound for any wait in these tests; a healthy run takes a fraction of it.
WAIT_LIMIT = 60.0


def order_body(order_id: str, version: int = 1, action: str | None = None) -> bytes:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    data.update(order_id=order_id, version=version,
                action=action or ("issue" if version == 1 else "modify"))
    return json.dumps(data).encode()


wait_until = functools.partial(services.wait_until, limit=WAIT_LIMIT)


class SendOutcomes(EngineHooks):
    """Every send attempt's outcome (``sent``, ``retry``...) and every breaker move, in
    order: the events a test waits for instead of sleeping."""

    def __init__(self) -> None:
        self.outcomes: list[str] = []
        self.breaker_moves: list[BreakerState] = []

    def after_send(self, claim: Claim, outcome: str, seconds: float) -> None:
        self.outcomes.append(outcome)

    def breaker_changed(self, destination: str, state: BreakerState, failures: int) -> None:
        self.breaker_moves.append(state)

    def openings(self) -> int:
        """How often the breaker opened (first at the threshold, then per failed trial)."""
        return self.breaker_moves.count(BreakerState.OPEN)


@dataclass
class Engine:
    amqp: AmqpConfig
    ledger: Ledger
    receiver: StandInReceiver
    pipeline: Pipeline
    transmitter: Transmitter
    intake: AmqpIntake
    stop: threading.Event
    threads: list[threading.Thread]
    sends: SendOutcomes

    def publish(self, *bodies: bytes) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(URL))
        channel = connection.channel()
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish("", self.amqp.intake_queue, body,
                                  pika.BasicProperties(delivery_mode=2,
                                                       message_id=uuid.uuid4().hex),
                                  mandatory=True)
        connection.close()

    def start(self, *, transmit: bool = True) -> None:
        targets = [self.intake.run] + ([lambda stop: self.transmitter.run(
            stop, poll_interval=0.02)] if transmit else [])
        self.threads = [threading.Thread(target=t, args=(self.stop,), daemon=True)
                        for t in targets]
        for thread in self.threads:
            thread.start()
        wait_until(self.intake.connected.is_set, "the intake to connect")

    def halt(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(WAIT_LIMIT)

    def queue_depth(self, queue: str) -> int:
        connection = pika.BlockingConnection(pika.URLParameters(URL))
        try:
            return connection.channel().queue_declare(queue, passive=True).method.message_count
        finally:
            connection.close()

    def acked(self) -> int:
        return self.ledger.state_counts().get(State.ACKED, 0)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on unique queues, a SQLite ledger and the stand-in receiver."""
    require_broker(URL)
    suffix = uuid.uuid4().hex
    amqp = AmqpConfig(url=URL, intake_queue=f"test.core.intake.{suffix}",
                      dead_letter_exchange=f"test.core.dlx.{suffix}",
                      dead_letter_queue=f"test.core.dlq.{suffix}",
                      prefetch=200, batch_size=100, batch_ms=20)
    config = EngineConfig(amqp=amqp, courts={"*": CourtConfig(destination="doj")},
                          destinations={"doj": DestinationConfig(
                              name="doj", transport="mock", format="niem")})
    ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'ledger.db'}"))
    receiver = StandInReceiver()
    fast = RetryPolicy(max_retries=1, initial_interval=0.01, max_interval=0.05, jitter=0.01)
    reschedule = RetryPolicy(initial_interval=0.05, max_interval=0.4, jitter=0.02)
    correlator = Correlator(ledger, {"niem": parse_stand_in_ack}, reschedule=reschedule)
    sends = SendOutcomes()
    transmitter = Transmitter(ledger, transports={"doj": receiver.transport()},
                              renderers={"niem": stand_in_render}, correlator=correlator,
                              retry=fast, reschedule=reschedule, batch_size=100,
                              breaker=BreakerPolicy(failure_threshold=3, reset_timeout=0.3),
                              hooks=sends)
    pipeline = Pipeline.build(config, ledger, renderers={"niem": stand_in_render})
    connection = pika.BlockingConnection(pika.URLParameters(URL))
    declare_intake_topology(connection.channel(), amqp)
    connection.close()
    eng = Engine(amqp, ledger, receiver, pipeline, transmitter,
                 AmqpIntake(amqp, pipeline, ledger_retry=RetryPolicy(
                     max_retries=1, initial_interval=0.01, max_interval=0.01, jitter=0)),
                 threading.Event(), [], sends)
    yield eng
    eng.halt()
    connection = pika.BlockingConnection(pika.URLParameters(URL))
    channel = connection.channel()
    for queue in (amqp.intake_queue, amqp.dead_letter_queue):
        channel.queue_delete(queue)
    channel.exchange_delete(amqp.dead_letter_exchange)
    connection.close()
    ledger.engine.dispose()


class TestThroughput:
    def test_many_orders_end_acked_and_republishing_sends_nothing(
            self, engine: Engine) -> None:
        """300 orders published all end ACKED with record ids; publishing them all again
        is recorded as duplicates and makes no second send."""
        bodies = [order_body(f"BULK-{i:04d}") for i in range(300)]
        engine.publish(*bodies)
        engine.start()
        wait_until(lambda: engine.acked() == 300, "300 ACKED orders")
        rows = engine.ledger.find_versions(state="ACKED", limit=600)
        assert len({r["doj_record_id"] for r in rows}) == 300
        assert len(engine.receiver.arrivals) == 300

        engine.publish(*bodies)
        wait_until(lambda: engine.ledger.intake_counts().get("duplicate", 0) == 300,
                   "the re-published orders to be recorded")
        wait_until(lambda: engine.queue_depth(engine.amqp.intake_queue) == 0,
                   "the intake queue to drain")
        engine.transmitter.run_once()
        assert len(engine.receiver.arrivals) == 300
        assert engine.ledger.state_counts() == {"ACKED": 300}


class TestOrdering:
    def test_versions_published_out_of_order_arrive_in_order(self, engine: Engine) -> None:
        """Cancel, modify and entry published in that order reach the receiver as entry,
        modify, cancel, the later two with the entry's record id."""
        engine.publish(order_body("SEQ-1", 3, "cancel"), order_body("SEQ-1", 2),
                       order_body("SEQ-1", 1))
        engine.start()
        wait_until(lambda: engine.acked() == 3, "all three versions ACKED")
        arrivals = [(a.version, a.record_id) for a in engine.receiver.arrivals]
        record = arrivals[1][1]
        assert arrivals == [(1, None), (2, record), (3, record)] and record

    def test_entry_failing_first_still_goes_first(self, engine: Engine) -> None:
        """When the entry's first sends fail, the modify still waits and arrives after it."""
        engine.receiver.fail_next = 2  # both in-process tries of the first claim fail
        engine.publish(order_body("SEQ-2", 1), order_body("SEQ-2", 2))
        engine.start()
        wait_until(lambda: engine.acked() == 2, "both versions ACKED")
        assert [a.version for a in engine.receiver.arrivals] == [1, 2]
        [first, _] = engine.ledger.transmissions_for("CA019015J/SEQ-2")
        assert first["attempt_count"] == 2


class TestOutage:
    def test_outage_then_recovery_delivers_everything_once(self, engine: Engine) -> None:
        """During an outage attempts back off (breaker + durable reschedule); after it,
        every order is delivered exactly once, and a refused order is REJECTED with its
        reason without holding the others."""
        engine.receiver.down = True
        engine.receiver.refuse.add("CA019015J/OUT-BAD")
        engine.publish(*(order_body(f"OUT-{i:02d}") for i in range(40)),
                       order_body("OUT-BAD"))
        engine.start()
        wait_until(lambda: engine.ledger.state_counts().get(State.RETRY_SCHEDULED, 0) == 41,
                   "every order rescheduled during the outage")
        # The outage goes on. The events that must follow: the breaker lets a lone trial
        # through after each reset_timeout, and each failed trial opens it again. Between
        # openings only that trial (one send and its one in-process retry) reaches the
        # receiver, not one send per due order: wait for three more openings, then count.
        attempts_before, opened_before = engine.receiver.attempts, engine.sends.openings()
        wait_until(lambda: engine.sends.openings() - opened_before >= 3,
                   "three more failed breaker trials during the outage",
                   describe=lambda: f"breaker moves {engine.sends.breaker_moves[-10:]}")
        trials = engine.sends.openings() - opened_before + 1  # +1: one may be under way
        assert engine.receiver.attempts - attempts_before <= 2 * trials
        engine.receiver.down = False
        wait_until(lambda: engine.acked() == 40, "40 orders ACKED after recovery")
        wait_until(lambda: engine.ledger.state_counts().get(State.REJECTED, 0) == 1,
                   "the refused order REJECTED")
        bad = engine.ledger.version_row("CA019015J/OUT-BAD", 1)
        assert bad is not None and "R042" in bad["error_reason"]
        assert len(engine.receiver.arrivals) == 40
        assert len({a.order_key for a in engine.receiver.arrivals}) == 40


class TestAckRules:
    def test_nothing_is_acked_while_the_ledger_is_down(self, engine: Engine,
                                                      monkeypatch) -> None:
        """With the ledger failing, intake messages stay on the queue (never acked)."""
        tries: list[int] = []

        def down(records):  # type: ignore[no-untyped-def]
            tries.append(len(records))
            raise LedgerError("ledger unavailable: OperationalError")
        monkeypatch.setattr(engine.ledger, "record_intake", down)
        engine.publish(order_body("DOWN-1"), order_body("DOWN-2"))
        engine.start(transmit=False)
        # The event that must follow a failed batch that was not acked: the broker delivers
        # the messages again and the intake tries them again (its in-process retry is one
        # try more, so a third call comes only from a redelivery).
        wait_until(lambda: len(tries) >= 3, "the unacked batch to be delivered and tried again")
        engine.halt()
        assert engine.queue_depth(engine.amqp.intake_queue) == 2

    def test_poison_goes_to_the_dead_letter_queue_with_its_reason(
            self, engine: Engine, monkeypatch) -> None:
        """A message the ledger refuses lands in the DLQ with x-engine-error; the next
        message is processed."""
        real = engine.ledger.record_intake

        def refuse_poison(records):  # type: ignore[no-untyped-def]
            if any("POISON" in r.order_key for r in records):
                raise LedgerRefused("ledger refused the data: DataError")
            return real(records)
        monkeypatch.setattr(engine.ledger, "record_intake", refuse_poison)
        engine.publish(order_body("POISON-1"), order_body("FINE-1"))
        engine.start()
        wait_until(lambda: engine.acked() == 1, "the good order ACKED")
        wait_until(lambda: engine.queue_depth(engine.amqp.dead_letter_queue) == 1,
                   "the poison message in the DLQ")
        config = EngineConfig(amqp=engine.amqp)
        [dead] = list_dead_letters(config)
        assert "DataError" in dead["reason"]
        assert ERROR_HEADER == "x-engine-error"
        # Fixed (the ledger takes it now): a replay sends it through the intake again.
        monkeypatch.setattr(engine.ledger, "record_intake", real)
        assert replay_dead_letters(config) == 1
        wait_until(lambda: engine.acked() == 2, "the replayed order ACKED")
        assert engine.queue_depth(engine.amqp.dead_letter_queue) == 0

    def test_intake_reconnects_after_the_connection_is_closed(self, engine: Engine) -> None:
        """Closing the consumer's connection from the broker side loses nothing: the
        intake reconnects, re-declares its topology and goes on."""
        engine.start()
        engine.publish(order_body("RECONNECT-1"))
        wait_until(lambda: engine.acked() == 1, "the first order ACKED")
        engine.intake.connected.clear()
        _close_connections_to(engine.amqp.intake_queue)
        wait_until(engine.intake.connected.is_set, "the intake to reconnect")
        engine.publish(order_body("RECONNECT-2"))
        wait_until(lambda: engine.acked() == 2, "the second order ACKED")
        assert engine.ledger.intake_counts() == {"new": 2}  # nothing lost, nothing twice
        assert engine.queue_depth(engine.amqp.intake_queue) == 0


def _close_connections_to(queue: str) -> None:
    """Force-close, via the broker, the connection consuming ``queue``."""
    out = subprocess.run(["rabbitmqctl", "-q", "list_consumers", "queue_name",
                          "channel_pid"], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    pids = [line.split("\t")[1] for line in out.splitlines()
            if line.startswith(queue + "\t")]
    assert pids, "no consumer found on the queue"
    conns = subprocess.run(["rabbitmqctl", "-q", "list_channels", "pid", "connection"],
                           capture_output=True, text=True, check=True, timeout=30).stdout
    for line in conns.splitlines():
        pid, _, conn = line.partition("\t")
        if pid in pids:
            subprocess.run(["rabbitmqctl", "-q", "close_connection", conn, "test"],
                           check=True, capture_output=True, timeout=30)


class TestAckQueue:
    def test_acks_on_the_ack_queue_reach_the_ledger(self, engine: Engine) -> None:
        """An asynchronous destination's ack, published on our ack queue, ACKs the order;
        a garbage message there is recorded as malformed and does not stop the consumer."""
        from engine.acks.consumers import AmqpAckConsumer

        engine.receiver.asynchronous = True
        engine.publish(order_body("ASYNC-1"))
        engine.start()
        wait_until(lambda: engine.ledger.state_counts().get(State.SENT, 0) == 1,
                   "the order SENT")
        ack_queue = engine.amqp.intake_queue + ".acks"
        consumer = AmqpAckConsumer(url=URL, queue=ack_queue, fmt="niem",
                                   correlator=engine.transmitter._correlator)
        thread = threading.Thread(target=consumer.run, args=(engine.stop,), daemon=True)
        engine.threads.append(thread)
        thread.start()
        wait_until(consumer.connected.is_set, "the ack consumer to connect")
        connection = pika.BlockingConnection(pika.URLParameters(URL))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_publish("", ack_queue, b"\x00garbage", mandatory=True)
            channel.basic_publish("", ack_queue, engine.receiver.pending_acks[0],
                                  mandatory=True)
            wait_until(lambda: engine.acked() == 1, "the order ACKED from the ack queue")
            assert engine.ledger.acknowledgement_counts() == {"malformed": 1, "accepted": 1}
        finally:
            engine.halt()
            channel = connection.channel()
            channel.queue_delete(ack_queue)
            connection.close()
