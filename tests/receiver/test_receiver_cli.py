"""`engine receiver` as DOJ teams run it: a real process on a real port, faults from flags."""

from __future__ import annotations

import functools
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine.ack_types import Accepted
from engine.cli import build_parser
from engine.errors import TransportUnavailable
from engine.receiver import parse_json_ack
from engine.transports import Envelope, build_transport

ROOT = Path(__file__).parent.parent.parent


@contextmanager
def running_receiver(*flags: str) -> Iterator[tuple[str, list[str]]]:
    """Start `engine receiver` with ``flags``; yield its address line and, after, its output."""
    proc = subprocess.Popen([sys.executable, "-m", "engine", "receiver", *flags],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rest: list[str] = []
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("receiver:"), first + proc.stderr.read()  # type: ignore[union-attr]
        yield first, rest
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=30)
        rest.extend(out.splitlines())
        assert proc.returncode == 0


def test_tcp_receiver_process_answers_and_reports_totals(order_body) -> None:
    """The CLI receiver answers a TCP sender, prints a line per message, then JSON totals."""
    with running_receiver("--transport", "tcp", "--port", "0", "--format", "canonical",
                          "--json") as (first, rest):
        port = int(re.search(r":(\d+) ", first).group(1))
        assert "PLAINTEXT" in first  # plain mode says so on its start line
        with build_transport({"kind": "tcp", "host": "127.0.0.1", "port": port,
                              "tls": False, "allow_plaintext": True}) as t:
            ack = parse_json_ack(t.send(Envelope("CLI1", order_body(), "application/json")).ack)
            t.send(Envelope("CLI1", order_body(), "application/json"))
    assert isinstance(ack, Accepted)
    assert f"tcp CLI1 ACCEPTED {ack.record_id}" in rest
    assert f"tcp CLI1 ACCEPTED {ack.record_id} (duplicate)" in rest
    totals = json.loads(rest[-1])
    assert totals["accepted"] == 1
    assert totals["duplicates"] == 1


def test_fault_flags_apply(order_body) -> None:
    """--fail-next 1 makes the first HTTP request a 503; the retry is accepted."""
    with running_receiver("--transport", "http", "--port", "0", "--format", "canonical",
                          "--fail-next", "1") as (first, _rest):
        url = re.search(r"(http://\S+) ", first).group(1)
        with build_transport({"kind": "https", "url": url, "allow_plain_http": True}) as t:
            with pytest.raises(TransportUnavailable, match="503"):
                t.send(Envelope("F1", order_body(), "application/json"))
            ack = parse_json_ack(t.send(Envelope("F1", order_body(), "application/json")).ack)
    assert isinstance(ack, Accepted)


def test_file_transport_needs_its_directories() -> None:
    """--transport file without --pickup/--acks stops with a message saying so."""
    proc = subprocess.run([sys.executable, "-m", "engine", "receiver", "--transport", "file"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "--pickup and --acks" in proc.stderr


def test_rate_flags_are_checked() -> None:
    """A fault rate outside 0..1 is refused by the argument parser."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["receiver", "--transport", "http", "--fail-rate", "2"])


def _control(url: str, path: str, data: dict | None = None, *,
             token: str | None = None) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    assert url.startswith("http://127.0.0.1:")
    request = urllib.request.Request(  # noqa: S310 - the loopback control API
        url + path, method="POST" if data is not None else "GET",
        data=json.dumps(data).encode() if data is not None else None,
        headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def test_control_api_changes_faults_and_takes_the_receiver_down_and_up(order_body) -> None:
    """A running receiver process is told over its control API to fail, go down and come up."""
    with running_receiver("--transport", "http", "--port", "0", "--format", "canonical",
                          "--control-port", "0") as (first, _rest):
        url = re.search(r"(http://\S+/orders) ", first).group(1)
        control = re.search(r"control (http://\S+)", first).group(1)
        token = re.search(r"token (\S+)", first).group(1)
        # Without the token (what a web page in a local browser could send): refused.
        assert _control(control, "/down", {})[0] == 401
        assert _control(control, "/stats")[0] == 401
        assert _control(control, "/stats", token="x" * 32)[0] == 401
        control_api = functools.partial(_control, token=token)
        assert control_api(control, "/faults", {"fail_next": 1})[0] == 200
        with build_transport({"kind": "https", "url": url, "allow_plain_http": True}) as t:
            with pytest.raises(TransportUnavailable, match="503"):
                t.send(Envelope("C1", order_body(), "application/json"))
            assert control_api(control, "/down", {}) == (200, {"up": False})
            with pytest.raises(TransportUnavailable):
                t.send(Envelope("C1", order_body(), "application/json"))
            assert control_api(control, "/up", {}) == (200, {"up": True})
            t.send(Envelope("C1", order_body(), "application/json"))
        status, stats = control_api(control, "/stats")
        assert (status, stats["accepted"], stats["failed"]) == (200, 1, 1)
        status, error = control_api(control, "/faults", {"fail_nxt": 1})
        assert status == 400
        assert "fail_nxt" in error["error"]


def test_outcome_lines_name_verdict_and_faults() -> None:
    """A rejected message's line carries code and reason; faults are named."""
    from engine.ack_types import Rejected
    from engine.receiver import Fault, Outcome
    from engine.receiver.cli import describe_outcome

    outcome = Outcome("drop", ack=Rejected("M", "INVALID", "court.ori: required"),
                      faults=frozenset({Fault.DROP}))
    assert describe_outcome("M", "http", outcome) == (
        "http M REJECTED INVALID: court.ori: required (fault drop)")
    assert describe_outcome("M", "tcp", Outcome("fail", faults=frozenset({Fault.FAIL}))) == (
        "tcp M FAILED (fault: transient error, not processed)")
