"""Every cross-field rule of `engine.law.checks`: breaking it on an otherwise valid order gives
exactly one error at the rule's field path; keeping it gives none."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.canonical import decode_order
from engine.errors import OrderInvalid
from engine.law.checks import check_order, order_problems
from engine.law.court_time import court_date
from engine.model import (
    Action,
    Condition,
    ConditionCode,
    Order,
    OrderType,
    ProtectedPerson,
    Service,
    ServiceStatus,
)
from tests.conftest import FIXTURES
from tests.strategies import orders

DAY = dt.timedelta(days=1)
#: Each rule is tried on this many generated orders: enough variety, a fast suite.
rule = settings(max_examples=30)


@pytest.fixture
def base_order() -> Order:
    """A plain valid order (an emergency protective order, version 1, served)."""
    return decode_order((FIXTURES / "orders" / "epo_issue.json").read_bytes())


def _paths(order: Order) -> list[str]:
    return [p.path for p in order_problems(order)]


def _with(order: Order, **update) -> Order:
    """The order with fields replaced, unvalidated (the rules are what is under test)."""
    return order.model_copy(update=update)


class TestVersionAndAction:
    @rule
    @given(orders(action=Action.ISSUE),
           st.sampled_from([Action.MODIFY, Action.TERMINATE, Action.CANCEL]))
    def test_version_1_must_be_an_issue(self, order, action):
        """Version 1 with any action other than issue is refused at `action`."""
        assert _paths(_with(order, action=action)) == ["action"]

    @rule
    @given(orders(action=Action.ISSUE), st.integers(2, 1000))
    def test_only_version_1_can_be_an_issue(self, order, version):
        """An issue with a version after 1 is refused at `action`."""
        assert _paths(_with(order, version=version)) == ["action"]


class TestDates:
    @rule
    @given(orders(action=Action.ISSUE), st.integers(1, 400))
    def test_effective_date_before_issuance_is_refused(self, order, days):
        """An order cannot take effect before the day it was issued (a serve version's
        issued_at is the filing of its proof, so this is a rule of the order's issue)."""
        issued_on = court_date(order.court.ori, order.issued_at)  # the court's own date
        broken = _with(order, effective_date=issued_on - days * DAY)
        assert _paths(broken) == ["effective_date"]

    def test_effective_on_the_local_issue_day_is_accepted(self, base_order):
        """Effective on the issue day in the court's own time zone is fine, even late at night."""
        order = _with(base_order, issued_at=dt.datetime(
            2026, 11, 20, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=-8))),
            effective_date=dt.date(2026, 11, 20), expiration_date=None)
        order = _with(order, restrained_persons=tuple(
            p.model_copy(update={"birth_date": None}) for p in order.restrained_persons))
        assert "effective_date" not in _paths(order)

    @rule
    @given(orders(), st.integers(1, 400))
    def test_expiration_before_effective_is_refused(self, order, days):
        """An order cannot expire before it takes effect."""
        broken = _with(order, expiration_date=order.effective_date - days * DAY)
        assert _paths(broken) == ["expiration_date"]

    @rule
    @given(orders())
    def test_expiring_on_the_effective_day_is_accepted(self, order):
        """Expiring the same day it takes effect is allowed (a one-day order)."""
        assert _paths(_with(order, expiration_date=order.effective_date)) == []

    @rule
    @given(orders(action=Action.EXTEND))
    def test_extend_needs_the_new_expiration_date(self, order):
        """An extend without an expiration date is refused at `expiration_date`."""
        assert _paths(_with(order, expiration_date=None)) == ["expiration_date"]

    @rule
    @given(st.sampled_from([OrderType.OUT_OF_STATE, OrderType.TRIBAL,
                            OrderType.DV_AFTER_HEARING, OrderType.EMERGENCY])
           .flatmap(lambda t: orders(action=Action.MODIFY, order_type=t)))
    def test_other_actions_may_leave_expiration_open(self, order):
        """No expiration date is fine for actions other than extend where the law gives a
        default end or sets no limit (engine.law.rules; the default is derived)."""
        assert _paths(_with(order, expiration_date=None)) == []


class TestBirthDates:
    @rule
    @given(orders(), st.integers(1, 3000))
    def test_restrained_person_born_after_issuance_is_refused(self, order, days):
        """A restrained person's birth date after the issue day is refused at its own path."""
        born = order.issued_at.date() + days * DAY
        people = list(order.restrained_persons)
        people[-1] = people[-1].model_copy(update={"birth_date": born})
        broken = _with(order, restrained_persons=tuple(people))
        assert _paths(broken) == [f"restrained_persons.{len(people) - 1}.birth_date"]

    @rule
    @given(orders())
    def test_born_on_the_issue_day_is_accepted(self, order):
        """A newborn protected the day it is born (and, however unlikely, a restrained
        person born that day) is not "born after" the order: only later days are refused."""
        issued_on = court_date(order.court.ori, order.issued_at)  # the court's own date
        restrained = [p.model_copy(update={"birth_date": issued_on})
                      for p in order.restrained_persons]
        protected = [p.model_copy(update={"birth_date": issued_on, "is_minor": True})
                     for p in order.protected_persons]
        same_day = _with(order, restrained_persons=tuple(restrained),
                         protected_persons=tuple(protected))
        assert not [p for p in _paths(same_day) if p.endswith("birth_date")]

    @rule
    @given(orders(), st.integers(1, 3000), st.booleans())
    def test_protected_person_born_after_issuance_is_refused(self, order, days, minor):
        """A protected person's birth date after the issue day is refused at its own path."""
        born = order.issued_at.date() + days * DAY
        people = list(order.protected_persons)
        people[0] = people[0].model_copy(update={"birth_date": born, "is_minor": minor})
        broken = _with(order, protected_persons=tuple(people))
        assert _paths(broken) == ["protected_persons.0.birth_date"]

    @rule
    @given(orders(), st.integers(18, 100))
    def test_adult_marked_minor_is_refused(self, order, age):
        """A protected person 18 or older on the issue day cannot be marked a minor."""
        issued = court_date(order.court.ori, order.issued_at)  # the court's own date
        born = issued.replace(year=issued.year - age, day=min(issued.day, 28))
        people = [*order.protected_persons,
                  ProtectedPerson(name=order.protected_persons[0].name, birth_date=born,
                                  is_minor=True)]
        broken = _with(order, protected_persons=tuple(people))
        assert _paths(broken) == [f"protected_persons.{len(people) - 1}.birth_date"]

    @pytest.mark.parametrize(
        ("born", "issued", "is_adult"),
        [
            (dt.date(2008, 11, 20), dt.date(2026, 11, 20), True),    # 18th birthday
            (dt.date(2008, 11, 21), dt.date(2026, 11, 20), False),   # the day before it
            (dt.date(2008, 2, 29), dt.date(2026, 2, 28), False),     # leap-day birthday
            (dt.date(2008, 2, 29), dt.date(2026, 3, 1), True),
        ],
    )
    def test_age_counts_whole_years_on_the_issue_day(self, base_order, born, issued,
                                                      is_adult):
        """A minor turns adult on the 18th birthday itself (leap-day births on March 1)."""
        order = _with(
            base_order,
            issued_at=dt.datetime.combine(issued, dt.time(9), dt.UTC),
            effective_date=issued, expiration_date=None,
            service=Service(),
            restrained_persons=tuple(p.model_copy(update={"birth_date": None})
                                     for p in base_order.restrained_persons),
            protected_persons=(ProtectedPerson(name=base_order.protected_persons[0].name,
                                               birth_date=born, is_minor=True),),
        )
        expected = ["protected_persons.0.birth_date"] if is_adult else []
        assert _paths(order) == expected


class TestConditions:
    @rule
    @given(orders())
    def test_a_condition_listed_twice_is_refused(self, order):
        """The same condition code twice is refused at the second one's path."""
        first = Condition(code=ConditionCode.NO_CONTACT)
        conditions = tuple(c for c in order.conditions if c.code != first.code)
        broken = _with(order, conditions=(first, *conditions, first))
        assert _paths(broken) == [f"conditions.{len(conditions) + 1}.code"]

    @rule
    @given(orders())
    def test_condition_08_needs_miscellaneous(self, order):
        """Condition 08 (see miscellaneous) without miscellaneous terms is refused there."""
        conditions = tuple(c for c in order.conditions
                           if c.code != ConditionCode.SEE_MISCELLANEOUS)
        broken = _with(order, miscellaneous=None,
                       conditions=(*conditions, Condition(code=ConditionCode.SEE_MISCELLANEOUS)))
        assert _paths(broken) == ["miscellaneous"]

    @rule
    @given(orders())
    def test_miscellaneous_without_condition_08_is_accepted(self, order):
        """Miscellaneous terms alone are allowed; only 08 requires them."""
        conditions = tuple(c for c in order.conditions
                           if c.code != ConditionCode.SEE_MISCELLANEOUS)
        assert _paths(_with(order, conditions=conditions, miscellaneous="No contact.")) == []


class TestService:
    @rule
    @given(orders())
    def test_served_needs_the_service_time(self, order):
        """Status served without served_at is refused at `service.served_at`."""
        broken = _with(order, service=Service(status=ServiceStatus.SERVED))
        assert _paths(broken) == ["service.served_at"]

    @rule
    @given(orders().filter(lambda o: o.action is not Action.SERVE),
           st.timedeltas(dt.timedelta(0), dt.timedelta(days=30)))
    def test_not_served_cannot_have_a_service_time(self, order, after):
        """Status not_served with a served_at is refused at `service.served_at`."""
        service = Service(status=ServiceStatus.NOT_SERVED, served_at=order.issued_at + after)
        broken = _with(order, service=service)
        assert _paths(broken) == ["service.served_at"]

    @rule
    @given(orders(action=Action.ISSUE),
           st.timedeltas(dt.timedelta(seconds=1), dt.timedelta(days=30)))
    def test_service_before_issuance_is_refused(self, order, before):
        """Serving an order before it was issued is impossible."""
        service = Service(status=ServiceStatus.SERVED, served_at=order.issued_at - before)
        assert _paths(_with(order, service=service)) == ["service.served_at"]

    @rule
    @given(orders().filter(lambda o: o.action is not Action.SERVE))
    def test_service_at_the_moment_of_issuance_is_accepted(self, order):
        """Service in court, at the very time of issuance, is allowed."""
        service = Service(status=ServiceStatus.SERVED, served_at=order.issued_at)
        assert _paths(_with(order, service=service)) == []

    @rule
    @given(orders(action=Action.SERVE))
    def test_serve_action_needs_status_served(self, order):
        """A serve action whose status is not served is refused at `service.status`."""
        assert _paths(_with(order, service=Service())) == ["service.status"]


LATER_VERSIONS = ["ch_oah_modify", "dv_tro_extend_v3", "dv_tro_terminate_v4",
                  "cr_cpo_cancel_v2"]


def _fixture(stem: str) -> Order:
    return decode_order((FIXTURES / "orders" / f"{stem}.json").read_bytes())


class TestClock:
    """docs/intake-format.md: `issued_at` (and docs/legal-rules.md: `served_at`) more than
    `max_clock_skew_seconds` (default 300) ahead of the engine's clock is refused."""

    @pytest.fixture
    def unserved(self, base_order: Order) -> Order:
        return _with(base_order, service=Service())

    @pytest.mark.parametrize("seconds", [0, 1, 300, 3600])
    def test_issued_up_to_the_skew_ahead_is_accepted_and_later_refused(self, unserved,
                                                                        seconds):
        """Issued exactly the allowed skew ahead of the clock is accepted; a microsecond
        more is refused at `issued_at`."""
        skew = dt.timedelta(seconds=seconds)
        now = unserved.issued_at - skew
        assert order_problems(unserved, now=now, max_skew=skew) == []
        late = order_problems(unserved, now=now - dt.timedelta(microseconds=1), max_skew=skew)
        assert [p.path for p in late] == ["issued_at"]

    def test_an_order_issued_before_the_clock_is_accepted(self, unserved):
        """An order issued an hour ago (the usual case) is not in the future."""
        now = unserved.issued_at + dt.timedelta(hours=1)
        assert order_problems(unserved, now=now, max_skew=dt.timedelta(minutes=5)) == []

    def test_the_default_skew_is_five_minutes(self, unserved):
        """Without `max_skew`, five minutes ahead is accepted and a second more refused,
        and the refusal names the five minutes."""
        five = dt.timedelta(minutes=5)
        assert order_problems(unserved, now=unserved.issued_at - five) == []
        (problem,) = order_problems(unserved,
                                    now=unserved.issued_at - five - dt.timedelta(seconds=1))
        assert problem.path == "issued_at"
        assert "more than 5 minutes ahead" in problem.reason

    @pytest.mark.parametrize(("seconds", "words"), [(60, "1 minutes"), (3600, "60 minutes"),
                                                    (119, "1 minutes")])
    def test_the_refusal_names_the_skew_in_whole_minutes(self, unserved, seconds, words):
        """The reason says how far ahead is allowed, in whole minutes (an operator reads it)."""
        skew = dt.timedelta(seconds=seconds)
        now = unserved.issued_at - skew - dt.timedelta(seconds=1)
        assert [p.reason for p in order_problems(unserved, now=now, max_skew=skew)] == [
            f"is in the future (more than {words} ahead of the engine's clock)"]

    @pytest.mark.parametrize("seconds", [0, 1, 300, 3600])
    def test_served_up_to_the_skew_ahead_is_accepted_and_later_refused(self, base_order,
                                                                        seconds):
        """A service time exactly the skew ahead of the clock is accepted; later is refused
        at `service.served_at` (the order itself was issued before the clock)."""
        served_at = base_order.service.served_at
        assert served_at is not None and served_at > base_order.issued_at
        skew = dt.timedelta(seconds=seconds)
        now = served_at - skew
        assert order_problems(base_order, now=now, max_skew=skew) == []
        late = order_problems(base_order, now=now - dt.timedelta(microseconds=1),
                              max_skew=skew)
        assert [(p.path, p.reason) for p in late] == [(
            "service.served_at", f"is in the future (more than {seconds // 60} minutes "
                                 "ahead of the engine's clock)")]

    def test_without_a_clock_nothing_is_in_the_future(self, unserved):
        """`engine check` of a court's files passes no clock: an order issued years ahead is
        refused as future only when the engine's time is given."""
        later = _with(unserved, issued_at=unserved.issued_at + 1000 * DAY,
                      effective_date=unserved.effective_date + 1000 * DAY,
                      expiration_date=unserved.effective_date + 1003 * DAY)
        assert "issued_at" not in _paths(later)
        assert "issued_at" in [p.path for p in order_problems(later, now=unserved.issued_at)]


class TestLaterVersions:
    @pytest.mark.parametrize("stem", LATER_VERSIONS)
    def test_a_later_version_taking_effect_before_it_was_issued_is_refused(self, stem):
        """The effective date of a modify, extend, terminate or cancel cannot precede its own
        issuance either (only a serve's issued_at is a filing time)."""
        order = _fixture(stem)
        issued_on = court_date(order.court.ori, order.issued_at)
        assert _paths(order) == []
        assert _paths(_with(order, effective_date=issued_on - DAY)) == ["effective_date"]

    @pytest.mark.parametrize("stem", LATER_VERSIONS)
    def test_a_later_version_keeps_the_service_of_the_order_as_issued(self, stem):
        """A modify, extend, terminate or cancel is issued after the order it changes was
        served: a service time before its own issued_at is the original service, accepted."""
        order = _fixture(stem)
        service = Service(status=ServiceStatus.SERVED, served_at=order.issued_at - DAY)
        assert _paths(_with(order, service=service)) == []


class TestKeywordOnly:
    def test_the_calendar_clock_and_skew_are_named_arguments(self, base_order):
        """`order_problems(order, calendar, now)` would silently swap meanings if the order
        of arguments changed; they can only be given by name."""
        with pytest.raises(TypeError):
            order_problems(base_order, None)  # type: ignore[misc]
        with pytest.raises(TypeError):
            check_order(base_order, None)  # type: ignore[misc]


class TestCheckOrder:
    @settings(max_examples=25)
    @given(orders())
    def test_valid_order_is_returned_unchanged(self, order):
        """`check_order` returns the very order it was given when it is sound."""
        assert check_order(order) is order

    @settings(max_examples=25)
    @given(orders(action=Action.ISSUE))
    def test_every_problem_is_reported_at_once(self, order):
        """Several broken rules give one OrderInvalid listing each path, in field order."""
        broken = _with(order, action=Action.CANCEL,
                       expiration_date=order.effective_date - DAY,
                       service=Service(status=ServiceStatus.SERVED))
        with pytest.raises(OrderInvalid) as info:
            check_order(broken)
        assert [e.path for e in info.value.errors] == [
            "action", "expiration_date", "service.served_at"]

    def test_errors_carry_no_personal_data(self, base_order):
        """Error text names fields and rules, never a name or a birth date."""
        person = base_order.protected_persons[0]
        bad = person.model_copy(update={"birth_date": dt.date(2099, 1, 2), "is_minor": False})
        broken = _with(base_order, protected_persons=(bad,))
        with pytest.raises(OrderInvalid) as info:
            check_order(broken)
        message = str(info.value)
        assert "2099" not in message
        assert person.name.surname not in message
