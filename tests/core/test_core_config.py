"""Engine configuration: loaded from YAML, checked at load, problems say where and what."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import AMQP_URL_ENV, ConfigError, default_config, load_config, parse_config

REPO = Path(__file__).parents[2]


def minimal(**extra: object) -> dict[str, object]:
    return {"destinations": {"doj": {"transport": "https", "format": "niem"}},
            "courts": {"*": {"destination": "doj"}}, **extra}


class TestLoad:
    def test_the_example_config_loads(self) -> None:
        """config/engine.yaml is a valid configuration."""
        config = load_config(REPO / "config" / "engine.yaml", env={})
        assert config.court("CA019015J").destination == "doj-niem"
        assert config.court("CA001013J").destination == "doj-clets"

    def test_embedded_default_needs_no_broker(self) -> None:
        """With no file, the engine uses spool intake and a SQLite ledger."""
        config = default_config()
        assert config.amqp is None
        assert config.ledger.url.startswith("sqlite")

    def test_amqp_url_comes_from_the_environment_and_is_never_shown(self) -> None:
        """The AMQP URL is read from ENGINE_AMQP_URL and hidden from repr."""
        config = parse_config(minimal(), env={AMQP_URL_ENV: "amqps://u:secret@h/"})
        assert config.amqp is not None and config.amqp.url == "amqps://u:secret@h/"
        assert "secret" not in repr(config)


class TestProblems:
    def problems(self, data: object) -> tuple[str, ...]:
        with pytest.raises(ConfigError) as caught:
            parse_config(data, env={})
        return caught.value.problems

    def test_unknown_format_names_the_key(self) -> None:
        """A destination with an unknown format is reported at its key path."""
        data = minimal()
        data["destinations"] = {"doj": {"transport": "https", "format": "pdf"}}
        assert any(p.startswith("destinations.doj.format:") for p in self.problems(data))

    def test_court_pointing_nowhere_is_reported(self) -> None:
        """A court naming a destination that does not exist says which ones do."""
        problems = self.problems(minimal(courts={"CA019015J": {"destination": "nope"}}))
        assert any("courts.CA019015J.destination" in p and "doj" in p for p in problems)

    def test_url_in_the_file_is_refused(self) -> None:
        """Putting the AMQP URL (a secret) in the file is an error that says where it goes."""
        problems = self.problems(minimal(amqp={"url": "amqp://x"}))
        assert any("amqp.url" in p and AMQP_URL_ENV in p for p in problems)

    def test_plain_amqp_to_another_host_needs_allow_plaintext(self) -> None:
        """Issue 21: intake over amqp:// to another host is refused unless
        amqp.allow_plaintext is true; loopback (the traffic stays on the box) and amqps://
        need nothing."""
        with pytest.raises(ConfigError, match="clear text"):
            parse_config(minimal(), env={AMQP_URL_ENV: "amqp://u:secret@broker.example/"})
        parse_config(minimal(amqp={"allow_plaintext": True}),
                     env={AMQP_URL_ENV: "amqp://u:secret@broker.example/"})
        parse_config(minimal(), env={AMQP_URL_ENV: "amqp://u:secret@127.0.0.1/"})
        parse_config(minimal(), env={AMQP_URL_ENV: "amqps://u:secret@broker.example/"})

    def test_every_problem_is_reported_at_once(self) -> None:
        """Several mistakes give several problems, not just the first."""
        problems = self.problems(minimal(breaker={"failure_threshold": 0}, bogus=1))
        assert len(problems) == 2

    def test_prefetch_below_batch_size_is_refused(self) -> None:
        """A prefetch smaller than the batch would never fill a batch."""
        with pytest.raises(ConfigError, match=r"amqp\.prefetch"):
            parse_config(minimal(amqp={"prefetch": 10, "batch_size": 50}),
                         env={AMQP_URL_ENV: "amqp://h/"})
