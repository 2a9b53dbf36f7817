"""`engine run` as a real process against `engine receiver` as another, through the file
transport: orders dropped in the spool end ACKED with the receiver's record ids, in order,
and SIGTERM stops the engine cleanly. No broker needed; bounded waits only."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.ledger import Ledger, open_database

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "orders"
WAIT_LIMIT = 60.0


def engine_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine", *args]


def test_engine_run_delivers_spooled_orders_to_the_reference_receiver(tmp_path: Path) -> None:
    """Entry, serve, extend and terminate of one order plus an EPO, dropped newest first,
    reach the reference receiver in order and end ACKED; SIGTERM ends the engine with 0."""
    config = tmp_path / "engine.yaml"
    config.write_text(json.dumps({
        "ledger": {"url": f"sqlite:///{tmp_path / 'ledger.db'}"},
        "spool_dir": str(tmp_path / "spool"),
        "courts": {"*": {"destination": "doj"}},
        "destinations": {"doj": {"transport": "file", "format": "niem", "settings": {
            "outbox": str(tmp_path / "outbox"), "inbox": str(tmp_path / "inbox")}}},
        "transmitter": {"poll_interval": 0.1},
        "metrics_port": None,
    }), encoding="utf-8")
    receiver = subprocess.Popen(engine_cmd(
        "receiver", "--transport", "file", "--format", "niem", "--pickup",
        str(tmp_path / "outbox"), "--acks", str(tmp_path / "inbox"), "--quiet"),
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = subprocess.Popen(engine_cmd("run", "--config", str(config)), cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        incoming = tmp_path / "spool" / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        names = ["dv_tro_terminate_v4.json", "dv_tro_extend_v3.json", "dv_tro_serve_v2.json",
                 "dv_tro_issue.json", "epo_issue.json"]
        for name in names:
            shutil.copy(FIXTURES / name, incoming / f".{name}")
            (incoming / f".{name}").rename(incoming / name)
        ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'ledger.db'}"))
        deadline = time.monotonic() + WAIT_LIMIT
        while ledger.state_counts().get("ACKED", 0) < 5:
            assert engine.poll() is None, engine.stderr.read().decode()[-2000:]
            if time.monotonic() > deadline:
                pytest.fail(f"not ACKED in time: {ledger.state_counts()}")
            time.sleep(0.1)
        history = ledger.history("CA019015J/LA-DV-2024-000123")
        assert [v["state"] for v in history["versions"]] == ["ACKED"] * 4
        assert history["doj_record_id"]
        acked_at = [v["acknowledgements"][0]["received_at"] for v in history["versions"]]
        assert acked_at == sorted(acked_at) and len(set(acked_at)) == 4  # 1, 2, 3, 4 in turn
        engine.send_signal(signal.SIGTERM)
        assert engine.wait(WAIT_LIMIT) == 0
    finally:
        for proc in (engine, receiver):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        if engine.stderr:
            engine.stderr.close()
