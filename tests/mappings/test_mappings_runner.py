"""`engine mapping test`: PASS/FAIL per case, a diff that points at the field, exit codes."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import pytest

from engine.cli import main
from engine.formats import Rendered
from engine.mappings.runner import field_differences, run_mapping_dir

FIXTURES = Path(__file__).parent / "fixtures"
WRONG = FIXTURES / "wrong-expected"


@pytest.fixture
def good_copy(tmp_path: Path) -> Path:
    """The wrong-expected fixture with its expected output corrected, in a scratch folder."""
    folder = tmp_path / "good"
    shutil.copytree(WRONG, folder)
    expected = folder / "tests" / "two_protected.expected.json"
    expected.write_text(expected.read_text().replace('"Kay"', '"Kai"'))
    return folder


class TestWrongExpected:
    def test_case_fails_naming_the_field(self) -> None:
        """A wrong expected output fails and names the canonical path that differs."""
        [result] = run_mapping_dir(WRONG)
        assert result.status == "FAIL"
        assert result.details[0] == "protected_persons.1.name.given: differs"

    def test_diff_shows_expected_and_mapped_lines(self) -> None:
        """The unified diff shows the expected line and the mapped line."""
        [result] = run_mapping_dir(WRONG)
        assert '-        "given": "Kay"' in result.details
        assert '+        "given": "Kai"' in result.details
        assert any(line.startswith("--- ") and "expected.json" in line
                   for line in result.details)

    def test_cli_exits_non_zero(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`engine mapping test DIR` exits 1 and prints FAIL with the diff."""
        assert main(["mapping", "test", str(WRONG)]) == 1
        out = capsys.readouterr().out
        assert "FAIL  wrong-expected/two_protected" in out
        assert "1 failed" in out

    def test_corrected_expected_passes(self, good_copy: Path) -> None:
        """With the expected output corrected, the same case passes."""
        assert [r.status for r in run_mapping_dir(good_copy)] == ["PASS"]


class TestCaseKinds:
    def test_expected_error_that_does_not_happen_fails(self, good_copy: Path) -> None:
        """A case pinned as refused fails when the message maps to a valid order."""
        tests = good_copy / "tests"
        (tests / "two_protected.expected.json").unlink()
        (tests / "two_protected.expected-error.json").write_text(
            json.dumps({"error": "OrderInvalid", "fields": ["order_id"]}))
        [result] = run_mapping_dir(good_copy)
        assert result.status == "FAIL"
        assert "mapped to a valid order" in result.details[0]

    def test_expected_error_at_other_fields_fails(self, good_copy: Path) -> None:
        """A refused message whose errors are at other fields than pinned fails, listing both."""
        tests = good_copy / "tests"
        (tests / "two_protected.expected.json").unlink()
        (tests / "two_protected.expected-error.json").write_text(
            json.dumps({"error": "OrderInvalid", "fields": ["case_number"]}))
        data = json.loads((tests / "two_protected.input.json").read_text())
        data["id"] = "has spaces"
        (tests / "two_protected.input.json").write_text(json.dumps(data))
        [result] = run_mapping_dir(good_copy)
        assert result.status == "FAIL"
        assert "expected errors at ['case_number'], got them at ['order_id']" in result.details[0]

    def test_case_without_expected_output_fails(self, good_copy: Path) -> None:
        """An input with no expected file is a failure, not a silent pass."""
        (good_copy / "tests" / "two_protected.expected.json").unlink()
        [result] = run_mapping_dir(good_copy)
        assert result.status == "FAIL"
        assert "no two_protected.expected.json" in result.details[0]

    def test_folder_without_cases_fails(self, good_copy: Path) -> None:
        """A mapping without test cases is reported as failing."""
        shutil.rmtree(good_copy / "tests")
        [result] = run_mapping_dir(good_copy)
        assert result.status == "FAIL"

    def test_broken_mapping_is_an_error_result(self) -> None:
        """A mapping that does not load gives one ERROR result with the load messages."""
        [result] = run_mapping_dir(FIXTURES / "broken")
        assert result.status == "ERROR"
        assert any("order.expiry_date" in line for line in result.details)


class TestRenderedOutputs:
    def test_unavailable_renderer_is_noted_not_failed(self, good_copy: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        """A pinned NIEM output is skipped with a note when this build has no NIEM renderer."""
        niem = importlib.import_module("engine.niem")
        monkeypatch.delattr(niem, "render_niem", raising=False)
        (good_copy / "tests" / "two_protected.expected-niem.xml").write_text("<x/>")
        [result] = run_mapping_dir(good_copy)
        assert result.status == "PASS"
        assert result.notes == ("two_protected.expected-niem.xml not compared: "
                                "engine.niem.render_niem is not available in this build",)

    def test_available_renderer_output_is_compared(self, good_copy: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        """When the renderer exists, its output is compared with the pinned file."""
        niem = importlib.import_module("engine.niem")
        seen = []

        def fake_render_niem(order, ctx):
            seen.append(ctx)
            return Rendered(f"<order id='{order.order_id}'/>\n".encode(), "application/xml")

        monkeypatch.setattr(niem, "render_niem", fake_render_niem, raising=False)
        pinned = good_copy / "tests" / "two_protected.expected-niem.xml"
        pinned.write_text("<order id='LA-DV-9999'/>\n")
        assert [r.status for r in run_mapping_dir(good_copy)] == ["PASS"]
        assert seen[0].mcn == "TEST-two-protected"
        pinned.write_text("<order id='OTHER'/>\n")
        [result] = run_mapping_dir(good_copy)
        assert result.status == "FAIL"
        assert "-<order id='OTHER'/>" in result.details


    def test_update_rendered_rewrites_only_pinned_outputs(
            self, good_copy: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> None:
        """`--update-rendered` rewrites a stale pinned NIEM file and leaves the canonical one."""
        niem = importlib.import_module("engine.niem")
        monkeypatch.setattr(niem, "render_niem",
                            lambda order, ctx: Rendered(b"<new/>\n", "application/xml"),
                            raising=False)
        tests = good_copy / "tests"
        pinned = tests / "two_protected.expected-niem.xml"
        pinned.write_text("<old/>\n")
        canonical = (tests / "two_protected.expected.json").read_bytes()
        assert main(["mapping", "test", "--update-rendered", str(good_copy)]) == 0
        assert "two_protected.expected-niem.xml updated from engine.niem.render_niem" \
            in capsys.readouterr().out
        assert pinned.read_text() == "<new/>\n"
        assert (tests / "two_protected.expected.json").read_bytes() == canonical
        assert [r.status for r in run_mapping_dir(good_copy)] == ["PASS"]

    def test_render_context_file_sets_the_transmission_facts(
            self, good_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """tests/render-context.json overrides the MCN and time the pinned output was made with."""
        niem = importlib.import_module("engine.niem")
        seen = []
        monkeypatch.setattr(niem, "render_niem",
                            lambda order, ctx: seen.append(ctx) or Rendered(b"<x/>\n", "a/b"),
                            raising=False)
        tests = good_copy / "tests"
        (tests / "two_protected.expected-niem.xml").write_text("<x/>\n")
        (tests / "render-context.json").write_text(json.dumps(
            {"mcn": "MCN-1", "sent_at": "2026-11-21T00:00:00+00:00"}))
        assert [r.status for r in run_mapping_dir(good_copy)] == ["PASS"]
        assert seen[0].mcn == "MCN-1" and seen[0].sent_at.day == 21
        (tests / "render-context.json").write_text("{not json")
        [result] = run_mapping_dir(good_copy)
        assert result.status == "FAIL"
        assert "render-context.json is not usable" in result.details[0]


class TestFieldDifferences:
    def test_nested_and_list_differences(self) -> None:
        """Differences are listed by canonical path, including missing and extra items."""
        expected = {"a": {"b": 1, "c": 2}, "l": [1, 2], "gone": 1}
        actual = {"a": {"b": 1, "c": 3}, "l": [1], "new": 1}
        assert field_differences(expected, actual) == [
            "a.c: differs",
            "l: expected 2 item(s), the mapping gave 1",
            "gone: expected, but the mapping gave none",
            "new: the mapping gave a value the expected order does not have",
        ]
