"""The `engine` command line: one subcommand per job, each a small function.

Subcommands are registered by `register_*` functions so each area of the engine keeps its
own commands next to its code; this module only assembles them.

The package holds every command (`ops`: run, db, orders, dlq; `demo`, `convert`,
`schema_export`, `deadlines`, `clets`, `mapping`, `config_check`). The top layer: it may
import anything in `engine`; nothing in `engine` imports it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine.about import version_text
from engine.canonical import decode_order
from engine.cli.preflight import preflight_problems
from engine.cli.schema_export import register_schema
from engine.errors import InputError, OrderInvalid

__all__ = ["main"]

Register = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def _cmd_version(args: argparse.Namespace) -> int:
    print(version_text())
    return 0


class _VersionAction(argparse.Action):
    """`--version`, worked out only when asked (it loads the CLETS layout)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the engine's version, "
                         "and the NIEM and CLETS layout versions it speaks, and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version_text())
        parser.exit()


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
            from engine.law.derivations import apply_law

            applied = apply_law(order)  # what the intake would send
            # What the destinations' renderers would refuse is refused here (issue 16.10).
            problems = preflight_problems(applied.order)
            if problems:
                failed += 1
                results.append({"file": str(path), "ok": False, "errors": [
                    {"path": e.path, "reason": e.reason} for e in problems]})
            else:
                results.append({"file": str(path), "ok": True, "order": order.version_key,
                                "derived": list(applied.derivations)})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if r["ok"]:
                print(f"OK      {r['file']}  ({r['order']})")
                for note in r["derived"]:
                    print(f"    {note}")
            else:
                print(f"INVALID {r['file']}")
                for e in r["errors"]:
                    print(f"    {e['path']}: {e['reason']}")
    return 1 if failed else 0


def _register_core(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("version", help="print the engine's version")
    p.set_defaults(func=_cmd_version)
    p = sub.add_parser("check", help="validate canonical intake files (rendered for every "
                                     "destination kind) and print field errors")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_check)


def _registrations() -> list[Register]:
    """Every area's command registration, in help order."""
    from engine.cli.clets import register_clets
    from engine.cli.convert import register_convert
    from engine.cli.deadlines import register_deadlines
    from engine.cli.mapping import register_mapping
    from engine.cli.ops import register_operations  # run, demo, db, orders, dlq
    from engine.niem.iepd import register_niem
    from engine.receiver.cli import register_receiver

    return [
        register_operations,
        _register_core,
        register_schema,
        register_convert,
        register_mapping,
        register_clets,
        register_niem,
        register_deadlines,
        register_receiver,
    ]


#: Commands that need none of the others: `engine convert FILE` builds only its own parser,
#: so a one-file preview loads the renderers and not the service stack (pika, SQLAlchemy,
#: the court calendars), which would treble its memory.
_STANDALONE: dict[str, str] = {"convert": "engine.cli.convert:register_convert"}


def _standalone(command: str) -> list[Register]:
    module, _, name = _STANDALONE[command].partition(":")
    return [getattr(importlib.import_module(module), name)]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (``command`` in `_STANDALONE`) just that command's."""
    parser = argparse.ArgumentParser(
        prog="engine",
        description="Carry court protective orders to the state DOJ registry, in time.",
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    registrations = _standalone(command) if command in _STANDALONE else _registrations()
    for register in registrations:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `engine ... | head` closed the pipe: not an error
        sys.stderr.close()
        return 0
