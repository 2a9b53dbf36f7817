"""Applying a mapping: codes, conditions, repeated groups, and errors that say where."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.errors import DecodeError, OrderInvalid
from engine.mappings import Mapping, load_mapping
from engine.model import Order, Sex

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "config" / "mappings"
JSON_DIR = MAPPINGS / "santa-clara-odyssey-json"
CSV_DIR = MAPPINGS / "kern-legacy-csv"
XML_DIR = MAPPINGS / "orange-ecf5-xml"


@pytest.fixture(scope="module")
def json_mapping() -> Mapping:
    return load_mapping(JSON_DIR / "mapping.yaml")


@pytest.fixture
def sample() -> dict:
    return json.loads((JSON_DIR / "tests" / "dv_tro_two_protected.input.json").read_text())


def _apply(mapping: Mapping, data: dict) -> Order:
    return mapping.apply(json.dumps(data).encode())


def _errors(mapping: Mapping, data: dict) -> dict[str, str]:
    with pytest.raises(OrderInvalid) as info:
        _apply(mapping, data)
    return {e.path: e.reason for e in info.value.errors}


class TestCodeTables:
    def test_unknown_code_with_reject_names_the_field(self, json_mapping: Mapping,
                                                      sample: dict) -> None:
        """An unknown code in a `reject` table makes the order invalid at its canonical path."""
        sample["Order"]["Event"] = "REOPEN"
        errors = _errors(json_mapping, sample)
        assert list(errors) == ["action"]
        assert "not in code table 'events'" in errors["action"]

    def test_unknown_code_with_default_maps_to_the_default(self, json_mapping: Mapping,
                                                           sample: dict) -> None:
        """An unknown code in a `default` table becomes the table's default code."""
        sample["Parties"][1]["Gender"] = "Q"
        sample["Parties"][1]["HairColor"] = "PUR"
        person = _apply(json_mapping, sample).restrained_persons[0]
        assert person.sex is Sex.UNKNOWN
        assert person.hair_color.value == "unknown"

    def test_ignore_case_table(self) -> None:
        """A table with `ignore_case` matches court codes in any case."""
        mapping = load_mapping(CSV_DIR / "mapping.yaml")
        raw = (CSV_DIR / "tests" / "dv_tro_one_row_per_party.input.csv").read_bytes()
        order = mapping.apply(raw.replace(b"DV-110", b"dv-110"))
        assert order.order_type.value == "dv_tro"


class TestConditions:
    def test_field_used_only_for_listed_order_types(self, json_mapping: Mapping,
                                                    sample: dict) -> None:
        """The Brady flag is read only for the order types its `when` lists."""
        assert _apply(json_mapping, sample).firearms.brady_indicator is False  # dv_tro
        sample["Order"]["TypeCode"] = "DV130"
        assert _apply(json_mapping, sample).firearms.brady_indicator is True

    def test_field_used_only_when_another_has_a_value(self, json_mapping: Mapping,
                                                      sample: dict) -> None:
        """served_by is read only when the served flag says Y."""
        sample["Order"]["Service"] = {"Served": "N", "ServedBy": "Deputy"}
        assert _apply(json_mapping, sample).service.served_by is None

    def test_default_applies_when_source_is_missing(self, json_mapping: Mapping,
                                                    sample: dict) -> None:
        """A rule's default is used when the source has no value."""
        del sample["Order"]["Firearms"]["Relinquish"]
        assert _apply(json_mapping, sample).firearms.relinquishment_ordered is False


class TestRepeatedGroups:
    def test_every_matching_item_becomes_a_person_in_order(self, json_mapping: Mapping,
                                                           sample: dict) -> None:
        """Each party whose role passes `where` becomes a protected person, in source order."""
        sample["Parties"].append({"Role": "PROT", "FullName": "HALVORSEN, ELSA",
                                  "Relationship": "CHILD", "Minor": True})
        order = _apply(json_mapping, sample)
        assert [p.name.given for p in order.protected_persons] == ["INGRID", "SOREN", "ELSA"]

    def test_several_restrained_persons(self, json_mapping: Mapping, sample: dict) -> None:
        """Two respondents in the export become two restrained persons."""
        second = dict(sample["Parties"][1], Name={"Last": "Lindgren", "First": "Nils"})
        sample["Parties"].append(second)
        order = _apply(json_mapping, sample)
        assert [p.name.surname for p in order.restrained_persons] == ["Halvorsen", "Lindgren"]

    def test_group_of_several_specs_concatenates(self, tmp_path: Path) -> None:
        """A list of group specs fills one canonical list from several source places."""
        text = (REPO / "tests/mappings/fixtures/wrong-expected/mapping.yaml").read_text()
        head, _, _ = text.partition("  protected_persons:")
        text = head + """  protected_persons:
    - each: petitioner
      fields:
        name: {path: name, transform: [{split_name: auto}]}
    - each: protected
      fields:
        name: {path: name, transform: [{split_name: auto}]}
        sex: {path: sex, table: sex}
"""
        (tmp_path / "mapping.yaml").write_text(text)
        mapping = load_mapping(tmp_path / "mapping.yaml")
        order = mapping.apply(json.dumps({
            "case": "C1", "id": "O1", "issued": "2026-11-20 15:42",
            "restrained": [{"name": "Grant Ellison", "sex": "M"}],
            "petitioner": {"name": "Ada Byron"},
            "protected": [{"name": "Wu, Mei", "sex": "F"}]}).encode())
        assert [p.name.surname for p in order.protected_persons] == ["Byron", "Wu"]

    def test_no_matching_item_is_a_clear_error(self, json_mapping: Mapping,
                                               sample: dict) -> None:
        """An order with no restrained person is refused at restrained_persons."""
        sample["Parties"] = [p for p in sample["Parties"] if p["Role"] != "RESP"]
        errors = _errors(json_mapping, sample)
        assert "at least 1 item" in errors["restrained_persons"]

    def test_split_items_of_one_column(self) -> None:
        """`each` with `split` turns one CSV cell into several conditions."""
        mapping = load_mapping(CSV_DIR / "mapping.yaml")
        order = mapping.apply((CSV_DIR / "tests/dv_tro_one_row_per_party.input.csv")
                              .read_bytes())
        assert [c.code.value for c in order.conditions] == ["01", "04", "05", "07"]


class TestErrors:
    def test_model_rule_errors_carry_path_and_mapping_source(self, json_mapping: Mapping,
                                                             sample: dict) -> None:
        """A rule of the canonical model names the field and the source path it came from."""
        sample["Order"]["ExpirationDate"] = "2026-11-01"
        errors = _errors(json_mapping, sample)
        assert set(errors) == {"expiration_date"}
        assert "is before the effective date" in errors["expiration_date"]
        assert "path 'Order.ExpirationDate'" in errors["expiration_date"]
        assert "santa-clara-odyssey-json" in errors["expiration_date"]

    def test_errors_in_group_items_have_indexed_paths(self, json_mapping: Mapping,
                                                      sample: dict) -> None:
        """A bad value in the second protected person is reported at its index."""
        sample["Parties"][2]["DateOfBirth"] = "30/05/2017"
        errors = _errors(json_mapping, sample)
        assert list(errors) == ["protected_persons.1.birth_date"]
        assert "path 'DateOfBirth'" in errors["protected_persons.1.birth_date"]

    def test_messages_never_carry_personal_values(self, json_mapping: Mapping,
                                                  sample: dict) -> None:
        """Error text names fields and sources, never the names or dates it refused."""
        sample["Parties"][0]["FullName"] = "HALVORSEN, 1NGRID"
        sample["Parties"][0]["DateOfBirth"] = "1988-02-31"
        with pytest.raises(OrderInvalid) as info:
            _apply(json_mapping, sample)
        text = str(info.value)
        assert "protected_persons.0.name.given" in text
        assert "protected_persons.0.birth_date" in text
        for value in ("1NGRID", "HALVORSEN", "1988-02-31"):
            assert value not in text

    def test_several_problems_reported_together(self, json_mapping: Mapping,
                                                sample: dict) -> None:
        """Mapping problems and model problems are reported in one error."""
        sample["Order"]["SignedDateTime"] = "yesterday"
        sample["Order"]["OrderNumber"] = "has spaces"
        errors = _errors(json_mapping, sample)
        assert set(errors) == {"issued_at", "order_id"}

    @pytest.mark.parametrize("raw", [b"[1, 2]", b"\xff\xfe", b"{", b"", b"null"])
    def test_bad_json_bytes_are_decode_errors(self, json_mapping: Mapping, raw: bytes) -> None:
        """Bytes that are not a JSON object are a DecodeError."""
        with pytest.raises(DecodeError):
            json_mapping.apply(raw)

    def test_to_canonical_dict_is_the_intake_shape(self, json_mapping: Mapping,
                                                   sample: dict) -> None:
        """The mapped dict, before model checks, is canonical intake JSON."""
        data = json_mapping.to_canonical_dict(json.dumps(sample).encode())
        assert data["court"]["ori"] == "CA043015J"
        assert data["issued_at"] == "2026-11-20T15:42:00-08:00"
        assert data["protected_persons"][1]["name"] == {"surname": "HALVORSEN",
                                                        "given": "SOREN"}


class TestJsonPaths:
    def test_keys_with_blanks_and_list_indexes(self, tmp_path: Path) -> None:
        """JSON paths reach keys with inner blanks and list items by index."""
        text = (REPO / "tests/mappings/fixtures/wrong-expected/mapping.yaml").read_text()
        text = text.replace("  case_number: case", "  case_number: 'Case Info.Numbers[1]'")
        (tmp_path / "mapping.yaml").write_text(text)
        mapping = load_mapping(tmp_path / "mapping.yaml")
        order = mapping.apply(json.dumps({
            "Case Info": {"Numbers": ["OLD-1", "NEW-2"]}, "id": "O1",
            "issued": "2026-11-20 15:42", "restrained": [{"name": "Grant Ellison", "sex": "M"}],
            "protected": [{"name": "Wu, Mei"}]}).encode())
        assert order.case_number == "NEW-2"


    def test_number_into_text_field_with_strip(self, tmp_path: Path) -> None:
        """A JSON number mapped to a text field through `strip` arrives as its digits."""
        text = (REPO / "tests/mappings/fixtures/wrong-expected/mapping.yaml").read_text()
        text = text.replace("  order_id: id", "  order_id: {path: id, transform: [strip]}")
        (tmp_path / "mapping.yaml").write_text(text)
        mapping = load_mapping(tmp_path / "mapping.yaml")
        order = mapping.apply(json.dumps({
            "case": "C1", "id": 12345, "issued": "2026-11-20 15:42",
            "restrained": [{"name": "Grant Ellison", "sex": "M"}],
            "protected": [{"name": "Wu, Mei"}]}).encode())
        assert order.order_id == "12345"


    def test_date_and_time_from_two_fields(self, tmp_path: Path) -> None:
        """`paths` + `join` + `datetime` reads a date and a time kept in separate fields."""
        text = (REPO / "tests/mappings/fixtures/wrong-expected/mapping.yaml").read_text()
        text = text.replace(
            '  issued_at: {path: issued, transform: [{datetime: {format: "%Y-%m-%d %H:%M", '
            'tz: America/Los_Angeles}}]}',
            '  issued_at: {paths: [day, time], transform: [{join: " "}, '
            '{datetime: {format: "%m/%d/%Y %I:%M %p", tz: America/Los_Angeles}}]}')
        (tmp_path / "mapping.yaml").write_text(text)
        mapping = load_mapping(tmp_path / "mapping.yaml")
        order = mapping.apply(json.dumps({
            "case": "C1", "id": "O1", "issued": "2026-07-04 09:00", "day": "07/04/2026",
            "time": "9:05 AM", "restrained": [{"name": "Grant Ellison", "sex": "M"}],
            "protected": [{"name": "Wu, Mei"}]}).encode())
        assert order.issued_at.isoformat() == "2026-07-04T09:05:00-07:00"


class TestCompiledOnce:
    def test_applying_needs_no_mapping_file(self, tmp_path: Path, sample: dict) -> None:
        """A loaded mapping keeps working after its file is gone: nothing is re-read per message."""
        copy = tmp_path / "mapping.yaml"
        copy.write_bytes((JSON_DIR / "mapping.yaml").read_bytes())
        mapping = load_mapping(copy)
        copy.unlink()
        assert _apply(mapping, sample).order_id == "SCL-DV-2026-0042"


class TestCsvAndXml:
    def test_csv_one_order_per_row(self, tmp_path: Path) -> None:
        """`record: row` maps each row on its own; a bad row does not hide the good ones."""
        text = (CSV_DIR / "mapping.yaml").read_text(encoding="utf-8")
        text = text.replace("record: message", "record: row")
        (tmp_path / "mapping.yaml").write_text(text, encoding="utf-8")
        mapping = load_mapping(tmp_path / "mapping.yaml")
        raw = (CSV_DIR / "tests/dv_tro_one_row_per_party.input.csv").read_bytes()
        results = mapping.apply_rows(raw)
        assert len(results) == 3
        # Each row stands alone: the R row has no protected person, the P rows no restrained.
        assert all(isinstance(r, OrderInvalid) for r in results)
        paths = [{e.path for e in r.errors} for r in results]
        assert "protected_persons" in paths[0] and "restrained_persons" in paths[1]
        with pytest.raises(DecodeError, match="one data row"):
            mapping.apply(raw)

    def test_csv_header_without_a_used_column(self) -> None:
        """A CSV message whose header lacks a mapped column is a DecodeError naming it."""
        mapping = load_mapping(CSV_DIR / "mapping.yaml")
        with pytest.raises(DecodeError, match="lacks column"):
            mapping.apply(b"CASE_NO,ORDER_NO\r\nA,B\r\n")

    def test_xml_in_other_namespace_matches_nothing(self) -> None:
        """An XML filing in other namespaces is refused field by field, not guessed."""
        mapping = load_mapping(XML_DIR / "mapping.yaml")
        raw = (XML_DIR / "tests/dv_tro_issue_two_protected.input.xml").read_bytes()
        with pytest.raises(OrderInvalid) as info:
            mapping.apply(raw.replace(b"niem-core/5.0/", b"niem-core/4.0/"))
        paths = {e.path for e in info.value.errors}
        assert {"case_number", "order_id", "issued_at"} <= paths
