"""Fault settings sent as JSON to the control API: applied as asked, bad ones named."""

from __future__ import annotations

import pytest

from engine.receiver import Fault, Receiver
from engine.receiver.control import apply_fault_settings


def test_settings_are_applied_to_the_fault_plan() -> None:
    """fail_next, ack_delay and reject_order reach the receiver's fault plan."""
    receiver = Receiver()
    apply_fault_settings(receiver, {"fail_next": 1, "ack_delay": 0.25,
                                    "reject_order": ["ORI/1"]})
    assert receiver.faults.ack_delay == 0.25
    assert receiver.faults.is_rejected("ORI/1")
    assert receiver.faults.draw() == {Fault.FAIL}
    assert receiver.faults.draw() == frozenset()


def test_clear_comes_first() -> None:
    """With clear and new settings together, the old faults go and the new ones stay."""
    receiver = Receiver()
    receiver.faults.next("drop", 3)
    apply_fault_settings(receiver, {"clear": True, "ack_twice_next": 1})
    assert receiver.faults.draw() == {Fault.ACK_TWICE}


@pytest.mark.parametrize(("settings", "words"), [
    ({"fail_nxt": 1}, "unknown setting 'fail_nxt'"),
    ({"drop_rate": 2}, "between 0 and 1"),
    ({"fail_next": "3"}, "whole number"),
    ({"ack_delay": "soon"}, "seconds"),
])
def test_bad_settings_are_named(settings: dict, words: str) -> None:
    """A bad key or value raises ValueError saying which."""
    with pytest.raises(ValueError, match=words):
        apply_fault_settings(Receiver(), settings)
