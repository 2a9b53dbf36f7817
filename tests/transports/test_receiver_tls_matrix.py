"""The reference receiver's TLS matrix (issue 21): plain, server TLS and mutual TLS, over
HTTP and TCP, against the engine's own transports; a client certificate that is missing,
wrong (not for client use) or from another CA is refused; the CLI's TLS flags either make
a consistent server or are refused."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from engine.errors import TransportUnavailable
from engine.receiver import Receiver
from engine.receiver.cli import build_server, register_receiver
from engine.transports import build_transport
from engine.transports.base import Envelope


def _args(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register_receiver(parser.add_subparsers())
    return parser.parse_args(["receiver", "--port", "0", "--quiet", *flags])


def _client(kind: str, server, **tls: object):  # type: ignore[no-untyped-def]
    settings: dict[str, object] = {k: str(v) for k, v in tls.items() if v is not None}
    if kind == "http":
        url = server.url
        if not server.tls:
            settings["allow_plain_http"] = True
        return build_transport({"kind": "https", "url": url, "connect_timeout": 2,
                                "read_timeout": 2, **settings})
    if not server.tls:
        settings |= {"tls": False, "allow_plaintext": True}
    return build_transport({"kind": "tcp", "host": "127.0.0.1", "port": server.port,
                            "connect_timeout": 2, "read_timeout": 2, **settings})


def _delivers(kind: str, server, **tls: object) -> bool:  # type: ignore[no-untyped-def]
    try:
        with _client(kind, server, **tls) as transport:
            transport.send(Envelope("M-TLS", b"{}", "application/json"))
        return True
    except TransportUnavailable:
        return False


def _tls_client_delivers(kind: str, server, ca: Path) -> bool:  # type: ignore[no-untyped-def]
    settings: dict[str, object] = (
        {"kind": "https", "url": server.url.replace("http://", "https://", 1)}
        if kind == "http" else {"kind": "tcp", "host": "127.0.0.1", "port": server.port})
    try:
        with build_transport({**settings, "ca_file": str(ca), "connect_timeout": 2,
                              "read_timeout": 2}) as transport:
            transport.send(Envelope("M-TLS", b"{}", "application/json"))
        return True
    except TransportUnavailable:
        return False


@pytest.mark.parametrize("kind", ["http", "tcp"])
def test_tls_matrix(kind: str, pki) -> None:
    """Each server mode against each client: only the right combinations deliver."""
    plain = _args("--transport", kind)
    server_tls = _args("--transport", kind, "--tls-cert", str(pki.server_cert),
                       "--tls-key", str(pki.server_key))
    mutual = _args("--transport", kind, "--tls-cert", str(pki.server_cert),
                   "--tls-key", str(pki.server_key), "--tls-ca", str(pki.ca))
    good = {"ca_file": pki.ca, "cert_file": pki.client_cert, "key_file": pki.client_key}
    cases = [
        (plain, {}, True),
        (server_tls, {"ca_file": pki.ca}, True),
        (server_tls, {}, False),  # the system CAs do not know the test CA
        (mutual, good, True),
        (mutual, {"ca_file": pki.ca}, False),  # no client certificate
        (mutual, {**good, "cert_file": pki.server_cert, "key_file": pki.server_key},
         False),  # the right CA, but a server-only certificate (no clientAuth)
        (mutual, {**good, "cert_file": pki.rogue_cert, "key_file": pki.rogue_key},
         False),  # another CA
    ]
    for args, client, expected in cases:
        receiver = Receiver(format="auto")
        with build_server(args, receiver).up() as server:
            if args is plain:  # a TLS client never falls back to plain text
                assert not _tls_client_delivers(kind, server, pki.ca)
            assert _delivers(kind, server, **client) is expected, (vars(args), client)


@pytest.mark.parametrize("flags", [
    ["--tls-ca", "CA"],
    ["--require-client-cert"],
    ["--tls-ca", "CA", "--require-client-cert"],
    ["--tls-cert", "CERT", "--tls-key", "KEY", "--require-client-cert"],
    ["--tls-cert", "CERT"],
])
def test_inconsistent_tls_flags_are_refused(flags: list[str], pki) -> None:
    """Found 7: a CA or --require-client-cert without a server certificate (which used to
    serve plain HTTP), or client certificates required without a CA, stop the start."""
    files = {"CA": str(pki.ca), "CERT": str(pki.server_cert), "KEY": str(pki.server_key)}
    args = _args("--transport", "http", *[files.get(f, f) for f in flags])
    with pytest.raises(SystemExit, match="engine receiver: "):
        build_server(args, Receiver())


def test_the_receiver_takes_no_password_on_the_command_line(tmp_path: Path,
                                                            monkeypatch) -> None:
    """Found 10: --amqp-url with a password is refused (argv is public); the URL comes from
    $ENGINE_RECEIVER_AMQP_URL or --amqp-url-file."""
    from engine.receiver.cli import _amqp_url

    with pytest.raises(SystemExit, match="ENGINE_RECEIVER_AMQP_URL") as info:
        _amqp_url(_args("--transport", "amqp", "--amqp-url", "amqps://doj:Pw-991@b/%2F"))
    assert "Pw-991" not in str(info.value)
    secret = tmp_path / "url"
    secret.write_text("amqps://doj:Pw-991@b/%2F\n")
    assert _amqp_url(_args("--transport", "amqp", "--amqp-url-file", str(secret))) \
        == "amqps://doj:Pw-991@b/%2F"
    monkeypatch.setenv("ENGINE_RECEIVER_AMQP_URL", "amqps://doj:Pw-992@b/%2F")
    assert _amqp_url(_args("--transport", "amqp")) == "amqps://doj:Pw-992@b/%2F"
