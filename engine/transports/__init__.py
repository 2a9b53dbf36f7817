"""Ways to reach a DOJ endpoint: one small interface (`Transport`), one module per transport.

No transport knows about mappings, NIEM or the ledger: it moves an `Envelope` and returns
a `Receipt`, converting its library's errors into `TransportUnavailable` (retry) or
`DestinationRejected` (do not retry).
"""

from engine.transports.base import Envelope, MockTransport, Receipt, Transport

__all__ = ["Envelope", "MockTransport", "Receipt", "Transport"]
