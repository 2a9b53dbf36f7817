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
