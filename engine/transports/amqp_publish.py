"""Confirmed publishing: persistent, mandatory publishes on a confirm-mode channel
(`ConfirmingPublisher`); a message is "sent" only when the broker confirmed it.
`publish_many` pipelines confirms over a `PipelinedChannel` (one round trip per batch).

pika's `BlockingConnection` is not thread-safe: use one publisher per thread.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from engine.errors import TransportUnavailable
from engine.transports.amqp_settings import (
    AmqpSettings,
    amqp_errors,
    connection_parameters,
)

__all__ = ["ConfirmingPublisher", "OutgoingMessage", "PipelinedChannel"]

@dataclass(frozen=True, kw_only=True, slots=True)
class OutgoingMessage:
    """One message of a `ConfirmingPublisher.publish_many` batch."""

    routing_key: str
    body: bytes
    exchange: str = ""
    message_id: str | None = None
    correlation_id: str | None = None
    reply_to: str | None = None
    content_type: str | None = None
    headers: Mapping[str, Any] | None = None

    def properties(self, tag: str | None = None) -> pika.BasicProperties:
        headers = dict(self.headers) if self.headers else {}
        if tag is not None:
            headers[_BATCH_TAG_HEADER] = tag
        return pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent, message_id=self.message_id,
            correlation_id=self.correlation_id, reply_to=self.reply_to,
            content_type=self.content_type, headers=headers or None)


#: Header numbering a message within a pipelined batch, so a returned (unroutable) message
#: can be told apart from the rest of its batch.
_BATCH_TAG_HEADER = "x-publish-seq"
#: Seconds `publish_many` waits for the confirms of one batch before calling them lost.
CONFIRM_TIMEOUT = 30.0


class PipelinedChannel:
    """A channel in confirm mode whose confirms are collected, not waited for one by one.

    pika's `BlockingChannel` waits for each publish's confirm; this drives the same
    connection's underlying channel (`BlockingChannel._impl`, pika 1.x) with its own
    confirm and return callbacks, and waits with `process_data_events` for the batch.
    """

    def __init__(self, connection: pika.BlockingConnection) -> None:
        self._connection = connection
        self._blocking = connection.channel()
        self._impl = self._blocking._impl
        self._next_tag = 1
        self._acked: set[int] = set()
        self._nacked: set[int] = set()
        self._returned: set[str] = set()
        self._confirmed_upto = 0
        self._waiting: list[int] = []
        ready: list[bool] = []
        self._impl.confirm_delivery(ack_nack_callback=self._on_confirm,
                                    callback=lambda _frame: ready.append(True))
        self._impl.add_on_return_callback(self._on_return)
        deadline = CONFIRM_TIMEOUT
        while not ready and deadline > 0:
            connection.process_data_events(time_limit=0.05)
            deadline -= 0.05
        if not ready:
            raise pika.exceptions.AMQPChannelError("confirm mode was not acknowledged")

    @property
    def is_open(self) -> bool:
        return bool(self._blocking.is_open)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tags = (range(self._confirmed_upto + 1, method.delivery_tag + 1) if method.multiple
                else (method.delivery_tag,))
        target = self._acked if isinstance(method, pika.spec.Basic.Ack) else self._nacked
        target.update(tags)
        if method.multiple:
            self._confirmed_upto = max(self._confirmed_upto, method.delivery_tag)
        if self._waiting and self._all_confirmed(self._waiting):
            self._waiting = []
            # Wakes `process_data_events` (it returns on ready events, not on the
            # underlying channel's callbacks): the batch is complete.
            self._connection.add_callback_threadsafe(lambda: None)

    def _all_confirmed(self, tags: list[int]) -> bool:
        return all(t in self._acked or t in self._nacked for t in tags)

    def _on_return(self, _channel: Any, _method: Any, properties: Any, _body: bytes) -> None:
        tag = (properties.headers or {}).get(_BATCH_TAG_HEADER)
        if tag is not None:
            self._returned.add(str(tag))

    def publish(self, messages: list[OutgoingMessage]) -> list[Exception | None]:
        """Publish all, then wait for every confirm; per message None or the error."""
        tags = []
        for message in messages:
            tag = self._next_tag
            self._next_tag += 1
            tags.append(tag)
            self._impl.basic_publish(message.exchange, message.routing_key, message.body,
                                     message.properties(str(tag)), mandatory=True)
        self._waiting = tags
        deadline = time.monotonic() + CONFIRM_TIMEOUT
        while not self._all_confirmed(tags):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._connection.process_data_events(time_limit=remaining)
        self._waiting = []
        out: list[Exception | None] = []
        for tag, message in zip(tags, messages, strict=True):
            if str(tag) in self._returned:
                out.append(TransportUnavailable(
                    f"message unroutable: no queue bound for exchange {message.exchange!r} "
                    f"routing key {message.routing_key!r}"))
            elif tag in self._acked:
                out.append(None)
            elif tag in self._nacked:
                out.append(TransportUnavailable(
                    f"broker refused (nacked) the message for routing key "
                    f"{message.routing_key!r}"))
            else:
                out.append(TransportUnavailable(
                    f"no confirm from the broker within {CONFIRM_TIMEOUT:.0f} s"))
            self._acked.discard(tag)
            self._nacked.discard(tag)
            self._returned.discard(str(tag))
        return out


class ConfirmingPublisher:
    """Publishes persistent, mandatory messages and waits for the broker's confirm.

    Connects on first use. ``on_connect(channel)`` runs after every (re)connect, e.g. to
    declare topology. When the connection breaks, the failing publish raises
    `TransportUnavailable` and the next one reconnects; an idle connection that died
    (missed heartbeats, a reset) is noticed and replaced before publishing, or, when the
    death only shows on the write, the publish is retried once on a fresh connection
    (safe: receivers drop duplicates by ``message_id``).
    """

    def __init__(self, parameters: pika.ConnectionParameters | AmqpSettings | str, *,
                 on_connect: Callable[[BlockingChannel], None] | None = None) -> None:
        if not isinstance(parameters, pika.ConnectionParameters):
            parameters = connection_parameters(parameters)
        self._parameters = parameters
        self._on_connect = on_connect
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None
        self._pipelined: PipelinedChannel | None = None

    @property
    def channel(self) -> BlockingChannel:
        """The open confirm-mode channel (connecting first if needed)."""
        return self._ensure_open()

    def connect(self) -> None:
        """Open the connection now (it also opens lazily on the first publish)."""
        self._ensure_open()

    def _ensure_open(self) -> BlockingChannel:
        if self._connection is not None and self._connection.is_open and self._channel \
                is not None and self._channel.is_open:
            try:
                # Services heartbeats and notices a connection that died while idle.
                self._connection.process_data_events(time_limit=0)
                return self._channel
            except (pika.exceptions.AMQPError, OSError):
                self._drop()
        self._drop()
        try:
            self._connection = pika.BlockingConnection(self._parameters)
            channel = self._connection.channel()
            channel.confirm_delivery()
            if self._on_connect is not None:
                self._on_connect(channel)
            self._channel = channel
            return channel
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._drop()
            raise amqp_errors(
                f"connecting to {self._parameters.host}:{self._parameters.port}", exc) from exc
        except Exception:
            self._drop()
            raise

    def publish(self, *, routing_key: str, body: bytes, exchange: str = "",
                message_id: str | None = None, correlation_id: str | None = None,
                reply_to: str | None = None, content_type: str | None = None,
                headers: Mapping[str, Any] | None = None) -> None:
        """Publish one persistent message and return once the broker confirmed it.

        Raises `TransportUnavailable` when the message is unroutable (no such queue),
        nacked by the broker, or the connection fails; the message may then be published
        again (with the same ``message_id``, so the receiver can drop a duplicate).
        """
        reused = self._connection is not None
        channel = self._ensure_open()
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=message_id, correlation_id=correlation_id, reply_to=reply_to,
            content_type=content_type, headers=dict(headers) if headers else None)
        try:
            try:
                channel.basic_publish(exchange=exchange, routing_key=routing_key, body=body,
                                      properties=properties, mandatory=True)
            except (pika.exceptions.StreamLostError, pika.exceptions.ConnectionWrongStateError,
                    pika.exceptions.ConnectionClosed):
                if not reused:
                    raise
                # A kept connection that died unnoticed (the peer's reset had not arrived
                # when we checked): one more try on a fresh connection. At worst the broker
                # got the first copy too; the receiver drops duplicates by message id.
                self._drop()
                channel = self._ensure_open()
                channel.basic_publish(exchange=exchange, routing_key=routing_key, body=body,
                                      properties=properties, mandatory=True)
        except pika.exceptions.UnroutableError as exc:
            # The channel stays usable: the broker returned the message, nothing is wrong
            # with the connection.
            raise TransportUnavailable(
                f"message unroutable: no queue bound for exchange {exchange!r} "
                f"routing key {routing_key!r}") from exc
        except pika.exceptions.NackError as exc:
            raise TransportUnavailable(
                f"broker refused (nacked) the message for routing key {routing_key!r}") from exc
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._drop()
            raise amqp_errors(f"publishing to {routing_key!r}", exc) from exc

    def publish_many(self, messages: list[OutgoingMessage]) -> list[Exception | None]:
        """Publish a batch with pipelined confirms; per message, None once the broker
        confirmed it, or the `TransportUnavailable` saying why not (unroutable, nacked,
        no confirm in time). A connection failure raises `TransportUnavailable` for the
        whole batch (any of it may have arrived: receivers drop duplicates by message id).
        """
        if not messages:
            return []
        self._ensure_open()
        assert self._connection is not None
        try:
            if self._pipelined is None or not self._pipelined.is_open:
                self._pipelined = PipelinedChannel(self._connection)
            return self._pipelined.publish(messages)
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._drop()
            raise amqp_errors(f"publishing to {messages[0].routing_key!r}", exc) from exc

    def _drop(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        self._pipelined = None
        if connection is not None and connection.is_open:
            # Already broken: nothing more to release.
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                connection.close()

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        self._drop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
