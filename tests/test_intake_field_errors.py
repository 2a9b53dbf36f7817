"""Field errors read as rules a court clerk understands: paths, plain words, no values."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from engine.canonical import _reason, decode_order
from engine.errors import OrderInvalid
from engine.model import Order
from tests.conftest import FIXTURES

BASE = json.loads((FIXTURES / "orders" / "epo_issue.json").read_text(encoding="utf-8"))


def _patterns(node: Any, name: str = "") -> Iterator[tuple[str, str]]:
    """(field name, pattern) for every pattern in a JSON Schema."""
    if isinstance(node, dict):
        if "pattern" in node:
            yield name, node["pattern"]
        for key, value in node.items():
            if key == "properties":
                for prop, sub in value.items():
                    yield from _patterns(sub, prop)
            else:
                yield from _patterns(value, name)
    elif isinstance(node, list):
        for item in node:
            yield from _patterns(item, name)


PATTERNS = sorted(set(_patterns(Order.model_json_schema())))


@pytest.mark.parametrize(("field", "pattern"), PATTERNS, ids=[f for f, _ in PATTERNS])
def test_every_pattern_has_plain_words(field, pattern):
    """No field of the model answers a mismatch with its regular expression."""
    err = {"type": "string_pattern_mismatch", "loc": ("x", field), "msg": "RAW",
           "ctx": {"pattern": pattern}}
    reason = _reason(err)
    assert reason != "RAW"
    assert pattern not in reason


@pytest.mark.parametrize(
    ("where", "value", "path", "words"),
    [
        (("restrained_persons", 0, "name", "surname"), "Sm1th",
         "restrained_persons.0.name.surname", "letters of any script"),
        (("court", "ori"), "CA 019015J", "court.ori", "NCIC ORI"),
        (("judicial_officer",), "Hon.\tDelgado", "judicial_officer", "control characters"),
        (("case_number",), "#24STRO", "case_number", "letters, digits"),
    ],
)
def test_pattern_mismatch_is_reported_in_words_without_the_value(where, value, path, words):
    """A bad name, ORI, text or token gets a path and a rule in words, never the value."""
    data = json.loads(json.dumps(BASE))
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(OrderInvalid) as info:
        decode_order(json.dumps(data))
    [error] = info.value.errors
    assert error.path == path
    assert words in error.reason
    assert value not in str(info.value)
