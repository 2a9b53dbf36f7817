"""Rules of a canonical order that span fields, reported all at once with field paths.

Shape and code checks are the model's (`engine.model`); these are the rules a court clerk
would recognise: an order cannot expire before it takes effect, proof of service needs a
service date, an "other terms" condition needs the terms. The legal limits (statutory
maximum durations, the Brady indicator's conditions) come from `engine.law.rules`, where
each has its source; `check_order` applies them to whatever it is given, so a court that
checks its files (`engine check`) meets the same refusals the intake would make.
"""

from __future__ import annotations

import datetime as dt

from engine.errors import FieldError, OrderInvalid
from engine.law.court_calendar import CourtCalendar
from engine.law.court_time import court_date
from engine.law.rules import (
    BRADY_PROTECTED,
    DURATION_ACTIONS,
    default_expiration,
    latest_expiration,
    rule_for,
)
from engine.model import Action, ConditionCode, Order, ServiceStatus

__all__ = ["DEFAULT_CLOCK_SKEW", "check_order", "order_problems"]

#: How far ahead of the engine's clock an ``issued_at`` may be (clocks drift; an order from
#: the future would get a due time in the future and never alert). `EngineConfig` sets it.
DEFAULT_CLOCK_SKEW = dt.timedelta(minutes=5)


def _age_on(birth: dt.date, on: dt.date) -> int:
    """Whole years from `birth` to `on` (a leap-day birthday comes on March 1)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _calendar(order: Order, calendar: CourtCalendar | None) -> CourtCalendar:
    if calendar is not None:
        return calendar
    from engine.law.deadlines import DEFAULT_POLICY  # the court calendars deadlines use

    return DEFAULT_POLICY.calendar_for(order.court.ori)


def order_problems(order: Order, *, calendar: CourtCalendar | None = None,
                   now: dt.datetime | None = None,
                   max_skew: dt.timedelta = DEFAULT_CLOCK_SKEW) -> list[FieldError]:
    """Every cross-field problem of the order, in field order; empty when it is sound.

    ``calendar`` is the court's (default: the deadline policy's for the court's ORI);
    ``now``, when given, refuses times further than ``max_skew`` in the future.
    """
    problems: list[FieldError] = []
    calendar = _calendar(order, calendar)
    # The court's date of issuance, whatever offset the court's system sent (issue 16.8).
    issued_on = court_date(order.court.ori, order.issued_at)

    if order.version == 1 and order.action is not Action.ISSUE:
        problems.append(FieldError("action", "version 1 of an order must be action 'issue'"))
    if order.version > 1 and order.action is Action.ISSUE:
        problems.append(FieldError("action", "only version 1 can be 'issue'; use 'modify'"))
    if now is not None and order.issued_at > now + max_skew:
        problems.append(FieldError("issued_at", "is in the future (more than "
                                   f"{_minutes(max_skew)} ahead of the engine's clock)"))
    # A serve version's issued_at is when the proof was filed, after the order took effect.
    if order.action is not Action.SERVE and order.effective_date < issued_on:
        problems.append(FieldError("effective_date", "is before the order was issued"))
    if order.expiration_date is not None and order.expiration_date < order.effective_date:
        problems.append(FieldError("expiration_date", "is before the effective date"))
    if order.action is Action.EXTEND and order.expiration_date is None:
        problems.append(FieldError("expiration_date", "an 'extend' must give the new date"))
    problems += _duration_problems(order, calendar)
    problems += _brady_problems(order)

    for i, restrained in enumerate(order.restrained_persons):
        if restrained.birth_date is not None and restrained.birth_date > issued_on:
            problems.append(FieldError(f"restrained_persons.{i}.birth_date",
                                       "is after the order was issued"))
    for i, person in enumerate(order.protected_persons):
        where = f"protected_persons.{i}.birth_date"
        if person.birth_date is None:
            continue
        if person.birth_date > issued_on:
            problems.append(FieldError(where, "is after the order was issued"))
        elif person.is_minor and _age_on(person.birth_date, issued_on) >= 18:
            problems.append(FieldError(where, "marks an adult, but is_minor is true"))

    seen: set[ConditionCode] = set()
    for i, condition in enumerate(order.conditions):
        if condition.code in seen:
            problems.append(FieldError(f"conditions.{i}.code", "condition listed twice"))
        seen.add(condition.code)
    if ConditionCode.SEE_MISCELLANEOUS in seen and not order.miscellaneous:
        problems.append(FieldError("miscellaneous",
                                   "condition 08 (see miscellaneous) needs the terms here"))

    service = order.service
    if service.status is ServiceStatus.SERVED and service.served_at is None:
        problems.append(FieldError("service.served_at", "a served order needs the service time"))
    if service.status is ServiceStatus.NOT_SERVED and service.served_at is not None:
        # A service time on an unserved order would tell an officer the person has notice.
        problems.append(FieldError("service.served_at",
                                   "an order not served cannot have a service time"))
    problems += _service_time_problems(order, calendar, now, max_skew)
    if order.action is Action.SERVE and service.status is not ServiceStatus.SERVED:
        problems.append(FieldError("service.status", "a 'serve' action needs status 'served'"))
    from engine.attachments import image_problems  # here: attachments imports the model too

    problems.extend(image_problems(order))
    return problems


def _minutes(delta: dt.timedelta) -> str:
    return f"{int(delta.total_seconds() // 60)} minutes"


def _service_time_problems(order: Order, calendar: CourtCalendar, now: dt.datetime | None,
                           max_skew: dt.timedelta) -> list[FieldError]:
    """Service happens after the order exists and before its proof is filed.

    Version 1 is the order as issued: no service before ``issued_at``. A ``serve`` version's
    ``issued_at`` is when the proof of service was filed (docs/intake-format.md), which is
    always after the service it proves; its service cannot precede the order's effective
    date. A later change (modify, extend, ...) keeps the service of the order as issued,
    whose time only version 1 knows.
    """
    served_at = order.service.served_at
    if served_at is None:
        return []
    where = "service.served_at"
    problems = []
    if now is not None and served_at > now + max_skew:
        problems.append(FieldError(where, f"is in the future (more than {_minutes(max_skew)} "
                                          "ahead of the engine's clock)"))
    if order.action is Action.ISSUE and served_at < order.issued_at:
        problems.append(FieldError(where, "is before the order was issued"))
    if order.action is Action.SERVE:
        if served_at > order.issued_at:
            problems.append(FieldError(where, "is after the proof of service was filed "
                                              "(issued_at of a 'serve' is the filing time)"))
        if served_at.astimezone(calendar.zone).date() < order.effective_date:
            problems.append(FieldError(where, "is before the order took effect"))
    return problems


def _duration_problems(order: Order, calendar: CourtCalendar) -> list[FieldError]:
    """The statutory maximum of the order type, and an end date where the law sets none."""
    if order.action not in DURATION_ACTIONS:
        return []
    rule = rule_for(order.order_type)
    latest = latest_expiration(order, calendar)
    if latest is None:
        return []
    if order.expiration_date is None:
        if default_expiration(order, calendar) is not None:
            return []  # the law's default end is derived (engine.law.derivations)
        return [FieldError("expiration_date", f"is required: {rule.duration_source}, and the "
                                              "law sets no default end")]
    if order.expiration_date > latest:
        return [FieldError("expiration_date", f"is after {latest.isoformat()}, the latest "
                                              f"the law allows ({rule.duration_source})")]
    return []


def _brady_problems(order: Order) -> list[FieldError]:
    """BRD/Y only where 18 U.S.C. 922(g)(8) can apply: after a hearing with notice, with an
    intimate partner or a child protected."""
    if not order.firearms.brady_indicator:
        return []
    problems = []
    where = "firearms.brady_indicator"
    if rule_for(order.order_type).hearing_with_notice is False:
        problems.append(FieldError(where, "18 U.S.C. 922(g)(8) applies only to an order "
                                          "issued after a hearing with notice; this order "
                                          "type is issued without one"))
    if not any(p.relationship in BRADY_PROTECTED for p in order.protected_persons):
        problems.append(FieldError(where, "18 U.S.C. 922(g)(8) needs a protected intimate "
                                          "partner (spouse, former spouse, co-parent, "
                                          "cohabitant) or child; no protected person's "
                                          "relationship is one"))
    return problems


def check_order(order: Order, *, calendar: CourtCalendar | None = None,
                now: dt.datetime | None = None,
                max_skew: dt.timedelta = DEFAULT_CLOCK_SKEW) -> Order:
    """Return the order unchanged, or raise `OrderInvalid` listing every problem."""
    problems = order_problems(order, calendar=calendar, now=now, max_skew=max_skew)
    if problems:
        raise OrderInvalid(problems)
    return order
