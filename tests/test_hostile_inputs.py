"""Every file in the hostile corpus is refused by the decoders with an error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.canonical import decode_order
from engine.errors import DecodeError, InputError
from engine.safexml import parse_untrusted_xml

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"

#: file -> words the refusal must contain (it names the problem, not the value).
EXPECTED = {
    "xxe_file.xml": "DOCTYPE",
    "xxe_network.xml": "DOCTYPE",
    "billion_laughs.xml": "DOCTYPE",
    "quadratic_blowup.xml": "DOCTYPE",
    "doctype_plain.xml": "DOCTYPE",
    "deeply_nested.xml": "deeper",
    "deeply_nested.json": "nests deeper",
    "invalid_utf8.json": "UTF-8",
    "control_char_in_name.json": "protected_persons.0.name.given",
    "nul_in_name.json": "restrained_persons.0.name.surname",
    "sql_in_name.json": "restrained_persons.0.name.surname",
    "sql_in_case_number.json": "case_number",
    "extremely_long_field.json": "miscellaneous",
    "extremely_long_name.json": "restrained_persons.0.name.given",
    "wrong_types.json": "version",
    "missing_everything.json": "court",
    "empty.json": "not JSON",
    "json_null.json": "JSON object",
    "not_json.json": "not JSON",
    "naive_timestamp.json": "issued_at",
    "duplicate_keys.json": "twice",
}


def _refuse(path: Path) -> InputError:
    data = path.read_bytes()
    with pytest.raises(InputError) as info:
        if path.suffix == ".xml":
            parse_untrusted_xml(data)
        else:
            decode_order(data)
    return info.value


class TestHostileCorpus:
    def test_every_corpus_file_has_an_expectation(self):
        """No hostile file goes untested, and no expectation names a missing file."""
        files = {p.name for p in HOSTILE.iterdir() if p.suffix in (".json", ".xml")}
        assert files == set(EXPECTED)

    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_refused_with_named_problem(self, name):
        """Each hostile input is refused and the error names the problem."""
        error = _refuse(HOSTILE / name)
        assert EXPECTED[name] in str(error)

    def test_fifty_megabyte_message_is_refused_unparsed(self):
        """A 50 MB message is refused for its size."""
        with pytest.raises(DecodeError, match="limit"):
            decode_order(b'{"miscellaneous": "' + b"A" * 50_000_000 + b'"}')

    def test_sql_looking_text_in_free_text_is_kept_verbatim(self, fixture_order):
        """SQL-looking words where free text is allowed are data, kept exactly as sent."""
        from engine.canonical import encode_order

        text = "Robert'); DROP TABLE orders;--"
        order = fixture_order.model_copy(update={"judicial_officer": text})
        assert decode_order(encode_order(order)).judicial_officer == text
