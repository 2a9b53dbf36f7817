"""The two record-export examples: refusals pinned for their reason only, and coverage.

Each refusal case of `tulare-pipe-records` (pipe-delimited) and `madera-fixed-width` states
why the file must be refused (rule and line); these tests break the file *another* way and
show the case then fails, so a case cannot pass for the wrong reason. Coverage: a mapping
with a rule removed is reported as leaving that column unread.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.canonical import decode_order
from engine.clets import render_clets
from engine.cli import main
from engine.mappings import load_mapping
from engine.mappings.runner import TEST_RECORD_ID, run_mapping_dir

REPO = Path(__file__).resolve().parents[2]
TULARE = REPO / "config" / "mappings" / "tulare-pipe-records"
MADERA = REPO / "config" / "mappings" / "madera-fixed-width"


def _copy(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / folder.name
    shutil.copytree(folder, target)
    return target


def _status(folder: Path, case: str) -> tuple[str, tuple[str, ...]]:
    [result] = [r for r in run_mapping_dir(folder) if r.case == case]
    return result.status, result.details


def _input(folder: Path, case: str) -> Path:
    [found] = (folder / "tests").glob(f"{case}.input.*")
    return found


@pytest.mark.parametrize("folder", [TULARE, MADERA], ids=lambda p: p.name)
def test_every_case_passes_and_no_column_is_left_unread(folder: Path) -> None:
    """Both examples pass every case, and read (or deliberately ignore) every column."""
    results = run_mapping_dir(folder)
    assert [(r.case, r.details) for r in results if not r.ok] == []
    [coverage] = [r for r in results if r.case == "(coverage)"]
    assert coverage.notes == ("every source column is read or ignored on purpose",)
    assert load_mapping(folder / "mapping.yaml").unread_columns() == []


@pytest.mark.parametrize("folder", [TULARE, MADERA], ids=lambda p: p.name)
@pytest.mark.parametrize(("case", "other"), [("truncated_file", "mistyped_record_type"),
                                             ("mistyped_record_type", "truncated_file")])
def test_refusal_case_fails_when_the_file_is_broken_another_way(
        folder: Path, case: str, other: str, tmp_path: Path) -> None:
    """The truncated case given a mistyped file (and the reverse) fails: each case passes
    only for the reason its expected-error.json states."""
    copy = _copy(folder, tmp_path)
    assert _status(copy, case)[0] == "PASS"
    _input(copy, case).write_bytes(_input(copy, other).read_bytes())
    status, details = _status(copy, case)
    assert status == "FAIL"
    assert any("expected rule" in line or "expected line" in line for line in details)


def test_truncated_case_fails_for_a_wrong_trailer_count(tmp_path: Path) -> None:
    """A file refused for its record count is not accepted as the truncated case."""
    copy = _copy(TULARE, tmp_path)
    _input(copy, "truncated_file").write_bytes(_input(copy, "wrong_record_count").read_bytes())
    status, details = _status(copy, "truncated_file")
    assert status == "FAIL"
    assert "source.structure.counts[0]" in "\n".join(details)


def test_refusal_case_fails_when_the_file_maps(tmp_path: Path) -> None:
    """A refusal case whose file is fixed maps to an order, and the case fails saying so."""
    copy = _copy(MADERA, tmp_path)
    _input(copy, "truncated_file").write_bytes(
        _input(copy, "ea_tro_two_protected_not_served").read_bytes())
    status, details = _status(copy, "truncated_file")
    assert status == "FAIL"
    assert "mapped to a valid order" in details[0]


class TestCoverage:
    def _drop_weight(self, tmp_path: Path) -> Path:
        copy = _copy(TULARE, tmp_path)
        mapping = copy / "mapping.yaml"
        text = mapping.read_text(encoding="utf-8")
        line = "      weight_pounds: {path: WGT, transform: [int]}\n"
        assert line in text
        mapping.write_text(text.replace(line, ""), encoding="utf-8")
        return copy

    def test_dropping_a_field_names_the_unread_column(self, tmp_path: Path) -> None:
        """Remove the weight rule: the coverage report names RSP.WGT, and only it."""
        copy = self._drop_weight(tmp_path)
        [coverage] = [r for r in run_mapping_dir(copy) if r.case == "(coverage)"]
        assert coverage.notes == ("unread columns (neither read nor in `ignore`): RSP.WGT",)

    def test_a_case_requiring_every_column_read_fails(self, tmp_path: Path) -> None:
        """The case with `all_columns_read` fails naming the column; a case without it that
        never depended on the column still passes."""
        copy = self._drop_weight(tmp_path)
        results = {r.case: r for r in run_mapping_dir(copy)}
        failing = results["dv_oah_served_two_protected"]
        assert failing.status == "FAIL"
        assert "never reads: RSP.WGT" in failing.details[0]
        assert results["truncated_file"].ok

    def test_cli_prints_the_report(self, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
        """`engine mapping test DIR` prints the unread column under (coverage)."""
        copy = self._drop_weight(tmp_path)
        assert main(["mapping", "test", str(copy)]) == 1
        out = capsys.readouterr().out
        assert "note: unread columns (neither read nor in `ignore`): RSP.WGT" in out

    def test_ignoring_the_column_on_purpose_clears_the_report(self, tmp_path: Path) -> None:
        """Listing the column under the record type's `ignore` says it is left on purpose."""
        copy = self._drop_weight(tmp_path)
        mapping = copy / "mapping.yaml"
        text = mapping.read_text(encoding="utf-8")
        text = text.replace("      columns: [REC, NAME, SEX, RACE, DOB, HGT, WGT, EYE, HAIR, "
                            "DL_NO, DL_ST]\n",
                            "      columns: [REC, NAME, SEX, RACE, DOB, HGT, WGT, EYE, HAIR, "
                            "DL_NO, DL_ST]\n      ignore: [WGT]\n")
        mapping.write_text(text, encoding="utf-8")
        results = {r.case: r for r in run_mapping_dir(copy)}
        assert results["(coverage)"].notes == (
            "every source column is read or ignored on purpose",)
        assert "never reads" not in "\n".join(results["dv_oah_served_two_protected"].details)


class TestHarnessFiles:
    def test_expected_error_with_an_unknown_key_fails(self, tmp_path: Path) -> None:
        """A misspelt key in expected-error.json fails the case instead of being ignored."""
        copy = _copy(TULARE, tmp_path)
        (copy / "tests" / "truncated_file.expected-error.json").write_text(json.dumps(
            {"error": "StructureError", "rule": "source.structure.last", "lines": 7}))
        status, details = _status(copy, "truncated_file")
        assert status == "FAIL"
        assert "unknown key(s) lines" in details[0]

    def test_expected_error_naming_only_the_kind_fails(self, tmp_path: Path) -> None:
        """An expected-error.json that says no reason fails: it could pass for any reason."""
        copy = _copy(TULARE, tmp_path)
        (copy / "tests" / "truncated_file.expected-error.json").write_text(
            '{"error": "StructureError"}')
        status, details = _status(copy, "truncated_file")
        assert status == "FAIL"
        assert "says only the error kind" in details[0]

    def test_message_fragment_must_appear(self, tmp_path: Path) -> None:
        """`message` is a fragment the error text must contain."""
        copy = _copy(TULARE, tmp_path)
        error_file = copy / "tests" / "wrong_record_count.expected-error.json"
        error_file.write_text(json.dumps({"error": "StructureError",
                                          "message": "counts 12 records"}))
        status, details = _status(copy, "wrong_record_count")
        assert status == "FAIL"
        assert "expected the error to say 'counts 12 records'" in details[0]

    def test_case_file_with_an_unknown_key_fails(self, tmp_path: Path) -> None:
        """`<case>.case.json` refuses keys it does not know."""
        copy = _copy(TULARE, tmp_path)
        (copy / "tests" / "ch_tro_issue_not_served.case.json").write_text(
            '{"all_columns_reed": true}')
        status, details = _status(copy, "ch_tro_issue_not_served")
        assert status == "FAIL"
        assert "unknown key(s) all_columns_reed" in details[0]

    def test_case_render_context_is_used_for_that_case_only(self, tmp_path: Path) -> None:
        """A case's render_context sets the MCN of its pinned output."""
        copy = _copy(TULARE, tmp_path)
        case = "dv_oah_served_two_protected"
        (copy / "tests" / f"{case}.case.json").write_text(json.dumps(
            {"render_context": {"mcn": "CASE-MCN-7"}}))
        status, details = _status(copy, case)
        assert status == "FAIL"
        assert "+MCN/CASE-MCN-7" in details

    def test_inputs_of_any_extension_are_cases(self) -> None:
        """`.txt` and `.dat` exports are cases like `.json` ones."""
        cases = {r.case for r in run_mapping_dir(TULARE)} | {r.case for r in
                                                              run_mapping_dir(MADERA)}
        assert {"dv_oah_served_two_protected", "wv_oah_served"} <= cases


def test_default_record_id_fits_the_clets_renderer() -> None:
    """The default record id for versions after the entry renders in CLETS (NIC is 15
    letters/digits; the old TEST-RECORD was refused)."""
    order = decode_order((TULARE / "tests" / "dv_oah_served_two_protected.expected.json")
                         .read_bytes())
    from engine.mappings.runner import _render_context

    context = _render_context(TULARE / "tests", "x", order)
    assert context.doj_record_id == TEST_RECORD_ID
    rendered = render_clets(order, context)
    assert f"NIC/{TEST_RECORD_ID}".encode() in rendered.body
