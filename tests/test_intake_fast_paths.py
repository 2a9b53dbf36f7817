"""The intake's fast safety checks answer exactly as the plain character-by-character ones.

`engine.canonical` finds the nesting depth with str/re methods and refuses duplicate keys
with one `dict` call; the reference versions below are the readable loops they replaced
(kept here only as the oracle). Any text, well-formed JSON or not, must give the same
depth, and any key list the same result or the same error.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from engine.canonical import (
    MAX_NESTING,
    _loads,
    _nesting_depth,
    _refuse_duplicate_keys,
    decode_order,
    key_ref,
)
from engine.errors import DecodeError


def reference_nesting_depth(raw: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def reference_refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for position, (key, value) in enumerate(pairs):
        if key in out:
            raise DecodeError(f"a JSON object has a key twice (member {position + 1}, "
                              f"{key_ref(key)})")
        out[key] = value
    return out


#: The characters the scan cares about, plus a few it must pass over (newlines included).
_TRICKY = st.text(alphabet='"\\[]{}a :,\n\u00e9', max_size=80)


@given(st.one_of(_TRICKY, st.text(max_size=80)))
@example('"\\')
@example('"abc\\"[[[')
@example('"a\\\\"[[')
@example("]]][[")
@example('[["]]]"[')
@example('"\\\n"[{')
def test_nesting_depth_matches_the_character_scan(raw):
    assert _nesting_depth(raw) == reference_nesting_depth(raw)


@given(st.recursive(st.none() | st.integers() | st.text(alphabet='"\\[]{}ab', max_size=6),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(alphabet='"\\[{ab', max_size=4), inner,
                                      max_size=3),
                    max_leaves=20))
def test_nesting_depth_of_json_text_matches_the_character_scan(value):
    for raw in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        assert _nesting_depth(raw) == reference_nesting_depth(raw)


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers()), max_size=8))
def test_duplicate_keys_are_refused_as_before(pairs):
    try:
        expected: dict[str, Any] | str = reference_refuse_duplicate_keys(pairs)
    except DecodeError as exc:
        expected = str(exc)
    try:
        actual: dict[str, Any] | str = _refuse_duplicate_keys(pairs)
    except DecodeError as exc:
        actual = str(exc)
    assert actual == expected
    if isinstance(actual, dict):
        assert list(actual) == list(expected)


def test_duplicate_key_error_points_at_the_first_key_repeated_without_naming_it():
    """The key may be a person's name: the error gives its position and hash only."""
    with pytest.raises(DecodeError) as info:
        decode_order(b'{"a": 1, "Ramirez": 2, "a0": 3, "Ramirez": 4, "a": 5}')
    assert "member 4" in str(info.value) and key_ref("Ramirez") in str(info.value)
    assert "Ramirez" not in str(info.value)


@pytest.mark.parametrize("escaped", [False, True])
def test_depth_limit_applies_with_and_without_escapes(escaped):
    """Both ways of cutting out strings (with and without a backslash) enforce the cap."""
    text = '"\\"["' if escaped else '"["'
    at_limit = "[" * MAX_NESTING + text + "]" * MAX_NESTING
    assert _nesting_depth(at_limit) == MAX_NESTING
    with pytest.raises(DecodeError, match="nests deeper"):
        decode_order("[" + at_limit + "]")


def _parsed(parse, text: str) -> object:
    try:
        return ("ok", parse(text))
    except json.JSONDecodeError as exc:
        return ("not json", exc.msg, exc.lineno, exc.colno)
    except DecodeError as exc:
        return ("refused", str(exc))


@given(st.one_of(
    st.text(alphabet='{}[]":,a1 \ufeff\\', max_size=30),
    st.recursive(st.none() | st.integers() | st.text(max_size=4),
                 lambda inner: st.lists(inner, max_size=3)
                 | st.dictionaries(st.sampled_from("abc"), inner, max_size=3),
                 max_leaves=10).map(json.dumps),
))
@example('\ufeff{"a": 1}')
@example('{"a": 1, "a": 2}')
def test_shared_decoder_parses_as_json_loads(text):
    """The one shared decoder answers as json.loads with the hook: value, error and
    position, the byte-order-mark rule included."""
    reference = _parsed(lambda t: json.loads(t, object_pairs_hook=reference_refuse_duplicate_keys),
                        text)
    assert _parsed(_loads, text) == reference
