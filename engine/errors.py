"""Every error the engine raises on purpose, in one tree.

    EngineError
    ├── InputError                 bad input: permanent, recorded with its reason, never retried
    │   ├── DecodeError            bytes that are not a well-formed message (size, encoding,
    │   │                          syntax, DOCTYPE/entities, depth)
    │   │   └── StructureError     a record-oriented export that breaks a structure rule
    │   │                          of its mapping (line number and rule)
    │   ├── OrderInvalid           a well-formed message whose order breaks a rule; carries
    │   │                          FieldError(path, reason) for each problem
    │   └── MappingError           a court mapping that cannot be loaded (file, line, key)
    ├── RenderError                an order that cannot be rendered as a valid outbound message
    ├── TransportError             talking to a destination failed
    │   ├── TransportUnavailable   transient: connection refused/reset, timeout, 5xx; retry
    │   └── DestinationRejected    permanent: the destination refused the message; never
    │                              retried blindly
    ├── AckError                   an acknowledgement that cannot be parsed or correlated
    └── LedgerError                the ledger could not commit (transient: retried)

Library errors (pika, lxml, SQLAlchemy, http) are converted at the boundary with
``raise X(...) from exc``; nothing deeper than a transport or the ledger sees them.
The split that matters: *transient* errors are retried with backoff, *permanent* ones are
recorded and alerted, and neither stops the queue.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AckError",
    "DecodeError",
    "DestinationRejected",
    "EngineError",
    "FieldError",
    "InputError",
    "LedgerError",
    "MappingError",
    "OrderInvalid",
    "RenderError",
    "StructureError",
    "TransportError",
    "TransportUnavailable",
]


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    #: True where trying again later can succeed.
    transient: bool = False


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field: where it is and what is wrong. Never the field's value."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class InputError(EngineError):
    """Input that can never be processed as it is; recorded with its reason."""


class DecodeError(InputError):
    """Bytes that are not a well-formed message of the expected format."""


class StructureError(DecodeError):
    """A record-oriented export whose lines break a structure rule of its mapping (a
    missing trailer, a record type not declared, a wrong record count): `line` is the
    1-based line number, `rule` the mapping key of the rule. The text names no value."""

    def __init__(self, line: int, rule: str, message: str) -> None:
        self.line = line
        self.rule = rule
        super().__init__(f"line {line}: {message} (rule {rule})")


class OrderInvalid(InputError):
    """A well-formed order that breaks one or more rules."""

    def __init__(self, errors: list[FieldError] | tuple[FieldError, ...]) -> None:
        self.errors = tuple(errors)
        super().__init__("; ".join(str(e) for e in self.errors) or "invalid order")


class MappingError(InputError):
    """A mapping file that cannot be used; the message names file, line and key."""


class RenderError(EngineError):
    """An order that cannot be rendered as a valid outbound message."""

    def __init__(self, message: str, errors: tuple[FieldError, ...] = ()) -> None:
        self.errors = tuple(errors)
        super().__init__(message)


class TransportError(EngineError):
    """Talking to a destination failed."""


class TransportUnavailable(TransportError):
    """The destination could not be reached or did not answer in time: retry later."""

    transient = True


class DestinationRejected(TransportError):
    """The destination refused the message for good; never retried blindly."""


class AckError(EngineError):
    """An acknowledgement that cannot be parsed or matched to a transmission."""


class LedgerError(EngineError):
    """The ledger could not commit; the intake message stays unacked and is redelivered."""

    transient = True
