"""Intake preparation in worker processes (`engine.intake.prepare_pool`): the same records as in
the engine process, a dead worker costs nothing, and workers end with the engine."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from engine.config import ConfigError, load_config, parse_config
from engine.intake.pipeline import IntakeMessage, build_steps, prepare
from engine.intake.prepare_pool import PreparePool, _split
from engine.ledger import IntakeRecord
from engine.runner import real_parts

REPO = Path(__file__).parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "orders"
INVALID = REPO / "tests" / "fixtures" / "invalid"


def _config():  # type: ignore[no-untyped-def]
    return load_config(REPO / "config" / "engine.yaml", env={})


def _messages() -> list[IntakeMessage]:
    bodies = [p.read_bytes() for p in sorted(FIXTURES.glob("*.json"))]
    bodies += [p.read_bytes() for p in sorted(INVALID.glob("*.json"))][:10]
    bodies += [b"not json", b"{}", b"[" * 5000]
    return [IntakeMessage(body, message_id=f"m{i}") for i, body in enumerate(bodies)]


def _comparable(record: IntakeRecord) -> IntakeRecord:
    """What must match: all but the MCN, bytes and time of a real render (fresh each time)."""
    return dataclasses.replace(record, mcn=None, body=None, content_type=None,
                               prepared_at=None)


@pytest.fixture
def pool():  # type: ignore[no-untyped-def]
    config = _config()
    parts = real_parts(config)
    steps = build_steps(config, renderers=parts.renderers, due_at=parts.due_at,
                        load_mapping=parts.load_mapping)
    made = PreparePool(config, 2, parts_for=real_parts,
                       fallback=lambda ms: [prepare(steps, m) for m in ms])
    made.start()
    yield made, steps
    made.close()


def test_workers_prepare_what_the_engine_process_would(pool) -> None:  # type: ignore[no-untyped-def]
    """Valid, invalid and unreadable messages give the same records in order, and every
    entry comes back rendered with its MCN in the message."""
    workers, steps = pool
    messages = _messages()
    got = workers(messages)
    want = [prepare(steps, m) for m in messages]
    assert [_comparable(r) for r in got] == [_comparable(r) for r in want]
    entries = [r for r in got if r.action == "issue" and r.error_reason is None]
    assert entries and all(r.body is not None and r.mcn and r.mcn.encode() in r.body
                           for r in entries)
    assert len({r.mcn for r in entries}) == len(entries)


def test_a_dead_worker_costs_one_batch_prepared_here_then_new_workers(pool) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL a worker: the batch is still prepared (in the engine process) and the next
    batch goes to a fresh pool."""
    workers, steps = pool
    executor = workers._pool()
    for pid in list(executor._processes):
        os.kill(pid, signal.SIGKILL)
    messages = _messages()
    first = workers(messages)
    assert [_comparable(r) for r in first] == [_comparable(prepare(steps, m))
                                                for m in messages]
    assert workers._pool() is not executor
    assert len(workers(messages)) == len(messages)


def test_workers_end_when_the_engine_process_is_killed(tmp_path: Path) -> None:
    """An engine SIGKILLed cannot shut its workers down: they notice and exit."""
    script = tmp_path / "engine_like.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from engine.config import load_config
        from engine.intake.prepare_pool import PreparePool
        from engine.runner import real_parts
        if __name__ == "__main__":  # spawn imports this module again in each worker
            pool = PreparePool(load_config(Path({str(REPO / "config" / "engine.yaml")!r}),
                                           env={{}}), 2, parts_for=real_parts,
                               fallback=lambda ms: [])
            pool.start()
            print(" ".join(str(p) for p in pool._pool()._processes), flush=True)
            import time
            time.sleep(600)
    """), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            cwd=REPO, text=True)
    try:
        assert proc.stdout is not None
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_batches_are_split_evenly_and_never_into_tiny_chunks() -> None:
    messages = [IntakeMessage(b"x")] * 100
    assert [len(c) for c in _split(messages, 2)] == [50, 50]
    assert [len(c) for c in _split(messages[:10], 4)] == [10]
    assert [len(c) for c in _split(messages[:3], 2)] == [3]
    assert sum(len(c) for c in _split(messages[:37], 3)) == 37


@pytest.mark.parametrize("value", [-1, 65, "two", True, 1.5])
def test_prepare_workers_must_be_a_small_whole_number(value: object) -> None:
    with pytest.raises(ConfigError, match="prepare_workers"):
        parse_config({"prepare_workers": value}, env={})


def test_prepare_workers_defaults_to_one_and_zero_means_in_process() -> None:
    assert parse_config({}, env={}).prepare_workers == 1
    assert parse_config({"prepare_workers": 0}, env={}).prepare_workers == 0
