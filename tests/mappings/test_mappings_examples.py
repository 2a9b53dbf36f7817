"""The court mappings shipped in config/mappings pass their own cases, through the CLI too."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.mappings import load_mapping
from engine.mappings.runner import discover_mapping_dirs, run_mapping_dir

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted(discover_mapping_dirs([REPO / "config" / "mappings"]))


def test_three_formats_are_shipped() -> None:
    """config/mappings holds a JSON, an XML, a CSV and record-export court mappings."""
    formats = {load_mapping(d / "mapping.yaml").format for d in SHIPPED}
    assert formats == {"json", "xml", "csv", "records"}


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_shipped_mapping_passes_every_case(folder: Path) -> None:
    """Every case of a shipped mapping passes, and each has several cases."""
    results = run_mapping_dir(folder)
    failures = [(r.case, r.details) for r in results if not r.ok]
    assert failures == []
    assert len(results) >= 4


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_shipped_mapping_cases_cover_rejects_and_several_protected(folder: Path) -> None:
    """Each shipped mapping pins a refused message and an order with several protected persons."""
    tests_dir = folder / "tests"
    assert list(tests_dir.glob("*.expected-error.json"))
    many_protected = [p for p in tests_dir.glob("*.expected.json")
                      if p.read_text(encoding="utf-8").count('"relationship"') >= 2]
    assert many_protected


def test_cli_mapping_test_without_dirs_runs_config_mappings(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`engine mapping test` with no folder runs config/mappings and exits 0 when all pass."""
    monkeypatch.chdir(REPO)
    assert main(["mapping", "test"]) == 0
    out = capsys.readouterr().out
    for folder in SHIPPED:
        assert f"PASS  {folder.name}/" in out
    assert "0 failed" in out


def test_cli_runs_as_a_module() -> None:
    """`python -m engine mapping check` loads every shipped mapping in a fresh process."""
    files = [str(d / "mapping.yaml") for d in SHIPPED]
    done = subprocess.run([sys.executable, "-m", "engine", "mapping", "check", *files],
                          cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("OK ") == len(SHIPPED)


@pytest.mark.parametrize(("module", "renderer", "folder", "case", "suffix"), [
    ("engine.niem", "render_niem", "santa-clara-odyssey-json", "dv_tro_two_protected",
     ".expected-niem.xml"),
    ("engine.clets", "render_clets", "kern-legacy-csv", "dv_tro_one_row_per_party",
     ".expected-clets.txt"),
])
def test_pinned_outbound_message_is_compared(module: str, renderer: str, folder: str,
                                             case: str, suffix: str) -> None:
    """A shipped case's pinned NIEM/CLETS message is rendered and compared, not just noted."""
    formats = importlib.import_module(module)
    assert callable(getattr(formats, renderer))
    mapping_dir = REPO / "config" / "mappings" / folder
    assert (mapping_dir / "tests" / f"{case}{suffix}").is_file()
    [result] = [r for r in run_mapping_dir(mapping_dir) if r.case == case]
    assert result.status == "PASS"
    assert result.notes == ()
