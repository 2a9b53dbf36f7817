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
