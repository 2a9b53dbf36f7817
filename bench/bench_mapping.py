"""Per-message cost of applying a court mapping, against json.loads of the same bytes.

Run from the repository root:  python bench/bench_mapping.py [--json out.json]

For each shipped example mapping it times, in one process and one run (so the ratios are
fair even on a busy machine), the median per-message cost of:

- ``json.loads`` of the message (JSON mapping only): the floor any JSON intake pays;
- ``Mapping.to_canonical_dict``: decode + map to canonical intake shape (the mapping's work);
- ``Mapping.apply``: the whole step, including the canonical model and cross-field checks;
- ``order_from_dict`` of the already-mapped dict: the canonical model and checks alone
  (the part of ``apply`` that is not the mapping's);
- ``decode_order`` of the same order as canonical JSON: what a court that needs no mapping
  pays for intake.

Absolute microseconds depend on the machine; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.canonical import decode_order, encode_order, order_from_dict  # noqa: E402
from engine.mappings import load_mapping  # noqa: E402

#: The issue's target for applying a typical JSON order on this machine.
TARGET_US = 100

CASES = {
    "json": ("santa-clara-odyssey-json", "dv_tro_two_protected.input.json"),
    "csv": ("kern-legacy-csv", "dv_tro_one_row_per_party.input.csv"),
    "xml": ("orange-ecf5-xml", "dv_tro_issue_two_protected.input.xml"),
    "records": ("tulare-pipe-records", "dv_oah_served_two_protected.input.txt"),
    "fixed": ("madera-fixed-width", "ea_tro_two_protected_not_served.input.dat"),
}


def median_us(fn: Callable[[], object], *, loops: int, repeats: int) -> float:
    """Median over `repeats` batches of the per-call time of `fn`, in microseconds."""
    for _ in range(loops):  # warm up caches and lazily built validators
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - start) / loops * 1e6)
    return statistics.median(samples)


def bench(fmt: str, *, loops: int, repeats: int) -> dict[str, float | str]:
    folder, case = CASES[fmt]
    mapping = load_mapping(ROOT / "config" / "mappings" / folder / "mapping.yaml")
    raw = (ROOT / "config" / "mappings" / folder / "tests" / case).read_bytes()
    canonical = encode_order(mapping.apply(raw)).encode()
    result: dict[str, float | str] = {"format": fmt, "mapping": folder, "bytes": len(raw)}
    if fmt == "json":
        result["json_loads_us"] = median_us(lambda: json.loads(raw), loops=loops,
                                            repeats=repeats)
    result["map_to_dict_us"] = median_us(lambda: mapping.to_canonical_dict(raw), loops=loops,
                                         repeats=repeats)
    result["apply_us"] = median_us(lambda: mapping.apply(raw), loops=loops, repeats=repeats)
    mapped = mapping.to_canonical_dict(raw)
    result["model_from_dict_us"] = median_us(lambda: order_from_dict(mapped), loops=loops,
                                             repeats=repeats)
    result["canonical_decode_order_us"] = median_us(lambda: decode_order(canonical),
                                                    loops=loops, repeats=repeats)
    result["apply_vs_canonical_decode_order"] = round(
        result["apply_us"] / result["canonical_decode_order_us"], 2)  # type: ignore[operator]
    if fmt == "json":
        result["map_to_dict_vs_json_loads"] = round(
            result["map_to_dict_us"] / result["json_loads_us"], 2)  # type: ignore[operator]
        result["apply_vs_json_loads"] = round(
            result["apply_us"] / result["json_loads_us"], 2)  # type: ignore[operator]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--loops", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=41)
    parser.add_argument("--formats", nargs="*", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    results = [bench(fmt, loops=args.loops, repeats=args.repeats) for fmt in args.formats]
    for r in results:
        print(f"{r['format']:>7} {r['mapping']}: {r['bytes']} bytes")
        for key, value in r.items():
            if key.endswith("_us"):
                print(f"       {key:<28} {value:8.1f} µs/order (median)")
            elif key not in ("format", "mapping", "bytes"):
                print(f"       {key:<28} {value:8}")
    for r in results:
        if r["format"] == "json":
            print(f"JSON order: mapping (decode + map) {r['map_to_dict_us']:.0f} µs = "
                  f"{r['map_to_dict_vs_json_loads']}x json.loads; apply {r['apply_us']:.0f} µs "
                  f"of which the canonical model and checks {r['model_from_dict_us']:.0f} µs; "
                  f"target apply < {TARGET_US} µs: "
                  f"{'met' if r['apply_us'] < TARGET_US else 'NOT met'} on this machine now")
    report = {"benchmark": "mapping", "python": sys.version.split()[0], "results": results}
    print(json.dumps(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
