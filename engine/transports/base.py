"""The transport seam: `connect()`, `send(envelope) -> Receipt`, `close()`."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

__all__ = ["Envelope", "MockTransport", "Receipt", "Transport"]


@dataclass(frozen=True, slots=True)
class Envelope:
    """One outbound message, ready to go: what a transport moves, and nothing else."""

    #: Message control number: unique per transmission, kept across retries, so a
    #: receiver can drop duplicates.
    mcn: str
    #: Rendered message (NIEM XML or a CLETS message), exactly as validated.
    body: bytes
    #: "application/xml" for NIEM, "text/plain" for CLETS.
    content_type: str
    #: Extra protocol headers (never personal data).
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the transport knows once `send` returns.

    Synchronous transports (HTTPS, TCP) hand back the DOJ's acknowledgement in ``ack``;
    asynchronous ones (AMQP, file drop) return ``ack=None`` and the acknowledgement
    arrives later on the ack channel, correlated by message control number.
    """

    mcn: str
    ack: bytes | None = None


class Transport(abc.ABC):
    """A connection to one destination. Usable as a context manager."""

    def connect(self) -> None:  # noqa: B027 - optional hook; many transports connect lazily
        """Open the connection; safe to call again after a failure."""

    @abc.abstractmethod
    def send(self, envelope: Envelope) -> Receipt:
        """Deliver one envelope, or raise `TransportUnavailable` / `DestinationRejected`."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the connection; safe to call twice."""

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class MockTransport(Transport):
    """A transport that calls ``handler(envelope)`` instead of a network: for fast tests.

    The handler returns a `Receipt` or raises the same errors a real transport would.
    """

    def __init__(self, handler: Callable[[Envelope], Receipt]) -> None:
        self._handler = handler
        self.sent: list[Envelope] = []

    def send(self, envelope: Envelope) -> Receipt:
        self.sent.append(envelope)
        return self._handler(envelope)
