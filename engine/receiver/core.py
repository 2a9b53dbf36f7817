"""The reference receiver's rules, apart from any socket: validate, dedupe, assign records, answer.

Every server (HTTP, TCP, AMQP, file) hands each inbound message to `Receiver.handle` and
carries out the `Outcome`. The rules, as a DOJ registry applies them:

1. A message control number already answered is a duplicate: it gets the same answer
   again (same record id) and changes nothing; duplicates are counted.
2. The message must be valid in its format (NIEM schema, CLETS layout, canonical JSON);
   otherwise it is rejected with code ``INVALID`` and the reason (field paths, no values).
3. An issue creates the order's record (``H`` + 9 digits, shaped like an NCIC record
   number); issuing an order that already has an active record is rejected
   (``DUP-ENTRY``: a second registration).
4. Any later action needs the active record (else ``NO-RECORD``: sent before the entry was
   acknowledged, or after a cancel) and, when the message names a record id, it must match
   (``WRONG-NIC``). Terminate and cancel close the record.
5. Orders on the fault plan's reject list are refused (``REFUSED``).

Accepted and rejected answers are journaled before they are sent, so a lost answer is
re-sent on the duplicate, never re-decided.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from engine.ack_types import Accepted, Acknowledgement, Rejected
from engine.errors import InputError
from engine.receiver.faults import Fault, FaultPlan
from engine.receiver.formats import (
    FORMATS,
    ReceiverFormat,
    Validated,
    ValidatorUnavailable,
    format_for,
    render_json_ack,
)
from engine.receiver.journal import Journal

__all__ = ["GARBAGE_ACK", "Outcome", "Receiver"]

log = logging.getLogger(__name__)

#: What the receiver answers under the ``garbage`` fault: not an acknowledgement in any format.
GARBAGE_ACK = b"\x00\xff<<garbled acknowledgement>>\x1b[0m"
#: Actions that close the registry record.
_CLOSING = frozenset({"terminate", "cancel"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a server should do with one message.

    ``reply``: send each of ``replies`` (after ``delay`` seconds); ``fail``: answer with the
    transport's transient error; ``drop``: send nothing.
    """

    action: Literal["reply", "fail", "drop"]
    replies: tuple[bytes, ...] = ()
    delay: float = 0.0
    content_type: str = "application/json"
    #: The typed answer (None under ``fail``), for servers that need it and for tests.
    ack: Acknowledgement | None = None
    duplicate: bool = False
    faults: frozenset[Fault] = field(default_factory=frozenset)


class Receiver:
    """Validates, deduplicates and answers messages; shared by all of a process's servers."""

    def __init__(self, *, format: str = "auto", journal: Journal | None = None,
                 faults: FaultPlan | None = None,
                 formats: dict[str, ReceiverFormat] | None = None,
                 on_outcome: Callable[[str, str, Outcome], None] | None = None) -> None:
        #: Called with (mcn, transport, outcome) after each decision (the CLI prints it).
        self.on_outcome = on_outcome
        self.formats = dict(FORMATS if formats is None else formats)
        if format != "auto" and format not in self.formats:
            raise ValueError(
                f"unknown format {format!r}; known: auto, {', '.join(sorted(self.formats))}")
        self.format = format
        self.journal = journal if journal is not None else Journal()
        self.faults = faults if faults is not None else FaultPlan()

    def busy_reply(self, mcn: str, content_type: str | None, body: bytes) -> bytes:
        """A retryable ``BUSY`` reject, for transports whose transient error is an answer."""
        fmt = format_for(self.format, content_type, body, self.formats)
        return fmt.render_ack(Rejected(mcn, "BUSY", "receiver busy, try again later", True))

    def handle(self, mcn: str, body: bytes, content_type: str | None, *,
               transport: str) -> Outcome:
        """Decide the answer to one message (and record it)."""
        outcome = self._handle(mcn, body, content_type, transport)
        if self.on_outcome is not None:
            self.on_outcome(mcn, transport, outcome)
        return outcome

    def _handle(self, mcn: str, body: bytes, content_type: str | None,
                transport: str) -> Outcome:
        faults = self.faults.draw()
        if Fault.FAIL in faults:
            self.journal.count("failed")
            return Outcome("fail", faults=faults)
        fmt = format_for(self.format, content_type, body, self.formats)
        ack, duplicate, render = self._decide(mcn, body, fmt, transport)
        try:
            reply = render(ack)
        except Exception:  # e.g. an MCN the format's ack cannot carry: answer anyway
            log.exception("cannot render the acknowledgement", extra={"mcn": mcn})
            self.journal.count("ack_render_errors")
            reply = render_json_ack(ack)
        delay = self.faults.ack_delay
        if Fault.DROP in faults:
            self.journal.count("dropped")
            return Outcome("drop", ack=ack, duplicate=duplicate, faults=faults)
        if Fault.GARBAGE in faults:
            self.journal.count("garbage")
            reply = GARBAGE_ACK
        replies = (reply, reply) if Fault.ACK_TWICE in faults else (reply,)
        return Outcome("reply", replies, delay, fmt.content_type, ack, duplicate, faults)

    def _decide(self, mcn: str, body: bytes, fmt: ReceiverFormat, transport: str
                ) -> tuple[Acknowledgement, bool, Callable[[Acknowledgement], bytes]]:
        render = fmt.render_ack
        previous = self.journal.find(mcn)
        if previous is not None:
            self.journal.count("duplicates")
            log.info("duplicate message", extra={"mcn": mcn})
            return previous.ack, True, render
        try:
            validated = fmt.validate(body)
        except ValidatorUnavailable as exc:
            # Our shortcoming, not the sender's: retryable and not journaled.
            self.journal.count("validator_unavailable")
            return (Rejected(mcn, "CANT-CHECK", f"format {fmt.name}: {exc}", True),
                    False, render_json_ack)
        except InputError as exc:
            return self._record(mcn, Rejected(mcn, "INVALID", str(exc)), body, fmt, transport,
                                None), False, render
        except Exception as exc:  # a validator bug must not take the receiver down
            log.exception("validator failed", extra={"mcn": mcn})
            return (Rejected(mcn, "CHECK-FAIL",
                             f"format {fmt.name}: validator raised {exc.__class__.__name__}",
                             True), False, render)
        with self.journal.lock:
            previous = self.journal.find(mcn)  # a concurrent copy may have won the race
            if previous is not None:
                self.journal.count("duplicates")
                return previous.ack, True, render
            if validated.order_key is None and validated.record_id is not None:
                # Formats whose later actions name only the record (CLETS: NIC).
                validated = replace(validated,
                                    order_key=self.journal.order_for_record(validated.record_id))
            ack = self._registry_answer(mcn, validated)
            return self._record(mcn, ack, body, fmt, transport, validated), False, render

    def _registry_answer(self, mcn: str, v: Validated) -> Acknowledgement:
        if v.order_key is None:
            if v.action in (None, "issue"):
                return Rejected(mcn, "INVALID", "the message does not identify the order")
            return Rejected(mcn, "NO-RECORD",
                            f"{v.action} names no record of this registry")
        if self.faults.is_rejected(v.order_key):
            return Rejected(mcn, "REFUSED", "refused by the registry for this order")
        record = self.journal.record_for(v.order_key)
        if v.action in (None, "issue"):
            if record is not None and record[1] and v.action == "issue":
                return Rejected(mcn, "DUP-ENTRY",
                                f"order already registered as {record[0]}")
            return Accepted(mcn, self.journal.new_record(v.order_key))
        if record is None or not record[1]:
            return Rejected(mcn, "NO-RECORD",
                            f"{v.action} for an order with no active registry record")
        if v.record_id is not None and v.record_id != record[0]:
            return Rejected(mcn, "WRONG-NIC",
                            f"message names record {v.record_id}, the order's record is "
                            f"{record[0]}")
        if v.action in _CLOSING:
            self.journal.deactivate(v.order_key)
        return Accepted(mcn, record[0])

    def _record(self, mcn: str, ack: Acknowledgement, body: bytes, fmt: ReceiverFormat,
                transport: str, v: Validated | None) -> Acknowledgement:
        self.journal.add(mcn=mcn, ack=ack, body=body, transport=transport, format=fmt.name,
                         order_key=v.order_key if v else None, action=v.action if v else None,
                         version=v.version if v else None)
        return ack
