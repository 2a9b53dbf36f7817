"""The ledger: every order version's state, its transmissions and acknowledgements, and an
append-only audit of every change, in one database that is the source of truth.

Each public method is one transaction. The rules that keep the invariants live here,
next to the rows they guard:

* intake is idempotent: the same order version with the same content is a duplicate and
  makes nothing new; different content is a conflict, recorded, never applied (except over
  an INVALID version, which a corrected message replaces);
* per-order sequencing: a version is released to READY only when every earlier version
  (1..n-1) is ACKED (`_release_next`), so versions of one order go out one at a time, in order;
* the transmitter claims due work with ``FOR UPDATE SKIP LOCKED`` plus a lease, so replicas on
  PostgreSQL never send the same transmission at once, and a crashed replica's claim expires;
* a transmission's MCN is fixed when it is created and kept across retries.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from engine.errors import LedgerError
from engine.ledger.schema import (
    acknowledgements,
    audit,
    intake_messages,
    order_versions,
    orders,
    transmissions,
)
from engine.ledger.states import AckKind, IntakeOutcome, State

__all__ = [
    "AckResult",
    "Claim",
    "IntakeRecord",
    "IntakeResult",
    "Ledger",
    "LedgerRefused",
    "ResendRefused",
    "new_mcn",
]

_MCN_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: read aloud on the phone


#: Random bytes below this map evenly onto the alphabet (7 x 34); the rest are skipped.
_MCN_BYTE_LIMIT = 238


def new_mcn() -> str:
    """A fresh message control number: 12 characters, upper-case letters and digits."""
    chars: list[str] = []
    while len(chars) < 12:  # one pass almost always: 16 bytes, about 15 usable
        chars += [_MCN_ALPHABET[b % 34] for b in secrets.token_bytes(16)
                  if b < _MCN_BYTE_LIMIT]
    return "".join(chars[:12])


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands datetimes back without a zone; everything in the ledger is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


# Hot-path statements, built once: building a SQLAlchemy construct per call costs several
# times what executing it does. Updates take their SET columns from the parameters.
_B = sa.bindparam
_UPDATE_VERSION = order_versions.update().where(order_versions.c.id == _B("b_id"))
_UPDATE_TRANSMISSION = transmissions.update().where(transmissions.c.id == _B("b_id"))
_INSERT_VERSION = order_versions.insert()
_INSERT_TRANSMISSION = transmissions.insert()
_INSERT_ORDER = orders.insert()
_INSERT_INTAKE = intake_messages.insert()
_INSERT_ACK = acknowledgements.insert()
_SELECT_ORDER = sa.select(orders.c.latest_version).where(orders.c.order_key == _B("b_key"))
_SELECT_VERSION = sa.select(order_versions).where(order_versions.c.order_key == _B("b_key"),
                                                  order_versions.c.version == _B("b_version"))
_SELECT_MCN = sa.select(transmissions.c.id).where(transmissions.c.mcn == _B("b_mcn"))
_SELECT_VERSIONS_OF_ORDER = (
    sa.select(order_versions.c.id, order_versions.c.version, order_versions.c.state)
    .where(order_versions.c.order_key == _B("b_key")).order_by(order_versions.c.version))
_SELECT_CURRENT_TRANSMISSION = (
    sa.select(transmissions.c.id, transmissions.c.state, transmissions.c.format)
    .where(transmissions.c.version_id == _B("b_vid"),
           transmissions.c.state != State.SUPERSEDED)
    .order_by(transmissions.c.id.desc()).limit(1))
_SELECT_HELD = (
    sa.select(transmissions.c.id, transmissions.c.state, transmissions.c.attempt_count,
              transmissions.c.mcn, transmissions.c.destination)
    .where(transmissions.c.id == _B("b_id"), transmissions.c.claimed_by == _B("b_worker"),
           transmissions.c.state.in_([State.READY, State.RETRY_SCHEDULED])))
_SELECT_HELD_MANY = (
    sa.select(transmissions.c.id, transmissions.c.state, transmissions.c.attempt_count,
              transmissions.c.mcn, transmissions.c.destination)
    .where(transmissions.c.id.in_(_B("b_ids", expanding=True)),
           transmissions.c.claimed_by == _B("b_worker"),
           transmissions.c.state.in_([State.READY, State.RETRY_SCHEDULED])))
_SELECT_ACKED = (
    sa.select(transmissions.c.id, transmissions.c.state, transmissions.c.attempt_count,
              transmissions.c.version_id, transmissions.c.destination,
              transmissions.c.last_attempt_at, transmissions.c.lease_until,
              order_versions.c.order_key,
              order_versions.c.version, order_versions.c.issued_at, orders.c.order_type)
    .join_from(transmissions, order_versions, transmissions.c.version_id == order_versions.c.id)
    .join(orders, orders.c.order_key == order_versions.c.order_key))
_SELECT_BY_MCN = _SELECT_ACKED.where(transmissions.c.mcn == _B("b_mcn"))
#: A batch of acknowledgements resolved at once; ``latest_version`` tells whether the order
#: has a later version the acknowledgement might release.
_SELECT_BY_MCNS = (_SELECT_ACKED.add_columns(transmissions.c.mcn, orders.c.latest_version)
                   .where(transmissions.c.mcn.in_(_B("b_mcns", expanding=True))))
#: MCNs per `_SELECT_BY_MCNS`: well under SQLite's limit on bound parameters.
_MCN_CHUNK = 500
#: Per-order serialisation on PostgreSQL: intake, acknowledgement and resend of one order
#: take its row lock first, so a version being recorded and its predecessor being ACKED in
#: two replicas at once cannot both miss the release (each would see the other uncommitted).
_SELECT_ORDER_LOCKED = _SELECT_ORDER.with_for_update()
_SELECT_HELD_LOCKED = _SELECT_HELD.with_for_update()
_SELECT_HELD_MANY_LOCKED = _SELECT_HELD_MANY.with_for_update()
_SELECT_BY_MCN_LOCKED = _SELECT_BY_MCN.with_for_update(of=transmissions)
_SELECT_KNOWN_ORDERS = sa.select(orders.c.order_key).where(
    orders.c.order_key.in_(_B("b_keys", expanding=True)))
_SELECT_TAKEN_MCNS = sa.select(transmissions.c.mcn).where(
    transmissions.c.mcn.in_(_B("b_mcns", expanding=True)))
#: Many rows in one statement, their ids back in the order given (insertmanyvalues).
_INSERT_VERSIONS_RETURNING = order_versions.insert().returning(
    order_versions.c.id, sort_by_parameter_order=True)
_INSERT_TRANSMISSIONS_RETURNING = transmissions.insert().returning(
    transmissions.c.id, sort_by_parameter_order=True)
_SET_RECORD_ID = (orders.update()
                  .where(orders.c.order_key == _B("b_key"), orders.c.doj_record_id.is_(None)))


_COUNT_SENT = (sa.select(sa.func.count()).select_from(transmissions)
               .where(transmissions.c.state == State.SENT))
_COUNT_SENT_TO = _COUNT_SENT.where(transmissions.c.destination == _B("b_destination"))


def _previous_mcn(t: Any, v: Any) -> Any:
    """The MCN of the accepted message that carried the order's previous version to the
    same destination (a modify, cancel or serve names the message it follows)."""
    pt, pv = transmissions.alias("previous_t"), order_versions.alias("previous_v")
    return (sa.select(pt.c.mcn)
            .join_from(pt, pv, pt.c.version_id == pv.c.id)
            .where(pv.c.order_key == v.order_key, pv.c.version < v.version,
                   pt.c.destination == t.destination, pt.c.state == State.ACKED)
            .order_by(pv.c.version.desc(), pt.c.id.desc())
            .limit(1)
            .scalar_subquery()
            .label("previous_mcn"))


@functools.cache
def _claim_query(*, by_destination: bool, excluding: bool, skip_locked: bool,
                 waiting: bool = False) -> sa.Select:
    """Due transmissions, oldest first (built once per shape: the transmitter asks every
    round, and building the statement costs more than running it). ``waiting``: every
    sendable one whatever its ``next_attempt_at``, earliest due first (pull-forward)."""
    t, v, o = transmissions.c, order_versions.c, orders.c
    now = _B("b_now", type_=transmissions.c.next_attempt_at.type)
    query = (
        sa.select(t.id, t.mcn, t.destination, t.format, t.body, t.content_type,
                  t.prepared_at, t.attempt_count, t.version_id, v.order_key,
                  v.version, v.canonical_json, o.doj_record_id, o.order_type, v.due_at,
                  _previous_mcn(t, v))
        .join_from(transmissions, order_versions, t.version_id == v.id)
        .join(orders, o.order_key == v.order_key)
        .where(t.state.in_([State.READY, State.RETRY_SCHEDULED]),
               sa.or_(t.lease_until.is_(None), t.lease_until <= now))
        .limit(_B("b_limit", type_=sa.Integer)))
    if waiting:
        query = query.order_by(sa.nulls_last(v.due_at.asc()), t.id)
    else:
        query = query.where(sa.or_(t.next_attempt_at.is_(None), t.next_attempt_at <= now)
                            ).order_by(t.next_attempt_at, t.id)
    if excluding:
        query = query.where(t.destination.not_in(_B("b_excluded", expanding=True)))
    if by_destination:
        query = query.where(t.destination == _B("b_destination"))
    if skip_locked:
        query = query.with_for_update(skip_locked=True, of=transmissions)
    return query


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakeRecord:
    """One intake message, made ready by the pipeline for the ledger to record."""

    raw_hash: str
    order_key: str
    version: int
    court_ori: str
    case_number: str
    order_type: str
    action: str
    #: sha256 of the canonical JSON (or of the raw bytes when there is no order).
    content_hash: str
    canonical_json: str | None
    destination: str | None = None
    format: str | None = None
    due_at: dt.datetime | None = None
    issued_at: dt.datetime | None = None
    warnings: tuple[str, ...] = ()
    #: None for a valid order; field paths and reasons (never values) for an INVALID one.
    error_reason: str | None = None
    message_id: str | None = None
    #: Values the law set that the court left out (`engine.law.derivations`): one audit row each.
    derivations: tuple[str, ...] = ()
    #: An entry rendered for real at intake: its MCN and message, stored with its
    #: transmission and sent as they are. None: rendered at the first send.
    mcn: str | None = None
    body: bytes | None = None
    content_type: str | None = None
    prepared_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class IntakeResult:
    outcome: IntakeOutcome
    version_key: str
    state: State
    reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """A transmission the transmitter holds (leased) and must now send."""

    transmission_id: int
    mcn: str
    destination: str
    format: str
    body: bytes | None
    content_type: str | None
    prepared_at: dt.datetime | None
    attempt_count: int
    version_id: int
    order_key: str
    version: int
    canonical_json: str | None
    doj_record_id: str | None
    order_type: str = ""
    #: When the version must be in the registry: no retry is planned after it.
    due_at: dt.datetime | None = None
    #: MCN of the accepted transmission of the previous version to this destination.
    previous_mcn: str | None = None


@dataclass(frozen=True, slots=True)
class AckResult:
    kind: AckKind
    order_key: str | None = None
    version: int | None = None
    state: State | None = None
    order_type: str | None = None
    destination: str | None = None
    #: When the acknowledged transmission was last sent (ack latency).
    sent_at: dt.datetime | None = None
    #: When the court issued the version (issue-to-ack latency).
    issued_at: dt.datetime | None = None


class LedgerRefused(LedgerError):
    """The database refused the data itself (a constraint, a value too long): trying the
    same thing again cannot help, so the intake dead-letters such a message."""

    transient = False


class ResendRefused(LedgerError):
    """A resend that cannot be done as asked; the message says why."""

    transient = False


@dataclass(slots=True)
class _Tx:
    """One transaction's connection and clock, with the audit helper."""

    conn: sa.Connection
    now: dt.datetime
    audits: list[dict[str, Any]] = field(default_factory=list)

    def audit(self, *, order_key: str | None, version_id: int | None,
              transmission_id: int | None, from_state: str | None, to_state: str | None,
              detail: str, actor: str | None = None, reason: str | None = None) -> None:
        self.audits.append({"at": self.now, "order_key": order_key, "version_id": version_id,
                            "transmission_id": transmission_id, "from_state": from_state,
                            "to_state": to_state, "detail": detail, "actor": actor,
                            "reason": reason})

    def flush(self) -> None:
        if self.audits:
            self.conn.execute(audit.insert(), self.audits)
            self.audits.clear()


@dataclass(slots=True)
class _PendingAcks:
    """An acknowledgement batch's fast-path writes, held back to run as one executemany per
    statement (building and binding a statement per row is what costs, not SQLite)."""

    #: transmission updates of SENT rows, and of sends in flight (these also count the
    #: attempt): two lists because one executemany needs the same columns in every row
    sent: list[dict[str, Any]] = field(default_factory=list)
    in_flight: list[dict[str, Any]] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)
    record_ids: list[dict[str, Any]] = field(default_factory=list)
    acks: list[dict[str, Any]] = field(default_factory=list)

    def flush(self, conn: sa.Connection) -> None:
        """Run what is held, statement by statement: each writes a table none of the others
        reads, and each list keeps the batch's order, so the effects are those of one by one.
        (The two transmission lists hold different rows: an MCN twice takes the slow path.)"""
        for stmt, rows in ((_UPDATE_TRANSMISSION, self.sent),
                           (_UPDATE_TRANSMISSION, self.in_flight),
                           (_UPDATE_VERSION, self.versions), (_SET_RECORD_ID, self.record_ids),
                           (_INSERT_ACK, self.acks)):
            if rows:
                conn.execute(stmt, rows)
                rows.clear()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _prepared_values(rec: IntakeRecord) -> dict[str, Any]:
    """A transmission's columns for a message rendered at intake."""
    assert rec.prepared_at is not None
    return {"body": rec.body, "content_type": rec.content_type,
            "prepared_at": _utc(rec.prepared_at)}


def _new_id(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None, "an insert of one row returns its key"
    return int(key[0])


class Ledger:
    """The repository over one database (SQLite or PostgreSQL); safe to share across threads."""

    def __init__(self, engine: sa.Engine, *, clock: Callable[[], dt.datetime] = _utcnow,
                 mcn_factory: Callable[[], str] = new_mcn) -> None:
        self.engine = engine
        self._clock = clock
        self._new_mcn = mcn_factory
        self._skip_locked = engine.dialect.name == "postgresql"
        # SQLite lets one writer in at a time and makes the others sleep and retry (its
        # busy handler backs off up to 100 ms per try). Threads of this process queue on a
        # lock instead and go the moment the writer before them commits.
        self._writer: AbstractContextManager[Any] = (
            threading.RLock() if engine.dialect.name == "sqlite" else nullcontext())

    def new_mcn(self) -> str:
        """A fresh MCN from this ledger's factory, for an entry rendered before its commit
        (the commit checks that it is still unused, and picks another if not)."""
        return self._new_mcn()

    # -- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[_Tx]:
        try:
            with self._writer, self.engine.begin() as conn:
                tx = _Tx(conn, _utc(self._clock()))
                yield tx
                tx.flush()
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DisconnectionError,
                sa.exc.TimeoutError, sa.exc.IntegrityError) as exc:
            # IntegrityError too: two replicas recording the same new order race on its
            # key; the loser's retry finds the winner's row and goes on.
            # The message names the error class only: statements carry personal data.
            raise LedgerError(f"ledger unavailable: {type(exc).__name__}") from exc
        except sa.exc.SQLAlchemyError as exc:
            raise LedgerRefused(f"ledger refused the data: {type(exc).__name__}") from exc

    def _set_version_state(self, tx: _Tx, version_id: int, order_key: str, from_state: str,
                           to_state: State, detail: str, **values: Any) -> None:
        tx.conn.execute(_UPDATE_VERSION, {"b_id": version_id, "state": to_state,
                                          "updated_at": tx.now, **values})
        tx.audit(order_key=order_key, version_id=version_id, transmission_id=None,
                 from_state=from_state, to_state=to_state, detail=detail)

    def _set_transmission(self, tx: _Tx, transmission_id: int, to_state: State,
                          **values: Any) -> None:
        tx.conn.execute(_UPDATE_TRANSMISSION, {"b_id": transmission_id, "state": to_state,
                                               "updated_at": tx.now, **values})

    def _unused_mcn(self, tx: _Tx) -> str:
        for _ in range(5):
            mcn = self._new_mcn()
            taken = tx.conn.execute(_SELECT_MCN, {"b_mcn": mcn}).first()
            if taken is None:
                return mcn
        # 34**12 values; five collisions in a row is a broken factory
        raise LedgerError("could not find an unused message control number")  # pragma: no cover

    def _new_transmission(self, tx: _Tx, version_id: int, order_key: str, destination: str,
                          fmt: str, state: State, rec: IntakeRecord | None = None) -> int:
        """A transmission with a fresh MCN; with the message ``rec`` rendered at intake when
        its MCN is still unused (else that message is dropped and rendered at send)."""
        if rec is None:
            mcn, prepared = self._unused_mcn(tx), False
        else:
            [mcn], [prepared] = self._mcns_for(tx, [rec])
        tid = _new_id(tx.conn.execute(_INSERT_TRANSMISSION, {
            "mcn": mcn, "version_id": version_id, "destination": destination, "format": fmt,
            "state": state, "attempt_count": 0, "created_at": tx.now, "updated_at": tx.now,
            "next_attempt_at": tx.now if state is State.READY else None,
            **(_prepared_values(rec) if prepared and rec is not None else {}),
        }))
        tx.audit(order_key=order_key, version_id=version_id, transmission_id=tid,
                 from_state=None, to_state=state, detail=f"transmission {mcn} to {destination}")
        return int(tid)

    def _current_transmission(self, tx: _Tx, version_id: int) -> sa.Row | None:
        return tx.conn.execute(_SELECT_CURRENT_TRANSMISSION, {"b_vid": version_id}).first()

    def _release_next(self, tx: _Tx, order_key: str) -> None:
        """Move the order's next version to READY when every earlier version is ACKED."""
        rows = tx.conn.execute(_SELECT_VERSIONS_OF_ORDER, {"b_key": order_key}).all()
        acked_below = 0
        for row in rows:
            if row.state == State.ACKED:
                acked_below += 1
                continue
            # The lowest version not yet ACKED: it may go only if 1..n-1 are all ACKED.
            if row.state == State.WAITING and row.version == acked_below + 1:
                current = self._current_transmission(tx, row.id)
                if current is not None:
                    self._set_transmission(tx, current.id, State.READY,
                                           next_attempt_at=tx.now)
                why = ("first version of the order" if row.version == 1
                       else f"version {row.version - 1} is ACKED")
                self._set_version_state(tx, row.id, order_key, State.WAITING, State.READY,
                                        f"released: {why}")
            return

    # -- intake -----------------------------------------------------------------------------

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

    def _mcns_for(self, tx: _Tx, recs: Sequence[IntakeRecord]) -> tuple[list[str],
                                                                         list[bool]]:
        """An unused MCN per record's new transmission (one query for all): the one chosen
        at intake when it came with its rendered message, else a fresh one; and whether
        that message can be kept (not when its MCN was taken and had to be replaced)."""
        wanted = [rec.mcn if rec.mcn and rec.body is not None else self._new_mcn()
                  for rec in recs]
        taken = set(tx.conn.execute(_SELECT_TAKEN_MCNS, {"b_mcns": wanted}).scalars())
        mcns: list[str] = []
        prepared: list[bool] = []
        for rec, mcn in zip(recs, wanted, strict=True):
            ok = rec.body is not None and mcn == rec.mcn
            while mcn in taken:
                mcn, ok = self._unused_mcn(tx), False
            taken.add(mcn)
            mcns.append(mcn)
            prepared.append(ok)
        return mcns, prepared

    # -- transmitter ------------------------------------------------------------------------

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

    def _held_many(self, tx: _Tx, claims: Sequence[Claim], worker: str) -> dict[int, sa.Row]:
        """`_held` for a batch in one statement: transmission id -> row, held ones only."""
        if not claims:
            return {}
        stmt = _SELECT_HELD_MANY_LOCKED if self._skip_locked else _SELECT_HELD_MANY
        rows = tx.conn.execute(stmt, {"b_ids": [c.transmission_id for c in claims],
                                      "b_worker": worker}).all()
        return {r.id: r for r in rows}

    def _held(self, tx: _Tx, claim: Claim, worker: str) -> sa.Row | None:
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

    # -- acknowledgements -------------------------------------------------------------------

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
                     ) -> dict[str | None, sa.Row]:
        """`_SELECT_BY_MCN`'s row (with the order's latest version) for every acceptance's
        MCN that exists; only acceptances can take the fast path."""
        mcns = list(dict.fromkeys(ack.get("mcn") for ack in acks
                                  if ack.get("accepted") and ack.get("mcn") is not None))
        found: dict[str | None, sa.Row] = {}
        for i in range(0, len(mcns), _MCN_CHUNK):
            for row in tx.conn.execute(_SELECT_BY_MCNS, {"b_mcns": mcns[i:i + _MCN_CHUNK]}):
                found[row.mcn] = row
        return found

    def _ack_fast(self, tx: _Tx, pending: _PendingAcks, rows: dict[str | None, sa.Row],
                  seen: set[str | None], *, mcn: str | None, accepted: bool | None,
                  record_id: str | None = None, code: str | None = None,
                  reason: str | None = None, retryable: bool = False,
                  retry_after: Callable[[int], dt.timedelta] | None = None,
                  ) -> AckResult | None:
        """`_apply_ack` of an acceptance answering a send (SENT, or in flight) of a version
        with no later one, its writes left in ``pending``; None for anything else.

        With no later version `_release_next` has nothing to release: a version is sent
        only when every earlier one is ACKED, and ACKED is final. An MCN already in the
        batch is left to `_apply_ack`, which reads the row as the earlier one left it.
        ``rows`` is read before the batch; another MCN's acknowledgement changes only a
        WAITING row (released), which this path leaves alone. The keywords are
        `_apply_ack`'s (an acceptance has no use for the retry ones).
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

    # -- people -----------------------------------------------------------------------------

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

    # -- reading ----------------------------------------------------------------------------

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
