"""Due times per order version: business days, emergency hours, service, configuration."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.canonical import decode_order
from engine.errors import OrderInvalid
from engine.law.court_calendar import CourtCalendar
from engine.law.deadlines import (
    DEFAULT_CONFIG,
    DeadlineConfigError,
    DeadlinePolicy,
    DeadlineRule,
    DueExplanation,
    RiskState,
    due_at,
    explain_due,
    risk_state,
)
from engine.model import Action, Order, OrderType, Service, ServiceStatus

FIXTURES = Path(__file__).parents[1] / "fixtures" / "orders"
CONFIG = Path(__file__).parents[2] / "config" / "deadlines.yaml"
LA = CourtCalendar().zone
UTC = dt.UTC


def _base() -> Order:
    return decode_order((FIXTURES / "dv_tro_issue.json").read_bytes())


def order_at(local: str, *, order_type: OrderType = OrderType.DV_TRO,
             action: Action = Action.ISSUE, served_local: str | None = None) -> Order:
    """The DV-TRO fixture, issued at a Los Angeles wall-clock time ``YYYY-MM-DD HH:MM``."""
    issued = dt.datetime.fromisoformat(local).replace(tzinfo=LA)
    service = Service()
    if served_local:
        service = Service(status=ServiceStatus.SERVED,
                          served_at=dt.datetime.fromisoformat(served_local).replace(tzinfo=LA))
    return _base().model_copy(update={"issued_at": issued, "order_type": order_type,
                                      "action": action, "service": service})


#: The strict reading (``due: same_time``, service counted from served_at, 4 h warning):
#: no longer shipped (the legal line is end_of_day, tests/law/test_legal_deadlines.py), but
#: still a configuration a court may choose, so its arithmetic is tested here.
STRICT_CONFIG: dict[str, Any] = {**DEFAULT_CONFIG, "rules": [
    rule if "hours" in rule["within"] else
    {**rule, "due": "same_time", "at_risk": {"hours": 4},
     "from": "served_at" if rule["name"] == "proof_of_service" else "issued_at"}
    for rule in DEFAULT_CONFIG["rules"]]}
STRICT = DeadlinePolicy.from_dict(STRICT_CONFIG)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


class TestBusinessDayDeadlines:
    @pytest.mark.parametrize(("issued_local", "due_utc", "why"), [
        ("2026-09-04 15:30", "2026-09-08 22:30",
         "Friday afternoon before Labor Day: Tuesday 15:30 PDT"),
        ("2026-11-26 11:00", "2026-11-30 19:00",
         "Thanksgiving: the Friday after is a holiday too, so Monday 11:00 PST"),
        ("2026-11-27 09:00", "2026-11-30 17:00",
         "the Friday after Thanksgiving: Monday 09:00 PST"),
        ("2026-11-21 10:00", "2026-11-23 18:00",
         "a Saturday: the next court day is Monday, 10:00 PST"),
        ("2026-12-24 15:00", "2026-12-28 23:00",
         "Christmas Eve (Thursday): Christmas Friday, weekend, so Monday 15:00 PST"),
        ("2027-03-12 09:30", "2027-03-15 16:30",
         "Friday before DST starts (Mar 14): Monday 09:30 PDT, UTC-7, only 71 hours later"),
        ("2026-10-30 09:30", "2026-11-02 17:30",
         "Friday before DST ends (Nov 1): Monday 09:30 PST, UTC-8, 73 hours later"),
        ("2026-11-24 23:59", "2026-11-26 07:59",
         "23:59 on a Tuesday: Wednesday 23:59 PST, which is Thursday 07:59 UTC"),
        ("2026-11-25 23:59", "2026-12-01 07:59",
         "23:59 the night before Thanksgiving: Monday 23:59 PST"),
        ("2026-02-11 14:00", "2026-02-13 22:00",
         "the day before Lincoln's Birthday (Thursday): Friday 14:00 PST"),
    ])
    def test_entry_is_due_same_local_time_next_court_day(self, issued_local: str,
                                                         due_utc: str, why: str) -> None:
        """An entry is due at the issuance wall-clock time on the next court business day."""
        assert due_at(order_at(issued_local), STRICT) == utc(due_utc), why

    def test_local_date_decides_not_the_utc_date(self) -> None:
        """Issued Monday 22:30 PST (already Tuesday in UTC) is due Tuesday 22:30 PST."""
        order = _base().model_copy(update={"issued_at": utc("2026-11-24 06:30")})
        assert due_at(order, STRICT) == utc("2026-11-25 06:30")

    @pytest.mark.parametrize("action", [Action.MODIFY, Action.EXTEND, Action.TERMINATE,
                                        Action.CANCEL])
    def test_changes_count_from_this_versions_issuance(self, action: Action) -> None:
        """Modify/extend/terminate/cancel are due one court day after that version's issuance."""
        due = due_at(order_at("2026-09-04 15:30", action=action), STRICT)
        assert due == utc("2026-09-08 22:30")

    def test_due_time_is_aware_utc(self) -> None:
        """`due_at` returns an aware datetime in UTC."""
        assert due_at(order_at("2026-11-23 10:00"), STRICT).utcoffset() == dt.timedelta(0)

    def test_explanation_lists_the_skipped_days(self) -> None:
        """The explanation names each closed day between issuance and the due day."""
        explanation = explain_due(order_at("2026-11-26 11:00"))
        assert [d for d, _ in explanation.skipped] == [dt.date(2026, 11, 27),
                                                       dt.date(2026, 11, 28),
                                                       dt.date(2026, 11, 29)]
        assert explanation.skipped[0][1] == "Day after Thanksgiving"
        assert explanation.rule.name == "entry_and_changes"


class TestEmergencyDeadlines:
    @pytest.mark.parametrize("order_type", [OrderType.EMERGENCY, OrderType.GV_EMERGENCY])
    def test_emergency_order_due_one_hour_after_issuance(self, order_type: OrderType) -> None:
        """An EPO issued at 02:15 on a Sunday is due at 03:15 the same night."""
        order = order_at("2026-11-22 02:15", order_type=order_type)
        assert due_at(order) == utc("2026-11-22 11:15")

    def test_emergency_clock_ignores_holidays(self) -> None:
        """An EPO issued on Thanksgiving at 02:15 is due at 03:15, holiday or not."""
        order = order_at("2026-11-26 02:15", order_type=OrderType.EMERGENCY)
        assert due_at(order) == utc("2026-11-26 11:15")

    def test_emergency_hour_across_dst_end_is_elapsed_time(self) -> None:
        """An EPO at 01:30 PDT on the night DST ends is due 60 real minutes later (01:30 PST)."""
        issued = dt.datetime(2026, 11, 1, 1, 30, tzinfo=LA, fold=0)  # first 01:30, PDT
        order = _base().model_copy(update={"issued_at": issued,
                                           "order_type": OrderType.EMERGENCY})
        assert due_at(order) == utc("2026-11-01 09:30")

    def test_the_fixture_epo(self) -> None:
        """The San Diego EPO fixture (issued 02:15 PST) is due 03:15 PST."""
        order = decode_order((FIXTURES / "epo_issue.json").read_bytes())
        assert due_at(order) == utc("2026-11-22 11:15")

    def test_emergency_window_is_configurable(self) -> None:
        """A policy allowing 30 minutes makes an EPO due 30 minutes after issuance."""
        config = {**DEFAULT_CONFIG, "rules": [
            {**DEFAULT_CONFIG["rules"][0], "within": {"minutes": 30}, "at_risk": "10m"},
            *DEFAULT_CONFIG["rules"][1:]]}
        policy = DeadlinePolicy.from_dict(config)
        order = order_at("2026-11-22 02:15", order_type=OrderType.EMERGENCY)
        assert due_at(order, policy) == utc("2026-11-22 10:45")


class TestProofOfService:
    def test_service_due_one_court_day_after_service(self) -> None:
        """Proof of service served Saturday 18:00 is due Monday 18:00 PST."""
        order = order_at("2026-11-20 09:00", action=Action.SERVE,
                         served_local="2026-11-21 18:00")
        assert due_at(order, STRICT) == utc("2026-11-24 02:00")

    def test_emergency_order_service_uses_business_days(self) -> None:
        """Proof of service of an EPO is not an emergency: one court day after service."""
        order = order_at("2026-11-20 09:00", order_type=OrderType.EMERGENCY,
                         action=Action.SERVE, served_local="2026-11-20 10:00")
        assert due_at(order, STRICT) == utc("2026-11-23 18:00")

    def test_served_at_rule_ignores_a_later_filing(self) -> None:
        """A rule ``from: served_at`` counts from service even when the proof is filed later."""
        order = order_at("2026-11-25 11:00", action=Action.SERVE,
                         served_local="2026-11-23 10:00")  # served Monday, filed Wednesday
        assert due_at(order, STRICT) == utc("2026-11-24 18:00")  # Tuesday 10:00 PST

    def test_service_without_service_time_names_the_field(self) -> None:
        """A serve action without served_at fails with the field path, not a value."""
        order = order_at("2026-11-20 09:00", action=Action.SERVE)
        with pytest.raises(OrderInvalid) as caught:
            due_at(order)
        assert caught.value.errors[0].path == "service.served_at"


class TestConfiguration:
    def test_shipped_config_is_the_default_policy(self) -> None:
        """config/deadlines.yaml loads and equals the built-in default policy."""
        assert DeadlinePolicy.load(CONFIG) == DeadlinePolicy.default()

    def test_end_of_day_reading(self) -> None:
        """With due: end_of_day the order is due at midnight ending the next court day."""
        config = {**DEFAULT_CONFIG, "rules": [{"within": {"business_days": 1},
                                               "due": "end_of_day"}]}
        policy = DeadlinePolicy.from_dict(config)
        assert due_at(order_at("2026-09-04 15:30"), policy) == utc("2026-09-09 07:00")

    def test_court_closure_moves_the_deadline(self) -> None:
        """A court closed by fire on Monday pushes its Friday order to Tuesday."""
        ori = _base().court.ori
        policy = DeadlinePolicy.from_dict({**STRICT_CONFIG,
                                           "courts": {ori: {"closures": ["2026-11-23"]}}})
        assert due_at(order_at("2026-11-20 15:42"), policy) == utc("2026-11-24 23:42")
        assert due_at(order_at("2026-11-20 15:42"), STRICT) == utc("2026-11-23 23:42")

    def test_court_time_zone_override(self) -> None:
        """A court with its own zone counts the wall clock in that zone."""
        ori = _base().court.ori
        policy = DeadlinePolicy.from_dict(
            {**STRICT_CONFIG, "courts": {ori: {"time_zone": "Pacific/Honolulu"}}})
        order = _base().model_copy(update={"issued_at": utc("2026-11-23 20:00")})
        assert due_at(order, policy) == utc("2026-11-24 20:00")

    @pytest.mark.parametrize(("change", "message"), [
        ({"colour": "red"}, r"\(top level\): unknown key\(s\) colour"),
        ({"version": 2}, "version: unsupported version 2"),
        ({"time_zone": "Mars/Olympus"}, "time_zone: unknown time zone 'Mars/Olympus'"),
        ({"holidays": "texas"}, "holidays: unknown calendar 'texas'"),
        ({"closures": ["2026-13-01"]}, r"closures\[0\]: '2026-13-01' is not a date"),
        ({"courts": {"not-an-ori": {}}}, "courts.not-an-ori: key must be a court ORI"),
        ({"courts": {"CA019015J": {"closures": "x"}}}, "courts.CA019015J.closures: must be"),
        ({"rules": []}, "rules: must be a non-empty list"),
        ({"rules": [{"within": {"business_days": 0}}]},
         r"rules\[0\].within.business_days: must be a whole number from 1 to 30"),
        ({"rules": [{"within": {"hours": 1, "business_days": 1}}]},
         r"rules\[0\].within: business_days cannot be combined"),
        ({"rules": [{"within": "1 day"}]}, r"rules\[0\].within: must be a mapping"),
        ({"rules": [{"within": {"hours": 0}}]}, r"rules\[0\].within: must be longer than zero"),
        ({"rules": [{"within": {"hours": 1}, "at_risk": "2h"}]},
         r"rules\[0\].at_risk: must be shorter than the time allowed"),
        ({"rules": [{"within": {"hours": 1}, "due": "same_time"}]},
         r"rules\[0\].due: applies only to business_days"),
        ({"rules": [{"within": {"business_days": 1}, "due": "noon"}]},
         r"rules\[0\].due: must be one of"),
        ({"rules": [{"within": {"business_days": 1}, "from": "filed_at"}]},
         r"rules\[0\].from: must be one of"),
        ({"rules": [{"within": {"business_days": 1}, "order_types": ["dv_tr0"]}]},
         r"rules\[0\].order_types\[0\]: unknown value 'dv_tr0'"),
        ({"rules": [{"within": {"business_days": 1}, "actions": ["issue"]}]},
         r"rules: no rule covers dv_tro/modify"),
    ])
    def test_bad_config_names_file_and_key(self, change: dict[str, Any], message: str) -> None:
        """Each configuration mistake fails at load with the source and the key path."""
        with pytest.raises(DeadlineConfigError, match=f"^deadlines.yaml: .*{message}"):
            DeadlinePolicy.from_dict({**DEFAULT_CONFIG, **change}, source="deadlines.yaml")

    def test_yaml_dates_and_per_court_closures_load(self, tmp_path: Path) -> None:
        """Unquoted YAML dates work as closures, and a court's closures add to the global ones."""
        path = tmp_path / "deadlines.yaml"
        path.write_text(CONFIG.read_text(encoding="utf-8").replace(
            "closures: []", "closures: [2026-12-28]").replace(
            "courts: {}", "courts:\n  CA019015J:\n    closures: [2026-12-29]"),
            encoding="utf-8")
        policy = DeadlinePolicy.load(path)
        assert policy.calendar_for("CA019015J").extra_closures == {
            dt.date(2026, 12, 28), dt.date(2026, 12, 29)}
        # Christmas Eve order: Friday holiday, weekend, Monday and Tuesday closed -> by the
        # end of Wednesday (the shipped rule is end_of_day): midnight PST, 08:00 UTC.
        assert due_at(order_at("2026-12-24 15:00"), policy) == utc("2026-12-31 08:00")

    def test_empty_file_is_refused(self, tmp_path: Path) -> None:
        """An empty policy file fails saying the top level must be a mapping."""
        path = tmp_path / "empty.yaml"
        path.write_text("", encoding="utf-8")
        with pytest.raises(DeadlineConfigError, match=r"\(top level\): must be a mapping"):
            DeadlinePolicy.load(path)

    def test_bad_yaml_and_missing_file(self, tmp_path: Path) -> None:
        """Unreadable or malformed files fail with the file name."""
        with pytest.raises(DeadlineConfigError, match="cannot read"):
            DeadlinePolicy.load(tmp_path / "missing.yaml")
        bad = tmp_path / "bad.yaml"
        bad.write_text("rules: [\n", encoding="utf-8")
        with pytest.raises(DeadlineConfigError, match=r"bad\.yaml: not valid YAML"):
            DeadlinePolicy.load(bad)


class TestRiskState:
    def test_states_at_the_boundaries(self) -> None:
        """ok before the window, at_risk from the window start, overdue from the due instant."""
        due = utc("2026-11-23 18:00")
        window = dt.timedelta(hours=4)
        assert risk_state(due, utc("2026-11-23 13:59"), window) is RiskState.OK
        assert risk_state(due, utc("2026-11-23 14:00"), window) is RiskState.AT_RISK
        assert risk_state(due, utc("2026-11-23 17:59"), window) == "at_risk"
        assert risk_state(due, utc("2026-11-23 18:00"), window) == "overdue"

    def test_naive_datetimes_are_refused(self) -> None:
        """Comparing a naive clock with a due time is a bug, so it raises."""
        with pytest.raises(ValueError, match="timezone-aware"):
            risk_state(utc("2026-11-23 18:00"), dt.datetime(2026, 11, 23), dt.timedelta(1))

    def test_policy_assess_uses_the_rules_window(self) -> None:
        """An EPO is at risk 30 minutes before its due time, per the emergency rule."""
        policy = DeadlinePolicy.default()
        order = order_at("2026-11-22 02:15", order_type=OrderType.EMERGENCY)
        assert policy.assess(order, utc("2026-11-22 10:44")) is RiskState.OK
        assert policy.assess(order, utc("2026-11-22 10:45")) is RiskState.AT_RISK


_BUSINESS_TYPES = [t for t in OrderType if not t.is_emergency]


class TestDueTimeProperties:
    @settings(max_examples=300, deadline=None)
    @given(issued=st.datetimes(min_value=dt.datetime(2025, 1, 1),
                               max_value=dt.datetime(2030, 12, 31),
                               timezones=st.sampled_from([UTC, LA])),
           order_type=st.sampled_from(_BUSINESS_TYPES),
           action=st.sampled_from([a for a in Action if a is not Action.SERVE]))
    def test_business_day_due_is_after_issuance_on_a_court_day(
            self, issued: dt.datetime, order_type: OrderType, action: Action) -> None:
        """A business-day due time is after issuance, on a court day, the first one after."""
        order = _base().model_copy(update={"issued_at": issued, "order_type": order_type,
                                           "action": action})
        due = due_at(order, STRICT)
        calendar = CourtCalendar()
        assert due > issued
        due_day = due.astimezone(LA).date()
        assert calendar.is_business_day(due_day)
        assert due_day == calendar.next_business_day(issued.astimezone(LA).date())

    @settings(max_examples=100, deadline=None)
    @given(issued=st.datetimes(min_value=dt.datetime(2025, 1, 1),
                               max_value=dt.datetime(2030, 12, 31), timezones=st.just(UTC)))
    def test_end_of_day_due_closes_a_court_day(self, issued: dt.datetime) -> None:
        """With end_of_day, the instant before the due time is on a court business day."""
        policy = DeadlinePolicy.from_dict({**DEFAULT_CONFIG, "rules": [
            {"within": {"business_days": 1}, "due": "end_of_day"}]})
        due = due_at(_base().model_copy(update={"issued_at": issued}), policy)
        assert due > issued
        last_moment = (due - dt.timedelta(microseconds=1)).astimezone(LA).date()
        assert CourtCalendar().is_business_day(last_moment)


def _one_rule(**rule: Any) -> DeadlinePolicy:
    """A policy of one rule covering every order, built from configuration data."""
    return DeadlinePolicy.from_dict({**DEFAULT_CONFIG, "rules": [rule]})


class TestRuleDefaultsAndLimits:
    """What a rule means when a key is left out, and where each limit sits (issue 22)."""

    def test_after_the_due_instant_is_overdue_not_at_risk(self) -> None:
        """Any time after the due instant stays overdue (not only the instant itself)."""
        due = utc("2026-11-23 18:00")
        late = utc("2026-11-24 09:00")
        assert risk_state(due, late, dt.timedelta(hours=4)) is RiskState.OVERDUE

    def test_a_rule_built_without_business_days_counts_one_court_day(self) -> None:
        """`DeadlineRule`'s own default is the statute's one business day (Fam. Code 6380)."""
        rule = DeadlineRule(name="entry", order_types=frozenset(OrderType),
                            actions=frozenset(Action))
        assert rule.business_days == 1
        assert rule.at_risk_window == dt.timedelta(hours=4)
        with pytest.raises(AttributeError):
            rule.business_days = 2  # type: ignore[misc]
        with pytest.raises(TypeError):
            DeadlineRule("entry", frozenset(OrderType), frozenset(Action))  # type: ignore[misc]
        due = due_at(order_at("2026-11-20 15:42"), DeadlinePolicy(rules=(rule,)))
        assert due == utc("2026-11-23 23:42")  # Friday -> Monday, same local time

    def test_business_day_rule_defaults_to_a_four_hour_warning(self) -> None:
        """Without ``at_risk`` a business-day rule warns 4 hours before its due time."""
        policy = _one_rule(within={"business_days": 1})
        assert policy.rules[0].at_risk_window == dt.timedelta(hours=4)

    def test_elapsed_rule_defaults_to_half_its_time_as_warning(self) -> None:
        """Without ``at_risk`` an hours rule warns when half its time is gone."""
        policy = _one_rule(within={"hours": 1})
        assert policy.rules[0].at_risk_window == dt.timedelta(minutes=30)

    def test_a_warning_as_long_as_the_time_allowed_is_refused(self) -> None:
        """``at_risk`` equal to ``within`` would put every order at risk at once."""
        with pytest.raises(DeadlineConfigError, match=r"at_risk: must be shorter"):
            _one_rule(within={"hours": 1}, at_risk={"minutes": 60})
        assert _one_rule(within={"hours": 1}, at_risk={"minutes": 59}).rules[0] \
            .at_risk_window == dt.timedelta(minutes=59)

    def test_hours_only_duration_text_has_no_minutes(self) -> None:
        """``"1h"`` is exactly one hour (missing minutes are zero, not borrowed)."""
        policy = _one_rule(within={"hours": 2}, at_risk="1h")
        assert policy.rules[0].at_risk_window == dt.timedelta(hours=1)

    def test_blank_duration_text_is_refused_as_malformed(self) -> None:
        """An empty duration string is named as not a duration, not as zero."""
        with pytest.raises(DeadlineConfigError, match=r"at_risk: duration '' is not like"):
            _one_rule(within={"hours": 2}, at_risk="")

    @pytest.mark.parametrize("value", [5, []])
    def test_order_types_must_be_a_non_empty_list(self, value: Any) -> None:
        """A number or an empty list for ``order_types`` is refused by name."""
        with pytest.raises(DeadlineConfigError,
                           match=r"rules\[0\].order_types: must be a non-empty list"):
            _one_rule(within={"business_days": 1}, order_types=value)

    def test_business_days_run_from_1_to_30(self) -> None:
        """30 business days is the largest limit accepted, 31 is refused."""
        assert _one_rule(within={"business_days": 30}).rules[0].business_days == 30
        with pytest.raises(DeadlineConfigError, match=r"business_days: must be a whole"):
            _one_rule(within={"business_days": 31})

    def test_business_days_true_is_not_a_number(self) -> None:
        """YAML ``true`` is not one business day."""
        with pytest.raises(DeadlineConfigError, match=r"business_days: must be a whole"):
            _one_rule(within={"business_days": True})

    def test_every_closure_date_is_kept(self) -> None:
        """Several date objects (unquoted YAML dates) in closures are all kept."""
        days = [dt.date(2026, 12, 28), dt.date(2026, 12, 29), dt.date(2026, 12, 30)]
        policy = DeadlinePolicy.from_dict({**DEFAULT_CONFIG, "closures": days})
        assert policy.calendar.extra_closures == set(days)

    def test_a_timestamp_is_not_a_closure_date(self) -> None:
        """A YAML timestamp (date and time) in closures is refused: a closure is a day."""
        with pytest.raises(DeadlineConfigError, match=r"closures\[0\]: .* is not a date"):
            DeadlinePolicy.from_dict({**DEFAULT_CONFIG,
                                      "closures": [dt.datetime(2026, 12, 28, 9, 0)]})

    def test_a_config_without_version_is_version_1(self) -> None:
        """``version`` may be left out: it means 1."""
        config = {k: v for k, v in DEFAULT_CONFIG.items() if k != "version"}
        assert DeadlinePolicy.from_dict(config) == DeadlinePolicy.default()
        with pytest.raises(DeadlineConfigError, match="version: unsupported version 0"):
            DeadlinePolicy.from_dict({**DEFAULT_CONFIG, "version": 0})

    @pytest.mark.parametrize(("hours", "message"), [
        (True, "must be a non-negative number, got True"),
        ("2", "must be a non-negative number, got '2'"),
        (-1, "must be a non-negative number, got -1"),
    ])
    def test_duration_numbers_are_non_negative_numbers(self, hours: Any, message: str) -> None:
        """``hours: true``, ``hours: "2"`` and ``hours: -1`` are refused by key."""
        with pytest.raises(DeadlineConfigError, match=rf"rules\[0\].within.hours: {message}"):
            _one_rule(within={"hours": hours})

    def test_policy_and_explanation_are_immutable(self) -> None:
        """The shared default policy and a due explanation cannot be changed after the fact."""
        policy = DeadlinePolicy.default()
        with pytest.raises(AttributeError):
            policy.rules = ()  # type: ignore[misc]
        explanation = explain_due(order_at("2026-11-20 15:42"), policy)
        with pytest.raises(AttributeError):
            explanation.due_at = utc("2026-11-30 00:00")  # type: ignore[misc]

    def test_policy_and_from_dict_take_keywords(self) -> None:
        """`DeadlinePolicy`, `DueExplanation` and `from_dict`'s ``source`` take keywords."""
        rules = DeadlinePolicy.default().rules
        with pytest.raises(TypeError):
            DeadlinePolicy(rules)  # type: ignore[misc]
        with pytest.raises(TypeError):
            DueExplanation(utc("2026-11-23 18:00"), rules[0],  # type: ignore[misc]
                           utc("2026-11-23 17:00"), "America/Los_Angeles")
        with pytest.raises(TypeError):
            DeadlinePolicy.from_dict(DEFAULT_CONFIG, "deadlines.yaml")  # type: ignore[misc]


class TestDescriptions:
    """The rule text on-call staff read (`DeadlineRule.describe`, `DueExplanation.lines`)."""

    def test_each_kind_of_rule_describes_itself(self) -> None:
        """Hours rules say calendar time; business-day rules say the count and the due point."""
        rules = {r.name: r.describe() for r in DeadlinePolicy.default().rules}
        assert rules == {
            "emergency": "emergency: within 1h of calendar time from issued_at",
            "proof_of_service": "proof_of_service: within 1 court business day (end of day) "
                                "from later_of_service_and_filing",
            "entry_and_changes": "entry_and_changes: within 1 court business day (end of "
                                 "day) from issued_at",
        }
        two = _one_rule(within={"business_days": 2}, due="same_time", name="two")
        assert two.rules[0].describe() == \
            "two: within 2 court business days (same local time) from issued_at"
        mixed = _one_rule(within={"hours": 1, "minutes": 30}, name="mixed")
        assert mixed.rules[0].describe() == "mixed: within 1h 30m of calendar time from issued_at"
