"""Property tests of the canonical model: every generated order is valid, and canonical JSON
carries it without loss."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.canonical import decode_order, encode_order, order_from_dict, order_to_dict
from engine.errors import OrderInvalid
from engine.law.checks import check_order, order_problems
from engine.model import Action, Order, OrderType
from tests.conftest import ORDER_FIXTURES
from tests.strategies import orders, person_names, protected_persons, restrained_persons


class TestGeneratedOrders:
    @given(orders())
    def test_every_generated_order_passes_the_checks(self, order: Order):
        """The shared strategy only draws orders that break no cross-field rule."""
        assert order_problems(order) == []
        assert check_order(order) is order

    @pytest.mark.parametrize("action", list(Action))
    @settings(max_examples=15)
    @given(data=st.data())
    def test_action_can_be_pinned(self, action: Action, data: st.DataObject):
        """`orders(action=...)` draws valid orders with exactly that action."""
        order = data.draw(orders(action=action))
        assert order.action is action
        assert order_problems(order) == []

    @pytest.mark.parametrize("order_type", list(OrderType))
    @settings(max_examples=10)
    @given(data=st.data())
    def test_order_type_can_be_pinned(self, order_type: OrderType, data: st.DataObject):
        """`orders(order_type=...)` draws valid orders of exactly that type."""
        order = data.draw(orders(order_type=order_type))
        assert order.order_type is order_type
        assert order_problems(order) == []


class TestCanonicalJsonRoundTrip:
    @given(orders())
    def test_json_round_trip_is_lossless(self, order: Order):
        """Encoding to canonical JSON and decoding again gives an equal order."""
        assert decode_order(encode_order(order)) == order

    @given(orders())
    def test_json_bytes_round_trip_is_lossless(self, order: Order):
        """The UTF-8 bytes a court would send decode to the same order."""
        assert decode_order(encode_order(order, indent=2).encode("utf-8")) == order

    @given(orders())
    def test_dict_round_trip_is_lossless(self, order: Order):
        """The JSON-ready dict form rebuilds an equal order and is itself stable."""
        data = order_to_dict(order)
        again = order_from_dict(json.loads(json.dumps(data)))
        assert again == order
        assert order_to_dict(again) == data

    @given(person_names())
    def test_names_survive_the_round_trip_character_for_character(self, name):
        """Apostrophes, hyphens, accents and other scripts in names are kept exactly."""
        data = json.loads(json.dumps(name.model_dump(mode="json"), ensure_ascii=False))
        assert type(name).model_validate(data).surname == name.surname


class TestLargestOrders:
    @settings(max_examples=10)
    @given(orders(action=Action.ISSUE), st.data())
    def test_order_with_the_most_persons_round_trips(self, order: Order, data: st.DataObject):
        """An order with the model's maximum of 5 restrained and 20 protected persons is
        valid and survives canonical JSON unchanged."""
        issued_on = order.issued_at.date()
        restrained = data.draw(st.lists(restrained_persons(issued_on), min_size=5, max_size=5))
        protected = data.draw(st.lists(protected_persons(issued_on), min_size=20, max_size=20))
        big = Order.model_validate({**order.model_dump(), "restrained_persons": restrained,
                                    "protected_persons": protected})
        assert order_problems(big) == []
        assert decode_order(encode_order(big)) == big

    def test_one_more_person_than_the_maximum_is_refused(self):
        """A sixth restrained person is refused at `restrained_persons`."""
        data = json.loads(ORDER_FIXTURES[0].read_text(encoding="utf-8"))
        data["restrained_persons"] = data["restrained_persons"][:1] * 6
        with pytest.raises(OrderInvalid) as info:
            decode_order(json.dumps(data))
        assert [e.path for e in info.value.errors] == ["restrained_persons"]
