"""Fixtures for receiver tests: canonical order bodies the receiver's canonical format accepts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.canonical import decode_order, encode_order, order_to_dict

FIXTURE_ORDERS = Path(__file__).parent.parent / "fixtures" / "orders"


def _order_body(name: str = "dv_tro_issue", **changes: object) -> bytes:
    data = order_to_dict(decode_order((FIXTURE_ORDERS / f"{name}.json").read_bytes()))
    data.update(changes)
    return encode_order(decode_order(json.dumps(data))).encode()


@pytest.fixture
def order_body() -> Callable[..., bytes]:
    """Makes a canonical order fixture's intake JSON, with top-level fields changed."""
    return _order_body
