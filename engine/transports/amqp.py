"""AMQP transport: publish each envelope to the DOJ's queue with publisher confirms.

The message carries ``message_id`` = ``correlation_id`` = the message control number and
``reply_to`` = our acknowledgement queue; the DOJ answers there, echoing the
``correlation_id``. `send` returns once the broker has confirmed the message
(``Receipt.ack`` is ``None``: the acknowledgement arrives later on the ack queue, and the
correlator matches it by MCN). `send_many` does the same for a batch with pipelined
confirms: every message is published, then the broker's confirms are awaited together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from engine.errors import TransportError, TransportUnavailable
from engine.transports._config import TransportConfigError
from engine.transports.amqp_publish import ConfirmingPublisher, OutgoingMessage
from engine.transports.amqp_settings import AmqpSettings
from engine.transports.amqp_topology import QueueTopology, declare_topology
from engine.transports.base import Envelope, Receipt, Transport

__all__ = ["MCN_HEADER", "AmqpTransport", "AmqpTransportConfig"]

#: Header repeating the message control number for receivers that only look at headers.
MCN_HEADER = "x-message-control-number"


@dataclass(frozen=True, kw_only=True, slots=True)
class AmqpTransportConfig:
    """The DOJ queue, our ack queue and the broker connection."""

    kind: Literal["amqp"] = "amqp"
    #: amqps:// (TLS); a plain amqp:// URL needs ``allow_plaintext``. It carries a password:
    #: give it as ``url_file`` or ``url_env`` (docs/security.md), never in engine.yaml.
    url: str = field(default="amqp://guest:guest@127.0.0.1:5672/%2F", repr=False)
    #: Needed to publish over a plain amqp:// URL (local tests only).
    allow_plaintext: bool = False
    #: The DOJ's inbound queue (routing key when ``exchange`` is the default exchange).
    queue: str
    #: Our queue for acknowledgements, sent as ``reply_to``.
    reply_to: str
    exchange: str = ""
    #: Declare the DOJ queue as a quorum queue on connect (for a broker we run ourselves).
    declare_queue: bool = False
    delivery_limit: int = 5
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    verify_hostname: bool | None = None
    heartbeat: int | None = None
    key_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.queue or not self.reply_to:
            raise TransportConfigError("queue and reply_to must name queues")
        if self.queue == self.reply_to:
            raise TransportConfigError("reply_to must be a different queue from queue")
        if not self.url.startswith("amqps://") and not self.allow_plaintext:
            raise TransportConfigError(
                "url is not amqps://: the orders would cross the wire in clear text; use "
                "amqps://, or set allow_plaintext: true for local tests")

    def settings(self) -> AmqpSettings:
        return AmqpSettings(url=self.url, ca_file=self.ca_file, cert_file=self.cert_file,
                            key_file=self.key_file, key_password=self.key_password,
                            verify_hostname=self.verify_hostname,
                            heartbeat=self.heartbeat, connection_name="engine-transmitter")


class AmqpTransport(Transport):
    """Publishes envelopes to the DOJ queue; acks come back on ``reply_to``."""

    def __init__(self, config: AmqpTransportConfig) -> None:
        self.config = config
        topology = (QueueTopology(queue=config.queue, delivery_limit=config.delivery_limit)
                    if config.declare_queue else None)
        self._publisher = ConfirmingPublisher(
            config.settings(),
            on_connect=(lambda ch: declare_topology(ch, topology)) if topology else None)

    def connect(self) -> None:
        self._publisher.connect()

    def send(self, envelope: Envelope) -> Receipt:
        self._publisher.publish(
            exchange=self.config.exchange, routing_key=self.config.queue, body=envelope.body,
            message_id=envelope.mcn, correlation_id=envelope.mcn,
            reply_to=self.config.reply_to, content_type=envelope.content_type,
            headers={**envelope.headers, MCN_HEADER: envelope.mcn})
        return Receipt(envelope.mcn, None)

    def send_many(self, envelopes: list[Envelope]) -> list[Receipt | TransportError]:
        """Send a batch with pipelined confirms: per envelope its `Receipt` once confirmed,
        or the transient `TransportError` saying why it was not. A connection failure
        raises `TransportUnavailable` for the whole batch."""
        results = self._publisher.publish_many([OutgoingMessage(
            exchange=self.config.exchange, routing_key=self.config.queue, body=e.body,
            message_id=e.mcn, correlation_id=e.mcn, reply_to=self.config.reply_to,
            content_type=e.content_type, headers={**e.headers, MCN_HEADER: e.mcn})
            for e in envelopes])
        out: list[Receipt | TransportError] = []
        for envelope, error in zip(envelopes, results, strict=True):
            if error is None:
                out.append(Receipt(envelope.mcn, None))
            elif isinstance(error, TransportError):
                out.append(error)
            else:  # pragma: no cover - publish_many returns transport errors only
                out.append(TransportUnavailable(str(error)))
        return out

    def close(self) -> None:
        self._publisher.close()
