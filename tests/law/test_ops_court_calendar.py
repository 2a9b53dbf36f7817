"""California judicial holiday calendar: the days a court is closed."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import holidays
import pytest

from engine.law.court_calendar import CourtCalendar

D = dt.date

#: The 2025 and 2026 judicial holidays as California superior courts publish them
#: (e.g. San Bernardino and Calaveras superior court holiday pages).
PUBLISHED = {
    2025: [D(2025, 1, 1), D(2025, 1, 20), D(2025, 2, 12), D(2025, 2, 17), D(2025, 3, 31),
           D(2025, 5, 26), D(2025, 6, 19), D(2025, 7, 4), D(2025, 9, 1), D(2025, 9, 26),
           D(2025, 11, 11), D(2025, 11, 27), D(2025, 11, 28), D(2025, 12, 25)],
    2026: [D(2026, 1, 1), D(2026, 1, 19), D(2026, 2, 12), D(2026, 2, 16), D(2026, 3, 31),
           D(2026, 5, 25), D(2026, 6, 19), D(2026, 7, 3), D(2026, 9, 7), D(2026, 9, 25),
           D(2026, 11, 11), D(2026, 11, 26), D(2026, 11, 27), D(2026, 12, 25)],
}


class TestCaliforniaJudicialHolidays:
    @pytest.mark.parametrize("year", sorted(PUBLISHED))
    def test_matches_the_published_court_list(self, year: int) -> None:
        """The weekday closures of a year are exactly the list the courts publish."""
        assert [d for d, _ in CourtCalendar().holidays_in(year)] == PUBLISHED[year]

    def test_columbus_day_is_a_court_day(self) -> None:
        """Columbus Day is a federal holiday but not a judicial one: courts are open."""
        assert CourtCalendar().is_business_day(D(2026, 10, 12))

    def test_state_only_holidays_are_court_days(self) -> None:
        """Days on the state list but not the judicial list (Diwali, Susan B. Anthony Day)."""
        state = holidays.US(subdiv="CA", years=[2027, 2028])
        diwali = next(d for d, n in state.items() if n == "Diwali" and d.weekday() < 5)
        assert CourtCalendar().is_business_day(diwali)
        assert CourtCalendar().is_business_day(D(2028, 2, 15))  # Susan B. Anthony Day, a Tue

    @pytest.mark.parametrize(("closed", "why"), [
        (D(2027, 12, 24), "Christmas on a Saturday is observed the Friday before"),
        (D(2027, 12, 31), "New Year's Day 2028 on a Saturday is observed on Friday Dec 31"),
        (D(2028, 2, 11), "Lincoln's Birthday on a Saturday is observed the Friday before"),
        (D(2029, 3, 30), "Cesar Chavez Day on a Saturday is observed the Friday before"),
        (D(2027, 7, 5), "Independence Day on a Sunday is observed the Monday after"),
        (D(2027, 9, 24), "Native American Day is the fourth Friday in September"),
        (D(2027, 11, 26), "the Day after Thanksgiving"),
    ])
    def test_weekend_holidays_move_as_courts_observe_them(self, closed: dt.date,
                                                          why: str) -> None:
        """Saturday holidays close the Friday before, Sunday holidays the Monday after."""
        assert not CourtCalendar().is_business_day(closed), why

    def test_a_california_holiday_on_a_sunday_is_observed_the_monday_after(self) -> None:
        """CRC 1.11: Cesar Chavez Day 2024 fell on Sunday March 31, so courts closed Monday
        April 1 (not the Friday before); Lincoln's Birthday 2023 (a Sunday) on Monday
        February 13. The observed day is named as observed, the day itself is not."""
        calendar = CourtCalendar()
        assert calendar.closed_reason(D(2024, 4, 1)) == "Cesar Chavez Day (observed)"
        assert calendar.is_business_day(D(2024, 3, 29))
        assert calendar.closed_reason(D(2023, 2, 13)) == "Lincoln Day (observed)"
        assert calendar.closed_reason(D(2026, 3, 31)) == "Cesar Chavez Day"
        assert calendar.closed_reason(D(2028, 2, 11)) == "Lincoln Day (observed)"

    def test_day_after_thanksgiving_when_november_starts_on_a_friday(self) -> None:
        """Thanksgiving is the fourth Thursday (Nov 28 in 2024, a month that began on a
        Friday): the day after is Nov 29, and Friday Nov 22 is a court day."""
        calendar = CourtCalendar()
        assert calendar.closed_reason(D(2024, 11, 29)) == "Day after Thanksgiving"
        assert calendar.is_business_day(D(2024, 11, 22))

    def test_closed_days_between_excludes_both_ends(self) -> None:
        """The closed days strictly between two dates, each with its reason (what the
        deadline explanation lists)."""
        calendar = CourtCalendar()
        between = calendar.closed_days_between(D(2026, 11, 25), D(2026, 11, 30))
        assert [d for d, _ in between] == [D(2026, 11, 26), D(2026, 11, 27), D(2026, 11, 28),
                                           D(2026, 11, 29)]
        assert [r for _, r in between][1:] == ["Day after Thanksgiving", "weekend", "weekend"]
        assert calendar.closed_days_between(D(2026, 11, 26), D(2026, 11, 28)) == [
            (D(2026, 11, 27), "Day after Thanksgiving")]
        assert calendar.closed_days_between(D(2026, 11, 20), D(2026, 11, 21)) == []
        assert calendar.closed_days_between(D(2026, 11, 28), D(2026, 11, 28)) == []
        assert calendar.closed_days_between(D(2026, 11, 30), D(2026, 11, 25)) == []

    def test_a_year_lists_only_its_own_days(self) -> None:
        """New Year's Day 2028 (a Saturday) is observed Friday Dec 31, 2027: that day is in
        2027's list, not in 2028's."""
        calendar = CourtCalendar()
        assert D(2027, 12, 31) in [d for d, _ in calendar.holidays_in(2027)]
        assert all(d.year == 2028 for d, _ in calendar.holidays_in(2028))

    @pytest.mark.parametrize(("closed", "open_", "why"), [
        (D(2028, 9, 22), D(2028, 9, 29), "September 2028 begins on the Friday"),
        (D(2029, 9, 28), D(2029, 9, 21), "September 2029 begins on a Saturday"),
        (D(2029, 11, 23), D(2029, 11, 30), "November 2029 begins on the Thursday"),
    ])
    def test_nth_weekday_holidays_in_months_beginning_on_or_after_that_weekday(
            self, closed: dt.date, open_: dt.date, why: str) -> None:
        """Native American Day is the fourth Friday of September, the Day after
        Thanksgiving follows the fourth Thursday of November, however the month begins."""
        calendar = CourtCalendar()
        assert not calendar.is_business_day(closed), why
        assert calendar.is_business_day(open_), why

    def test_a_years_list_has_weekdays_with_reasons_and_its_own_closures(self) -> None:
        """holidays_in lists only weekdays, each with its reason, and the extra closures of
        that year only."""
        calendar = CourtCalendar(extra_closures=frozenset({D(2026, 3, 3), D(2027, 3, 3),
                                                           D(2028, 3, 3)}))
        listed = calendar.holidays_in(2027)
        assert all(d.weekday() < 5 and reason for d, reason in listed)
        assert (D(2027, 3, 3), "court closure") in listed
        assert {D(2026, 3, 3), D(2028, 3, 3)}.isdisjoint(d for d, _ in listed)
        assert D(2027, 7, 4) not in [d for d, _ in listed]  # a Sunday: observed July 5

    def test_next_business_day_of_an_ordinary_monday_is_tuesday(self) -> None:
        """The next court day is the very next day when that one is open."""
        assert CourtCalendar().next_business_day(D(2026, 11, 23)) == D(2026, 11, 24)

    def test_a_court_closed_for_more_than_a_year_is_a_configuration_error(self) -> None:
        """A closure list that shuts the court for over 366 days is refused, not searched
        for ever."""
        start = D(2030, 1, 1)
        closed = frozenset(start + dt.timedelta(days=n) for n in range(400))
        with pytest.raises(ValueError, match="more than 366 days"):
            CourtCalendar(extra_closures=closed).next_business_day(start)

    def test_a_calendar_is_immutable_and_keeps_pacific_time(self) -> None:
        """A court's calendar cannot be changed in place; its zone is Pacific by default."""
        calendar = CourtCalendar()
        assert calendar.zone == ZoneInfo("America/Los_Angeles")
        with pytest.raises(dataclasses.FrozenInstanceError):
            calendar.time_zone = "UTC"  # type: ignore[misc]
        with pytest.raises(TypeError):
            CourtCalendar("UTC")  # type: ignore[misc]

    def test_extra_closures_close_the_court(self) -> None:
        """A configured closure (a fire) closes that court on an otherwise ordinary day."""
        calendar = CourtCalendar(extra_closures=frozenset({D(2026, 11, 23)}))
        assert calendar.closed_reason(D(2026, 11, 23)) == "court closure"
        assert calendar.next_business_day(D(2026, 11, 20)) == D(2026, 11, 24)

    def test_next_business_day_skips_weekend_and_holidays(self) -> None:
        """After Thanksgiving the next court day is the Monday after the weekend."""
        assert CourtCalendar().next_business_day(D(2026, 11, 26)) == D(2026, 11, 30)

    def test_unknown_time_zone_and_calendar_are_refused(self) -> None:
        """A misspelt zone or calendar name fails when the calendar is built."""
        with pytest.raises(ValueError, match="time zone"):
            CourtCalendar(time_zone="America/Los_Angles")
        with pytest.raises(ValueError, match="holiday calendar"):
            CourtCalendar(holidays="texas_judicial")


def test_the_calendar_knows_the_judicial_holidays_from_2000() -> None:
    """The holiday class declares its first year (2000): the oldest order a court may send
    again is dated by it. Martin Luther King Jr. Day 2000 (Monday 17 January) is closed,
    the Tuesday after open."""
    calendar = CourtCalendar()
    assert not calendar.is_business_day(dt.date(2000, 1, 17))
    assert calendar.is_business_day(dt.date(2000, 1, 18))
