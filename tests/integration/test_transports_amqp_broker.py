"""AMQP plumbing and the AMQP transport against the real RabbitMQ on 127.0.0.1:5672."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pika
import pytest

from engine.ack_types import Accepted
from engine.canonical import decode_order, encode_order, order_to_dict
from engine.errors import DestinationRejected, TransportUnavailable
from engine.receiver import AmqpReceiver, Receiver, parse_json_ack
from engine.transports import AmqpTransport, AmqpTransportConfig, Envelope
from engine.transports.amqp_publish import ConfirmingPublisher
from engine.transports.amqp_settings import connection_parameters
from engine.transports.amqp_topology import QueueTopology, declare_topology, delete_topology
from tests.faults.chaos_proxy import ChaosProxy
from tests.services import unavailable

pytestmark = pytest.mark.integration

BROKER_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
FIXTURE_ORDERS = Path(__file__).parent.parent / "fixtures" / "orders"


@pytest.fixture
def order_body() -> Callable[..., bytes]:
    """Makes the DV TRO fixture's intake JSON, with top-level fields changed."""
    def make(**changes: object) -> bytes:
        data = order_to_dict(decode_order((FIXTURE_ORDERS / "dv_tro_issue.json").read_bytes()))
        data.update(changes)
        return encode_order(decode_order(json.dumps(data))).encode()
    return make


def _broker_reachable() -> bool:
    params = connection_parameters(BROKER_URL)
    try:
        with socket.create_connection((params.host, params.port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def broker() -> str:
    """The broker URL; an unreachable broker fails the tests (tests.services.unavailable)."""
    if not _broker_reachable():
        unavailable(f"RabbitMQ is not reachable at {BROKER_URL}")
    return BROKER_URL


@pytest.fixture
def channel(broker: str) -> Iterator[pika.adapters.blocking_connection.BlockingChannel]:
    """A plain channel for inspecting queues."""
    connection = pika.BlockingConnection(connection_parameters(broker))
    try:
        yield connection.channel()
    finally:
        connection.close()


@pytest.fixture
def topology(broker: str) -> Iterator[QueueTopology]:
    """A uniquely named quorum queue with its dead-letter queue, deleted afterwards."""
    topo = QueueTopology(queue=f"test.transports.{uuid.uuid4().hex}", delivery_limit=2)
    connection = pika.BlockingConnection(connection_parameters(broker))
    try:
        declare_topology(connection.channel(), topo)
        yield topo
        delete_topology(connection.channel(), topo)
    finally:
        connection.close()


class TestTopology:
    def test_declares_a_quorum_queue(self, channel, topology: QueueTopology) -> None:
        """The declared queue is a quorum queue: redeclaring it as classic is refused."""
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as info:
            channel.queue_declare(topology.queue, durable=True,
                                  arguments={"x-queue-type": "classic"})
        assert info.value.reply_code == 406

    def test_redeclare_is_idempotent(self, channel, topology: QueueTopology) -> None:
        """Declaring the same topology twice succeeds (reconnects re-declare)."""
        declare_topology(channel, topology)
        assert channel.queue_declare(topology.queue, passive=True).method.message_count == 0

    def test_mismatched_redeclare_is_a_permanent_error(self, broker: str,
                                                       topology: QueueTopology) -> None:
        """A queue that exists with other arguments raises DestinationRejected."""
        other = QueueTopology(queue=topology.queue, delivery_limit=9)
        connection = pika.BlockingConnection(connection_parameters(broker))
        try:
            with pytest.raises(DestinationRejected, match="406"):
                declare_topology(connection.channel(), other)
        finally:
            connection.close()

    def test_rejected_message_is_dead_lettered(self, channel, topology: QueueTopology) -> None:
        """A message rejected without requeue lands in the dead-letter queue."""
        with ConfirmingPublisher(BROKER_URL) as publisher:
            publisher.publish(routing_key=topology.queue, body=b"poison", message_id="m1")
        method, _props, _body = channel.basic_get(topology.queue)
        channel.basic_reject(method.delivery_tag, requeue=False)
        for _ in range(50):
            method, props, body = channel.basic_get(topology.dead_letter_queue, auto_ack=True)
            if method is not None:
                break
            channel.connection.sleep(0.1)
        assert body == b"poison"
        assert props.message_id == "m1"


class TestConfirmingPublisher:
    def test_published_message_is_persistent_and_confirmed(self, channel,
                                                           topology: QueueTopology) -> None:
        """A confirmed publish is in the queue, persistent, with its properties."""
        with ConfirmingPublisher(BROKER_URL) as publisher:
            publisher.publish(routing_key=topology.queue, body=b"hello", message_id="MCN1",
                              correlation_id="MCN1", reply_to="acks",
                              content_type="text/plain", headers={"x-a": "1"})
        _method, props, body = channel.basic_get(topology.queue, auto_ack=True)
        assert body == b"hello"
        assert props.delivery_mode == 2
        assert (props.message_id, props.correlation_id, props.reply_to) == ("MCN1", "MCN1", "acks")
        assert props.headers["x-a"] == "1"

    def test_unroutable_message_raises_transport_unavailable(self, broker: str) -> None:
        """Publishing to a queue that does not exist raises TransportUnavailable."""
        with ConfirmingPublisher(broker) as publisher, \
                pytest.raises(TransportUnavailable, match="unroutable"):
            publisher.publish(routing_key=f"no.such.queue.{uuid.uuid4().hex}", body=b"x")

    def test_publisher_stays_usable_after_unroutable(self, channel,
                                                     topology: QueueTopology) -> None:
        """After an unroutable publish the next publish to a real queue succeeds."""
        with ConfirmingPublisher(BROKER_URL) as publisher:
            with pytest.raises(TransportUnavailable):
                publisher.publish(routing_key=f"missing.{uuid.uuid4().hex}", body=b"x")
            publisher.publish(routing_key=topology.queue, body=b"y")
        assert channel.queue_declare(topology.queue, passive=True).method.message_count == 1

    def test_reconnects_after_the_connection_is_closed(self, channel,
                                                       topology: QueueTopology) -> None:
        """When the connection dies between publishes, the next publish reconnects."""
        with ConfirmingPublisher(BROKER_URL) as publisher:
            publisher.publish(routing_key=topology.queue, body=b"1")
            publisher.channel.connection.close()  # what a broker restart looks like to us
            publisher.publish(routing_key=topology.queue, body=b"2")
        assert channel.queue_declare(topology.queue, passive=True).method.message_count == 2

    def test_nacked_message_raises_transport_unavailable(self, broker: str, channel) -> None:
        """A publish the broker refuses (full queue with reject-publish) is TransportUnavailable."""
        topo = QueueTopology(queue=f"test.transports.full.{uuid.uuid4().hex}",
                             arguments={"x-max-length": 1})
        declare_topology(channel, topo)
        try:
            # A quorum queue's length limit is soft (a message in flight may pass it), so
            # publish until the broker refuses; every confirmed message is in the queue.
            confirmed, refusal = 0, ""
            with ConfirmingPublisher(broker) as publisher:
                for _ in range(10):
                    try:
                        publisher.publish(routing_key=topo.queue, body=b"x")
                    except TransportUnavailable as exc:
                        refusal = str(exc)
                        break
                    confirmed += 1
            assert "nacked" in refusal
            count = channel.queue_declare(topo.queue, passive=True).method.message_count
            assert count == confirmed
        finally:
            delete_topology(channel, topo)

    def test_unreachable_broker_raises_transport_unavailable(self) -> None:
        """A refused connection becomes TransportUnavailable, not a pika error."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free_port = s.getsockname()[1]
        with ConfirmingPublisher(f"amqp://127.0.0.1:{free_port}/?connection_attempts=1") as p, \
                pytest.raises(TransportUnavailable):
            p.publish(routing_key="q", body=b"x")


# --- AMQP transport and the reference receiver ---------------------------------------


@pytest.fixture
def doj(broker: str) -> Iterator[tuple[QueueTopology, QueueTopology]]:
    """A unique DOJ queue and ack queue (both quorum with dead-lettering), deleted afterwards."""
    suffix = uuid.uuid4().hex
    doj_queue = QueueTopology(queue=f"test.doj.{suffix}")
    ack_queue = QueueTopology(queue=f"test.acks.{suffix}")
    connection = pika.BlockingConnection(connection_parameters(broker))
    try:
        declare_topology(connection.channel(), ack_queue)
        yield doj_queue, ack_queue
        channel = connection.channel()
        delete_topology(channel, doj_queue)
        delete_topology(channel, ack_queue)
    finally:
        connection.close()


def _transport(doj_queue: QueueTopology, ack_queue: QueueTopology) -> AmqpTransport:
    return AmqpTransport(AmqpTransportConfig(url=BROKER_URL, allow_plaintext=True,
                                             queue=doj_queue.queue, reply_to=ack_queue.queue))


def _wait_for_acks(channel, queue: str, count: int) -> list[tuple[str, bytes]]:
    """(correlation_id, body) of ``count`` messages from ``queue``, waiting boundedly."""
    got: list[tuple[str, bytes]] = []
    for _ in range(400):  # at most ~20 s: a bound on waiting, not a timing claim
        method, props, body = channel.basic_get(queue, auto_ack=True)
        if method is None:
            if len(got) >= count:
                break
            channel.connection.sleep(0.05)
            continue
        got.append((props.correlation_id, body))
    return got


@pytest.fixture
def receiver_on(broker: str, doj) -> Iterator[tuple[Receiver, AmqpReceiver]]:
    """The reference receiver consuming the DOJ queue (declaring it as a quorum queue)."""
    doj_queue, _ = doj
    receiver = Receiver(format="canonical")
    server = AmqpReceiver(receiver, queue=doj_queue.queue, settings=broker)
    with server:
        yield receiver, server


class TestAmqpTransportAndReceiver:
    def test_round_trip_acks_arrive_on_reply_queue_by_correlation_id(
            self, doj, receiver_on, channel, order_body) -> None:
        """Each envelope published is acked on reply_to with correlation_id = its MCN."""
        _, ack_queue = doj
        receiver, _ = receiver_on
        with _transport(*doj) as t:
            receipts = [t.send(Envelope(f"AM{i}", order_body(order_id=f"O-{i}"),
                                        "application/json")) for i in range(3)]
        assert all(r.ack is None for r in receipts)
        acks = _wait_for_acks(channel, ack_queue.queue, 3)
        assert sorted(cid for cid, _ in acks) == ["AM0", "AM1", "AM2"]
        for cid, body in acks:
            ack = parse_json_ack(body)
            assert isinstance(ack, Accepted)
            assert ack.mcn == cid
        assert len(receiver.journal.accepted()) == 3

    def test_duplicate_publish_is_reacked_with_the_same_record(
            self, doj, receiver_on, channel, order_body) -> None:
        """Publishing the same MCN twice gives two identical acks and one effect."""
        _, ack_queue = doj
        receiver, _ = receiver_on
        with _transport(*doj) as t:
            t.send(Envelope("DUP", order_body(), "application/json"))
            t.send(Envelope("DUP", order_body(), "application/json"))
        acks = _wait_for_acks(channel, ack_queue.queue, 2)
        assert len(acks) == 2
        assert acks[0][1] == acks[1][1]
        assert receiver.journal.duplicates == 1
        assert len(receiver.journal.accepted()) == 1

    def test_fail_fault_answers_busy_retryable(self, doj, receiver_on, channel,
                                               order_body) -> None:
        """Under the fail fault the receiver answers a retryable BUSY reject."""
        _, ack_queue = doj
        receiver, _ = receiver_on
        receiver.faults.next("fail")
        with _transport(*doj) as t:
            t.send(Envelope("BUSY1", order_body(), "application/json"))
        (cid, body), = _wait_for_acks(channel, ack_queue.queue, 1)
        ack = parse_json_ack(body)
        assert (cid, ack.code, ack.retryable) == ("BUSY1", "BUSY", True)

    def test_messages_sent_while_receiver_is_down_are_answered_after_up(
            self, doj, receiver_on, channel, order_body) -> None:
        """A receiver outage loses nothing: queued messages are answered once it is back."""
        _, ack_queue = doj
        _receiver, server = receiver_on
        server.down()
        with _transport(*doj) as t:
            for i in range(5):
                t.send(Envelope(f"OUT{i}", order_body(order_id=f"O-OUT-{i}"),
                                "application/json"))
        assert _wait_for_acks(channel, ack_queue.queue, 0) == []
        server.up()
        acks = _wait_for_acks(channel, ack_queue.queue, 5)
        assert sorted(cid for cid, _ in acks) == [f"OUT{i}" for i in range(5)]

    def test_message_without_mcn_is_dead_lettered(self, doj, receiver_on, channel) -> None:
        """A message with no control number is rejected to the DOJ queue's dead-letter queue."""
        doj_queue, _ = doj
        receiver, _ = receiver_on
        channel.basic_publish("", doj_queue.queue, b"{}",
                              pika.BasicProperties(delivery_mode=2))
        dead = _wait_for_acks(channel, doj_queue.dead_letter_queue, 1)
        assert [body for _, body in dead] == [b"{}"]
        assert receiver.journal.counter("no_mcn") == 1

    def test_unroutable_doj_queue_is_transient(self, doj) -> None:
        """Publishing to a DOJ queue that does not exist raises TransportUnavailable."""
        doj_queue, ack_queue = doj  # the receiver is not running: the DOJ queue is absent
        with _transport(doj_queue, ack_queue) as t, \
                pytest.raises(TransportUnavailable, match="unroutable"):
            t.send(Envelope("NOQ", b"{}", "application/json"))

    def test_ack_twice_sends_two_answers_with_the_same_correlation_id(
            self, doj, receiver_on, channel, order_body) -> None:
        """Under ack-twice the reply queue gets the same answer twice (the engine must cope)."""
        _, ack_queue = doj
        receiver, _ = receiver_on
        receiver.faults.next("ack-twice")
        with _transport(*doj) as t:
            t.send(Envelope("TWICE", order_body(), "application/json"))
        acks = _wait_for_acks(channel, ack_queue.queue, 2)
        assert [cid for cid, _ in acks] == ["TWICE", "TWICE"]
        assert acks[0][1] == acks[1][1]

    def test_delayed_answer_still_arrives(self, doj, receiver_on, channel, order_body) -> None:
        """With an ack delay the answer is published later by the receiver's I/O loop."""
        _, ack_queue = doj
        receiver, _ = receiver_on
        receiver.faults.ack_delay = 0.3
        with _transport(*doj) as t:
            t.send(Envelope("LATE", order_body(), "application/json"))
        (cid, body), = _wait_for_acks(channel, ack_queue.queue, 1)
        assert cid == "LATE"
        assert isinstance(parse_json_ack(body), Accepted)

    def test_receiver_fails_to_start_on_a_mismatched_queue(self, broker: str, doj) -> None:
        """A DOJ queue that exists with other arguments stops up() with DestinationRejected."""
        doj_queue, _ = doj
        connection = pika.BlockingConnection(connection_parameters(broker))
        try:
            declare_topology(connection.channel(),
                             QueueTopology(queue=doj_queue.queue, delivery_limit=9))
        finally:
            connection.close()
        with pytest.raises(DestinationRejected):
            AmqpReceiver(Receiver(), queue=doj_queue.queue, settings=broker).up()


def test_transport_can_declare_the_doj_queue_itself(broker: str, doj, channel) -> None:
    """With declare_queue the transport declares the DOJ quorum queue, so the publish routes."""
    doj_queue, ack_queue = doj
    with AmqpTransport(AmqpTransportConfig(url=broker, allow_plaintext=True,
                                           queue=doj_queue.queue,
                                           reply_to=ack_queue.queue,
                                           declare_queue=True)) as t:
        t.send(Envelope("DECL", b"{}", "application/json"))
    _method, props, body = channel.basic_get(doj_queue.queue, auto_ack=True)
    assert (body, props.message_id, props.correlation_id, props.reply_to) == (
        b"{}", "DECL", "DECL", ack_queue.queue)
    assert props.headers["x-message-control-number"] == "DECL"
    assert props.content_type == "application/json"


class TestBrokerLinkFaults:
    """The link to RabbitMQ cut for real (through the chaos proxy), not the broker restarted."""

    def test_publish_on_a_cut_link_fails_then_reconnects(self, broker: str, topology,
                                                         channel) -> None:
        """A publish while the link is cut is TransportUnavailable; after restore it works."""
        params = connection_parameters(broker)
        with ChaosProxy(params.host, params.port) as proxy, ConfirmingPublisher(
                f"amqp://guest:guest@127.0.0.1:{proxy.port}/?connection_attempts=1") as pub:
            pub.publish(routing_key=topology.queue, body=b"before")
            proxy.cut()
            with pytest.raises(TransportUnavailable):
                pub.publish(routing_key=topology.queue, body=b"during")
            proxy.restore()
            pub.publish(routing_key=topology.queue, body=b"after")
        bodies = [channel.basic_get(topology.queue, auto_ack=True)[2] for _ in range(2)]
        assert bodies == [b"before", b"after"]

    def test_connection_that_died_while_idle_is_replaced_before_publishing(
            self, broker: str, topology, channel) -> None:
        """A link reset between publishes is noticed and replaced: the next publish succeeds."""
        params = connection_parameters(broker)
        with ChaosProxy(params.host, params.port) as proxy, ConfirmingPublisher(
                f"amqp://guest:guest@127.0.0.1:{proxy.port}/") as pub:
            pub.publish(routing_key=topology.queue, body=b"1")
            proxy.reset_connections()
            pub.publish(routing_key=topology.queue, body=b"2")
        assert channel.queue_declare(topology.queue, passive=True).method.message_count == 2

    def test_receiver_reconnects_after_its_link_is_cut(self, broker: str, doj, channel,
                                                       order_body) -> None:
        """The AMQP receiver re-establishes its consumer after a cut and answers again."""
        doj_queue, ack_queue = doj
        params = connection_parameters(broker)
        receiver = Receiver(format="canonical")
        # heartbeat=1: the proxy's reset reaches an idle consumer only once a byte moves
        # (its pump thread holds the socket open), so let heartbeats move one soon.
        with ChaosProxy(params.host, params.port) as proxy, AmqpReceiver(
                receiver, queue=doj_queue.queue,
                settings=f"amqp://guest:guest@127.0.0.1:{proxy.port}/?heartbeat=1"):
            proxy.cut()
            with _transport(*doj) as t:  # straight to the broker, not through the proxy
                t.send(Envelope("RC1", order_body(), "application/json"))
            proxy.restore()
            acks = _wait_for_acks(channel, ack_queue.queue, 1)
        assert [cid for cid, _ in acks] == ["RC1"]
