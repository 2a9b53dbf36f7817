"""The NIEM area's public surface is exactly the contract other areas code against."""

from __future__ import annotations

import engine.niem


def test_engine_niem_exports_the_contract() -> None:
    """`engine.niem` exports render/read for orders and render/parse for acknowledgements."""
    assert sorted(engine.niem.__all__) == [
        "parse_niem_ack", "read_niem", "render_niem", "render_niem_ack"]
    assert all(callable(getattr(engine.niem, name)) for name in engine.niem.__all__)
