"""The `engine` command line: one subcommand per job, each a small function.

Subcommands are registered by `register_*` functions so each area of the engine keeps its
own commands next to its code; this module only assembles them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine import __version__
from engine.errors import InputError, OrderInvalid
from engine.intake import decode_order
from engine.schema_export import register_schema

__all__ = ["main"]

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _cmd_version(args: argparse.Namespace) -> int:
    print(f"engine {__version__}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    """Check intake files; print one line per file, the field errors beneath a bad one."""
    failed = 0
    results: list[dict[str, Any]] = []
    for path in args.files:
        try:
            order = decode_order(Path(path).read_bytes())
        except OrderInvalid as exc:
            failed += 1
            errors = [{"path": e.path, "reason": e.reason} for e in exc.errors]
            results.append({"file": str(path), "ok": False, "errors": errors})
        except (InputError, OSError) as exc:
            failed += 1
            results.append({"file": str(path), "ok": False,
                            "errors": [{"path": "(message)", "reason": str(exc)}]})
        else:
            results.append({"file": str(path), "ok": True, "order": order.version_key})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if r["ok"]:
                print(f"OK      {r['file']}  ({r['order']})")
            else:
                print(f"INVALID {r['file']}")
                for e in r["errors"]:
                    print(f"    {e['path']}: {e['reason']}")
    return 1 if failed else 0


def _register_core(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("version", help="print the engine's version")
    p.set_defaults(func=_cmd_version)
    p = sub.add_parser("check", help="validate canonical intake files and print field errors")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_check)


def _registrations() -> list[Register]:
    """Every area's command registration, in help order."""
    from engine.clets.cli import register_clets
    from engine.convert import register_convert
    from engine.deadlines_cli import register_deadlines
    from engine.mappings.cli import register_mapping
    from engine.ops_cli import register_operations  # run, demo, db, orders, dlq
    from engine.receiver.cli import register_receiver

    return [
        register_operations,
        _register_core,
        register_schema,
        register_convert,
        register_mapping,
        register_clets,
        register_deadlines,
        register_receiver,
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engine",
        description="Carry court protective orders to the state DOJ registry, in time.",
    )
    parser.add_argument("--version", action="version", version=f"engine {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in _registrations():
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `engine ... | head` closed the pipe: not an error
        sys.stderr.close()
        return 0
