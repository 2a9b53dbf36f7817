"""The core's test harness: a SQLite ledger, a fake clock, the stand-in receiver behind a
MockTransport, and the pipeline, correlator and transmitter wired to them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from engine.acks.correlator import Correlator
from engine.config import CourtConfig, DestinationConfig, EngineConfig
from engine.delivery.transmitter import Transmitter
from engine.intake.pipeline import IntakeMessage, Pipeline
from engine.ledger import Ledger
from engine.receiver.stand_ins import StandInReceiver

FIXTURE = Path(__file__).parents[1] / "fixtures" / "orders" / "dv_tro_issue.json"


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def order_message(order_id: str = "LA-DV-1", version: int = 1, action: str | None = None,
                  **changes: object) -> IntakeMessage:
    """Canonical JSON for a variant of the DV-TRO fixture."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    data["order_id"] = order_id
    data["version"] = version
    data["action"] = action or ("issue" if version == 1 else "modify")
    data.update(changes)
    return IntakeMessage(json.dumps(data).encode(), message_id=f"{order_id}#{version}")


@dataclass
class Core:
    clock: FakeClock
    config: EngineConfig
    ledger: Ledger
    receiver: StandInReceiver
    pipeline: Pipeline
    correlator: Correlator
    transmitter: Transmitter
    sleeps: list[float]

    def intake(self, *messages: IntakeMessage):  # type: ignore[no-untyped-def]
        return self.pipeline.run(list(messages))

    def state(self, order_key: str, version: int) -> str:
        row = self.ledger.version_row(order_key, version)
        assert row is not None, f"no {order_key}#{version}"
        return str(row["state"])

    def drain(self, rounds: int = 20, step: float = 0.0) -> None:
        """Run transmitter rounds (moving the clock ``step`` s each) until nothing is due."""
        for _ in range(rounds):
            handled = self.transmitter.run_once()
            self.clock.advance(step)
            if not handled and step == 0.0:
                return


def core_config() -> EngineConfig:
    return EngineConfig(
        courts={"*": CourtConfig(destination="doj")},
        destinations={"doj": DestinationConfig(name="doj", transport="mock", format="niem")},
    )
