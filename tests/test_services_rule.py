"""The one rule for missing services (tests/services.py): fail, unless explicitly opted out."""

from __future__ import annotations

import pytest

from tests.services import ALLOW_SKIP_ENV, unavailable


def test_a_missing_service_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the opt-out, a missing service is a failure, CI or not."""
    monkeypatch.delenv(ALLOW_SKIP_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.fail.Exception, match="RabbitMQ unreachable"):
        unavailable("RabbitMQ unreachable")


def test_the_explicit_opt_out_makes_it_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    """ENGINE_TESTS_ALLOW_SKIP=1 (and only that value) turns the failure into a skip."""
    monkeypatch.setenv(ALLOW_SKIP_ENV, "yes")
    with pytest.raises(pytest.fail.Exception):
        unavailable("PostgreSQL unreachable")
    monkeypatch.setenv(ALLOW_SKIP_ENV, "1")
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL unreachable"):
        unavailable("PostgreSQL unreachable")


def test_a_fault_seed_is_printed_and_replayable(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A random fault run prints its seed; ENGINE_FAULT_SEED replays exactly that seed."""
    from tests.services import FAULT_SEED_ENV, fault_seed

    monkeypatch.delenv(FAULT_SEED_ENV, raising=False)
    seed = fault_seed("crash test")
    assert f"seed {seed} (replay with {FAULT_SEED_ENV}={seed})" in capsys.readouterr().out
    monkeypatch.setenv(FAULT_SEED_ENV, str(seed))
    assert fault_seed("crash test") == seed
