"""Cost per NIEM document: render + validate against raw lxml serialization of the same tree.

Run from the repository root:

    /work/venv/bin/python bench/bench_niem.py [--repeat N] [--xmlschema]

For each fixture order it times, per document:
  serialize  etree.tostring of an already-built message tree (the floor: no work of ours)
  build      building the tree from the canonical order (engine.niem.render.build_message)
  validate   lxml XMLSchema validation of the built tree (schema compiled once, up front)
  render     engine.niem.render_niem: build + validate + serialize, what the pipeline pays
and prints the ratios render/serialize and validate/serialize, then one JSON object.
With --xmlschema it also times the pure-Python xmlschema validator on the same tree, to
show why the hot path uses lxml. Numbers are machine-dependent; compare ratios only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import statistics
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lxml import etree  # noqa: E402

from engine.canonical import decode_order  # noqa: E402
from engine.formats import RenderContext  # noqa: E402
from engine.model import Action  # noqa: E402
from engine.niem import render_niem  # noqa: E402
from engine.niem.render import build_message  # noqa: E402
from engine.niem.schema import MESSAGE_SCHEMA_PATH, message_schema  # noqa: E402


def per_call_us(func, repeat: int) -> float:
    """Best-of-5 mean time of one call, in microseconds."""
    timer = timeit.Timer(func)
    return min(timer.repeat(repeat=5, number=repeat)) / repeat * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=500, help="calls per timing run")
    parser.add_argument("--xmlschema", action="store_true",
                        help="also time the xmlschema (pure Python) validator")
    args = parser.parse_args()

    schema = message_schema()  # compiled once, as in the engine
    results = []
    for path in sorted((ROOT / "tests" / "fixtures" / "orders").glob("*.json")):
        order = decode_order(path.read_bytes())
        ctx = RenderContext(
            mcn="MCN-BENCH", sent_at=dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC),
            doj_record_id=None if order.action is Action.ISSUE else "CA-DOJ-PO-000042")
        tree = build_message(order, ctx)
        row = {
            "fixture": path.stem,
            "bytes": len(render_niem(order, ctx).body),
            "serialize_us": per_call_us(lambda t=tree: etree.tostring(
                t, xml_declaration=True, encoding="UTF-8", pretty_print=True), args.repeat),
            "build_us": per_call_us(lambda o=order, c=ctx: build_message(o, c), args.repeat),
            "validate_us": per_call_us(lambda t=tree: schema.errors(t), args.repeat),
            "render_us": per_call_us(lambda o=order, c=ctx: render_niem(o, c), args.repeat),
        }
        row["render_vs_serialize"] = row["render_us"] / row["serialize_us"]
        row["validate_vs_serialize"] = row["validate_us"] / row["serialize_us"]
        if args.xmlschema:
            import xmlschema

            slow = xmlschema.XMLSchema(str(MESSAGE_SCHEMA_PATH))
            row["xmlschema_validate_us"] = per_call_us(
                lambda t=tree, s=slow: s.is_valid(t), 20)
            row["xmlschema_vs_lxml_validate"] = row["xmlschema_validate_us"] / row["validate_us"]
        results.append(row)

    print(f"{'fixture':<16}{'bytes':>7}{'serialize':>11}{'build':>9}{'validate':>10}"
          f"{'render':>9}{'render/ser':>12}{'valid/ser':>11}")
    for r in results:
        print(f"{r['fixture']:<16}{r['bytes']:>7}{r['serialize_us']:>9.1f}us"
              f"{r['build_us']:>7.1f}us{r['validate_us']:>8.1f}us{r['render_us']:>7.1f}us"
              f"{r['render_vs_serialize']:>11.1f}x{r['validate_vs_serialize']:>10.1f}x")
        if "xmlschema_validate_us" in r:
            print(f"{'':<16}xmlschema validate {r['xmlschema_validate_us']:.0f}us = "
                  f"{r['xmlschema_vs_lxml_validate']:.0f}x lxml")
    medians = {key: statistics.median(r[key] for r in results)
               for key in ("render_us", "validate_us", "serialize_us", "render_vs_serialize",
                           "validate_vs_serialize")}
    print(f"median: render+validate {medians['render_us']:.0f}us/doc = "
          f"{medians['render_vs_serialize']:.1f}x raw serialization; validation alone "
          f"{medians['validate_vs_serialize']:.1f}x")
    summary = {
        "benchmark": "niem_render_validate_vs_serialize",
        "python": platform.python_version(),
        "lxml": ".".join(map(str, etree.LXML_VERSION)),
        "libxml2": ".".join(map(str, etree.LIBXML_VERSION)),
        "repeat": args.repeat,
        "median": medians,
        "results": results,
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
