"""What people do to an order, each with actor and reason in the audit: resend
(a new transmission and MCN), retry now, and the log of those actions.

Part of the `Ledger` façade (`engine.ledger.facade`); the invariants are in
`engine.ledger.repository`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.ledger.repository import (
    _SELECT_ORDER_LOCKED,
    _UPDATE_TRANSMISSION,
    _UPDATE_VERSION,
    LedgerBase,
    ResendRefused,
    _aware,
)
from engine.ledger.schema import (
    audit,
    order_versions,
    transmissions,
)
from engine.ledger.states import State

__all__ = ["OperatorActions"]


class OperatorActions(LedgerBase):
    """What on-call staff do: resend, retry now, the action log."""

    def resend(self, order_key: str, version: int, *, fmt: str | None = None,
               actor: str | None = None, reason: str | None = None) -> str:
        """Put a REJECTED or INVALID version back in line with a NEW transmission (new MCN).

        A new MCN because the destination has already answered the old one: re-using it
        would make the receiver drop the resend as a duplicate (invariant 4 protects retries
        of one transmission, not a person's decision to send again). ``fmt`` is the
        destination's format, needed when the version never had a transmission (it failed
        its trial render at intake). ``actor`` and ``reason`` go to the audit trail.
        Returns the new MCN.
        """
        with self._transaction() as tx:
            if self._skip_locked:
                tx.conn.execute(_SELECT_ORDER_LOCKED, {"b_key": order_key})
            row = tx.conn.execute(sa.select(order_versions).where(
                order_versions.c.order_key == order_key,
                order_versions.c.version == version).with_for_update()).first()
            if row is None:
                raise ResendRefused(f"no version {version} of order {order_key}")
            if row.state not in (State.REJECTED, State.INVALID):
                raise ResendRefused(f"{order_key}#{version} is {row.state}; only REJECTED or "
                                    "INVALID versions can be resent")
            if row.canonical_json is None or row.destination is None:
                raise ResendRefused(f"{order_key}#{version} was never a readable order; the "
                                    "court must send a corrected message")
            current = self._current_transmission(tx, row.id)
            fmt = current.format if current is not None else fmt
            if current is not None:
                self._set_transmission(tx, current.id, State.SUPERSEDED, lease_until=None)
                tx.audit(order_key=order_key, version_id=row.id, transmission_id=current.id,
                         from_state=current.state, to_state=State.SUPERSEDED,
                         detail="superseded by a resend")
            if fmt is None:
                raise ResendRefused(f"{order_key}#{version} has no transmission to resend; "
                                    "the court must send a corrected message")
            tid = self._new_transmission(tx, row.id, order_key, row.destination, fmt,
                                         State.WAITING)
            tx.conn.execute(_UPDATE_VERSION, {"b_id": row.id, "state": State.WAITING,
                                              "updated_at": tx.now, "error_reason": None})
            tx.audit(order_key=order_key, version_id=row.id, transmission_id=tid,
                     from_state=row.state, to_state=State.WAITING,
                     detail="resend requested by a person", actor=actor, reason=reason)
            self._release_next(tx, order_key)
            return str(tx.conn.execute(sa.select(transmissions.c.mcn)
                                       .where(transmissions.c.id == tid)).scalar_one())

    def retry_now(self, *, actor: str, reason: str, order_key: str | None = None,
                  destination: str | None = None) -> list[str]:
        """Send waiting transmissions now (READY or RETRY_SCHEDULED, not held by a worker):
        one order's, one destination's, or all. A retry, not a resend: the same MCN and
        bytes. Later versions of an order still wait for the earlier one (invariant 2).
        Returns the MCNs brought forward; each gets an audit row with actor and reason."""
        t, v = transmissions.c, order_versions.c
        with self._transaction() as tx:
            query = (sa.select(t.id, t.mcn, t.state, t.destination, t.version_id, v.order_key)
                     .join_from(transmissions, order_versions, t.version_id == v.id)
                     .where(t.state.in_([State.READY, State.RETRY_SCHEDULED]),
                            sa.or_(t.lease_until.is_(None), t.lease_until <= tx.now))
                     .order_by(sa.nulls_last(v.due_at.asc()), t.id)
                     .with_for_update(skip_locked=True, of=transmissions))
            if order_key is not None:
                query = query.where(v.order_key == order_key)
            if destination is not None:
                query = query.where(t.destination == destination)
            rows = tx.conn.execute(query).all()
            if rows:
                tx.conn.execute(_UPDATE_TRANSMISSION, [
                    {"b_id": r.id, "next_attempt_at": tx.now, "updated_at": tx.now}
                    for r in rows])
            for r in rows:
                tx.audit(order_key=r.order_key, version_id=r.version_id, transmission_id=r.id,
                         from_state=r.state, to_state=r.state,
                         detail=f"retry now requested by a person: {r.mcn} to "
                                f"{r.destination}, same MCN", actor=actor, reason=reason)
            return [str(r.mcn) for r in rows]

    def record_action(self, *, actor: str, reason: str, detail: str) -> None:
        """A person's action on no one order (a dead-letter replay), for the audit trail."""
        with self._transaction() as tx:
            tx.audit(order_key=None, version_id=None, transmission_id=None, from_state=None,
                     to_state=None, detail=detail, actor=actor, reason=reason)

    def actions(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit rows of people's actions (with an actor), newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit).where(audit.c.actor.is_not(None))
                                .order_by(audit.c.id.desc()).limit(limit)).all()
        return [{"at": _aware(r.at), "order_key": r.order_key, "actor": r.actor,
                 "reason": r.reason, "detail": r.detail} for r in rows]
