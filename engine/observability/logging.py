"""JSON logs that cannot carry a victim's name, address or birth date.

A deny-list ("drop keys called name, address, dob...") fails the first time someone logs
``order=order.model_dump()`` or ``person=...``: the personal data sits under a key nobody
listed. So the redaction here is an **allow-list**, in layers:

1. **Only known-safe keys pass** (`SAFE_KEYS`: order key, message control number, court,
   order type, state, destination, attempt, error code, reason path...). Any other key is
   dropped; the line says how many were dropped (``redacted_fields``), never their values.
2. **Safe keys keep only plain values**: strings, numbers, booleans, dates and enums, or
   lists of them. A dict or an object (an `Order`, a person) under a safe key is replaced
   by ``"[redacted]"``.
3. **Known personal values are masked in every string**, the event text included: before
   anything is dropped, the processor harvests the names, birth dates, addresses and
   identifiers of any `Order` (or order-shaped dict) in the event, plus those registered
   for the current context with `redacting(order)`, and replaces each occurrence with
   ``[redacted]``. This catches ``log.error(f"... {person.name.surname}")`` and exception
   text that echoes input.
4. **Keyed values in text are masked**: in a string holding a JSON body or a dict's or
   model's repr, the quoted value after ``surname``, ``given``, ``middle``,
   ``birth_date``, ``address``, ``value``... is masked whatever it is.
5. **Date-only values are masked** (``1984-03-07``, ``03/07/1984``): in this domain a bare
   date in free text is most likely a birth date. Timestamps (with a time) pass.
6. **Exceptions are rendered by type, engine-error message and frames** (file, line,
   function), never with locals, and never with a foreign library's message, which may
   echo input (pydantic's does) -- an `EngineError`'s message carries field paths by
   contract, and is still masked by layers 3 and 4.

Library loggers (pika, SQLAlchemy) go through the same chain via the standard library
bridge (their %-arguments are harvested too), so they cannot bypass it.

The limit, stated plainly: a name typed into free text, with no order, person or name
structure anywhere in the call and outside `bind_order` / `redacting`, cannot be told
from any other word. That is why pipeline steps run inside ``with bind_order(order):``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import enum
import functools
import json
import logging
import re
import sys
import traceback
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TextIO

import structlog
from pydantic import BaseModel
from structlog.typing import EventDict, Processor, WrappedLogger

from engine.errors import EngineError
from engine.model import Order

__all__ = [
    "PATTERNED_KEYS",
    "REDACTED",
    "SAFE_KEYS",
    "PiiRedactor",
    "bind_order",
    "configure_logging",
    "redacting",
    "render_exception",
    "sensitive_values",
]

#: What replaces a redacted value.
REDACTED = "[redacted]"

#: Keys whose (plain) values may reach a log line. Anything else is dropped.
SAFE_KEYS: frozenset[str] = frozenset({
    # structlog's own
    "event", "level", "timestamp", "logger", "logger_name",
    # the order, by identifiers only (no case number: it can point at the parties)
    "order_key", "order_id", "version", "version_key", "action", "order_type", "court",
    "court_ori", "mcn", "record_id", "doj_record_id",
    # ledger and deadlines
    "state", "from_state", "to_state", "due_at", "risk", "overdue_seconds", "count",
    # transmission
    "destination", "transport", "attempt", "max_attempts", "delay_seconds", "outcome",
    "breaker_state", "status", "http_status", "content_type", "duration_seconds",
    "queue", "exchange", "routing_key", "delivery_tag", "redelivered",
    # errors (paths and codes, never values)
    "error_code", "error_type", "error", "reason", "reason_path", "reason_paths",
    "paths", "stage", "retryable", "traceback",
    # process
    "component", "worker", "threads", "port", "config_file", "redacted_fields", "error_class",
    "kind", "next_attempt_at", "message_id", "intake", "inactivity_timeout", "hook", "prefetch",
})

#: Keys allowed only with a value of a known shape. ``order`` is where an order *object*
#: would land, so it passes only as an order key (``CA019015J/LA-DV-1`` or ``...#2``).
PATTERNED_KEYS: dict[str, re.Pattern[str]] = {
    "order": re.compile(r"^[A-Z]{2}[A-Z0-9]{7}/[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}(?:#\d+)?$"),
}

#: Keys structlog's stdlib bridge adds that are harvested for personal values, then
#: dropped without counting (they are not the caller's fields).
_BRIDGE_KEYS = frozenset({"positional_args", "stack_info"})

#: Keys structlog's ProcessorFormatter adds for its own use and removes before rendering.
_FORMATTER_META = frozenset({"_record", "_from_structlog"})

#: Keys under which an order's personal values sit, for harvesting an order-shaped dict.
_PERSON_KEYS = ("restrained_persons", "protected_persons")

#: A date with no time: most likely a birth date here (ISO, US and compact forms).
_DATE_ONLY = re.compile(
    r"(?<![\d-])(?:\d{4}-\d{2}-\d{2}(?![\dT])|\d{1,2}/\d{1,2}/\d{4}(?!\d)|"
    r"(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d))")

#: Keys that hold a person's data inside *text* (a JSON body, a dict's or a model's repr):
#: the quoted value after such a key is masked whatever it is.
_TEXT_KEYS = ("surname", "given", "middle", "birth_date", "dob", "date_of_birth",
              "address", "street", "value", "aliases_text")
_KEYED_VALUE = re.compile(
    r"""(?P<key>["']?\b(?:""" + "|".join(_TEXT_KEYS) + r""")\b["']?\s*[:=]\s*)"""
    r"""(?P<q>["'])(?:\\.|(?!(?P=q)).)*(?P=q)""", re.DOTALL)
#: Lists of personal text in text (scars, marks and tattoos): the whole list is masked.
_KEYED_LIST = re.compile(
    r"""(?P<key>["']?\bscars_marks_tattoos\b["']?\s*[:=]\s*)[\[(]"""
    r"""(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|[^\])"'])*[\])]""", re.DOTALL)
#: A date as Python's repr shows it: ``datetime.date(1984, 3, 17)``.
_DATE_REPR = re.compile(r"datetime\.date\(\d{4},\s*\d{1,2},\s*\d{1,2}\)")

#: Shortest personal value masked inside text. Values shorter than 4 characters are masked
#: as whole words only (a surname "Li" is masked, "Line" is not); single letters (a middle
#: initial) are left alone.
_MIN_MASK_LENGTH = 2

_context_values: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "engine_log_sensitive_values", default=frozenset())


# -- what is personal ----------------------------------------------------------------------

def _person_values(person: Mapping[str, Any]) -> Iterator[str]:
    names = [person.get("name"), *(person.get("aliases") or ())]
    for name in names:
        if isinstance(name, Mapping):
            for part in ("surname", "given", "middle"):
                if name.get(part):
                    yield str(name[part])
    if person.get("birth_date"):
        birth = person["birth_date"]
        yield birth.isoformat() if isinstance(birth, dt.date) else str(birth)
    for identifier in person.get("identifiers") or ():
        if isinstance(identifier, Mapping) and identifier.get("value"):
            yield str(identifier["value"])
    for mark in person.get("scars_marks_tattoos") or ():
        yield str(mark)
    for key in ("address", "street", "city"):
        if isinstance(person.get(key), str):
            yield person[key]


def sensitive_values(order: Order | Mapping[str, Any]) -> frozenset[str]:
    """The personal values in an order: name parts, birth dates, identifiers, marks."""
    data = order.model_dump(mode="json") if isinstance(order, Order) else order
    values: set[str] = set()
    for key in _PERSON_KEYS:
        for person in data.get(key) or ():
            if isinstance(person, Mapping):
                values.update(v.strip() for v in _person_values(person) if v and v.strip())
    return frozenset(values)


def _looks_like_order(value: Any) -> bool:
    return isinstance(value, Order) or (
        isinstance(value, Mapping) and any(k in value for k in _PERSON_KEYS))


def _looks_like_person(value: Mapping[str, Any]) -> bool:
    """A person (``name: {surname: ...}``) or a bare name (``surname: ...``)."""
    name = value.get("name")
    return (isinstance(name, Mapping) and "surname" in name) or "surname" in value


def _harvest(value: Any, depth: int = 0) -> set[str]:
    """Personal values of every order, person or name found in ``value`` (a few levels)."""
    if depth > 6:
        return set()
    if _looks_like_order(value):
        return set(sensitive_values(value))
    if isinstance(value, BaseModel):
        return _harvest(value.model_dump(mode="json"), depth + 1)
    found: set[str] = set()
    if isinstance(value, Mapping):
        if _looks_like_person(value):
            person = value if "name" in value else {"name": value}
            found |= {v.strip() for v in _person_values(person) if v and v.strip()}
        for item in value.values():
            found |= _harvest(item, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            found |= _harvest(item, depth + 1)
    elif isinstance(value, BaseException):
        for arg in value.args:
            found |= _harvest(arg, depth + 1)
    return found


@contextlib.contextmanager
def redacting(*orders: Order | Mapping[str, Any]) -> Iterator[None]:
    """Mask these orders' personal values in every log line written inside the block.

    Takes decoded (even invalid) order dicts too, so intake can wrap validation in it.
    """
    extra: set[str] = set()
    for order in orders:
        extra |= _harvest(order)
    token = _context_values.set(_context_values.get() | extra)
    try:
        yield
    finally:
        _context_values.reset(token)


@contextlib.contextmanager
def bind_order(order: Order, **safe: Any) -> Iterator[None]:
    """Bind the order's safe identifiers to every log line in the block, and mask its
    personal values: what a pipeline step wraps its work in."""
    fields = {"order_key": order.key, "version": order.version,
              "action": order.action.value, "order_type": order.order_type.value,
              "court": order.court.ori, **safe}
    with structlog.contextvars.bound_contextvars(**fields), redacting(order):
        yield


# -- exceptions ----------------------------------------------------------------------------

def render_exception(exc: BaseException) -> dict[str, Any]:
    """An exception as safe fields: type, engine message and paths, frames without locals."""
    out: dict[str, Any] = {"error_type": type(exc).__name__}
    if isinstance(exc, EngineError):
        out["error"] = str(exc)
        paths = [e.path for e in getattr(exc, "errors", ()) if hasattr(e, "path")]
        if paths:
            out["reason_paths"] = paths
    frames = []
    chain: BaseException | None = exc
    seen: set[int] = set()
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        for frame in traceback.extract_tb(chain.__traceback__):
            frames.append(f"{frame.filename}:{frame.lineno} in {frame.name}")
        if chain is not exc:
            frames.append(f"caused by {type(chain).__name__}")
        chain = chain.__cause__ or chain.__context__
    if frames:
        out["traceback"] = frames
    return out


# -- the processor -------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def _mask_pattern(values: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for all values, longest first; short ones (< 4) only as whole words.
    Cached: the lines about one order share the same values."""
    if not values:
        return None
    parts = [re.escape(v) if len(v) >= 4 else rf"(?<!\w){re.escape(v)}(?!\w)"
             for v in values]
    return re.compile("|".join(parts), re.IGNORECASE)


class PiiRedactor:
    """structlog processor: allow-listed keys, plain values, known personal values masked.

    Settings are checked here, work in ``__call__`` (like structlog's own processors).
    """

    def __init__(self, safe_keys: Iterable[str] = SAFE_KEYS, *,
                 mask_dates: bool = True) -> None:
        self.safe_keys = frozenset(safe_keys)
        if "event" not in self.safe_keys:
            raise ValueError("safe_keys must include 'event'")
        self.mask_dates = mask_dates

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
        known = set(_context_values.get()) | _harvest(dict(event_dict))
        exc = event_dict.pop("exc_info", None)
        event_dict.pop("exception", None)  # a pre-rendered traceback: never trusted
        if exc:
            error = exc if isinstance(exc, BaseException) else sys.exc_info()[1]
            if isinstance(exc, tuple):
                error = exc[1]
            if isinstance(error, BaseException):
                known |= _harvest(error)
                for key, value in render_exception(error).items():
                    event_dict.setdefault(key, value)
        # Each value also as JSON escapes it (``Garc\\u00eda``), for JSON bodies in text.
        known |= {json.dumps(v)[1:-1] for v in known}
        masks = tuple(sorted((v for v in known if len(v) >= _MIN_MASK_LENGTH),
                             key=lambda v: (-len(v), v)))
        pattern = _mask_pattern(masks)
        out: dict[str, Any] = {}
        dropped = 0
        for key, value in event_dict.items():
            if key in _FORMATTER_META:
                out[key] = value  # structlog's own bookkeeping, removed before rendering
                continue
            if key in PATTERNED_KEYS and key not in self.safe_keys:
                ok = isinstance(value, str) and PATTERNED_KEYS[key].match(value)
                out[key] = self._clean(value, pattern) if ok else REDACTED
                continue
            if key not in self.safe_keys:
                dropped += 0 if key in _BRIDGE_KEYS else 1
                continue
            out[key] = self._clean(value, pattern)
        if dropped:
            out["redacted_fields"] = dropped
        return out

    def _clean(self, value: Any, pattern: re.Pattern[str] | None) -> Any:
        if isinstance(value, bool | int | float) or value is None:
            return value
        if isinstance(value, enum.Enum):
            value = value.value
        if isinstance(value, dt.datetime):
            return value.isoformat()
        if isinstance(value, dt.date):
            return REDACTED if self.mask_dates else value.isoformat()
        if isinstance(value, list | tuple):
            return [self._clean(v, pattern) for v in value
                    if not isinstance(v, Mapping | list | tuple)] if all(
                        not isinstance(v, Mapping | list | tuple) for v in value) else REDACTED
        if isinstance(value, str):
            if pattern is not None:
                value = pattern.sub(REDACTED, value)
            value = _KEYED_VALUE.sub(lambda m: f"{m['key']}{m['q']}{REDACTED}{m['q']}", value)
            value = _KEYED_LIST.sub(lambda m: f"{m['key']}[{REDACTED}]", value)
            if self.mask_dates:
                value = _DATE_ONLY.sub(REDACTED, _DATE_REPR.sub(REDACTED, value))
            return value
        return REDACTED  # an object: its repr may hold anything


# -- configuration -------------------------------------------------------------------------

def _processors(json: bool) -> tuple[list[Processor], Processor]:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        PiiRedactor(),
    ]
    renderer: Processor = (structlog.processors.JSONRenderer(sort_keys=True) if json
                           else structlog.dev.ConsoleRenderer(colors=False))
    return shared, renderer


def configure_logging(level: str | int = "INFO", json: bool = True,
                      stream: TextIO | None = None) -> None:
    """Send structlog and standard-library logs through the redactor to ``stream``.

    One JSON object per line (``json=True``) for log shippers; ``json=False`` gives a
    readable console line, redacted the same way.
    """
    shared, renderer = _processors(json)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        pass_foreign_args=True,  # so the redactor sees (and harvests) %-arguments
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    ))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_engine_handler", False):
            root.removeHandler(old)
    handler._engine_handler = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
