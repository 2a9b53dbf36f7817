"""Fixtures for transport tests: a throw-away PKI made with the openssl CLI, and order bodies."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.canonical import decode_order, encode_order, order_to_dict

FIXTURE_ORDERS = Path(__file__).parent.parent / "fixtures" / "orders"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    #: A client certificate signed by a CA the receiver does not trust.
    rogue_cert: Path
    rogue_key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _ca(d: Path, name: str) -> tuple[Path, Path]:
    key, pem = d / f"{name}.key", d / f"{name}.pem"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "2", "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(pem),
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return pem, key


def _leaf(d: Path, name: str, ca: tuple[Path, Path], ext: str) -> tuple[Path, Path]:
    key, csr, pem, extfile = (d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem",
                              d / f"{name}.ext")
    extfile.write_text(ext)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(csr))
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
             "-CAcreateserial", "-days", "2", "-out", str(pem), "-extfile", str(extfile))
    return pem, key


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server certificate for localhost/127.0.0.1, a client certificate, a rogue one."""
    d = tmp_path_factory.mktemp("pki")
    ca = _ca(d, "doj-test-ca")
    rogue_ca = _ca(d, "rogue-ca")
    server = _leaf(d, "localhost", ca, "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                   "extendedKeyUsage=serverAuth\n")
    client = _leaf(d, "court-client", ca, "extendedKeyUsage=clientAuth\n")
    rogue = _leaf(d, "rogue-client", rogue_ca, "extendedKeyUsage=clientAuth\n")
    return Pki(ca[0], server[0], server[1], client[0], client[1], rogue[0], rogue[1])


def _order_body(name: str = "dv_tro_issue", **changes: object) -> bytes:
    data = order_to_dict(decode_order((FIXTURE_ORDERS / f"{name}.json").read_bytes()))
    data.update(changes)
    return encode_order(decode_order(json.dumps(data))).encode()


@pytest.fixture
def order_body() -> Callable[..., bytes]:
    """Makes a canonical order fixture's intake JSON, with top-level fields changed."""
    return _order_body
