"""build_transport: the right transport for each kind, and config errors that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine.transports as transports
from engine.transports import (
    AmqpTransport,
    FileDropTransport,
    HttpsTransport,
    TcpTransport,
    TcpTransportConfig,
    TransportConfigError,
    build_transport,
    transport_config,
)


@pytest.mark.parametrize(("config", "cls"), [
    ({"kind": "https", "url": "https://doj.example/orders"}, HttpsTransport),
    ({"kind": "tcp", "host": "doj.example", "port": 9100, "tls": False,
      "allow_plaintext": True}, TcpTransport),
    ({"kind": "file", "outbox": "/var/spool/doj/out"}, FileDropTransport),
    ({"kind": "amqp", "url": "amqps://doj.example/%2F", "queue": "doj.orders",
      "reply_to": "court.acks"}, AmqpTransport),
])
def test_kind_selects_the_transport(config: dict, cls: type) -> None:
    """Each kind builds its own transport class (nothing connects yet)."""
    assert type(build_transport(config)) is cls


def test_typed_config_is_accepted_as_is() -> None:
    """A config dataclass can be passed instead of a dict."""
    config = TcpTransportConfig(host="h", port=1)
    assert transport_config(config) is config
    assert isinstance(build_transport(config), TcpTransport)


def test_values_are_typed_from_yaml_data() -> None:
    """Paths become Path objects and integers given for seconds become floats."""
    config = transport_config({"kind": "file", "outbox": "/o", "inbox": "/i"})
    assert config.outbox == Path("/o")
    config = transport_config({"kind": "tcp", "host": "h", "port": 1, "read_timeout": 5})
    assert config.read_timeout == 5.0


@pytest.mark.parametrize(("config", "words"), [
    ({"url": "https://x"}, r"courts\.la\.transport\.kind: must be one of amqp, file, https, tcp"),
    ({"kind": "smtp"}, "got 'smtp'"),
    ({"kind": "https", "url": "https://x", "read_timout": 1}, "did you mean 'read_timeout'"),
    ({"kind": "tcp", "host": "h"}, "missing required key 'port'"),
    ({"kind": "tcp", "host": "h", "port": "9100"}, r"port: must be a whole number"),
    ({"kind": "tcp", "host": "h", "port": 70000}, "between 1 and 65535"),
    ({"kind": "tcp", "host": "h", "port": 1, "tls": "yes"}, "tls: must be true or false"),
    ({"kind": "tcp", "host": "h", "port": 1, "tls": False, "allow_plaintext": True,
      "ca_file": "/ca.pem"}, "need tls: true"),
    ({"kind": "amqp", "queue": "q", "reply_to": "q"}, "different queue"),
    ({"kind": "https", "url": "https://x", "headers": {"a": 1}}, "mapping of names to strings"),
    ("https://x", "expected a mapping"),
])
def test_bad_config_names_where_and_what(config: object, words: str) -> None:
    """Every configuration error says where it is and what to change."""
    with pytest.raises(TransportConfigError, match=words):
        build_transport(config, where="courts.la.transport")  # type: ignore[arg-type]


def test_public_surface_is_exported() -> None:
    """Everything in __all__ exists (the package's public surface is deliberate)."""
    for name in transports.__all__:
        assert hasattr(transports, name), name
