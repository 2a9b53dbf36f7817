"""The canonical intake format: decoding, limits, and lossless round trips."""

from __future__ import annotations

import json

import pytest

from engine.canonical import MAX_MESSAGE_BYTES, decode_order, encode_order
from engine.errors import DecodeError, OrderInvalid


class TestDecodeOrder:
    def test_every_fixture_decodes(self, fixture_order):
        """Every fixture in tests/fixtures/orders is a valid canonical order."""
        assert fixture_order.version >= 1

    def test_encode_then_decode_is_identity(self, fixture_order):
        """Encoding an order and decoding it again gives an equal order."""
        assert decode_order(encode_order(fixture_order)) == fixture_order

    def test_not_json_is_a_decode_error(self):
        """Bytes that are not JSON give a DecodeError naming the position."""
        with pytest.raises(DecodeError, match="line 1 column"):
            decode_order(b"{not json")

    def test_invalid_utf8_is_a_decode_error(self):
        """Invalid UTF-8 is refused before parsing."""
        with pytest.raises(DecodeError, match="UTF-8"):
            decode_order(b'{"a": "\xff"}')

    def test_oversized_message_is_refused(self):
        """A message over the size cap is refused without being parsed."""
        with pytest.raises(DecodeError, match="limit"):
            decode_order(b" " * (MAX_MESSAGE_BYTES + 1))

    def test_deep_nesting_is_refused(self):
        """Deeply nested JSON is refused before the parser recurses into it."""
        with pytest.raises(DecodeError, match="nests deeper"):
            decode_order("[" * 10_000 + "]" * 10_000)

    def test_brackets_inside_strings_do_not_count_as_nesting(self, fixture_order):
        """Brackets inside string values are text, not nesting."""
        data = json.loads(encode_order(fixture_order))
        data["judicial_officer"] = "[" * 100 + '\\"{' * 50
        assert decode_order(json.dumps(data)).judicial_officer.startswith("[[[")

    def test_field_errors_carry_paths_not_values(self, fixture_order):
        """A bad field is reported by its path, and the bad value is not echoed back."""
        data = json.loads(encode_order(fixture_order))
        data["restrained_persons"][0]["sex"] = "SECRET-VALUE"
        with pytest.raises(OrderInvalid) as info:
            decode_order(json.dumps(data))
        assert [e.path for e in info.value.errors] == ["restrained_persons.0.sex"]
        assert "SECRET-VALUE" not in str(info.value)

    def test_non_object_is_invalid(self):
        """A JSON array is not an order."""
        with pytest.raises(OrderInvalid, match="JSON object"):
            decode_order(b"[]")
