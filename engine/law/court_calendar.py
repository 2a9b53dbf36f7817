"""Court business days: which dates a California court is open, in the court's time zone.

A deadline of "one business day" is counted in *court* days, so the calendar must know the
judicial holidays, which are not the state's or the nation's holiday lists:

- California judicial holidays are set by Code of Civil Procedure section 135 (every holiday
  of Government Code section 6700 with exceptions) and moved off weekends by California Rules
  of Court, rule 1.11: a holiday on a Saturday is observed the Friday before, one on a
  Sunday the Monday after.
- The `holidays` library has no judicial calendar (``holidays.US(subdiv="CA")`` is the
  *state* list: Susan B. Anthony Day, Diwali, no Lincoln's Birthday after 2009), so
  `CaliforniaJudicialHolidays` is a calendar of its own on the library's machinery
  (`ObservedHolidayBase`, its nth-weekday helpers and its Saturday->Friday, Sunday->Monday
  observed rule), listing Gov. Code 6700 as CCP 135 reads it, year by year: Columbus Day
  was a judicial holiday and Native American Day was not until 2021 (AB 855, Stats. 2021
  ch. 283, swapped them from 2022); Juneteenth from 2023 (AB 1655, Stats. 2022 ch. 753).
  Nothing is removed by name. A test checks 2020-2035 against a table written from the
  statutes.
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
from holidays.groups.international import InternationalHolidays
from holidays.observed_holiday_base import (
    SAT_TO_PREV_FRI,
    SUN_TO_NEXT_MON,
    ObservedHolidayBase,
)

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

#: First year of each judicial holiday that has not always been one (CCP 135 as amended).
NATIVE_AMERICAN_DAY_SINCE = 2022  # AB 855 (Stats. 2021, ch. 283)
COLUMBUS_DAY_UNTIL = 2021         # the same act made it a non-judicial holiday
JUNETEENTH_SINCE = 2023           # AB 1655 (Stats. 2022, ch. 753), Gov. Code 6700(a)(10)


class CaliforniaJudicialHolidays(ObservedHolidayBase, InternationalHolidays):
    """California judicial holidays: Gov. Code 6700 as CCP 135 reads it, with the weekend
    rule of CCP 135 / CRC 1.11 (Saturday -> the Friday before, Sunday -> the Monday after).

    Every Saturday is a judicial holiday too (CCP 135); `CourtCalendar` closes weekends.
    Days a Governor appoints are announced, not computed: configure them as closures.
    """

    country = "US"
    observed_label = "%s (observed)"  # the day a court closes for it says so
    start_year = 2000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        InternationalHolidays.__init__(self)
        kwargs.pop("subdiv", None)
        kwargs["observed"] = True
        kwargs.setdefault("observed_rule", SAT_TO_PREV_FRI + SUN_TO_NEXT_MON)
        super().__init__(*args, **kwargs)

    def _populate_public_holidays(self) -> None:
        year = self._year
        observe = self._add_observed
        observe(self._add_new_years_day("New Year's Day"))                # 6700(a)(2)
        # A January 1 on a Saturday is observed on December 31 of the year before.
        observe(self._next_year_new_years_day, name="New Year's Day")
        self._add_holiday_3rd_mon_of_jan("Dr. Martin Luther King, Jr. Day")  # (a)(3)
        observe(self._add_holiday_feb_12("Lincoln Day"))                   # (a)(4)
        self._add_holiday_3rd_mon_of_feb("Washington's Birthday")           # (a)(5)
        observe(self._add_holiday_mar_31("Cesar Chavez Day"))              # (a)(6)
        self._add_holiday_last_mon_of_may("Memorial Day")                   # (a)(7)
        if year >= JUNETEENTH_SINCE:
            observe(self._add_holiday_jun_19("Juneteenth"))                # (a)(10)
        observe(self._add_holiday_jul_4("Independence Day"))               # (a)(8)
        self._add_holiday_1st_mon_of_sep("Labor Day")                       # (a)(9)
        if year >= NATIVE_AMERICAN_DAY_SINCE:
            self._add_holiday_4th_fri_of_sep("Native American Day")        # (a)(12)
        if year <= COLUMBUS_DAY_UNTIL:
            self._add_holiday_2nd_mon_of_oct("Columbus Day")               # (a)(13)
        observe(self._add_holiday_nov_11("Veterans Day"))                  # (a)(14)
        thanksgiving = self._add_holiday_4th_thu_of_nov("Thanksgiving Day")  # (a)(17)
        self._add_holiday(  # CCP 135: "the day after Thanksgiving Day"
            "Day after Thanksgiving", thanksgiving + dt.timedelta(days=1))
        observe(self._add_holiday_dec_25("Christmas Day"))                # (a)(15)


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
