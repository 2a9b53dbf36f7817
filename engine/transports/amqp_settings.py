"""Shared RabbitMQ plumbing: connection settings from a URL, and pika's errors as the engine's.
The topology is `engine.transports.amqp_topology`, confirmed publishing
`engine.transports.amqp_publish`.

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

import ssl
import urllib.parse
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pika
import pika.exceptions

from engine.errors import DestinationRejected, TransportUnavailable
from engine.transports._config import TransportConfigError

__all__ = [
    "AmqpSettings",
    "amqp_errors",
    "connection_parameters",
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
