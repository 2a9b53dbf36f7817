"""What a renderer hands the pipeline: the outbound message, validated, and its warnings.

Each outbound format (NIEM XML in `engine.niem`, CLETS in `engine.clets`) provides
``render(order, context) -> Rendered``, raising `engine.errors.RenderError` when the
order cannot become a valid message. The pipeline picks the renderer by format name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from engine.model import Order

__all__ = ["DestinationFacts", "RenderContext", "Rendered", "Renderer", "destination_facts"]


@dataclass(frozen=True, slots=True)
class RenderContext:
    """Facts about one transmission that are not part of the order."""

    #: Message control number of this transmission (kept across retries).
    mcn: str
    #: When the message is first prepared (stays the same across retries).
    sent_at: dt.datetime
    #: The DOJ's record id from the entry's acknowledgement; required for every action
    #: after the entry (modify, extend, terminate, cancel, serve).
    doj_record_id: str | None = None
    #: MCN of the transmission of the version before this one to the same destination,
    #: when there was one (a modify, cancel or serve names the message it follows).
    previous_mcn: str | None = None
    #: A test message: a production receiver refuses it, a test receiver refuses the rest.
    test: bool = False
    #: Who the message is for (the destination's recipient id); None: the format's default.
    recipient: str | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    content_type: str
    #: Things the renderer changed to fit the format (a truncated field, a transliterated
    #: name), said without the personal data itself; recorded with the order version.
    warnings: tuple[str, ...] = ()


Renderer = Callable[[Order, RenderContext], Rendered]


@dataclass(frozen=True, slots=True)
class DestinationFacts:
    """What a destination's settings say about every message sent to it."""

    #: The recipient id the message names (None: the format's default).
    recipient: str | None = None
    #: A test destination: its messages are test messages, and no other kind reaches it.
    test: bool = False


def destination_facts(settings: Mapping[str, Any]) -> DestinationFacts:
    """The facts in a destination's ``settings`` (``recipient``, ``test_messages``)."""
    recipient = settings.get("recipient")
    test = settings.get("test_messages", False)
    if recipient is not None and not isinstance(recipient, str):
        raise ValueError("destination setting 'recipient' must be a string")
    if not isinstance(test, bool):
        raise ValueError("destination setting 'test_messages' must be true or false")
    return DestinationFacts(recipient=recipient, test=test)
