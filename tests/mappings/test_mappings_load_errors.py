"""A faulty mapping is refused at load with file, line and key for each fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.errors import MappingError
from engine.mappings import load_mapping

FIXTURES = Path(__file__).parent / "fixtures"
BROKEN = FIXTURES / "broken" / "mapping.yaml"

#: A valid JSON mapping; tests replace one line to break it in one way.
VALID = """\
mapping: 1
name: t
source:
  format: json
code_tables:
  sex:
    codes: {M: male, F: female}
    unknown: {default: unknown}
order:
  court:
    ori: {const: CA019015J}
    name: {const: Court}
  case_number: case
  order_id: id
  version: {const: "1"}
  action: {const: issue}
  order_type: {const: dv_tro}
  issued_at: {path: issued, transform: [{datetime: {format: "%Y-%m-%dT%H:%M:%S%z"}}]}
  effective_date: effective
  restrained_persons:
    each: restrained
    fields:
      name: {path: name, transform: [{split_name: auto}]}
      sex: {path: sex, table: sex}
      race: {const: unknown}
  protected_persons:
    each: protected
    fields:
      name: {path: name, transform: [{split_name: auto}]}
"""


def _load(tmp_path: Path, text: str):
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return load_mapping(path)


def _error(tmp_path: Path, old: str, new: str) -> str:
    assert old in VALID
    with pytest.raises(MappingError) as info:
        _load(tmp_path, VALID.replace(old, new, 1))
    return str(info.value)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


class TestBrokenFixture:
    def test_each_fault_is_named_with_file_line_and_key(self) -> None:
        """The broken fixture's four kinds of fault are each reported at their line and key."""
        with pytest.raises(MappingError) as info:
            load_mapping(BROKEN)
        text = BROKEN.read_text(encoding="utf-8")
        message = str(info.value)
        expected = {
            "order.expiry_date": _line_of(text, "expiry_date:"),
            "order.restrained_persons.fields.colour": _line_of(text, "colour:"),
            "order.case_number.path": _line_of(text, "Case..Number"),
            "order.protected_persons.fields.relationship.tabel": _line_of(text, "tabel"),
            "code_tables.sex.codes": _line_of(text, "codes: {M: male, F: female}"),
            "code_tables.race.codes.Z": _line_of(text, "Z: purple"),
        }
        for key, line in expected.items():
            assert f"{BROKEN}:{line}: {key}: " in message

    def test_error_attributes_name_the_first_fault(self) -> None:
        """The MappingError carries file, line and key of its first fault and lists them all."""
        with pytest.raises(MappingError) as info:
            load_mapping(BROKEN)
        exc = info.value
        assert exc.file == str(BROKEN)
        assert exc.line == 8 and exc.key == "code_tables.sex.codes"
        assert len(exc.problems) == 6

    def test_cli_check_fails_and_prints_each_fault(
            self, capsys: pytest.CaptureFixture[str]) -> None:
        """`engine mapping check` exits 1 and prints one line per fault."""
        assert main(["mapping", "check", str(BROKEN)]) == 1
        out = capsys.readouterr().out
        assert out.startswith(f"INVALID {BROKEN}")
        assert out.count(f"{BROKEN}:") == 6


class TestLoadChecks:
    def test_valid_base_loads(self, tmp_path: Path) -> None:
        """The base mapping these tests break is itself valid."""
        assert _load(tmp_path, VALID).format == "json"

    def test_unknown_top_level_key(self, tmp_path: Path) -> None:
        """A misspelt top-level key is named with its line."""
        message = _error(tmp_path, "name: t\n", "name: t\ncode_table: {}\n")
        assert ":3: code_table: unknown key" in message

    def test_target_not_in_model(self, tmp_path: Path) -> None:
        """A target that is no field of the canonical order is refused with the field list."""
        message = _error(tmp_path, "  case_number: case", "  case_no: case")
        assert ":13: order.case_no: not a field of the canonical Order" in message

    def test_required_target_unmapped(self, tmp_path: Path) -> None:
        """A field the canonical model requires must be mapped."""
        message = _error(tmp_path, "  order_id: id\n", "")
        assert "requires 'order_id'" in message

    @pytest.mark.parametrize("path", ["Case..Number", "Case.Number[x]", "Case[", ".Case",
                                      "Case. Number"])
    def test_invalid_json_path(self, tmp_path: Path, path: str) -> None:
        """A JSON path that is not keys and [index]es joined by dots can never match."""
        message = _error(tmp_path, "  case_number: case", f"  case_number: '{path}'")
        assert ":13: order.case_number.path: path can never match" in message

    def test_invalid_xpath(self, tmp_path: Path) -> None:
        """A syntactically invalid XPath is a path that can never match."""
        text = VALID.replace("format: json", "format: xml").replace(
            "  case_number: case", "  case_number: 'Case/[Number'")
        with pytest.raises(MappingError, match=r":13: order\.case_number\.path: path can never"):
            _load(tmp_path, text)

    def test_undeclared_xml_prefix(self, tmp_path: Path) -> None:
        """An XPath using a prefix not in source.namespaces is refused."""
        text = VALID.replace("format: json", "format: xml\n  namespaces: {nc: urn:x}").replace(
            "  case_number: case", "  case_number: 'j:Case/nc:Number'")
        with pytest.raises(MappingError, match=r"prefix 'j' is not declared"):
            _load(tmp_path, text)

    def test_quoted_xpath_literal_is_not_a_prefix(self, tmp_path: Path) -> None:
        """A colon inside a quoted XPath literal is text, not an undeclared prefix."""
        text = VALID.replace("format: json", "format: xml\n  namespaces: {nc: urn:x}").replace(
            "  case_number: case", "  case_number: \"nc:Id[@kind='urn:court:case']\"")
        for path in ("id", "issued", "effective", "restrained", "name", "sex", "protected"):
            text = text.replace(f"path: {path}", f"path: nc:{path}").replace(
                f": {path}\n", f": nc:{path}\n").replace(f"each: {path}", f"each: nc:{path}")
        assert _load(tmp_path, text).format == "xml"

    def test_csv_column_not_in_declared_header(self, tmp_path: Path) -> None:
        """A CSV path naming a column the declared header lacks is refused."""
        text = VALID.replace("format: json", "format: csv\n  columns: [case, id]")
        with pytest.raises(MappingError, match=r"column 'issued' is not in source\.columns"):
            _load(tmp_path, text)

    def test_table_value_not_canonical(self, tmp_path: Path) -> None:
        """A code table that maps to a value outside the canonical enum is refused at that code."""
        message = _error(tmp_path, "F: female}", "F: femme}")
        assert ":7: code_tables.sex.codes.F: 'femme' is not a canonical sex" in message

    def test_constant_not_canonical(self, tmp_path: Path) -> None:
        """A constant outside the canonical enum is refused with the allowed values."""
        message = _error(tmp_path, "{const: dv_tro}", "{const: DVTRO}")
        assert "order.order_type.const: 'DVTRO' is not a canonical order_type" in message

    def test_missing_required_code(self, tmp_path: Path) -> None:
        """`require: all` lists the canonical codes no court code maps to."""
        message = _error(tmp_path, "unknown: {default: unknown}",
                         "unknown: {default: unknown}\n    require: all")
        assert "code_tables.sex.codes: no court code maps to canonical sex nonbinary, unknown" \
            in message

    def test_action_table_must_reach_issue(self, tmp_path: Path) -> None:
        """A table for the action must be able to produce 'issue', which version 1 needs."""
        text = VALID.replace("  action: {const: issue}", "  action: {path: ev, table: ev}").replace(
            "code_tables:\n", "code_tables:\n  ev:\n    codes: {M: modify}\n    unknown: reject\n")
        with pytest.raises(MappingError, match="canonical action issue"):
            _load(tmp_path, text)

    def test_unknown_code_rule_required(self, tmp_path: Path) -> None:
        """A code table must say what an unknown court code does."""
        message = _error(tmp_path, "    unknown: {default: unknown}\n", "")
        assert "code_tables.sex.unknown: say what an unknown court code does" in message

    def test_unknown_table(self, tmp_path: Path) -> None:
        """A rule naming a table that does not exist is refused."""
        message = _error(tmp_path, "table: sex}", "table: gender}")
        assert "no code table named 'gender'" in message

    def test_unused_table(self, tmp_path: Path) -> None:
        """A table no rule uses is reported (usually a misspelt table name)."""
        message = _error(tmp_path, "code_tables:\n", "code_tables:\n  spare:\n"
                         "    codes: {A: b}\n    unknown: reject\n")
        assert "code_tables.spare: is defined but no rule uses it" in message

    def test_unknown_transform(self, tmp_path: Path) -> None:
        """An unknown transform name is refused with the known ones."""
        message = _error(tmp_path, "transform: [{split_name: auto}]}\n      sex",
                         "transform: [titlecase]}\n      sex")
        assert "unknown transform 'titlecase'" in message

    def test_split_name_on_non_name(self, tmp_path: Path) -> None:
        """split_name can only feed a person name."""
        message = _error(tmp_path, "  case_number: case",
                         "  case_number: {path: case, transform: [{split_name: auto}]}")
        assert "split_name gives a person name" in message

    def test_datetime_without_zone(self, tmp_path: Path) -> None:
        """A datetime format without an offset needs a time zone."""
        message = _error(tmp_path, '"%Y-%m-%dT%H:%M:%S%z"', '"%m/%d/%Y %I:%M %p"')
        assert "needs `tz`" in message

    def test_unknown_time_zone(self, tmp_path: Path) -> None:
        """A time zone must be an IANA zone name."""
        message = _error(tmp_path, 'format: "%Y-%m-%dT%H:%M:%S%z"',
                         'format: "%m/%d/%Y %H:%M", tz: Pacific/Atlantis')
        assert "not an IANA time zone" in message

    def test_bad_regex(self, tmp_path: Path) -> None:
        """A regular expression that does not compile is refused at load."""
        message = _error(tmp_path, "  case_number: case",
                         "  case_number: {path: case, transform: [{regex: '([A-Z'}]}")
        assert "not a usable regular expression" in message

    def test_duplicate_key(self, tmp_path: Path) -> None:
        """A key written twice is refused (YAML would silently keep the last)."""
        message = _error(tmp_path, "  order_id: id\n", "  order_id: id\n  order_id: other\n")
        assert "key written twice (first at line 14)" in message

    def test_not_yaml(self, tmp_path: Path) -> None:
        """A file that is not YAML is refused with the line of the syntax error."""
        message = _error(tmp_path, "  order_id: id\n", "  order_id: [id\n")
        assert "(yaml): not valid YAML" in message

    def test_language_version_required(self, tmp_path: Path) -> None:
        """The mapping language version must be given."""
        message = _error(tmp_path, "mapping: 1\n", "mapping: 2\n")
        assert ":1: mapping: must be 1" in message

    def test_rule_needs_one_source(self, tmp_path: Path) -> None:
        """A rule with both a path and a constant is refused."""
        message = _error(tmp_path, "  order_id: id", "  order_id: {path: id, const: X}")
        assert "exactly one of `path`, `paths`, `const`" in message

    def test_several_paths_need_join(self, tmp_path: Path) -> None:
        """Several paths into one text field need a join."""
        message = _error(tmp_path, "  order_id: id", "  order_id: {paths: [a, b]}")
        assert "add a `join` transform" in message

    def test_condition_order_type_must_be_canonical(self, tmp_path: Path) -> None:
        """A condition on an order type must name canonical order types."""
        message = _error(tmp_path, "  order_id: id",
                         "  order_id: {path: id, when: {order_type: [DV-110]}}")
        assert "order.order_id.when.order_type: must be canonical order types" in message
