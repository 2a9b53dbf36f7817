"""`engine deadlines explain|calendar`: on-call can see a due time and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures" / "orders"


class TestDeadlinesCli:
    def test_explain_prints_due_time_rule_and_skipped_days(
            self, capsys: pytest.CaptureFixture[str]) -> None:
        """explain shows the Friday DV-TRO due by the end of Monday (midnight PST), skipping
        the weekend."""
        assert main(["deadlines", "explain", str(FIXTURES / "dv_tro_issue.json")]) == 0
        out = capsys.readouterr().out
        assert "2026-11-24T08:00:00+00:00 (2026-11-24T00:00:00-08:00 America/Los_Angeles)" in out
        assert "entry_and_changes" in out
        assert "2026-11-21 Sat: weekend" in out

    def test_explain_json_and_config(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--json gives the due time per file; --config reads the given policy."""
        config = Path(__file__).parents[2] / "config" / "deadlines.yaml"
        code = main(["deadlines", "explain", "--json", "--config", str(config),
                     str(FIXTURES / "epo_issue.json")])
        (result,) = json.loads(capsys.readouterr().out)
        assert code == 0
        assert (result["due_at"], result["rule"]) == ("2026-11-22T11:15:00+00:00", "emergency")

    def test_explain_bad_file_names_the_problem(self, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
        """An unreadable order file exits 1 with the reason, not a traceback."""
        bad = tmp_path / "bad.json"
        bad.write_text("{", encoding="utf-8")
        assert main(["deadlines", "explain", str(bad)]) == 1
        assert "INVALID" in capsys.readouterr().out

    def test_bad_config_exits_2_with_the_key(self, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
        """A broken policy file exits 2 and names the file and key."""
        config = tmp_path / "deadlines.yaml"
        config.write_text("rules: []\n", encoding="utf-8")
        assert main(["deadlines", "explain", "--config", str(config),
                     str(FIXTURES / "epo_issue.json")]) == 2
        assert "deadlines.yaml: rules: must be a non-empty list" in capsys.readouterr().err

    def test_calendar_lists_a_years_closures(self, capsys: pytest.CaptureFixture[str]) -> None:
        """calendar 2026 lists the 14 judicial holidays, Native American Day included."""
        assert main(["deadlines", "calendar", "2026", "--json"]) == 0
        days = json.loads(capsys.readouterr().out)
        assert len(days) == 14
        assert {"date": "2026-09-25", "reason": "Native American Day"} in days
