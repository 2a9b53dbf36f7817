"""A second, throw-away RabbitMQ node that only speaks TLS, for the amqps:// tests.

The shared broker is never reconfigured or restarted: this starts another node of the
installed RabbitMQ (own node name, ports, config, data and log directories, HOME for its
Erlang cookie, all under a temporary directory) with a CA, server certificate and key that
`make_ca` / `make_cert` create with the openssl CLI. `TlsBroker.stop()` stops that node only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pika
import pika.exceptions

from engine.transports.amqp_settings import connection_parameters

__all__ = ["TlsBroker", "make_ca", "make_cert", "start_tls_broker"]

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
#: How long the node may take to start listening before the test gives up.
START_LIMIT = 60.0


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA: (certificate, key)."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={name}", cwd=folder)
    return folder / f"{name}.pem", folder / f"{name}.key"


def make_cert(folder: Path, name: str, ca: tuple[Path, Path]) -> tuple[Path, Path]:
    """A certificate for localhost / 127.0.0.1 signed by ``ca``: (certificate, key)."""
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", "/CN=localhost", cwd=folder)
    (folder / f"{name}.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", str(ca[0]), "-CAkey", str(ca[1]),
             "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
             "-extfile", f"{name}.ext", cwd=folder)
    (folder / f"{name}.key").chmod(0o644)  # the node may run as another user
    return folder / f"{name}.pem", folder / f"{name}.key"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TlsBroker:
    node: str
    port: int
    ca_file: Path
    folder: Path
    env: dict[str, str]

    def url(self, user: str = "guest", password: str = "guest", *,  # noqa: S107 - the local default
            ca_file: Path | None = None) -> str:
        """An amqps:// URL; ``ca_file`` (default: this broker's CA) is what the client trusts."""
        ca = ca_file or self.ca_file
        return f"amqps://{user}:{password}@localhost:{self.port}/%2F?cafile={ca}"

    def ctl(self, *args: str) -> str:
        return subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args],
                              env=self.env, check=True, capture_output=True, text=True,
                              timeout=60).stdout

    def log_tail(self) -> str:
        logs = sorted((self.folder / "log").glob("*.log"))
        return logs[0].read_text(errors="replace")[-3000:] if logs else "(no log)"

    def stop(self) -> None:
        subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, "stop"],
                       env=self.env, capture_output=True, timeout=60, check=False)


def start_tls_broker(folder: Path) -> TlsBroker:
    """Start the TLS-only node; raises RuntimeError (with its log) if it does not come up."""
    ca = make_ca(folder, "test-ca")
    server = make_cert(folder, "broker", ca)
    port, node_port, dist_port = _free_port(), _free_port(), _free_port()
    node = f"tls-{uuid.uuid4().hex[:8]}@localhost"
    (folder / "rabbitmq.conf").write_text(
        "listeners.tcp = none\n"
        f"listeners.ssl.default = 127.0.0.1:{port}\n"
        f"ssl_options.cacertfile = {ca[0]}\n"
        f"ssl_options.certfile = {server[0]}\n"
        f"ssl_options.keyfile = {server[1]}\n"
        "ssl_options.verify = verify_none\n"
        "ssl_options.fail_if_no_peer_cert = false\n")
    (folder / "enabled_plugins").write_text("[].\n")
    env = {**os.environ, "HOME": str(folder), "RABBITMQ_NODENAME": node,
           "RABBITMQ_NODE_PORT": str(node_port), "RABBITMQ_DIST_PORT": str(dist_port),
           "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),
           "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
           "RABBITMQ_LOG_BASE": str(folder / "log"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
           # not the machine's rabbitmq-env.conf, which names the shared node
           "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf")}
    broker = TlsBroker(node, port, ca[0], folder, env)
    subprocess.run([str(RABBIT_BIN / "rabbitmq-server"), "-detached"], env=env, check=True,
                   capture_output=True, timeout=60)
    deadline = time.monotonic() + START_LIMIT
    while True:
        try:
            pika.BlockingConnection(connection_parameters(broker.url())).close()
            return broker
        except (pika.exceptions.AMQPError, OSError) as exc:
            if time.monotonic() > deadline:
                broker.stop()
                raise RuntimeError(f"the TLS node did not start in {START_LIMIT:.0f} s "
                                   f"({type(exc).__name__}):\n{broker.log_tail()}") from exc
            time.sleep(0.5)
