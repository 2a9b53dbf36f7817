"""The spool intake's rules, stated exactly (engine/intake/spool.py; its docstring is the
spec): which names are skipped, which files are listed and in what order, what each round
takes and returns, the exact reason text of every refusal, where each file is filed and
under what name and mode, what happens when the ledger is down, retention, and the loop.

Fast and in-process (a real `Pipeline` over a SQLite ledger where the ledger matters, a
stub pipeline where only the spool does). Every assertion is exact, so that a one-token
change in spool.py (mutation testing, tools/mutation.py) fails some test here. The hostile
cases of tests/faults/test_faults_spool.py (a running engine) are mirrored here in-process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import socket
import stat
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

import engine.intake.spool as spool_mod
from engine.canonical import MAX_MESSAGE_BYTES
from engine.errors import LedgerError
from engine.intake.pipeline import IntakeMessage
from engine.intake.spool import (
    DEFAULT_RETENTION_DAYS,
    REASON_SUFFIX,
    SpoolIntake,
    name_hash,
    skipped_name,
)
from engine.ledger import IntakeOutcome, IntakeResult, State
from engine.ledger.schema import intake_messages
from tests.core.core_harness import Core, order_message

#: What a generated file name looks like: UTC time of filing (to the microsecond), 12 hex.
GENERATED = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{12}\.msg$")
#: A court ORI the core's fixture order (dv_tro_issue.json) names.
ORI = "CA019015J"
#: Builds a spool under tmp_path/spool (the `make` fixture).
Make = Callable[..., SpoolIntake]
#: A long time ago (2001-09-09), in seconds and in nanoseconds, for file dates.
LONG_AGO = 1_000_000_000
LONG_AGO_NS = LONG_AGO * 10**9
DAY = 86400

SYMLINK = "a symbolic link: the spool takes only regular files"
NOT_REGULAR = ("not a regular file (a FIFO, socket, device or folder): "
               "the spool takes only regular files")
HARD_LINKS = "has other hard links: the spool takes only files of its own"
NOT_AN_ORI = "in a court folder whose name is not an NCIC ORI"


# -- helpers ---------------------------------------------------------------------------------

class _SortedScan:
    """`os.scandir` with its entries in name order: the rounds' `continue`s are tested
    with the entry that must be passed over listed first, on any file system."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self._entries = iter(sorted(real, key=lambda e: e.name))

    def __enter__(self) -> _SortedScan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> _SortedScan:
        return self

    def __next__(self) -> os.DirEntry[str]:
        return next(self._entries)

    def close(self) -> None:
        self._real.close()


_REAL_SCANDIR = os.scandir


def _sorted_scandir(*args, **kwargs):  # type: ignore[no-untyped-def]
    return _SortedScan(_REAL_SCANDIR(*args, **kwargs))


@pytest.fixture(autouse=True)
def _name_ordered_scandir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "scandir", _sorted_scandir)


class Stub:
    """A pipeline that records each batch and answers with `results` (default: each
    message NEW and READY under the key ``K/<n>#1``), or raises `error`."""

    def __init__(self, results: list[IntakeResult] | None = None,
                 error: Exception | None = None) -> None:
        self.batches: list[list[IntakeMessage]] = []
        self.results = results
        self.error = error

    def run(self, messages: list[IntakeMessage]) -> list[IntakeResult]:
        self.batches.append(list(messages))
        if self.error is not None:
            raise self.error
        if self.results is not None:
            return self.results
        return [IntakeResult(IntakeOutcome.NEW, f"K/{i}#1", State.READY)
                for i in range(len(messages))]

    @property
    def bodies(self) -> list[list[bytes]]:
        return [[m.body for m in batch] for batch in self.batches]


class Recording:
    """The real pipeline, recording the messages it is given."""

    def __init__(self, pipeline) -> None:  # type: ignore[no-untyped-def]
        self.pipeline = pipeline
        self.batches: list[list[IntakeMessage]] = []

    def run(self, messages):  # type: ignore[no-untyped-def]
        self.batches.append(list(messages))
        return self.pipeline.run(messages)


def drop(folder: Path, name: str | bytes, body: bytes = b"x", *, at: int | None = None,
         mode: int = 0o644) -> Path:
    """Write a file (0644, dated ``at`` seconds since the epoch if given)."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = os.fsencode(folder) + b"/" + (name if isinstance(name, bytes) else os.fsencode(name))
    with open(raw, "wb") as handle:
        handle.write(body)
    path = Path(os.fsdecode(raw))
    path.chmod(mode)
    if at is not None:
        os.utime(path, ns=(at * 10**9, at * 10**9))
    return path


def date(path: Path, at: int) -> None:
    """Set the entry's own mtime (a link's, not its target's)."""
    os.utime(path, ns=(at * 10**9, at * 10**9), follow_symlinks=False)


def refused(name: str | bytes, reason: str) -> str:
    return f"spool file {name_hash(name)}: {reason}\n"


def filed(folder: Path) -> list[Path]:
    """The filed files in done/ or invalid/ (not the reason files), by name."""
    return sorted(p for p in folder.iterdir() if not p.name.endswith(REASON_SUFFIX))


def reasons(spool: SpoolIntake) -> dict[bytes, str]:
    """Each invalid file's content (or, for a link, its target) -> its reason text."""
    out: dict[bytes, str] = {}
    for path in filed(spool.invalid):
        reason = path.with_name(path.name + REASON_SUFFIX)
        key = (os.fsencode(os.readlink(path)) if path.is_symlink()
               else b"<fifo>" if stat.S_ISFIFO(path.lstat().st_mode) else path.read_bytes())
        out[key] = reason.read_text(encoding="utf-8")
    return out


def names_in(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def rel(spool: SpoolIntake, paths: list[Path]) -> list[str]:
    return [str(p.relative_to(spool.incoming)) for p in paths]


def recorded(core: Core) -> list[tuple[str, str]]:
    """(message_id, outcome) of each intake message the ledger recorded, in order."""
    with core.ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(intake_messages.c.message_id, intake_messages.c.outcome)
                            .order_by(intake_messages.c.id))
        return [(r.message_id, r.outcome) for r in rows]


def mode(path: Path) -> int:
    return path.lstat().st_mode & 0o777


@pytest.fixture
def make(tmp_path: Path) -> Make:
    """A spool under tmp_path/spool over the given pipeline (default: a fresh `Stub`)."""
    def build(pipeline=None, **options) -> SpoolIntake:  # type: ignore[no-untyped-def]
        return SpoolIntake(tmp_path / "spool", pipeline if pipeline is not None else Stub(),
                           **options)
    return build


# -- constants -------------------------------------------------------------------------------

def test_the_module_constants() -> None:
    assert DEFAULT_RETENTION_DAYS == 30
    assert REASON_SUFFIX == ".reason"
    assert spool_mod._SWEEP_EVERY == 3600.0
    assert spool_mod._ORI.pattern == "[A-Z]{2}[A-Z0-9]{7}"


def test_files_are_opened_without_following_links_without_blocking() -> None:
    assert spool_mod._OPEN_FLAGS == (os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                                     | os.O_CLOEXEC)


# -- skipped_name, name_hash -----------------------------------------------------------------

@pytest.mark.parametrize("name", [
    ".hidden", ".", "..", ".order.json", ".tmp", "order.json.tmp", "a.tmp", "a.part",
    "order.json.part", ".part", "a~", "~", "order.json~", ".x~", "a.tmp~"])
def test_names_a_writer_uses_while_writing_are_skipped(name: str) -> None:
    assert skipped_name(name) is True


@pytest.mark.parametrize("name", [
    "", "a.json", "a.tmpx", "x.partial", "a~b", "~a", "tmp", "part", "a.TMP", "a.PART",
    "a.tmp.json", "a_tmp", "atmp", "apart", "a.par", "a.tm", "hidden.", "a.reason", "a. tmp",
    "a.tmp ", "a.msg"])
def test_near_misses_are_not_skipped(name: str) -> None:
    """Case matters (``a.TMP`` is read), and only the exact suffixes count."""
    assert skipped_name(name) is False


def test_name_hash_is_16_hex_of_the_sha256_of_the_name_bytes() -> None:
    assert name_hash("a.json") == "6025a12236ee54ba"
    assert name_hash("a.json") == hashlib.sha256(b"a.json").hexdigest()[:16]
    assert name_hash(b"a.json") == "6025a12236ee54ba"
    assert name_hash("Guadalupe Ramírez.json") == hashlib.sha256(
        "Guadalupe Ramírez.json".encode()).hexdigest()[:16]
    assert re.fullmatch(r"[0-9a-f]{16}", name_hash("x")) is not None


def test_name_hash_of_a_name_that_is_not_utf8() -> None:
    raw = b"Guadalupe-\xff\xfe-Ramirez.json"
    assert name_hash(raw) == hashlib.sha256(raw).hexdigest()[:16]
    assert name_hash(os.fsdecode(raw)) == name_hash(raw)  # as os.scandir lists it


# -- the folders -----------------------------------------------------------------------------

def test_the_folders_are_made_0700_under_a_missing_parent(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "spool"
    spool = SpoolIntake(root, Stub())
    assert (spool.root, spool.incoming, spool.done, spool.invalid) == (
        root, root / "incoming", root / "done", root / "invalid")
    assert [mode(p) for p in (root, spool.incoming, spool.done, spool.invalid)] == [0o700] * 4
    assert names_in(root) == ["done", "incoming", "invalid"]


def test_existing_0755_folders_are_made_0700_and_their_files_kept(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    for folder in (root, root / "incoming", root / "done", root / "invalid"):
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)
    drop(root / "incoming", "a.json", b"kept")
    spool = SpoolIntake(root, Stub())
    assert [mode(p) for p in (root, spool.incoming, spool.done, spool.invalid)] == [0o700] * 4
    assert (spool.incoming / "a.json").read_bytes() == b"kept"


def test_new_folders_are_made_0700_even_when_chmod_fails(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """mkdir's own mode makes them private; a chmod that fails is not an error (an
    existing folder then keeps its mode)."""
    def no_chmod(self, mode):  # type: ignore[no-untyped-def]
        raise PermissionError(1, "no")
    (tmp_path / "spool").mkdir(mode=0o755)
    (tmp_path / "spool").chmod(0o755)
    old = os.umask(0o022)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(Path, "chmod", no_chmod)
            spool = SpoolIntake(tmp_path / "spool", Stub())
    finally:
        os.umask(old)
    assert [mode(p) for p in (spool.root, spool.incoming, spool.done, spool.invalid)] == [
        0o755, 0o700, 0o700, 0o700]


# -- pending() -------------------------------------------------------------------------------

def test_pending_is_oldest_first_ties_by_file_name(make: Make) -> None:
    spool = make()
    inc = spool.incoming
    drop(inc, "b.json", at=LONG_AGO + 5)
    drop(inc, "a.json", at=LONG_AGO + 5)          # same time as b.json: by name
    drop(inc / ORI, "c.json", at=LONG_AGO + 1)
    drop(inc / ORI / "cms", "d.json", at=LONG_AGO + 3)
    drop(inc, "z.json", at=LONG_AGO + 2)
    drop(inc / ORI, "b.json", at=LONG_AGO + 4)    # by name, not by path
    drop(inc / ORI, "a.json", at=LONG_AGO + 6)
    drop(inc, "y.json", at=LONG_AGO + 6)
    drop(inc, "n.json", at=LONG_AGO + 4)
    assert rel(spool, spool.pending()) == [
        f"{ORI}/c.json", "z.json", f"{ORI}/cms/d.json", f"{ORI}/b.json", "n.json", "a.json",
        "b.json", f"{ORI}/a.json", "y.json"]


def test_pending_orders_by_nanoseconds(make: Make) -> None:
    spool = make()
    for name, ns in (("a", 3), ("b", 1), ("c", 2)):
        path = drop(spool.incoming, name)
        os.utime(path, ns=(LONG_AGO_NS + ns, LONG_AGO_NS + ns))
    assert rel(spool, spool.pending()) == ["b", "c", "a"]


def test_pending_leaves_out_skipped_names_at_every_level(make: Make) -> None:
    spool = make()
    inc = spool.incoming
    for folder in (inc, inc / ORI, inc / ORI / "cms"):
        for name in (".hidden", "a.tmp", "a.part", "a~"):
            drop(folder, name)
        drop(folder, "z.json")
    drop(inc / ".court", "in-hidden-folder.json")          # a skipped folder is not entered
    drop(inc / "CA000000J~", "in-backup-folder.json")
    drop(inc / ORI / "cms.part", "in-partial-source.json")
    assert sorted(rel(spool, spool.pending())) == [f"{ORI}/cms/z.json", f"{ORI}/z.json",
                                                    "z.json"]


def test_pending_goes_two_levels_down_not_three(make: Make) -> None:
    spool = make()
    inc = spool.incoming
    drop(inc / ORI / "cms" / "deeper", "third.json")
    drop(inc / ORI / "cms" / "deeper" / "fourth", "fourth.json")
    drop(inc / ORI / "cms", "second.json", at=LONG_AGO + 2)
    drop(inc / ORI, "first.json", at=LONG_AGO + 1)
    drop(inc / "empty-court", "e.json", at=LONG_AGO + 3)
    assert rel(spool, spool.pending()) == [f"{ORI}/first.json", f"{ORI}/cms/second.json",
                                           "empty-court/e.json"]


def test_pending_lists_links_and_fifos_but_never_enters_a_linked_folder(
        make: Make, tmp_path: Path) -> None:
    """A symbolic link (dangling, to a file, to a folder) and a FIFO are listed as
    themselves, by their own date: taking them refuses them."""
    spool = make()
    inc = spool.incoming
    outside = tmp_path / "outside"
    drop(outside, "secret.json", at=LONG_AGO + 100)
    (inc / "to-file").symlink_to(outside / "secret.json")
    (inc / "dangling").symlink_to(tmp_path / "missing")
    (inc / "CA037035J").symlink_to(outside)               # a linked court folder
    (inc / ORI).mkdir()
    (inc / ORI / "cms").symlink_to(outside)               # a linked source folder
    os.mkfifo(inc / "fifo", 0o644)
    for at, name in enumerate(["to-file", "dangling", "CA037035J", f"{ORI}/cms", "fifo"]):
        date(inc / name, LONG_AGO + at)
    assert rel(spool, spool.pending()) == ["to-file", "dangling", "CA037035J", f"{ORI}/cms",
                                           "fifo"]


def test_pending_passes_over_a_file_gone_since_the_listing(
        make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = make()
    gone = drop(spool.incoming, "a-gone.json", at=LONG_AGO)
    drop(spool.incoming, "b.json", at=LONG_AGO + 2)
    drop(spool.incoming, "c.json", at=LONG_AGO + 1)

    def listing_then_gone(*args, **kwargs):  # type: ignore[no-untyped-def]
        scan = _sorted_scandir(*args, **kwargs)
        gone.unlink(missing_ok=True)
        return scan
    monkeypatch.setattr(os, "scandir", listing_then_gone)
    assert rel(spool, spool.pending()) == ["c.json", "b.json"]


def test_pending_passes_over_a_court_folder_it_cannot_list(
        make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = make()
    drop(spool.incoming / "AA0000000", "unlisted.json")
    drop(spool.incoming / ORI, "listed.json", at=LONG_AGO + 1)
    drop(spool.incoming, "z.json", at=LONG_AGO)

    def refuse_one(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path).endswith("AA0000000"):
            raise PermissionError(13, "denied")
        return _sorted_scandir(path, *args, **kwargs)
    monkeypatch.setattr(os, "scandir", refuse_one)
    assert rel(spool, spool.pending()) == ["z.json", f"{ORI}/listed.json"]


def test_pending_without_an_incoming_folder_is_an_error(make: Make) -> None:
    spool = make()
    spool.incoming.rmdir()
    with pytest.raises(FileNotFoundError):
        spool.pending()


# -- run_once(): what a round takes ----------------------------------------------------------

def test_a_round_with_nothing_pending_returns_0_and_runs_no_batch(make: Make) -> None:
    stub = Stub()
    spool = make(stub)
    drop(spool.incoming, ".half", b"{")
    drop(spool.incoming, "half.tmp", b"{")
    assert spool.run_once() == 0
    assert stub.batches == []
    assert names_in(spool.incoming) == [".half", "half.tmp"]
    assert names_in(spool.done) == [] and names_in(spool.invalid) == []


def test_a_round_takes_at_most_batch_size_files_oldest_first(make: Make) -> None:
    stub = Stub()
    spool = make(stub, batch_size=2)
    drop(spool.incoming, "a", b"newest", at=LONG_AGO + 30)
    drop(spool.incoming, "b", b"oldest", at=LONG_AGO + 10)
    drop(spool.incoming, "c", b"middle", at=LONG_AGO + 20)
    assert spool.run_once() == 2
    assert stub.bodies == [[b"oldest", b"middle"]]
    assert names_in(spool.incoming) == ["a"]
    assert spool.run_once() == 1
    assert spool.run_once() == 0
    assert stub.bodies == [[b"oldest", b"middle"], [b"newest"]]
    assert sorted(p.read_bytes() for p in filed(spool.done)) == [b"middle", b"newest",
                                                                 b"oldest"]


def test_the_default_batch_is_100_files(make: Make) -> None:
    stub = Stub()
    spool = make(stub)
    for i in range(101):
        drop(spool.incoming, f"f{i:03}", str(i).encode(), at=LONG_AGO + i)
    assert spool.run_once() == 100
    assert [m.body for m in stub.batches[0]] == [str(i).encode() for i in range(100)]
    assert names_in(spool.incoming) == ["f100"]
    assert len(filed(spool.done)) == 100


def test_a_batch_of_more_than_256_files_is_filed_whole(make: Make) -> None:
    """Counts are compared by value (CPython shares int objects only up to 256)."""
    stub = Stub()
    spool = make(stub, batch_size=300)
    for i in range(300):
        drop(spool.incoming, f"f{i:03}", b"x", at=LONG_AGO + i)
    assert spool.run_once() == 300
    assert names_in(spool.incoming) == [] and len(filed(spool.done)) == 300


def test_the_options_are_keyword_only(make: Make, tmp_path: Path) -> None:
    """A stray positional number is never taken as a batch size, a clock or a poll
    interval."""
    with pytest.raises(TypeError):
        SpoolIntake(tmp_path / "spool", Stub(), 5)  # type: ignore[misc]
    spool = make()
    with pytest.raises(TypeError):
        spool.sweep(LONG_AGO)  # type: ignore[misc]
    stop = threading.Event()
    stop.set()
    with pytest.raises(TypeError):
        spool.run(stop, 0.1)  # type: ignore[misc]


def test_refusals_count_in_the_batch_and_in_the_result(
        make: Make, tmp_path: Path) -> None:
    stub = Stub()
    spool = make(stub, batch_size=2)
    (spool.incoming / "link").symlink_to(tmp_path / "missing")
    date(spool.incoming / "link", LONG_AGO)
    drop(spool.incoming, "first", b"1", at=LONG_AGO + 1)
    drop(spool.incoming, "second", b"2", at=LONG_AGO + 2)
    assert spool.run_once() == 2           # the link refused + one file taken
    assert stub.bodies == [[b"1"]]
    assert names_in(spool.incoming) == ["second"]


def test_each_refusal_is_counted_and_the_next_file_taken(
        make: Make, tmp_path: Path) -> None:
    stub = Stub()
    spool = make(stub)
    (spool.incoming / "l1").symlink_to(tmp_path / "missing")
    (spool.incoming / "l2").symlink_to(tmp_path / "missing")
    date(spool.incoming / "l1", LONG_AGO)
    date(spool.incoming / "l2", LONG_AGO + 1)
    drop(spool.incoming / "bad-court", "f", b"bad", at=LONG_AGO + 2)
    drop(spool.incoming / "bad-court", "g", b"bad2", at=LONG_AGO + 3)
    drop(spool.incoming, "good", b"good", at=LONG_AGO + 4)
    assert spool.run_once() == 5
    assert stub.bodies == [[b"good"]]
    assert len(filed(spool.invalid)) == 4 and len(filed(spool.done)) == 1


def test_a_file_gone_before_it_is_read_is_passed_over_uncounted(
        make: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stub = Stub()
    spool = make(stub)
    real = drop(spool.incoming, "real", b"real")
    monkeypatch.setattr(spool, "pending", lambda: [spool.incoming / "gone", real])
    with capture_logs() as logs:
        assert spool.run_once() == 1
    assert stub.bodies == [[b"real"]]
    assert names_in(spool.invalid) == []
    assert [e["event"] for e in logs] == ["spool file recorded"]


def test_a_message_carries_the_name_hash_its_court_and_its_source(make: Make) -> None:
    stub = Stub()
    spool = make(stub)
    drop(spool.incoming, "top.json", b"t", at=LONG_AGO)
    drop(spool.incoming / ORI, "court.json", b"c", at=LONG_AGO + 1)
    drop(spool.incoming / ORI / "cms-a", "source.json", b"s", at=LONG_AGO + 2)
    drop(spool.incoming / "ZZ9999999" / "b", "other.json", b"o", at=LONG_AGO + 3)
    assert spool.run_once() == 4
    assert stub.batches == [[
        IntakeMessage(b"t", message_id=f"spool:{name_hash('top.json')}", court_ori=None,
                      source=None),
        IntakeMessage(b"c", message_id=f"spool:{name_hash('court.json')}", court_ori=ORI,
                      source=None),
        IntakeMessage(b"s", message_id=f"spool:{name_hash('source.json')}", court_ori=ORI,
                      source="cms-a"),
        IntakeMessage(b"o", message_id=f"spool:{name_hash('other.json')}",
                      court_ori="ZZ9999999", source="b"),
    ]]
    assert names_in(spool.incoming) == [ORI, "ZZ9999999"]   # the folders stay
    assert names_in(spool.incoming / ORI) == ["cms-a"]


def test_the_ledger_records_spool_and_the_name_hash(core: Core, make: Make) -> None:
    spool = make(core.pipeline)
    raw = b"Guadalupe-\xff\xfe-Ramirez.json"
    drop(spool.incoming, raw, order_message("A").body, at=LONG_AGO)
    drop(spool.incoming, "Ramirez.json", order_message("B").body, at=LONG_AGO + 1)
    assert spool.run_once() == 2
    assert recorded(core) == [(f"spool:{name_hash(raw)}", "new"),
                              (f"spool:{name_hash('Ramirez.json')}", "new")]
    assert f"spool:{name_hash(raw)}" == f"spool:{hashlib.sha256(raw).hexdigest()[:16]}"
    assert names_in(spool.incoming) == []
    assert all(GENERATED.match(n) for n in names_in(spool.done))


@pytest.mark.parametrize("folder", [
    "CA01901J", "CA019015JX", "ca019015j", "CA019015j", "C1019015J", "1A019015J", "CA-19015J",
    "CA019015J ", "bad-court"])
def test_a_court_folder_whose_name_is_not_an_ori_is_refused(make: Make, folder: str) -> None:
    stub = Stub()
    spool = make(stub)
    drop(spool.incoming / folder, "o.json", b"in court", at=LONG_AGO)
    drop(spool.incoming / folder / "cms", "p.json", b"in source", at=LONG_AGO + 1)
    assert spool.run_once() == 2
    assert stub.batches == []
    assert reasons(spool) == {b"in court": refused("o.json", NOT_AN_ORI),
                              b"in source": refused("p.json", NOT_AN_ORI)}
    assert names_in(spool.incoming / folder) == ["cms"]
    assert names_in(spool.incoming / folder / "cms") == []


@pytest.mark.parametrize("folder", ["CA019015J", "AB1234567", "ZZZZZZZZZ", "AA000000Z"])
def test_a_court_folder_named_by_an_ori_is_taken(make: Make, folder: str) -> None:
    stub = Stub()
    spool = make(stub)
    drop(spool.incoming / folder, "o.json", b"o")
    assert spool.run_once() == 1
    assert [(m.court_ori, m.source) for m in stub.batches[0]] == [(folder, None)]
    assert names_in(spool.invalid) == []


@pytest.mark.parametrize("count", [1, 3])
def test_a_result_count_other_than_the_files_files_none_of_them(make: Make,
                                                                 count: int) -> None:
    """Results are matched to files one to one; a pipeline that gives fewer or more is an
    error raised before any file moves (they are read again, duplicates to the ledger)."""
    stub = Stub(results=[IntakeResult(IntakeOutcome.NEW, f"K/{i}#1", State.READY)
                         for i in range(count)])
    spool = make(stub)
    drop(spool.incoming, "a", b"a", at=LONG_AGO)
    drop(spool.incoming, "b", b"b", at=LONG_AGO + 1)
    with pytest.raises(RuntimeError, match=rf"^the pipeline gave {count} results for 2 spool "
                                           r"files$"):
        spool.run_once()
    assert names_in(spool.incoming) == ["a", "b"]
    assert names_in(spool.done) == [] and names_in(spool.invalid) == []


# -- _read: files refused before reading -----------------------------------------------------

def test_a_symlink_to_a_file_is_refused_and_moved_as_a_link(
        make: Make, tmp_path: Path) -> None:
    stub = Stub()
    spool = make(stub)
    target = drop(tmp_path / "outside", "order.json", b"outside", at=LONG_AGO)
    (spool.incoming / "linked.json").symlink_to(target)
    assert spool.run_once() == 1
    assert stub.batches == []
    [moved] = filed(spool.invalid)
    assert GENERATED.match(moved.name)
    assert moved.is_symlink() and os.readlink(moved) == str(target)
    assert reasons(spool) == {os.fsencode(target): refused("linked.json", SYMLINK)}
    # What it points at is not read, moved, made private nor re-dated.
    assert (target.read_bytes(), mode(target), target.stat().st_mtime_ns) == (
        b"outside", 0o644, LONG_AGO_NS)
    assert names_in(spool.incoming) == []


def test_a_dangling_symlink_is_refused(make: Make, tmp_path: Path) -> None:
    spool = make()
    (spool.incoming / "dangling.json").symlink_to(tmp_path / "missing.json")
    assert spool.run_once() == 1
    assert reasons(spool) == {os.fsencode(tmp_path / "missing.json"):
                              refused("dangling.json", SYMLINK)}
    assert not (tmp_path / "missing.json").exists()


def test_a_linked_court_folder_is_refused_as_a_link(make: Make, tmp_path: Path) -> None:
    stub = Stub()
    spool = make(stub)
    outside = tmp_path / "outside"
    drop(outside, "order.json", b"outside")
    (spool.incoming / ORI).symlink_to(outside)
    assert spool.run_once() == 1
    assert stub.batches == []
    assert reasons(spool) == {os.fsencode(outside): refused(ORI, SYMLINK)}
    assert names_in(outside) == ["order.json"]


def test_a_fifo_is_refused_without_blocking(make: Make) -> None:
    stub = Stub()
    spool = make(stub)
    os.mkfifo(spool.incoming / "fifo.json", 0o644)
    (spool.incoming / "fifo.json").chmod(0o644)
    assert spool.run_once() == 1
    assert stub.batches == []
    [moved] = filed(spool.invalid)
    assert stat.S_ISFIFO(moved.lstat().st_mode) and mode(moved) == 0o644  # moved as it is
    assert reasons(spool) == {b"<fifo>": refused("fifo.json", NOT_REGULAR)}


def test_a_socket_is_refused_as_a_file_that_cannot_be_opened(
        make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = make()
    monkeypatch.chdir(spool.incoming)  # a short path for bind()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("sock")
        assert spool.run_once() == 1
    [moved] = filed(spool.invalid)
    assert stat.S_ISSOCK(moved.lstat().st_mode)
    reason = moved.with_name(moved.name + REASON_SUFFIX)
    assert reason.read_text() == refused("sock", "cannot be opened (OSError)")


def test_a_file_with_another_hard_link_is_refused_and_its_inode_left_alone(
        make: Make, tmp_path: Path) -> None:
    stub = Stub()
    spool = make(stub)
    other = drop(tmp_path / "outside", "other.json", b"shared", at=LONG_AGO)
    os.link(other, spool.incoming / "hard.json")
    assert spool.run_once() == 1
    assert stub.batches == []
    [moved] = filed(spool.invalid)
    assert moved.stat().st_ino == other.stat().st_ino and moved.stat().st_nlink == 2
    assert reasons(spool) == {b"shared": refused("hard.json", HARD_LINKS)}
    assert (mode(other), other.stat().st_mtime_ns) == (0o644, LONG_AGO_NS)


def test_a_file_over_the_limit_is_refused_by_its_size(make: Make) -> None:
    stub = Stub()
    spool = make(stub, max_bytes=100)
    drop(spool.incoming, "big.json", b"b" * 101, at=LONG_AGO)
    drop(spool.incoming, "fits.json", b"f" * 100, at=LONG_AGO + 1)
    drop(spool.incoming, "small.json", b"s" * 99, at=LONG_AGO + 2)
    assert spool.run_once() == 3
    assert stub.bodies == [[b"f" * 100, b"s" * 99]]   # read whole, exactly
    assert reasons(spool) == {
        b"b" * 101: refused("big.json", "file is 101 bytes; the limit is 100")}
    [big] = filed(spool.invalid)
    assert mode(big) == 0o600          # a regular file of its own: private once filed


def test_the_default_limit_is_max_message_bytes(make: Make) -> None:
    stub = Stub()
    spool = make(stub)
    with (spool.incoming / "huge.json").open("wb") as handle:
        handle.truncate(MAX_MESSAGE_BYTES + 1)       # sparse: cheap to make
    os.utime(spool.incoming / "huge.json", ns=(LONG_AGO_NS, LONG_AGO_NS))
    with (spool.incoming / "limit.json").open("wb") as handle:
        handle.truncate(MAX_MESSAGE_BYTES)
    assert spool.run_once() == 2
    assert [len(m.body) for m in stub.batches[0]] == [1_000_000]
    [huge] = filed(spool.invalid)
    assert huge.with_name(huge.name + REASON_SUFFIX).read_text() == refused(
        "huge.json", "file is 1000001 bytes; the limit is 1000000")


def test_a_file_that_grows_while_read_is_refused(
        make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """The size checked by fstat, then at most limit + 1 bytes read."""
    stub = Stub()
    spool = make(stub, max_bytes=100)
    grows = drop(spool.incoming, "grows.json", b"g" * 90)
    real_fstat = os.fstat

    def fstat_then_grow(fd):  # type: ignore[no-untyped-def]
        info = real_fstat(fd)
        with grows.open("ab") as handle:
            handle.write(b"g" * 11)                    # 101 bytes now
        return info
    with monkeypatch.context() as patch:
        patch.setattr(os, "fstat", fstat_then_grow)
        assert spool.run_once() == 1
    assert stub.batches == []
    assert reasons(spool) == {b"g" * 101: refused("grows.json",
                                                  "file is over the limit of 100 bytes")}


def test_a_file_that_grows_to_the_limit_is_read(
        make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    stub = Stub()
    spool = make(stub, max_bytes=100)
    grows = drop(spool.incoming, "grows.json", b"g" * 90)
    real_fstat = os.fstat

    def fstat_then_grow(fd):  # type: ignore[no-untyped-def]
        info = real_fstat(fd)
        with grows.open("ab") as handle:
            handle.write(b"h" * 10)                    # exactly 100 bytes now
        return info
    monkeypatch.setattr(os, "fstat", fstat_then_grow)
    assert spool.run_once() == 1
    assert stub.bodies == [[b"g" * 90 + b"h" * 10]]


def test_refused_files_are_not_recorded_in_the_ledger(core: Core, make: Make,
                                                      tmp_path: Path) -> None:
    spool = make(core.pipeline, max_bytes=100)
    (spool.incoming / "link").symlink_to(tmp_path / "missing")
    os.mkfifo(spool.incoming / "fifo")
    os.link(drop(tmp_path / "o", "h", b"h"), spool.incoming / "hard")
    drop(spool.incoming, "big", b"x" * 101)
    drop(spool.incoming / "not-an-ori", "f", b"x")
    assert spool.run_once() == 5
    assert recorded(core) == []
    assert len(filed(spool.invalid)) == 5 and names_in(spool.done) == []
    assert sorted(reasons(spool).values()) == sorted([
        refused("link", SYMLINK), refused("fifo", NOT_REGULAR), refused("hard", HARD_LINKS),
        refused("big", "file is 101 bytes; the limit is 100"), refused("f", NOT_AN_ORI)])


def test_a_file_deleted_once_opened_is_still_read_and_recorded(
        make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer removed it after the engine opened it (its link count is then 0): what
    was read is recorded, and the file, gone, is not filed."""
    stub = Stub()
    spool = make(stub)
    drop(spool.incoming, "a", b"order", at=LONG_AGO)
    real_open = os.open

    def open_then_unlink(path, flags, *args):  # type: ignore[no-untyped-def]
        fd = real_open(path, flags, *args)
        if flags == spool_mod._OPEN_FLAGS:
            os.unlink(path)
        return fd
    monkeypatch.setattr(os, "open", open_then_unlink)
    assert spool.run_once() == 1
    assert stub.bodies == [[b"order"]]
    assert names_in(spool.incoming) == [] and names_in(spool.invalid) == []
    assert names_in(spool.done) == []


def test_lstat_of_a_missing_path_is_none(tmp_path: Path) -> None:
    assert spool_mod._lstat(tmp_path / "missing") is None
    assert spool_mod._lstat(drop(tmp_path, "f", b"abc")).st_size == 3  # type: ignore[union-attr]


def test_a_file_that_cannot_be_opened_and_is_gone_is_passed_over(
        make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused ("cannot be opened") but gone before it could be moved: no reason file."""
    spool = make()
    path = drop(spool.incoming, "f")
    real_open = os.open

    def open_fails_and_file_goes(p, flags, *args):  # type: ignore[no-untyped-def]
        if Path(p) == path:
            path.unlink()
            raise PermissionError(13, "denied")
        return real_open(p, flags, *args)
    monkeypatch.setattr(os, "open", open_fails_and_file_goes)
    with capture_logs() as logs:
        assert spool.run_once() == 1
    assert names_in(spool.invalid) == []
    assert [(e["event"], e["reason"]) for e in logs] == [
        ("spool file refused", "cannot be opened (PermissionError)")]


# -- _file_away: done/ or invalid/ -----------------------------------------------------------

def test_new_and_duplicate_go_to_done_invalid_and_conflict_to_invalid(
        core: Core, make: Make) -> None:
    spool = make(core.pipeline)
    new = order_message().body
    conflict = order_message(case_number="OTHER-1").body
    drop(spool.incoming, "a.json", new, at=LONG_AGO + 1)
    drop(spool.incoming, "b.json", conflict, at=LONG_AGO + 2)
    drop(spool.incoming, "c.json", b"not json", at=LONG_AGO + 3)
    drop(spool.incoming, "d.json", new, at=LONG_AGO + 4)
    assert spool.run_once() == 4
    assert [o for _, o in recorded(core)] == ["new", "conflict", "invalid", "duplicate"]
    assert [p.read_bytes() for p in filed(spool.done)] == [new, new]
    assert [n for n in names_in(spool.done) if n.endswith(REASON_SUFFIX)] == []
    unreadable = hashlib.sha256(b"not json").hexdigest()[:16]
    assert reasons(spool) == {
        conflict: "CA019015J/LA-DV-1#1: conflict: version 1 was already received with "
                  "different content (state READY); the new content was not applied\n",
        b"not json": f"UNKNOWN/UNREADABLE-{unreadable}#1: not JSON: Expecting value at "
                     "line 1 column 1\n"}
    assert names_in(spool.incoming) == []


@pytest.mark.parametrize(("result", "folder", "text"), [
    (IntakeResult(IntakeOutcome.NEW, "K/A#1", State.READY), "done", None),
    (IntakeResult(IntakeOutcome.NEW, "K/A#1", State.WAITING, "a note"), "done", None),
    (IntakeResult(IntakeOutcome.DUPLICATE, "K/A#1", State.ACKED), "done", None),
    (IntakeResult(IntakeOutcome.REPLACED, "K/A#2", State.READY), "done", None),
    (IntakeResult(IntakeOutcome.INVALID, "K/A#1", State.INVALID, "bad date"), "invalid",
     "K/A#1: bad date\n"),
    (IntakeResult(IntakeOutcome.INVALID, "K/A#1", State.INVALID), "invalid",
     "K/A#1: INVALID\n"),
    (IntakeResult(IntakeOutcome.DUPLICATE, "K/A#1", State.INVALID), "invalid",
     "K/A#1: INVALID\n"),
    (IntakeResult(IntakeOutcome.CONFLICT, "K/A#3", State.SENT, "conflict: x"), "invalid",
     "K/A#3: conflict: x\n"),
    (IntakeResult(IntakeOutcome.CONFLICT, "K/A#3", State.READY), "invalid", "K/A#3: READY\n"),
])
def test_where_each_result_is_filed(make: Make, result: IntakeResult, folder: str,
                                    text: str | None) -> None:
    spool = make(Stub(results=[result]))
    drop(spool.incoming, "f.json", b"body")
    assert spool.run_once() == 1
    [moved] = filed(spool.root / folder)
    assert moved.read_bytes() == b"body" and GENERATED.match(moved.name)
    other = spool.invalid if folder == "done" else spool.done
    assert names_in(other) == []
    if text is None:
        assert names_in(spool.root / folder) == [moved.name]
    else:
        assert names_in(spool.invalid) == [moved.name, moved.name + REASON_SUFFIX]
        reason = moved.with_name(moved.name + REASON_SUFFIX)
        assert reason.read_text(encoding="utf-8") == text and mode(reason) == 0o600


def test_each_result_is_filed_with_its_own_file(make: Make) -> None:
    spool = make(Stub(results=[
        IntakeResult(IntakeOutcome.INVALID, "K/1#1", State.INVALID, "first"),
        IntakeResult(IntakeOutcome.NEW, "K/2#1", State.READY),
        IntakeResult(IntakeOutcome.CONFLICT, "K/3#1", State.READY, "third")]))
    drop(spool.incoming, "a", b"1", at=LONG_AGO)
    drop(spool.incoming, "b", b"2", at=LONG_AGO + 1)
    drop(spool.incoming, "c", b"3", at=LONG_AGO + 2)
    assert spool.run_once() == 3
    assert [p.read_bytes() for p in filed(spool.done)] == [b"2"]
    assert reasons(spool) == {b"1": "K/1#1: first\n", b"3": "K/3#1: third\n"}


# -- filing: names, modes, dates -------------------------------------------------------------

def test_filed_names_are_generated_never_the_writers(make: Make, tmp_path: Path) -> None:
    spool = make(Stub(results=[
        IntakeResult(IntakeOutcome.NEW, "K/1#1", State.READY),
        IntakeResult(IntakeOutcome.INVALID, "K/2#1", State.INVALID, "no")]), max_bytes=10)
    drop(spool.incoming, "Guadalupe.json", b"1", at=LONG_AGO)
    drop(spool.incoming, "Ramirez.json", b"2", at=LONG_AGO + 1)
    drop(spool.incoming, "Ramirez-big.json", b"x" * 11, at=LONG_AGO + 2)
    before = dt.datetime.now(dt.UTC)
    assert spool.run_once() == 3
    after = dt.datetime.now(dt.UTC)
    names = [p.name for p in (*filed(spool.done), *filed(spool.invalid))]
    assert len(names) == 3 and len(set(names)) == 3
    for name in names:
        assert GENERATED.match(name), name
        stamp = dt.datetime.strptime(name[:22], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=dt.UTC)
        assert before - dt.timedelta(microseconds=1) <= stamp <= after
    invalid = [p.name for p in filed(spool.invalid)]
    assert len(invalid) == 2
    assert names_in(spool.invalid) == sorted([*invalid, *(n + REASON_SUFFIX for n in invalid)])
    everything = " ".join([*names_in(spool.done), *names_in(spool.invalid),
                           *reasons(spool).values()])
    assert "Guadalupe" not in everything and "Ramirez" not in everything
    assert re.fullmatch(r"\d{8}T\d{12}Z", dt.datetime(2026, 1, 2, 3, 4, 5, 6).strftime(
        "%Y%m%dT%H%M%S%fZ")) is not None


def test_filed_files_are_0600_and_dated_now(make: Make) -> None:
    """Retention counts from filing, not from writing; reason files are 0600 too."""
    spool = make(Stub(results=[
        IntakeResult(IntakeOutcome.NEW, "K/1#1", State.READY),
        IntakeResult(IntakeOutcome.INVALID, "K/2#1", State.INVALID, "no")]), max_bytes=10)
    drop(spool.incoming, "a", b"1", at=LONG_AGO, mode=0o644)
    drop(spool.incoming, "b", b"2", at=LONG_AGO + 1, mode=0o666)
    drop(spool.incoming, "c", b"x" * 11, at=LONG_AGO + 2, mode=0o604)
    before = dt.datetime.now(dt.UTC).timestamp()
    assert spool.run_once() == 3
    paths = [*spool.done.iterdir(), *spool.invalid.iterdir()]
    assert len(paths) == 5
    assert [mode(p) for p in paths] == [0o600] * 5
    for path in filed(spool.done) + filed(spool.invalid):
        assert path.stat().st_mtime > before - 60   # not LONG_AGO


def test_a_file_that_cannot_be_made_private_is_filed_and_still_dated_now(
        make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod failing is not an error, and does not skip re-dating: retention still counts
    from filing."""
    spool = make()
    drop(spool.incoming, "a", b"1", at=LONG_AGO, mode=0o644)
    before = dt.datetime.now(dt.UTC).timestamp()

    def no_chmod(self, mode):  # type: ignore[no-untyped-def]
        raise PermissionError(1, "no")
    with monkeypatch.context() as patch:
        patch.setattr(Path, "chmod", no_chmod)
        assert spool.run_once() == 1
    [moved] = filed(spool.done)
    assert (moved.read_bytes(), mode(moved)) == (b"1", 0o644)
    assert moved.stat().st_mtime > before - 60   # not LONG_AGO


def test_a_file_that_cannot_be_dated_is_still_made_private(
        make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = make()
    drop(spool.incoming, "a", b"1", at=LONG_AGO, mode=0o644)

    def no_utime(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError(1, "no")
    with monkeypatch.context() as patch:
        patch.setattr(os, "utime", no_utime)
        assert spool.run_once() == 1
    [moved] = filed(spool.done)
    assert (moved.read_bytes(), mode(moved), moved.stat().st_mtime_ns) == (
        b"1", 0o600, LONG_AGO_NS)


def test_a_file_that_cannot_be_moved_stays_for_the_next_round(
        make: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stub = Stub(results=[IntakeResult(IntakeOutcome.INVALID, "K/1#1", State.INVALID, "no")])
    spool = make(stub)
    (spool.incoming / "link").symlink_to(tmp_path / "missing")
    date(spool.incoming / "link", LONG_AGO)
    drop(spool.incoming, "bad", b"1", at=LONG_AGO + 1)

    def no_replace(src, dst):  # type: ignore[no-untyped-def]
        raise PermissionError(13, "denied")
    with monkeypatch.context() as patch, capture_logs() as logs:
        patch.setattr(os, "replace", no_replace)
        assert spool.run_once() == 2
    assert names_in(spool.incoming) == ["bad", "link"]
    assert names_in(spool.invalid) == [] and names_in(spool.done) == []
    assert [(e["event"], e.get("file_hash"), e.get("error_class")) for e in logs] == [
        ("spool file could not be filed away; it will be read again", name_hash("link"),
         "PermissionError"),
        ("spool file refused", name_hash("link"), None),
        ("spool file could not be filed away; it will be read again", name_hash("bad"),
         "PermissionError"),
        ("spool file recorded", name_hash("bad"), None)]


def test_a_file_gone_before_it_is_moved_is_not_an_error(
        make: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stub = Stub(results=[IntakeResult(IntakeOutcome.INVALID, "K/1#1", State.INVALID, "no")])
    spool = make(stub)
    (spool.incoming / "link").symlink_to(tmp_path / "missing")
    date(spool.incoming / "link", LONG_AGO)
    drop(spool.incoming, "bad", b"1", at=LONG_AGO + 1)
    real_replace = os.replace

    def gone_first(src, dst):  # type: ignore[no-untyped-def]
        os.unlink(src)
        return real_replace(src, dst)
    with monkeypatch.context() as patch, capture_logs() as logs:
        patch.setattr(os, "replace", gone_first)
        assert spool.run_once() == 2
    assert names_in(spool.incoming) == []
    assert names_in(spool.invalid) == [] and names_in(spool.done) == []
    assert [e["event"] for e in logs] == ["spool file refused", "spool file recorded"]


def test_a_reason_file_replaces_what_was_there_and_never_follows_a_link(
        make: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = make(max_bytes=1)
    monkeypatch.setattr(spool, "_target", lambda folder: folder / "fixed.msg")
    drop(spool.invalid, "fixed.msg.reason", b"an older, much longer reason than the new one")
    drop(spool.incoming, "a", b"xx")
    assert spool.run_once() == 1
    assert (spool.invalid / "fixed.msg.reason").read_text() == refused(
        "a", "file is 2 bytes; the limit is 1")
    outside = drop(tmp_path / "outside", "target", b"untouched")
    (spool.invalid / "fixed.msg.reason").unlink()
    (spool.invalid / "fixed.msg.reason").symlink_to(outside)
    drop(spool.incoming, "b", b"yy")
    with capture_logs() as logs:
        assert spool.run_once() == 1
    assert outside.read_bytes() == b"untouched"
    first = logs[0]
    assert (first["event"], first["file_hash"], first["error_class"]) == (
        "spool reason file could not be written", name_hash("b"), "OSError")


def test_a_reason_that_cannot_be_written_does_not_stop_the_rest_of_the_batch(
        make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first file's reason path is taken by a link: it is filed without a reason (and
    the log says so, with its hash and where it was filed); the next refusal and the
    recorded files after it are still handled in the same round."""
    stub = Stub(results=[IntakeResult(IntakeOutcome.INVALID, "K/9#1", State.INVALID, "why")])
    spool = make(stub, max_bytes=1)
    names = iter(["first.msg", "second.msg", "third.msg"])
    monkeypatch.setattr(spool, "_target", lambda folder: folder / next(names))
    (spool.invalid / "first.msg.reason").symlink_to(spool.root / "nowhere")
    drop(spool.incoming, "a", b"too big", at=LONG_AGO)
    drop(spool.incoming, "b", b"also big", at=LONG_AGO + 1)
    drop(spool.incoming, "c", b"1", at=LONG_AGO + 2)
    with capture_logs() as logs:
        assert spool.run_once() == 3
    assert names_in(spool.incoming) == []
    assert names_in(spool.invalid) == ["first.msg", "first.msg.reason", "second.msg",
                                       "second.msg.reason", "third.msg", "third.msg.reason"]
    assert not (spool.root / "nowhere").exists()
    assert (spool.invalid / "second.msg.reason").read_text() == refused(
        "b", "file is 8 bytes; the limit is 1")
    assert (spool.invalid / "third.msg.reason").read_text() == "K/9#1: why\n"
    [failed] = [e for e in logs if e["event"] == "spool reason file could not be written"]
    assert (failed["file_hash"], failed["filed_as"], failed["log_level"]) == (
        name_hash("a"), "first.msg", "error")


# -- the ledger down -------------------------------------------------------------------------

def test_with_the_ledger_down_files_stay_and_on_pause_is_told_once(
        core: Core, make: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paused: list[Exception] = []
    spool = make(core.pipeline, on_pause=paused.append)
    error = LedgerError("down")
    real = core.ledger.record_intake
    down = [True]

    def record(records):  # type: ignore[no-untyped-def]
        if down[0]:
            raise error
        return real(records)
    monkeypatch.setattr(core.ledger, "record_intake", record)
    body = order_message().body
    drop(spool.incoming, "good.json", body, at=LONG_AGO)
    drop(spool.incoming, "also.json", order_message("B").body, at=LONG_AGO + 1)
    (spool.incoming / "link").symlink_to(tmp_path / "missing")
    drop(spool.incoming / "bad-court", "f", b"x")
    assert spool.run_once() == 2                     # the two refusals only
    assert len(paused) == 1 and paused[0] is error
    assert names_in(spool.incoming) == ["also.json", "bad-court", "good.json"]
    assert (spool.incoming / "good.json").read_bytes() == body
    assert names_in(spool.done) == [] and len(filed(spool.invalid)) == 2
    assert recorded(core) == []
    down[0] = False
    assert spool.run_once() == 2
    assert len(paused) == 1
    assert [o for _, o in recorded(core)] == ["new", "new"]
    assert len(filed(spool.done)) == 2


def test_with_the_ledger_down_and_no_on_pause_nothing_crashes(make: Make) -> None:
    stub = Stub(error=LedgerError("down"))
    spool = make(stub)
    drop(spool.incoming, "a", b"a")
    with capture_logs() as logs:
        assert spool.run_once() == 0
        assert spool.run_once() == 0
    assert stub.bodies == [[b"a"], [b"a"]]
    assert names_in(spool.incoming) == ["a"]
    assert [(e["event"], e["error_class"]) for e in logs] == [
        ("ledger unavailable; spool files stay for the next round", "LedgerError")] * 2


def test_an_error_other_than_the_ledger_is_raised(make: Make) -> None:
    paused: list[Exception] = []
    spool = make(Stub(error=RuntimeError("bug")), on_pause=paused.append)
    drop(spool.incoming, "a", b"a")
    with pytest.raises(RuntimeError, match="bug"):
        spool.run_once()
    assert paused == [] and names_in(spool.incoming) == ["a"]


# -- retention -------------------------------------------------------------------------------

def test_sweep_deletes_what_is_older_than_the_retention_keeps_the_rest(make: Make) -> None:
    """Cutoff = now - retention_days * 86400; older than the cutoff (<) is deleted."""
    spool = make(retention_days=30)
    cutoff = LONG_AGO
    drop(spool.done, "old", at=cutoff - 1)
    drop(spool.done, "at-cutoff", at=cutoff)
    drop(spool.done, "newer", at=cutoff + 1)
    drop(spool.invalid, "old", at=cutoff - 1)
    drop(spool.invalid, "old.reason", at=cutoff - DAY)
    drop(spool.invalid, "newer", at=cutoff + DAY)
    drop(spool.incoming, "ancient", at=1)
    with capture_logs() as logs:
        assert spool.sweep(now=cutoff + 30 * DAY) == 3
    assert names_in(spool.done) == ["at-cutoff", "newer"]
    assert names_in(spool.invalid) == ["newer"]
    assert names_in(spool.incoming) == ["ancient"]
    assert [(e["event"], e["count"]) for e in logs] == [
        ("spool retention: old files deleted", 3)]
    with capture_logs() as logs:
        assert spool.sweep(now=cutoff + 30 * DAY) == 0
    assert logs == []


def test_sweep_without_now_uses_the_time_of_day(make: Make) -> None:
    spool = make()                                    # the default retention: 30 days
    now = dt.datetime.now(dt.UTC).timestamp()
    drop(spool.done, "old", at=int(now) - 30 * DAY - 3600)
    drop(spool.done, "recent", at=int(now) - 30 * DAY + 3600)
    assert spool.sweep() == 1
    assert names_in(spool.done) == ["recent"]


def test_the_retention_may_be_a_fraction_of_a_day(make: Make) -> None:
    spool = make(retention_days=0.5)
    drop(spool.done, "old", at=LONG_AGO - 1)
    drop(spool.done, "at-cutoff", at=LONG_AGO)
    assert spool.sweep(now=LONG_AGO + 43200) == 1
    assert names_in(spool.done) == ["at-cutoff"]


@pytest.mark.parametrize("retention", [0, -1, -0.5])
def test_a_retention_of_0_or_less_is_refused(make: Make, retention: float) -> None:
    """As the config: 0 is not "keep for ever" (that is None), and a negative one would put
    the cutoff in the future and delete every file."""
    with pytest.raises(ValueError, match=r"^retention_days must be above 0, or None to keep "
                                         r"files$"):
        make(retention_days=retention)


def test_no_retention_deletes_nothing(make: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = make(retention_days=None)
    drop(spool.done, "ancient", at=1)
    drop(spool.invalid, "ancient", at=1)
    assert spool.sweep(now=LONG_AGO) == 0
    assert spool.sweep() == 0
    sweeps: list[int] = []
    monkeypatch.setattr(spool, "sweep", lambda **kw: sweeps.append(1) or 0)
    assert spool.run_once() == 0
    assert sweeps == []
    assert names_in(spool.done) == ["ancient"] and names_in(spool.invalid) == ["ancient"]


def test_sweep_deletes_a_reason_file_with_its_file(make: Make) -> None:
    """A reason file is written just after its file: newer than the cutoff when its file
    is just older, it goes with it (and is counted), not a sweep later. A reason file
    whose own file is gone goes when it is old itself."""
    spool = make(retention_days=1)
    drop(spool.invalid, "gone", at=LONG_AGO - 1)
    drop(spool.invalid, "gone.reason", at=LONG_AGO + 1)
    drop(spool.invalid, "orphan.reason", at=LONG_AGO - 1)
    drop(spool.invalid, "kept", at=LONG_AGO + 1)
    drop(spool.invalid, "kept.reason", at=LONG_AGO + 1)
    assert spool.sweep(now=LONG_AGO + DAY) == 3
    assert names_in(spool.invalid) == ["kept", "kept.reason"]


def test_sweep_goes_on_past_an_entry_it_cannot_delete(make: Make) -> None:
    spool = make(retention_days=1)
    (spool.done / "0-folder").mkdir()
    date(spool.done / "0-folder", 1)
    drop(spool.done, "1-old", at=1)
    drop(spool.done, "2-old", at=1)
    drop(spool.invalid, "old", at=1)
    assert spool.sweep(now=LONG_AGO) == 3
    assert names_in(spool.done) == ["0-folder"] and names_in(spool.invalid) == []


def test_sweep_dates_a_link_by_itself_not_its_target(make: Make, tmp_path: Path) -> None:
    spool = make(retention_days=1)
    recent = drop(tmp_path / "outside", "recent", b"r", at=LONG_AGO)
    old = drop(tmp_path / "outside", "old", b"o", at=1)
    (spool.invalid / "old-link").symlink_to(recent)
    date(spool.invalid / "old-link", 1)
    (spool.invalid / "dangling").symlink_to(tmp_path / "missing")
    date(spool.invalid / "dangling", 1)
    (spool.invalid / "new-link").symlink_to(old)
    date(spool.invalid / "new-link", LONG_AGO)
    assert spool.sweep(now=LONG_AGO) == 2
    assert names_in(spool.invalid) == ["new-link"]
    assert recent.read_bytes() == b"r" and old.read_bytes() == b"o"


def test_a_round_sweeps_first_then_once_an_hour(make: Make,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    spool = make(retention_days=1)
    clock = [100.0]
    monkeypatch.setattr(spool_mod, "time", types.SimpleNamespace(
        monotonic=lambda: clock[0], time=lambda: float(LONG_AGO)))
    swept: list[float] = []
    real = spool.sweep

    def sweep(**kw):  # type: ignore[no-untyped-def]
        swept.append(clock[0])
        return real(**kw)
    monkeypatch.setattr(spool, "sweep", sweep)
    drop(spool.done, "old", at=LONG_AGO - DAY - 1)
    drop(spool.incoming, ".skipped")
    assert spool.run_once() == 0
    assert swept == [100.0] and names_in(spool.done) == []       # swept on the first round
    for now in (100.0, 3699.999, 3700.0, 3700.5, 7299.999, 7300.0, 7300.0, 100000.0):
        clock[0] = now
        spool.run_once()
    assert swept == [100.0, 3700.0, 7300.0, 100000.0]


def test_the_first_round_sweeps_even_at_clock_zero(make: Make,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    spool = make()
    monkeypatch.setattr(spool_mod, "time", types.SimpleNamespace(monotonic=lambda: 0.0,
                                                                 time=lambda: 0.0))
    swept: list[int] = []
    monkeypatch.setattr(spool, "sweep", lambda **kw: swept.append(1) or 0)
    spool.run_once()
    spool.run_once()
    assert swept == [1]


# -- run() -----------------------------------------------------------------------------------

class Stop(threading.Event):
    """A stop event that records the waits instead of waiting."""

    def __init__(self, events: list[tuple[str, object]]) -> None:
        super().__init__()
        self.events = events

    def wait(self, timeout: float | None = None) -> bool:
        self.events.append(("wait", timeout))
        return self.is_set()


def scripted(spool: SpoolIntake, stop: Stop, outcomes: list[object]) -> None:
    """Make run_once answer each outcome (a count, or an exception raised) in turn, and
    set ``stop`` after the last."""
    remaining = list(outcomes)

    def run_once() -> int:
        outcome = remaining.pop(0)
        stop.events.append(("round", outcome if isinstance(outcome, int) else "raised"))
        if not remaining:
            stop.set()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[return-value]
    spool.run_once = run_once  # type: ignore[method-assign]


def test_run_waits_only_after_a_round_that_took_nothing(make: Make) -> None:
    spool = make()
    events: list[tuple[str, object]] = []
    stop = Stop(events)
    scripted(spool, stop, [3, 0, OSError("a file name"), LedgerError("x"), 1, 2, 0])
    with capture_logs() as logs:
        spool.run(stop, poll_interval=0.25)
    assert events == [
        ("round", 3), ("round", 0), ("wait", 0.25), ("round", "raised"), ("wait", 0.25),
        ("round", "raised"), ("wait", 0.25), ("round", 1), ("round", 2), ("round", 0),
        ("wait", 0.25)]
    assert [(e["event"], e["error_class"]) for e in logs] == [
        ("spool round failed; trying again", "OSError"),
        ("spool round failed; trying again", "LedgerError")]


def test_run_stops_after_a_round_that_took_something(make: Make) -> None:
    spool = make()
    events: list[tuple[str, object]] = []
    stop = Stop(events)
    scripted(spool, stop, [0, 5])
    spool.run(stop, poll_interval=7)
    assert events == [("round", 0), ("wait", 7), ("round", 5)]


def test_run_polls_every_half_second_by_default(make: Make) -> None:
    spool = make()
    events: list[tuple[str, object]] = []
    stop = Stop(events)
    scripted(spool, stop, [0, 0])
    spool.run(stop)
    assert events == [("round", 0), ("wait", 0.5), ("round", 0), ("wait", 0.5)]


def test_run_does_nothing_once_stopped(make: Make) -> None:
    spool = make()
    events: list[tuple[str, object]] = []
    stop = Stop(events)
    scripted(spool, stop, [1])
    stop.set()
    spool.run(stop, poll_interval=1)
    assert events == []


def test_run_takes_real_files_until_stopped(make: Make) -> None:
    """The loop over the real run_once: the file is taken, the empty round waits."""
    stub = Stub()
    spool = make(stub)
    drop(spool.incoming, "a", b"a")
    events: list[tuple[str, object]] = []

    class StopOnWait(Stop):
        def wait(self, timeout: float | None = None) -> bool:
            self.set()
            return super().wait(timeout)
    spool.run(StopOnWait(events), poll_interval=0.1)
    assert events == [("wait", 0.1)]
    assert stub.bodies == [[b"a"]]
