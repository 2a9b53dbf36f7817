"""The Dockerfile, read as data (docker cannot run here): what it copies exists and is not
ignored, it runs as an unprivileged user, and its health check works against /healthz."""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from tests.conftest import TESTS

ROOT = TESTS.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
IGNORED = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
           if line.strip() and not line.startswith("#")}
RULES = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
         if line.strip() and not line.startswith("#")]


def _ignored(source: str) -> bool:
    """Whether .dockerignore keeps ``source`` out of the build context (last rule wins)."""
    parts = source.strip("/").split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for rule in RULES:
        negate, pattern = rule.startswith("!"), rule.lstrip("!")
        if any(fnmatch.fnmatchcase(c, pattern) for c in candidates):
            ignored = not negate
    return ignored


def _instructions(name: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in joined.splitlines()
            if line.split(None, 1)[:1] == [name]]


def _healthcheck_argv() -> list[str]:
    [check] = _instructions("HEALTHCHECK")
    return json.loads(check[check.index("CMD") + 3:].strip())


class TestImageContents:
    def test_copied_sources_exist_and_are_not_ignored(self):
        """Every file or folder the build copies from the context is there and not ignored."""
        sources = [args.split()[0] for args in _instructions("COPY") if "--from" not in args]
        assert sources
        for source in sources:
            assert (ROOT / source).exists(), source
            assert source not in IGNORED, source
            assert not _ignored(source), source

    def test_runs_as_an_unprivileged_user(self):
        """The final stage switches to a named user that is not root."""
        users = _instructions("USER")
        assert users
        assert users[-1].split(":")[0] not in {"root", "0"}

    def test_is_multi_stage_on_python_slim(self):
        """A builder stage makes the environment; the runtime stage is python slim."""
        stages = _instructions("FROM")
        assert len(stages) >= 2
        assert re.search(r"^ARG PYTHON_IMAGE=python:3\.1[1-9]-slim$", DOCKERFILE, re.M)

    def test_entrypoint_is_the_engine_and_default_command_is_run(self):
        """`docker run IMAGE` runs `engine run`; `docker run IMAGE check F` runs a check."""
        assert json.loads(_instructions("ENTRYPOINT")[-1]) == ["engine"]
        assert json.loads(_instructions("CMD")[-1]) == ["run"]

    def test_config_and_spool_are_volumes(self):
        """Configuration and the spool/ledger directory are volumes, not image layers."""
        [volumes] = _instructions("VOLUME")
        assert set(json.loads(volumes)) == {"/app/config", "/app/var"}


def _stages() -> dict[str, list[tuple[str, str]]]:
    """Stage name -> its (instruction, arguments), in order."""
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for line in DOCKERFILE.replace("\\\n", " ").splitlines():
        word, _, args = line.strip().partition(" ")
        if word == "FROM":
            current = stages.setdefault(args.split()[-1], [])
        elif word and not word.startswith("#") and word.isupper():
            current.append((word, args.strip()))
    return stages


class TestBuiltFromTheWheel:
    """Issue 15: the image is the wheel installed, never the source tree (editable)."""

    def test_build_stage_builds_the_wheel_with_every_resource_folder(self):
        from engine.resources import BUNDLES

        stages = _stages()
        build = stages["build"]
        assert any(w == "RUN" and "python -m build" in a for w, a in build)
        copied = {source for w, a in build if w == "COPY" and "--from" not in a
                  for source in a.split()[:-1]}
        for folder in ("engine", "setup.py", *BUNDLES.values()):
            assert folder in copied, f"the build stage does not copy {folder}"
            assert not _ignored(folder), f".dockerignore hides {folder}"

    def test_runtime_has_the_installed_wheel_and_no_source(self):
        stages = _stages()
        assert list(stages)[-1] == "runtime"
        runs = [a for steps in stages.values() for w, a in steps if w == "RUN"]
        assert not [a for a in runs if "--editable" in a or re.search(r"install\s+-e\b", a)]
        installs = [a for a in runs if "pip install" in a and ".whl" in a]
        assert installs, "no stage pip-installs the built wheel"
        runtime_copies = [a for w, a in stages["runtime"] if w == "COPY"]
        assert runtime_copies and all(a.startswith("--from=") for a in runtime_copies)
        assert all("/src" not in a and "/app" not in a.split()[-2] for a in runtime_copies)

    def test_healthcheck_asks_healthz(self):
        assert "/healthz" in " ".join(_healthcheck_argv())


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b'{"status": "alive"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_port() -> Iterator[int]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


class TestHealthcheck:
    def _run(self, port: int) -> int:
        argv = _healthcheck_argv()
        assert argv[0] == "python"
        env = {**os.environ, "ENGINE_HEALTH_PORT": str(port)}
        return subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True,
                              timeout=30, check=False).returncode

    def test_healthy_when_healthz_answers(self, health_port):
        """The health check command exits 0 when /healthz answers 200."""
        assert self._run(health_port) == 0

    def test_unhealthy_when_nothing_listens(self):
        """The health check command fails when nothing answers on the port."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        assert self._run(closed) != 0
