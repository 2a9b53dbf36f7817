"""`engine clets ...` commands, and the CLETS side of `engine convert --to clets`.

`convert_to_clets(path)` is what `engine convert --to clets FILE` prints: the message for
one intake file. A preview has no real transmission, so it uses a fixed preview MCN and,
for the actions after the entry, a placeholder DOJ record id unless one is given.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

from engine.canonical import decode_order
from engine.clets.layout import DEFAULT_LAYOUT_PATH, Layout, LayoutError, load_layout
from engine.clets.layout_doc import sync_document
from engine.clets.render import render_clets
from engine.clets.validate import validate_clets
from engine.errors import InputError, RenderError
from engine.formats import RenderContext
from engine.model import Action

__all__ = ["PREVIEW_MCN", "PREVIEW_RECORD_ID", "convert_to_clets", "register_clets"]

#: Control number of a preview rendering (never sent).
PREVIEW_MCN = "PREVIEW"
#: Stands in for the entry's DOJ record id when previewing a later action.
PREVIEW_RECORD_ID = "PREVIEWNIC"


def convert_to_clets(path: str | Path, *, doj_record_id: str | None = None,
                     mcn: str = PREVIEW_MCN, layout: Layout | None = None) -> str:
    """The CLETS message for the intake file at ``path``, as text.

    Raises `InputError` for a bad intake file and `RenderError` for an order the layout
    cannot carry. Actions after the entry use `PREVIEW_RECORD_ID` unless given one.
    """
    order = decode_order(Path(path).read_bytes())
    if doj_record_id is None and order.action is not Action.ISSUE:
        doj_record_id = PREVIEW_RECORD_ID
    ctx = RenderContext(mcn=mcn, sent_at=dt.datetime.now(dt.UTC), doj_record_id=doj_record_id)
    rendered = render_clets(order, ctx, layout)
    for warning in rendered.warnings:  # fields and paths only, never the values
        print(f"warning: {warning}", file=sys.stderr)
    return rendered.body.decode("ascii")


def _layout_arg(args: argparse.Namespace) -> Layout:
    return load_layout(args.layout)


def _cmd_render(args: argparse.Namespace) -> int:
    layout = _layout_arg(args)
    failed = 0
    for path in args.files:
        try:
            text = convert_to_clets(path, doj_record_id=args.record_id, mcn=args.mcn,
                                    layout=layout)
        except RenderError as exc:
            failed += 1
            print(f"CANNOT RENDER {path}", file=sys.stderr)
            for error in exc.errors:
                print(f"    {error}", file=sys.stderr)
        except (InputError, OSError) as exc:
            failed += 1
            print(f"INVALID {path}: {exc}", file=sys.stderr)
        else:
            sys.stdout.write(text)
    return 1 if failed else 0


def _cmd_validate(args: argparse.Namespace) -> int:
    layout = _layout_arg(args)
    action = Action(args.action) if args.action else None
    failed = 0
    for path in args.files:
        try:
            errors = validate_clets(Path(path).read_bytes(), action, layout)
        except OSError as exc:
            failed += 1
            print(f"UNREADABLE {path}: {exc.strerror}")
            continue
        if errors:
            failed += 1
            print(f"INVALID {path}")
            for error in errors:
                print(f"    {error}")
        else:
            print(f"OK      {path}")
    return 1 if failed else 0


def _cmd_layout(args: argparse.Namespace) -> int:
    layout = _layout_arg(args)
    if args.sync_doc is not None:
        path = Path(args.sync_doc)
        path.write_text(sync_document(path.read_text(encoding="utf-8"), layout),
                        encoding="utf-8")
        print(f"updated the layout sections of {path}")
        return 0
    if args.assumptions:
        for where, note in layout.assumptions():
            print(f"{where}: {note}")
        return 0
    print(f"layout {layout.path} (version {layout.version})")
    for action, msg in layout.messages.items():
        print(f"\n{action.value}: {layout.key_field}/{msg.key}  ({msg.meaning})")
        for mnemonic in msg.mnemonics(layout):
            spec = layout.fields[mnemonic]
            flag = "required" if mnemonic in msg.required else "optional"
            table = f" table={spec.table.name}" if spec.table else ""
            print(f"  {mnemonic:<4} {flag:<8} max={spec.max_length:<3} "
                  f"charset={spec.charset_name}{table}  {spec.meaning}")
    return 0


Command = Callable[[argparse.Namespace], int]


def _with_layout_errors(func: Command) -> Command:
    """Report a bad layout as one line naming the key, exit status 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except LayoutError as exc:
            print(f"BAD LAYOUT {exc}", file=sys.stderr)
            return 2
    return run


def register_clets(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `engine clets render|validate|layout`."""
    group = sub.add_parser("clets", help="CLETS / NCIC messages: render, validate, layout")
    commands = group.add_subparsers(dest="clets_command", metavar="SUBCOMMAND", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = commands.add_parser(name, help=help_text)
        p.add_argument("--layout", type=Path, default=DEFAULT_LAYOUT_PATH,
                       help="layout file (default: the shipped schemas/clets-layout.yaml)")
        return p

    p = add("render", "print the CLETS message for canonical intake files")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--record-id", help="DOJ record id (NIC) for actions after the entry")
    p.add_argument("--mcn", default=PREVIEW_MCN, help="message control number to use")
    p.set_defaults(func=_with_layout_errors(_cmd_render))

    p = add("validate", "check CLETS message files field by field against the layout")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--action", choices=[a.value for a in Action],
                   help="hold the message to this action's rules (default: from its key)")
    p.set_defaults(func=_with_layout_errors(_cmd_validate))

    p = add("layout", "print the message layout: per action, each field and its rules")
    p.add_argument("--assumptions", action="store_true",
                   help="print only the facts to confirm against the state's interface spec")
    p.add_argument("--sync-doc", type=Path, metavar="MARKDOWN",
                   help="rewrite the <!-- layout:... --> sections of a document (the contract)")
    p.set_defaults(func=_with_layout_errors(_cmd_layout))
