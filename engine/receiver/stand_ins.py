"""Stand-ins for the formats and the DOJ endpoint, so the core is tested fast on its own.

* `stand_in_render` / `parse_stand_in_ack` / `render_stand_in_ack`: a tiny JSON "format"
  (MCN, order key, version, action, DOJ record id) in place of NIEM or CLETS;
* `StandInReceiver`: an in-process DOJ endpoint behind a `MockTransport` that acknowledges
  with record ids, remembers what arrived in which order, and can be told to be down or to
  reject one order.

The core's fast tests use them the way httpx tests use `MockTransport`: they pin the core's
own rules (sequencing, retries, acks) without the cost of NIEM and the reference receiver,
which the integration tests use. They carry no personal data beyond what the order key holds.
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field

from engine.ack_types import Accepted, Acknowledgement, Rejected
from engine.errors import AckError, DestinationRejected, TransportUnavailable
from engine.formats import RenderContext, Rendered
from engine.model import Action, Order
from engine.transports.base import Envelope, MockTransport, Receipt

__all__ = [
    "Arrival",
    "StandInReceiver",
    "parse_stand_in_ack",
    "render_stand_in_ack",
    "stand_in_render",
]

CONTENT_TYPE = "application/vnd.engine-stand-in+json"


def stand_in_render(order: Order, ctx: RenderContext) -> Rendered:
    """The order's identity and action as JSON; needs the record id after the entry, as
    the real formats do."""
    from engine.errors import RenderError

    if order.action is not Action.ISSUE and not ctx.doj_record_id:
        raise RenderError("doj_record_id: required for every action after the entry")
    body = {"mcn": ctx.mcn, "order_key": order.key, "version": order.version,
            "action": order.action.value, "record_id": ctx.doj_record_id,
            "sent_at": ctx.sent_at.isoformat()}
    return Rendered(json.dumps(body, sort_keys=True).encode(), CONTENT_TYPE)


def render_stand_in_ack(ack: Acknowledgement) -> bytes:
    if isinstance(ack, Accepted):
        return json.dumps({"mcn": ack.mcn, "accepted": True,
                           "record_id": ack.record_id}).encode()
    return json.dumps({"mcn": ack.mcn, "accepted": False, "code": ack.code,
                       "reason": ack.reason, "retryable": ack.retryable}).encode()


def parse_stand_in_ack(data: bytes) -> Acknowledgement:
    try:
        doc = json.loads(data)
        if doc["accepted"]:
            return Accepted(str(doc["mcn"]), str(doc["record_id"]))
        return Rejected(str(doc["mcn"]), str(doc["code"]), str(doc["reason"]),
                        bool(doc.get("retryable", False)))
    except (ValueError, KeyError, TypeError) as exc:
        raise AckError(f"not a stand-in acknowledgement ({type(exc).__name__})") from None


@dataclass(frozen=True, slots=True)
class Arrival:
    mcn: str
    order_key: str
    version: int
    action: str
    record_id: str | None


@dataclass
class StandInReceiver:
    """A DOJ endpoint in memory. ``transport()`` gives a `MockTransport` that reaches it."""

    #: While True every send fails as an outage (TransportUnavailable).
    down: bool = False
    #: Fail this many sends, then work again.
    fail_next: int = 0
    #: Order keys whose messages are refused for good (DestinationRejected).
    refuse: set[str] = field(default_factory=set)
    #: Answer asynchronously: acks queue up in ``pending_acks`` instead of the Receipt.
    asynchronous: bool = False
    arrivals: list[Arrival] = field(default_factory=list)
    pending_acks: list[bytes] = field(default_factory=list)
    attempts: int = 0
    _records: dict[str, str] = field(default_factory=dict)
    _seen: dict[str, bytes] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def transport(self) -> MockTransport:
        return MockTransport(self.receive)

    def receive(self, envelope: Envelope) -> Receipt:
        with self._lock:
            self.attempts += 1
            if self.down:
                raise TransportUnavailable("stand-in receiver is down")
            if self.fail_next > 0:
                self.fail_next -= 1
                raise TransportUnavailable("stand-in receiver failed this send")
            if envelope.mcn in self._seen:  # a retry of a message already taken: same answer
                return self._answer(envelope.mcn, self._seen[envelope.mcn])
            doc = json.loads(envelope.body)
            if doc["order_key"] in self.refuse:
                raise DestinationRejected("R042: stand-in receiver refuses this order")
            key = doc["order_key"]
            if doc["action"] == "issue":
                record = self._records.setdefault(key, f"H{next(self._ids):09d}")
            else:
                record = doc["record_id"]
            self.arrivals.append(Arrival(envelope.mcn, key, doc["version"], doc["action"],
                                         doc["record_id"]))
            ack = render_stand_in_ack(Accepted(envelope.mcn, record))
            self._seen[envelope.mcn] = ack
            return self._answer(envelope.mcn, ack)

    def _answer(self, mcn: str, ack: bytes) -> Receipt:
        if self.asynchronous:
            self.pending_acks.append(ack)
            return Receipt(mcn)
        return Receipt(mcn, ack)
