"""The ledger URL, when it carries a password (PostgreSQL), comes from the environment or a
secret file, like the AMQP URL, and is never shown by the config's repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import LEDGER_URL_ENV, ConfigError, parse_config

SECRET_URL = "postgresql+psycopg://engine:s3cret-pw@db:5432/engine"


def test_ledger_url_comes_from_the_environment_first() -> None:
    """ENGINE_LEDGER_URL wins over the url in the file."""
    config = parse_config({"ledger": {"url": "sqlite:///var/ledger.db"}},
                          env={LEDGER_URL_ENV: SECRET_URL + "\n"})
    assert config.ledger.url == SECRET_URL


def test_ledger_url_file_is_read(tmp_path: Path) -> None:
    """ledger.url_file names a file holding the URL (a container secret)."""
    secret = tmp_path / "ledger_url"
    secret.write_text(SECRET_URL + "\n", encoding="utf-8")
    config = parse_config({"ledger": {"url_file": str(secret)}}, env={})
    assert config.ledger.url == SECRET_URL


def test_unreadable_ledger_url_file_is_a_config_error(tmp_path: Path) -> None:
    """A url_file that cannot be read is reported under ledger.url_file."""
    with pytest.raises(ConfigError) as caught:
        parse_config({"ledger": {"url_file": str(tmp_path / "missing")}}, env={})
    assert any(p.startswith("ledger.url_file: cannot read") for p in caught.value.problems)


def test_url_and_url_file_together_are_a_config_error(tmp_path: Path) -> None:
    """Both ledger.url and ledger.url_file is ambiguous, and says so."""
    secret = tmp_path / "ledger_url"
    secret.write_text(SECRET_URL, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        parse_config({"ledger": {"url": "sqlite:///x.db", "url_file": str(secret)}}, env={})
    assert "ledger.url_file: give ledger.url or ledger.url_file, not both" in caught.value.problems


def test_ledger_repr_hides_the_password() -> None:
    """repr of the config (as a log line or traceback would show it) has no password."""
    config = parse_config({}, env={LEDGER_URL_ENV: SECRET_URL})
    assert "s3cret-pw" not in repr(config)
    assert "s3cret-pw" not in repr(config.ledger)
