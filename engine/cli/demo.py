"""`engine demo`: the whole engine on one machine, no broker, in a few seconds.

It copies a set of demo orders (the canonical fixtures, plus a modify and a cancel of one of
them, written newest first to show sequencing) into a temporary spool, runs the engine with a
SQLite ledger in a temporary directory and an in-process DOJ endpoint, waits until every
order version is ACKED, and prints what happened. It says which embedded parts it used.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine import resources
from engine.config import CourtConfig, DestinationConfig, EngineConfig, LedgerConfig
from engine.errors import TransportUnavailable
from engine.law.deadlines import due_at
from engine.ledger import State
from engine.niem import parse_niem_ack, render_niem
from engine.receiver.core import Receiver
from engine.runner import EngineRunner, Parts
from engine.transports.base import Envelope, MockTransport, Receipt

__all__ = ["DemoResult", "demo_orders", "embedded_endpoint", "embedded_parts", "run_demo"]

#: The demo orders shipped in the package (the canonical fixtures, via engine.resources).
FIXTURES = resources.path("demo/orders")


def demo_orders(fixtures: Path = FIXTURES) -> list[tuple[str, bytes]]:
    """(file name, canonical JSON) for each demo message, in the order they are dropped.

    Every fixture order, with any version missing below its highest filled in (the entry
    as an ``issue``, later ones as a ``modify``), later versions dropped first: they must
    wait for the earlier ones' acknowledgements.
    """
    by_order: dict[str, dict[int, dict[str, object]]] = {}
    for path in sorted(fixtures.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        key = f"{data['court']['ori']}/{data['order_id']}"
        by_order.setdefault(key, {})[int(data["version"])] = data
    if not by_order:
        raise resources.ResourceMissing("demo/orders/*.json", fixtures)
    out: list[tuple[int, str, bytes]] = []
    for n, (key, versions) in enumerate(sorted(by_order.items()), start=1):
        template = versions[min(versions)]
        for version in range(1, max(versions) + 1):
            data = versions.get(version) or {
                **template, "version": version,
                "action": "issue" if version == 1 else "modify"}
            name = f"{n:02d}-{key.replace('/', '_')}-v{version}.json"
            out.append((-version, name, json.dumps(data).encode()))
    return [(name, body) for _, name, body in sorted(out)]


@dataclass
class DemoResult:
    rows: list[dict[str, object]]
    all_acked: bool
    parts_used: list[str]


def _demo_config(root: Path) -> EngineConfig:
    return EngineConfig(
        ledger=LedgerConfig(url=f"sqlite:///{root / 'ledger.db'}"),
        spool_dir=root / "spool",
        courts={"*": CourtConfig(destination="doj")},
        destinations={"doj": DestinationConfig(name="doj", transport="mock", format="niem")},
        metrics_port=None,
    )


def run_demo(*, timeout: float = 60.0, workdir: Path | None = None,
             say: Callable[[str], None] = print) -> DemoResult:
    """Run the demo; the result lists every order version with its state."""
    with tempfile.TemporaryDirectory(prefix="engine-demo-") as tmp:
        root = workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        config = _demo_config(root)
        # A config file beside the ledger, so `engine orders ... --config` can look inside.
        (root / "engine.yaml").write_text(
            f'ledger: {{url: "{config.ledger.url}"}}\nspool_dir: "{config.spool_dir}"\n',
            encoding="utf-8")
        parts = embedded_parts()
        runner = EngineRunner(config, parts)
        # Later versions first, then entries: intake order is not send order.
        incoming = config.spool_dir / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        messages = demo_orders()
        base = time.time() - len(messages)
        for i, (name, body) in enumerate(messages):
            path = incoming / name
            tmp_path = path.with_suffix(".tmp")
            tmp_path.write_bytes(body)
            tmp_path.replace(path)
            os.utime(path, (base + i, base + i))
        described = ["embedded parts used:", *(f"  {line}" for line in runner.describe())]
        for line in described:
            say(line)
        runner.start()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                counts = runner.ledger.state_counts()
                if (sum(counts.values()) == len(messages)
                        and counts.get(State.ACKED, 0) == len(messages)):
                    break
                time.sleep(0.1)
        finally:
            runner.stop()
        rows = []
        for version in sorted(runner.ledger.find_versions(),
                              key=lambda r: (str(r["order_key"]), int(r["version"]))):
            rows.append({"order": version["order_key"], "version": version["version"],
                         "action": version["action"], "state": version["state"],
                         "record_id": version["doj_record_id"]
                         if version["state"] == State.ACKED else None})
        all_acked = len(rows) == len(messages) and all(r["state"] == State.ACKED for r in rows)
        runner.ledger.engine.dispose()
        return DemoResult(rows, all_acked, described)


def embedded_endpoint(config: EngineConfig) -> tuple[EngineConfig, Parts]:
    """For a config with no destinations (the embedded default): every court goes to the
    in-process endpoint of `embedded_parts`, and the notes say so."""
    config = dataclasses.replace(
        config, courts={"*": CourtConfig(destination="embedded")},
        destinations={"embedded": DestinationConfig(name="embedded", transport="mock",
                                                    format="niem")})
    parts = embedded_parts()
    parts.notes.insert(0, "no destinations configured: every court goes to the embedded "
                          "in-process DOJ endpoint (not a real registry)")
    return config, parts


def embedded_parts() -> Parts:
    """NIEM rendering and the reference receiver, in process: the embedded DOJ endpoint."""
    receiver = Receiver(format="niem")

    def deliver(envelope: Envelope) -> Receipt:
        outcome = receiver.handle(envelope.mcn, envelope.body, envelope.content_type,
                                  transport="embedded")
        if outcome.action == "fail":
            raise TransportUnavailable("reference receiver: injected failure")
        if outcome.action == "drop" or not outcome.replies:
            return Receipt(envelope.mcn)
        return Receipt(envelope.mcn, outcome.replies[0])

    transport = MockTransport(deliver)
    return Parts(renderers={"niem": render_niem}, ack_parsers={"niem": parse_niem_ack},
                 transport_factory=lambda dest: transport, due_at=due_at,
                 notes=["DOJ endpoint: the reference receiver (engine.receiver), in process",
                        "format: NIEM XML (engine.niem)"])
