"""The alerting stack for the end-to-end tests: the real Prometheus and Alertmanager
binaries (Debian packages ``prometheus`` and ``prometheus-alertmanager``), and a tiny HTTP
server standing in for the pager and the ticket system.

Everything listens on 127.0.0.1 on free ports and lives in the test's temp dir. Only the
TEST copies of the configs are fast (1 s scrape and evaluation, 1 s ``for:``, 1 s grouping):
the routing tree, matchers and inhibitions are the shipped ones
(config/alertmanager/alertmanager.yml), and the alert expressions, labels and annotations
the shipped config/prometheus/alerts.yml.

Missing binaries FAIL the suite (not skip, even off CI): on-call paging is what it proves.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.services import stop_process, wait_until

REPO = Path(__file__).parents[2]
ALERTMANAGER_CONFIG = REPO / "config" / "alertmanager" / "alertmanager.yml"
ALERT_RULES = REPO / "config" / "prometheus" / "alerts.yml"
#: Longest wait for one event; a healthy run needs a few seconds.
WAIT = 60.0


def binary(*names: str) -> str:
    """The first of ``names`` on PATH; fails the test (never skips) when none is."""
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(f"{' / '.join(names)} not installed (Debian packages prometheus and "
                "prometheus-alertmanager; .ci/run installs them)")


def alertmanager_binary() -> str:
    return binary("prometheus-alertmanager", "alertmanager")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local test URL
        return json.loads(response.read())


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - local test URL
            return True
    except OSError:
        return False


# -- the pager --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Notification:
    """One webhook call from Alertmanager: which receiver path, when, and what."""

    path: str
    received_at: float  # time.time()
    raw: bytes
    payload: dict[str, Any]

    def alerts(self, name: str, status: str | None = None) -> list[dict[str, Any]]:
        return [a for a in self.payload.get("alerts", [])
                if a["labels"].get("alertname") == name
                and (status is None or a["status"] == status)]


@dataclass
class Pager:
    """Records every webhook notification; `first` waits for one (bounded)."""

    server: ThreadingHTTPServer
    received: list[Notification] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def first(self, path: str, name: str, status: str, *,
              limit: float = WAIT) -> tuple[Notification, dict[str, Any]]:
        """The first notification at ``path`` carrying alert ``name`` in ``status``."""
        found: list[tuple[Notification, dict[str, Any]]] = []

        def look() -> bool:
            with self.lock:
                for note in self.received:
                    hits = note.alerts(name, status) if note.path == path else []
                    if hits:
                        found.append((note, hits[0]))
                        return True
            return False

        wait_until(look, f"{status} {name} at the pager's {path}", limit=limit, step=0.1,
                   describe=self.summary)
        return found[0]

    def summary(self) -> str:
        with self.lock:
            return "; ".join(f"{n.path}: " + ",".join(
                f"{a['labels'].get('alertname')}={a['status']}"
                for a in n.payload.get("alerts", [])) for n in self.received) or "nothing"


def start_pager() -> Pager:
    pager: Pager

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with pager.lock:
                pager.received.append(Notification(self.path, time.time(), raw,
                                                   json.loads(raw)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    pager = Pager(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return pager


# -- Alertmanager -------------------------------------------------------------------------------

def alertmanager_test_config(pager_url: str) -> dict[str, Any]:
    """The shipped config with each receiver pointed at the pager (path = receiver name)
    and grouping waits of 1 s; routes, matchers and inhibitions unchanged."""
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    config["global"] = {"resolve_timeout": "5m"}
    config["receivers"] = [
        {"name": r["name"], "webhook_configs": [
            {"url": f"{pager_url}/{r['name']}", "send_resolved": True}]}
        for r in config["receivers"]]

    def fast(route: dict[str, Any]) -> None:
        route.update(group_wait="1s", group_interval="1s", repeat_interval="1h")
        for child in route.get("routes", []):
            fast(child)

    fast(config["route"])
    return config


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def stop(self) -> None:
        stop_process(self.proc, timeout=10)


def _spawn(argv: list[str], log: Path, ready: Callable[[], bool], what: str,
           port: int) -> Process:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    process = Process(proc, port, log)
    try:
        wait_until(lambda: proc.poll() is None and ready(), f"{what} ready", limit=WAIT,
                   step=0.1, describe=lambda: f"exit={proc.poll()} log: {process.tail()}")
    except BaseException:
        process.stop()
        raise
    return process


def start_alertmanager(workdir: Path, pager_url: str) -> Process:
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_test_config(pager_url)), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return _spawn([alertmanager_binary(), f"--config.file={config}",
                   f"--storage.path={workdir / 'data'}",
                   f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                  workdir / "alertmanager.log", lambda: answers(f"{url}/-/ready"),
                  "alertmanager", port)


# -- Prometheus ---------------------------------------------------------------------------------

def fast_rules() -> dict[str, Any]:
    """The shipped alert rules with every ``for:`` cut to 1 s (the test's only change)."""
    rules: dict[str, Any] = yaml.safe_load(ALERT_RULES.read_text(encoding="utf-8"))
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "1s"
    return rules


def start_prometheus(workdir: Path, *, engine_port: int, alertmanager_port: int) -> Process:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alerts.yml").write_text(yaml.safe_dump(fast_rules()), encoding="utf-8")
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "rule_files": ["alerts.yml"],
        "alerting": {"alertmanagers": [{"static_configs": [
            {"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]},
        "scrape_configs": [{"job_name": "po-engine", "static_configs": [
            {"targets": [f"127.0.0.1:{engine_port}"]}]}],
    }
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return _spawn([binary("prometheus"), f"--config.file={path}",
                   f"--storage.tsdb.path={workdir / 'data'}",
                   f"--web.listen-address=127.0.0.1:{port}"],
                  workdir / "prometheus.log", lambda: answers(f"{url}/-/ready"),
                  "prometheus", port)
