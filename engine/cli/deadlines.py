"""`engine deadlines ...`: show on-call staff when an order is due and why, and which days
a court is closed, straight from the same code and config the engine uses."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from engine.canonical import decode_order
from engine.errors import InputError, OrderInvalid
from engine.law.deadlines import DeadlineConfigError, DeadlinePolicy, explain_due

__all__ = ["register_deadlines"]


def _policy(args: argparse.Namespace) -> DeadlinePolicy:
    return DeadlinePolicy.load(args.config) if args.config else DeadlinePolicy.default()


def _cmd_explain(args: argparse.Namespace) -> int:
    """Due time of each order file, with the rule, start time and closed days skipped."""
    try:
        policy = _policy(args)
    except DeadlineConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    failed = 0
    results: list[dict[str, Any]] = []
    for path in args.files:
        try:
            order = decode_order(Path(path).read_bytes())
            explanation = explain_due(order, policy)
        except OrderInvalid as exc:
            failed += 1
            results.append({"file": str(path), "ok": False,
                            "errors": [{"path": e.path, "reason": e.reason}
                                       for e in exc.errors]})
            continue
        except (InputError, OSError) as exc:
            failed += 1
            results.append({"file": str(path), "ok": False,
                            "errors": [{"path": "(message)", "reason": str(exc)}]})
            continue
        results.append({
            "file": str(path), "ok": True, "order": order.version_key,
            "due_at": explanation.due_at.isoformat(), "rule": explanation.rule.name,
            "started_at": explanation.started_at.isoformat(),
            "time_zone": explanation.time_zone,
            "skipped": [{"date": d.isoformat(), "reason": why}
                        for d, why in explanation.skipped],
            "lines": explanation.lines()})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            if result["ok"]:
                print(f"{result['file']}  ({result['order']})")
                for line in result["lines"]:
                    print(f"    {line}")
            else:
                print(f"INVALID {result['file']}")
                for error in result["errors"]:
                    print(f"    {error['path']}: {error['reason']}")
    return 1 if failed else 0


def _cmd_calendar(args: argparse.Namespace) -> int:
    """The weekdays a court is closed in a year (judicial holidays and closures)."""
    try:
        policy = _policy(args)
    except DeadlineConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    calendar = policy.calendar_for(args.court) if args.court else policy.calendar
    closed = calendar.holidays_in(args.year)
    if args.json:
        print(json.dumps([{"date": d.isoformat(), "reason": why} for d, why in closed],
                         indent=2))
    else:
        for day, why in closed:
            print(f"{day.isoformat()} {day:%a}  {why}")
        print(f"\n{len(closed)} weekday closure(s) in {args.year} ({calendar.time_zone})")
    return 0


def register_deadlines(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`deadlines explain FILE...` and `deadlines calendar [YEAR]`."""
    p = sub.add_parser("deadlines", help="when orders are due, and court closed days")
    dsub = p.add_subparsers(dest="deadlines_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--config", type=Path, metavar="FILE",
                       help="deadline policy (YAML); default: the built-in policy, the same "
                            "as config/deadlines.yaml")
        q.add_argument("--json", action="store_true", help="machine-readable output")

    q = dsub.add_parser("explain", help="due time of canonical order files, and why")
    q.add_argument("files", nargs="+", type=Path, metavar="FILE")
    common(q)
    q.set_defaults(func=_cmd_explain)

    q = dsub.add_parser("calendar", help="weekdays a court is closed in a year")
    q.add_argument("year", nargs="?", type=int, default=dt.date.today().year)
    q.add_argument("--court", metavar="ORI", help="a court's own calendar (config 'courts:')")
    common(q)
    q.set_defaults(func=_cmd_calendar)
