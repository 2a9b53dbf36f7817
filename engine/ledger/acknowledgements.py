"""Acknowledgements: the DOJ's answers applied by MCN (ACKED with the record id,
REJECTED, or a retry), one at a time or as a batch, releasing the order's next version.

Part of the `Ledger` façade (`engine.ledger.facade`); the invariants are in
`engine.ledger.repository`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from engine.errors import LedgerError
from engine.ledger.repository import (
    _INSERT_ACK,
    _MCN_CHUNK,
    _SELECT_BY_MCN,
    _SELECT_BY_MCN_LOCKED,
    _SELECT_BY_MCNS,
    _SELECT_ORDER_LOCKED,
    _SET_RECORD_ID,
    AckResult,
    LedgerBase,
    _aware,
    _PendingAcks,
    _Row,
    _Tx,
)
from engine.ledger.states import AckKind, State

__all__ = ["AcknowledgementLedger"]


class AcknowledgementLedger(LedgerBase):
    """Applies the DOJ's answers by MCN."""

    def record_acknowledgement(self, *, mcn: str | None, accepted: bool | None,
                               record_id: str | None = None, code: str | None = None,
                               reason: str | None = None, retryable: bool = False,
                               retry_after: Callable[[int], dt.timedelta] | None = None,
                               ) -> AckResult:
        """Apply one acknowledgement by MCN and record it; never raises for odd acks.

        ``accepted=None`` records a malformed acknowledgement. ``retry_after(attempts)`` is
        the wait before resending after a retryable reject (default: at once).
        """
        with self._transaction() as tx:
            return self._apply_ack(tx, mcn=mcn, accepted=accepted, record_id=record_id,
                                   code=code, reason=reason, retryable=retryable,
                                   retry_after=retry_after)

    def record_acknowledgements(self, acks: Sequence[dict[str, Any]]) -> list[AckResult]:
        """`record_acknowledgement` for a batch (each item its keyword arguments), applied
        in order in ONE transaction: all recorded, or none (`LedgerError`).

        On SQLite the batch takes `_apply_acks_batched` (the common acceptance costs a few
        executemany rows instead of six statements): its write transaction begins
        IMMEDIATE, so nothing else changes the database between its read and its writes.
        On PostgreSQL every acknowledgement takes `_apply_ack`, which locks the order's row
        first, so a replica recording the order's next version at the same moment cannot
        miss its release; a batch read without those locks could.
        """
        with self._transaction() as tx:
            if self._skip_locked:
                return [self._apply_ack(tx, **ack) for ack in acks]
            return self._apply_acks_batched(tx, acks)

    def _apply_acks_batched(self, tx: _Tx, acks: Sequence[dict[str, Any]]) -> list[AckResult]:
        """The batch's MCNs resolved in one read; the common acceptance (`_ack_fast`) is
        held for one executemany per statement, anything else first runs what is held, then
        `_apply_ack`, so effects happen in the batch's order. Same rows, audit and results
        as `_apply_ack` one by one."""
        rows = self._rows_by_mcn(tx, acks)
        pending = _PendingAcks()
        seen: set[str | None] = set()
        out = []
        for ack in acks:
            result = self._ack_fast(tx, pending, rows, seen, **ack)
            if result is None:
                pending.flush(tx.conn)
                result = self._apply_ack(tx, **ack)
            seen.add(ack["mcn"])
            out.append(result)
        pending.flush(tx.conn)
        return out

    def _rows_by_mcn(self, tx: _Tx, acks: Sequence[dict[str, Any]]
                     ) -> dict[str | None, _Row]:
        """`_SELECT_BY_MCN`'s row (with the order's latest version) for every MCN of the
        batch that exists (a rejection's row is read too, and left to `_apply_ack`)."""
        mcns = list(dict.fromkeys(ack.get("mcn") for ack in acks
                                  if ack.get("mcn") is not None))
        found: dict[str | None, _Row] = {}
        for i in range(0, len(mcns), _MCN_CHUNK):
            for row in tx.conn.execute(_SELECT_BY_MCNS, {"b_mcns": mcns[i:i + _MCN_CHUNK]}):
                found[row.mcn] = row
        return found

    def _ack_fast(self, tx: _Tx, pending: _PendingAcks, rows: dict[str | None, _Row],
                  seen: set[str | None], *, mcn: str | None, accepted: bool | None,
                  record_id: str | None = None, code: str | None = None,
                  reason: str | None = None, **_retry: object) -> AckResult | None:
        """`_apply_ack` of an acceptance answering a send (SENT, or in flight) of a version
        with no later one, its writes left in ``pending``; None for anything else.

        With no later version `_release_next` has nothing to release: a version is sent
        only when every earlier one is ACKED, and ACKED is final. An MCN already in the
        batch is left to `_apply_ack`, which reads the row as the earlier one left it.
        ``rows`` is read before the batch; another MCN's acknowledgement changes only a
        WAITING row (released), which this path leaves alone. The keywords are
        `_apply_ack`'s; an acceptance has no use for the retry ones (``_retry``).
        """
        row = rows.get(mcn) if accepted and mcn not in seen else None
        if row is None or row.latest_version > row.version:
            return None
        state = State(row.state)
        # as in `_apply_ack`: READY / RETRY_SCHEDULED under an unexpired lease is a send in
        # flight whose answer overtook the transmitter's mark_sent
        lease = _aware(row.lease_until)
        in_flight = (state in (State.READY, State.RETRY_SCHEDULED)
                     and lease is not None and lease > tx.now)
        if state is not State.SENT and not in_flight:
            return None
        update = {"b_id": row.id, "state": State.ACKED, "updated_at": tx.now,
                  "lease_until": None, "next_attempt_at": None}
        if in_flight:
            update.update(attempt_count=row.attempt_count + 1, last_attempt_at=tx.now,
                          claimed_by=None)
        (pending.in_flight if in_flight else pending.sent).append(update)
        pending.versions.append({"b_id": row.version_id, "state": State.ACKED,
                                 "updated_at": tx.now, "error_reason": None})
        tx.audit(order_key=row.order_key, version_id=row.version_id, transmission_id=None,
                 from_state=state, to_state=State.ACKED,
                 detail=f"accepted; DOJ record id {record_id}")
        pending.record_ids.append({"b_key": row.order_key, "doj_record_id": record_id,
                                   "updated_at": tx.now})
        pending.acks.append({"mcn": mcn, "transmission_id": row.id, "kind": AckKind.ACCEPTED,
                             "record_id": record_id, "code": code, "reason": reason,
                             "received_at": tx.now})
        return AckResult(AckKind.ACCEPTED, row.order_key, row.version, State.ACKED,
                         row.order_type, row.destination, _aware(row.last_attempt_at),
                         _aware(row.issued_at))

    def _apply_ack(self, tx: _Tx, *, mcn: str | None, accepted: bool | None,
                   record_id: str | None = None, code: str | None = None,
                   reason: str | None = None, retryable: bool = False,
                   retry_after: Callable[[int], dt.timedelta] | None = None) -> AckResult:
        def record(kind: AckKind, tid: int | None) -> None:
            tx.conn.execute(_INSERT_ACK, {
                "mcn": mcn, "transmission_id": tid, "kind": kind, "record_id": record_id,
                "code": code, "reason": reason, "received_at": tx.now})

        if accepted is None:
            record(AckKind.MALFORMED, None)
            return AckResult(AckKind.MALFORMED)
        stmt = _SELECT_BY_MCN_LOCKED if self._skip_locked else _SELECT_BY_MCN
        row = tx.conn.execute(stmt, {"b_mcn": mcn}).first()
        if row is None:
            record(AckKind.UNKNOWN, None)
            return AckResult(AckKind.UNKNOWN)
        if self._skip_locked:  # the order's lock, then re-read under it
            tx.conn.execute(_SELECT_ORDER_LOCKED, {"b_key": row.order_key})
            row = tx.conn.execute(_SELECT_BY_MCN_LOCKED, {"b_mcn": mcn}).first()
            if row is None:  # rows are never deleted: it was there a moment ago
                raise LedgerError("the transmission of an acknowledged MCN vanished "
                                  "while its order was locked")
        state = State(row.state)
        if state in (State.ACKED, State.REJECTED, State.INVALID):
            record(AckKind.DUPLICATE, row.id)
            return AckResult(AckKind.DUPLICATE, row.order_key, row.version, state,
                             row.order_type, row.destination)
        if state in (State.SUPERSEDED, State.WAITING):
            record(AckKind.LATE, row.id)
            return AckResult(AckKind.LATE, row.order_key, row.version, state, row.order_type,
                             row.destination)
        # SENT, or READY / RETRY_SCHEDULED when the ack comes after we gave up waiting:
        # the MCN is the same, so it answers the message we (re)send; apply it.
        # READY / RETRY_SCHEDULED under an unexpired lease is a send in flight: the answer
        # overtook the transmitter's mark_sent (pipelined batches). It counts as that
        # attempt's answer, and the claim is released so the late mark_sent changes nothing.
        lease = _aware(row.lease_until)
        in_flight = state is not State.SENT and lease is not None and lease > tx.now
        answered = state is State.SENT or in_flight
        sent_now: dict[str, Any] = ({"attempt_count": row.attempt_count + 1,
                                     "last_attempt_at": tx.now, "claimed_by": None}
                                    if in_flight else {})
        if accepted:
            kind = AckKind.ACCEPTED if answered else AckKind.LATE
            new_state = State.ACKED
            self._set_transmission(tx, row.id, new_state, lease_until=None,
                                   next_attempt_at=None, **sent_now)
            self._set_version_state(tx, row.version_id, row.order_key, state, new_state,
                                    f"accepted; DOJ record id {record_id}",
                                    error_reason=None)
            tx.conn.execute(_SET_RECORD_ID, {"b_key": row.order_key,
                                             "doj_record_id": record_id,
                                             "updated_at": tx.now})
            record(kind, row.id)
            self._release_next(tx, row.order_key)
        elif retryable:
            kind = AckKind.REJECTED if answered else AckKind.LATE
            new_state = State.RETRY_SCHEDULED
            when = tx.now + (retry_after(row.attempt_count) if retry_after
                             else dt.timedelta(0))
            self._set_transmission(tx, row.id, new_state, next_attempt_at=when,
                                   lease_until=None, last_error=f"{code}: {reason}",
                                   **sent_now)
            self._set_version_state(tx, row.version_id, row.order_key, state, new_state,
                                    f"rejected as retryable ({code}: {reason}); "
                                    f"next attempt at {when.isoformat()}")
            record(kind, row.id)
        else:
            kind = AckKind.REJECTED if answered else AckKind.LATE
            new_state = State.REJECTED
            why = f"rejected by the destination: {code}: {reason}"
            self._set_transmission(tx, row.id, new_state, lease_until=None,
                                   last_error=why, **sent_now)
            self._set_version_state(tx, row.version_id, row.order_key, state, new_state,
                                    why, error_reason=why)
            record(kind, row.id)
        return AckResult(kind, row.order_key, row.version, new_state, row.order_type,
                         row.destination, _aware(row.last_attempt_at),
                         _aware(row.issued_at))
