"""Operations commands: `engine run`, `engine demo`, `engine db`, `engine orders`, `engine dlq`.

Made for on-call staff at 3 a.m.: find an order, see its history, resend it, look at the
dead-letter queue and replay it. Output is for a person; ``--json`` is for scripts. Nothing
here prints personal data: order keys, states, MCNs, record ids and reasons only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.cli.config_check import load_checked_config
from engine.config import ConfigError, EngineConfig
from engine.errors import EngineError

__all__ = ["register_operations"]

#: Environment variable naming the config file when --config is not given.
CONFIG_ENV = "ENGINE_CONFIG"


def _config(args: argparse.Namespace) -> EngineConfig:
    path = args.config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    return load_checked_config(path)  # the whole config, before any database is touched


def _ledger(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from engine.ledger import open_ledger

    return open_ledger(_config(args).ledger.url)


def _actor(args: argparse.Namespace) -> str:
    """Who is acting: ``--as NAME``, else the OS user (for the audit trail)."""
    if args.actor:
        return str(args.actor)
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return f"uid:{os.getuid()}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _print_json(value: Any) -> None:
    print(json.dumps(_jsonable(value), indent=2, ensure_ascii=False))


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def _table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> None:
    cells = [[str(c) if c is not None else "-" for c in row] for row in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


# -- run, demo, db ---------------------------------------------------------------------------

def _cmd_run(args: argparse.Namespace) -> int:
    from engine.intake.dead_letters import dead_letter_depth
    from engine.ledger import open_ledger
    from engine.observability.core_metrics import install_metrics
    from engine.runner import EngineRunner, real_parts

    config = _config(args)
    try:
        from engine.observability.logging import configure_logging
    except ImportError:  # pragma: no cover - the ops area ships it
        pass
    else:
        configure_logging(args.log_level, json=not args.log_console)
    if config.destinations:
        parts = real_parts(config)
    else:
        from engine.cli.demo import embedded_endpoint

        config, parts = embedded_endpoint(config)
    ledger = open_ledger(config.ledger.url)
    runner_ready: list[EngineRunner] = []  # the runner, once built: /readyz asks it

    def readiness() -> dict[str, bool]:
        return runner_ready[0].readiness() if runner_ready else {"engine": False}

    parts.hooks, server = install_metrics(
        ledger, config.metrics_port, destinations=list(config.destinations),
        readiness_check=readiness, dlq_depth=lambda: dead_letter_depth(config),
        host=config.metrics_host)
    if server is not None:
        parts.notes.append(f"metrics: http://{config.metrics_host}:{server.port}/metrics "
                           "(/healthz, /readyz)")
    runner = EngineRunner(config, parts, ledger=ledger)
    runner_ready.append(runner)
    for line in runner.describe():
        print(line, file=sys.stderr)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: runner.stop())
    runner.start()
    healthy = runner.wait()
    runner.stop()
    return 0 if healthy else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from engine.cli.demo import run_demo

    try:
        from engine.observability.logging import configure_logging
    except ImportError:  # pragma: no cover - the ops area ships it
        pass
    else:  # the table is the output; the engine's own log lines only when something is wrong
        configure_logging("WARNING", json=False)
    result = run_demo(timeout=args.timeout, workdir=args.keep,
                      say=(lambda _line: None) if args.json else print)
    if args.json:
        _print_json({"all_acked": result.all_acked, "parts_used": result.parts_used,
                     "orders": result.rows})
    else:
        print()
        _table([[r["order"], r["version"], r["action"], r["state"], r["record_id"]]
                for r in result.rows], ["ORDER", "VERSION", "ACTION", "STATE", "RECORD ID"])
        print()
        print("every order version ACKED" if result.all_acked
              else "NOT every order version was ACKED in time")
        if args.keep:
            first = result.rows[0]["order"] if result.rows else "ORI/ORDER-ID"
            print(f"\nthe ledger is kept in {args.keep}; look inside with\n"
                  f"  engine orders show {first} --config {args.keep / 'engine.yaml'}")
    return 0 if result.all_acked else 1


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    from engine.ledger import create_database_engine, upgrade

    engine = create_database_engine(_config(args).ledger.url)
    upgrade(engine)
    print(f"ledger at {engine.url.render_as_string(hide_password=True)} is up to date")
    return 0


# -- orders ----------------------------------------------------------------------------------

def _cmd_orders_show(args: argparse.Namespace) -> int:
    ledger = _ledger(args)
    found = ledger.order_key_for(args.id)
    if found is None:
        print(f"no order, order version or MCN {args.id!r} in the ledger", file=sys.stderr)
        return 1
    order_key, only_version = found
    history = ledger.history(order_key)
    if only_version is not None:
        history["versions"] = [v for v in history["versions"] if v["version"] == only_version]
    if args.json:
        _print_json(history)
        return 0
    print(f"order {history['order_key']}  case {history['case_number']}  "
          f"type {history['order_type']}  DOJ record {history['doj_record_id'] or '-'}")
    for v in history["versions"]:
        print(f"\nversion {v['version']} ({v['action']}): {v['state']}  "
              f"due {_when(v['due_at'])}")
        if v["error_reason"]:
            print(f"  reason: {v['error_reason']}")
        for t in v["transmissions"]:
            print(f"  transmission {t['mcn']} to {t['destination']} ({t['format']}): "
                  f"{t['state']}, {t['attempts']} attempt(s)"
                  + (f", next {_when(t['next_attempt_at'])}"
                     if t["state"] == "RETRY_SCHEDULED" else "")
                  + (f", last error: {t['last_error']}" if t["last_error"] else ""))
        for a in v["acknowledgements"]:
            print(f"  ack {a['kind']} for {a['mcn']} at {_when(a['received_at'])}"
                  + (f": record {a['record_id']}" if a["record_id"] else "")
                  + (f": {a['code']} {a['reason']}" if a["code"] else ""))
        print("  history:")
        for e in v["audit"]:
            print(f"    {_when(e['at'])}  {e['from'] or '-':>15} -> {e['to'] or '-':<15} "
                  f"{e['detail']}"
                  + (f" [by {e['actor']}: {e['reason']}]" if e.get("actor") else ""))
    return 0


def _cmd_orders_find(args: argparse.Namespace) -> int:
    if not (args.case or args.court or args.state or args.overdue):
        print("say what to find: --case, --court, --state or --overdue", file=sys.stderr)
        return 2
    rows = _ledger(args).find_versions(
        case_number=args.case, court_ori=args.court, state=args.state,
        overdue_at=dt.datetime.now(dt.UTC) if args.overdue else None, limit=args.limit)
    if args.json:
        _print_json(rows)
        return 0
    _table([[r["order_key"], r["version"], r["action"], r["state"], r["case_number"],
             _when(r["due_at"]), r["doj_record_id"]] for r in rows],
           ["ORDER", "VERSION", "ACTION", "STATE", "CASE", "DUE", "RECORD ID"])
    print(f"\n{len(rows)} order version(s)")
    return 0


def _cmd_orders_resend(args: argparse.Namespace) -> int:
    from engine.ledger import ResendRefused

    config = _config(args)
    ledger = _ledger(args)
    found = ledger.order_key_for(args.id)
    if found is None or found[1] is None:
        print(f"give an order version (KEY#VERSION) or an MCN; {args.id!r} names none",
              file=sys.stderr)
        return 1
    order_key, version = found
    row = ledger.version_row(order_key, version) or {}
    dest = config.destinations.get(str(row.get("destination")))
    try:
        mcn = ledger.resend(order_key, version, fmt=dest.format if dest else None,
                            actor=_actor(args), reason=args.reason)
    except ResendRefused as exc:
        print(f"not resent: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print_json({"order_key": order_key, "version": version, "mcn": mcn})
    else:
        print(f"{order_key}#{version} is back in line as transmission {mcn} (a new MCN: "
              "the destination already answered the old one)")
    return 0


def _cmd_orders_retry(args: argparse.Namespace) -> int:
    """Send waiting transmissions now: a retry (same MCN, same bytes), not a resend."""
    chosen = [bool(args.id), bool(args.destination), bool(args.all_waiting)]
    if sum(chosen) != 1:
        print("say what to retry: ORDER_KEY, --destination D or --all-waiting (one of them)",
              file=sys.stderr)
        return 2
    ledger = _ledger(args)
    order_key = None
    if args.id:
        found = ledger.order_key_for(args.id)
        if found is None:
            print(f"no order, order version or MCN {args.id!r} in the ledger",
                  file=sys.stderr)
            return 1
        order_key = found[0]
    if args.destination and args.destination not in _config(args).destinations:
        print(f"no destination {args.destination!r} in the config", file=sys.stderr)
        return 1
    mcns = ledger.retry_now(order_key=order_key, destination=args.destination,
                            actor=_actor(args), reason=args.reason)
    if args.json:
        _print_json({"retried": mcns})
    elif mcns:
        print(f"{len(mcns)} waiting transmission(s) will be sent now, each with its own MCN "
              f"(a retry): {', '.join(mcns[:10])}{' ...' if len(mcns) > 10 else ''}")
    else:
        print("nothing waiting to retry (SENT ones await their acknowledgement; later "
              "versions wait for the earlier one)")
    return 0


# -- dead letters ----------------------------------------------------------------------------

def _cmd_dlq(args: argparse.Namespace) -> int:
    from engine.intake import dead_letters

    config = _config(args)
    if args.action == "list":
        items = dead_letters.list_dead_letters(config, limit=args.limit)
        if args.json:
            _print_json(items)
        else:
            _table([[i["id"], i["size"], i["reason"]] for i in items],
                   ["MESSAGE", "BYTES", "REASON"])
            print(f"\n{len(items)} dead-lettered message(s) in {dead_letters.where(config)}")
        return 0
    if not args.reason:
        print("dlq replay needs --reason (it goes to the audit trail)", file=sys.stderr)
        return 2
    count = dead_letters.replay_dead_letters(config, limit=args.limit)
    _ledger(args).record_action(actor=_actor(args), reason=args.reason,
                                detail=f"replayed {count} dead-lettered message(s) from "
                                       f"{dead_letters.where(config)} to the intake")
    if args.json:
        _print_json({"replayed": count})
    else:
        print(f"replayed {count} message(s) to the intake")
    return 0


# -- registration ----------------------------------------------------------------------------

def _guard(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn the engine's own errors into one readable line and exit status 1."""
    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except ConfigError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        except EngineError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return run


def register_operations(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`run`, `demo`, `db`, `orders`, `dlq`."""
    def common(p: argparse.ArgumentParser, json_flag: bool = True) -> None:
        p.add_argument("--config", type=Path, metavar="FILE",
                       help=f"engine config (YAML); default ${CONFIG_ENV} or the embedded "
                            "one-box setup")
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")

    def person(p: argparse.ArgumentParser, required: bool = True) -> None:
        """A person's action: why (required) and who, for the audit trail."""
        p.add_argument("--reason", required=required,
                       help="why (recorded in the audit trail; no personal data)")
        p.add_argument("--as", dest="actor", metavar="NAME",
                       help="who is acting (default: the OS user)")

    p = sub.add_parser("run", help="run the engine until stopped (SIGTERM/Ctrl-C)")
    common(p, json_flag=False)
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    p.add_argument("--log-console", action="store_true",
                   help="readable log lines instead of JSON (both redact personal data)")
    p.set_defaults(func=_guard(_cmd_run))

    p = sub.add_parser("demo", help="run the whole engine embedded, no broker, and show it")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--timeout", type=float, default=60.0, help="give up after this many s")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="keep the demo's spool and ledger in DIR (default: a temp dir)")
    p.set_defaults(func=_guard(_cmd_demo))

    p = sub.add_parser("db", help="ledger database maintenance")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    q = dbsub.add_parser("upgrade", help="apply ledger migrations")
    common(q, json_flag=False)
    q.set_defaults(func=_guard(_cmd_db_upgrade))

    p = sub.add_parser("orders", help="find, inspect, retry and resend orders")
    osub = p.add_subparsers(dest="orders_command", metavar="ACTION", required=True)
    q = osub.add_parser("show", help="state history, attempts and acks of one order")
    q.add_argument("id", help="order key (ORI/ORDER-ID), KEY#VERSION, or an MCN")
    common(q)
    q.set_defaults(func=_guard(_cmd_orders_show))
    q = osub.add_parser("find", help="order versions by case, court, state or overdue")
    q.add_argument("--case", help="court case number")
    q.add_argument("--court", help="court ORI")
    q.add_argument("--state", help="RECEIVED, WAITING, READY, SENT, RETRY_SCHEDULED, "
                                   "ACKED, REJECTED or INVALID")
    q.add_argument("--overdue", action="store_true", help="past due and not ACKED")
    q.add_argument("--limit", type=int, default=200)
    common(q)
    q.set_defaults(func=_guard(_cmd_orders_find))
    q = osub.add_parser("resend", help="send a REJECTED or INVALID version again (new MCN)")
    q.add_argument("id", help="KEY#VERSION or the MCN of its last transmission")
    common(q)
    person(q)
    q.set_defaults(func=_guard(_cmd_orders_resend))
    q = osub.add_parser("retry", help="send waiting transmissions now (same MCN)")
    q.add_argument("id", nargs="?", help="order key, KEY#VERSION or an MCN")
    q.add_argument("--destination", metavar="D", help="everything waiting for destination D")
    q.add_argument("--all-waiting", action="store_true", help="everything waiting")
    common(q)
    person(q)
    q.set_defaults(func=_guard(_cmd_orders_retry))

    p = sub.add_parser("dlq", help="the intake's dead-letter queue (or spool/invalid)")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("--limit", type=int, default=100, help="at most this many messages")
    common(p)
    person(p, required=False)  # `list` needs none; `replay` checks
    p.set_defaults(func=_guard(_cmd_dlq))
