"""Fuzzing the intake decoders: whatever bytes arrive, each refuses them only with its own
input error (DecodeError / OrderInvalid for orders, AckError for acknowledgements), never a
library exception that would escape as a crash. (Mappings have their own fuzz test in
tests/mappings/test_mappings_fuzz.py.)

Inputs: random bytes, and real samples (a fixture order, its NIEM rendering, NIEM and CLETS
acknowledgements) with bytes cut, replaced or inserted, and JSON with fields replaced by
random JSON values.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.ack_types import Accepted, Rejected
from engine.canonical import decode_order
from engine.clets import parse_clets_ack, render_clets_ack
from engine.errors import AckError, DecodeError, OrderInvalid
from engine.formats import RenderContext
from engine.niem import parse_niem_ack, read_niem, render_niem, render_niem_ack
from tests.strategies import mutated_bytes

pytestmark = pytest.mark.faults

FIXTURE = Path(__file__).parents[1] / "fixtures" / "orders" / "dv_tro_issue.json"
ORDER_JSON = FIXTURE.read_bytes()
NIEM_ORDER = render_niem(decode_order(ORDER_JSON), RenderContext(
    "MCN0000001", dt.datetime(2026, 11, 20, tzinfo=dt.UTC), None)).body
ACCEPT, REJECT = Accepted("MCN0000001", "H000000001"), Rejected("MCN0000002", "INVALID",
                                                                   "bad field", False)

#: decoder name -> (decoder, the errors it may raise, a real sample)
DECODERS: dict[str, tuple[Callable[[bytes], Any], tuple[type[Exception], ...], bytes]] = {
    "canonical-json": (decode_order, (DecodeError, OrderInvalid), ORDER_JSON),
    "niem-read": (read_niem, (DecodeError, OrderInvalid), NIEM_ORDER),
    "niem-ack-accept": (parse_niem_ack, (AckError,), render_niem_ack(ACCEPT)),
    "niem-ack-reject": (parse_niem_ack, (AckError,), render_niem_ack(REJECT)),
    "clets-ack-accept": (parse_clets_ack, (AckError,), render_clets_ack(ACCEPT)),
    "clets-ack-reject": (parse_clets_ack, (AckError,), render_clets_ack(REJECT)),
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10)


def _only_own_errors(name: str, raw: bytes) -> None:
    decode, allowed, _ = DECODERS[name]
    try:
        decode(raw)
    except allowed as exc:
        assert str(exc)  # a refusal always says why


@pytest.mark.parametrize("name", sorted(DECODERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=400))
def test_arbitrary_bytes(name: str, raw: bytes) -> None:
    """Random bytes are refused with the decoder's own input error, nothing else."""
    _only_own_errors(name, raw)


@pytest.mark.parametrize("name", sorted(DECODERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_sample(name: str, data: st.DataObject) -> None:
    """A real sample with bytes cut, replaced or inserted raises only the input errors."""
    raw = data.draw(mutated_bytes(DECODERS[name][2]))
    _only_own_errors(name, raw)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_canonical_json_with_fields_replaced(data: st.DataObject) -> None:
    """The fixture order with any fields (nested too) replaced by random JSON values is
    decoded or refused with DecodeError / OrderInvalid, nothing else."""
    order = json.loads(ORDER_JSON)
    for _ in range(data.draw(st.integers(1, 3))):
        target: Any = order
        while isinstance(target, dict | list) and target and data.draw(st.booleans()):
            keys = list(target) if isinstance(target, dict) else list(range(len(target)))
            key = data.draw(st.sampled_from(keys))
            if not isinstance(target[key], dict | list) or not target[key]:
                target[key] = data.draw(json_values)
                break
            target = target[key]
        else:
            if isinstance(target, dict):
                target[data.draw(st.text(max_size=8))] = data.draw(json_values)
    _only_own_errors("canonical-json", json.dumps(order).encode())
