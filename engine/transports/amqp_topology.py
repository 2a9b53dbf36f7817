"""RabbitMQ topology: a durable quorum queue with its dead-letter exchange, dead-letter
queue and delivery limit (`QueueTopology`), declared and deleted (`declare_topology`,
`delete_topology`), so a poison message is parked with its reason, never looping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from engine.transports._config import TransportConfigError
from engine.transports.amqp_settings import (
    amqp_errors,
)

__all__ = ["QueueTopology", "declare_topology", "delete_topology"]

@dataclass(frozen=True, kw_only=True, slots=True)
class QueueTopology:
    """A durable quorum queue, its dead-letter exchange and dead-letter queue.

    A message rejected by a consumer (``basic_reject(requeue=False)``), or redelivered more
    than ``delivery_limit`` times, is dead-lettered to ``dead_letter_queue`` with RabbitMQ's
    ``x-death`` header and any headers the consumer set.
    """

    queue: str
    dead_letter_exchange: str = ""
    dead_letter_queue: str = ""
    #: Deliveries before RabbitMQ dead-letters the message (a crash loop ends here).
    delivery_limit: int = 5
    #: Extra queue arguments (e.g. ``x-max-length``), merged over the defaults.
    arguments: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.queue:
            raise TransportConfigError("queue topology: queue name must not be empty")
        if self.delivery_limit < 1:
            raise TransportConfigError("queue topology: delivery_limit must be at least 1")
        if not self.dead_letter_exchange:
            object.__setattr__(self, "dead_letter_exchange", f"{self.queue}.dlx")
        if not self.dead_letter_queue:
            object.__setattr__(self, "dead_letter_queue", f"{self.queue}.dead")

    def queue_arguments(self) -> dict[str, Any]:
        """Arguments of the main queue (the broker refuses a redeclare that differs)."""
        return {
            "x-queue-type": "quorum",
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": self.dead_letter_queue,
            "x-delivery-limit": self.delivery_limit,
            # At-least-once dead-lettering: a dead-lettered message is not lost if the
            # dead-letter queue is briefly unavailable (RabbitMQ >= 3.10, needs reject-publish).
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
            **dict(self.arguments),
        }


def declare_topology(channel: BlockingChannel, topology: QueueTopology) -> None:
    """Declare the dead-letter exchange and queue, then the main queue (idempotent).

    Raises `DestinationRejected` when a queue already exists with other arguments (fix the
    configuration or delete the queue) and `TransportUnavailable` on connection trouble.
    """
    try:
        channel.exchange_declare(topology.dead_letter_exchange, exchange_type="direct",
                                 durable=True)
        channel.queue_declare(topology.dead_letter_queue, durable=True,
                              arguments={"x-queue-type": "quorum"})
        channel.queue_bind(topology.dead_letter_queue, topology.dead_letter_exchange,
                           routing_key=topology.dead_letter_queue)
        channel.queue_declare(topology.queue, durable=True,
                              arguments=topology.queue_arguments())
    except (pika.exceptions.AMQPError, OSError) as exc:
        raise amqp_errors(f"declaring queue {topology.queue!r}", exc) from exc


def delete_topology(channel: BlockingChannel, topology: QueueTopology) -> None:
    """Delete the queue, its dead-letter queue and exchange (tests and tear-down)."""
    try:
        channel.queue_delete(topology.queue)
        channel.queue_delete(topology.dead_letter_queue)
        channel.exchange_delete(topology.dead_letter_exchange)
    except (pika.exceptions.AMQPError, OSError) as exc:
        raise amqp_errors(f"deleting queue {topology.queue!r}", exc) from exc
