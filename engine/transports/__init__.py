"""Ways to reach a DOJ endpoint: one small interface (`Transport`), one module per transport.

No transport knows about mappings, NIEM or the ledger: it moves an `Envelope` and returns
a `Receipt`, converting its library's errors into `TransportUnavailable` (retry) or
`DestinationRejected` (do not retry).

`build_transport(config)` makes the transport a court's configuration names::

    build_transport({"kind": "https", "url": "https://doj.example/orders",
                     "ca_file": "/etc/engine/doj-ca.pem",
                     "cert_file": "/etc/engine/court.pem", "key_file": "/etc/engine/court.key"})

Kinds: ``amqp`` (`AmqpTransportConfig`), ``https`` (`HttpsTransportConfig`), ``tcp``
(`TcpTransportConfig`), ``file`` (`FileTransportConfig`).

May import: errors and the standard library and wire libraries only: no format, no
stage, no ledger (intake, delivery and the receiver import the transports).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.transports._config import TransportConfigError, config_from_mapping
from engine.transports._secrets import resolve_secrets
from engine.transports.amqp import AmqpTransport, AmqpTransportConfig
from engine.transports.base import Envelope, MockTransport, Receipt, Transport
from engine.transports.file import FileDropTransport, FileTransportConfig, poll_file_acks
from engine.transports.https import HttpsTransport, HttpsTransportConfig
from engine.transports.tcp import TcpTransport, TcpTransportConfig

__all__ = [
    "AmqpTransport",
    "AmqpTransportConfig",
    "Envelope",
    "FileDropTransport",
    "FileTransportConfig",
    "HttpsTransport",
    "HttpsTransportConfig",
    "MockTransport",
    "Receipt",
    "TcpTransport",
    "TcpTransportConfig",
    "Transport",
    "TransportConfig",
    "TransportConfigError",
    "build_transport",
    "poll_file_acks",
    "transport_config",
]

TransportConfig = AmqpTransportConfig | HttpsTransportConfig | TcpTransportConfig \
    | FileTransportConfig

#: kind -> (config class, transport class)
_KINDS: dict[str, tuple[type[Any], type[Transport]]] = {
    "amqp": (AmqpTransportConfig, AmqpTransport),
    "https": (HttpsTransportConfig, HttpsTransport),
    "tcp": (TcpTransportConfig, TcpTransport),
    "file": (FileTransportConfig, FileDropTransport),
}


def transport_config(data: Mapping[str, Any] | TransportConfig, *,
                     where: str = "transport") -> TransportConfig:
    """Check transport settings given as a dict (from YAML) and return the typed config.

    Raises `TransportConfigError` naming ``where`` and the key to fix.
    """
    if not isinstance(data, Mapping):
        if isinstance(data, tuple(cls for cls, _ in _KINDS.values())):
            return data
        raise TransportConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    kind = data.get("kind")
    if kind not in _KINDS:
        raise TransportConfigError(
            f"{where}.kind: must be one of {', '.join(sorted(_KINDS))}, got {kind!r}")
    config_cls, _ = _KINDS[kind]
    data = resolve_secrets(data, where=where)
    result: TransportConfig = config_from_mapping(config_cls, data, where=where)
    return result


def build_transport(config: Mapping[str, Any] | TransportConfig, *,
                    where: str = "transport") -> Transport:
    """The transport for ``config`` (a dict with ``kind`` or a transport config dataclass)."""
    checked = transport_config(config, where=where)
    _, transport_cls = _KINDS[checked.kind]
    return transport_cls(checked)  # type: ignore[call-arg]
