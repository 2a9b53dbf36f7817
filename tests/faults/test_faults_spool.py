"""The spool as a hostile inbox (issue 21): one running engine (spool intake, SQLite ledger,
the embedded DOJ endpoint, real NIEM rendering) takes each hostile case, and after each one
the next good order, an emergency protective order among them, is ACKED; nothing valid is
lost, nothing outside the spool is read, and no file name from the spool reaches the
engine's output or its reason files.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.demo import embedded_endpoint
from engine.config import EngineConfig, LedgerConfig
from engine.intake.dead_letters import dead_letter_depth, list_dead_letters
from engine.runner import EngineRunner
from tests.services import wait_until

pytestmark = [pytest.mark.faults]

ORDERS = Path(__file__).parents[1] / "fixtures" / "orders"
#: Orders the good files are made of, in turn: an EPO (due at once) and a DV TRO.
GOOD = ("epo_issue.json", "dv_tro_issue.json")


class Spool:
    """The running engine and its spool; `good()` drops a valid order, `acked()` waits."""

    def __init__(self, root: Path) -> None:
        self.root = root
        config, parts = embedded_endpoint(EngineConfig(
            ledger=LedgerConfig(url=f"sqlite:///{root / 'ledger.db'}"),
            spool_dir=root / "spool", metrics_port=None, prepare_workers=0))
        self.config = config
        self.runner = EngineRunner(config, parts)
        self.incoming = root / "spool" / "incoming"
        self.done = root / "spool" / "done"
        self.invalid = root / "spool" / "invalid"
        self.count = 0
        self.good_keys: list[str] = []

    def order(self, name: str = "") -> tuple[str, bytes]:
        """A valid order (its key, its bytes), alternately an EPO and a DV TRO."""
        self.count += 1
        data = json.loads((ORDERS / GOOD[self.count % 2]).read_text(encoding="utf-8"))
        data["order_id"] = f"SPOOL-{self.count}-{secrets.token_hex(3)}"
        return f"{data['court']['ori']}/{data['order_id']}", json.dumps(data).encode()

    def good(self) -> str:
        """Drop a valid order (written aside, renamed in) and wait until it is ACKED."""
        key, body = self.order()
        aside = self.incoming / f".{key.replace('/', '_')}.json"
        aside.write_bytes(body)
        aside.rename(self.incoming / f"{key.replace('/', '_')}.json")
        self.good_keys.append(key)
        self.wait_acked(key)
        return key

    def state(self, key: str) -> str | None:
        row = self.runner.ledger.version_row(key, 1)
        return None if row is None else str(row["state"])

    def wait_acked(self, key: str) -> None:
        wait_until(lambda: self.state(key) == "ACKED", f"{key} to be ACKED", limit=60,
                   describe=lambda: f"state {self.state(key)}, incoming "
                                    f"{sorted(os.listdir(self.incoming))!r}")

    def reasons(self) -> list[str]:
        return [p.read_text(encoding="utf-8") for p in self.invalid.iterdir()
                if p.name.endswith(".reason")]

    def all_acked(self) -> bool:
        return all(self.state(k) == "ACKED" for k in self.good_keys)


@pytest.fixture(scope="module")
def spool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spool]:
    s = Spool(tmp_path_factory.mktemp("hostile-spool"))
    s.runner.start()
    yield s
    s.runner.stop()
    assert s.all_acked(), "a valid order was lost"


@pytest.fixture(autouse=True)
def _after_each_case(spool: Spool, capfd: pytest.CaptureFixture[str]) -> Iterator[None]:
    """After every case: the engine still runs and the next good order goes through."""
    yield
    spool.good()
    alive = [t.name for t in spool.runner._threads if not t.is_alive()]
    assert alive == [], f"engine threads died: {alive}"
    out = capfd.readouterr()
    for secret in _SECRET_NAMES:
        assert secret not in out.out + out.err, "a spool file name reached the output"
        for reason in spool.reasons():
            assert secret not in reason


#: Words put in hostile file names; none may show in output or reasons.
_SECRET_NAMES = ("Guadalupe", "Ramirez")


def test_a_name_that_is_not_utf8_is_recorded_and_filed_away(spool: Spool) -> None:
    """Found 1: a non-UTF-8 name beside a valid order: the order is recorded (its
    message id is the name's hash) and filed under a generated name."""
    key, body = spool.order()
    spool.good_keys.append(key)
    raw_name = os.fsencode(spool.incoming) + b"/Guadalupe-\xff\xfe-Ramirez.json"
    with open(raw_name, "wb") as handle:
        handle.write(body)
    spool.wait_acked(key)
    assert not os.path.exists(raw_name)
    assert all(n.isascii() for n in os.listdir(spool.done))


def test_a_very_long_name_and_a_name_seen_before(spool: Spool) -> None:
    """Found 2: a 250-byte name, and the same name twice (already in done/), are each
    recorded and filed away; no crash loop."""
    long_name = "Guadalupe-" + "x" * 235 + ".json"
    for _ in range(2):
        for name in (long_name, "Ramirez.json"):
            key, body = spool.order()
            spool.good_keys.append(key)
            (spool.incoming / name).write_bytes(body)
            spool.wait_acked(key)
    assert not (spool.incoming / long_name).exists()


def test_temporary_and_hidden_names_are_never_read(spool: Spool) -> None:
    """Found 3: a half-written ``*.part``, a hidden file and an editor's ``*~`` stay
    untouched; renamed into place, the completed order is delivered."""
    key, body = spool.order()
    part = spool.incoming / "order.json.part"
    part.write_bytes(body[: len(body) // 2])
    hidden = spool.incoming / ".order.json"
    hidden.write_bytes(b"{")
    backup = spool.incoming / "order.json~"
    backup.write_bytes(b"{")
    spool.good()  # a later file was taken: the temporary ones were seen and skipped
    assert part.read_bytes() == body[: len(body) // 2]
    assert hidden.exists() and backup.exists()
    with part.open("ab") as handle:  # the writer finishes, then renames
        handle.write(body[len(body) // 2:])
    part.rename(spool.incoming / "order.json")
    spool.good_keys.append(key)
    spool.wait_acked(key)
    hidden.unlink()
    backup.unlink()


def test_an_invalid_file_named_reason_is_still_a_dead_letter(spool: Spool) -> None:
    """Found 3: an invalid file called ``*.reason`` shows in ``dlq list`` and the gauge."""
    before = dead_letter_depth(spool.config)
    (spool.incoming / "note.reason").write_bytes(b"not json")
    wait_until(lambda: dead_letter_depth(spool.config) == before + 1,
               "the invalid .reason file to count as a dead letter", limit=30)
    assert any("not JSON" in item["reason"] for item in list_dead_letters(spool.config))


def test_links_and_odd_files_are_refused_with_a_reason(spool: Spool, tmp_path: Path) -> None:
    """Found 3 and 4: a symlink to an order elsewhere, to /proc/self/environ, a dangling
    one, a hard link and a FIFO are never read: each goes to invalid/ with its reason
    (the link itself, its target untouched) and counts as a dead letter."""
    before = dead_letter_depth(spool.config)
    key, body = spool.order()
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_bytes(body)
    (spool.incoming / "linked.json").symlink_to(elsewhere)
    (spool.incoming / "environ.json").symlink_to("/proc/self/environ")
    (spool.incoming / "dangling.json").symlink_to(tmp_path / "missing.json")
    key2, body2 = spool.order()
    other = tmp_path / "hard.json"
    other.write_bytes(body2)
    os.link(other, spool.incoming / "hard.json")
    os.mkfifo(spool.incoming / "fifo.json")
    court = spool.incoming / "CA037035J"
    court.symlink_to(tmp_path)  # a court folder that is a link
    wait_until(lambda: dead_letter_depth(spool.config) == before + 6,
               "six refused entries in invalid/", limit=30,
               describe=lambda: repr(list_dead_letters(spool.config)))
    reasons = " ".join(spool.reasons())
    assert reasons.count("symbolic link") >= 4
    assert "hard links" in reasons and "not a regular file" in reasons
    assert spool.state(key) is None and spool.state(key2) is None
    assert elsewhere.read_bytes() == body and other.read_bytes() == body2
    assert os.listdir(spool.incoming) == []


def test_a_huge_file_is_refused_without_reading_it(spool: Spool) -> None:
    """Found 5: a 400 MB file is refused by its size; the engine does not read it whole
    (its peak memory grows by far less than the file)."""
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    huge = spool.incoming / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(400 * 1024 * 1024)  # sparse: cheap to make
    wait_until(lambda: not huge.exists(), "the huge file to be filed away", limit=30)
    assert any("the limit is" in r for r in spool.reasons())
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mib < 100, f"peak memory grew by {grown_mib:.0f} MiB"


def test_a_court_folder_with_a_bad_name_is_refused(spool: Spool) -> None:
    """A court folder whose name is not an ORI (here not even UTF-8): its file goes to
    invalid/ with the reason; nothing crashes."""
    folder = os.fsencode(spool.incoming) + b"/Ramirez\xff"
    os.mkdir(folder)
    with open(folder + b"/o.json", "wb") as handle:
        handle.write(b"{}")
    wait_until(lambda: os.listdir(folder) == [], "the file to be refused", limit=30)
    assert any("not an NCIC ORI" in r for r in spool.reasons())
    os.rmdir(folder)


def test_filed_files_are_private(spool: Spool) -> None:
    """Found 12: the spool folders are 0700, filed files and the ledger 0600."""
    for folder in (spool.incoming, spool.done, spool.invalid):
        assert folder.stat().st_mode & 0o777 == 0o700
    for path in [*spool.done.iterdir(), *spool.invalid.iterdir()]:
        info = path.lstat()
        if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:  # not the refused links
            assert path.stat().st_mode & 0o777 == 0o600, path.name
    assert (spool.root / "ledger.db").stat().st_mode & 0o777 == 0o600
