"""California's rules for how long each protective order lasts, what it prohibits by law, and
when it carries the federal firearms (Brady) indicator: one table, each rule with its source.

Everything the engine decides from the law, rather than from what the court sent, is read
from `RULES` (one `TypeRule` per order type) and the two federal sets below; docs/legal-rules.md
lists every entry with its source and the test that proves it. Where the statute gives a
range ("not more than five years"), the top of the range is the rule; where it sets a default
("three years if no date is stated"), the default is derived; where it sets neither, nothing
is invented (an order without an end date is refused, never sent as NONEXP).

Dates are the court's local dates: the issuance day is `Order.issued_at` on the court's clock
(`CourtCalendar.zone`), and court days come from the same calendar that counts deadlines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from engine.law.court_calendar import CourtCalendar
from engine.model import Action, ConditionCode, Order, OrderType, Relationship

__all__ = [
    "BRADY_PROTECTED",
    "BRADY_RESTRAINT",
    "DURATION_ACTIONS",
    "RULES",
    "TypeRule",
    "default_expiration",
    "latest_expiration",
    "rule_for",
    "start_date",
]


@dataclass(frozen=True, kw_only=True)
class TypeRule:
    """What the law says about one order type."""

    order_type: OrderType
    #: Longest life from the start date, in years or days; both None: no California limit.
    max_years: int | None = None
    max_days: int | None = None
    #: Emergency protective orders: also no later than this many court days after issuance
    #: (the earlier of the two limits applies: Fam. Code 6256).
    max_court_days: int | None = None
    duration_source: str
    #: The end the law gives an order that states none: ``default_years`` after the start,
    #: or (``default_is_maximum``) the latest end the law allows. None: the law sets none.
    default_years: int | None = None
    default_is_maximum: bool = False
    default_source: str | None = None
    #: The order type prohibits firearms by statute (NCIC condition 07 is derived).
    firearms_prohibited: bool = False
    firearms_source: str | None = None
    #: Issued after a hearing of which the restrained person had notice (18 U.S.C.
    #: 922(g)(8)(A)): True, False, or None when the order type alone does not tell.
    hearing_with_notice: bool | None = None


_TRO_HEARING = ("hearing within 21 days, 25 with good cause; the temporary order lasts until "
                "it")
_CCP_FIREARMS = "Code Civ. Proc. 527.9; Pen. Code 29825"
_FAM_FIREARMS = "Fam. Code 6389(a) (protective order as defined in Fam. Code 6218)"
_GV_FIREARMS = "Pen. Code 18120(a)"


def _tro(order_type: OrderType, source: str, firearms: str) -> TypeRule:
    return TypeRule(order_type=order_type, max_days=25,
                    duration_source=f"{source}: {_TRO_HEARING}",
                    firearms_prohibited=True, firearms_source=firearms,
                    hearing_with_notice=False)


def _after_hearing(order_type: OrderType, years: int, source: str, firearms: str, *,
                   default: str | None) -> TypeRule:
    return TypeRule(order_type=order_type, max_years=years,
                    duration_source=f"{source}: not more than {years} years",
                    default_years=3 if default else None,
                    default_source=f"{default}: 3 years if no date is stated" if default
                    else None,
                    firearms_prohibited=True, firearms_source=firearms,
                    hearing_with_notice=True)


_T = OrderType
#: One rule per order type; a test checks every `OrderType` has one.
RULES: dict[OrderType, TypeRule] = {r.order_type: r for r in (
    TypeRule(order_type=_T.EMERGENCY, max_days=7, max_court_days=5,
             duration_source="Fam. Code 6256: the earlier of the 5th court day and the 7th "
                             "calendar day after the day of issuance",
             default_is_maximum=True, default_source="Fam. Code 6256",
             firearms_prohibited=True, firearms_source=_FAM_FIREARMS,
             hearing_with_notice=False),
    TypeRule(order_type=_T.GV_EMERGENCY, max_days=21,
             duration_source="Pen. Code 18125(b): expires 21 days from the date issued",
             default_is_maximum=True, default_source="Pen. Code 18125(b)",
             firearms_prohibited=True, firearms_source="Pen. Code 18125(b); 18120(a)",
             hearing_with_notice=False),
    _tro(_T.DV_TRO, "Fam. Code 242", _FAM_FIREARMS),
    _tro(_T.CH_TRO, "Code Civ. Proc. 527.6(g)", _CCP_FIREARMS),
    _tro(_T.WV_TRO, "Code Civ. Proc. 527.8", _CCP_FIREARMS),
    _tro(_T.SV_TRO, "Code Civ. Proc. 527.85", _CCP_FIREARMS),
    _tro(_T.EA_TRO, "Welf. & Inst. Code 15657.03", "Welf. & Inst. Code 15657.03; "
                                                   "Pen. Code 29825"),
    _tro(_T.JUVENILE_TRO, "Welf. & Inst. Code 213.5", _FAM_FIREARMS),
    TypeRule(order_type=_T.GV_TRO, max_days=21,
             duration_source="Pen. Code 18155(c), 18165: ex parte order expires no later than "
                             "21 days after it is issued",
             firearms_prohibited=True, firearms_source=_GV_FIREARMS,
             hearing_with_notice=False),
    _after_hearing(_T.DV_AFTER_HEARING, 5, "Fam. Code 6345(a)", _FAM_FIREARMS,
                   default="Fam. Code 6345(c)"),
    _after_hearing(_T.CH_AFTER_HEARING, 5, "Code Civ. Proc. 527.6(j)(1)", _CCP_FIREARMS,
                   default="Code Civ. Proc. 527.6(j)(1)"),
    _after_hearing(_T.EA_AFTER_HEARING, 5, "Welf. & Inst. Code 15657.03(i)(1)",
                   "Welf. & Inst. Code 15657.03; Pen. Code 29825",
                   default="Welf. & Inst. Code 15657.03(i)(1)"),
    _after_hearing(_T.WV_AFTER_HEARING, 3, "Code Civ. Proc. 527.8(k)(1)", _CCP_FIREARMS,
                   default="Code Civ. Proc. 527.8(k)(1)"),
    _after_hearing(_T.SV_AFTER_HEARING, 3, "Code Civ. Proc. 527.85(k)(1)", _CCP_FIREARMS,
                   default="Code Civ. Proc. 527.85(k)(1)"),
    _after_hearing(_T.JUVENILE_AFTER_HEARING, 3, "Welf. & Inst. Code 213.5(d)(1)",
                   _FAM_FIREARMS, default="Welf. & Inst. Code 213.5(d)(1)"),
    # Pen. Code 18175(e): one to five years, as the court finds; no default is set.
    _after_hearing(_T.GV_AFTER_HEARING, 5, "Pen. Code 18175(e)", _GV_FIREARMS, default=None),
    # Pen. Code 136.2(i)(1): up to ten years; no default is set.
    TypeRule(order_type=_T.CRIMINAL, max_years=10,
             duration_source="Pen. Code 136.2(i)(1): up to 10 years",
             firearms_prohibited=True, firearms_source="Pen. Code 136.2(d)(1); 29825"),
    # Registered orders last as the issuing jurisdiction ordered (Fam. Code 6401-6404;
    # 18 U.S.C. 2265): no California limit, no default, no derived condition.
    TypeRule(order_type=_T.OUT_OF_STATE,
             duration_source="Fam. Code 6402: enforced as issued by the other state"),
    TypeRule(order_type=_T.TRIBAL,
             duration_source="18 U.S.C. 2265; Fam. Code 6402: enforced as issued"),
)}

#: Actions whose expiration date is bounded and defaulted here. An ``extend`` (renewal or
#: continuance) is counted from the previous end, which only the ledger knows; ``terminate``
#: and ``cancel`` end the record, so their date is not a term.
DURATION_ACTIONS = frozenset({Action.ISSUE, Action.MODIFY, Action.SERVE})

#: 18 U.S.C. 921(a)(32) "intimate partner" (spouse, former spouse, parent of a child of the
#: person, one who cohabits or has cohabited), and 922(g)(8)(B) "child of such intimate
#: partner or person".
BRADY_PROTECTED = frozenset({Relationship.SPOUSE, Relationship.FORMER_SPOUSE,
                             Relationship.PARENT_OF_CHILD, Relationship.COHABITANT,
                             Relationship.CHILD})
#: 922(g)(8)(B)-(C)(ii): the order restrains harassing, stalking or threatening and, by its
#: terms, the use of force: NCIC condition 01.
BRADY_RESTRAINT = ConditionCode.NO_ABUSE


def rule_for(order_type: OrderType) -> TypeRule:
    return RULES[order_type]


def start_date(order: Order, calendar: CourtCalendar) -> dt.date:
    """The day the term runs from: the local issuance day of a new order; for a later version
    (whose ``issued_at`` is the change's or the filing's time) the order's effective date."""
    if order.action is Action.ISSUE:
        return order.issued_at.astimezone(calendar.zone).date()
    return order.effective_date


def _plus_years(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` later; a February 29 start ends on February 28."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _nth_court_day(day: dt.date, n: int, calendar: CourtCalendar) -> dt.date:
    for _ in range(n):
        day = calendar.next_business_day(day)
    return day


def latest_expiration(order: Order, calendar: CourtCalendar) -> dt.date | None:
    """The last expiration date the law allows this version, or None (no limit here)."""
    if order.action not in DURATION_ACTIONS:
        return None
    rule = RULES[order.order_type]
    start = start_date(order, calendar)
    limits = []
    if rule.max_years is not None:
        limits.append(_plus_years(start, rule.max_years))
    if rule.max_days is not None:
        limits.append(start + dt.timedelta(days=rule.max_days))
    if rule.max_court_days is not None:
        limits.append(_nth_court_day(start, rule.max_court_days, calendar))
    return min(limits) if limits else None


def default_expiration(order: Order, calendar: CourtCalendar) -> dt.date | None:
    """The expiration the law gives this version when it states none, or None (no default)."""
    if order.action not in DURATION_ACTIONS:
        return None
    rule = RULES[order.order_type]
    if rule.default_is_maximum:
        return latest_expiration(order, calendar)
    if rule.default_years is not None:
        return _plus_years(start_date(order, calendar), rule.default_years)
    return None
