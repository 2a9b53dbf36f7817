"""File-drop transport: atomic files named by MCN, ack polling, and the receiver's file mode."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from engine.ack_types import Accepted
from engine.errors import TransportUnavailable
from engine.receiver import FileReceiver, Receiver, parse_json_ack
from engine.transports import (
    Envelope,
    FileDropTransport,
    FileTransportConfig,
    TransportConfigError,
    poll_file_acks,
)
from engine.transports.file import file_name_for, mcn_from_file_name


def transport(tmp_path: Path) -> FileDropTransport:
    return FileDropTransport(FileTransportConfig(outbox=tmp_path / "out", inbox=tmp_path / "in"))


class TestFileDrop:
    def test_envelope_becomes_one_file_named_by_mcn(self, tmp_path: Path) -> None:
        """A NIEM envelope is written whole as <mcn>.xml in the outbox; no ack yet."""
        with transport(tmp_path) as t:
            receipt = t.send(Envelope("M-1", b"<order/>", "application/xml"))
        assert receipt.ack is None
        assert [p.name for p in (tmp_path / "out").iterdir()] == ["M-1.xml"]
        assert (tmp_path / "out" / "M-1.xml").read_bytes() == b"<order/>"

    def test_resend_replaces_the_file_instead_of_adding_one(self, tmp_path: Path) -> None:
        """Sending the same MCN again leaves one file: a retry is not a second message."""
        with transport(tmp_path) as t:
            t.send(Envelope("M-1", b"A", "text/plain"))
            t.send(Envelope("M-1", b"A", "text/plain"))
        assert [p.name for p in (tmp_path / "out").iterdir()] == ["M-1.txt"]

    def test_failed_write_leaves_no_file_behind(self, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
        """If the write fails before the rename, neither the file nor its temp file remains."""
        def broken_fsync(fd: int) -> None:
            raise OSError(28, "No space left on device")

        t = transport(tmp_path)
        t.connect()
        monkeypatch.setattr(os, "fsync", broken_fsync)
        with pytest.raises(TransportUnavailable, match="No space left"):
            t.send(Envelope("M-2", b"<order/>", "application/xml"))
        assert list((tmp_path / "out").iterdir()) == []

    def test_outbox_that_cannot_be_created_is_transient(self, tmp_path: Path) -> None:
        """An outbox path blocked by a file raises TransportUnavailable (someone can fix it)."""
        (tmp_path / "out").write_text("not a directory")
        with pytest.raises(TransportUnavailable):
            FileDropTransport(FileTransportConfig(outbox=tmp_path / "out" / "x")).send(
                Envelope("M", b"x", "text/plain"))

    @pytest.mark.parametrize("mcn", ["CA019015J-000123", "a/b", "..", "x y", ".hidden"])
    def test_file_names_are_safe_and_reversible(self, mcn: str) -> None:
        """Any MCN becomes one plain, visible file name that gives the MCN back."""
        name = file_name_for(mcn, "application/xml")
        assert "/" not in name
        assert not name.startswith(".")
        assert mcn_from_file_name(name) == mcn

    def test_same_inbox_and_outbox_is_refused(self, tmp_path: Path) -> None:
        """Acks and messages in one directory would be mixed up: the config is refused."""
        with pytest.raises(TransportConfigError, match="different"):
            FileTransportConfig(outbox=tmp_path, inbox=tmp_path)


class TestPollFileAcks:
    def test_lists_complete_files_and_skips_temporary_ones(self, tmp_path: Path) -> None:
        """Hidden temp files (still being written) and directories are not acks."""
        (tmp_path / "b.ack").write_bytes(b"B")
        (tmp_path / "a.ack").write_bytes(b"A")
        (tmp_path / ".c.ack.123.tmp").write_bytes(b"partial")
        (tmp_path / "processed").mkdir()
        assert list(poll_file_acks(tmp_path)) == [(tmp_path / "a.ack", b"A"),
                                                  (tmp_path / "b.ack", b"B")]

    def test_missing_inbox_yields_nothing(self, tmp_path: Path) -> None:
        """An inbox that does not exist yet is simply empty."""
        assert list(poll_file_acks(tmp_path / "nope")) == []


class TestFileReceiver:
    def test_round_trip_through_the_receiver(self, tmp_path: Path, order_body) -> None:
        """The receiver picks up the dropped message and drops an accept ack for it."""
        receiver = Receiver(format="canonical")
        files = FileReceiver(receiver, pickup=tmp_path / "out", acks=tmp_path / "in")
        with transport(tmp_path) as t:
            t.send(Envelope("F-1", order_body(), "application/json"))
        files.pickup.mkdir(exist_ok=True)
        files.acks.mkdir(exist_ok=True)
        files.processed.mkdir(exist_ok=True)
        assert files.poll_once() == 1
        (_path, data), = poll_file_acks(tmp_path / "in")
        ack = parse_json_ack(data)
        assert isinstance(ack, Accepted)
        assert ack.mcn == "F-1"
        assert list(files.pickup.glob("*.json")) == []
        assert (files.processed / "F-1.json").exists()

    def test_receiver_thread_answers_while_up(self, tmp_path: Path, order_body) -> None:
        """With the polling thread up, a dropped message gets its ack file."""
        receiver = Receiver(format="canonical")
        with FileReceiver(receiver, pickup=tmp_path / "out", acks=tmp_path / "in",
                          poll_interval=0.01), transport(tmp_path) as t:
            t.send(Envelope("F-2", order_body(), "application/json"))
            acks: list[tuple[Path, bytes]] = []
            for _ in range(1000):  # bounded wait for the polling thread, not a timing claim
                acks = list(poll_file_acks(tmp_path / "in"))
                if acks:
                    break
                time.sleep(0.01)
        assert parse_json_ack(acks[0][1]).mcn == "F-2"

    def test_fail_fault_answers_with_a_retryable_busy_reject(self, tmp_path: Path,
                                                             order_body) -> None:
        """Under the fail fault the file receiver answers BUSY (retryable) and records nothing."""
        receiver = Receiver(format="canonical")
        receiver.faults.next("fail")
        files = FileReceiver(receiver, pickup=tmp_path / "out", acks=tmp_path / "in")
        files.up()
        files.down()
        with transport(tmp_path) as t:
            t.send(Envelope("F-3", order_body(), "application/json"))
        files.poll_once()
        ack = parse_json_ack(next(poll_file_acks(tmp_path / "in"))[1])
        assert (ack.code, ack.retryable) == ("BUSY", True)
        assert receiver.journal.entries() == []


def _wait_for_acks(inbox: Path, count: int) -> list[tuple[Path, bytes]]:
    acks: list[tuple[Path, bytes]] = []
    for _ in range(1000):  # bounded wait for a timer thread, not a timing claim
        acks = list(poll_file_acks(inbox))
        if len(acks) >= count:
            break
        time.sleep(0.01)
    return acks


def test_file_receiver_late_ack_and_double_ack(tmp_path: Path, order_body) -> None:
    """A delayed ack still arrives; under ack-twice a second copy appears beside the first."""
    receiver = Receiver(format="canonical")
    receiver.faults.ack_delay = 0.05
    receiver.faults.next("ack-twice")
    files = FileReceiver(receiver, pickup=tmp_path / "out", acks=tmp_path / "in")
    files.up()
    try:
        with transport(tmp_path) as t:
            t.send(Envelope("LATE-1", order_body(), "application/json"))
        acks = _wait_for_acks(tmp_path / "in", 2)
    finally:
        files.down()
    assert len(acks) == 2
    assert acks[0][1] == acks[1][1]
    assert parse_json_ack(acks[0][1]).mcn == "LATE-1"


def test_file_receiver_drop_leaves_no_ack(tmp_path: Path, order_body) -> None:
    """Under drop the message is processed and journaled but no ack file is written."""
    receiver = Receiver(format="canonical")
    receiver.faults.next("drop")
    files = FileReceiver(receiver, pickup=tmp_path / "out", acks=tmp_path / "in")
    files.up()
    files.down()
    with transport(tmp_path) as t:
        t.send(Envelope("DROP-1", order_body(), "application/json"))
    assert files.poll_once() == 1
    assert list(poll_file_acks(tmp_path / "in")) == []
    assert [e.mcn for e in receiver.journal.accepted()] == ["DROP-1"]
