"""Court days and the registry deadline as the statutes count them (issue 16, items 12-13).

The holiday table is written from the statutes, not from the `holidays` library: Gov. Code
6700 lists the state holidays; Code Civ. Proc. 135 makes them judicial holidays except
Admission Day (and, until 2021, Native American Day; from 2022, Columbus Day: AB 855, Stats.
2021 ch. 283); June 19 is a holiday from 2023 (AB 1655, Stats. 2022 ch. 753); the day after
Thanksgiving is one by CCP 135 itself. A holiday on a Saturday is observed the Friday before,
one on a Sunday the Monday after (CCP 135, Cal. Rules of Court 1.11). The deadline is Fam.
Code 6380 ("within one business day") counted as Code Civ. Proc. 12 counts days: to the end
of the last day.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from pathlib import Path

import pytest

from engine.canonical import order_from_dict
from engine.law.court_calendar import CourtCalendar
from engine.law.deadlines import DEFAULT_POLICY, RiskState, due_at

REPO = Path(__file__).parents[2]
PACIFIC = dt.timezone(dt.timedelta(hours=-8))


def _nth(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th (1-based; -1 = last) given weekday of a month."""
    days = [dt.date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)
            if dt.date(year, month, d).weekday() == weekday]
    return days[n - 1] if n > 0 else days[-1]


MON, THU, FRI = 0, 3, 4

#: Gov. Code 6700(a) as CCP 135 reads it: (name, rule, first year, last year, observed).
#: rule: (month, day) for a fixed date, or (month, weekday, n) for the n-th weekday.
JUDICIAL_HOLIDAYS = [
    ("New Year's Day", (1, 1), None, None, True),                    # 6700(a)(2)
    ("Martin Luther King, Jr. Day", (1, MON, 3), None, None, False),  # (a)(3)
    ("Lincoln Day", (2, 12), None, None, True),                      # (a)(4)
    ("Washington's Birthday", (2, MON, 3), None, None, False),        # (a)(5)
    ("Cesar Chavez Day", (3, 31), None, None, True),                 # (a)(6)
    ("Memorial Day", (5, MON, -1), None, None, False),                # (a)(7)
    ("Juneteenth", (6, 19), 2023, None, True),                       # (a)(10), AB 1655
    ("Independence Day", (7, 4), None, None, True),                  # (a)(8)
    ("Labor Day", (9, MON, 1), None, None, False),                    # (a)(9)
    ("Native American Day", (9, FRI, 4), 2022, None, False),          # (a)(12), AB 855
    ("Columbus Day", (10, MON, 2), None, 2021, False),                # (a)(13), AB 855
    ("Veterans Day", (11, 11), None, None, True),                    # (a)(14)
    ("Thanksgiving Day", (11, THU, 4), None, None, False),            # (a)(17)
    ("Day after Thanksgiving", "thanksgiving+1", None, None, False),  # CCP 135
    ("Christmas Day", (12, 25), None, None, True),                   # (a)(15)
]


def _observed(day: dt.date) -> dt.date:
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


def statute_closures(year: int) -> set[dt.date]:
    """Weekdays of ``year`` the statutes close the courts on."""
    out: set[dt.date] = set()
    for source_year in (year - 1, year, year + 1):  # Jan 1 on a Saturday closes Dec 31
        for _, rule, since, until, observed in JUDICIAL_HOLIDAYS:
            if (since and source_year < since) or (until and source_year > until):
                continue
            if rule == "thanksgiving+1":
                day = _nth(source_year, 11, THU, 4) + dt.timedelta(days=1)
            elif isinstance(rule, tuple) and len(rule) == 2:
                day = dt.date(source_year, *rule)
            else:
                month, weekday, n = rule  # type: ignore[misc]
                day = _nth(source_year, month, weekday, n)
            day = _observed(day) if observed else day
            if day.year == year and day.weekday() < 5:
                out.add(day)
    return out


@pytest.mark.parametrize("year", range(2020, 2036))
def test_court_holidays_match_the_statutes(year: int) -> None:
    calendar_ = CourtCalendar()
    weekdays = [dt.date(year, 1, 1) + dt.timedelta(days=i)
                for i in range((dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days)]
    closed = {d for d in weekdays if d.weekday() < 5 and not calendar_.is_business_day(d)}
    assert closed == statute_closures(year)


@pytest.mark.parametrize(("day", "open_"), [
    (dt.date(2022, 6, 20), True),    # Juneteenth 2022 (Sunday) was not yet a judicial holiday
    (dt.date(2021, 6, 18), True),    # nor in 2021 (federal only)
    (dt.date(2023, 6, 19), False),   # first judicial Juneteenth
    (dt.date(2021, 10, 11), False),  # Columbus Day 2021: still a judicial holiday
    (dt.date(2021, 9, 24), True),    # Native American Day 2021: courts open
    (dt.date(2022, 9, 23), False),   # Native American Day 2022: closed
    (dt.date(2022, 10, 10), True),   # Columbus Day 2022: open
    (dt.date(2021, 12, 31), False),  # New Year's Day 2022 fell on a Saturday
    (dt.date(2026, 7, 3), False),    # Independence Day 2026 (Saturday) observed Friday
    (dt.date(2033, 2, 11), False),   # Lincoln Day 2033 (Saturday) observed Friday
    (dt.date(2029, 4, 2), True),     # Cesar Chavez Day 2029 is a Saturday: Friday Mar 30
    (dt.date(2029, 3, 30), False),
])
def test_the_years_the_statutes_changed(day: dt.date, open_: bool) -> None:
    assert CourtCalendar().is_business_day(day) is open_


def test_holidays_range_is_pinned() -> None:
    """The calendar builds on the library's machinery: the range it was checked with."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.strip().startswith('"holidays'))
    assert "<" in line and ">=" in line


# -- 12. the deadline follows the legal line -------------------------------------------

def _order(**changes: object):  # type: ignore[no-untyped-def]
    data = json.loads((REPO / "tests/fixtures/orders/dv_tro_issue.json").read_text("utf-8"))
    data.update(changes)
    return order_from_dict(data)


def test_an_order_issued_sunday_night_is_due_at_the_end_of_monday() -> None:
    """Issued Sunday 2026-12-06 02:00: due by the end of Monday (Fam. Code 6380, CCP 12)."""
    order = _order(issued_at="2026-12-06T02:00:00-08:00", effective_date="2026-12-06",
                   expiration_date="2026-12-27")
    due = due_at(order)
    assert due.astimezone(PACIFIC) == dt.datetime(2026, 12, 8, 0, 0, tzinfo=PACIFIC)
    monday_3am = dt.datetime(2026, 12, 7, 3, 0, tzinfo=PACIFIC)
    assert DEFAULT_POLICY.assess(order, monday_3am) is RiskState.AT_RISK  # early warning
    assert DEFAULT_POLICY.assess(order, monday_3am - dt.timedelta(hours=4)) is RiskState.OK
    assert DEFAULT_POLICY.assess(order, due - dt.timedelta(seconds=1)) is RiskState.AT_RISK
    assert DEFAULT_POLICY.assess(order, due) is RiskState.OVERDUE


def test_a_proof_of_service_counts_from_its_filing_when_that_is_later() -> None:
    """Served Saturday 2026-11-21, filed Monday 11-23 09:05: due by the end of Tuesday."""
    order = _order(version=2, action="serve", issued_at="2026-11-23T09:05:00-08:00",
                   service={"status": "served", "served_at": "2026-11-21T18:10:00-08:00"})
    assert due_at(order).astimezone(PACIFIC) == dt.datetime(2026, 11, 25, 0, 0,
                                                            tzinfo=PACIFIC)


def test_the_shipped_deadline_file_is_the_built_in_policy() -> None:
    from engine.law.deadlines import DeadlinePolicy

    assert DeadlinePolicy.load(REPO / "config" / "deadlines.yaml") == DEFAULT_POLICY
