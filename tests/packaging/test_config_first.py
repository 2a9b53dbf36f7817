"""`engine run` and every `--config` command check the whole configuration first.

A bad configuration gets a non-zero exit naming every problem by its key, and nothing has
been touched: no ledger file, no ledger tables, no spool folder (issue 15: `engine run`
used to migrate the ledger and only then report the bad transport settings).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.cli import main
from tests.services import postgres_schema_url, require_postgres

#: The commands that take --config (engine.cli.ops), with the arguments each needs.
COMMANDS = [
    ["run"],
    ["db", "upgrade"],
    ["orders", "show", "CA019015J/X"],
    ["orders", "find", "--overdue"],
    ["orders", "resend", "CA019015J/X#1", "--reason", "court corrected the file"],
    ["dlq", "list"],
]

#: The key of each problem the bad configuration below has, one per kind of check.
PROBLEM_KEYS = (
    "bogus_key",  # a key load_config does not know
    "metrics_port",  # a value out of range
    "destinations.doj.settings",  # an unknown https transport setting
    "courts.CA019015J.mapping",  # a mapping file that does not load
)


def _bad_config(root: Path, ledger_url: str) -> Path:
    (root / "mappings" / "broken").mkdir(parents=True)
    (root / "mappings" / "broken" / "mapping.yaml").write_text(
        "mapping: 1\nname: broken\nsource: {format: yaml}\n", encoding="utf-8")
    config = root / "engine.yaml"
    config.write_text(textwrap.dedent(f"""\
        ledger: {{url: "{ledger_url}"}}
        spool_dir: var/spool
        mappings_dir: mappings
        bogus_key: 1
        metrics_port: 99999
        courts:
          CA019015J: {{mapping: broken, destination: doj}}
        destinations:
          doj:
            transport: https
            format: niem
            settings: {{url: "https://doj.example.gov/orders", colour: blue}}
        """), encoding="utf-8")
    return config


def _deep_only_config(root: Path, ledger_url: str) -> Path:
    """A file load_config accepts; only building its transport shows the fault."""
    config = root / "engine.yaml"
    config.write_text(textwrap.dedent(f"""\
        ledger: {{url: "{ledger_url}"}}
        metrics_port: null
        courts:
          "*": {{destination: doj}}
        destinations:
          doj:
            transport: https
            format: niem
            settings: {{url: "https://doj.example.gov/orders", colour: blue}}
        """), encoding="utf-8")
    return config


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_bad_config_names_every_problem_and_creates_no_ledger(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    ledger = tmp_path / "var" / "ledger.db"
    config = _bad_config(tmp_path, f"sqlite:///{ledger}")
    code, err = _run(capsys, [*command, "--config", str(config)])
    assert code != 0
    for key in PROBLEM_KEYS:
        assert f"{key}:" in err, f"problem at {key} not named:\n{err}"
    assert "colour" in err  # the unknown transport setting itself
    assert "4 problem(s)" in err
    assert not ledger.exists()
    assert not (tmp_path / "var").exists()  # neither the ledger's folder nor the spool


def test_run_checks_transport_settings_before_migrating_the_ledger(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's case: the ledger was migrated, then the transport settings refused."""
    ledger = tmp_path / "ledger.db"
    code, err = _run(capsys, ["run", "--config",
                              str(_deep_only_config(tmp_path, f"sqlite:///{ledger}"))])
    assert code != 0
    assert "destinations.doj.settings: unknown key 'colour'" in err
    assert not ledger.exists()


def test_a_good_config_still_passes_the_check(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """The same file without its faults is accepted: the check refuses only what is wrong."""
    ledger = tmp_path / "var" / "ledger.db"
    config = tmp_path / "engine.yaml"
    config.write_text(textwrap.dedent(f"""\
        ledger: {{url: "sqlite:///{ledger}"}}
        courts:
          CA019015J: {{mapping: canonical, destination: doj}}
        destinations:
          doj:
            transport: https
            format: niem
            settings: {{url: "https://doj.example.gov/orders"}}
        """), encoding="utf-8")
    code, _ = _run(capsys, ["db", "upgrade", "--config", str(config)])
    assert code == 0
    assert ledger.exists()


def test_a_court_format_whose_layout_cannot_load_is_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A destination speaking CLETS needs the layout: a broken one is a config problem."""
    from engine.clets import layout

    layout.default_layout.cache_clear()
    monkeypatch.setattr(layout, "resources", _MissingLayout())
    try:
        ledger = tmp_path / "ledger.db"
        config = tmp_path / "engine.yaml"
        config.write_text(textwrap.dedent(f"""\
            ledger: {{url: "sqlite:///{ledger}"}}
            metrics_port: null
            destinations:
              doj: {{transport: tcp, format: clets, settings: {{host: h.example, port: 7001}}}}
            """), encoding="utf-8")
        code, err = _run(capsys, ["db", "upgrade", "--config", str(config)])
    finally:
        layout.default_layout.cache_clear()
    assert code != 0
    assert "destinations.doj.format: cannot make clets messages" in err
    assert "schemas/clets-layout.yaml" in err
    assert not ledger.exists()


class _MissingLayout:
    """engine.resources as an installation without the CLETS layout would answer."""

    def require(self, name: str) -> Path:
        from engine.resources import ResourceMissing

        raise ResourceMissing(name, Path("/nowhere") / name)


@pytest.mark.integration
def test_bad_config_creates_no_postgres_tables(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_postgres()
    with postgres_schema_url("i15_cfg") as url:
        config = _deep_only_config(tmp_path, url)
        code, err = _run(capsys, ["run", "--config", str(config)])
        assert code != 0
        assert "destinations.doj.settings:" in err
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                tables = sa.inspect(conn).get_table_names()
        finally:
            engine.dispose()
        assert tables == []
