"""The fault suite's oracle can fail: it counts lost versions, duplicate effects and versions
accepted out of order when they happen (journal entries made by hand, no engine)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.ack_types import Accepted
from tests.faults.harness import FaultRun, Published, order_stream

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[FaultRun]:
    rig = FaultRun(tmp_path, "oracle self-test")
    yield rig
    rig.close()


def _accept(run: FaultRun, mcn: str, key: str, version: int) -> None:
    run.receiver.journal.add(mcn=mcn, ack=Accepted(mcn, "H000000001"), body=mcn.encode(),
                             transport="http", format="niem", order_key=key,
                             action="issue", version=version)


def test_versions_never_delivered_are_counted_lost(run: FaultRun) -> None:
    """Published versions that no engine delivered are all counted as lost."""
    run.publish(order_stream(run.prefix, 5, seed=1))
    report = run.check(save=False)
    assert report.lost == len(run.published) > 0
    with pytest.raises(AssertionError):
        run.assert_clean(report)


def test_double_registration_and_wrong_order_are_counted(run: FaultRun) -> None:
    """One version accepted under two MCNs is a duplicate effect; an order whose version 2
    was accepted before version 1 is out of order."""
    key_a, key_b = f"CA019015J/{run.prefix}-A", f"CA019015J/{run.prefix}-B"
    _accept(run, "MCN-A1", key_a, 1)
    _accept(run, "MCN-A1-AGAIN", key_a, 1)
    _accept(run, "MCN-B2", key_b, 2)
    _accept(run, "MCN-B1", key_b, 1)
    run.published.extend([Published(key_a, 1, "issue", b""), Published(key_b, 1, "issue", b""),
                          Published(key_b, 2, "modify", b"")])
    report = run.check(save=False)
    assert report.duplicate_effects == 1
    assert report.out_of_order == 1
