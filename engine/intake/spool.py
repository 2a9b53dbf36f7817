"""Spool-directory intake: the embedded default when no AMQP URL is configured.

    spool/incoming/            canonical order JSON, one message per file
    spool/incoming/<ORI>/      files from a court that needs a mapping (the folder names it)
    spool/incoming/<ORI>/<source>/  ... from one of the court's CMS sources (config sources)
    spool/done/                recorded in the ledger (new or duplicate)
    spool/invalid/             recorded as INVALID, a conflict, or refused before reading;
                               a ``.reason`` file beside each

The spool is an inbox anyone on the box may drop files into, so it trusts nothing about them
(docs/security.md):

- **Complete files only.** A writer creates the file elsewhere in the same file system (or
  under a name the engine skips: a leading ``.``, a ``.tmp`` or ``.part`` suffix, a trailing
  ``~``) and renames it into ``incoming/`` when it is complete: rename is atomic, so the
  engine never sees half a file. Skipped names are never read.
- **Regular files directly inside it.** Symbolic links (dangling or not, to a file or to a
  folder), FIFOs, sockets and devices are never opened: they are moved (the link itself,
  never what it points at) to ``invalid/`` with the reason. Files are opened with
  ``O_NOFOLLOW | O_NONBLOCK`` and checked again with ``fstat``, so a file swapped for a link
  between listing and opening is refused.
- **A streaming size cap.** At most `MAX_MESSAGE_BYTES` + 1 bytes are read; a larger file is
  refused without reading the rest.
- **Any file name.** A name is never trusted or shown (it may be a person's name, or not
  UTF-8): the ledger records ``spool:<sha256 of the name's bytes, 16 hex>``; files are
  filed away under a generated name; logs and reason files carry the hash only.
- **No single file stops the intake.** Whatever goes wrong with one file sends it to
  ``invalid/`` with its reason (or leaves it for the next round, when the ledger is down),
  and the next file is taken.
- **Private and not forever.** Folders are 0700, filed files 0600; files in ``done/`` and
  ``invalid/`` older than the retention (default 30 days) are deleted, a reason file with
  its file.

Files move out of ``incoming/`` only after the ledger commit (invariant 1): a crash before
the move means the file is read again, and the ledger knows it as a duplicate.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import structlog

from engine.canonical import MAX_MESSAGE_BYTES
from engine.errors import LedgerError
from engine.intake.pipeline import IntakeMessage, Pipeline, one_result_each
from engine.ledger import IntakeOutcome, IntakeResult, State

__all__ = ["DEFAULT_RETENTION_DAYS", "SpoolIntake", "name_hash", "skipped_name"]

log = structlog.get_logger(__name__)

#: Days a file stays in done/ or invalid/ before it is deleted (the ledger keeps the order).
DEFAULT_RETENTION_DAYS = 30
#: Suffix of the file beside an invalid one that says why.
REASON_SUFFIX = ".reason"
#: How often (seconds) the retention sweep runs.
_SWEEP_EVERY = 3600.0
#: A court folder is named by the court's ORI (the model's pattern for it).
_ORI = re.compile(r"[A-Z]{2}[A-Z0-9]{7}")
#: POSIX flags, named outright: on a system without them the import fails, rather than the
#: spool quietly following links or blocking on a FIFO.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def name_hash(name: str | bytes) -> str:
    """A file name as the engine shows it: 16 hex of the SHA-256 of its bytes."""
    raw = name if isinstance(name, bytes) else os.fsencode(name)
    return hashlib.sha256(raw).hexdigest()[:16]


def skipped_name(name: str) -> bool:
    """Names a writer uses while the file is not complete: never read."""
    return (name.startswith(".") or name.endswith((".tmp", ".part", "~")))


class _Taken(NamedTuple):
    """One file read from ``incoming/``: where it is, and its message."""

    path: Path
    message: IntakeMessage


class SpoolIntake:
    """Feeds the pipeline from a spool directory, a batch of files per round."""

    def __init__(self, root: Path, pipeline: Pipeline, *, batch_size: int = 100,
                 on_pause: Callable[[Exception], None] | None = None,
                 retention_days: float | None = DEFAULT_RETENTION_DAYS,
                 max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.root = root
        self.incoming = root / "incoming"
        self.done = root / "done"
        self.invalid = root / "invalid"
        for folder in (root, self.incoming, self.done, self.invalid):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                folder.chmod(0o700)
        self._pipeline = pipeline
        self._batch_size = batch_size
        self._on_pause = on_pause
        if retention_days is not None and not retention_days > 0:
            # As the config: 0 would read as "keep for ever", a negative number delete
            # every file at once.
            raise ValueError("retention_days must be above 0, or None to keep files")
        self._retention = (dt.timedelta(days=retention_days).total_seconds()
                           if retention_days is not None else None)
        self._max_bytes = max_bytes
        self._last_sweep: float | None = None

    # -- finding files -------------------------------------------------------------------

    def _entries(self) -> list[os.DirEntry[str]]:
        """Candidates directly in incoming/ and in its real court folders; a linked folder
        is itself a candidate (and refused as a symbolic link), never entered."""
        out: list[os.DirEntry[str]] = []
        with os.scandir(self.incoming) as top:
            for entry in top:
                if skipped_name(entry.name):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    out.extend(self._folder_entries(entry.path, sources=True))
                else:
                    out.append(entry)
        return out

    def _folder_entries(self, folder: str, *, sources: bool) -> list[os.DirEntry[str]]:
        """Files in a court folder and, one level down, in its real CMS source folders
        (``incoming/<ORI>/<source>/``); linked folders are never entered."""
        out: list[os.DirEntry[str]] = []
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                if skipped_name(entry.name):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if sources:
                        out.extend(self._folder_entries(entry.path, sources=False))
                else:
                    out.append(entry)
        return out

    def pending(self) -> list[Path]:
        """Files to take, oldest first (skipped names left out; links and odd files are
        included: taking them files them away as refused)."""
        dated = []
        for entry in self._entries():
            try:
                dated.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.name,
                              Path(entry.path)))
            except OSError:  # gone since the listing
                continue
        return [path for _, _, path in sorted(dated)]

    # -- one round -----------------------------------------------------------------------

    def run_once(self) -> int:
        """Take one batch of files; returns how many were handled: refused or recorded.
        With the ledger unavailable only the refusals count: the other files stay and are
        read again next round."""
        self._sweep_if_due()
        taken: list[_Taken] = []
        handled = 0
        for path in self.pending()[: self._batch_size]:
            try:
                body = self._read(path)
            except _Refused as refusal:
                self._refuse(path, refusal.reason)
                handled += 1
                continue
            except FileNotFoundError:
                continue
            folders = path.relative_to(self.incoming).parts[:-1]
            court = folders[0] if folders else None
            source = "/".join(folders[1:]) or None
            if court is not None and not _ORI.fullmatch(court):
                self._refuse(path, "in a court folder whose name is not an NCIC ORI")
                handled += 1
                continue
            taken.append(_Taken(path, IntakeMessage(
                body, message_id=f"spool:{name_hash(path.name)}", court_ori=court,
                source=source)))
        if not taken:
            return handled
        try:
            results = self._pipeline.run([t.message for t in taken])
        except LedgerError as exc:
            log.warning("ledger unavailable; spool files stay for the next round",
                        error_class=type(exc).__name__)
            if self._on_pause is not None:
                self._on_pause(exc)
            return handled
        one_result_each(results, len(taken), "spool files")  # before filing any
        for item, result in zip(taken, results, strict=True):
            self._file_away(item.path, result)
        return handled + len(taken)

    def _read(self, path: Path) -> bytes:
        """The file's bytes, read with the cap; `_Refused` for anything but a regular file."""
        try:
            fd = os.open(path, _OPEN_FLAGS)
        except FileNotFoundError:
            raise
        except OSError as exc:
            st = _lstat(path)
            if st is not None and stat.S_ISLNK(st.st_mode):
                raise _Refused("a symbolic link: the spool takes only regular files") from None
            raise _Refused(f"cannot be opened ({type(exc).__name__})") from None
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise _Refused("not a regular file (a FIFO, socket, device or folder): "
                               "the spool takes only regular files")
            if st.st_nlink > 1:
                raise _Refused("has other hard links: the spool takes only files of its own")
            if st.st_size > self._max_bytes:
                raise _Refused(f"file is {st.st_size} bytes; the limit is {self._max_bytes}")
            body = handle.read(self._max_bytes + 1)
        if len(body) > self._max_bytes:  # grew while being read
            raise _Refused(f"file is over the limit of {self._max_bytes} bytes")
        return body

    # -- filing away ---------------------------------------------------------------------

    def _target(self, folder: Path) -> Path:
        """A fresh generated name: time taken, then randomness (never the writer's name)."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return folder / f"{stamp}-{secrets.token_hex(6)}.msg"

    def _move(self, path: Path, folder: Path) -> Path | None:
        """Rename ``path`` into ``folder`` under a generated name; a regular file of its own
        is made 0600 and dated for retention. A link, a FIFO or a hard link is moved as it
        is: its inode may be shared with a file outside the spool."""
        target = self._target(folder)
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.error("spool file could not be filed away; it will be read again",
                      file_hash=name_hash(path.name), error_class=type(exc).__name__)
            return None
        info = _lstat(target)
        if info is not None and stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
            with contextlib.suppress(OSError):
                target.chmod(0o600)
            with contextlib.suppress(OSError):
                os.utime(target)  # retention counts from filing, not from writing
        return target

    def _write_reason(self, target: Path, text: str, *, file_hash: str) -> None:
        """The reason beside a file in invalid/. Never through a link; a reason that cannot
        be written is logged (the file's hash and the error's class), never raised: one file
        must not end the round for the rest of the batch."""
        reason = target.with_name(target.name + REASON_SUFFIX)
        try:
            fd = os.open(reason, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except OSError as exc:
            log.error("spool reason file could not be written", file_hash=file_hash,
                      filed_as=target.name, error_class=type(exc).__name__)

    def _refuse(self, path: Path, reason: str) -> None:
        """A file the engine would not read: invalid/ with its reason, nothing recorded."""
        target = self._move(path, self.invalid)
        if target is not None:
            self._write_reason(target, f"spool file {name_hash(path.name)}: {reason}",
                               file_hash=name_hash(path.name))
        log.warning("spool file refused", file_hash=name_hash(path.name), reason=reason)

    def _file_away(self, path: Path, result: IntakeResult) -> None:
        bad = result.state is State.INVALID or result.outcome is IntakeOutcome.CONFLICT
        target = self._move(path, self.invalid if bad else self.done)
        if target is not None and bad:
            self._write_reason(target, f"{result.version_key}: {result.reason or result.state}",
                               file_hash=name_hash(path.name))
        log.info("spool file recorded", file_hash=name_hash(path.name),
                 order=result.version_key, outcome=str(result.outcome),
                 state=str(result.state))

    # -- retention -----------------------------------------------------------------------

    def _sweep_if_due(self) -> None:
        now = time.monotonic()
        if self._retention is None or (self._last_sweep is not None
                                       and now - self._last_sweep < _SWEEP_EVERY):
            return
        self._last_sweep = now
        self.sweep()

    def sweep(self, *, now: float | None = None) -> int:
        """Delete files in done/ and invalid/ filed longer ago than the retention, and the
        reason file with each (written just after its file, it would outlive it by a
        sweep). Returns how many were deleted, reason files included."""
        if self._retention is None:
            return 0
        cutoff = (time.time() if now is None else now) - self._retention
        removed = 0
        for folder in (self.done, self.invalid):
            with os.scandir(folder) as entries:
                for entry in entries:
                    try:
                        if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                            os.unlink(entry.path)
                            removed += 1
                            if not entry.name.endswith(REASON_SUFFIX):
                                removed += _unlink_if_there(entry.path + REASON_SUFFIX)
                    except OSError:
                        continue
        if removed:
            log.info("spool retention: old files deleted", count=removed)
        return removed

    def run(self, stop: threading.Event, *, poll_interval: float = 0.5) -> None:
        while not stop.is_set():
            try:
                taken = self.run_once()
            except Exception as exc:  # the intake must not die on one round
                # Class only: an OSError's text carries a file name.
                log.error("spool round failed; trying again", error_class=type(exc).__name__)
                taken = 0
            if not taken:
                stop.wait(poll_interval)


class _Refused(Exception):
    """A spool file the engine will not read, and why (no file name in the reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _unlink_if_there(path: str) -> int:
    """1 if ``path`` was there and is deleted now, else 0."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return 0
    return 1
