"""Rules of a canonical order that span fields, reported all at once with field paths.

Shape and code checks are the model's (`engine.model`); these are the rules a court clerk
would recognise: an order cannot expire before it takes effect, proof of service needs a
service date, an "other terms" condition needs the terms.
"""

from __future__ import annotations

import datetime as dt

from engine.court_time import court_date
from engine.errors import FieldError, OrderInvalid
from engine.model import Action, ConditionCode, Order, ServiceStatus

__all__ = ["check_order", "order_problems"]


def _age_on(birth: dt.date, on: dt.date) -> int:
    """Whole years from `birth` to `on` (a leap-day birthday comes on March 1)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def order_problems(order: Order) -> list[FieldError]:
    """Every cross-field problem of the order, in field order; empty when it is sound."""
    problems: list[FieldError] = []
    # The court's date of issuance, whatever offset the court's system sent (issue 16.8).
    issued_on = court_date(order.court.ori, order.issued_at)

    if order.version == 1 and order.action is not Action.ISSUE:
        problems.append(FieldError("action", "version 1 of an order must be action 'issue'"))
    if order.version > 1 and order.action is Action.ISSUE:
        problems.append(FieldError("action", "only version 1 can be 'issue'; use 'modify'"))
    if order.effective_date < issued_on:
        problems.append(FieldError("effective_date", "is before the order was issued"))
    if order.expiration_date is not None and order.expiration_date < order.effective_date:
        problems.append(FieldError("expiration_date", "is before the effective date"))
    if order.action is Action.EXTEND and order.expiration_date is None:
        problems.append(FieldError("expiration_date", "an 'extend' must give the new date"))

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
    if service.served_at is not None and service.served_at < order.issued_at:
        problems.append(FieldError("service.served_at", "is before the order was issued"))
    if order.action is Action.SERVE and service.status is not ServiceStatus.SERVED:
        problems.append(FieldError("service.status", "a 'serve' action needs status 'served'"))
    return problems


def check_order(order: Order) -> Order:
    """Return the order unchanged, or raise `OrderInvalid` listing every problem."""
    problems = order_problems(order)
    if problems:
        raise OrderInvalid(problems)
    return order
