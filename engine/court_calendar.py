"""Court business days: which dates a California court is open, in the court's time zone.

A deadline of "one business day" is counted in *court* days, so the calendar must know the
judicial holidays, which are not the state's or the nation's holiday lists:

- California judicial holidays are set by Code of Civil Procedure section 135 (every holiday
  of Government Code section 6700 with exceptions) and moved off weekends by California Rules
  of Court, rule 1.11: a holiday on a Saturday is observed the Friday before, one on a
  Sunday the Monday after.
- The `holidays` library has no judicial calendar. ``holidays.US(subdiv="CA")`` is the
  *state* list: it has Susan B. Anthony Day and (from 2026) Diwali, on which courts are open,
  drops Lincoln's Birthday after 2009 and Native American Day entirely, and moves Cesar
  Chavez Day only off Sundays. So `CaliforniaJudicialHolidays` builds explicitly on the
  *federal* list (``holidays.US()``, whose observed-day rule is the same Saturday->Friday,
  Sunday->Monday rule), removes Columbus Day (not a judicial holiday) and adds Lincoln's
  Birthday, Cesar Chavez Day, Native American Day and the Day after Thanksgiving with the
  same observed rule. Checked against the 2025 and 2026 judicial holiday lists California
  superior courts publish (see the tests); intended for 2023 onward.
- A court may be closed on other days (a fire, a flood, a local closure order):
  `CourtCalendar.extra_closures` adds them, per court, from configuration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from holidays import HolidayBase
from holidays.countries.united_states import UnitedStates

__all__ = [
    "DEFAULT_TIME_ZONE",
    "HOLIDAY_CALENDARS",
    "CaliforniaJudicialHolidays",
    "CourtCalendar",
]

#: California courts keep Pacific time.
DEFAULT_TIME_ZONE = "America/Los_Angeles"

#: Most business days a calendar will search forward before concluding it is misconfigured
#: (a closure list that shuts the court for a year is a config error, not a deadline).
_MAX_CLOSED_RUN = 366


def _observed(day: dt.date) -> dt.date:
    """The day a court observes a holiday falling on ``day`` (CRC rule 1.11)."""
    if day.weekday() == 5:  # Saturday -> the Friday before
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:  # Sunday -> the Monday after
        return day + dt.timedelta(days=1)
    return day


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


class CaliforniaJudicialHolidays(UnitedStates):
    """California judicial holidays (CCP 135, CRC 1.11), built on the federal list.

    Federal holidays that are also judicial holidays come from ``holidays.US`` with their
    observed days; Columbus Day is removed; the California-only judicial holidays are added.
    """

    #: Federal holidays California courts stay open on (CCP 135 excepts them).
    _NOT_JUDICIAL = ("Columbus Day",)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.pop("subdiv", None)  # the federal base list, never a state's
        kwargs["observed"] = True
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]  # unannotated in holidays

    def _populate(self, year: int) -> None:
        super()._populate(year)
        for day, name in list(self.items()):
            if day.year == year and any(name.startswith(n) for n in self._NOT_JUDICIAL):
                self.pop(day)
        thanksgiving = _nth_weekday(year, 11, 3, 4)
        additions = {
            dt.date(year, 2, 12): "Lincoln's Birthday",
            dt.date(year, 3, 31): "Cesar Chavez Day",
            _nth_weekday(year, 9, 4, 4): "Native American Day",  # fourth Friday in September
            thanksgiving + dt.timedelta(days=1): "Day after Thanksgiving",
        }
        for day, name in additions.items():
            observed = _observed(day)
            self[observed] = name if observed == day else f"{name} (observed)"


#: Holiday calendars a configuration may name.
HOLIDAY_CALENDARS: dict[str, type[HolidayBase]] = {
    "california_judicial": CaliforniaJudicialHolidays,
}


@dataclass(frozen=True, kw_only=True)
class CourtCalendar:
    """Which days one court is open, and the zone its wall clock keeps."""

    #: IANA time zone name of the court's wall clock.
    time_zone: str = DEFAULT_TIME_ZONE
    #: Name of a holiday calendar in `HOLIDAY_CALENDARS`.
    holidays: str = "california_judicial"
    #: Further dates the court is closed (emergency closures), with no weekend shifting.
    extra_closures: frozenset[dt.date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.holidays not in HOLIDAY_CALENDARS:
            known = ", ".join(sorted(HOLIDAY_CALENDARS))
            raise ValueError(f"unknown holiday calendar {self.holidays!r} (known: {known})")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.time_zone!r}") from exc
        object.__setattr__(self, "extra_closures", frozenset(self.extra_closures))

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @cached_property
    def _holidays(self) -> HolidayBase:
        # expand=True: years are populated on first lookup, so any year works.
        return HOLIDAY_CALENDARS[self.holidays]()

    def closed_reason(self, day: dt.date) -> str | None:
        """Why the court is closed on ``day`` (weekend, holiday name, closure), or None."""
        if day.weekday() >= 5:
            return "weekend"
        if day in self.extra_closures:
            return "court closure"
        name = self._holidays.get(day)
        return str(name) if name else None

    def is_business_day(self, day: dt.date) -> bool:
        return self.closed_reason(day) is None

    def next_business_day(self, day: dt.date) -> dt.date:
        """The first court business day strictly after ``day``."""
        candidate = day
        for _ in range(_MAX_CLOSED_RUN):
            candidate += dt.timedelta(days=1)
            if self.is_business_day(candidate):
                return candidate
        raise ValueError(f"court closed for more than {_MAX_CLOSED_RUN} days after {day}")

    def closed_days_between(self, start: dt.date, end: dt.date) -> list[tuple[dt.date, str]]:
        """Closed days strictly after ``start`` and strictly before ``end``, with reasons."""
        out = []
        day = start + dt.timedelta(days=1)
        while day < end:
            reason = self.closed_reason(day)
            if reason:
                out.append((day, reason))
            day += dt.timedelta(days=1)
        return out

    def holidays_in(self, year: int) -> list[tuple[dt.date, str]]:
        """The holiday calendar's weekday closures in ``year`` plus extra closures, sorted."""
        days: Iterable[dt.date] = {
            d for d in self._holidays.__class__(years=year) if d.year == year
        } | {d for d in self.extra_closures if d.year == year}
        return sorted((d, self.closed_reason(d) or "") for d in days if d.weekday() < 5)
