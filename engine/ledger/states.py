"""The states an order version (and its transmission) moves through.

    RECEIVED --> WAITING --> READY --> SENT --> ACKED
        |          (an earlier     |  ^   |
        |           version is     v  |   +--> REJECTED   (needs a person; alerted)
        |           not ACKED)  RETRY_SCHEDULED  (outage: next_attempt_at, durable)
        +--> INVALID  (bad input, recorded with its reason; alerted)

A transmission is SUPERSEDED when a person resends its version (`engine orders resend`):
the new transmission gets a new message control number, the old one keeps its history.
"""

from __future__ import annotations

import enum

__all__ = ["FINAL_STATES", "AckKind", "IntakeOutcome", "State"]


class State(enum.StrEnum):
    RECEIVED = "RECEIVED"
    WAITING = "WAITING"
    READY = "READY"
    SENT = "SENT"
    RETRY_SCHEDULED = "RETRY_SCHEDULED"
    ACKED = "ACKED"
    REJECTED = "REJECTED"
    INVALID = "INVALID"
    #: Transmissions only: replaced by a resend.
    SUPERSEDED = "SUPERSEDED"


#: States that need nothing more from the engine (REJECTED and INVALID need a person).
FINAL_STATES = frozenset({State.ACKED, State.REJECTED, State.INVALID})


class AckKind(enum.StrEnum):
    """How an arriving acknowledgement was matched (the `acknowledgements.kind` column)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    #: for a transmission already answered: recorded, nothing changes
    DUPLICATE = "duplicate"
    #: for a transmission that had already been rescheduled or superseded
    LATE = "late"
    #: no transmission has this message control number
    UNKNOWN = "unknown"
    #: could not be parsed
    MALFORMED = "malformed"


class IntakeOutcome(enum.StrEnum):
    """What the ledger did with one intake message (the `intake_messages.outcome` column)."""

    NEW = "new"
    DUPLICATE = "duplicate"
    #: same order version, different content, while the recorded one is valid: not applied
    CONFLICT = "conflict"
    #: same order version, different content, replacing a recorded INVALID version
    REPLACED = "replaced"
    INVALID = "invalid"
