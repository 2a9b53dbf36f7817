"""The running engine: intake, transmitter and correlator wired to one ledger.

Every part another area provides (renderers, ack parsers, transports, the deadline rule,
court mappings) comes in through `Parts`, so tests and `engine demo` can run the same
engine with stand-ins. `real_parts()` gives the real ones.

Threads: one intake thread (spool or AMQP, owns its connection), one transmitter thread per
destination, one ack consumer per asynchronous destination. With the real parts, intake
messages are decoded, checked and rendered in ``prepare_workers`` child processes
(`engine.intake.prepare_pool`): the one process then uses more than one core.
Both stop when `EngineRunner.stop()` is called; work in flight finishes first.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from engine import mappings
from engine.acks.consumers import AmqpAckConsumer, FileAckPoller
from engine.acks.correlator import AckParser, Correlator
from engine.clets import parse_clets_ack, render_clets
from engine.config import ConfigError, DestinationConfig, EngineConfig, mapping_path
from engine.delivery.transmitter import Transmitter
from engine.errors import DecodeError
from engine.formats import Renderer, destination_facts
from engine.intake.amqp import AmqpIntake
from engine.intake.pipeline import MappingLoader, Pipeline
from engine.intake.prepare_pool import PreparePool
from engine.intake.spool import SpoolIntake
from engine.law.deadlines import due_at
from engine.ledger import Ledger, open_ledger
from engine.model import Order
from engine.niem import parse_niem_ack, render_niem
from engine.observability.hooks import EngineHooks
from engine.transports import build_transport
from engine.transports.base import Transport

__all__ = ["EngineRunner", "Parts", "real_parts"]

log = structlog.get_logger(__name__)

TransportFactory = Callable[[DestinationConfig], Transport]

@dataclass
class Parts:
    """What the core needs from the other areas."""

    renderers: Mapping[str, Renderer]
    ack_parsers: Mapping[str, AckParser]
    transport_factory: TransportFactory
    due_at: Callable[[Order], dt.datetime] | None = None
    load_mapping: MappingLoader | None = None
    #: Metrics and alerts attach here (`engine.observability.hooks`).
    hooks: EngineHooks | None = None
    #: What was substituted or missing, said to the person running the engine.
    notes: list[str] = field(default_factory=list)
    #: True when these are `real_parts`, which prepare workers can build for themselves
    #: (`engine.intake.prepare_pool`); stand-ins are used in the engine process only.
    prepare_in_workers: bool = False


def _transport_from_config(dest: DestinationConfig) -> Transport:
    return build_transport({"kind": dest.transport, **dict(dest.settings)},
                           where=f"destinations.{dest.name}.settings")


def real_parts(config: EngineConfig) -> Parts:
    """The real renderers, ack parsers, deadline rule, transports and mapping loader."""

    def load_mapping(name: str) -> Callable[[bytes], Order]:
        path = mapping_path(config.mappings_dir, name)
        if path is None:
            raise DecodeError(f"mapping {name!r} not found in {config.mappings_dir}")
        return mappings.load_mapping(path).apply

    return Parts(renderers={"niem": render_niem, "clets": render_clets},
                 ack_parsers={"niem": parse_niem_ack, "clets": parse_clets_ack},
                 transport_factory=_transport_from_config, due_at=due_at,
                 load_mapping=load_mapping, prepare_in_workers=True)


def _ack_consumers(config: EngineConfig, correlator: Correlator
                   ) -> list[AmqpAckConsumer | FileAckPoller]:
    """One consumer per asynchronous destination: its AMQP ack queue or its file inbox."""
    out: list[AmqpAckConsumer | FileAckPoller] = []
    for dest in config.destinations.values():
        settings = dict(dest.settings)
        if dest.transport == "amqp" and settings.get("reply_to"):
            out.append(AmqpAckConsumer(
                url=str(settings.get("url", "amqp://guest:guest@127.0.0.1:5672/%2F")),
                queue=str(settings["reply_to"]), fmt=dest.format, correlator=correlator))
        elif dest.transport == "file" and settings.get("inbox"):
            out.append(FileAckPoller(inbox=Path(str(settings["inbox"])), fmt=dest.format,
                                     correlator=correlator))
    return out


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class EngineRunner:
    """Builds the engine from config and parts; `start()`, then `stop()`."""

    def __init__(self, config: EngineConfig, parts: Parts, *, ledger: Ledger | None = None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        self.config = config
        self.parts = parts
        self.ledger = ledger or open_ledger(config.ledger.url, clock=clock)
        self.correlator = Correlator(self.ledger, parts.ack_parsers,
                                     reschedule=config.reschedule, hooks=parts.hooks)
        self.pipeline = Pipeline.build(config, self.ledger, renderers=parts.renderers,
                                       due_at=parts.due_at, load_mapping=parts.load_mapping,
                                       hooks=parts.hooks)
        self.prepare_pool: PreparePool | None = None
        if config.prepare_workers and parts.prepare_in_workers and clock is None:
            self.prepare_pool = PreparePool(config, config.prepare_workers,
                                            parts_for=real_parts,
                                            fallback=self.pipeline.prepare_here)
            self.pipeline.preparer = self.prepare_pool
        try:
            transports = {name: parts.transport_factory(dest)
                          for name, dest in config.destinations.items()}
        except ValueError as exc:  # transport settings that cannot work: say where
            raise ConfigError([str(exc)], "destinations") from exc
        missing = sorted({d.format for d in config.destinations.values()}
                         - set(parts.renderers))
        if missing:
            raise ConfigError([f"destinations: no renderer installed for format {fmt!r}"
                               for fmt in missing], "destinations")
        tx = config.transmitter
        # One transmitter (and thread) per destination: a slow or failing destination holds
        # up only its own orders. Each still claims through the ledger, so replicas share.
        self.transmitters = [Transmitter(
            self.ledger, transports={name: transport}, renderers=parts.renderers,
            correlator=self.correlator, retry=config.retry, reschedule=config.reschedule,
            breaker=config.breaker, batch_size=tx.batch_size,
            lease=dt.timedelta(seconds=tx.lease_seconds),
            ack_timeout=dt.timedelta(seconds=tx.ack_timeout), hooks=parts.hooks,
            max_in_flight=tx.max_in_flight,
            deadline_margin=dt.timedelta(seconds=tx.deadline_margin),
            clock=clock or _utcnow, destination=name,
            facts={n: destination_facts(d.settings) for n, d in config.destinations.items()})
            for name, transport in transports.items()]
        self.intake: AmqpIntake | SpoolIntake
        if config.amqp is not None:
            self.intake = AmqpIntake(config.amqp, self.pipeline)
            self.intake_kind = f"AMQP queue {config.amqp.intake_queue}"
        else:
            self.intake = SpoolIntake(config.spool_dir, self.pipeline,
                                      retention_days=config.spool_retention_days)
            self.intake_kind = f"spool directory {config.spool_dir}"
        self.ack_consumers = _ack_consumers(config, self.correlator)
        self._stop = threading.Event()
        self._stopped = False
        self._threads: list[threading.Thread] = []

    def readiness(self) -> dict[str, bool]:
        """Component -> up, for /readyz: the ledger answers, and the broker is connected
        (AMQP intake only). Not ready means: do not count on this replica right now."""
        components = {"ledger": self.ledger.ping()}
        if isinstance(self.intake, AmqpIntake):
            components["broker"] = self.intake.connected.is_set()
        return components

    def describe(self) -> list[str]:
        """What this engine is made of, one line each (no secrets)."""
        url = self.ledger.engine.url.render_as_string(hide_password=True)
        lines = [f"intake: {self.intake_kind}", f"ledger: {url}",
                 f"prepare: {self.config.prepare_workers} worker process(es)"
                 if self.prepare_pool else "prepare: in the engine process"]
        for name, dest in self.config.destinations.items():
            lines.append(f"destination {name}: {dest.transport} transport, {dest.format} format")
        return lines + [f"note: {n}" for n in self.parts.notes]

    def start(self) -> None:
        poll = self.config.transmitter.poll_interval
        if self.prepare_pool is not None:
            self.prepare_pool.start()
        self._threads = [
            threading.Thread(target=self.intake.run, args=(self._stop,), name="intake",
                             daemon=True),
        ]
        # New intake wakes every transmitter at once instead of at its next poll.
        wakes = [threading.Event() for _ in self.transmitters]

        def wake_transmitters() -> None:
            for wake in wakes:
                wake.set()

        self.pipeline.after_commit = wake_transmitters
        self._threads += [threading.Thread(target=t.run, args=(self._stop,),
                                           kwargs={"poll_interval": poll, "wake": wake},
                                           daemon=True, name=f"transmitter-{i}")
                          for i, (t, wake) in enumerate(zip(self.transmitters, wakes,
                                                            strict=True))]
        self._threads += [threading.Thread(target=c.run, args=(self._stop,), daemon=True,
                                           name=f"acks-{i}")
                          for i, c in enumerate(self.ack_consumers)]
        for thread in self._threads:
            thread.start()
        log.info("engine started", intake=self.intake_kind)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every thread (work in flight finishes first); safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        for transmitter in self.transmitters:
            transmitter.close()
        if self.prepare_pool is not None:
            self.prepare_pool.close()
        log.info("engine stopped")

    def wait(self) -> bool:
        """Block until `stop()` is called (from a signal handler) or a thread dies.

        False when a thread died: the engine is not doing its whole job, and the process
        must exit non-zero so a supervisor (systemd, Docker, Kubernetes) restarts it."""
        while not self._stop.wait(1.0):
            dead = [t.name for t in self._threads if not t.is_alive()]
            # Event.wait answers False when its timeout ran out while a signal handler was
            # stopping the engine (joining the threads): a stop in progress is no death.
            if dead and not self._stop.is_set():
                log.error("an engine thread ended; stopping", threads=",".join(dead))
                return False
        return True
