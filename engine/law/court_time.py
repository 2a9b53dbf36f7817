"""The court's calendar date of an instant: every date an NCIC record carries is the court's.

A court's system may send ``issued_at`` in any UTC offset (a Friday 17:30 Pacific order is
Saturday 01:30 UTC). The order's ISD, DCL and SVD, and the checks that compare a date with
the issue time, use the date on the court's own wall clock: the time zone configured for
the court in ``config/deadlines.yaml`` (``time_zone``, per-court overrides under
``courts``), the same clock the deadlines are counted on.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

from engine.law.deadlines import DeadlinePolicy

__all__ = ["court_date", "court_zone", "use_policy"]

_policy: DeadlinePolicy | None = None


def use_policy(policy: DeadlinePolicy) -> None:
    """Take the court time zones from ``policy`` (the engine's loaded deadline config)."""
    global _policy
    _policy = policy
    court_zone.cache_clear()


@functools.cache
def court_zone(court_ori: str) -> ZoneInfo:
    """The time zone of the court's wall clock."""
    policy = _policy if _policy is not None else DeadlinePolicy.default()
    return policy.calendar_for(court_ori).zone


def court_date(court_ori: str, instant: dt.datetime) -> dt.date:
    """The date ``instant`` falls on at the court (an aware datetime, any offset)."""
    return instant.astimezone(court_zone(court_ori)).date()
