"""Prometheus alert rules: valid, unit-tested with promtool, linked to runbooks, on real metrics."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from engine.observability.metrics import METRIC_NAMES
from tests.services import require_promtool

ROOT = Path(__file__).parents[2]
RULES = ROOT / "config" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "config" / "prometheus" / "alerts_test.yml"




def _rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def _alerts() -> list[dict]:
    return [r for r in _rules() if "alert" in r]


class TestPromtool:
    def test_check_rules_passes(self) -> None:
        """`promtool check rules` accepts alerts.yml."""
        result = subprocess.run([require_promtool(), "check", "rules", str(RULES)],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_rule_unit_tests_pass(self) -> None:
        """`promtool test rules` passes every unit test in alerts_test.yml."""
        result = subprocess.run([require_promtool(), "test", "rules", str(RULE_TESTS)],
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


class TestRuleContent:
    def test_every_alert_has_unit_tests_that_fire_and_stay_quiet(self) -> None:
        """Each alert appears in alerts_test.yml with a firing case and a quiet case."""
        cases: dict[str, list[bool]] = {}
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], []).append(bool(case["exp_alerts"]))
        for alert in _alerts():
            outcomes = cases.get(alert["alert"], [])
            assert True in outcomes, f"{alert['alert']}: no test where it fires"
            assert False in outcomes, f"{alert['alert']}: no test where it stays quiet"

    def test_every_alert_links_an_existing_runbook(self) -> None:
        """runbook_url is docs/runbooks/<Alert>.md and that page exists."""
        for alert in _alerts():
            url = alert["annotations"]["runbook_url"]
            assert url == f"docs/runbooks/{alert['alert']}.md"
            assert (ROOT / url).is_file(), f"missing runbook {url}"

    def test_every_alert_has_severity_and_summary(self) -> None:
        """Each alert carries a severity label and summary and description annotations."""
        for alert in _alerts():
            assert alert["labels"]["severity"] in {"critical", "warning"}
            assert {"summary", "description"} <= set(alert["annotations"])

    def test_rules_use_only_metrics_the_engine_exports(self) -> None:
        """Every po_engine_ metric in an expression is one engine/observability/metrics.py
        exports."""
        recorded = {r["record"] for r in _rules() if "record" in r}
        for rule in _rules():
            for name in re.findall(r"\bpo_engine[a-z0-9_:]*", rule["expr"]):
                assert name in METRIC_NAMES or name in recorded, name
