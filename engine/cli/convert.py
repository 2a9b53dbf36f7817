"""`engine convert --to FORMAT FILE`: show what the engine makes of one file.

Each output format is one entry in `FORMATS`: a name, a line of help, and a function from
the file's bytes (plus the transmission facts given on the command line) to output bytes.
Adding a format (CLETS, say) is one entry here, e.g.::

    "clets": OutputFormat("CLETS message for a canonical intake file",
                          render_canonical_with("engine.clets:render_clets")),
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.canonical import decode_order, encode_order
from engine.errors import DecodeError, EngineError, FieldError, OrderInvalid, RenderError
from engine.formats import RenderContext, Renderer
from engine.model import Action, Order
from engine.resources import INCOMPLETE_INSTALL, missing_resources
from engine.safexml import MAX_XML_BYTES

__all__ = ["FORMATS", "ConvertOptions", "OutputFormat", "register_convert",
           "render_canonical_with"]


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """Transmission facts for a rendered preview (a real send gets them from the ledger)."""

    mcn: str | None = None
    sent_at: dt.datetime | None = None
    doj_record_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutputFormat:
    help: str
    convert: Callable[[bytes, ConvertOptions], bytes]


def _resolve(target: str | Renderer) -> Renderer:
    if callable(target):
        return target
    module, _, name = target.partition(":")
    renderer: Renderer = getattr(importlib.import_module(module), name)
    return renderer


def render_canonical_with(renderer: str | Renderer) -> Callable[[bytes, ConvertOptions], bytes]:
    """A converter: canonical intake JSON -> this renderer's message body.

    ``renderer`` may be ``"module:function"`` so a format's code loads only when used.
    """

    def convert(raw: bytes, options: ConvertOptions) -> bytes:
        from engine.law.derivations import apply_law

        applied = apply_law(decode_order(raw))  # as the intake sends it
        for note in applied.derivations:
            print(note, file=sys.stderr)
        order = applied.order
        if order.action is Action.ISSUE and options.doj_record_id:
            raise RenderError("--doj-record-id: an 'issue' creates the DOJ record; a record id "
                              "belongs to the actions after it",
                              (FieldError("doj_record_id", "not allowed on an issue"),))
        ctx = RenderContext(
            mcn=options.mcn or _preview_mcn(order),
            sent_at=options.sent_at or dt.datetime.now(dt.UTC).replace(microsecond=0),
            doj_record_id=options.doj_record_id,
        )
        rendered = _resolve(renderer)(order, ctx)
        # What the renderer changed to fit the format (a shortened name...), said by field
        # and path, never the value; the ledger records the same warnings when it is sent.
        for warning in rendered.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return rendered.body

    return convert


def _preview_mcn(order: Order) -> str:
    """A placeholder MCN every format accepts: letters, digits and hyphens, 36 at most."""
    stem = re.sub(r"[^A-Za-z0-9]+", "-", order.order_id).strip("-")
    suffix = f"-{order.version}"
    return ("PREVIEW-" + stem)[: 36 - len(suffix)] + suffix


def _niem_to_canonical(raw: bytes, options: ConvertOptions) -> bytes:
    from engine.niem import read_niem

    return (encode_order(read_niem(raw), indent=2) + "\n").encode("utf-8")


#: Output format name -> how to make it. One entry per format.
FORMATS: dict[str, OutputFormat] = {
    "niem": OutputFormat("NIEM 5.2 XML message for a canonical intake file",
                         render_canonical_with("engine.niem:render_niem")),
    "clets": OutputFormat("CLETS message for a canonical intake file",
                          render_canonical_with("engine.clets:render_clets")),
    "canonical": OutputFormat("canonical order JSON for a NIEM XML message",
                              _niem_to_canonical),
}


#: The largest file `engine convert` reads: the XML cap (a canonical intake message has a
#: smaller cap of its own, applied when it is decoded).
MAX_INPUT_BYTES = MAX_XML_BYTES
_CHUNK = 64 * 1024


def read_capped(path: Path, limit: int) -> bytes:
    """The file's bytes, read in chunks and refused as soon as they pass ``limit``.

    Reading the whole file first and measuring it afterwards would hold a 200 MB file in
    memory only to refuse it.
    """
    chunks: list[bytes] = []
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise DecodeError(f"file is larger than {limit} bytes, the limit for one "
                                  f"document; refused unread")
            chunks.append(chunk)
    return b"".join(chunks)


def _aware(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    if value.utcoffset() is None:
        raise argparse.ArgumentTypeError("give a UTC offset, e.g. 2026-11-23T09:00:00Z")
    return value


def _cmd_convert(args: argparse.Namespace) -> int:
    options = ConvertOptions(mcn=args.mcn, sent_at=args.sent_at,
                             doj_record_id=args.doj_record_id)
    try:
        raw = read_capped(Path(args.file), MAX_INPUT_BYTES)
    except OSError as exc:
        print(f"{args.file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except EngineError as exc:  # too large: refused unread
        print(f"{args.file}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    missing = missing_resources()  # an incomplete install: say which file, not a traceback
    if missing:
        for problem in missing:
            print(f"{args.file}: cannot convert: {problem}", file=sys.stderr)
        return 1
    try:
        out = FORMATS[args.to].convert(raw, options)
    except OSError as exc:  # the input was read: this is a file the engine ships
        print(f"{args.file}: cannot convert: {exc}; {INCOMPLETE_INSTALL}", file=sys.stderr)
        return 1
    except (OrderInvalid, RenderError) as exc:
        print(f"{args.file}: {type(exc).__name__}", file=sys.stderr)
        for error in exc.errors:
            print(f"    {error.path}: {error.reason}", file=sys.stderr)
        if not exc.errors:
            print(f"    {exc}", file=sys.stderr)
        return 1
    except EngineError as exc:
        print(f"{args.file}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    return 0


def register_convert(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `engine convert` to the command line."""
    formats = "; ".join(f"{name}: {fmt.help}" for name, fmt in FORMATS.items())
    p = sub.add_parser("convert", help="convert one file between the engine's formats",
                       description=f"Formats: {formats}.")
    p.add_argument("--to", required=True, choices=sorted(FORMATS), help="output format")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--mcn", help="message control number (default: PREVIEW-<order>-<version>)")
    p.add_argument("--sent-at", type=_aware, help="ISO date-time with offset (default: now)")
    p.add_argument("--doj-record-id", help="DOJ record id; required for actions after 'issue'")
    p.set_defaults(func=_cmd_convert)


