"""The intake pipeline: one message in, one ledger record out, in one direction.

    decode (court mapping or canonical JSON) -> check -> route (court -> destination,
    format) -> render -> deadline -> ledger commit

Each step is a small callable over a plain `Work` item (settings in ``__init__``, work in
``__call__``), and the pipeline is a plain list of them. A step that finds bad input sets
``work.error`` (field paths and reasons, never values) and the rest are skipped: the message
becomes an INVALID record with its reason, never an exception that stops the queue.

Every message is rendered here, so one that can never be sent is INVALID now, not at send
time. An entry (action ``issue``) is rendered for real: its MCN is chosen here and the bytes
are stored with its transmission, so the transmitter sends them as they are (one render
per order). Every later action needs the entry's DOJ record id, which does not exist until
the entry is acknowledged (invariant 3): it is rendered here as a trial (stand-in MCN and
record id) and for real at its first send.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from engine.attachments import image_problems
from engine.canonical import MAX_MESSAGE_BYTES, decode_order, order_to_dict
from engine.config import DestinationConfig, EngineConfig
from engine.errors import DecodeError, InputError, OrderInvalid, RenderError
from engine.formats import RenderContext, Renderer, destination_facts
from engine.law.checks import DEFAULT_CLOCK_SKEW, check_order
from engine.law.derivations import apply_law
from engine.ledger import IntakeRecord, IntakeResult, Ledger
from engine.model import Action, Order
from engine.observability.hooks import EngineHooks, call_hook

__all__ = [
    "CANONICAL",
    "TRIAL_MCN",
    "TRIAL_RECORD_ID",
    "UNREADABLE",
    "Check",
    "Deadline",
    "Decode",
    "IntakeMessage",
    "MappingLoader",
    "Pipeline",
    "Prepared",
    "Render",
    "Route",
    "Step",
    "Work",
    "build_steps",
    "canonical_json",
    "one_result_each",
    "prepare",
]

#: Mapping name meaning "the message is already canonical order JSON".
CANONICAL = "canonical"
#: Stand-ins used only for the trial render at intake; never sent.
TRIAL_MCN = "TRIAL0000000"
TRIAL_RECORD_ID = "H000000000"
#: Court ORI used for messages that could not be read far enough to know their court.
UNKNOWN_COURT = "UNKNOWN"
#: Order id prefix of a message too broken to name its order (keyed by its content).
UNREADABLE = "UNREADABLE-"

#: name -> function turning raw CMS bytes into an `Order` (`Mapping.apply`).
MappingLoader = Callable[[str], Callable[[bytes], Order]]


def canonical_json(order: Order) -> str:
    """The order's canonical JSON with sorted keys: equal orders give equal text."""
    return json.dumps(order_to_dict(order), ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))


def _sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@dataclass(frozen=True, slots=True)
class IntakeMessage:
    """One message as the intake hands it over."""

    body: bytes
    #: The broker's message id (or spool file name), for the record.
    message_id: str | None = None
    #: Court ORI from the message's headers (``x-court-ori``) or spool folder: chooses
    #: the mapping. None means canonical JSON, which names its own court.
    court_ori: str | None = None
    #: Which of the court's CMS sources sent it (``x-court-source`` or the spool folder
    #: under the court's): chooses among the court's ``sources``; None: its ``mapping``.
    source: str | None = None


@dataclass(slots=True)
class Work:
    """What the steps pass along: the message, what is known so far, what went wrong."""

    message: IntakeMessage
    order: Order | None = None
    destination: DestinationConfig | None = None
    due_at: dt.datetime | None = None
    warnings: tuple[str, ...] = ()
    #: Values the law set that the court left out (`engine.law.derivations`), for the audit.
    derivations: tuple[str, ...] = ()
    #: Set by the first step that finds a problem; later steps do not run.
    error: str | None = None
    #: Keys found in a message too broken to decode (best effort, canonical JSON only).
    partial_key: tuple[str, str, int] | None = None
    #: An entry's real message (MCN, body, content type, prepared at), sent as it is.
    prepared: Prepared | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message rendered for real at intake: the transmission's MCN and bytes."""

    mcn: str
    body: bytes
    content_type: str
    prepared_at: dt.datetime


class Step(Protocol):
    def __call__(self, work: Work) -> None: ...


def _describe(exc: InputError | RenderError | ValueError) -> str:
    errors = getattr(exc, "errors", ())
    if errors:
        return "; ".join(str(e) for e in errors)
    return str(exc)


class Decode:
    """Bytes -> `Order`, through the court's mapping or as canonical JSON."""

    def __init__(self, config: EngineConfig, load_mapping: MappingLoader | None = None) -> None:
        self._config = config
        self._load_mapping = load_mapping
        self._mappings: dict[str, Callable[[bytes], Order]] = {}

    def _decoder(self, court_ori: str | None,
                 source: str | None = None) -> Callable[[bytes], Order]:
        court = self._config.court(court_ori) if court_ori else None
        name = court.mapping_for(source) if court else CANONICAL
        if name is None:
            raise DecodeError(f"court {court_ori} has no CMS source {source!r} "
                              "(config courts.<ORI>.sources)")
        if name == CANONICAL:
            return decode_order
        if name not in self._mappings:
            if self._load_mapping is None:
                raise DecodeError(f"court {court_ori} uses mapping {name!r}, but no mapping "
                                  "loader is configured")
            self._mappings[name] = self._load_mapping(name)
        return self._mappings[name]

    def __call__(self, work: Work) -> None:
        if work.message.court_ori is not None and not _is_ori(work.message.court_ori):
            work.error = "headers.x-court-ori: not a 9-character court ORI"
            return
        try:
            if work.message.source is not None and work.message.court_ori is None:
                raise DecodeError("headers.x-court-source: a source needs the court "
                                  "(x-court-ori)")
            work.order = self._decoder(work.message.court_ori,
                                       work.message.source)(work.message.body)
        except (InputError, RenderError) as exc:
            work.error = _describe(exc)
            work.partial_key = _partial_key(work.message.body)


def _is_ori(value: str) -> bool:
    return re.fullmatch(r"[A-Z]{2}[A-Z0-9]{7}", value) is not None


def _partial_key(body: bytes) -> tuple[str, str, int] | None:
    """Court ORI, order id and version from canonical JSON too broken to be an order.

    Best effort on hostile bytes: anything too big or nested too deep to be an order (the
    decoder has already said so) is not parsed again here.
    """
    if len(body) > MAX_MESSAGE_BYTES:
        return None
    try:
        data = json.loads(body)
        ori, order_id, version = data["court"]["ori"], data["order_id"], data["version"]
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    ok = (isinstance(ori, str) and isinstance(order_id, str) and isinstance(version, int)
          and 0 < len(order_id) <= 64 and 0 < version <= 100_000
          and _is_ori(ori) and "#" not in order_id and "/" not in order_id)
    return (ori, order_id, version) if ok else None


class Check:
    """The law applied (`engine.law.derivations`), then rules across fields (`engine.law.checks`),
    whatever the order's source; an ``issued_at`` beyond the clock skew is refused, and the
    image link's host is checked against ``image_hosts`` (`engine.attachments`)."""

    def __init__(self, clock: Callable[[], dt.datetime] | None = None,
                 max_skew: dt.timedelta = DEFAULT_CLOCK_SKEW,
                 image_hosts: Sequence[str] = ()) -> None:
        self._clock = clock
        self._max_skew = max_skew
        self._image_hosts = tuple(image_hosts)

    def __call__(self, work: Work) -> None:
        assert work.order is not None
        applied = apply_law(work.order)
        work.order, work.derivations = applied.order, applied.derivations
        try:
            check_order(work.order, now=self._clock() if self._clock else None,
                        max_skew=self._max_skew)
        except OrderInvalid as exc:
            work.error = _describe(exc)
            return
        if self._image_hosts:
            problems = image_problems(work.order, self._image_hosts)
            if problems:
                work.error = "; ".join(str(p) for p in problems)


class Route:
    """The court's destination, hence the transport and format."""

    def __init__(self, config: EngineConfig) -> None:
        self._config = config

    def __call__(self, work: Work) -> None:
        assert work.order is not None
        ori = work.order.court.ori
        court = self._config.court(ori)
        if court is None:
            work.error = "court.ori: no court configured with this ORI (config courts)"
            return
        if work.message.court_ori and work.message.court_ori != ori:
            work.error = "court.ori: differs from the court named in the message headers"
            return
        work.destination = self._config.destinations[court.destination]


class Render:
    """Render every order once at intake, so one that can never be sent is INVALID now, with
    its reason, instead of failing at send time.

    An entry needs nothing the ledger does not have yet: it is rendered with its real MCN
    (``new_mcn``) and kept (`Prepared`). Any later action is a trial with stand-in MCN and
    record id; the transmitter renders it again once the entry's record id exists.
    """

    def __init__(self, renderers: Mapping[str, Renderer],
                 clock: Callable[[], dt.datetime],
                 new_mcn: Callable[[], str] | None = None) -> None:
        self._renderers = renderers
        self._clock = clock
        self._new_mcn = new_mcn

    def __call__(self, work: Work) -> None:
        assert work.order is not None and work.destination is not None
        renderer = self._renderers.get(work.destination.format)
        if renderer is None:
            work.error = f"(config): no renderer for format {work.destination.format!r}"
            return
        entry = work.order.action is Action.ISSUE
        new_mcn = self._new_mcn if entry else None
        mcn = new_mcn() if new_mcn is not None else TRIAL_MCN
        prepared_at = self._clock()
        try:
            facts = destination_facts(work.destination.settings)
            rendered = renderer(work.order, RenderContext(
                mcn, prepared_at, None if entry else TRIAL_RECORD_ID,
                test=facts.test, recipient=facts.recipient))
        except (RenderError, ValueError) as exc:  # ValueError: a bad destination setting
            work.error = f"cannot render as {work.destination.format}: {_describe(exc)}"
            return
        work.warnings = tuple(rendered.warnings)
        if new_mcn is not None:  # the real message, kept
            work.prepared = Prepared(mcn, rendered.body, rendered.content_type, prepared_at)


class Deadline:
    """When the registry must have this version (`engine.law.deadlines.due_at`, injected)."""

    def __init__(self, due_at: Callable[[Order], dt.datetime] | None) -> None:
        self._due_at = due_at

    def __call__(self, work: Work) -> None:
        if self._due_at is None or work.order is None:
            return
        try:
            work.due_at = self._due_at(work.order)
        except InputError as exc:
            if work.error is None:
                work.error = f"cannot set a deadline: {_describe(exc)}"


#: Steps that still run after an earlier step found a problem.
_RUNS_AFTER_ERROR: tuple[type, ...] = (Deadline,)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def build_steps(config: EngineConfig, *, renderers: Mapping[str, Renderer],
                due_at: Callable[[Order], dt.datetime] | None = None,
                load_mapping: MappingLoader | None = None,
                clock: Callable[[], dt.datetime] = _utcnow,
                new_mcn: Callable[[], str] | None = None) -> list[Step]:
    """The intake steps, in order (the engine's process and prepare workers build the
    same ones from the same configuration)."""
    return [Decode(config, load_mapping),
            Check(clock, dt.timedelta(seconds=config.max_clock_skew_seconds),
                  config.image_hosts), Route(config),
            Render(renderers, clock, new_mcn), Deadline(due_at)]


def prepare(steps: Sequence[Step], message: IntakeMessage) -> IntakeRecord:
    """Run every step over one message; never raises for bad input."""
    work = Work(message)
    for step in steps:
        if work.error is not None and not isinstance(step, _RUNS_AFTER_ERROR):
            continue
        try:
            step(work)
        except Exception as exc:
            # A bug in a step must not stop the queue; the order is kept (resendable
            # once fixed) and the reason names the step and error class, never values.
            work.error = (f"(engine): step {type(step).__name__} failed with "
                          f"{type(exc).__name__}")
    return _to_record(work)


#: Prepares a batch elsewhere (`engine.intake.prepare_pool`); the records come back in order.
Preparer = Callable[[Sequence[IntakeMessage]], list[IntakeRecord]]


@dataclass
class Pipeline:
    """The steps in order, and the ledger they end in."""

    ledger: Ledger
    steps: Sequence[Step]
    #: Told about each result after its commit (metrics, alerts).
    hooks: EngineHooks | None = None
    #: Called after each successful ledger commit (the runner wakes its transmitters).
    after_commit: Callable[[], None] | None = None
    #: Runs the steps in worker processes; None runs them here.
    preparer: Preparer | None = None

    @classmethod
    def build(cls, config: EngineConfig, ledger: Ledger, *, renderers: Mapping[str, Renderer],
              due_at: Callable[[Order], dt.datetime] | None = None,
              load_mapping: MappingLoader | None = None,
              clock: Callable[[], dt.datetime] = _utcnow,
              hooks: EngineHooks | None = None) -> Pipeline:
        steps = build_steps(config, renderers=renderers, due_at=due_at,
                            load_mapping=load_mapping, clock=clock, new_mcn=ledger.new_mcn)
        return cls(ledger, steps, hooks)

    def prepare(self, message: IntakeMessage) -> IntakeRecord:
        """Run every step over one message in this process; never raises for bad input."""
        return prepare(self.steps, message)

    def prepare_here(self, messages: Sequence[IntakeMessage]) -> list[IntakeRecord]:
        """Every message through the steps in this process (also the pool's fallback)."""
        return [prepare(self.steps, m) for m in messages]

    def prepare_many(self, messages: Sequence[IntakeMessage]) -> list[IntakeRecord]:
        if self.preparer is not None:
            return self.preparer(messages)
        return self.prepare_here(messages)

    def run(self, messages: Sequence[IntakeMessage]) -> list[IntakeResult]:
        """Prepare each message, then commit them all in ONE ledger transaction.

        Raises `LedgerError` when the commit fails: the caller must not ack then.
        """
        records = self.prepare_many(messages)
        results = self.ledger.record_intake(records)
        if self.after_commit is not None:
            self.after_commit()
        for record, result in zip(records, results, strict=True):
            call_hook(self.hooks, "after_intake", result,
                      record.order_type if record.canonical_json else None)
        return results


def one_result_each(results: list[IntakeResult], count: int, what: str
                    ) -> list[IntakeResult]:
    """``results`` when `Pipeline.run` gave one per message it was handed (``count`` of
    ``what``); else RuntimeError. Callers check before they ack, file or copy anything:
    the messages stay, and the ledger knows what it recorded as duplicates next time."""
    if len(results) != count:
        raise RuntimeError(f"the pipeline gave {len(results)} results for {count} {what}")
    return results


def _prepared_fields(prepared: Prepared | None) -> dict[str, Any]:
    if prepared is None:
        return {}
    return {"mcn": prepared.mcn, "body": prepared.body,
            "content_type": prepared.content_type, "prepared_at": prepared.prepared_at}


def _to_record(work: Work) -> IntakeRecord:
    raw_hash = _sha256(work.message.body)
    order = work.order
    if order is not None:
        text = canonical_json(order)
        return IntakeRecord(
            raw_hash=raw_hash, order_key=order.key, version=order.version,
            court_ori=order.court.ori, case_number=order.case_number,
            order_type=order.order_type.value, action=order.action.value,
            content_hash=_sha256(text), canonical_json=text,
            destination=work.destination.name if work.destination else None,
            format=work.destination.format if work.destination else None,
            due_at=work.due_at, issued_at=order.issued_at, warnings=work.warnings,
            error_reason=work.error,
            message_id=work.message.message_id, derivations=work.derivations,
            **(_prepared_fields(work.prepared) if work.error is None else {}))
    assert work.error is not None
    if work.partial_key is not None:
        ori, order_id, version = work.partial_key
        key = f"{ori}/{order_id}"
    else:
        # Too broken to know its order: keyed by its content, so it is still an order
        # version a person can find (state INVALID), and the same bytes again are a duplicate.
        court = work.message.court_ori
        ori = court if court is not None and _is_ori(court) else UNKNOWN_COURT
        key, version = f"{ori}/{UNREADABLE}{raw_hash[:16]}", 1
    return IntakeRecord(
        raw_hash=raw_hash, order_key=key, version=version, court_ori=ori,
        case_number="UNKNOWN", order_type="unknown", action="unknown",
        content_hash=raw_hash, canonical_json=None, error_reason=work.error,
        message_id=work.message.message_id)
