"""Error texts carry no key name, value or file name from the input (issue 21, found 11):
unknown and duplicate JSON keys show as the field path and a hash; ``orders show KEY#junk``
names no version; malformed ledger and AMQP URLs are clean errors that do not echo them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main
from engine.config import ConfigError, parse_config
from engine.intake.pipeline import Pipeline
from engine.intake.spool import SpoolIntake
from engine.ledger import Ledger, open_database
from engine.receiver.stand_ins import stand_in_render

FIXTURE = Path(__file__).parent / "fixtures" / "orders" / "dv_tro_issue.json"
PERSON = "Guadalupe Ramirez"


def _unknown_key() -> bytes:
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    data["protected_persons"][0][PERSON] = "sister"
    return json.dumps(data).encode()


def _duplicate_key() -> bytes:
    text = FIXTURE.read_text(encoding="utf-8").rstrip().removesuffix("}")
    return (text + f', "{PERSON}": 1, "{PERSON}": 2}}').encode()


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Ledger]:
    config_file = tmp_path / "engine.yaml"
    config_file.write_text(json.dumps({
        "ledger": {"url": f"sqlite:///{tmp_path / 'ledger.db'}"},
        "spool_dir": str(tmp_path / "spool"),
        "courts": {"*": {"destination": "doj"}},
        "destinations": {"doj": {"transport": "https", "format": "niem",
                                 "settings": {"url": "https://doj.example/orders"}}},
    }))
    config = parse_config(json.loads(config_file.read_text()), env={}, base_dir=tmp_path)
    ledger = Ledger(open_database(config.ledger.url))
    pipeline = Pipeline.build(config, ledger, renderers={"niem": stand_in_render})
    spool = SpoolIntake(config.spool_dir, pipeline)
    (spool.incoming / "unknown.json").write_bytes(_unknown_key())
    (spool.incoming / "duplicate.json").write_bytes(_duplicate_key())
    assert spool.run_once() == 2
    return config_file, ledger


def test_keys_from_the_input_never_reach_reasons_ledger_or_cli(setup, capsys) -> None:
    config_file, ledger = setup
    spool = config_file.parent / "spool"
    reasons = " ".join(p.read_text() for p in (spool / "invalid").glob("*.reason"))
    assert "protected_persons.0.key#" in reasons and "has a key twice" in reasons
    stored = json.dumps(ledger.find_versions(limit=10), default=str)
    assert PERSON not in reasons and PERSON not in stored
    for order in ledger.find_versions(limit=10):
        assert main(["orders", "show", order["order_key"], "--config",
                     str(config_file)]) == 0
    files = [str(p) for p in (spool / "invalid").iterdir() if p.suffix != ".reason"]
    main(["check", *files])
    main(["convert", "--to", "niem", files[0]])
    out = capsys.readouterr()
    assert "key#" in out.out + out.err
    assert PERSON not in out.out + out.err


def test_orders_show_with_a_junk_version_shows_nothing(setup, capsys) -> None:
    config_file, ledger = setup
    key = ledger.find_versions(limit=1)[0]["order_key"]
    assert main(["orders", "show", f"{key}#junk", "--config", str(config_file)]) == 1
    out = capsys.readouterr()
    assert "version" not in out.out


def test_malformed_urls_are_clean_errors(tmp_path: Path, capsys) -> None:
    """A ledger URL or AMQP URL that cannot be parsed: an error naming the setting, no
    traceback, and never the password."""
    config_file = tmp_path / "engine.yaml"
    config_file.write_text(json.dumps(
        {"ledger": {"url": "postgresql+psycopg://court:Pw-4471@db:port/x"}}))
    assert main(["orders", "find", "--state", "INVALID", "--config", str(config_file)]) != 0
    err = capsys.readouterr().err
    assert "ledger URL" in err and "Pw-4471" not in err and "Traceback" not in err
    for url in ("amqp://court:Pw-4471@[broker/%2F", "amqp://court:Pw-4471@broker:port/"):
        with pytest.raises(ConfigError) as info:
            parse_config({"amqp": {"intake_queue": "q"}}, env={"ENGINE_AMQP_URL": url})
        assert "cannot be parsed" in str(info.value) and "Pw-4471" not in str(info.value)
