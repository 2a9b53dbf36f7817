"""Spool-directory intake: the embedded default when no AMQP URL is configured.

    spool/incoming/            canonical order JSON, one message per file
    spool/incoming/<ORI>/      files from a court that needs a mapping (the folder names it)
    spool/incoming/<ORI>/<source>/  ... from one of the court's CMS sources (config sources)
    spool/done/                recorded in the ledger (new or duplicate)
    spool/invalid/             recorded as INVALID, or a conflict; a .reason file beside each

A writer must create a file under another name (a leading ``.`` or a ``.tmp`` suffix) and
rename it into place, so the engine never reads half a file. Files move out of
``incoming/`` only after the ledger commit (invariant 1): a crash before the move means the
file is read again, and the ledger knows it as a duplicate.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import structlog

from engine.errors import LedgerError
from engine.ledger import IntakeOutcome, IntakeResult, State
from engine.pipeline import IntakeMessage, Pipeline

__all__ = ["SpoolIntake"]

log = structlog.get_logger(__name__)


class SpoolIntake:
    """Feeds the pipeline from a spool directory, a batch of files per round."""

    def __init__(self, root: Path, pipeline: Pipeline, *, batch_size: int = 100,
                 on_pause: Callable[[Exception], None] | None = None) -> None:
        self.root = root
        self.incoming = root / "incoming"
        self.done = root / "done"
        self.invalid = root / "invalid"
        for folder in (self.incoming, self.done, self.invalid):
            folder.mkdir(parents=True, exist_ok=True)
        self._pipeline = pipeline
        self._batch_size = batch_size
        self._on_pause = on_pause

    def pending(self) -> list[Path]:
        """Files ready to read, oldest name first (ignores hidden and .tmp files)."""
        files = [p for p in self.incoming.rglob("*")
                 if p.is_file() and not p.name.startswith(".") and p.suffix != ".tmp"]
        return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def run_once(self) -> int:
        """Record one batch of files; returns how many were recorded (0 if the ledger is
        unavailable: the files stay and are read again next round)."""
        batch = self.pending()[: self._batch_size]
        if not batch:
            return 0
        messages = []
        for path in batch:
            folders = path.relative_to(self.incoming).parts[:-1]
            court = folders[0] if folders else None
            source = "/".join(folders[1:]) or None
            messages.append(IntakeMessage(path.read_bytes(), message_id=path.name,
                                          court_ori=court, source=source))
        try:
            results = self._pipeline.run(messages)
        except LedgerError as exc:
            log.warning("ledger unavailable; spool files stay for the next round",
                        error_class=type(exc).__name__)
            if self._on_pause is not None:
                self._on_pause(exc)
            return 0
        for path, result in zip(batch, results, strict=True):
            self._file_away(path, result)
        return len(batch)

    def _file_away(self, path: Path, result: IntakeResult) -> None:
        bad = result.state is State.INVALID or result.outcome is IntakeOutcome.CONFLICT
        target_dir = self.invalid if bad else self.done
        target = target_dir / path.name
        if target.exists():  # same name seen before: keep both
            target = target_dir / f"{path.stem}.{result.version_key.replace('/', '_')}" \
                                  f".{abs(hash(path.read_bytes())) % 10**8}{path.suffix}"
        path.replace(target)
        if bad:
            target.with_name(target.name + ".reason").write_text(
                f"{result.version_key}: {result.reason or result.state}\n", encoding="utf-8")
        log.info("spool file recorded", file=path.name, order=result.version_key,
                 outcome=str(result.outcome), state=str(result.state))

    def run(self, stop: threading.Event, *, poll_interval: float = 0.5) -> None:
        while not stop.is_set():
            if not self.run_once():
                stop.wait(poll_interval)
