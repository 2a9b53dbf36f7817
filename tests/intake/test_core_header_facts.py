"""Header facts the core gives a message: the previous MCN, the recipient, test or production.

A later version names the accepted message it follows (pox:PreviousMessageControlNumber);
a destination's settings say its recipient id and whether it takes test messages; a message
prepared in one mode is never sent to a destination of the other.
"""

from __future__ import annotations

import datetime as dt
import json

from engine.config import CourtConfig, DestinationConfig, EngineConfig
from engine.formats import DestinationFacts, RenderContext, Rendered, destination_facts
from engine.intake.pipeline import Pipeline
from engine.ledger import State
from engine.model import Order
from engine.receiver.stand_ins import stand_in_render
from tests.core.core_harness import Core, order_message

KEY = "CA019015J/LA-DV-1"


def flagged_render(order: Order, ctx: RenderContext) -> Rendered:
    """The stand-in message with the NIEM test indicator the transmitter looks for."""
    body = json.loads(stand_in_render(order, ctx).body)
    flag = "true" if ctx.test else "false"
    body["header"] = f"<pox:MessageTestIndicator>{flag}</pox:MessageTestIndicator>"
    body["recipient"] = ctx.recipient
    return Rendered(json.dumps(body, sort_keys=True).encode(), "application/json")


def test_a_later_version_names_the_accepted_message_it_follows(core: Core) -> None:
    """Version 2 is rendered with the MCN of version 1's accepted transmission."""
    seen: list[RenderContext] = []

    def capture(order: Order, ctx: RenderContext) -> Rendered:
        seen.append(ctx)
        return stand_in_render(order, ctx)

    core.intake(order_message())
    core.transmitter.run_once()
    [first] = core.ledger.transmissions_for(KEY)
    assert first["state"] == State.ACKED
    core.transmitter._renderers["niem"] = capture
    core.intake(order_message(version=2))
    core.transmitter.run_once()
    assert [ctx.previous_mcn for ctx in seen] == [first["mcn"]]


def test_destination_settings_give_recipient_and_mode() -> None:
    facts = destination_facts({"recipient": "CA-DOJ-TEST", "test_messages": True})
    assert facts == DestinationFacts(recipient="CA-DOJ-TEST", test=True)
    assert destination_facts({}) == DestinationFacts(recipient=None, test=False)


def _test_mode_core(core: Core, *, destination_test: bool) -> Pipeline:
    """The entry prepared at intake for a test destination; the transmitter's destination
    is test or production as given."""
    config = EngineConfig(
        courts={"*": CourtConfig(destination="doj")},
        destinations={"doj": DestinationConfig(name="doj", transport="mock", format="niem",
                                               settings={"test_messages": True,
                                                         "recipient": "CA-DOJ-TEST"})})
    core.transmitter._renderers["niem"] = flagged_render
    core.transmitter._facts = {"doj": DestinationFacts(test=destination_test)}
    return Pipeline.build(config, core.ledger, renderers={"niem": flagged_render},
                          clock=core.clock,
                          due_at=lambda order: order.issued_at + dt.timedelta(days=1))


def test_a_production_destination_refuses_a_test_message(core: Core) -> None:
    """An entry prepared as a test message is INVALID, never sent, at a production one."""
    pipeline = _test_mode_core(core, destination_test=False)
    pipeline.run([order_message()])
    core.transmitter.run_once()
    assert core.receiver.arrivals == []
    row = core.ledger.version_row(KEY, 1)
    assert row is not None and row["state"] == State.INVALID
    assert "a test message for a production destination" in row["error_reason"]


def test_a_test_destination_takes_the_test_message(core: Core) -> None:
    """The same entry goes out to a test destination, naming its recipient."""
    pipeline = _test_mode_core(core, destination_test=True)
    pipeline.run([order_message()])
    core.transmitter.run_once()
    assert [a.order_key for a in core.receiver.arrivals] == [KEY]
    [sent] = core.ledger.transmissions_for(KEY)
    body = json.loads(sent["body"])
    assert body["header"] == "<pox:MessageTestIndicator>true</pox:MessageTestIndicator>"
    assert body["recipient"] == "CA-DOJ-TEST"
