"""The `engine` command line: `engine check` accepts every valid fixture and rejects each
broken one naming the field, `engine version`, and the exit codes scripts rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from engine import __version__
from engine.cli import main
from tests.conftest import FIXTURES, ORDER_FIXTURES

INVALID = FIXTURES / "invalid"
EXPECTED = yaml.safe_load((INVALID / "expected.yaml").read_text(encoding="utf-8"))
INVALID_FIXTURES = sorted(INVALID.glob("*.json"))


def _check_json(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, list[dict]]:
    code = main(["check", "--json", *map(str, paths)])
    return code, json.loads(capsys.readouterr().out)


class TestCheckValidFiles:
    def test_every_valid_fixture_is_accepted(self, capsys, fixture_order_path):
        """A valid canonical order file passes with exit code 0 and an OK line."""
        code = main(["check", str(fixture_order_path)])
        out = capsys.readouterr().out
        assert code == 0
        assert out.startswith("OK ")
        assert "INVALID" not in out

    def test_all_valid_fixtures_at_once(self, capsys):
        """Several files in one call are all checked, one result each."""
        code, results = _check_json(capsys, *ORDER_FIXTURES)
        assert code == 0
        assert [r["file"] for r in results] == [str(p) for p in ORDER_FIXTURES]
        assert all(r["ok"] for r in results)

    def test_json_output_names_the_order_version(self, capsys):
        """`--json` reports each accepted file with its order's version key."""
        path = FIXTURES / "orders" / "dv_tro_serve_v2.json"
        code, results = _check_json(capsys, path)
        assert code == 0
        assert results == [{"file": str(path), "ok": True,
                            "order": "CA019015J/LA-DV-2024-000123#2", "derived": []}]

    def test_values_the_law_sets_are_listed(self, capsys):
        """A CH TRO's statutory firearms prohibition (Code Civ. Proc. 527.9) is shown as
        derived, so a court sees what the intake will send."""
        path = FIXTURES / "orders" / "ch_tro_issue.json"
        code, results = _check_json(capsys, path)
        assert code == 0
        assert [n for n in results[0]["derived"] if "conditions 07" in n and "527.9" in n]


class TestCheckBrokenFiles:
    def test_every_broken_fixture_is_listed_in_expected(self):
        """Each broken fixture has its expected path written down, and each entry has a file."""
        assert sorted(EXPECTED) == [p.name for p in INVALID_FIXTURES]

    @pytest.mark.parametrize("path", INVALID_FIXTURES, ids=lambda p: p.stem)
    def test_broken_fixture_is_rejected_naming_the_field(self, capsys, path):
        """A broken file fails with exit code 1 and its error names the broken field's path."""
        expected_path = EXPECTED[path.name]["path"]
        code = main(["check", str(path)])
        out = capsys.readouterr().out
        assert code == 1
        assert out.startswith(f"INVALID {path}")
        assert f"    {expected_path}: " in out

    @pytest.mark.parametrize("path", INVALID_FIXTURES, ids=lambda p: p.stem)
    def test_broken_fixture_json_lists_exactly_that_path(self, capsys, path):
        """In `--json` output the broken field's path is the (only) error path."""
        code, results = _check_json(capsys, path)
        assert code == 1
        [result] = results
        assert result["ok"] is False
        assert [e["path"] for e in result["errors"]] == [EXPECTED[path.name]["path"]]
        assert all(e["reason"] for e in result["errors"])

    def test_one_broken_file_fails_the_run_but_all_are_reported(self, capsys):
        """A mix of good and bad files exits 1 and still reports every file."""
        good, bad = ORDER_FIXTURES[0], INVALID / "bad_ori.json"
        code, results = _check_json(capsys, good, bad, good)
        assert code == 1
        assert [r["ok"] for r in results] == [True, False, True]

    def test_missing_file_is_reported_not_raised(self, capsys, tmp_path):
        """A file that does not exist is an INVALID result with exit code 1, not a traceback."""
        code, results = _check_json(capsys, tmp_path / "nope.json")
        assert code == 1
        assert results[0]["errors"][0]["path"] == "(message)"

    def test_errors_do_not_echo_personal_data(self, capsys):
        """A rejected name is reported by its path, never by its value."""
        main(["check", str(INVALID / "digits_in_name.json")])
        assert "J0se" not in capsys.readouterr().out


class TestOtherCommands:
    def test_version_prints_the_package_version(self, capsys):
        """`engine version` prints the installed version and exits 0."""
        assert main(["version"]) == 0
        assert capsys.readouterr().out.splitlines()[0] == f"engine {__version__}"

    @pytest.mark.parametrize("argv", [["version"], ["--version"]])
    def test_version_names_the_niem_and_layout_versions_it_speaks(self, capsys, argv):
        """The NIEM namespaces of the shipped schemas and the shipped layout's version."""
        import re

        import yaml

        schemas = FIXTURES.parent.parent / "schemas"
        try:
            assert main(argv) == 0
        except SystemExit as done:  # argparse's --version exits
            assert done.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"engine {__version__}\n")
        core = (schemas / "niem" / "niem" / "niem-core.xsd").read_text(encoding="utf-8")
        core_version = re.search(r'targetNamespace="[^"]*/niem-core/([0-9.]+)/"', core)
        assert core_version, "niem-core.xsd has no versioned target namespace"
        assert f"niem-core {core_version.group(1)}" in out
        layout = yaml.safe_load((schemas / "clets-layout.yaml").read_text(encoding="utf-8"))
        assert f"CLETS layout {layout['layout_version']}" in out

    def test_python_dash_m_engine_runs_the_cli(self):
        """`python -m engine version` works in a fresh interpreter (the module entry point)."""
        done = subprocess.run([sys.executable, "-m", "engine", "version"],
                              cwd=FIXTURES.parent.parent, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0
        assert done.stdout.splitlines()[0] == f"engine {__version__}"

    def test_help_lists_check_and_version(self, capsys):
        """`engine --help` exits 0 and lists the core commands."""
        with pytest.raises(SystemExit) as info:
            main(["--help"])
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert "check" in out
        assert "version" in out

    def test_no_command_is_a_usage_error(self, capsys):
        """Running `engine` with no command is a usage error (exit code 2)."""
        with pytest.raises(SystemExit) as info:
            main([])
        assert info.value.code == 2
        assert "usage:" in capsys.readouterr().err

    def test_check_without_files_is_a_usage_error(self, capsys):
        """`engine check` needs at least one file."""
        with pytest.raises(SystemExit) as info:
            main(["check"])
        assert info.value.code == 2
