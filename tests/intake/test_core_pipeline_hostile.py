"""The pipeline's reasons for hostile messages name the problem the decoder found, even
when the message is too deep or too big for the best-effort key lookup that follows."""

from __future__ import annotations

from pathlib import Path

from engine.intake.pipeline import IntakeMessage

HOSTILE = Path(__file__).parents[1] / "fixtures" / "hostile"


def test_deeply_nested_json_is_invalid_with_the_decoders_reason(core) -> None:
    """100,000 nested brackets: INVALID because it nests too deep, not a RecursionError."""
    body = (HOSTILE / "deeply_nested.json").read_bytes()
    record = core.pipeline.prepare(IntakeMessage(body))
    assert record.error_reason is not None
    assert "nests deeper" in record.error_reason
    assert "RecursionError" not in record.error_reason


def test_oversized_message_is_invalid_for_its_size(core) -> None:
    """A message above the size limit is INVALID for its size and not parsed again."""
    body = b'{"court": {"ori": "CA019015J"}, "pad": "' + b"A" * 2_000_000 + b'"}'
    record = core.pipeline.prepare(IntakeMessage(body))
    assert record.error_reason is not None and "limit" in record.error_reason
    assert record.order_key.startswith("UNKNOWN/UNREADABLE-")
