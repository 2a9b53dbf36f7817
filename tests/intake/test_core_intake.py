"""Intake ack rules, apart from the broker (IntakeBatch) and the spool directory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.errors import LedgerError
from engine.intake.batch import Delivery, IntakeBatch
from engine.intake.pipeline import IntakeMessage, Pipeline
from engine.intake.spool import SpoolIntake
from engine.ledger import LedgerRefused
from engine.reliability.retry import RetryPolicy
from tests.core.core_harness import Core, order_message

NO_WAIT = RetryPolicy(max_retries=2, initial_interval=0, max_interval=0, jitter=0)


class Channel:
    """Records what the batch asks the channel to do."""

    def __init__(self, dead_letter_ok: bool = True) -> None:
        self.acks: list[tuple[int, bool]] = []
        self.rejects: list[int] = []
        self.dead: list[tuple[int, str]] = []
        self.dead_letter_ok = dead_letter_ok

    def batch(self, pipeline, clock=lambda: 0.0) -> IntakeBatch:  # type: ignore[no-untyped-def]
        def dead_letter(delivery: Delivery, reason: str) -> bool:
            self.dead.append((delivery.tag, reason))
            return self.dead_letter_ok
        return IntakeBatch(pipeline, ack=lambda t, m: self.acks.append((t, m)),
                           reject=self.rejects.append, dead_letter=dead_letter,
                           sleep=lambda s: None, ledger_retry=NO_WAIT, clock=clock)


def deliveries(*messages: IntakeMessage) -> list[Delivery]:
    return [Delivery(i + 1, m) for i, m in enumerate(messages)]


def test_a_delivery_cannot_be_changed_once_received() -> None:
    """The tag acked and the bytes dead-lettered are the ones the broker delivered: a
    `Delivery` is frozen, so no step between intake and ack can swap them."""
    import dataclasses

    delivery = Delivery(7, order_message(), body=b"bytes")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delivery.tag = 8  # type: ignore[misc]
    assert (delivery.tag, delivery.body) == (7, b"bytes")


class TestIntakeBatch:
    def test_batch_is_acked_once_after_commit(self, core: Core) -> None:
        """Three messages commit together, then one ack with multiple=True for the last:
        when the ack is sent, all three are already committed in the ledger (an ack before
        the commit would lose the batch in a crash between the two)."""
        channel = Channel()
        committed_at_ack: list[int] = []
        batch = IntakeBatch(
            core.pipeline,
            ack=lambda t, m: (committed_at_ack.append(sum(core.ledger.state_counts().values())),
                              channel.acks.append((t, m))),
            reject=channel.rejects.append, dead_letter=lambda d, r: True,
            sleep=lambda s: None, ledger_retry=NO_WAIT)
        for d in deliveries(order_message("A"), order_message("B"), IntakeMessage(b"junk")):
            batch.add(d)
        batch.flush()
        assert channel.acks == [(3, True)]
        assert committed_at_ack == [3]

    def test_the_batch_age_counts_from_its_first_message(self, core: Core) -> None:
        """batch_ms is measured from the first message held, not the latest one."""
        now = [100.0]
        batch = Channel().batch(core.pipeline, clock=lambda: now[0])
        batch.add(Delivery(1, order_message("A")))
        now[0] = 105.0
        batch.add(Delivery(2, order_message("B")))
        assert batch.started == 100.0
        batch.flush()
        now[0] = 200.0
        batch.add(Delivery(3, order_message("C")))
        assert batch.started == 200.0

    def test_a_batch_is_due_when_full_or_when_its_first_message_has_waited(
            self, core: Core) -> None:
        """The consumer flushes when `due`: `size` messages held, or the first held
        `wait` seconds ago (exactly then, not only after); never while empty."""
        now = [50.0]
        batch = Channel().batch(core.pipeline, clock=lambda: now[0])
        assert not batch.due(size=1, wait=0.0)  # empty: nothing to flush, however late
        batch.add(Delivery(1, order_message("A")))
        assert not batch.due(size=3, wait=0.5)
        now[0] = 50.25
        batch.add(Delivery(2, order_message("B")))
        assert not batch.due(size=3, wait=0.5)
        assert batch.due(size=2, wait=0.5)  # full at exactly size
        now[0] = 50.5
        assert batch.due(size=3, wait=0.5)  # the first has waited exactly `wait`
        now[0] = 50.4999
        assert not batch.due(size=3, wait=0.5)
        now[0] = 57.0
        assert batch.due(size=3, wait=0.5)  # and any time after
        now[0] = 50.0
        batch.add(Delivery(3, order_message("C")))
        assert batch.due(size=2, wait=0.5)  # more than `size` (a batch handed back grows)
        with pytest.raises(TypeError):
            batch.due(3, 0.5)  # type: ignore[misc]  # by name: size and wait cannot swap

    def test_a_batch_empty_again_is_not_due_until_a_new_message_waits(
            self, core: Core) -> None:
        """After a flush the age restarts at the next message: an old start time is not
        carried over to a new batch."""
        now = [10.0]
        batch = Channel().batch(core.pipeline, clock=lambda: now[0])
        batch.add(Delivery(1, order_message("A")))
        batch.flush()
        now[0] = 20.0
        assert not batch.due(size=5, wait=1.0)
        batch.add(Delivery(2, order_message("B")))
        assert not batch.due(size=5, wait=1.0)
        now[0] = 21.0
        assert batch.due(size=5, wait=1.0)

    def test_a_pipeline_result_missing_for_a_message_acks_nothing(self, core: Core,
                                                                monkeypatch) -> None:
        """One result per message, or the batch stops before its ack: a message with no
        result may not be in the ledger, and an ack would lose it."""
        real = core.pipeline.run
        monkeypatch.setattr(core.pipeline, "run", lambda messages: real(messages)[:-1])
        channel = Channel()
        batch = channel.batch(core.pipeline)
        batch.add(Delivery(1, order_message("A")))
        batch.add(Delivery(2, order_message("B")))
        with pytest.raises(RuntimeError, match=r"^the pipeline gave 1 results for 2 messages$"):
            batch.flush()
        assert channel.acks == [] and channel.dead == []

    def test_the_channel_operations_are_passed_by_name(self, core: Core) -> None:
        """ack, reject and dead_letter are keyword-only: they cannot be swapped by position."""
        with pytest.raises(TypeError):
            IntakeBatch(core.pipeline, lambda t, m: None, lambda t: None,  # type: ignore[misc]
                        lambda d, r: True, lambda s: None)

    def test_nothing_is_acked_while_the_ledger_is_down(self, core: Core,
                                                       monkeypatch) -> None:
        """A ledger that stays unavailable leaves the batch unacked and held."""
        def down(records):  # type: ignore[no-untyped-def]
            raise LedgerError("down")
        monkeypatch.setattr(core.ledger, "record_intake", down)
        channel = Channel()
        batch = channel.batch(core.pipeline)
        batch.add(Delivery(1, order_message()))
        with pytest.raises(LedgerError):
            batch.flush()
        assert channel.acks == [] and len(batch.items) == 1

    def test_poison_message_is_dead_lettered_and_the_rest_acked(self, core: Core,
                                                                monkeypatch) -> None:
        """A message the ledger refuses is dead-lettered with the reason; the others in its
        batch are recorded and acked one by one."""
        real = core.ledger.record_intake

        def refuse_b(records):  # type: ignore[no-untyped-def]
            if any(r.order_key.endswith("/B") for r in records):
                raise LedgerRefused("ledger refused the data: DataError")
            return real(records)
        monkeypatch.setattr(core.ledger, "record_intake", refuse_b)
        channel = Channel()
        batch = channel.batch(core.pipeline)
        for d in deliveries(order_message("A"), order_message("B"), order_message("C")):
            batch.add(d)
        batch.flush()
        assert channel.dead == [(2, "ledger refused the message: ledger refused the data: "
                                    "DataError")]
        assert channel.acks == [(1, False), (2, False), (3, False)]

    def test_the_ledger_lost_while_seeking_the_poison_keeps_the_rest_held(
            self, core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
        """Taking a refused batch one by one, the messages before the ledger goes down are
        acked (A committed, B dead-lettered); C, not committed, stays held and unacked."""
        real = core.ledger.record_intake

        def refuse_b_then_down(records):  # type: ignore[no-untyped-def]
            keys = [r.order_key.rsplit("/", 1)[1] for r in records]
            if "B" in keys:
                raise LedgerRefused("ledger refused the data: DataError")
            if "C" in keys:
                raise LedgerError("down")
            return real(records)
        monkeypatch.setattr(core.ledger, "record_intake", refuse_b_then_down)
        channel = Channel()
        batch = channel.batch(core.pipeline)
        a, b, c = deliveries(order_message("A"), order_message("B"), order_message("C"))
        for d in (a, b, c):
            batch.add(d)
        with pytest.raises(LedgerError) as raised:
            batch.flush()
        assert raised.value.transient
        assert channel.acks == [(1, False), (2, False)]
        assert [tag for tag, _ in channel.dead] == [2]
        assert batch.items == [c]
        assert sum(core.ledger.state_counts().values()) == 1  # A alone is in the ledger

    def test_poison_is_rejected_when_the_dead_letter_publish_fails(self, core: Core,
                                                                   monkeypatch) -> None:
        """If the copy to the dead-letter exchange is not confirmed, the message is
        rejected (requeue=False) so the broker dead-letters it instead."""
        def refuse(records):  # type: ignore[no-untyped-def]
            raise LedgerRefused("refused")
        monkeypatch.setattr(core.ledger, "record_intake", refuse)
        channel = Channel(dead_letter_ok=False)
        batch = channel.batch(core.pipeline)
        batch.add(Delivery(7, order_message()))
        batch.flush()
        assert (channel.rejects, channel.acks) == ([7], [])


class TestLedgerRetry:
    """A ledger that is briefly unavailable is retried in place, without handing the batch
    back, by the default `LEDGER_RETRY`: 5 retries at most, 0.2 s doubling each time plus
    up to 0.2 s of jitter, and no retry once 20 s have gone since the first try."""

    @staticmethod
    def _down(core: Core, monkeypatch: pytest.MonkeyPatch,
              ends_at: list[float] | None = None, clock: list[float] | None = None,
              ) -> list[int]:
        """The ledger down for good; each try ends at the next time of ``ends_at``."""
        tries: list[int] = []

        def down(records):  # type: ignore[no-untyped-def]
            tries.append(len(records))
            if clock is not None and ends_at is not None:
                clock[0] = ends_at[len(tries) - 1]
            raise LedgerError("down")
        monkeypatch.setattr(core.ledger, "record_intake", down)
        return tries

    def test_a_stuck_ledger_is_tried_six_times_with_doubling_waits(
            self, core: Core, monkeypatch: pytest.MonkeyPatch) -> None:
        tries = self._down(core, monkeypatch)
        waits: list[float] = []
        batch = IntakeBatch(core.pipeline, ack=lambda t, m: None, reject=lambda t: None,
                            dead_letter=lambda d, r: True, sleep=waits.append)
        batch.add(Delivery(1, order_message()))
        with pytest.raises(LedgerError):
            batch.flush()
        assert tries == [1] * 6
        assert len(waits) == 5
        for wait, base in zip(waits, (0.2, 0.4, 0.8, 1.6, 3.2), strict=True):
            assert base <= wait <= base + 0.2

    def test_no_retry_once_20_seconds_have_gone(self, core: Core,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
        """A try that fails 19.9 s after the first began is retried; one that fails at 20 s
        is not (the batch goes back to the broker then)."""
        import types

        import tenacity

        clock = [0.0]
        monkeypatch.setattr(tenacity, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
        tries = self._down(core, monkeypatch, ends_at=[19.9, 20.0, 40.0, 60.0], clock=clock)
        batch = IntakeBatch(core.pipeline, ack=lambda t, m: None, reject=lambda t: None,
                            dead_letter=lambda d, r: True, sleep=lambda s: None)
        batch.add(Delivery(1, order_message()))
        with pytest.raises(LedgerError):
            batch.flush()
        assert len(tries) == 2


class TestSpool:
    def test_files_move_after_commit(self, core: Core, tmp_path: Path) -> None:
        """Valid files go to done/, invalid ones to invalid/ with a reason file."""
        spool = SpoolIntake(tmp_path / "spool", core.pipeline)
        (spool.incoming / "good.json").write_bytes(order_message().body)
        (spool.incoming / "bad.json").write_bytes(b"not json")
        (spool.incoming / "half.tmp").write_bytes(b"{")
        assert spool.run_once() == 2
        [done] = spool.done.iterdir()  # filed under a generated name, never the writer's
        assert done.read_bytes() == order_message().body and done.name != "good.json"
        [reason] = spool.invalid.glob("*.reason")
        assert "not JSON" in reason.read_text()
        assert (spool.invalid / reason.name.removesuffix(".reason")).read_bytes() == b"not json"
        assert [p.name for p in spool.incoming.iterdir()] == ["half.tmp"]

    def test_old_files_are_deleted_after_the_retention(self, core: Core,
                                                       tmp_path: Path) -> None:
        """Files in done/ and invalid/ filed longer ago than the retention are deleted;
        newer ones stay."""
        import os
        import time

        spool = SpoolIntake(tmp_path / "spool", core.pipeline, retention_days=30)
        (spool.incoming / "good.json").write_bytes(order_message().body)
        (spool.incoming / "bad.json").write_bytes(b"not json")
        spool.run_once()
        old = next(spool.done.iterdir())
        month_ago = time.time() - 31 * 86400
        os.utime(old, (month_ago, month_ago))
        assert spool.sweep() == 1
        assert not old.exists() and len(list(spool.invalid.iterdir())) == 2
        assert spool.sweep(now=time.time() + 31 * 86400) == 2

    def test_files_stay_when_the_ledger_is_down(self, core: Core, tmp_path: Path,
                                                monkeypatch) -> None:
        """With the ledger unavailable, nothing moves; the next round reads them again."""
        def down(records):  # type: ignore[no-untyped-def]
            raise LedgerError("down")
        monkeypatch.setattr(core.ledger, "record_intake", down)
        spool = SpoolIntake(tmp_path / "spool", core.pipeline)
        (spool.incoming / "good.json").write_bytes(order_message().body)
        assert spool.run_once() == 0
        assert (spool.incoming / "good.json").exists()


class TestMappedCourt:
    def test_a_court_mapping_turns_cms_json_into_an_order(self, tmp_path: Path) -> None:
        """A court configured with a mapping has its CMS messages (spool folder = ORI)
        mapped, checked and recorded like canonical ones; bad CMS input is INVALID with
        the mapping's reason."""
        from engine.config import parse_config
        from engine.ledger import Ledger, State, open_database
        from engine.receiver.stand_ins import stand_in_render
        from engine.runner import real_parts

        repo = Path(__file__).parents[2]
        config = parse_config({
            "courts": {"CA043015J": {"mapping": "santa-clara-odyssey-json",
                                     "destination": "doj"}},
            "destinations": {"doj": {"transport": "https", "format": "niem"}},
        }, env={}, base_dir=repo)
        ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'l.db'}"))
        # The intake's clock after the case's issuance (2026-12-10): not refused as future.
        pipeline = Pipeline.build(config, ledger, renderers={"niem": stand_in_render},
                                  load_mapping=real_parts(config).load_mapping,
                                  clock=lambda: dt.datetime(2026, 12, 11, tzinfo=dt.UTC))
        cases = repo / "config" / "mappings" / "santa-clara-odyssey-json" / "tests"
        good, bad = pipeline.run([
            IntakeMessage((cases / "dv_oah_modify_served.input.json").read_bytes(),
                          court_ori="CA043015J"),
            IntakeMessage((cases / "bad_date_and_no_restrained.input.json").read_bytes(),
                          court_ori="CA043015J")])
        assert good.version_key == "CA043015J/SCL-DV-2026-0042#2"
        assert good.state is State.WAITING  # version 1 has not been seen
        assert bad.state is State.INVALID and bad.reason


class TestRefusedCourtFiles:
    """A court file its mapping refuses outright is recorded INVALID, acked, and copied to
    the dead letters with the reason, so the court's bytes are kept for a replay."""

    def _pipeline(self, tmp_path: Path) -> tuple[Pipeline, Path]:
        from engine.config import parse_config
        from engine.ledger import Ledger, open_database
        from engine.receiver.stand_ins import stand_in_render
        from engine.runner import real_parts

        repo = Path(__file__).parents[2]
        config = parse_config({
            "courts": {"CA054015J": {"mapping": "tulare-pipe-records", "destination": "doj"}},
            "destinations": {"doj": {"transport": "https", "format": "niem"}},
        }, env={}, base_dir=repo)
        ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'l.db'}"))
        pipeline = Pipeline.build(config, ledger, renderers={"niem": stand_in_render},
                                  load_mapping=real_parts(config).load_mapping)
        return pipeline, repo / "config" / "mappings" / "tulare-pipe-records" / "tests"

    def test_refused_file_is_dead_lettered_with_its_rule_and_acked(self, tmp_path: Path) -> None:
        pipeline, cases = self._pipeline(tmp_path)
        channel = Channel()
        batch = channel.batch(pipeline)
        good = (cases / "ch_tro_issue_not_served.input.txt").read_bytes()
        bad = (cases / "truncated_file.input.txt").read_bytes()
        batch.add(Delivery(1, IntakeMessage(good, court_ori="CA054015J")))
        batch.add(Delivery(2, IntakeMessage(bad, court_ori="CA054015J")))
        batch.add(Delivery(3, IntakeMessage(b"not json")))  # canonical: recorded only
        batch.flush()
        assert channel.acks == [(3, True)]
        [(tag, reason)] = channel.dead
        assert tag == 2
        assert reason.startswith("recorded INVALID as CA054015J/UNREADABLE-")
        assert "line 7:" in reason and "(rule source.structure.last)" in reason

    def test_a_result_missing_copies_no_refused_file_either(self, tmp_path: Path,
                                                            monkeypatch) -> None:
        """The result count is checked before the refused files are copied: a batch that
        stops for a missing result leaves no dead-letter copy behind (it comes back whole)."""
        pipeline, cases = self._pipeline(tmp_path)
        real = pipeline.run
        monkeypatch.setattr(pipeline, "run", lambda messages: real(messages)[:-1])
        channel = Channel()
        batch = channel.batch(pipeline)
        bad = (cases / "truncated_file.input.txt").read_bytes()
        good = (cases / "ch_tro_issue_not_served.input.txt").read_bytes()
        batch.add(Delivery(1, IntakeMessage(bad, court_ori="CA054015J")))
        batch.add(Delivery(2, IntakeMessage(good, court_ori="CA054015J")))
        with pytest.raises(RuntimeError, match=r"^the pipeline gave 1 results for 2 messages$"):
            batch.flush()
        assert channel.dead == [] and channel.acks == []

    def test_the_same_refused_file_again_is_not_dead_lettered_twice(self,
                                                                    tmp_path: Path) -> None:
        pipeline, cases = self._pipeline(tmp_path)
        bad = (cases / "mistyped_record_type.input.txt").read_bytes()
        channel = Channel()
        for tag in (1, 2):
            batch = channel.batch(pipeline)
            batch.add(Delivery(tag, IntakeMessage(bad, court_ori="CA054015J")))
            batch.flush()
        assert [tag for tag, _ in channel.dead] == [1]
        assert channel.acks == [(1, True), (2, True)]

    def test_a_copy_not_confirmed_still_acks_the_recorded_message(self,
                                                                  tmp_path: Path) -> None:
        pipeline, cases = self._pipeline(tmp_path)
        channel = Channel(dead_letter_ok=False)
        batch = channel.batch(pipeline)
        bad = (cases / "truncated_file.input.txt").read_bytes()
        batch.add(Delivery(5, IntakeMessage(bad, court_ori="CA054015J")))
        batch.flush()
        assert (channel.acks, channel.rejects) == ([(5, True)], [])

    @pytest.mark.parametrize("copied", [True, False])
    def test_a_copy_not_confirmed_is_logged_and_a_confirmed_one_is_not(
            self, tmp_path: Path, copied: bool) -> None:
        """On-call staff learn from the log that a refused court file is only recorded (its
        bytes are not in the dead letters for a replay); a confirmed copy says nothing."""
        from structlog.testing import capture_logs

        pipeline, cases = self._pipeline(tmp_path)
        channel = Channel(dead_letter_ok=copied)
        batch = channel.batch(pipeline)
        bad = (cases / "truncated_file.input.txt").read_bytes()
        batch.add(Delivery(5, IntakeMessage(bad, court_ori="CA054015J", message_id="m-5")))
        with capture_logs() as logs:
            batch.flush()
        warned = [e for e in logs if e["event"].startswith("refused court file not copied")]
        assert [e["message_id"] for e in warned] == ([] if copied else ["m-5"])


class TestCourtSources:
    """A court with two CMSs: each message's source (spool folder or x-court-source header)
    chooses the mapping, configured per court and source in engine.yaml."""

    COURT = "CA020015J"

    def _pipeline(self, tmp_path: Path) -> Pipeline:
        from engine.config import parse_config
        from engine.ledger import Ledger, open_database
        from engine.receiver.stand_ins import stand_in_render
        from engine.runner import real_parts

        repo = Path(__file__).parents[2]
        config = parse_config({
            "courts": {self.COURT: {"mapping": "canonical", "destination": "doj",
                                    "sources": {"mainframe": "madera-fixed-width"}}},
            "destinations": {"doj": {"transport": "https", "format": "niem"}},
        }, env={}, base_dir=repo)
        ledger = Ledger(open_database(f"sqlite:///{tmp_path / 'l.db'}"))
        return Pipeline.build(config, ledger, renderers={"niem": stand_in_render},
                              load_mapping=real_parts(config).load_mapping)

    def test_each_source_is_read_by_its_own_mapping(self, tmp_path: Path) -> None:
        """The court's own messages are canonical JSON; its mainframe's are fixed width."""
        pipeline = self._pipeline(tmp_path)
        repo = Path(__file__).parents[2]
        fixed = (repo / "config" / "mappings" / "madera-fixed-width" / "tests"
                 / "ea_tro_two_protected_not_served.input.dat").read_bytes()
        mapped, canonical, unknown, no_court = pipeline.run([
            IntakeMessage(fixed, court_ori=self.COURT, source="mainframe"),
            IntakeMessage(fixed, court_ori=self.COURT),
            IntakeMessage(b"any bytes", court_ori=self.COURT, source="odyssey"),
            IntakeMessage(b"other bytes", source="mainframe")])
        assert mapped.version_key == f"{self.COURT}/MAD-EA-00871#1"
        assert mapped.reason is None
        assert canonical.reason is not None and canonical.reason.startswith("not JSON")
        assert unknown.reason == (f"court {self.COURT} has no CMS source 'odyssey' "
                                  "(config courts.<ORI>.sources)")
        assert no_court.reason == "headers.x-court-source: a source needs the court (x-court-ori)"

    def test_spool_subfolder_names_the_source(self, tmp_path: Path) -> None:
        pipeline = self._pipeline(tmp_path)
        spool = SpoolIntake(tmp_path / "spool", pipeline)
        folder = spool.incoming / self.COURT / "odyssey"
        folder.mkdir(parents=True)
        (folder / "x.txt").write_bytes(b"anything")
        assert spool.run_once() == 1
        [reason_file] = spool.invalid.glob("*.reason")  # filed under a generated name
        assert "has no CMS source 'odyssey'" in reason_file.read_text(encoding="utf-8")

    @pytest.mark.parametrize(("sources", "key", "fragment"), [
        ({"mainframe": "no-such-mapping"}, "courts.CA054015J.sources.mainframe",
         "no no-such-mapping/mapping.yaml"),
        ({"main frame": "canonical"}, "courts.CA054015J.sources.main frame",
         "a source name is letters"),
        ("madera-fixed-width", "courts.CA054015J.sources", "must map source names"),
    ])
    def test_bad_sources_fail_the_config(self, sources: object, key: str,
                                         fragment: str) -> None:
        from engine.config import ConfigError, parse_config

        with pytest.raises(ConfigError) as caught:
            parse_config({
                "courts": {"CA054015J": {"mapping": "canonical", "destination": "doj",
                                         "sources": sources}},
                "destinations": {"doj": {"transport": "https", "format": "niem"}},
            }, env={}, base_dir=Path(__file__).parents[2])
        assert any(key in line and fragment in line for line in str(caught.value).splitlines()), \
            str(caught.value)
