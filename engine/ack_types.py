"""The DOJ's answer to one transmission, as a typed result.

Each format parses its own acknowledgement form (NIEM XML in `engine.niem`, CLETS text
in `engine.clets`) into one of these; the correlator matches them to transmissions by
message control number. A response that cannot be parsed raises `engine.errors.AckError`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Accepted", "Acknowledgement", "Rejected"]


@dataclass(frozen=True, slots=True)
class Accepted:
    """The registry took the message; ``record_id`` identifies the record for later actions."""

    mcn: str
    record_id: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """The registry refused the message.

    ``retryable`` is the DOJ's own word that the fault was on its side (system busy,
    try later); every other reject needs a person and is never retried blindly.
    """

    mcn: str
    code: str
    reason: str
    retryable: bool = False


Acknowledgement = Accepted | Rejected
