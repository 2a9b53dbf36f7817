"""The one `Ledger` callers use: the parts of the repository, each in the module named for
what it records, put together over one database (SQLite or PostgreSQL).

* `engine.ledger.intake`: intake messages and new versions;
* `engine.ledger.transmissions`: claims, sends, retries, expiry;
* `engine.ledger.acknowledgements`: the DOJ's answers;
* `engine.ledger.actions`: what people do (resend, retry now);
* `engine.ledger.queries`: the read side for ops and metrics;
* `engine.ledger.repository`: the statements, value types and plumbing they share.
"""

from __future__ import annotations

from engine.ledger.acknowledgements import AcknowledgementLedger
from engine.ledger.actions import OperatorActions
from engine.ledger.intake import IntakeLedger
from engine.ledger.queries import LedgerQueries
from engine.ledger.transmissions import TransmissionLedger

__all__ = ["Ledger"]


class Ledger(IntakeLedger, TransmissionLedger, AcknowledgementLedger, OperatorActions,
             LedgerQueries):
    """The repository over one database (SQLite or PostgreSQL); safe to share across threads."""
