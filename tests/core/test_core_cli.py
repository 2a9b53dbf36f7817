"""Operations commands: demo, orders show/find/resend, dlq on the spool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.ledger import Ledger, open_database
from engine.pipeline import Pipeline
from engine.stand_ins import stand_in_render
from tests.core.core_harness import order_message


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A config whose ledger and spool live in tmp_path."""
    path = tmp_path / "engine.yaml"
    path.write_text(f"""
ledger: {{url: "sqlite:///{tmp_path / 'ledger.db'}"}}
spool_dir: {tmp_path / 'spool'}
courts: {{"*": {{destination: doj}}}}
destinations: {{doj: {{transport: https, format: niem}}}}
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
        assert main(["orders", "resend", "CA019015J/LA-DV-7#1",
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
        assert main(["dlq", "replay", "--config", str(config_file)]) == 0
        assert (tmp_path / "spool" / "incoming" / "x.json").exists()
