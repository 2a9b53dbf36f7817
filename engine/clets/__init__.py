"""CLETS / NCIC fixed-field messages for the state registry, and the DOJ's acknowledgements.

The contract other areas code against: `render_clets(order, ctx) -> Rendered` (validated
against the declarative layout `schemas/clets-layout.yaml`), `validate_clets(text)`,
`render_clets_ack(ack) -> bytes` and `parse_clets_ack(data) -> Accepted | Rejected`
(`AckError` when malformed); `read_clets(data)` tells a receiver which order, action and
record a valid message is about. `docs/clets-contract.md` describes the messages for DOJ teams.

May import: `engine.canonical`, the law, the config and the top-level value modules
(model, formats, ack_types, errors, resources). Not the other formats, a stage or the CLI.
"""

from __future__ import annotations

from engine.clets.acks import parse_clets_ack, render_clets_ack
from engine.clets.layout import Layout, LayoutError, default_layout, load_layout
from engine.clets.read import read_clets
from engine.clets.render import CONTENT_TYPE, render_clets
from engine.clets.text import transliterate
from engine.clets.validate import validate_clets

__all__ = [
    "CONTENT_TYPE",
    "Layout",
    "LayoutError",
    "default_layout",
    "load_layout",
    "parse_clets_ack",
    "read_clets",
    "render_clets",
    "render_clets_ack",
    "transliterate",
    "validate_clets",
]
