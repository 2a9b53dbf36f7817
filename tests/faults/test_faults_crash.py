"""Invariants 1, 3 and 4 under repeated crashes: `engine run` is SIGKILLed at random
points, again and again, while it works through a stream of orders, and restarted each time.

(`tests/integration/test_core_crash.py` kills twice at chosen points with a file
transport; this kills five times at random points, with the stream still being published,
over HTTP to the reference receiver, and checks order and every version's end state.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import FaultRun, order_stream, wait_until
from tests.services import fault_seed

pytestmark = [pytest.mark.integration, pytest.mark.faults]

KILLS = 5
ORDERS = 150


@pytest.fixture
def run(tmp_path: Path) -> Iterator[FaultRun]:
    rig = FaultRun(tmp_path, "crash: kill -9 x5 at random points")
    yield rig
    rig.close()


def test_repeated_sigkill_loses_nothing_and_registers_nothing_twice(run: FaultRun) -> None:
    """Five SIGKILLs at random moments (intake, sending, acknowledging), each followed by
    a restart: every published version ends ACKED, accepted once, in version order."""
    seed = fault_seed("crash test kill points and order stream")
    rng = random.Random(seed)
    stream = order_stream(run.prefix, ORDERS, seed=rng.randrange(1 << 30))
    # Published in as many waves as kills (one before the start, one after each kill but
    # the last), so each kill usually finds work in hand.
    chunks = [stream[i::KILLS] for i in range(KILLS)]
    run.publish(sorted(chunks[0], key=stream.index))
    run.start_engine()
    for kill in range(KILLS):
        before = sum(run.progress().values()), run.progress().get("ACKED", 0)

        def progressed(b: tuple[int, int] = before) -> bool:
            """Some progress since the last restart; or nothing left to progress (every
            published version settled already), so the kill lands on an idle engine."""
            now = sum(run.progress().values()), run.progress().get("ACKED", 0)
            return now != b or (run.settled() and run.queue_depth() == 0)

        # Wait for some progress since the last restart, then a random moment more.
        wait_until(progressed, f"progress before kill {kill + 1}",
                   describe=lambda: run.engine.tail())
        time.sleep(rng.uniform(0.0, 0.6))
        run.kill_engine()
        if kill + 1 < len(chunks):
            run.publish(sorted(chunks[kill + 1], key=stream.index))
        run.start_engine()
    run.wait_settled()
    report = run.check(seed=seed)
    run.assert_clean(report)
    assert report.crashes == KILLS
