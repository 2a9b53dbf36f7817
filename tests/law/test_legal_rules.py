"""The law, applied at intake: what reaches the registry is what the statutes say (issue 16).

Every expected value below is written from the statute it cites, not from the engine's own
output: the durations from Fam. Code 6256, 6345; Pen. Code 18125, 18155, 136.2, 18175;
Code Civ. Proc. 527.6, 527.8, 527.85; Welf. & Inst. Code 15657.03, 213.5; the federal
firearms indicator from 18 U.S.C. 922(g)(8) and 921(a)(32); the firearms prohibitions from
Fam. Code 6389, Pen. Code 29825, 18120 and Code Civ. Proc. 527.9. The orders go through the
real intake steps (`engine.intake.pipeline.build_steps`), as a court's message would.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from engine.canonical import order_from_dict
from engine.config import load_config
from engine.errors import OrderInvalid
from engine.intake.pipeline import IntakeMessage, build_steps, prepare
from engine.ledger import IntakeRecord
from engine.runner import real_parts
from tests.strategies import orders

REPO = Path(__file__).parents[2]
ORDERS = REPO / "tests" / "fixtures" / "orders"
PACIFIC = dt.timezone(dt.timedelta(hours=-8))
#: The intake's clock in these tests: just after the fixtures were issued.
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def fixture(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ORDERS / f"{name}.json").read_text(encoding="utf-8"))
    data.update(changes)
    return data


@pytest.fixture(scope="module")
def steps():  # type: ignore[no-untyped-def]
    config = load_config(REPO / "config" / "engine.yaml", env={})
    parts = real_parts(config)
    return build_steps(config, renderers=parts.renderers, due_at=parts.due_at,
                       load_mapping=parts.load_mapping, clock=lambda: NOW)


def intake(steps, data: dict[str, Any]) -> IntakeRecord:  # type: ignore[no-untyped-def]
    return prepare(steps, IntakeMessage(json.dumps(data).encode(), message_id="t"))


def sent(record: IntakeRecord) -> dict[str, Any]:
    """The order as the intake recorded it (and renders it), or fail with its reason."""
    assert record.error_reason is None, record.error_reason
    assert record.canonical_json is not None
    result: dict[str, Any] = json.loads(record.canonical_json)
    return result


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        order_from_dict(data)
    except OrderInvalid as exc:
        return [(e.path, e.reason) for e in exc.errors]
    return []


# -- 1. proof of service ----------------------------------------------------------------

def test_saturday_service_filed_monday_is_a_valid_proof_of_service(steps) -> None:  # type: ignore[no-untyped-def]
    """A serve version's issued_at is the filing; the service it proves came before."""
    data = fixture("dv_tro_serve_v2", issued_at="2026-11-23T09:05:00-08:00",
                   effective_date="2026-11-20")
    data["service"]["served_at"] = "2026-11-21T18:10:00-08:00"  # Saturday
    assert problems(data) == []
    assert sent(intake(steps, data))["service"]["served_at"].startswith("2026-11-21")


def test_a_service_after_its_proof_was_filed_is_refused() -> None:
    data = fixture("dv_tro_serve_v2", issued_at="2026-11-23T09:05:00-08:00")
    data["service"]["served_at"] = "2026-11-23T10:00:00-08:00"
    assert [p for p, _ in problems(data)] == ["service.served_at"]
    assert "filed" in problems(data)[0][1]


def test_a_service_before_the_order_took_effect_is_refused() -> None:
    data = fixture("dv_tro_serve_v2", issued_at="2026-11-23T09:05:00-08:00",
                   effective_date="2026-11-20")
    data["service"]["served_at"] = "2026-11-19T18:10:00-08:00"
    assert [p for p, _ in problems(data)] == ["service.served_at"]


def test_the_serve_fixture_files_its_proof_after_the_service() -> None:
    data = fixture("dv_tro_serve_v2")
    served = dt.datetime.fromisoformat(data["service"]["served_at"])
    assert served <= dt.datetime.fromisoformat(data["issued_at"])


# -- 2. statutory maximum durations -----------------------------------------------------

#: (fixture, issued_at, latest expiration the statute allows, its source).
MAXIMA = [
    # Fam. Code 6256: earlier of the 5th court day and the 7th calendar day after issuance.
    # Issued Sunday 2026-12-06: court days Mon 7 .. Fri 11 (5th); 7th calendar day Sun 13.
    ("epo_issue", "2026-12-06T02:15:00-08:00", "2026-12-11", "6256"),
    # Issued Sunday 2026-11-22: 5th court day Tue Dec 1 (Thanksgiving Thu/Fri closed);
    # 7th calendar day Sun Nov 29 comes first.
    ("epo_issue", "2026-11-22T02:15:00-08:00", "2026-11-29", "6256"),
    # Pen. Code 18125(b): 21 days from the date issued.
    ("gv_epo_issue", "2026-11-22T23:48:00-08:00", "2026-12-13", "18125"),
    # Pen. Code 18155(c)/18165: ex parte GVRO, hearing and end within 21 days.
    ("gv_tro_issue", "2026-11-19T10:05:00-08:00", "2026-12-10", "18155"),
    # Fam. Code 242 and the civil TRO sections: hearing within 21 days, 25 with good cause.
    ("dv_tro_issue", "2026-11-20T15:42:00-08:00", "2026-12-15", "242"),
    ("ch_tro_issue", "2026-11-16T16:02:00-08:00", "2026-12-11", "527.6"),
    ("wv_tro_issue", "2026-11-17T15:30:00-08:00", "2026-12-12", "527.8"),
    ("sv_tro_issue", "2026-11-20T12:10:00-08:00", "2026-12-15", "527.85"),
    ("ea_tro_issue", "2026-11-19T13:45:00-08:00", "2026-12-14", "15657.03"),
    ("jv_tro_issue", "2026-11-20T14:35:00-08:00", "2026-12-15", "213.5"),
    # Orders after hearing.
    ("dv_oah_issue", "2026-11-18T11:20:00-08:00", "2031-11-18", "6345"),      # 5 years
    ("ea_oah_issue", "2026-11-12T10:15:00-08:00", "2031-11-12", "15657.03"),  # 5 years
    ("wv_oah_issue", "2026-11-10T09:40:00-08:00", "2029-11-10", "527.8"),     # 3 years
    ("sv_oah_issue", "2026-11-13T14:20:00-08:00", "2029-11-13", "527.85"),    # 3 years
    ("jv_oah_issue", "2026-11-05T11:00:00-08:00", "2029-11-05", "213.5"),     # 3 years
    ("gv_oah_issue", "2026-11-09T15:00:00-08:00", "2031-11-09", "18175"),     # 1-5 years
    ("cr_cpo_issue", "2026-11-16T09:30:00-08:00", "2036-11-16", "136.2"),     # 10 years
]


@pytest.mark.parametrize(("name", "issued_at", "latest", "section"), MAXIMA,
                         ids=[f"{m[0]}-{m[1][:10]}" for m in MAXIMA])
def test_the_statutory_maximum_is_accepted_and_a_day_more_refused(
        name: str, issued_at: str, latest: str, section: str) -> None:
    day = issued_at[:10]
    data = fixture(name, issued_at=issued_at, effective_date=day, expiration_date=latest)
    if data["service"].get("served_at"):
        data["service"]["served_at"] = issued_at
    assert problems(data) == []
    data["expiration_date"] = (dt.date.fromisoformat(latest) + dt.timedelta(days=1)).isoformat()
    found = problems(data)
    assert [p for p, _ in found] == ["expiration_date"]
    assert section in found[0][1] and latest in found[0][1]


def test_a_ch_order_after_hearing_may_last_five_years_from_its_effective_date() -> None:
    """Code Civ. Proc. 527.6(j)(1): up to five years (the fixture is a modify, so the term
    runs from the order's effective date)."""
    data = fixture("ch_oah_modify", expiration_date="2031-11-23")
    assert problems(data) == []
    data["expiration_date"] = "2031-11-24"
    assert [p for p, _ in problems(data)] == ["expiration_date"]


def test_the_issue_examples_are_refused() -> None:
    """The cases the review found: a 30-day EPO, a 60-day gun violence EPO, a 10-year DV
    order after hearing, a 15-year criminal protective order."""
    assert problems(fixture("epo_issue", expiration_date="2026-12-22"))
    assert problems(fixture("gv_epo_issue", expiration_date="2027-01-21"))
    assert problems(fixture("dv_oah_issue", expiration_date="2036-11-18"))
    assert problems(fixture("cr_cpo_issue", expiration_date="2041-11-16"))


def test_an_out_of_state_order_lasts_as_its_state_ordered() -> None:
    assert problems(fixture("out_of_state_issue", expiration_date="2076-10-31")) == []


# -- 3. statutory default expiration ----------------------------------------------------

@pytest.mark.parametrize(("name", "expected", "source"), [
    ("dv_oah_issue", "2029-11-18", "6345(c)"),          # 3 years from issuance
    ("ea_oah_issue", "2029-11-12", "15657.03"),
    ("wv_oah_issue", "2029-11-10", "527.8"),
    ("epo_issue", "2026-11-29", "6256"),                 # issued Sun 2026-11-22
    ("gv_epo_issue", "2026-12-13", "18125"),
])
def test_a_missing_end_is_the_statutory_default_never_nonexp(
        steps, name: str, expected: str, source: str) -> None:  # type: ignore[no-untyped-def]
    data = fixture(name)
    del data["expiration_date"]
    record = intake(steps, data)
    assert sent(record)["expiration_date"] == expected
    notes = [n for n in getattr(record, "derivations", ()) if "expiration_date" in n]
    assert len(notes) == 1 and expected in notes[0] and source in notes[0]
    if record.body is not None and record.format == "clets":
        assert b"NONEXP" not in record.body


def test_a_ch_order_after_hearing_without_an_end_lasts_three_years(steps) -> None:  # type: ignore[no-untyped-def]
    data = fixture("ch_oah_modify")
    del data["expiration_date"]
    assert sent(intake(steps, data))["expiration_date"] == "2029-11-23"


@pytest.mark.parametrize("name", ["gv_oah_issue", "cr_cpo_issue", "dv_tro_issue"])
def test_where_the_law_sets_no_default_a_missing_end_is_refused(
        steps, name: str) -> None:  # type: ignore[no-untyped-def]
    data = fixture(name)
    del data["expiration_date"]
    record = intake(steps, data)
    assert record.error_reason is not None and "expiration_date" in record.error_reason


def test_a_derived_end_is_in_the_audit_trail(tmp_path: Path) -> None:
    """The ledger keeps one audit row per derived value, saying what and why."""
    from engine.ledger import open_ledger

    config = load_config(REPO / "config" / "engine.yaml", env={})
    parts = real_parts(config)
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        pipeline_steps = build_steps(config, renderers=parts.renderers, due_at=parts.due_at,
                                     clock=lambda: NOW, new_mcn=ledger.new_mcn)
        data = fixture("dv_oah_issue")
        del data["expiration_date"]
        record = intake(pipeline_steps, data)
        ledger.record_intake([record])
        history = ledger.history(record.order_key)
        details = [e["detail"] for v in history["versions"] for e in v["audit"]]
        assert any("expiration_date 2029-11-18" in d and "6345(c)" in d for d in details)
    finally:
        ledger.engine.dispose()


# -- 4. Brady indicator (18 U.S.C. 922(g)(8)) -------------------------------------------

@pytest.mark.parametrize("name", ["epo_issue", "dv_tro_issue", "gv_epo_issue"])
def test_brady_on_an_order_without_a_hearing_with_notice_is_refused(name: str) -> None:
    data = fixture(name, firearms={"relinquishment_ordered": True, "brady_indicator": True})
    assert "firearms.brady_indicator" in [p for p, _ in problems(data)]


def test_brady_without_a_protected_intimate_partner_or_child_is_refused() -> None:
    data = fixture("wv_oah_issue",  # protects a coworker
                   firearms={"relinquishment_ordered": True, "brady_indicator": True})
    assert [p for p, _ in problems(data)] == ["firearms.brady_indicator"]


def test_brady_is_derived_after_a_hearing_protecting_a_former_spouse(steps) -> None:  # type: ignore[no-untyped-def]
    """DV-130 after hearing, a former spouse protected, force restrained (condition 01)."""
    data = fixture("dv_oah_issue",
                   firearms={"relinquishment_ordered": True, "brady_indicator": False})
    assert sent(intake(steps, data))["firearms"]["brady_indicator"] is True


def test_brady_is_not_derived_for_a_coworker(steps) -> None:  # type: ignore[no-untyped-def]
    assert sent(intake(steps, fixture("wv_oah_issue")))["firearms"]["brady_indicator"] is False


# -- 5. firearms prohibition by order type ----------------------------------------------

@pytest.mark.parametrize("name", ["ch_tro_issue", "ea_tro_issue", "wv_tro_issue", "epo_issue",
                                  "ch_oah_modify"])
def test_the_statutory_firearms_prohibition_is_derived(steps, name: str) -> None:  # type: ignore[no-untyped-def]
    data = fixture(name)
    assert "07" not in [c["code"] for c in data["conditions"]]  # the court left it out
    record = intake(steps, data)
    assert "07" in [c["code"] for c in sent(record)["conditions"]]


def test_a_gv_tro_without_condition_07_goes_out_with_it(steps) -> None:  # type: ignore[no-untyped-def]
    data = fixture("gv_tro_issue", conditions=[{"code": "04"}])
    assert [c["code"] for c in sent(intake(steps, data))["conditions"]] == ["04", "07"]


def test_an_out_of_state_order_keeps_its_own_conditions(steps) -> None:  # type: ignore[no-untyped-def]
    codes = [c["code"] for c in sent(intake(steps, fixture("out_of_state_issue")))["conditions"]]
    assert codes == ["01", "05", "08"]


# -- 11. issued in the future -----------------------------------------------------------

def test_an_order_issued_in_2099_is_refused_at_intake(steps) -> None:  # type: ignore[no-untyped-def]
    data = fixture("dv_tro_issue", issued_at="2099-01-05T10:00:00-08:00",
                   effective_date="2099-01-05", expiration_date="2099-01-20")
    for person in data["protected_persons"]:
        person["is_minor"] = False  # a 2016 birth is an adult in 2099
    record = intake(steps, data)
    assert record.error_reason is not None and "issued_at" in record.error_reason
    assert "future" in record.error_reason


def test_an_order_a_minute_ahead_of_the_engine_clock_is_accepted(steps) -> None:  # type: ignore[no-untyped-def]
    ahead = (NOW + dt.timedelta(minutes=1)).astimezone(PACIFIC)
    day = ahead.date().isoformat()
    data = fixture("dv_tro_issue", issued_at=ahead.isoformat(), effective_date=day,
                   expiration_date=(ahead.date() + dt.timedelta(days=21)).isoformat())
    assert intake(steps, data).error_reason is None


def test_the_clock_skew_is_configured_and_checked() -> None:
    from engine.config import ConfigError, parse_config

    assert parse_config({"max_clock_skew_seconds": 60}).max_clock_skew_seconds == 60
    with pytest.raises(ConfigError, match="max_clock_skew_seconds"):
        parse_config({"max_clock_skew_seconds": -1})


@settings(max_examples=60)
@given(orders())
def test_what_the_law_adds_is_lawful_and_added_once(order) -> None:  # type: ignore[no-untyped-def]
    """Derived values pass every check, and applying the law again derives nothing."""
    from engine.law.checks import check_order
    from engine.law.derivations import apply_law

    applied = apply_law(order)
    check_order(applied.order)
    assert apply_law(applied.order).derivations == ()
    assert applied.order.court == order.court and applied.order.version == order.version
