"""Pipelined publisher confirms against the real RabbitMQ: a batch is confirmed as a whole,
and an unroutable message is named without failing the rest of its batch."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pika
import pytest

from engine.errors import TransportUnavailable
from engine.transports.amqp_publish import ConfirmingPublisher, OutgoingMessage
from tests.services import unavailable

pytestmark = pytest.mark.integration

BROKER_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


@pytest.fixture
def queue() -> Iterator[str]:
    """A fresh durable quorum queue, deleted after the test."""
    name = f"test.perf.publish_many.{uuid.uuid4().hex}"
    try:
        connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    except pika.exceptions.AMQPConnectionError:
        unavailable("RabbitMQ is not reachable")
    channel = connection.channel()
    channel.queue_declare(name, durable=True, arguments={"x-queue-type": "quorum"})
    try:
        yield name
    finally:
        channel.queue_delete(name)
        connection.close()


def depth(name: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(BROKER_URL))
    try:
        return int(connection.channel().queue_declare(name, passive=True).method.message_count)
    finally:
        connection.close()


def test_a_batch_is_confirmed_and_every_message_arrives_once(queue: str) -> None:
    """Three batches of 50 are each confirmed in full and the queue holds 150 messages."""
    with ConfirmingPublisher(BROKER_URL) as publisher:
        for b in range(3):
            results = publisher.publish_many([
                OutgoingMessage(routing_key=queue, body=b"x", message_id=f"{b}-{i}")
                for i in range(50)])
            assert results == [None] * 50
    assert depth(queue) == 150


def test_an_unroutable_message_is_named_and_the_rest_are_confirmed(queue: str) -> None:
    """The one message with no queue to go to comes back as TransportUnavailable; the
    others of its batch are confirmed and delivered."""
    messages = [OutgoingMessage(routing_key=queue, body=b"x", message_id=str(i))
                for i in range(10)]
    messages[4] = OutgoingMessage(routing_key=f"{queue}.nowhere", body=b"y", message_id="4")
    with ConfirmingPublisher(BROKER_URL) as publisher:
        results = publisher.publish_many(messages)
    assert [i for i, r in enumerate(results) if r is not None] == [4]
    assert isinstance(results[4], TransportUnavailable)
    assert "unroutable" in str(results[4])
    assert depth(queue) == 9


def test_publish_and_publish_many_share_one_connection(queue: str) -> None:
    """A single confirmed publish and a pipelined batch work side by side."""
    with ConfirmingPublisher(BROKER_URL) as publisher:
        publisher.publish(routing_key=queue, body=b"one", message_id="single")
        assert publisher.publish_many([OutgoingMessage(
            routing_key=queue, body=b"two", message_id="batch")]) == [None]
        publisher.publish(routing_key=queue, body=b"three", message_id="single-2")
    assert depth(queue) == 3
