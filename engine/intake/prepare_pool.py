"""Intake preparation in worker processes, so one engine process uses a second core.

Decoding, checking and rendering an intake message is pure CPU work in Python: bytes in,
an `IntakeRecord` out. Inside the engine's own interpreter it competes for the GIL with the
transmitters and acknowledgement consumers, which is what bounds one engine's throughput
(docs/performance.md). Here the same steps (`engine.intake.pipeline.build_steps`, built from the
same
configuration with the real renderers, mappings and deadline rules) run in
``prepare_workers`` child processes; only the messages go out and the records come back.
The ledger commit, the acks to the broker and everything else stay in the engine process,
so the invariants do not change: a message is acked only after its record is committed.

A worker that dies (killed, out of memory) breaks the pool: that batch is prepared in the
engine process instead and a new pool is started for the next one, so nothing is lost or
delayed beyond one batch. Workers end when the engine process does, even on SIGKILL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Protocol

import structlog

from engine.config import EngineConfig, LedgerConfig
from engine.formats import Renderer
from engine.intake.pipeline import IntakeMessage, MappingLoader, Step, prepare
from engine.ledger import IntakeRecord
from engine.model import Order

__all__ = ["MIN_CHUNK", "PartsFor", "PreparePool", "StepParts"]

log = structlog.get_logger(__name__)

#: Fewer messages than this per worker are not worth a trip to another process.
MIN_CHUNK = 8
#: How often a worker checks that the engine process is still there.
PARENT_CHECK_SECONDS = 1.0

_steps: list[Step] | None = None


class StepParts(Protocol):
    """What a worker needs to build the intake steps (the runner's `Parts` has it)."""

    @property
    def renderers(self) -> Mapping[str, Renderer]: ...
    @property
    def due_at(self) -> Callable[[Order], dt.datetime] | None: ...
    @property
    def load_mapping(self) -> MappingLoader | None: ...


#: Builds a worker's `StepParts` from the config: a module-level function (workers are
#: spawned, so it is pickled by name). The runner hands in `engine.runner.real_parts`, so
#: intake never imports the runner above it.
PartsFor = Callable[[EngineConfig], StepParts]


def _exit_with_parent(parent: int) -> None:
    """End this worker when the engine process is gone (a SIGKILLed parent cannot say so)."""
    while True:
        time.sleep(PARENT_CHECK_SECONDS)
        if os.getppid() != parent:
            os._exit(0)


def _start_worker(config: EngineConfig, parts_for: PartsFor, parent: int) -> None:
    """Build the real intake steps once per worker."""
    global _steps
    from engine.intake.pipeline import build_steps
    from engine.ledger import new_mcn

    parts = parts_for(config)
    _steps = build_steps(config, renderers=parts.renderers, due_at=parts.due_at,
                         load_mapping=parts.load_mapping, new_mcn=new_mcn)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True,
                     name="exit-with-parent").start()


def _prepare_chunk(messages: Sequence[IntakeMessage]) -> list[IntakeRecord]:
    assert _steps is not None, "the worker initializer builds the steps"
    return [prepare(_steps, m) for m in messages]


def _ready() -> bool:
    return _steps is not None


class PreparePool:
    """``workers`` processes preparing intake batches; call it like `Pipeline.preparer`."""

    def __init__(self, config: EngineConfig, workers: int, *, parts_for: PartsFor,
                 fallback: Callable[[Sequence[IntakeMessage]], list[IntakeRecord]]) -> None:
        if workers < 1:
            raise ValueError("a prepare pool needs at least one worker")
        # Workers need courts, destinations and mappings only: no broker or ledger secrets.
        self._config = dataclasses.replace(config, amqp=None, ledger=LedgerConfig())
        self._workers = workers
        self._parts_for = parts_for
        self._fallback = fallback
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the workers and wait until each has built its steps (schemas compiled,
        mappings loaded), so the first batch does not pay for it."""
        executor = self._pool()
        for future in [executor.submit(_ready) for _ in range(self._workers)]:
            future.result(timeout=120)

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn: a fresh interpreter; forking a process with threads and open
                # sockets (pika, SQLite) is not safe.
                self._executor = ProcessPoolExecutor(
                    max_workers=self._workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(self._config, self._parts_for, os.getpid()))
            return self._executor

    def __call__(self, messages: Sequence[IntakeMessage]) -> list[IntakeRecord]:
        if not messages:
            return []
        chunks = _split(list(messages), self._workers)
        try:
            executor = self._pool()
            futures = [executor.submit(_prepare_chunk, chunk) for chunk in chunks]
            return [record for future in futures for record in future.result()]
        except BrokenProcessPool:
            log.error("a prepare worker died; this batch is prepared in the engine "
                      "process and the workers are restarted", messages=len(messages))
            self._discard()
            return self._fallback(messages)

    def _discard(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _split(messages: list[IntakeMessage], workers: int) -> list[list[IntakeMessage]]:
    """At most ``workers`` chunks of about equal size, none smaller than `MIN_CHUNK`
    (except a batch smaller than that, which is one chunk)."""
    count = max(1, min(workers, len(messages) // MIN_CHUNK))
    size = -(-len(messages) // count)
    return [messages[i:i + size] for i in range(0, len(messages), size)]
