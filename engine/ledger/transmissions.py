"""Transmissions: what the transmitter claims (with a lease, ``SKIP LOCKED`` on
PostgreSQL), prepares, marks sent, retries, rejects, and what expires unacknowledged.

Part of the `Ledger` façade (`engine.ledger.facade`); the invariants are in
`engine.ledger.repository`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from engine.ledger.repository import (
    _COUNT_SENT,
    _COUNT_SENT_TO,
    _SELECT_HELD,
    _SELECT_HELD_LOCKED,
    _SELECT_HELD_MANY,
    _SELECT_HELD_MANY_LOCKED,
    _UPDATE_TRANSMISSION,
    _UPDATE_VERSION,
    Claim,
    LedgerBase,
    _aware,
    _claim_query,
    _Row,
    _Tx,
    _utc,
)
from engine.ledger.schema import (
    order_versions,
    transmissions,
)
from engine.ledger.states import State

__all__ = ["TransmissionLedger"]


class TransmissionLedger(LedgerBase):
    """The transmitter's side: claims, sends, retries, expiry."""

    def claim_due(self, worker: str, *, limit: int, lease: dt.timedelta,
                  exclude_destinations: Sequence[str] = (),
                  destination: str | None = None, waiting: bool = False) -> list[Claim]:
        """Lease up to ``limit`` transmissions whose turn has come (READY, or RETRY_SCHEDULED
        and due), skipping rows another replica holds; only ``destination``'s when given.

        ``waiting``: every sendable transmission whatever its scheduled retry, earliest due
        first: the probe of a down destination and the pull-forward once it answers again.
        """
        with self._transaction() as tx:
            t = transmissions.c
            query = _claim_query(by_destination=destination is not None,
                                 excluding=bool(exclude_destinations),
                                 skip_locked=self._skip_locked, waiting=waiting)
            params: dict[str, Any] = {"b_now": tx.now, "b_limit": limit}
            if destination is not None:
                params["b_destination"] = destination
            if exclude_destinations:
                params["b_excluded"] = list(exclude_destinations)
            rows = tx.conn.execute(query, params).all()
            if rows:
                tx.conn.execute(transmissions.update()
                                .where(t.id.in_([r.id for r in rows]))
                                .values(lease_until=tx.now + lease, claimed_by=worker))
            return [Claim(transmission_id=r.id, mcn=r.mcn, destination=r.destination,
                          format=r.format, body=r.body, content_type=r.content_type,
                          prepared_at=_aware(r.prepared_at), attempt_count=r.attempt_count,
                          version_id=r.version_id, order_key=r.order_key, version=r.version,
                          canonical_json=r.canonical_json, doj_record_id=r.doj_record_id,
                          order_type=r.order_type, due_at=_aware(r.due_at),
                          previous_mcn=r.previous_mcn)
                    for r in rows]

    def count_in_flight(self, destination: str | None = None) -> int:
        """SENT transmissions still waiting for their acknowledgement (one destination's,
        or all): the transmitter's flow-control window."""
        with self.engine.connect() as conn:
            if destination is None:
                return int(conn.execute(_COUNT_SENT).scalar_one())
            return int(conn.execute(_COUNT_SENT_TO, {"b_destination": destination})
                       .scalar_one())

    def _held_many(self, tx: _Tx, claims: Sequence[Claim], worker: str) -> dict[int, _Row]:
        """`_held` for a batch in one statement: transmission id -> row, held ones only."""
        if not claims:
            return {}
        stmt = _SELECT_HELD_MANY_LOCKED if self._skip_locked else _SELECT_HELD_MANY
        rows = tx.conn.execute(stmt, {"b_ids": [c.transmission_id for c in claims],
                                      "b_worker": worker}).all()
        return {r.id: r for r in rows}

    def _held(self, tx: _Tx, claim: Claim, worker: str) -> _Row | None:
        """The claimed row, if this worker still holds it in a sendable state."""
        stmt = _SELECT_HELD_LOCKED if self._skip_locked else _SELECT_HELD
        return tx.conn.execute(stmt, {"b_id": claim.transmission_id,
                                      "b_worker": worker}).first()

    def store_prepared(self, claim: Claim, worker: str, *, body: bytes, content_type: str,
                       prepared_at: dt.datetime, warnings: Sequence[str] = ()) -> bool:
        """Keep the rendered message, so every retry sends exactly the same bytes."""
        return self.store_prepared_many(
            [(claim, body, content_type, prepared_at, tuple(warnings))], worker)[0]

    def store_prepared_many(self, items: Sequence[tuple[Claim, bytes, str, dt.datetime,
                                                        Sequence[str]]],
                            worker: str) -> list[bool]:
        """`store_prepared` for a batch (claim, body, content type, prepared at, warnings),
        in ONE transaction; per item False when the claim was lost."""
        with self._transaction() as tx:
            held = self._held_many(tx, [item[0] for item in items], worker)
            bodies: list[dict[str, Any]] = []
            warned: list[dict[str, Any]] = []
            out = []
            for claim, body, content_type, prepared_at, warnings in items:
                if claim.transmission_id not in held:
                    out.append(False)
                    continue
                bodies.append({"b_id": claim.transmission_id, "body": body,
                               "content_type": content_type,
                               "prepared_at": _utc(prepared_at), "updated_at": tx.now})
                if warnings:
                    warned.append({"b_id": claim.version_id,
                                   "warnings": json.dumps(list(warnings))})
                out.append(True)
            if bodies:  # one executemany per statement, not one round per row
                tx.conn.execute(_UPDATE_TRANSMISSION, bodies)
            if warned:
                tx.conn.execute(_UPDATE_VERSION, warned)
            return out

    def mark_sent(self, claim: Claim, worker: str) -> bool:
        """The transport took the message: SENT, awaiting its acknowledgement.

        False (and no change) when the claim was lost or an acknowledgement got there first.
        """
        return self.mark_sent_many([claim], worker)[0]

    def mark_sent_many(self, claims: Sequence[Claim], worker: str) -> list[bool]:
        """`mark_sent` for a batch the transport took, in ONE transaction."""
        with self._transaction() as tx:
            held = self._held_many(tx, claims, worker)
            sent: list[dict[str, Any]] = []
            versions: list[dict[str, Any]] = []
            out = []
            for claim in claims:
                row = held.get(claim.transmission_id)
                if row is None:
                    out.append(False)
                    continue
                attempts = row.attempt_count + 1
                sent.append({"b_id": row.id, "state": State.SENT, "updated_at": tx.now,
                             "attempt_count": attempts, "last_attempt_at": tx.now,
                             "lease_until": None, "last_error": None})
                versions.append({"b_id": claim.version_id, "state": State.SENT,
                                 "updated_at": tx.now})
                tx.audit(order_key=claim.order_key, version_id=claim.version_id,
                         transmission_id=None, from_state=row.state, to_state=State.SENT,
                         detail=f"sent {row.mcn} to {row.destination} (attempt {attempts})")
                out.append(True)
            if sent:
                tx.conn.execute(_UPDATE_TRANSMISSION, sent)
                tx.conn.execute(_UPDATE_VERSION, versions)
            return out

    def mark_retry(self, claim: Claim, worker: str, *, next_attempt_at: dt.datetime,
                   error: str, attempted: bool = True) -> bool:
        """Reschedule durably (outage, breaker open, retryable reject)."""
        with self._transaction() as tx:
            row = self._held(tx, claim, worker)
            if row is None:
                return False
            attempts = row.attempt_count + (1 if attempted else 0)
            self._set_transmission(tx, row.id, State.RETRY_SCHEDULED, attempt_count=attempts,
                                   next_attempt_at=_utc(next_attempt_at), lease_until=None,
                                   last_error=error,
                                   **({"last_attempt_at": tx.now} if attempted else {}))
            if row.state != State.RETRY_SCHEDULED or attempted:
                self._set_version_state(
                    tx, claim.version_id, claim.order_key, row.state, State.RETRY_SCHEDULED,
                    f"{error}; next attempt at {_utc(next_attempt_at).isoformat()}")
            return True

    def mark_rejected(self, claim: Claim, worker: str, *, reason: str,
                      invalid: bool = False) -> bool:
        """Permanent: REJECTED by the destination (or INVALID when it could not be rendered)."""
        with self._transaction() as tx:
            row = self._held(tx, claim, worker)
            if row is None:
                return False
            state = State.INVALID if invalid else State.REJECTED
            self._set_transmission(tx, row.id, state, lease_until=None, last_error=reason,
                                   attempt_count=row.attempt_count + (0 if invalid else 1),
                                   last_attempt_at=tx.now)
            self._set_version_state(tx, claim.version_id, claim.order_key, row.state, state,
                                    reason, error_reason=reason)
            return True

    def expire_unacknowledged(self, *, older_than: dt.timedelta,
                              destination: str | None = None) -> int:
        """SENT transmissions with no acknowledgement for too long go out again (same MCN)."""
        with self._transaction() as tx:
            t = transmissions.c
            rows = tx.conn.execute(
                sa.select(transmissions.c.id, t.version_id, t.mcn, order_versions.c.order_key)
                .join_from(transmissions, order_versions, t.version_id == order_versions.c.id)
                .where(t.state == State.SENT, t.last_attempt_at <= tx.now - older_than,
                       *([t.destination == destination] if destination is not None else []))
                .with_for_update(skip_locked=True, of=transmissions)).all()
            for row in rows:
                self._set_transmission(tx, row.id, State.RETRY_SCHEDULED,
                                       next_attempt_at=tx.now,
                                       last_error="no acknowledgement in time")
                self._set_version_state(tx, row.version_id, row.order_key, State.SENT,
                                        State.RETRY_SCHEDULED,
                                        f"no acknowledgement for {row.mcn} in time; "
                                        "sending again with the same MCN")
            return len(rows)
