"""The receiver over file drop: pick up messages from a directory, drop ack files into another.

It polls ``pickup`` (the engine's outbox) for complete message files (``<mcn>.xml``,
``<mcn>.txt``, ``<mcn>.json``; hidden temporary files are skipped), answers each with an
acknowledgement file in ``acks`` (the engine's inbox) written atomically as
``<mcn>.ack`` (a second copy under ``ack-twice`` is ``<mcn>.dup-<random>.ack``; the MCN
is inside every ack, the name is for people), then moves the message into
``pickup/processed/``. Under ``fail`` it answers with a retryable ``BUSY`` reject; under
``drop`` with nothing; ``ack_delay`` writes the ack later while others go on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from pathlib import Path
from types import TracebackType
from typing import Self

from engine.receiver.core import Receiver
from engine.transports.file import mcn_from_file_name, poll_file_acks, write_atomically

__all__ = ["FileReceiver"]

log = logging.getLogger(__name__)

_TYPES = {".xml": "application/xml", ".txt": "text/plain", ".json": "application/json"}


class FileReceiver:
    """Polls a pickup directory in a thread; ``down()`` pauses, ``up()`` resumes."""

    def __init__(self, receiver: Receiver, *, pickup: Path, acks: Path,
                 poll_interval: float = 0.1) -> None:
        self.receiver = receiver
        self.pickup = Path(pickup)
        self.acks = Path(acks)
        self.processed = self.pickup / "processed"
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._timers: list[threading.Timer] = []

    @property
    def is_up(self) -> bool:
        return self._thread is not None

    def up(self) -> Self:
        if self._thread is not None:
            return self
        for directory in (self.pickup, self.acks, self.processed):
            directory.mkdir(parents=True, exist_ok=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="receiver:file", daemon=True)
        self._thread.start()
        return self

    start = up

    def down(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join()
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    stop = down

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except OSError:
                log.exception("file receiver: polling failed")
            self._stop.wait(self.poll_interval)

    def poll_once(self) -> int:
        """Answer every complete message file now in the pickup directory; return how many."""
        handled = 0
        for path, body in poll_file_acks(self.pickup):
            if self._stop.is_set() and self._thread is not None:
                break
            self._handle(path, body)
            handled += 1
        return handled

    def _handle(self, path: Path, body: bytes) -> None:
        mcn = mcn_from_file_name(path.name)
        content_type = _TYPES.get(path.suffix.lower())
        outcome = self.receiver.handle(mcn, body, content_type, transport="file")
        if outcome.action == "fail":
            replies: tuple[bytes, ...] = (self.receiver.busy_reply(mcn, content_type, body),)
        elif outcome.action == "drop":
            replies = ()
        else:
            replies = outcome.replies
        stem = path.name.rsplit(".", 1)[0]
        names = [f"{stem}.ack"] + [f"{stem}.dup-{uuid.uuid4().hex[:8]}.ack"
                                   for _ in replies[1:]]
        if outcome.delay and replies:
            timer = threading.Timer(outcome.delay, self._write_acks, (names, replies))
            timer.daemon = True
            self._timers.append(timer)
            timer.start()
        else:
            self._write_acks(names, replies)
        with contextlib.suppress(FileNotFoundError):
            os.replace(path, self.processed / path.name)

    def _write_acks(self, names: list[str], replies: tuple[bytes, ...]) -> None:
        for name, reply in zip(names, replies, strict=False):
            write_atomically(self.acks, name, reply)

    def __enter__(self) -> Self:
        return self.up()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()
