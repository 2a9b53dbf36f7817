"""AMQP plumbing and the AMQP transport against the real RabbitMQ on 127.0.0.1:5672."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pika
import pytest

from engine.errors import DestinationRejected, TransportUnavailable
from engine.transports.amqp_settings import (
    ConfirmingPublisher,
    QueueTopology,
    connection_parameters,
    declare_topology,
    delete_topology,
)

pytestmark = pytest.mark.integration

BROKER_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def _broker_reachable() -> bool:
    params = connection_parameters(BROKER_URL)
    try:
        with socket.create_connection((params.host, params.port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def broker() -> str:
    """The broker URL; in CI an unreachable broker fails the tests instead of skipping them."""
    if not _broker_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"RabbitMQ is not reachable at {BROKER_URL} (CI is set: not skipping)")
        pytest.skip("RabbitMQ is not reachable (set CI=1 to make this a failure)")
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

    def test_unreachable_broker_raises_transport_unavailable(self) -> None:
        """A refused connection becomes TransportUnavailable, not a pika error."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free_port = s.getsockname()[1]
        with ConfirmingPublisher(f"amqp://127.0.0.1:{free_port}/?connection_attempts=1") as p, \
                pytest.raises(TransportUnavailable):
            p.publish(routing_key="q", body=b"x")
