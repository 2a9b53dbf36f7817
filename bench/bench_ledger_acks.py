"""Cost of recording acknowledgements on a SQLite ledger, per acknowledgement.

Run from the repository root:  python bench/bench_ledger_acks.py [--acks 2000] [--rounds 3]

Each measurement gets a fresh ledger holding ``--acks`` SENT transmissions, then accepts
every one of them, in batches of 100 where there are batches:

- ``each``: `Ledger.record_acknowledgement` in a loop, one transaction per acknowledgement
  (what `Correlator.apply` does);
- ``per_ack_batch100``: one transaction per 100, `_apply_ack` per acknowledgement: what
  `record_acknowledgements` did before its fast path, and still does on PostgreSQL;
- ``batched100``: `Ledger.record_acknowledgements` (what the AMQP ack consumer calls).

The methods take turns within each round (so drift on a busy machine hits all of them);
the median of the rounds is printed in µs per acknowledgement, with the ratios. Absolute
figures depend on the machine; compare the ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.ledger import IntakeRecord, Ledger, open_ledger  # noqa: E402

BATCH = 100
LEASE = dt.timedelta(minutes=2)


def sent_ledger(path: Path, count: int) -> tuple[Ledger, list[str]]:
    """A fresh ledger with ``count`` orders whose version 1 is SENT; their MCNs."""
    ledger = open_ledger(f"sqlite:///{path}")
    records = [IntakeRecord(
        raw_hash=f"raw-{i}", order_key=f"CA019015J/B-{i}", version=1, court_ori="CA019015J",
        case_number=f"CASE-{i}", order_type="dv_tro", action="issue",
        content_hash=f"hash-{i}", canonical_json="{}", destination="doj", format="niem",
        issued_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC)) for i in range(count)]
    for i in range(0, count, BATCH):
        ledger.record_intake(records[i:i + BATCH])
    mcns: list[str] = []
    while claims := ledger.claim_due("bench", limit=BATCH, lease=LEASE):
        ledger.mark_sent_many(claims, "bench")
        mcns += [c.mcn for c in claims]
    assert len(mcns) == count, "every order is SENT"
    return ledger, mcns


def _accepts(mcns: list[str]) -> list[dict[str, Any]]:
    return [{"mcn": m, "accepted": True, "record_id": f"H{i:09d}"} for i, m in enumerate(mcns)]


def each(ledger: Ledger, acks: list[dict[str, Any]]) -> None:
    for ack in acks:
        ledger.record_acknowledgement(**ack)


def per_ack_batch100(ledger: Ledger, acks: list[dict[str, Any]]) -> None:
    for i in range(0, len(acks), BATCH):
        with ledger._transaction() as tx:
            for ack in acks[i:i + BATCH]:
                ledger._apply_ack(tx, **ack)


def batched100(ledger: Ledger, acks: list[dict[str, Any]]) -> None:
    for i in range(0, len(acks), BATCH):
        ledger.record_acknowledgements(acks[i:i + BATCH])


METHODS: dict[str, Callable[[Ledger, list[dict[str, Any]]], None]] = {
    "each": each, "per_ack_batch100": per_ack_batch100, "batched100": batched100}


def measure(count: int, rounds: int, workdir: Path) -> dict[str, float]:
    """Median µs per acknowledgement of each method over ``rounds`` fresh ledgers."""
    times: dict[str, list[float]] = {name: [] for name in METHODS}
    for r in range(rounds):
        for name, method in METHODS.items():
            ledger, mcns = sent_ledger(workdir / f"{name}-{r}.db", count)
            acks = _accepts(mcns)
            start = time.perf_counter()
            method(ledger, acks)
            times[name].append((time.perf_counter() - start) / count * 1e6)
            assert ledger.state_counts() == {"ACKED": count}, "every order is ACKED"
            ledger.engine.dispose()
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        result = measure(args.acks, args.rounds, Path(workdir))
    for name, us in result.items():
        print(f"{name:>18}: {us:8.1f} µs/ack")
    fast = result["batched100"]
    print(f"per_ack_batch100 / batched100 = {result['per_ack_batch100'] / fast:.1f}x")
    print(f"each / batched100 = {result['each'] / fast:.1f}x")


if __name__ == "__main__":
    main()
