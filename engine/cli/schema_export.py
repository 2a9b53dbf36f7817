"""The JSON Schema of the intake format, generated from `engine.model` so it cannot drift.

Court teams and DOJ endpoint teams read and validate against
`schemas/canonical-order.schema.json`; a test fails when that file is out of step with the
model. Regenerate it with ``engine schema --output schemas/canonical-order.schema.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.model import SCHEMA_VERSION, Order

__all__ = [
    "SCHEMA_FILE",
    "SCHEMA_ID",
    "canonical_order_schema",
    "register_schema",
    "render_schema",
]

#: Identifies this version of the format; changes when SCHEMA_VERSION does.
SCHEMA_ID = f"urn:po-engine:schema:canonical-order:{SCHEMA_VERSION}"
#: Where the checked-in copy lives in a source tree.
SCHEMA_FILE = Path("schemas") / "canonical-order.schema.json"

_DESCRIPTION = (
    "One version of one protective or restraining order, in the engine's own intake format "
    "(canonical order JSON). Shape and codes are checked here; rules across fields (dates in "
    "order, version 1 is an issue, condition 08 needs miscellaneous, a served order needs its "
    "service time, ...) are checked by `engine check`. Generated from engine/model.py: "
    "do not edit by hand."
)


def canonical_order_schema() -> dict[str, Any]:
    """The intake format's JSON Schema (draft 2020-12), with its id, title and description."""
    generated = Order.model_json_schema(mode="validation")
    generated.pop("title", None)
    generated.pop("description", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"Canonical protective order, intake format {SCHEMA_VERSION}",
        "description": _DESCRIPTION,
        **generated,
    }


def render_schema() -> str:
    """The schema as the exact text of the checked-in file."""
    return json.dumps(canonical_order_schema(), indent=2, ensure_ascii=False) + "\n"


def _cmd_schema(args: argparse.Namespace) -> int:
    text = render_schema()
    if args.check is not None:
        try:
            current = args.check.read_text(encoding="utf-8")
        except OSError as exc:
            print(f"cannot read {args.check}: {exc.strerror}", file=sys.stderr)
            return 1
        if current != text:
            print(f"{args.check} is out of date with engine/model.py; regenerate it with:\n"
                  f"    engine schema --output {args.check}", file=sys.stderr)
            return 1
        print(f"{args.check} is up to date")
        return 0
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
        return 0
    sys.stdout.write(text)
    return 0


def register_schema(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `engine schema`: print, write or check the intake format's JSON Schema."""
    p = sub.add_parser("schema", help="print the JSON Schema of the canonical intake format")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--output", type=Path, metavar="FILE",
                       help=f"write it to FILE (the checked-in copy is {SCHEMA_FILE})")
    where.add_argument("--check", type=Path, metavar="FILE",
                       help="exit 1 when FILE differs from the schema the model gives")
    p.set_defaults(func=_cmd_schema)
