"""The read side, for on-call staff (`engine orders`) and metrics: find versions,
an order's history, counts and open versions.

Part of the `Ledger` façade (`engine.ledger.facade`); the invariants are in
`engine.ledger.repository`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from engine.ledger.repository import (
    LedgerBase,
    _aware,
    _utc,
)
from engine.ledger.schema import (
    acknowledgements,
    audit,
    intake_messages,
    order_versions,
    orders,
    transmissions,
)
from engine.ledger.states import State

__all__ = ["LedgerQueries"]


class LedgerQueries(LedgerBase):
    """The read side for `engine orders`, health and metrics."""

    def find_versions(self, *, case_number: str | None = None, court_ori: str | None = None,
                      state: str | None = None, overdue_at: dt.datetime | None = None,
                      order_key: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Order versions matching every filter given, newest first."""
        v, o = order_versions.c, orders.c
        query = (sa.select(v.id, v.order_key, v.version, v.action, v.state, v.due_at,
                           v.received_at, v.updated_at, v.error_reason, v.destination,
                           o.case_number, o.court_ori, o.doj_record_id)
                 .join_from(order_versions, orders, v.order_key == o.order_key)
                 .order_by(v.received_at.desc(), v.id.desc()).limit(limit))
        if case_number:
            query = query.where(o.case_number == case_number)
        if court_ori:
            query = query.where(o.court_ori == court_ori)
        if state:
            query = query.where(v.state == state.upper())
        if order_key:
            query = query.where(v.order_key == order_key)
        if overdue_at is not None:
            query = query.where(v.due_at.is_not(None), v.due_at < _utc(overdue_at),
                                v.state != State.ACKED)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for r in rows:
            item = r._asdict()
            for key in ("due_at", "received_at", "updated_at"):
                item[key] = _aware(item[key])
            out.append(item)
        return out

    def history(self, order_key: str) -> dict[str, Any]:
        """Everything the ledger knows about one order except its personal data."""
        with self.engine.connect() as conn:
            order = conn.execute(sa.select(orders).where(orders.c.order_key == order_key)).first()
            if order is None:
                return {}
            versions = conn.execute(sa.select(order_versions).where(
                order_versions.c.order_key == order_key)
                .order_by(order_versions.c.version)).all()
            out: dict[str, Any] = {
                "order_key": order_key, "court_ori": order.court_ori,
                "case_number": order.case_number, "order_type": order.order_type,
                "doj_record_id": order.doj_record_id, "versions": []}
            for v in versions:
                trans = conn.execute(sa.select(transmissions).where(
                    transmissions.c.version_id == v.id).order_by(transmissions.c.id)).all()
                tids = [t.id for t in trans]
                acks = conn.execute(sa.select(acknowledgements).where(
                    acknowledgements.c.transmission_id.in_(tids))
                    .order_by(acknowledgements.c.id)).all() if tids else []
                events = conn.execute(sa.select(audit).where(audit.c.version_id == v.id)
                                      .order_by(audit.c.id)).all()
                out["versions"].append({
                    "version": v.version, "action": v.action, "state": v.state,
                    "due_at": _aware(v.due_at), "received_at": _aware(v.received_at),
                    "error_reason": v.error_reason, "warnings": json.loads(v.warnings),
                    "transmissions": [{
                        "mcn": t.mcn, "destination": t.destination, "format": t.format,
                        "state": t.state, "attempts": t.attempt_count,
                        "next_attempt_at": _aware(t.next_attempt_at),
                        "last_error": t.last_error} for t in trans],
                    "acknowledgements": [{
                        "mcn": a.mcn, "kind": a.kind, "record_id": a.record_id,
                        "code": a.code, "reason": a.reason,
                        "received_at": _aware(a.received_at)} for a in acks],
                    "audit": [{"at": _aware(e.at), "from": e.from_state, "to": e.to_state,
                               "detail": e.detail, "actor": e.actor, "reason": e.reason}
                              for e in events],
                })
            return out

    def order_key_for(self, ref: str) -> tuple[str, int | None] | None:
        """Resolve what a person typed (order key, ``key#version`` or an MCN)."""
        key, hashed, version = ref.partition("#")
        if hashed and not version.isdigit():
            return None  # KEY#junk names no version: never "every version"
        with self.engine.connect() as conn:
            if conn.execute(sa.select(orders.c.order_key)
                            .where(orders.c.order_key == key)).first():
                return key, int(version) if version.isdigit() else None
            row = conn.execute(
                sa.select(order_versions.c.order_key, order_versions.c.version)
                .join_from(transmissions, order_versions,
                           transmissions.c.version_id == order_versions.c.id)
                .where(transmissions.c.mcn == ref)).first()
            return (row.order_key, row.version) if row else None

    def ping(self) -> bool:
        """True when the database answers a trivial query (readiness, not a health check)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def state_counts(self) -> dict[str, int]:
        """Order versions per state (for metrics and `engine demo`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(order_versions.c.state, sa.func.count())
                                .group_by(order_versions.c.state)).all()
        return {r[0]: int(r[1]) for r in rows}

    def open_versions(self) -> list[dict[str, Any]]:
        """Order versions the engine still owes the registry (not ACKED, REJECTED or
        INVALID): order type, action, state, issued_at, due_at. For the backlog metrics."""
        v, o = order_versions.c, orders.c
        query = (sa.select(o.order_type, v.action, v.state, v.issued_at, v.due_at,
                           v.received_at)
                 .join_from(order_versions, orders, v.order_key == o.order_key)
                 .where(v.state.not_in([State.ACKED, State.REJECTED, State.INVALID])))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [{"order_type": r.order_type, "action": r.action, "state": r.state,
                 "issued_at": _aware(r.issued_at), "due_at": _aware(r.due_at),
                 "received_at": _aware(r.received_at)} for r in rows]

    def intake_counts(self) -> dict[str, int]:
        """Intake messages per outcome (duplicates and conflicts are visible here)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(intake_messages.c.outcome, sa.func.count())
                                .group_by(intake_messages.c.outcome)).all()
        return {r[0]: int(r[1]) for r in rows}

    def acknowledgement_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(acknowledgements.c.kind, sa.func.count())
                                .group_by(acknowledgements.c.kind)).all()
        return {r[0]: int(r[1]) for r in rows}

    def version_row(self, order_key: str, version: int) -> dict[str, Any] | None:
        """One version's row (with its canonical JSON: personal data, never to logs)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(order_versions).where(
                order_versions.c.order_key == order_key,
                order_versions.c.version == version)).first()
        return row._asdict() if row else None

    def transmissions_for(self, order_key: str) -> list[dict[str, Any]]:
        """Every transmission of the order, oldest first (bodies included)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(transmissions, order_versions.c.version)
                .join_from(transmissions, order_versions,
                           transmissions.c.version_id == order_versions.c.id)
                .where(order_versions.c.order_key == order_key)
                .order_by(transmissions.c.id)).all()
        return [r._asdict() for r in rows]
