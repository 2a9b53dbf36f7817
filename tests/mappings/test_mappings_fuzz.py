"""Whatever bytes arrive, applying a mapping raises only DecodeError or OrderInvalid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import DecodeError, OrderInvalid
from engine.mappings import Mapping, load_mapping
from tests.strategies import mutated_bytes

REPO = Path(__file__).resolve().parents[2]
MAPPINGS = REPO / "config" / "mappings"
FOLDERS = sorted(p.parent for p in MAPPINGS.glob("*/mapping.yaml"))
LOADED = {folder.name: load_mapping(folder / "mapping.yaml") for folder in FOLDERS}
SAMPLES = {folder.name: sorted((folder / "tests").glob("*.input.*"))[0].read_bytes()
           for folder in FOLDERS}

#: Any JSON value, kept small.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10)


def _apply_expecting_only_input_errors(mapping: Mapping, raw: bytes) -> None:
    try:
        mapping.apply(raw)
    except (DecodeError, OrderInvalid) as exc:
        assert str(exc)  # a refusal always says why


@pytest.mark.parametrize("name", sorted(LOADED))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=400))
def test_arbitrary_bytes(name: str, raw: bytes) -> None:
    """Random bytes are refused as DecodeError or OrderInvalid, never anything else."""
    _apply_expecting_only_input_errors(LOADED[name], raw)


@pytest.mark.parametrize("name", sorted(LOADED))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_sample_bytes(name: str, data: st.DataObject) -> None:
    """A real sample with bytes cut, replaced or inserted raises only the input errors."""
    raw = data.draw(mutated_bytes(SAMPLES[name]))
    _apply_expecting_only_input_errors(LOADED[name], raw)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


JSON_SAMPLE = json.loads(SAMPLES["santa-clara-odyssey-json"])
JSON_PATHS = _paths(JSON_SAMPLE)[1:]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(replacements=st.lists(st.tuples(st.sampled_from(JSON_PATHS), json_values),
                             min_size=1, max_size=4))
def test_json_values_of_any_type(replacements: list[tuple[tuple, object]]) -> None:
    """Well-formed JSON with any value in any place of the sample raises only input errors."""
    doc = json.loads(json.dumps(JSON_SAMPLE))
    for path, value in replacements:
        target = doc
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    _apply_expecting_only_input_errors(LOADED["santa-clara-odyssey-json"],
                                       json.dumps(doc).encode())


CSV_HEADER, _, CSV_ROW = SAMPLES["kern-legacy-csv"].decode("cp1252").partition("\r\n")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(st.text(alphabet=st.characters(codec="cp1252",
                                                      exclude_characters='"\r\n'),
                              max_size=12),
                      min_size=27, max_size=27))
def test_csv_cells_of_any_text(cells: list[str]) -> None:
    """A CSV row with any text in any column raises only input errors."""
    row = ",".join(f'"{c}"' for c in cells)
    raw = f"{CSV_HEADER}\r\n{row}\r\n".encode("cp1252")
    _apply_expecting_only_input_errors(LOADED["kern-legacy-csv"], raw)
