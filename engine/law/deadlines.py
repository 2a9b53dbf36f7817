"""When each order version is due in the state registry, and whether it is at risk.

California Family Code 6380 wants a protective order in CARPOS "within one business day"
of issuance, and an emergency protective order at once. This module turns that into a due
time per order version, from configuration (`config/deadlines.yaml`):

- **Rules, first match wins.** Each rule names the order types and actions it covers, the
  moment the clock starts (``from: issued_at`` or ``from: served_at``) and a limit: either
  elapsed calendar time (``within: {hours: 1}``; emergency orders: nights and holidays
  count) or court business days (``within: {business_days: 1}``). Every (order type, action)
  pair must be covered by some rule; the load fails naming the pairs that are not.
- **What "within one business day" means here** (``due: end_of_day``, the shipped rule):
  the order is *overdue* from midnight ending the next court business day after the day
  the clock started, in the court's time zone: Fam. Code 6380 ("within one business day")
  read with Code Civ. Proc. 12 and 12a (a period ends at the end of its last day; a last
  day that is a holiday moves to the next court day). An order issued Sunday 02:00 is due
  at the end of Monday, not at 02:00 Monday, before the court opens. The early warning is
  kept: ``at_risk: {hours: 24}`` marks an undelivered order at risk for the whole court
  day it is due. ``due: same_time`` (the same wall-clock time on the next court business
  day) is the stricter reading; a court that wants it can configure it per rule. The wall
  clock is local, so a day-light-saving change moves the due instant by an hour in UTC but
  not on the court's clock. A proof of service counts from the later of the service and
  its filing (``from: later_of_service_and_filing``).
- **The calendar** is `engine.law.court_calendar.CourtCalendar`: California judicial holidays
  by default, time zone America/Los_Angeles, and per-court overrides keyed by court ORI
  (another time zone, extra closure dates).

Everything here is a pure function of the order, the policy and (for `risk_state`) an
explicit ``now``: no clock is read, so the ledger and the tests inject one.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.errors import EngineError, FieldError, OrderInvalid
from engine.law.court_calendar import DEFAULT_TIME_ZONE, HOLIDAY_CALENDARS, CourtCalendar
from engine.model import Action, Order, OrderType

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_POLICY",
    "DeadlineConfigError",
    "DeadlinePolicy",
    "DeadlineRule",
    "DueExplanation",
    "RiskState",
    "due_at",
    "explain_due",
    "risk_state",
]


class DeadlineConfigError(EngineError):
    """A deadline configuration that cannot be used; the message names the file and key."""


class RiskState(enum.StrEnum):
    """Where an undelivered order stands against its due time."""

    OK = "ok"
    AT_RISK = "at_risk"
    OVERDUE = "overdue"


def risk_state(due_at: dt.datetime, now: dt.datetime, at_risk_window: dt.timedelta) -> RiskState:
    """``overdue`` from the due instant on, ``at_risk`` within the window before it, else ``ok``."""
    if due_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("due_at and now must be timezone-aware")
    if now >= due_at:
        return RiskState.OVERDUE
    if now >= due_at - at_risk_window:
        return RiskState.AT_RISK
    return RiskState.OK


class _Clock(enum.StrEnum):
    ELAPSED = "elapsed"
    BUSINESS_DAYS = "business_days"


class _Due(enum.StrEnum):
    SAME_TIME = "same_time"
    END_OF_DAY = "end_of_day"


class _Start(enum.StrEnum):
    ISSUED_AT = "issued_at"
    SERVED_AT = "served_at"
    #: A proof of service reaches the court when it is filed (a ``serve`` version's
    #: ``issued_at``), never before the service it proves: count from the later of the two.
    SERVED_OR_FILED = "later_of_service_and_filing"


@dataclass(frozen=True, kw_only=True)
class DeadlineRule:
    """One line of the policy: which orders it covers and how their due time is computed."""

    name: str
    order_types: frozenset[OrderType]
    actions: frozenset[Action]
    start: _Start = _Start.ISSUED_AT
    clock: _Clock = _Clock.BUSINESS_DAYS
    #: For ``clock == elapsed``: the time allowed.
    elapsed: dt.timedelta | None = None
    #: For ``clock == business_days``: how many court business days, and where in the day.
    business_days: int = 1
    due: _Due = _Due.SAME_TIME
    #: How long before the due time an undelivered order counts as at risk.
    at_risk_window: dt.timedelta = dt.timedelta(hours=4)

    def covers(self, order_type: OrderType, action: Action) -> bool:
        return order_type in self.order_types and action in self.actions

    def describe(self) -> str:
        if self.clock is _Clock.ELAPSED:
            limit = f"{_format_duration(self.elapsed)} of calendar time"
        else:
            days = "day" if self.business_days == 1 else "days"
            at = "same local time" if self.due is _Due.SAME_TIME else "end of day"
            limit = f"{self.business_days} court business {days} ({at})"
        return f"{self.name}: within {limit} from {self.start.value}"


@dataclass(frozen=True, kw_only=True)
class DueExplanation:
    """A due time with the reasons for it, for on-call staff and the CLI."""

    due_at: dt.datetime
    rule: DeadlineRule
    started_at: dt.datetime
    time_zone: str
    #: Court-closed days skipped between the start day and the due day, with the reason.
    skipped: tuple[tuple[dt.date, str], ...] = ()

    def lines(self) -> list[str]:
        zone = CourtCalendar(time_zone=self.time_zone).zone
        local = self.due_at.astimezone(zone)
        out = [
            f"due      {self.due_at.isoformat()} ({local.isoformat()} {self.time_zone})",
            f"rule     {self.rule.describe()}",
            f"started  {self.started_at.astimezone(zone).isoformat()}",
        ]
        out += [f"skipped  {day.isoformat()} {day:%a}: {why}" for day, why in self.skipped]
        return out


@dataclass(frozen=True, kw_only=True)
class DeadlinePolicy:
    """Deadline rules and court calendars, validated when built."""

    rules: tuple[DeadlineRule, ...]
    calendar: CourtCalendar = field(default_factory=CourtCalendar)
    #: Per-court calendars by court ORI; courts not listed use ``calendar``.
    courts: Mapping[str, CourtCalendar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        uncovered = [f"{t.value}/{a.value}" for t in OrderType for a in Action
                     if not any(r.covers(t, a) for r in self.rules)]
        if uncovered:
            raise DeadlineConfigError(
                "rules: no rule covers " + ", ".join(uncovered)
                + " (add a last rule without order_types/actions to cover everything)")

    # -- lookup -------------------------------------------------------------------------
    def rule_for(self, order: Order) -> DeadlineRule:
        """The first rule covering the order's type and action."""
        return self.rule_for_kind(order.order_type, order.action)

    def rule_for_kind(self, order_type: OrderType, action: Action) -> DeadlineRule:
        """The first rule covering this order type and action (for a ledger row)."""
        for rule in self.rules:
            if rule.covers(OrderType(order_type), Action(action)):
                return rule
        raise AssertionError("unreachable: coverage is checked at load")  # pragma: no cover

    def calendar_for(self, court_ori: str) -> CourtCalendar:
        return self.courts.get(court_ori, self.calendar)

    def at_risk_window(self, order: Order) -> dt.timedelta:
        return self.rule_for(order).at_risk_window

    def assess(self, order: Order, now: dt.datetime) -> RiskState:
        """The order's risk state at ``now`` if it is still undelivered."""
        return risk_state(due_at(order, self), now, self.at_risk_window(order))

    # -- loading ------------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> DeadlinePolicy:
        """Read and validate a deadlines YAML file; errors name the file and the key."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DeadlineConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise DeadlineConfigError(f"{path}: not valid YAML: {exc}") from exc
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "<config>") -> DeadlinePolicy:
        try:
            return _parse_policy(data)
        except _KeyProblem as exc:
            raise DeadlineConfigError(f"{source}: {exc.key}: {exc.problem}") from None
        except DeadlineConfigError as exc:
            raise DeadlineConfigError(f"{source}: {exc}") from None

    @classmethod
    def default(cls) -> DeadlinePolicy:
        """The built-in policy (the same as the shipped `config/deadlines.yaml`)."""
        return _default_policy()


# -- computing due times ------------------------------------------------------------------

def _start_of(order: Order, rule: DeadlineRule) -> dt.datetime:
    if rule.start in (_Start.SERVED_AT, _Start.SERVED_OR_FILED):
        served = order.service.served_at
        if served is None:
            raise OrderInvalid([FieldError(
                "service.served_at",
                f"needed to compute the deadline (rule {rule.name!r} counts from service)")])
        if rule.start is _Start.SERVED_OR_FILED:
            return max(served, order.issued_at)
        return served
    return order.issued_at


def explain_due(order: Order, policy: DeadlinePolicy | None = None) -> DueExplanation:
    """The order version's due time and why (rule, start, court days skipped)."""
    policy = policy or DEFAULT_POLICY
    rule = policy.rule_for(order)
    start = _start_of(order, rule)
    calendar = policy.calendar_for(order.court.ori)
    if rule.clock is _Clock.ELAPSED:
        assert rule.elapsed is not None
        due = start.astimezone(dt.UTC) + rule.elapsed
        return DueExplanation(due_at=due, rule=rule, started_at=start,
                              time_zone=calendar.time_zone)
    zone = calendar.zone
    local_start = start.astimezone(zone)
    day = local_start.date()
    for _ in range(rule.business_days):
        day = calendar.next_business_day(day)
    if rule.due is _Due.SAME_TIME:
        # Same wall-clock time; zoneinfo resolves a time that a DST jump skips by the
        # offset before the jump (fold=0), which lands it later, never earlier.
        local_due = dt.datetime.combine(day, local_start.time().replace(tzinfo=None),
                                        tzinfo=zone)
    else:
        local_due = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    skipped = tuple(calendar.closed_days_between(local_start.date(), day))
    return DueExplanation(due_at=local_due.astimezone(dt.UTC), rule=rule, started_at=start,
                          time_zone=calendar.time_zone, skipped=skipped)


def due_at(order: Order, policy: DeadlinePolicy | None = None) -> dt.datetime:
    """When this order version must be in the registry (aware, UTC).

    Raises `OrderInvalid` (path ``service.served_at``) for a rule counting from service
    on an order without a service time.
    """
    return explain_due(order, policy).due_at


# -- parsing the configuration ------------------------------------------------------------

class _KeyProblem(Exception):
    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


_DURATION = re.compile(r"^(?:(?P<h>\d+)h)?\s*(?:(?P<m>\d+)m)?$")
_TOP_KEYS = {"version", "time_zone", "holidays", "closures", "courts", "rules"}
_RULE_KEYS = {"name", "order_types", "actions", "from", "within", "due", "at_risk"}
_WITHIN_KEYS = {"hours", "minutes", "business_days"}
_COURT_KEYS = {"time_zone", "holidays", "closures"}


def _format_duration(delta: dt.timedelta | None) -> str:
    minutes = int((delta or dt.timedelta()).total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return " ".join(p for p in (f"{hours}h" if hours else "", f"{minutes}m" if minutes else "")
                    if p) or "0m"


def _check_keys(key: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _KeyProblem(key, f"must be a mapping, got {type(value).__name__}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _KeyProblem(key, f"unknown key(s) {', '.join(map(str, unknown))} "
                               f"(allowed: {', '.join(sorted(allowed))})")
    return value


def _parse_duration(key: str, value: Any) -> dt.timedelta:
    """``{hours: 1}``, ``{minutes: 90}`` or a string like ``"1h"``, ``"30m"``, ``"1h30m"``."""
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if not value.strip() or not match:
            raise _KeyProblem(key, f"duration {value!r} is not like '1h', '30m' or '1h30m'")
        delta = dt.timedelta(hours=int(match["h"] or 0), minutes=int(match["m"] or 0))
    else:
        value = _check_keys(key, value, {"hours", "minutes"})
        delta = dt.timedelta(hours=_number(f"{key}.hours", value.get("hours", 0)),
                             minutes=_number(f"{key}.minutes", value.get("minutes", 0)))
    if delta <= dt.timedelta(0):
        raise _KeyProblem(key, "must be longer than zero")
    return delta


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _KeyProblem(key, f"must be a non-negative number, got {value!r}")
    return value


def _enum_set(key: str, value: Any, enum_type: type[enum.StrEnum]) -> frozenset[Any]:
    if value is None:
        return frozenset(enum_type)
    if enum_type is OrderType and value == "emergency":
        return frozenset(t for t in OrderType if t.is_emergency)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _KeyProblem(key, "must be a non-empty list")
    out = set()
    for i, item in enumerate(value):
        try:
            out.add(enum_type(item))
        except ValueError:
            known = ", ".join(m.value for m in enum_type)
            raise _KeyProblem(f"{key}[{i}]", f"unknown value {item!r} (known: {known})") from None
    return frozenset(out)


def _parse_rule(i: int, raw: Any) -> DeadlineRule:
    key = f"rules[{i}]"
    raw = _check_keys(key, raw, _RULE_KEYS)
    name = raw.get("name") or f"rule {i}"
    if not isinstance(name, str):
        raise _KeyProblem(f"{key}.name", "must be text")
    within = _check_keys(f"{key}.within", raw.get("within"), _WITHIN_KEYS)
    if not within:
        raise _KeyProblem(f"{key}.within", "is required: {hours: N}, {minutes: N} or "
                                           "{business_days: N}")
    try:
        start = _Start(raw.get("from", "issued_at"))
    except ValueError:
        raise _KeyProblem(f"{key}.from", f"must be one of {', '.join(_Start)}, "
                                         f"got {raw.get('from')!r}") from None
    kwargs: dict[str, Any] = {}
    if "business_days" in within:
        if set(within) != {"business_days"}:
            raise _KeyProblem(f"{key}.within", "business_days cannot be combined with "
                                               "hours/minutes")
        days = within["business_days"]
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 30:
            raise _KeyProblem(f"{key}.within.business_days",
                              f"must be a whole number from 1 to 30, got {days!r}")
        try:
            due = _Due(raw.get("due", "same_time"))
        except ValueError:
            raise _KeyProblem(f"{key}.due", f"must be one of {', '.join(_Due)}, "
                                            f"got {raw.get('due')!r}") from None
        kwargs.update(clock=_Clock.BUSINESS_DAYS, business_days=days, due=due)
    else:
        if "due" in raw:
            raise _KeyProblem(f"{key}.due", "applies only to business_days limits")
        kwargs.update(clock=_Clock.ELAPSED, elapsed=_parse_duration(f"{key}.within", within))
    default_window = dt.timedelta(hours=4) if "business_days" in within else \
        kwargs["elapsed"] / 2
    window = (_parse_duration(f"{key}.at_risk", raw["at_risk"]) if "at_risk" in raw
              else default_window)
    if kwargs.get("elapsed") is not None and window >= kwargs["elapsed"]:
        raise _KeyProblem(f"{key}.at_risk", "must be shorter than the time allowed "
                                            "(otherwise every order is at risk at once)")
    return DeadlineRule(
        name=name,
        order_types=_enum_set(f"{key}.order_types", raw.get("order_types"), OrderType),
        actions=_enum_set(f"{key}.actions", raw.get("actions"), Action),
        start=start, at_risk_window=window, **kwargs)


def _parse_closures(key: str, value: Any) -> frozenset[dt.date]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise _KeyProblem(key, "must be a list of dates (YYYY-MM-DD)")
    out = set()
    for i, item in enumerate(value):
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            out.add(item)
            continue
        try:
            out.add(dt.date.fromisoformat(str(item)))
        except ValueError:
            raise _KeyProblem(f"{key}[{i}]", f"{item!r} is not a date (YYYY-MM-DD)") from None
    return frozenset(out)


def _parse_calendar(key: str, raw: dict[str, Any], base: CourtCalendar | None) -> CourtCalendar:
    time_zone = raw.get("time_zone", base.time_zone if base else DEFAULT_TIME_ZONE)
    calendar_name = raw.get("holidays", base.holidays if base else "california_judicial")
    if calendar_name not in HOLIDAY_CALENDARS:
        raise _KeyProblem(f"{key}holidays", f"unknown calendar {calendar_name!r} "
                                            f"(known: {', '.join(sorted(HOLIDAY_CALENDARS))})")
    closures = _parse_closures(f"{key}closures", raw.get("closures"))
    if base:
        closures |= base.extra_closures
    try:
        return CourtCalendar(time_zone=str(time_zone), holidays=calendar_name,
                             extra_closures=closures)
    except ValueError as exc:
        raise _KeyProblem(f"{key}time_zone", str(exc)) from None


def _parse_policy(data: Any) -> DeadlinePolicy:
    data = _check_keys("(top level)", data, _TOP_KEYS)
    if data.get("version", 1) != 1:
        raise _KeyProblem("version", f"unsupported version {data.get('version')!r} (known: 1)")
    calendar = _parse_calendar("", data, None)
    courts_raw = data.get("courts") or {}
    if not isinstance(courts_raw, dict):
        raise _KeyProblem("courts", "must be a mapping of court ORI to calendar settings")
    courts = {}
    for ori, raw in courts_raw.items():
        if not isinstance(ori, str) or not re.fullmatch(r"[A-Z]{2}[A-Z0-9]{7}", ori):
            raise _KeyProblem(f"courts.{ori}", "key must be a court ORI like CA019015J")
        courts[ori] = _parse_calendar(f"courts.{ori}.",
                                      _check_keys(f"courts.{ori}", raw, _COURT_KEYS), calendar)
    rules_raw = data.get("rules")
    if not isinstance(rules_raw, list) or not rules_raw:
        raise _KeyProblem("rules", "must be a non-empty list of rules")
    rules = tuple(_parse_rule(i, raw) for i, raw in enumerate(rules_raw))
    return DeadlinePolicy(rules=rules, calendar=calendar, courts=courts)


#: The built-in policy as data; `config/deadlines.yaml` ships the same (a test checks).
DEFAULT_CONFIG: dict[str, Any] = {
    "version": 1,
    "time_zone": DEFAULT_TIME_ZONE,
    "holidays": "california_judicial",
    "closures": [],
    "courts": {},
    "rules": [
        {"name": "emergency", "order_types": "emergency",
         "actions": ["issue", "modify", "extend", "terminate", "cancel"],
         "from": "issued_at", "within": {"hours": 1}, "at_risk": {"minutes": 30}},
        {"name": "proof_of_service", "actions": ["serve"],
         "from": "later_of_service_and_filing", "within": {"business_days": 1},
         "due": "end_of_day", "at_risk": {"hours": 24}},
        {"name": "entry_and_changes",
         "actions": ["issue", "modify", "extend", "terminate", "cancel"],
         "from": "issued_at", "within": {"business_days": 1}, "due": "end_of_day",
         "at_risk": {"hours": 24}},
    ],
}


def _default_policy() -> DeadlinePolicy:
    return DeadlinePolicy.from_dict(DEFAULT_CONFIG, source="engine.law.deadlines.DEFAULT_CONFIG")


#: The policy `due_at` uses when given none.
DEFAULT_POLICY = _default_policy()
