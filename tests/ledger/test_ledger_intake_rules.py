"""What intake records about an order as its versions arrive: the latest version known.

`orders.latest_version` decides whether an acknowledgement is for the order's newest
version (`engine/ledger/acknowledgements.py`); it moves up with each newer version, never
down for a late older one, and only for its own order.
"""

from __future__ import annotations

import sqlalchemy as sa

from engine.ledger import Ledger
from engine.ledger.schema import orders


def latest(ledger: Ledger) -> dict[str, int]:
    with ledger.engine.connect() as conn:
        return {k.split("/", 1)[1]: v for k, v in conn.execute(
            sa.select(orders.c.order_key, orders.c.latest_version))}


def test_the_latest_version_moves_up_for_its_own_order_only(ledger, record) -> None:
    """A, B, C entered; B's version 3 arrives, then its late version 2: B is at 3, the
    orders whose keys sort before and after it are untouched."""
    ledger.record_intake([record("A"), record("B"), record("C")])
    ledger.record_intake([record("B", 3, content="c")])
    assert latest(ledger) == {"A": 1, "B": 3, "C": 1}
    ledger.record_intake([record("B", 2, content="b")])
    assert latest(ledger) == {"A": 1, "B": 3, "C": 1}
    ledger.record_intake([record("B", 4, content="d")])
    assert latest(ledger) == {"A": 1, "B": 4, "C": 1}
