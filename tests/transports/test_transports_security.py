"""Secure by default on every wire (issue 21): TLS unless plaintext is allowed explicitly,
secrets from files or the environment and never printed, encrypted client keys."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.errors import TransportUnavailable
from engine.receiver import Receiver
from engine.receiver._sockets import ServerTls
from engine.receiver.tcp import TcpReceiverServer
from engine.transports import (
    TcpTransport,
    TcpTransportConfig,
    TransportConfigError,
    build_transport,
    transport_config,
)
from engine.transports.base import Envelope

PASSWORD = "s3cr3t-Pw-7781"


def envelope(mcn: str, body: bytes = b"{}") -> Envelope:
    return Envelope(mcn, body, "application/json")


class TestPlaintextNeedsConsent:
    def test_tcp_is_tls_unless_plaintext_is_allowed(self) -> None:
        """Found 6: the TCP transport speaks TLS by default; ``tls: false`` alone is refused,
        with ``allow_plaintext: true`` it is accepted."""
        assert transport_config({"kind": "tcp", "host": "h", "port": 1}).tls is True
        with pytest.raises(TransportConfigError, match="clear text"):
            transport_config({"kind": "tcp", "host": "h", "port": 1, "tls": False})
        assert transport_config({"kind": "tcp", "host": "h", "port": 1, "tls": False,
                                 "allow_plaintext": True}).tls is False

    def test_amqp_needs_amqps_unless_plaintext_is_allowed(self) -> None:
        """Found 6: an amqp:// destination URL is refused without ``allow_plaintext``."""
        base = {"kind": "amqp", "queue": "doj", "reply_to": "acks"}
        with pytest.raises(TransportConfigError, match="clear text"):
            transport_config({**base, "url": "amqp://u:p@doj.example/%2F"})
        with pytest.raises(TransportConfigError, match="clear text"):
            transport_config(base)  # the default URL is plain too
        transport_config({**base, "url": "amqps://doj.example/%2F"})
        transport_config({**base, "url": "amqp://127.0.0.1/%2F", "allow_plaintext": True})

    def test_shipped_example_destinations_use_tls(self) -> None:
        """config/engine.yaml's destinations build without any plaintext permission."""
        from engine.config import load_config

        config = load_config(Path(__file__).parents[2] / "config" / "engine.yaml", env={})
        for name, dest in config.destinations.items():
            settings = dict(dest.settings)
            assert not settings.get("allow_plaintext") and not settings.get("allow_plain_http")
            checked = transport_config({"kind": dest.transport, **settings}, where=name)
            assert getattr(checked, "tls", True) is True


class TestSecrets:
    def test_https_url_with_a_password_is_refused_without_printing_it(self) -> None:
        """Found 10: credentials in an HTTPS URL are refused (not dropped), and no error
        prints them, a bad URL included."""
        for url in (f"https://court:{PASSWORD}@doj.example/orders",
                    f"https://court:{PASSWORD}@doj.example:notaport/orders",
                    f"ftp://court:{PASSWORD}@doj.example/orders"):
            with pytest.raises(TransportConfigError) as info:
                transport_config({"kind": "https", "url": url})
            assert PASSWORD not in str(info.value)

    def test_secrets_come_from_files_and_the_environment(self, tmp_path: Path,
                                                         monkeypatch) -> None:
        """Found 10: ``url_file``, ``url_env`` and ``headers_file`` fill in the secret
        settings; the settings' repr never shows them."""
        (tmp_path / "url").write_text(f"amqps://court:{PASSWORD}@doj.example/%2F\n")
        (tmp_path / "headers").write_text(f"# DOJ token\nAuthorization: Bearer {PASSWORD}\n")
        amqp = transport_config({"kind": "amqp", "queue": "doj", "reply_to": "acks",
                                 "url_file": str(tmp_path / "url")})
        assert PASSWORD in amqp.url and PASSWORD not in repr(amqp)
        monkeypatch.setenv("DOJ_AMQP_URL", f"amqps://court:{PASSWORD}@doj.example/%2F")
        amqp = transport_config({"kind": "amqp", "queue": "doj", "reply_to": "acks",
                                 "url_env": "DOJ_AMQP_URL"})
        assert PASSWORD in amqp.url
        https = transport_config({"kind": "https", "url": "https://doj.example/orders",
                                  "headers_file": str(tmp_path / "headers")})
        assert https.headers == {"Authorization": f"Bearer {PASSWORD}"}
        assert PASSWORD not in repr(https)

    def test_missing_secrets_are_named_not_shown(self, tmp_path: Path) -> None:
        """A secret file that cannot be read or an unset variable is an error naming the
        key; giving a secret twice is refused."""
        with pytest.raises(TransportConfigError, match=r"url_file: cannot read"):
            transport_config({"kind": "amqp", "queue": "d", "reply_to": "a",
                              "url_file": str(tmp_path / "none")})
        with pytest.raises(TransportConfigError, match="NO_SUCH_VAR is not set"):
            transport_config({"kind": "amqp", "queue": "d", "reply_to": "a",
                              "url_env": "NO_SUCH_VAR"})
        with pytest.raises(TransportConfigError, match="only one of"):
            transport_config({"kind": "https", "url": "https://x/", "url_env": "X"})


def _encrypted_client(pki, folder: Path) -> tuple[Path, Path]:
    """The test client's key re-encrypted with a passphrase (openssl)."""
    key = folder / "client-encrypted.key"
    subprocess.run(["openssl", "pkey", "-in", str(pki.client_key), "-aes256",
                    "-passout", f"pass:{PASSWORD}", "-out", str(key)],
                   check=True, capture_output=True, timeout=60)
    (folder / "key-pass").write_text(PASSWORD + "\n")
    return key, folder / "key-pass"


class TestTcpTlsListener:
    def test_default_tcp_config_talks_tls_to_a_real_tls_listener(self, pki) -> None:
        """With no TLS keys at all (just the CA), the transport handshakes with a TLS
        receiver; against a plain listener the same config fails instead of sending."""
        receiver = Receiver(format="canonical")
        tls = ServerTls(cert_file=pki.server_cert, key_file=pki.server_key)
        with TcpReceiverServer(receiver, tls=tls) as srv, TcpTransport(TcpTransportConfig(
                host="127.0.0.1", port=srv.port, ca_file=pki.ca)) as t:
            assert t.send(envelope("TLS1")).ack
        plain = Receiver(format="canonical")
        with TcpReceiverServer(plain) as srv, pytest.raises(TransportUnavailable), \
                TcpTransport(TcpTransportConfig(host="127.0.0.1", port=srv.port,
                                                ca_file=pki.ca, connect_timeout=2,
                                                read_timeout=2)) as t:
            t.send(envelope("TLS2"))
        assert plain.journal.entries() == []

    def test_an_encrypted_client_key_with_its_passphrase_from_a_file(self, pki,
                                                                     tmp_path: Path) -> None:
        """Found 10: mutual TLS with an encrypted key, the passphrase from
        ``key_password_file``; a wrong passphrase is a config error that does not show it."""
        key, password_file = _encrypted_client(pki, tmp_path)
        receiver = Receiver(format="canonical")
        tls = ServerTls(cert_file=pki.server_cert, key_file=pki.server_key, ca_file=pki.ca,
                        require_client_cert=True)
        settings = {"kind": "tcp", "host": "127.0.0.1", "ca_file": str(pki.ca),
                    "cert_file": str(pki.client_cert), "key_file": str(key)}
        with TcpReceiverServer(receiver, tls=tls) as srv, build_transport(
                {**settings, "port": srv.port,
                 "key_password_file": str(password_file)}) as t:
            assert t.send(envelope("KEY1")).ack
        (tmp_path / "wrong").write_text("wrong-passphrase")
        with pytest.raises(TransportConfigError, match="cannot load") as info:
            build_transport({**settings, "port": 1, "key_password_file": str(tmp_path / "wrong")})
        assert PASSWORD not in str(info.value)
