"""The shipped Alertmanager config routes each alert to the right person, never hides a
deadline alert, reads its secrets from files, and the real tools accept the shipped files:
`amtool check-config` (config/alertmanager/alertmanager.yml) and `promtool check config`
(deploy/prometheus.yml with its alerting section). Inhibitions are checked on a real
Alertmanager (its API says which alerts are inhibited, and by what)."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.alerting.stack import (
    ALERT_RULES,
    ALERTMANAGER_CONFIG,
    REPO,
    WAIT,
    Process,
    binary,
    get_json,
    start_alertmanager,
    start_pager,
)
from tests.services import wait_until

DEADLINE_ALERTS = {"DeadlineAtRisk", "DeadlineMissed", "EmergencyOrderNotDelivered"}
COMPOSE = REPO / "deploy" / "docker-compose.yml"


def shipped_alerts() -> list[dict[str, Any]]:
    rules = yaml.safe_load(ALERT_RULES.read_text(encoding="utf-8"))
    return [r for g in rules["groups"] for r in g["rules"] if "alert" in r]


def am_config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    return data


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


class TestShippedFiles:
    def test_amtool_accepts_the_shipped_config(self) -> None:
        result = run(binary("amtool"), "check-config", str(ALERTMANAGER_CONFIG))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout

    def test_promtool_accepts_prometheus_yml_with_its_alerting_section(
            self, tmp_path: Path) -> None:
        """deploy/prometheus.yml, laid out as the container sees it (rules beside it)."""
        config = tmp_path / "prometheus.yml"
        config.write_text((REPO / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
        (tmp_path / "po-engine").mkdir()
        (tmp_path / "po-engine" / "alerts.yml").write_text(
            ALERT_RULES.read_text(encoding="utf-8"))
        result = run(binary("promtool"), "check", "config", str(config))
        assert result.returncode == 0, result.stdout + result.stderr

    def test_prometheus_sends_to_the_compose_alertmanager(self) -> None:
        prometheus = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
        [target] = [t for am in prometheus["alerting"]["alertmanagers"]
                    for sc in am["static_configs"] for t in sc["targets"]]
        compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
        service = compose["services"]["alertmanager"]
        assert target == "alertmanager:9093"
        assert any(p.endswith(":9093") for p in service["ports"])
        assert ("../config/alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro"
                in service["volumes"])
        assert "--config.file=/etc/alertmanager/alertmanager.yml" in service["command"]

    def test_every_secret_is_read_from_a_file_the_service_mounts(self) -> None:
        """Passwords and tokens come from /run/secrets/<name> files compose provides; none is
        written in the config."""
        text = ALERTMANAGER_CONFIG.read_text(encoding="utf-8")
        files = re.findall(r"_file:\s*(\S+)", text)
        compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
        mounted = {f"/run/secrets/{n}" for n in compose["services"]["alertmanager"]["secrets"]}
        assert files and set(files) == mounted
        for name in compose["services"]["alertmanager"]["secrets"]:
            assert (REPO / "deploy" / compose["secrets"][name]["file"]).is_file()
        config = am_config()
        assert "smtp_auth_password" not in config["global"]
        for receiver in config["receivers"]:
            for hook in receiver.get("webhook_configs", []):
                assert "credentials" not in hook.get("http_config", {}).get(
                    "authorization", {})

    def test_grouped_by_destination_and_court(self) -> None:
        assert {"destination", "court"} <= set(am_config()["route"]["group_by"])

    def test_every_route_repeats(self) -> None:
        routes = [am_config()["route"], *am_config()["route"]["routes"]]
        assert all(r.get("repeat_interval") for r in routes)


class TestRouting:
    """`amtool config routes test`: Alertmanager's own matcher decides."""

    @pytest.mark.parametrize("alert", shipped_alerts(), ids=lambda a: a["alert"])
    def test_each_alert_reaches_the_right_receiver(self, alert: dict[str, Any]) -> None:
        """Deadline alerts and critical ones page; warnings go to the ticket receiver."""
        labels = {"alertname": alert["alert"], **alert["labels"],
                  "destination": "doj", "court": "CA019015J"}
        result = run(binary("amtool"), "config", "routes", "test",
                     f"--config.file={ALERTMANAGER_CONFIG}",
                     *(f"{k}={v}" for k, v in labels.items()))
        assert result.returncode == 0, result.stderr
        expected = ("pager" if alert["alert"] in DEADLINE_ALERTS
                    or alert["labels"]["severity"] == "critical" else "ticket")
        assert result.stdout.split() == [expected]

    def test_the_at_risk_warning_pages(self) -> None:
        """DeadlineAtRisk is severity warning and still pages: the point is to act in time."""
        [at_risk] = [a for a in shipped_alerts() if a["alert"] == "DeadlineAtRisk"]
        assert at_risk["labels"]["severity"] == "warning"


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Process]:
    pager = start_pager()
    process = start_alertmanager(tmp_path / "am", pager.url)
    try:
        yield process
    finally:
        process.stop()
        pager.server.shutdown()
        pager.server.server_close()


def post_alerts(url: str, labels: list[dict[str, str]]) -> None:
    now = dt.datetime.now(dt.UTC)
    body = json.dumps([{"labels": item, "annotations": {},
                        "startsAt": now.isoformat(),
                        "endsAt": (now + dt.timedelta(minutes=10)).isoformat()}
                       for item in labels]).encode()
    request = urllib.request.Request(f"{url}/api/v2/alerts", data=body, method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - local
        assert response.status == 200


class TestInhibition:
    def test_no_cause_hides_a_deadline_alert(self, alertmanager: Process) -> None:
        """Every inhibition source fires together with every deadline alert (same
        destination and court): Alertmanager inhibits the symptoms and none of the
        deadline alerts."""
        alerts = {a["alert"]: a for a in shipped_alerts()}
        sources = {m.split("=")[1].strip('"') for rule in am_config()["inhibit_rules"]
                   for m in rule["source_matchers"]}
        names = sources | DEADLINE_ALERTS | {"BacklogGrowing"}
        post_alerts(alertmanager.url, [
            {"alertname": n, **alerts[n]["labels"], "destination": "doj",
             "court": "CA019015J"} for n in sorted(names)])
        state: dict[str, dict[str, Any]] = {}

        def settled() -> bool:
            state.clear()
            for alert in get_json(f"{alertmanager.url}/api/v2/alerts"):
                state[alert["labels"]["alertname"]] = alert["status"]
            return set(state) == names and state["BacklogGrowing"]["state"] == "suppressed"

        wait_until(settled, "Alertmanager to inhibit BacklogGrowing", limit=WAIT,
                   describe=lambda: str(state))
        for name in DEADLINE_ALERTS:
            assert state[name]["inhibitedBy"] == [] and state[name]["state"] == "active"
