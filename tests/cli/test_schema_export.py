"""The intake format's JSON Schema: generated from the model, checked in up to date, and in
agreement with the model about which files are well-formed."""

from __future__ import annotations

import datetime as dt
import json

import jsonschema
import pytest
import yaml
from hypothesis import given, settings

from engine.canonical import order_to_dict
from engine.cli import main
from engine.cli.schema_export import SCHEMA_ID, canonical_order_schema, render_schema
from engine.model import SCHEMA_VERSION
from tests.conftest import FIXTURES, ORDER_FIXTURES, TESTS
from tests.strategies import orders

CHECKED_IN = TESTS.parent / "schemas" / "canonical-order.schema.json"
INVALID = FIXTURES / "invalid"
EXPECTED = yaml.safe_load((INVALID / "expected.yaml").read_text(encoding="utf-8"))
#: Broken fixtures whose fault is one of shape or code, which the schema alone can see.
SHAPE_FAULTS = sorted(name for name, e in EXPECTED.items() if e["kind"] == "shape")
#: Broken fixtures that break only a rule across fields, which the schema cannot see.
RULE_FAULTS = sorted(name for name, e in EXPECTED.items() if e["kind"] == "rule")


def _is_aware_datetime(value: object) -> bool:
    """RFC 3339 date-time: an ISO timestamp with its UTC offset (jsonschema's own check
    needs an extra package, so the test brings this one)."""
    if not isinstance(value, str):
        return True
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value and parsed.tzinfo is not None


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(CHECKED_IN.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    formats = jsonschema.FormatChecker(["date"])
    formats.checks("date-time")(_is_aware_datetime)
    return cls(schema, format_checker=formats)


class TestSchemaFile:
    def test_checked_in_schema_matches_the_model(self):
        """schemas/canonical-order.schema.json is exactly what the model generates today."""
        assert CHECKED_IN.read_text(encoding="utf-8") == render_schema(), (
            "schemas/canonical-order.schema.json is out of date with engine/model.py; "
            "regenerate it: python -m engine schema --output schemas/canonical-order.schema.json"
        )

    def test_schema_names_itself_and_its_version(self):
        """The schema carries a $id, a title with the format version and a description."""
        schema = canonical_order_schema()
        assert schema["$id"] == SCHEMA_ID
        assert SCHEMA_VERSION in schema["$id"]
        assert SCHEMA_VERSION in schema["title"]
        assert "engine check" in schema["description"]

    def test_schema_is_a_valid_draft_2020_12_schema(self, validator):
        """The generated schema is itself valid under its meta-schema."""
        assert validator.META_SCHEMA["$id"].startswith("https://json-schema.org/draft/2020-12")


class TestSchemaAgreesWithModel:
    @pytest.mark.parametrize("path", ORDER_FIXTURES, ids=lambda p: p.stem)
    def test_every_valid_fixture_validates(self, validator, path):
        """Each valid order fixture is valid under the JSON Schema too."""
        validator.validate(json.loads(path.read_text(encoding="utf-8")))

    @settings(max_examples=30)
    @given(orders())
    def test_every_generated_order_validates(self, validator, order):
        """Any valid canonical order, encoded, is valid under the JSON Schema."""
        validator.validate(json.loads(json.dumps(order_to_dict(order))))

    @pytest.mark.parametrize("name", SHAPE_FAULTS)
    def test_shape_faults_are_refused_at_the_same_field(self, validator, name):
        """A file with a bad shape or code fails the schema at (or just above) its field."""
        data = json.loads((INVALID / name).read_text(encoding="utf-8"))
        errors = list(validator.iter_errors(data))
        assert errors
        where = {".".join(str(p) for p in e.absolute_path) for e in errors}
        expected = EXPECTED[name]["path"]
        assert any(expected == w or expected.startswith(w + ".")
                   or (w == "" and "." not in expected) for w in where)

    @pytest.mark.parametrize("name", RULE_FAULTS)
    def test_cross_field_rules_are_left_to_engine_check(self, validator, capsys, name):
        """The schema sees shape only: a file breaking a rule across fields passes it, and
        only `engine check` refuses it."""
        validator.validate(json.loads((INVALID / name).read_text(encoding="utf-8")))
        assert main(["check", str(INVALID / name)]) == 1


class TestSchemaCommand:
    def test_schema_prints_the_schema(self, capsys):
        """`engine schema` prints the schema as JSON on stdout."""
        assert main(["schema"]) == 0
        assert json.loads(capsys.readouterr().out) == canonical_order_schema()

    def test_output_writes_the_file(self, capsys, tmp_path):
        """`engine schema --output FILE` writes the exact checked-in text."""
        target = tmp_path / "out" / "schema.json"
        assert main(["schema", "--output", str(target)]) == 0
        assert target.read_text(encoding="utf-8") == render_schema()

    def test_check_passes_on_the_checked_in_file(self, capsys):
        """`engine schema --check` exits 0 for an up-to-date file."""
        assert main(["schema", "--check", str(CHECKED_IN)]) == 0

    def test_check_fails_on_a_stale_file_and_says_how_to_fix_it(self, capsys, tmp_path):
        """A stale schema file makes `--check` exit 1 with the command that regenerates it."""
        stale = tmp_path / "schema.json"
        stale.write_text(render_schema().replace("issue", "issued", 1), encoding="utf-8")
        assert main(["schema", "--check", str(stale)]) == 1
        assert f"engine schema --output {stale}" in capsys.readouterr().err

    def test_check_fails_on_a_missing_file(self, capsys, tmp_path):
        """A missing schema file makes `--check` exit 1, not raise."""
        assert main(["schema", "--check", str(tmp_path / "none.json")]) == 1
