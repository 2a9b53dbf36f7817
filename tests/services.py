"""The real services the integration and fault tests use, and one rule for when they are
missing (RabbitMQ, PostgreSQL, promtool, the ../shared reference folder): the test fails.

A missing service is a skip only when the developer says so explicitly with
``ENGINE_TESTS_ALLOW_SKIP=1`` (e.g. on a laptop without RabbitMQ); CI never sets it, so a
broken service can never turn the integration tests into silent skips.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pika
import pytest

__all__ = [
    "ALLOW_SKIP_ENV",
    "AMQP_URL",
    "FAULT_SEED_ENV",
    "PG_DSN",
    "PG_URL",
    "fault_seed",
    "postgres_schema_url",
    "require_broker",
    "require_postgres",
    "require_promtool",
    "stop_process",
    "unavailable",
    "wait_until",
]

AMQP_URL = os.environ.get("ENGINE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
PG_DSN = os.environ.get("ENGINE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


#: The one opt-out: set to 1 to skip (not fail) tests whose service is missing.
ALLOW_SKIP_ENV = "ENGINE_TESTS_ALLOW_SKIP"


def unavailable(message: str) -> None:
    """A missing service fails the test, unless ENGINE_TESTS_ALLOW_SKIP=1 makes it a skip."""
    if os.environ.get(ALLOW_SKIP_ENV) == "1":
        pytest.skip(f"{message} ({ALLOW_SKIP_ENV}=1)")
    pytest.fail(f"{message} (set {ALLOW_SKIP_ENV}=1 to skip instead)")


#: Replays a random fault run: set it to the seed the run printed.
FAULT_SEED_ENV = "ENGINE_FAULT_SEED"


def fault_seed(what: str) -> int:
    """The seed of a random fault run: ``ENGINE_FAULT_SEED`` if set (a replay), else a fresh
    one. Printed either way, so a failing run's output says how to replay it."""
    chosen = os.environ.get(FAULT_SEED_ENV)
    seed = int(chosen) if chosen else random.SystemRandom().randrange(1 << 32)
    print(f"{what}: seed {seed} (replay with {FAULT_SEED_ENV}={seed})")
    return seed


def require_broker(url: str = AMQP_URL) -> None:
    try:
        pika.BlockingConnection(pika.URLParameters(url)).close()
    except pika.exceptions.AMQPError as exc:
        unavailable(f"RabbitMQ unreachable at 127.0.0.1:5672 ({type(exc).__name__})")


def require_postgres(dsn: str = PG_DSN) -> None:
    import psycopg

    try:
        psycopg.connect(dsn, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL unreachable at 127.0.0.1:5432 ({type(exc).__name__})")


@contextmanager
def postgres_schema_url(prefix: str) -> Iterator[str]:
    """A ledger URL whose tables live in a fresh schema of the test database, dropped after."""
    import psycopg

    require_postgres()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def require_promtool() -> str:
    """promtool's path (Debian package ``prometheus``): checks alert rules and configs."""
    path = shutil.which("promtool")
    if path is None:
        unavailable("promtool not installed (Debian package 'prometheus'); CI installs it")
    assert path is not None
    return path


def wait_until(condition: Callable[[], bool], what: str, *, limit: float,
               step: float = 0.05, describe: Callable[[], str] | None = None) -> None:
    """Poll ``condition`` every ``step`` s; fail the test naming ``what`` (and what
    ``describe`` says) after ``limit`` s. The limit bounds a stuck run; a healthy one needs
    a fraction of it."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            detail = f" ({describe()})" if describe else ""
            pytest.fail(f"gave up waiting for {what}{detail}")
        time.sleep(step)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM (a clean stop), then SIGKILL if it does not end within ``timeout`` s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
