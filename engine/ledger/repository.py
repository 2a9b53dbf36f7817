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

This module holds what every part shares: the statements, the value types, the MCN
factory and `LedgerBase` (the transaction, state changes, sequencing). The parts are split
by what they record (`intake`, `transmissions`, `acknowledgements`, `actions` by people,
`queries` for the read side) and put together as `engine.ledger.facade.Ledger`.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TypeAlias

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
    "LedgerBase",
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


#: A result row of any shape (SQLAlchemy's Row is generic over its column types).
_Row: TypeAlias = "sa.Row[*tuple[Any, ...]]"


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
                 waiting: bool) -> sa.Select[Any]:
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


class LedgerBase:
    """The connection, the clock, MCNs and the plumbing every part of the ledger uses
    (`engine.ledger.facade.Ledger` puts the parts together)."""

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
        raise LedgerError("could not find an unused message control number")

    def _new_transmission(self, tx: _Tx, version_id: int, order_key: str, destination: str,
                          fmt: str, state: State, rec: IntakeRecord | None = None) -> int:
        """A transmission with a fresh MCN; with the message ``rec`` rendered at intake when
        its MCN is still unused (else that message is dropped and rendered at send)."""
        message: dict[str, Any] = {}  # the columns of the message rendered at intake, if kept
        if rec is None:
            mcn = self._unused_mcn(tx)
        else:
            [mcn], [prepared] = self._mcns_for(tx, [rec])
            if prepared:
                message = _prepared_values(rec)
        tid = _new_id(tx.conn.execute(_INSERT_TRANSMISSION, {
            "mcn": mcn, "version_id": version_id, "destination": destination, "format": fmt,
            "state": state, "attempt_count": 0, "created_at": tx.now, "updated_at": tx.now,
            "next_attempt_at": tx.now if state is State.READY else None, **message}))
        tx.audit(order_key=order_key, version_id=version_id, transmission_id=tid,
                 from_state=None, to_state=state, detail=f"transmission {mcn} to {destination}")
        return int(tid)

    def _current_transmission(self, tx: _Tx, version_id: int) -> _Row | None:
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
