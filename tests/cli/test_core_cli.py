"""Operations commands: demo, orders show/find/resend/retry, dlq on the spool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.intake.pipeline import Pipeline
from engine.ledger import Ledger, open_database
from engine.receiver.stand_ins import stand_in_render
from tests.core.core_harness import order_message


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A config whose ledger and spool live in tmp_path."""
    path = tmp_path / "engine.yaml"
    path.write_text(f"""
ledger: {{url: "sqlite:///{tmp_path / 'ledger.db'}"}}
spool_dir: {tmp_path / 'spool'}
courts: {{"*": {{destination: doj}}}}
destinations: {{doj: {{transport: https, format: niem,
                     settings: {{url: "https://doj.example.gov/orders"}}}}}}
""", encoding="utf-8")
    return path


@pytest.fixture
def filled(config_file: Path, tmp_path: Path) -> Ledger:
    """The config's ledger with one READY order and one INVALID message in it."""
    from engine.config import load_config

    config = load_config(config_file, env={})
    ledger = Ledger(open_database(config.ledger.url))
    Pipeline.build(config, ledger, renderers={"niem": stand_in_render}).run(
        [order_message("LA-DV-7"), order_message("LA-DV-8", effective_date="2001-01-01")])
    return ledger


def _json_tail(text: str) -> object:
    return json.loads(text[text.index("\n{") + 1:] if not text.startswith("{") else text)


class TestDemoOutput:
    def test_demo_acks_every_order_and_names_its_parts(self, capsys) -> None:
        """`engine demo --json` ends with every version ACKED and lists the parts used."""
        assert main(["demo", "--json"]) == 0
        result = _json_tail(capsys.readouterr().out)
        assert result["all_acked"] is True
        assert {r["state"] for r in result["orders"]} == {"ACKED"}
        endpoint = [line for line in result["parts_used"] if "DOJ endpoint:" in line]
        assert endpoint and ("reference receiver (engine.receiver)" in endpoint[0]
                             or "STAND-IN receiver" in endpoint[0])


class TestOrders:
    def test_find_by_state(self, filled: Ledger, config_file: Path, capsys) -> None:
        """`orders find --state INVALID --json` lists the invalid version only."""
        assert main(["orders", "find", "--state", "INVALID", "--json",
                     "--config", str(config_file)]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [r["order_key"] for r in rows] == ["CA019015J/LA-DV-8"]

    def test_show_prints_history_without_personal_data(self, filled: Ledger,
                                                        config_file: Path, capsys) -> None:
        """`orders show` prints the state history and never a person's name."""
        assert main(["orders", "show", "CA019015J/LA-DV-7", "--config", str(config_file)]) == 0
        out = capsys.readouterr().out
        assert "version 1 (issue): READY" in out
        assert "released: first version of the order" in out
        assert "O'Brien" not in out and "Nguy" not in out

    def test_resend_refuses_a_ready_version(self, filled: Ledger, config_file: Path,
                                            capsys) -> None:
        """Resending a version that is not REJECTED or INVALID is refused with the reason."""
        assert main(["orders", "resend", "CA019015J/LA-DV-7#1", "--reason", "test",
                     "--config", str(config_file)]) == 1
        assert "only REJECTED or INVALID" in capsys.readouterr().err


class TestDeadLetters:
    def test_spool_dead_letters_list_and_replay(self, config_file: Path, tmp_path: Path,
                                                capsys) -> None:
        """Without AMQP, `dlq list` shows spool/invalid files and `replay` moves them back."""
        invalid = tmp_path / "spool" / "invalid"
        invalid.mkdir(parents=True)
        (invalid / "x.json").write_bytes(b"junk")
        (invalid / "x.json.reason").write_text("x: not JSON")
        assert main(["dlq", "list", "--json", "--config", str(config_file)]) == 0
        assert json.loads(capsys.readouterr().out)[0]["reason"] == "x: not JSON"
        assert main(["dlq", "replay", "--config", str(config_file)]) == 2  # no --reason
        assert not (tmp_path / "spool" / "incoming" / "x.json").exists()
        assert main(["dlq", "replay", "--reason", "mapping fixed (TICKET-7)", "--as", "kim",
                     "--config", str(config_file)]) == 0
        assert (tmp_path / "spool" / "incoming" / "x.json").exists()
        from engine.config import load_config

        ledger = Ledger(open_database(load_config(config_file, env={}).ledger.url))
        [action] = ledger.actions()
        assert (action["actor"], action["reason"]) == ("kim", "mapping fixed (TICKET-7)")
        assert "replayed 1 dead-lettered message(s)" in action["detail"]


class TestPeopleActions:
    """`resend`, `retry` and `dlq replay` say who and why; `orders show` prints it."""

    def test_actions_require_a_reason(self, filled: Ledger, config_file: Path) -> None:
        for argv in (["orders", "resend", "CA019015J/LA-DV-8#1"],
                     ["orders", "retry", "CA019015J/LA-DV-7"]):
            with pytest.raises(SystemExit) as exc:
                main([*argv, "--config", str(config_file)])
            assert exc.value.code == 2

    def test_retry_keeps_the_mcn_and_records_actor_and_reason(
            self, filled: Ledger, config_file: Path, capsys) -> None:
        """`orders retry KEY` brings the waiting transmission forward with the same MCN
        and the audit trail says who asked and why."""
        key = "CA019015J/LA-DV-7"
        [before] = filled.transmissions_for(key)
        assert main(["orders", "retry", key, "--reason", "DOJ back after outage INC-42",
                     "--as", "oncall-ana", "--json", "--config", str(config_file)]) == 0
        assert json.loads(capsys.readouterr().out) == {"retried": [before["mcn"]]}
        [after] = filled.transmissions_for(key)
        assert after["mcn"] == before["mcn"] and after["state"] == before["state"]
        assert main(["orders", "show", key, "--config", str(config_file)]) == 0
        out = capsys.readouterr().out
        assert "[by oncall-ana: DOJ back after outage INC-42]" in out

    def test_retry_by_destination_and_all_waiting(self, filled: Ledger, config_file: Path,
                                                  capsys) -> None:
        assert main(["orders", "retry", "--destination", "doj", "--reason", "r", "--json",
                     "--config", str(config_file)]) == 0
        assert len(json.loads(capsys.readouterr().out)["retried"]) == 1
        assert main(["orders", "retry", "--all-waiting", "--reason", "r", "--json",
                     "--config", str(config_file)]) == 0
        assert len(json.loads(capsys.readouterr().out)["retried"]) == 1
        assert main(["orders", "retry", "--destination", "nowhere", "--reason", "r",
                     "--config", str(config_file)]) == 1
        assert main(["orders", "retry", "--reason", "r", "--config", str(config_file)]) == 2

    def test_resend_records_the_os_user_by_default(self, filled: Ledger, config_file: Path,
                                                   capsys) -> None:
        """Without --as, the actor is the OS user."""
        import getpass

        assert main(["orders", "resend", "CA019015J/LA-DV-8#1", "--reason", "court fixed it",
                     "--config", str(config_file)]) == 1  # never a readable order: refused
        assert "not resent" in capsys.readouterr().err
        key = "CA019015J/LA-DV-7"
        assert main(["orders", "retry", key, "--reason", "court fixed it",
                     "--config", str(config_file)]) == 0
        history = filled.history(key)
        people = [e for v in history["versions"] for e in v["audit"] if e["actor"]]
        assert [(e["actor"], e["reason"]) for e in people] == [
            (getpass.getuser(), "court fixed it")]


class TestEmbeddedRun:
    def test_no_destinations_means_the_embedded_endpoint_and_says_so(self,
                                                                     tmp_path: Path) -> None:
        """`engine run` with no destinations configured sends every court to the in-process
        endpoint, says so, and delivers a spooled order."""
        import time

        from engine.cli.demo import embedded_endpoint
        from engine.config import EngineConfig, LedgerConfig
        from engine.runner import EngineRunner

        config, parts = embedded_endpoint(EngineConfig(
            ledger=LedgerConfig(url=f"sqlite:///{tmp_path / 'l.db'}"),
            spool_dir=tmp_path / "spool", metrics_port=None))
        runner = EngineRunner(config, parts)
        assert any("embedded in-process DOJ endpoint" in line for line in runner.describe())
        incoming = tmp_path / "spool" / "incoming"
        (incoming / "o.json").write_bytes(order_message().body)
        runner.start()
        try:
            deadline = time.monotonic() + 30
            while runner.ledger.state_counts() != {"ACKED": 1}:
                assert time.monotonic() < deadline, runner.ledger.state_counts()
                time.sleep(0.05)
        finally:
            runner.stop()

    def test_a_format_without_renderer_is_a_config_error(self, tmp_path: Path) -> None:
        """A destination whose format has no renderer installed stops the start with a
        message naming the format, before anything is consumed."""
        from engine.config import (
            ConfigError,
            CourtConfig,
            DestinationConfig,
            EngineConfig,
            LedgerConfig,
        )
        from engine.receiver.stand_ins import StandInReceiver
        from engine.runner import EngineRunner, Parts

        config = EngineConfig(
            ledger=LedgerConfig(url=f"sqlite:///{tmp_path / 'l.db'}"),
            spool_dir=tmp_path / "spool", courts={"*": CourtConfig(destination="doj")},
            destinations={"doj": DestinationConfig(name="doj", transport="mock",
                                                   format="clets")})
        parts = Parts(renderers={"niem": stand_in_render}, ack_parsers={},
                      transport_factory=lambda dest: StandInReceiver().transport())
        with pytest.raises(ConfigError, match="'clets'"):
            EngineRunner(config, parts)


class TestRunnerPerDestination:
    def test_each_destination_has_its_own_transmitter(self, tmp_path: Path) -> None:
        """With two destinations, each transmitter sends only its destination's orders, so
        one destination's outage or slowness cannot hold up the other's."""
        from engine.config import CourtConfig, DestinationConfig, EngineConfig, LedgerConfig
        from engine.receiver.stand_ins import StandInReceiver, parse_stand_in_ack
        from engine.runner import EngineRunner, Parts

        receivers = {"a": StandInReceiver(down=True), "b": StandInReceiver()}
        config = EngineConfig(
            ledger=LedgerConfig(url=f"sqlite:///{tmp_path / 'l.db'}"),
            spool_dir=tmp_path / "spool",
            courts={"CA019015J": CourtConfig(destination="a"),
                    "*": CourtConfig(destination="b")},
            destinations={n: DestinationConfig(name=n, transport="mock", format="niem")
                          for n in receivers})
        runner = EngineRunner(config, Parts(
            renderers={"niem": stand_in_render}, ack_parsers={"niem": parse_stand_in_ack},
            transport_factory=lambda dest: receivers[dest.name].transport()))
        court_b = json.loads(order_message("B-1").body)
        court_b["court"]["ori"] = "CA001013J"
        from engine.intake.pipeline import IntakeMessage

        runner.pipeline.run([order_message("A-1"), IntakeMessage(json.dumps(court_b).encode())])
        by_name = {next(iter(t.breakers)): t for t in runner.transmitters}
        by_name["b"].run_once()
        assert receivers["a"].attempts == 0
        assert runner.ledger.version_row("CA001013J/B-1", 1)["state"] == "ACKED"
        assert runner.ledger.version_row("CA019015J/A-1", 1)["state"] == "READY"
