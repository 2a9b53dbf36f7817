"""California judicial holiday calendar: the days a court is closed."""

from __future__ import annotations

import datetime as dt

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
