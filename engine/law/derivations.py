"""What the law adds to an order the court sent without it, said out loud.

A court's message may leave out what a statute already decides: the end of an order after
hearing that states none (three years, Fam. Code 6345(c) and kin), the end of an emergency
order (Fam. Code 6256, Pen. Code 18125), the firearms prohibition an order type carries by
law (NCIC condition 07), the federal firearms indicator of 18 U.S.C. 922(g)(8) (NCIC BRD).
`apply_law` returns the order as the law reads it and one note per value it derived, so the
intake records each derivation in the ledger's audit trail and `engine convert` can show it.
The rules themselves are data in `engine.law.rules`; nothing here knows a statute.

Derivation only adds: it never overrides a value the court gave (a court's expiration beyond
the statutory maximum, or a Brady indicator the law does not support, is refused by
`engine.law.checks`, not corrected).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.law.court_calendar import CourtCalendar
from engine.law.rules import (
    BRADY_PROTECTED,
    BRADY_RESTRAINT,
    DURATION_ACTIONS,
    default_expiration,
    rule_for,
)
from engine.model import Action, Condition, ConditionCode, Order

__all__ = ["LawApplied", "apply_law", "brady_applies"]

#: Versions that carry the order's terms (a terminate or cancel only ends the record).
_DERIVING_ACTIONS = DURATION_ACTIONS | {Action.EXTEND}


@dataclass(frozen=True, slots=True)
class LawApplied:
    """The order with the values the law sets, and one note per derived value (no personal
    data: field paths, codes and statute sections only)."""

    order: Order
    derivations: tuple[str, ...] = ()


def _calendar(order: Order, calendar: CourtCalendar | None) -> CourtCalendar:
    if calendar is not None:
        return calendar
    from engine.law.deadlines import DEFAULT_POLICY  # the court calendars deadlines use

    return DEFAULT_POLICY.calendar_for(order.court.ori)


def brady_applies(order: Order) -> bool:
    """18 U.S.C. 922(g)(8) from the order's own facts: after a hearing with notice, an
    intimate partner (or a child) protected, conduct and force restrained (condition 01)."""
    rule = rule_for(order.order_type)
    return (rule.hearing_with_notice is True
            and any(p.relationship in BRADY_PROTECTED for p in order.protected_persons)
            and any(c.code is BRADY_RESTRAINT for c in order.conditions))


def apply_law(order: Order, calendar: CourtCalendar | None = None) -> LawApplied:
    """The order with every value the law sets and the court left out, and what was derived."""
    if order.action not in _DERIVING_ACTIONS:
        return LawApplied(order)  # terminate / cancel: the record ends; nothing to add
    rule = rule_for(order.order_type)
    changes: dict[str, object] = {}
    notes: list[str] = []

    if order.expiration_date is None:
        derived = default_expiration(order, _calendar(order, calendar))
        if derived is not None:
            changes["expiration_date"] = derived
            notes.append(f"derived: expiration_date {derived.isoformat()} "
                         f"({rule.default_source}; the order states no end)")

    codes = {c.code for c in order.conditions}
    if rule.firearms_prohibited and ConditionCode.NO_FIREARMS not in codes:
        changes["conditions"] = (*order.conditions, Condition(code=ConditionCode.NO_FIREARMS))
        notes.append(f"derived: conditions 07 firearms prohibited ({rule.firearms_source}; "
                     "the order type prohibits firearms by law)")

    if not order.firearms.brady_indicator and brady_applies(order):
        changes["firearms"] = order.firearms.model_copy(update={"brady_indicator": True})
        notes.append("derived: firearms.brady_indicator true (18 U.S.C. 922(g)(8): after a "
                     "hearing with notice, intimate partner or child protected, force "
                     "restrained)")

    if not changes:
        return LawApplied(order)
    return LawApplied(order.model_copy(update=changes), tuple(notes))
