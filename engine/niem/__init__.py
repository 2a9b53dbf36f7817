"""NIEM 5.2 XML for protective orders: render, read, and the DOJ's acknowledgements.

The contract other areas code against (see docs/niem-contract.md for the document itself):

- `render_niem(order, ctx) -> Rendered`: the order as a validated NIEM message.
- `read_niem(data) -> Order`: a NIEM message from outside, parsed safely, as a canonical order.
- `render_niem_ack(ack) -> bytes` / `parse_niem_ack(data) -> Accepted | Rejected`.

May import: `engine.canonical`, the law, the config and the top-level value modules
(model, formats, ack_types, errors, safexml, resources). Not the other formats, a stage
or the CLI.
"""

from engine.niem.ack import parse_niem_ack, render_niem_ack
from engine.niem.read import read_niem
from engine.niem.render import render_niem

__all__ = ["parse_niem_ack", "read_niem", "render_niem", "render_niem_ack"]
