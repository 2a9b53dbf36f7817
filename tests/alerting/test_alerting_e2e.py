"""On-call, end to end: a real `engine run`, the real Prometheus and Alertmanager, and a
pager. An emergency order arrives late (issued 50 minutes ago: the shipped deadline policy
gives it one hour) for a destination that is down. The test proves, in the order on-call
lives it:

1. DeadlineAtRisk reaches the pager before the order's due time;
2. EmergencyOrderNotDelivered reaches the pager as critical;
3. the payloads carry the runbook link and none of the order's personal data;
4. the destination comes back: the order is delivered and the pager gets the resolved
   notifications;
5. the engine is killed: EngineDown reaches the pager.

Only waits for events (bounded); no timed assertion. The one comparison of times is the
acceptance itself: the page arrived before the due time, which is 10 minutes away.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.ledger import Ledger, open_database
from engine.receiver import HttpReceiverServer, Receiver
from tests.alerting.stack import (
    REPO,
    WAIT,
    Pager,
    Process,
    free_port,
    start_alertmanager,
    start_pager,
    start_prometheus,
)
from tests.services import stop_process, wait_until

pytestmark = pytest.mark.integration

FIXTURE = REPO / "tests" / "fixtures" / "orders" / "epo_issue.json"
ORDER_KEY = "CA037035J/SD-EPO-88812"
#: Personal data in the fixture: none of it may appear in any notification.
PERSONAL = ("García", "López", "José", "Luis", "Ramírez", "Sofía", "Officer #4471")
DEADLINE_ALERTS = ("DeadlineAtRisk", "EmergencyOrderNotDelivered")


def late_emergency_order(issued: dt.datetime) -> bytes:
    """The EPO fixture, issued at ``issued`` (its court's dates follow)."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    local = issued.astimezone(zoneinfo.ZoneInfo("America/Los_Angeles"))
    data["issued_at"] = local.isoformat()
    data["effective_date"] = local.date().isoformat()
    # Fam. Code 6256: an EPO ends at the earlier of the 5th court day and the 7th calendar
    # day after issue. Five calendar days is within both on any day of the week (the 5th
    # court day is never sooner), so the order is valid whatever day the suite runs.
    data["expiration_date"] = (local.date() + dt.timedelta(days=5)).isoformat()
    data["service"]["served_at"] = (local + dt.timedelta(minutes=5)).isoformat()
    return json.dumps(data).encode()


class Stack:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pager: Pager = start_pager()
        self.processes: list[Process] = []
        self.engine: subprocess.Popen[bytes] | None = None
        self.receiver: HttpReceiverServer | None = None
        self.destination_port = free_port()  # nothing listens: the destination is down
        self.metrics_port = free_port()
        self.ledger_url = f"sqlite:///{tmp / 'ledger.db'}"

    def start(self) -> None:
        alertmanager = start_alertmanager(self.tmp / "alertmanager", self.pager.url)
        self.processes.append(alertmanager)
        self.processes.append(start_prometheus(self.tmp / "prometheus",
                                               engine_port=self.metrics_port,
                                               alertmanager_port=alertmanager.port))
        config = self.tmp / "engine.yaml"
        config.write_text(json.dumps({
            "ledger": {"url": self.ledger_url},
            "spool_dir": str(self.tmp / "spool"),
            "courts": {"*": {"destination": "doj"}},
            "destinations": {"doj": {"transport": "https", "format": "niem", "settings": {
                "url": f"http://127.0.0.1:{self.destination_port}/orders",
                "allow_plain_http": True, "connect_timeout": 1.0, "read_timeout": 5.0}}},
            # Test only: the destination is probed every second.
            "breaker": {"failure_threshold": 1, "reset_timeout": 1.0},
            "retry": {"max_retries": 0, "initial_interval": 0.1, "max_interval": 0.1,
                      "max_elapsed": 1.0, "jitter": 0.0},
            "transmitter": {"poll_interval": 0.1},
            "metrics_port": self.metrics_port,
            "prepare_workers": 0,
        }), encoding="utf-8")
        log = (self.tmp / "engine.log").open("wb")
        self.engine = subprocess.Popen(
            [sys.executable, "-m", "engine", "run", "--config", str(config)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def drop_order(self, body: bytes) -> None:
        incoming = self.tmp / "spool" / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        (incoming / ".epo.json").write_bytes(body)
        (incoming / ".epo.json").rename(incoming / "epo.json")

    def destination_recovers(self) -> None:
        self.receiver = HttpReceiverServer(Receiver(format="niem"),
                                           port=self.destination_port).up()

    def engine_log(self) -> str:
        return (self.tmp / "engine.log").read_text(errors="replace")[-3000:]

    def close(self) -> None:
        if self.engine is not None and self.engine.poll() is None:
            self.engine.kill()
            self.engine.wait(10)
        for process in self.processes:
            process.stop()
        if self.receiver is not None:
            self.receiver.down()
        self.pager.server.shutdown()
        self.pager.server.server_close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path)
    try:
        stack.start()
        yield stack
    finally:
        stack.close()


def test_the_alert_reaches_a_person_before_the_deadline(stack: Stack) -> None:
    issued = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=50)
    stack.drop_order(late_emergency_order(issued))
    ledger = Ledger(open_database(stack.ledger_url))

    def recorded() -> bool:
        assert stack.engine is not None and stack.engine.poll() is None, stack.engine_log()
        return bool(ledger.find_versions(order_key=ORDER_KEY))

    wait_until(recorded, "the order in the ledger", limit=WAIT, describe=stack.engine_log)
    [version] = ledger.find_versions(order_key=ORDER_KEY)
    due = version["due_at"]
    assert due == issued + dt.timedelta(hours=1)  # the shipped emergency rule

    # 1. DeadlineAtRisk pages (the deadline route), before the due time.
    note, at_risk = stack.pager.first("/pager", "DeadlineAtRisk", "firing")
    assert dt.datetime.fromtimestamp(note.received_at, dt.UTC) < due
    assert ledger.find_versions(order_key=ORDER_KEY)[0]["state"] != "ACKED"
    # 2. EmergencyOrderNotDelivered pages as critical.
    _, emergency = stack.pager.first("/pager", "EmergencyOrderNotDelivered", "firing")
    assert emergency["labels"]["severity"] == "critical"
    # 3. Runbook links, and no personal data anywhere in what the pager got.
    for alert in (at_risk, emergency):
        name = alert["labels"]["alertname"]
        assert alert["annotations"]["runbook_url"] == f"docs/runbooks/{name}.md"
        assert (REPO / alert["annotations"]["runbook_url"]).is_file()
    with stack.pager.lock:
        texts = [json.dumps(n.payload, ensure_ascii=False) for n in stack.pager.received]
    leaked = [p for p in PERSONAL for text in texts if p in text]
    assert leaked == []

    # 4. The destination answers again: the order is delivered, the alerts resolve.
    stack.destination_recovers()
    wait_until(lambda: ledger.find_versions(order_key=ORDER_KEY)[0]["state"] == "ACKED",
               "the order ACKED after the destination recovered", limit=WAIT,
               describe=stack.engine_log)
    for name in DEADLINE_ALERTS:
        stack.pager.first("/pager", name, "resolved")

    # 5. The engine dies: EngineDown pages.
    assert stack.engine is not None
    stack.engine.kill()
    stack.engine.wait(10)
    _, down = stack.pager.first("/pager", "EngineDown", "firing")
    assert down["labels"]["severity"] == "critical"
    assert down["annotations"]["runbook_url"] == "docs/runbooks/EngineDown.md"
    stop_process(stack.engine)
