"""Intake: a batch of intake messages recorded in one transaction, idempotent,
with the per-order sequencing rule applied at once.

Part of the `Ledger` façade (`engine.ledger.facade`); the invariants are in
`engine.ledger.repository`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from engine.ledger.repository import (
    _INSERT_INTAKE,
    _INSERT_ORDER,
    _INSERT_TRANSMISSIONS_RETURNING,
    _INSERT_VERSION,
    _INSERT_VERSIONS_RETURNING,
    _SELECT_KNOWN_ORDERS,
    _SELECT_ORDER,
    _SELECT_ORDER_LOCKED,
    _SELECT_VERSION,
    IntakeRecord,
    IntakeResult,
    LedgerBase,
    _new_id,
    _prepared_values,
    _Tx,
)
from engine.ledger.schema import (
    orders,
)
from engine.ledger.states import IntakeOutcome, State

__all__ = ["IntakeLedger"]


class IntakeLedger(LedgerBase):
    """Records intake messages and the versions they make."""

    def record_intake(self, records: Sequence[IntakeRecord]) -> list[IntakeResult]:
        """Record a batch of intake messages in ONE transaction (then the caller acks them).

        New entries (a valid version 1 of an order the ledger has never seen: the common
        case) are written together, a few statements for the whole run of them; any other
        record goes the general way (`_record_one`) after the entries before it are
        written, so the effect is that of recording the batch one by one, in order.
        """
        with self._transaction() as tx:
            known = set(tx.conn.execute(_SELECT_KNOWN_ORDERS, {
                "b_keys": sorted({r.order_key for r in records})}).scalars())
            results: list[IntakeResult | None] = [None] * len(records)
            entries: list[tuple[int, IntakeRecord]] = []
            for i, rec in enumerate(records):
                if rec.version == 1 and rec.error_reason is None and rec.order_key not in known:
                    entries.append((i, rec))
                else:
                    self._record_new_entries(tx, entries, results)
                    entries = []
                    results[i] = self._record_one(tx, rec)
                known.add(rec.order_key)
            self._record_new_entries(tx, entries, results)
            return [r for r in results if r is not None]

    def _record_one(self, tx: _Tx, rec: IntakeRecord) -> IntakeResult:
        version_key = f"{rec.order_key}#{rec.version}"
        order = tx.conn.execute(_SELECT_ORDER_LOCKED if self._skip_locked else _SELECT_ORDER,
                                {"b_key": rec.order_key}).first()
        if order is None:
            tx.conn.execute(_INSERT_ORDER, {
                "order_key": rec.order_key, "court_ori": rec.court_ori,
                "case_number": rec.case_number, "order_type": rec.order_type,
                "latest_version": rec.version, "created_at": tx.now, "updated_at": tx.now})
        elif rec.version > order.latest_version:
            tx.conn.execute(orders.update().where(orders.c.order_key == rec.order_key)
                            .values(latest_version=rec.version, updated_at=tx.now))
        existing = tx.conn.execute(_SELECT_VERSION, {"b_key": rec.order_key,
                                                     "b_version": rec.version}).first()
        valid = rec.error_reason is None
        target = State.WAITING if valid else State.INVALID
        values = dict(action=rec.action, content_hash=rec.content_hash,
                      canonical_json=rec.canonical_json, destination=rec.destination,
                      due_at=rec.due_at, issued_at=rec.issued_at,
                      warnings=json.dumps(list(rec.warnings)),
                      error_reason=rec.error_reason)

        def note(outcome: IntakeOutcome, reason: str | None) -> None:
            tx.conn.execute(_INSERT_INTAKE, {
                "message_id": (rec.message_id or "")[:200] or None, "raw_hash": rec.raw_hash,
                "version_key": version_key, "outcome": outcome, "reason": reason,
                "received_at": tx.now})

        if existing is None:
            vid = _new_id(tx.conn.execute(_INSERT_VERSION, {
                "order_key": rec.order_key, "version": rec.version, "state": State.RECEIVED,
                "received_at": tx.now, "updated_at": tx.now, **values}))
            tx.audit(order_key=rec.order_key, version_id=vid, transmission_id=None,
                     from_state=None, to_state=State.RECEIVED, detail="intake message recorded")
            self._audit_derivations(tx, rec, vid, State.RECEIVED)
            self._set_version_state(tx, vid, rec.order_key, State.RECEIVED, target,
                                    rec.error_reason or "valid; waits its turn")
            outcome = IntakeOutcome.NEW if valid else IntakeOutcome.INVALID
        elif existing.content_hash == rec.content_hash:
            note(IntakeOutcome.DUPLICATE, None)
            return IntakeResult(IntakeOutcome.DUPLICATE, version_key, State(existing.state))
        elif existing.state == State.INVALID:
            vid = existing.id
            stale = self._current_transmission(tx, vid)
            if stale is not None:
                self._set_transmission(tx, stale.id, State.SUPERSEDED, lease_until=None)
            self._set_version_state(tx, vid, rec.order_key, State.INVALID, target,
                                    "replaced by a corrected intake message"
                                    + (f": {rec.error_reason}" if rec.error_reason else ""),
                                    **values)
            self._audit_derivations(tx, rec, vid, target)
            outcome = IntakeOutcome.REPLACED
        else:
            reason = (f"conflict: version {rec.version} was already received with different "
                      f"content (state {existing.state}); the new content was not applied")
            tx.audit(order_key=rec.order_key, version_id=existing.id, transmission_id=None,
                     from_state=existing.state, to_state=existing.state, detail=reason)
            note(IntakeOutcome.CONFLICT, reason)
            return IntakeResult(IntakeOutcome.CONFLICT, version_key, State(existing.state),
                                reason)
        if valid:
            assert rec.destination and rec.format, "a valid record names its destination"
            self._new_transmission(tx, vid, rec.order_key, rec.destination, rec.format,
                                   State.WAITING, rec)
        note(outcome, rec.error_reason)
        self._release_next(tx, rec.order_key)
        state = tx.conn.execute(_SELECT_VERSION, {"b_key": rec.order_key,
                                                  "b_version": rec.version}).one().state
        return IntakeResult(outcome, version_key, State(state), rec.error_reason)

    @staticmethod
    def _audit_derivations(tx: _Tx, rec: IntakeRecord, vid: int, state: State) -> None:
        """One audit row per value the law set (no personal data: paths and sections)."""
        for note in rec.derivations:
            tx.audit(order_key=rec.order_key, version_id=vid, transmission_id=None,
                     from_state=state, to_state=state, detail=note[:500])

    def _record_new_entries(self, tx: _Tx, entries: Sequence[tuple[int, IntakeRecord]],
                            results: list[IntakeResult | None]) -> None:
        """New entries, each released at once, in one statement per table for all of them
        (they cannot be duplicates or conflicts). The rows and the audit trail are the same
        as the general path's."""
        if not entries:
            return
        recs = [rec for _, rec in entries]
        for rec in recs:
            assert rec.destination and rec.format, "a valid record names its destination"
        tx.conn.execute(_INSERT_ORDER, [{
            "order_key": rec.order_key, "court_ori": rec.court_ori,
            "case_number": rec.case_number, "order_type": rec.order_type,
            "latest_version": rec.version, "created_at": tx.now, "updated_at": tx.now}
            for rec in recs])
        vids = list(tx.conn.execute(_INSERT_VERSIONS_RETURNING, [{
            "order_key": rec.order_key, "version": rec.version, "state": State.READY,
            "received_at": tx.now, "updated_at": tx.now, "action": rec.action,
            "content_hash": rec.content_hash, "canonical_json": rec.canonical_json,
            "destination": rec.destination, "due_at": rec.due_at, "issued_at": rec.issued_at,
            "warnings": json.dumps(list(rec.warnings)), "error_reason": None}
            for rec in recs]).scalars())
        mcns, prepared = self._mcns_for(tx, recs)
        tids = list(tx.conn.execute(_INSERT_TRANSMISSIONS_RETURNING, [{
            "mcn": mcn, "version_id": vid, "destination": rec.destination,
            "format": rec.format, "state": State.READY, "attempt_count": 0,
            "created_at": tx.now, "updated_at": tx.now, "next_attempt_at": tx.now,
            "body": None, "content_type": None, "prepared_at": None,
            **(_prepared_values(rec) if ok else {})}
            for rec, vid, mcn, ok in zip(recs, vids, mcns, prepared, strict=True)]).scalars())
        tx.conn.execute(_INSERT_INTAKE, [{
            "message_id": (rec.message_id or "")[:200] or None, "raw_hash": rec.raw_hash,
            "version_key": f"{rec.order_key}#{rec.version}", "outcome": IntakeOutcome.NEW,
            "reason": None, "received_at": tx.now} for rec in recs])
        for (i, rec), vid, tid, mcn in zip(entries, vids, tids, mcns, strict=True):
            tx.audit(order_key=rec.order_key, version_id=vid, transmission_id=None,
                     from_state=None, to_state=State.RECEIVED,
                     detail="intake message recorded")
            self._audit_derivations(tx, rec, vid, State.RECEIVED)
            tx.audit(order_key=rec.order_key, version_id=vid, transmission_id=None,
                     from_state=State.RECEIVED, to_state=State.WAITING,
                     detail="valid; waits its turn")
            tx.audit(order_key=rec.order_key, version_id=vid, transmission_id=tid,
                     from_state=None, to_state=State.WAITING,
                     detail=f"transmission {mcn} to {rec.destination}")
            tx.audit(order_key=rec.order_key, version_id=vid, transmission_id=None,
                     from_state=State.WAITING, to_state=State.READY,
                     detail="released: first version of the order")
            results[i] = IntakeResult(IntakeOutcome.NEW, f"{rec.order_key}#{rec.version}",
                                      State.READY, None)
