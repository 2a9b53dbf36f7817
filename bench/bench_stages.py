"""CPU cost per order of each in-process stage, against json.loads of the same bytes.

Run from the repository root:

    /work/venv/bin/python bench/bench_stages.py [--repeat N] [--code DIR] [--json OUT]

Over every fixture order in tests/fixtures/orders/*.json it times, in one process and one
run (so the ratios are fair on a shared, busy machine):

- ``json_loads``      ``json.loads`` of the fixture bytes: the fixed baseline, no work of ours;
- ``decode_order``    canonical intake JSON -> `Order` (safe decode, model, cross-field checks);
- ``order_from_dict`` the stored order (``json.loads`` of the ledger's canonical JSON, done
                      once, up front) -> `Order`, as the transmitter does before each send;
- ``render_niem``     NIEM build + schema validation + serialization;
- ``render_clets``    CLETS build + field-by-field validation.

The renderers are looked up by ``module:function`` name, as `engine.cli.convert` does. Each
figure is the mean µs per order over the fixtures (best of 5 timing runs per fixture); the
ratio column divides it by the json.loads baseline of the same run.

``--code DIR`` imports the engine from another checkout (e.g. an export of main) while the
fixtures still come from this one, so before/after figures come from the same script:

    git archive main | tar -x -C /tmp/engine-main
    python bench/bench_stages.py --code /tmp/engine-main
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import statistics
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "orders"
RENDERERS = {"render_niem": "engine.niem:render_niem", "render_clets": "engine.clets:render_clets"}
STAGES = ("json_loads", "decode_order", "order_from_dict", "render_niem", "render_clets")


def per_call_us(func, number: int) -> float:
    """Best-of-5 mean time of one call, in microseconds."""
    return min(timeit.Timer(func).repeat(repeat=5, number=number)) / number * 1e6


def _resolve(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="calls per timing run")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="checkout whose engine package is timed (default: this one)")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()

    sys.path.insert(0, str(args.code.resolve()))
    import engine
    from engine.canonical import decode_order, order_from_dict, order_to_dict
    from engine.formats import RenderContext
    from engine.model import Action

    renderers = {stage: _resolve(target) for stage, target in RENDERERS.items()}
    rows = []
    for path in sorted(FIXTURES.glob("*.json")):
        raw = path.read_bytes()
        order = decode_order(raw)
        stored = json.loads(json.dumps(order_to_dict(order), ensure_ascii=False,
                                       sort_keys=True, separators=(",", ":")))
        ctx = RenderContext(
            mcn="MCN-BENCH-0001", sent_at=dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC),
            doj_record_id=None if order.action is Action.ISSUE else "CA0000000042")
        row = {
            "fixture": path.stem,
            "json_loads": per_call_us(lambda r=raw: json.loads(r), args.repeat),
            "decode_order": per_call_us(lambda r=raw: decode_order(r), args.repeat),
            "order_from_dict": per_call_us(lambda d=stored: order_from_dict(d), args.repeat),
        }
        for stage, render in renderers.items():
            render(order, ctx)  # a fixture that cannot render would fail loudly here
            row[stage] = per_call_us(lambda o=order, c=ctx, f=render: f(o, c), args.repeat)
        rows.append(row)

    means = {stage: statistics.fmean(r[stage] for r in rows) for stage in STAGES}
    base = means["json_loads"]
    print(f"engine from {Path(engine.__file__).resolve().parent}; {len(rows)} fixture orders, "
          f"best of 5 x {args.repeat} calls each")
    print(f"{'stage':<17}{'us/order':>10}{'x json.loads':>14}")
    for stage in STAGES:
        print(f"{stage:<17}{means[stage]:>10.1f}{means[stage] / base:>14.2f}")
    if args.json:
        args.json.write_text(json.dumps({
            "python": sys.version.split()[0], "code": str(args.code), "repeat": args.repeat,
            "mean_us": means, "ratio_to_json_loads": {s: means[s] / base for s in STAGES},
            "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
