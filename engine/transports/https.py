"""HTTPS transport: POST each envelope to the DOJ endpoint over mutual TLS, the ack in the response.

Built on the standard library's `http.client` on purpose: one POST per envelope on a kept
connection needs no more, `ssl.SSLContext` gives mutual TLS directly, and every failure
mode is a plain exception we map ourselves (no extra dependency, no hidden retries or
redirects: retries belong to the engine's retry policy, not to an HTTP library).

Status mapping (the DOJ's business answer, accept or reject, is the ack in a 2xx body):

- 2xx: delivered; `Receipt.ack` is the response body (``None`` when empty).
- 408, 429, 5xx, connection errors, timeouts, TLS handshake failures: `TransportUnavailable`.
- Every other status (400, 401, 403, 404, 413, 415, 3xx ...): `DestinationRejected`.

A kept connection the server closed while idle fails on reuse before any response; that
one case is retried at once on a fresh connection (safe: the receiver drops duplicates by
message control number).
"""

from __future__ import annotations

import contextlib
import http.client
import ssl
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from engine.errors import DestinationRejected, TransportUnavailable
from engine.transports._config import TransportConfigError, redact_url
from engine.transports._tls import client_tls_context
from engine.transports.base import Envelope, Receipt, Transport

__all__ = ["MCN_HEADER", "HttpsTransport", "HttpsTransportConfig"]

#: The header carrying the message control number (the receiver's duplicate key).
MCN_HEADER = "X-Message-Control-Number"
_TRANSIENT_STATUSES = frozenset({408, 429})
#: Errors that mean "the kept connection was already dead" when they happen on reuse.
_STALE_CONNECTION = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)


@dataclass(frozen=True, kw_only=True, slots=True)
class HttpsTransportConfig:
    """The DOJ's HTTPS endpoint and how to reach it."""

    kind: Literal["https"] = "https"
    url: str
    #: CA bundle that signed the DOJ server certificate (system store if omitted).
    ca_file: Path | None = None
    #: Our client certificate and key, for mutual TLS.
    cert_file: Path | None = None
    key_file: Path | None = None
    verify_hostname: bool = True
    connect_timeout: float = 5.0
    #: Longest wait for the response once the request is sent.
    read_timeout: float = 30.0
    #: Largest response body read (the ack); more is a protocol error.
    max_response_bytes: int = 1024 * 1024
    #: Allow an http:// URL (local testing only: no TLS at all).
    allow_plain_http: bool = False
    #: Extra request headers, e.g. a bearer token: give secret ones as ``headers_file``.
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    #: Passphrase of ``key_file`` (give it as ``key_password_file`` or ``key_password_env``).
    key_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise TransportConfigError(
                f"url must be https://host[:port]/path, got {redact_url(self.url)!r}")
        if parts.username or parts.password:
            # Never dropped silently, never printed: a token belongs in headers_file.
            raise TransportConfigError(
                "url carries a user name or password: put the credential in a header "
                "(headers_file: a secret file of 'Name: value' lines) and leave it out of "
                "the url")
        if parts.scheme == "http" and not self.allow_plain_http:
            raise TransportConfigError(
                "url is plain http://: use https://, or set allow_plain_http: true for local tests")
        if parts.scheme == "http" and (self.ca_file or self.cert_file or self.key_file):
            raise TransportConfigError("ca_file/cert_file/key_file need an https:// url")
        try:
            parts.port  # noqa: B018 - validates the port
        except ValueError:
            raise TransportConfigError(
                f"url port is not a number: {redact_url(self.url)!r}") from None
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise TransportConfigError("connect_timeout and read_timeout must be above zero")


class HttpsTransport(Transport):
    """POSTs envelopes to one URL on a kept (mutual-TLS) connection."""

    def __init__(self, config: HttpsTransportConfig) -> None:
        self.config = config
        parts = urllib.parse.urlsplit(config.url)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._tls else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._context: ssl.SSLContext | None = None
        if self._tls:
            self._context = client_tls_context(
                ca_file=config.ca_file, cert_file=config.cert_file, key_file=config.key_file,
                key_password=config.key_password,
                verify_hostname=config.verify_hostname, where="https transport")
        self._conn: http.client.HTTPConnection | None = None
        #: Requests answered on the current connection (0: it is fresh).
        self._answered = 0

    def connect(self) -> None:
        if self._conn is not None and self._conn.sock is not None:
            return
        self.close()
        if self._tls:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self.config.connect_timeout,
                context=self._context)
        else:
            conn = http.client.HTTPConnection(self._host, self._port,
                                              timeout=self.config.connect_timeout)
        try:
            conn.connect()
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            conn.close()
            raise TransportUnavailable(
                f"https connect to {self._host}:{self._port}: "
                f"{exc.__class__.__name__}: {exc}") from exc
        assert conn.sock is not None
        conn.sock.settimeout(self.config.read_timeout)
        self._conn = conn
        self._answered = 0

    def send(self, envelope: Envelope) -> Receipt:
        reused = self._conn is not None and self._conn.sock is not None and self._answered > 0
        try:
            return self._post(envelope)
        except _STALE_CONNECTION as exc:
            self.close()
            if not reused:
                raise self._unavailable(exc) from exc
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            self.close()
            raise self._unavailable(exc) from exc
        # The kept connection had died while idle: one fresh attempt.
        try:
            return self._post(envelope)
        except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
            self.close()
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: BaseException) -> TransportUnavailable:
        if isinstance(exc, TimeoutError):
            return TransportUnavailable(
                f"https {self._host}:{self._port}: no response within "
                f"{self.config.read_timeout}s")
        return TransportUnavailable(
            f"https {self._host}:{self._port}: {exc.__class__.__name__}: {exc}")

    def _post(self, envelope: Envelope) -> Receipt:
        self.connect()
        conn = self._conn
        assert conn is not None
        headers = {
            **self.config.headers,
            **envelope.headers,
            "Content-Type": envelope.content_type,
            "Content-Length": str(len(envelope.body)),
            MCN_HEADER: envelope.mcn,
        }
        conn.request("POST", self._path, body=envelope.body, headers=headers)
        response = conn.getresponse()
        body = response.read(self.config.max_response_bytes + 1)
        self._answered += 1
        if len(body) > self.config.max_response_bytes:
            self.close()
            raise TransportUnavailable(
                f"https {self._host}:{self._port}: response above "
                f"{self.config.max_response_bytes} bytes")
        if response.will_close:
            self.close()
        status = response.status
        if 200 <= status < 300:
            return Receipt(envelope.mcn, body or None)
        what = f"https {self._host}:{self._port} answered {status} {response.reason}"
        if status >= 500 or status in _TRANSIENT_STATUSES:
            retry_after = response.getheader("Retry-After")
            raise TransportUnavailable(
                what + (f" (Retry-After: {retry_after})" if retry_after else ""))
        raise DestinationRejected(what)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()
