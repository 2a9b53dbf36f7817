"""File-drop transport: each envelope becomes one file in an outbox directory, written atomically.

For DOJ endpoints that take batches by file transfer. A file appears under its final name
only when complete: it is written to a hidden temporary file in the same directory,
flushed to disk (``fsync``), then renamed (atomic on POSIX), and the directory entry is
synced too. A pickup job therefore never sees half a message, and after a crash there is
either the whole file or none (a leftover ``.*.tmp`` is ignored by every reader).

File names are the message control number (percent-encoded where it has characters a
file name cannot carry) plus an extension from the content type: ``<mcn>.xml`` for NIEM,
``<mcn>.txt`` for CLETS. Sending the same MCN again replaces the file with identical
content: a retry never makes a second message.

Acknowledgements come back as files in an inbox directory; `poll_file_acks` lists the
complete ones for the correlator, which deletes or archives each after recording it.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.errors import TransportUnavailable
from engine.transports._config import TransportConfigError
from engine.transports.base import Envelope, Receipt, Transport

__all__ = [
    "FileDropTransport",
    "FileTransportConfig",
    "file_name_for",
    "mcn_from_file_name",
    "poll_file_acks",
    "write_atomically",
]

_EXTENSIONS = {"application/xml": ".xml", "text/xml": ".xml", "text/plain": ".txt",
               "application/json": ".json"}


@dataclass(frozen=True, kw_only=True, slots=True)
class FileTransportConfig:
    """Directories shared with the DOJ's file pickup."""

    kind: Literal["file"] = "file"
    #: Where outbound messages are dropped (the DOJ picks them up from here).
    outbox: Path
    #: Where the DOJ drops acknowledgement files (read with `poll_file_acks`).
    inbox: Path | None = None
    #: Create missing directories at connect instead of failing.
    create_dirs: bool = True

    def __post_init__(self) -> None:
        if self.inbox is not None and Path(self.inbox) == Path(self.outbox):
            raise TransportConfigError("inbox and outbox must be different directories")


def file_name_for(mcn: str, content_type: str) -> str:
    """The outbox file name for a message: percent-encoded MCN plus the type's extension."""
    base = content_type.split(";", 1)[0].strip().lower()
    safe = urllib.parse.quote(mcn, safe="-_.@+=")
    if safe.startswith("."):
        safe = "%2E" + safe[1:]
    return safe + _EXTENSIONS.get(base, ".bin")


def mcn_from_file_name(name: str) -> str:
    """The message control number a message or ack file is named after."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return urllib.parse.unquote(stem)


def write_atomically(directory: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``directory/name`` so readers see all of it or nothing.

    Raises `OSError` (the caller maps it); a failed write leaves no file behind.
    """
    final = directory / name
    temp = directory / f".{name}.{uuid.uuid4().hex}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


def poll_file_acks(inbox: Path) -> Iterator[tuple[Path, bytes]]:
    """Each complete acknowledgement file in ``inbox`` (oldest name first) and its bytes.

    Hidden and temporary files (names starting with ``.``) are skipped: they are still
    being written. A file that disappears while listing is skipped too (another replica
    took it). The caller removes or archives each file once it has recorded the ack.
    """
    try:
        entries = sorted(os.scandir(inbox), key=lambda e: e.name)
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        path = Path(entry.path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        yield path, data


class FileDropTransport(Transport):
    """Writes each envelope as one atomically created file in the outbox."""

    def __init__(self, config: FileTransportConfig) -> None:
        self.config = config

    def connect(self) -> None:
        outbox = Path(self.config.outbox)
        try:
            if self.config.create_dirs:
                outbox.mkdir(parents=True, exist_ok=True)
                if self.config.inbox is not None:
                    Path(self.config.inbox).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransportUnavailable(
                f"file drop: cannot create directories: {exc.strerror}") from exc
        if not outbox.is_dir():
            raise TransportUnavailable(f"file drop: outbox {outbox} is not a directory")

    def send(self, envelope: Envelope) -> Receipt:
        self.connect()
        name = file_name_for(envelope.mcn, envelope.content_type)
        try:
            write_atomically(Path(self.config.outbox), name, envelope.body)
        except OSError as exc:
            # Disk full, permissions, a vanished mount: all things someone can fix.
            raise TransportUnavailable(
                f"file drop: cannot write {name}: {exc.strerror or exc}") from exc
        return Receipt(envelope.mcn, None)
