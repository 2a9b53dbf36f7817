"""`engine mapping ...`: check a court mapping, run its example cases, try it on a message."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine import resources
from engine.canonical import encode_order
from engine.errors import InputError, MappingError, OrderInvalid
from engine.mappings.examples import register_examples
from engine.mappings.mapping import load_mapping
from engine.mappings.runner import run_mapping_tests

__all__ = ["default_mapping_root", "register_mapping"]


def default_mapping_root() -> Path:
    """`config/mappings` of the working directory, else the examples the engine ships."""
    here = Path("config/mappings")
    if here.is_dir():
        return here
    return resources.path("config/mappings")


def _cmd_test(args: argparse.Namespace) -> int:
    folders = args.dirs or [default_mapping_root()]
    results = run_mapping_tests(folders, update_rendered=args.update_rendered)
    for result in results:
        print(f"{result.status:<5} {result.mapping}/{result.case}")
        for line in result.details:
            print(f"      {line}")
        for note in result.notes:
            print(f"      note: {note}")
    passed = sum(r.ok for r in results)
    mappings = len({r.mapping for r in results})
    print(f"{mappings} mapping(s), {len(results)} case(s): {passed} passed, "
          f"{len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


def _cmd_check(args: argparse.Namespace) -> int:
    failed = 0
    for path in args.files:
        try:
            mapping = load_mapping(path)
        except MappingError as exc:
            failed += 1
            print(f"INVALID {path}")
            for line in str(exc).splitlines():
                print(f"    {line}")
        else:
            print(f"OK      {path}  ({mapping.name}, {mapping.format})")
    return 1 if failed else 0


def _cmd_apply(args: argparse.Namespace) -> int:
    try:
        mapping = load_mapping(args.mapping)
    except MappingError as exc:
        print(exc)
        return 1
    failed = 0
    for path in args.inputs:
        try:
            order = mapping.apply(path.read_bytes())
        except OrderInvalid as exc:
            failed += 1
            print(f"INVALID {path}")
            for error in exc.errors:
                print(f"    {error.path}: {error.reason}")
        except (InputError, OSError) as exc:
            failed += 1
            print(f"INVALID {path}\n    (message): {exc}")
        else:
            print(encode_order(order, indent=2))
    return 1 if failed else 0


def register_mapping(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `engine mapping test|check|apply`."""
    parser = sub.add_parser("mapping", help="check and test court CMS mappings")
    commands = parser.add_subparsers(dest="mapping_command", metavar="ACTION", required=True)
    p = commands.add_parser("test", help="run mapping test folders (default: config/mappings)")
    p.add_argument("dirs", nargs="*", type=Path, metavar="DIR")
    p.add_argument("--update-rendered", action="store_true",
                   help="rewrite pinned NIEM/CLETS outputs from the current renderers "
                        "(after a deliberate format change; canonical outputs never change)")
    p.set_defaults(func=_cmd_test)
    p = commands.add_parser("check", help="load-time validation of mapping files")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.set_defaults(func=_cmd_check)
    p = commands.add_parser("apply", help="map CMS messages and print canonical JSON")
    p.add_argument("mapping", type=Path, metavar="MAPPING")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    p.set_defaults(func=_cmd_apply)
    register_examples(commands)
