"""Shared pieces for the CLETS tests: the fixed transmission context of the golden files."""

from __future__ import annotations

import pytest

from engine.formats import RenderContext
from tests.goldens import GOLDEN_RECORD_ID, GOLDEN_SENT_AT

__all__ = ["GOLDEN_RECORD_ID"]


@pytest.fixture
def golden_context() -> RenderContext:
    """The fixed context golden messages are rendered with (no record id)."""
    return RenderContext(mcn="MCN-GOLDEN-0001", sent_at=GOLDEN_SENT_AT)


@pytest.fixture
def later_context(golden_context: RenderContext) -> RenderContext:
    """The golden context with the entry's DOJ record id, for actions after the entry."""
    return RenderContext(mcn=golden_context.mcn, sent_at=golden_context.sent_at,
                         doj_record_id=GOLDEN_RECORD_ID)
