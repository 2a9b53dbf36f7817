"""The metrics server listens on loopback unless told otherwise (issue 21, found 7)."""

from __future__ import annotations

import socket

from prometheus_client import CollectorRegistry

from engine.config import parse_config
from engine.observability import metrics


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
            address = str(probe.getsockname()[0])
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_metrics_bind_to_loopback_by_default() -> None:
    server = metrics.start_http(0, CollectorRegistry())
    try:
        assert server.host == "127.0.0.1"
        assert _reachable("127.0.0.1", server.port)
        other = _other_address()
        if other is not None:
            assert not _reachable(other, server.port)
    finally:
        server.stop()


def test_metrics_host_is_a_setting() -> None:
    assert parse_config({}, env={}).metrics_host == "127.0.0.1"
    assert parse_config({"metrics_host": "0.0.0.0"}, env={}).metrics_host == "0.0.0.0"  # noqa: S104
