"""Shared RabbitMQ plumbing: settings from a URL, quorum-queue topology, confirmed publishing.

Both ends of the engine that speak AMQP use this module: the intake consumer (court CMS ->
engine) and the AMQP transport (engine -> DOJ). It is the one place that turns pika's
errors into the engine's: nothing above it sees a pika exception.

- `AmqpSettings` / `connection_parameters()`: ``amqp://`` and ``amqps://`` URLs (TLS with a
  CA file, client certificate and key, hostname verification) into
  `pika.ConnectionParameters` with heartbeats and a blocked-connection timeout.
- `QueueTopology` / `declare_topology()`: a durable *quorum* queue with a dead-letter
  exchange, a dead-letter queue and a delivery limit, so a poison message ends up parked
  with its reason instead of looping forever.
- `ConfirmingPublisher`: persistent, mandatory publishes on a confirm-mode channel; a
  message is "sent" only when the broker confirmed it. Unroutable, nacked and connection
  failures raise `TransportUnavailable`; the next publish reconnects. `publish_many`
  pipelines confirms: it publishes a whole batch, then waits for the broker's confirms
  of all of it (one round trip for the batch instead of one per message) and says, per
  message, whether it was confirmed.

pika's `BlockingConnection` is not thread-safe: use one publisher per thread.
"""

from __future__ import annotations

import contextlib
import ssl
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from engine.errors import DestinationRejected, TransportUnavailable
from engine.transports._config import TransportConfigError

__all__ = [
    "AmqpSettings",
    "ConfirmingPublisher",
    "OutgoingMessage",
    "PipelinedChannel",
    "QueueTopology",
    "amqp_errors",
    "connection_parameters",
    "declare_topology",
    "delete_topology",
]

#: Seconds between heartbeats: a dead peer is noticed within about two of these.
DEFAULT_HEARTBEAT = 30
#: Seconds a connection may stay blocked by a broker resource alarm before it is dropped.
DEFAULT_BLOCKED_TIMEOUT = 60.0
#: AMQP reply code for "a queue exists with other arguments" (a configuration problem).
_PRECONDITION_FAILED = 406
#: AMQP reply codes that mean "not allowed": retrying does not help.
_ACCESS_REFUSED = 403

# Query parameters accepted in the URL, and the AmqpSettings field each one sets.
_QUERY_KEYS = {
    "heartbeat": "heartbeat",
    "blocked_connection_timeout": "blocked_connection_timeout",
    "connection_attempts": "connection_attempts",
    "retry_delay": "retry_delay",
    "socket_timeout": "socket_timeout",
    "cafile": "ca_file",
    "certfile": "cert_file",
    "keyfile": "key_file",
    "verify_hostname": "verify_hostname",
    "server_name": "server_name",
    "connection_name": "connection_name",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class AmqpSettings:
    """Where and how to connect to RabbitMQ.

    ``url`` carries host, port, credentials and virtual host, and may carry any other
    setting as a query parameter (``amqps://u:p@host/vhost?cafile=/etc/ca.pem&heartbeat=15``).
    A setting given explicitly here wins over the same setting in the URL.
    """

    url: str = field(default="amqp://guest:guest@127.0.0.1:5672/%2F", repr=False)
    heartbeat: int | None = None
    blocked_connection_timeout: float | None = None
    connection_attempts: int | None = None
    retry_delay: float | None = None
    socket_timeout: float | None = None
    #: TLS (amqps:// only): CA bundle to verify the broker, client certificate and key.
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    #: Passphrase of ``key_file``.
    key_password: str | None = field(default=None, repr=False)
    verify_hostname: bool | None = None
    #: Name to verify the broker's certificate against, when it differs from the URL host.
    server_name: str | None = None
    #: Shown in the management UI, so operators can tell the engine's connections apart.
    connection_name: str | None = None


def _parse_bool(key: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise TransportConfigError(f"AMQP URL query {key}: expected true or false")


def _query_settings(query: str) -> dict[str, Any]:
    """Settings named in the URL's query string, typed like the `AmqpSettings` fields."""
    out: dict[str, Any] = {}
    for key, values in urllib.parse.parse_qs(query, keep_blank_values=True).items():
        if key not in _QUERY_KEYS:
            known = ", ".join(sorted(_QUERY_KEYS))
            raise TransportConfigError(
                f"AMQP URL query: unknown parameter {key!r}; known: {known}")
        raw = values[-1]
        name = _QUERY_KEYS[key]
        try:
            if name in ("heartbeat", "connection_attempts"):
                out[name] = int(raw)
            elif name in ("blocked_connection_timeout", "retry_delay", "socket_timeout"):
                out[name] = float(raw)
            elif name in ("ca_file", "cert_file", "key_file"):
                out[name] = Path(raw)
            elif name == "verify_hostname":
                out[name] = _parse_bool(key, raw)
            else:
                out[name] = raw
        except ValueError as exc:
            if isinstance(exc, TransportConfigError):
                raise
            raise TransportConfigError(f"AMQP URL query {key}: not a number") from exc
    return out


def _tls_context(settings: AmqpSettings) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None)
        if settings.cert_file:
            context.load_cert_chain(
                str(settings.cert_file),
                str(settings.key_file) if settings.key_file else None,
                password=settings.key_password)
    except (OSError, ssl.SSLError) as exc:
        raise TransportConfigError(
            f"AMQP TLS: cannot load CA/certificate/key files: {exc.__class__.__name__}: {exc}"
        ) from exc
    context.check_hostname = settings.verify_hostname is not False
    return context


def connection_parameters(settings: AmqpSettings | str) -> pika.ConnectionParameters:
    """Turn an `AmqpSettings` (or a bare URL) into `pika.ConnectionParameters`.

    Raises `TransportConfigError` naming the problem (scheme, port, query key, TLS files).
    """
    if isinstance(settings, str):
        settings = AmqpSettings(url=settings)
    try:
        parts = urllib.parse.urlsplit(settings.url)
        parts.hostname  # noqa: B018 - a bad [IPv6] host fails here, not later
    except ValueError:
        raise TransportConfigError("AMQP URL cannot be parsed (amqps://user:password@host"
                                   "[:port]/vhost)") from None
    if parts.scheme not in ("amqp", "amqps"):
        raise TransportConfigError(
            f"AMQP URL: scheme must be amqp:// or amqps://, not {parts.scheme or '(none)'}://")
    merged = _query_settings(parts.query)
    explicit = {name: getattr(settings, name) for name in _QUERY_KEYS.values()
                if getattr(settings, name) is not None}
    merged.update(explicit)
    settings = replace(settings, **merged)
    tls = parts.scheme == "amqps"
    if not tls and (settings.ca_file or settings.cert_file or settings.key_file):
        raise TransportConfigError(
            "AMQP URL: CA/certificate/key files given for a plain amqp:// URL; use amqps://")
    if settings.key_file and not settings.cert_file:
        raise TransportConfigError("AMQP TLS: key_file given without cert_file")
    try:
        port = parts.port or (5671 if tls else 5672)
    except ValueError as exc:
        raise TransportConfigError("AMQP URL: the port is not a number") from exc
    host = parts.hostname or "localhost"
    # The path is the virtual host, percent-encoded ("/%2F" is the default vhost "/").
    vhost = urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    credentials = pika.PlainCredentials(
        urllib.parse.unquote(parts.username) if parts.username else "guest",
        urllib.parse.unquote(parts.password) if parts.password else "guest")
    kwargs: dict[str, Any] = {
        "host": host,
        "port": port,
        "virtual_host": vhost,
        "credentials": credentials,
        "heartbeat": settings.heartbeat if settings.heartbeat is not None
        else DEFAULT_HEARTBEAT,
        "blocked_connection_timeout": settings.blocked_connection_timeout
        if settings.blocked_connection_timeout is not None else DEFAULT_BLOCKED_TIMEOUT,
    }
    if settings.connection_attempts is not None:
        kwargs["connection_attempts"] = settings.connection_attempts
    if settings.retry_delay is not None:
        kwargs["retry_delay"] = settings.retry_delay
    if settings.socket_timeout is not None:
        kwargs["socket_timeout"] = settings.socket_timeout
    if settings.connection_name:
        kwargs["client_properties"] = {"connection_name": settings.connection_name}
    if tls:
        kwargs["ssl_options"] = pika.SSLOptions(_tls_context(settings),
                                                settings.server_name or host)
    try:
        return pika.ConnectionParameters(**kwargs)
    except (TypeError, ValueError) as exc:
        raise TransportConfigError(f"AMQP settings: {exc}") from exc


def amqp_errors(what: str, exc: BaseException) -> TransportUnavailable | DestinationRejected:
    """The engine error for a pika (or socket) error raised while doing ``what``.

    Configuration mismatches and refused access are permanent (`DestinationRejected`);
    everything else (connection refused or lost, heartbeat timeout, blocked connection,
    nack, unroutable) is transient (`TransportUnavailable`).
    """
    closed_by_broker = (pika.exceptions.ChannelClosedByBroker,
                        pika.exceptions.ConnectionClosedByBroker)
    if isinstance(exc, closed_by_broker) and exc.reply_code in (_PRECONDITION_FAILED,
                                                                _ACCESS_REFUSED):
        return DestinationRejected(
            f"{what}: broker refused ({exc.reply_code} {exc.reply_text})")
    if isinstance(exc, pika.exceptions.ProbableAuthenticationError
                  | pika.exceptions.ProbableAccessDeniedError
                  | pika.exceptions.AuthenticationError):
        return DestinationRejected(f"{what}: broker refused the credentials or virtual host")
    return TransportUnavailable(f"{what}: {exc.__class__.__name__}: {exc}".rstrip(": "))


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
