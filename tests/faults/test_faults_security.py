"""Security basics: the intake over amqps:// with certificate verification, against a second
RabbitMQ node that speaks only TLS (CA and certificates made by the test with openssl);
clients that do not trust that CA are refused; the AMQP URL (with its password) comes from
the environment or a file, never from the main config, and never shows in the engine's output.
"""

from __future__ import annotations

import secrets
import shutil
import ssl
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pika
import pika.exceptions
import pytest

from engine.config import ConfigError, parse_config
from engine.transports.amqp_settings import connection_parameters
from tests.faults.harness import FaultRun, order_stream, wait_until
from tests.faults.tls_broker import RABBIT_BIN, TlsBroker, make_ca, make_cert, start_tls_broker

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBroker]:
    if not (RABBIT_BIN / "rabbitmq-server").exists() or shutil.which("openssl") is None:
        pytest.fail("rabbitmq-server and openssl are needed to start the TLS test node")
    broker = start_tls_broker(tmp_path_factory.mktemp("tls-broker"))
    yield broker
    broker.stop()


@pytest.fixture
def secret_user(tls_broker: TlsBroker) -> tuple[str, str]:
    """A user with a random password on the TLS node (removed after)."""
    user, password = f"court-{secrets.token_hex(4)}", f"Pw{secrets.token_hex(12)}"
    tls_broker.ctl("add_user", user, password)
    tls_broker.ctl("set_permissions", "-p", "/", user, ".*", ".*", ".*")
    yield user, password
    tls_broker.ctl("delete_user", user)


def test_intake_consumes_over_amqps_with_the_ca_verified(tmp_path: Path,
                                                        tls_broker: TlsBroker) -> None:
    """`engine run` with an amqps:// URL naming the test CA consumes orders from the TLS
    node and delivers every one."""
    url = tls_broker.url()
    run = FaultRun(tmp_path, "security: intake over amqps (verified CA)", broker_url=url,
                   engine_amqp_url=url)
    try:
        _deliver_clean(run, 20)
    finally:
        run.close()


def test_clients_that_do_not_trust_the_ca_are_refused(tmp_path: Path,
                                                      tls_broker: TlsBroker) -> None:
    """A client trusting another CA, or only the system CAs, fails certificate
    verification; so does the engine's intake: its messages stay on the queue."""
    other_ca, _ = make_ca(tmp_path, "other-ca")
    for untrusting in (tls_broker.url(ca_file=other_ca),
                       tls_broker.url().split("?", 1)[0]):
        with pytest.raises((pika.exceptions.AMQPConnectionError, ssl.SSLError)) as info:
            pika.BlockingConnection(connection_parameters(untrusting)).close()
        assert "CERTIFICATE_VERIFY_FAILED" in repr(info.value)

    run = FaultRun(tmp_path, "security: untrusted CA refused", broker_url=tls_broker.url(),
                   engine_amqp_url=tls_broker.url(ca_file=other_ca))
    try:
        run.publish(order_stream(run.prefix, 5))
        engine = run.start_engine()
        wait_until(lambda: sum("intake connection lost" in line for line in engine.output) >= 2,
                   "the intake to fail twice to connect", describe=engine.tail)
        assert run.queue_depth() == len(run.published)
        assert run.progress() == {}
    finally:
        run.close()


def _password_seen(output: str, password: str) -> bool:
    return password in output or urllib.parse.quote(password) in output


def test_amqp_password_from_env_or_file_never_in_output(
        tmp_path: Path, tls_broker: TlsBroker, secret_user: tuple[str, str]) -> None:
    """The URL with a password is refused in the main config; given through
    ENGINE_AMQP_URL or amqp.url_file it works, and the password appears nowhere in the
    engine's output, neither while connecting fails nor while it works."""
    user, password = secret_user
    assert user  # the user name is not a secret; the password is
    with pytest.raises(ConfigError, match=r"amqp\.url"):
        parse_config({"amqp": {"url": tls_broker.url(user, password)}}, env={})

    url = tls_broker.url(user, password)
    run = FaultRun(tmp_path, "security: secrets from env/file, never logged",
                   broker_url=url, engine_amqp_url=url)
    try:
        # 1. From the environment, while the broker cannot be reached (errors get logged).
        dead_port = url.replace(f":{tls_broker.port}/", ":1/")
        failing = run.start_engine(env={"ENGINE_AMQP_URL": dead_port})
        wait_until(lambda: sum("intake connection lost" in line
                               for line in failing.output) >= 2,
                   "connection failures to be logged", describe=failing.tail)
        failing.terminate()
        # 2. From a file named in the config, working.
        url_file = tmp_path / "amqp-url.secret"
        url_file.write_text(url + "\n", encoding="utf-8")
        config = run.config_path.read_text(encoding="utf-8")
        run.config_path.write_text(config.replace(
            '"amqp": {', f'"amqp": {{"url_file": "{url_file}", ', 1), encoding="utf-8")
        run.publish(order_stream(run.prefix, 10))
        working = run.start_engine(env={"ENGINE_AMQP_URL": ""})
        run.wait_settled()
        run.assert_clean(run.check())
        working.terminate()  # waits for the process and its output reader: nothing unread
        for engine in (failing, working):
            output = "".join(engine.output)
            assert output, "the engine said nothing at all: the scan would prove nothing"
            assert not _password_seen(output, password)
    finally:
        run.close()


@pytest.fixture
def mtls_files(tmp_path: Path) -> dict[str, Path | None]:
    """A CA (made with openssl) that signs both the receiver's and the engine's certificate."""
    ca = make_ca(tmp_path, "doj-ca")
    server, client = make_cert(tmp_path, "doj", ca), make_cert(tmp_path, "court", ca)
    return {"ca": ca[0], "server_cert": server[0], "server_key": server[1],
            "client_cert": client[0], "client_key": client[1]}


def test_https_with_mutual_tls_delivers(tmp_path: Path,
                                        mtls_files: dict[str, Path | None]) -> None:
    """`engine run` sends over HTTPS with its client certificate to a receiver that
    requires one: every version ACKED once, in order."""
    run = FaultRun(tmp_path, "security: https with mutual TLS", endpoint="https",
                   https_tls=mtls_files)
    try:
        _deliver_clean(run, 20)
    finally:
        run.close()


def test_https_without_a_client_certificate_is_refused(
        tmp_path: Path, mtls_files: dict[str, Path | None]) -> None:
    """Without a client certificate the receiver refuses the handshake: nothing is
    accepted, and the versions wait visibly (RETRY_SCHEDULED with a TLS error)."""
    run = FaultRun(tmp_path, "security: https without client certificate refused",
                   endpoint="https", https_tls={**mtls_files, "client_cert": None})
    try:
        run.publish(order_stream(run.prefix, 3))
        run.start_engine()

        def scheduled() -> bool:
            rows = run.ledger().find_versions(state="RETRY_SCHEDULED", limit=100)
            return len([r for r in rows if run.prefix in r["order_key"]]) == 3
        wait_until(scheduled, "the entries to be rescheduled", describe=run.engine.tail)
        assert run.receiver.journal.entries() == []
        errors = [t["last_error"] or "" for p in run.published if p.version == 1
                  for t in run.ledger().transmissions_for(p.order_key) if t["version"] == 1]
        # TLS 1.3 reports it as a certificate-required alert or an EOF in the handshake.
        assert any("SSL" in e for e in errors), errors
    finally:
        run.close()


def _deliver_clean(run: FaultRun, orders: int) -> None:
    """Publish ``orders`` orders, run the engine, and find every version ACKED once."""
    run.publish(order_stream(run.prefix, orders))
    run.start_engine()
    run.wait_settled()
    run.assert_clean(run.check())


def test_amqp_transport_publishes_over_amqps_to_a_tls_node(tls_broker: TlsBroker) -> None:
    """The AMQP destination transport, with an amqps:// URL and no plaintext permission,
    publishes a confirmed message to the TLS-only node; the same URL as amqp:// is refused
    before anything connects."""
    from engine.transports import AmqpTransport, AmqpTransportConfig, TransportConfigError
    from engine.transports.base import Envelope

    doj, acks = f"test.sec.doj.{secrets.token_hex(4)}", f"test.sec.acks.{secrets.token_hex(4)}"
    url = tls_broker.url()
    with AmqpTransport(AmqpTransportConfig(url=url, queue=doj, reply_to=acks,
                                           declare_queue=True)) as transport:
        transport.send(Envelope("TLS-MCN-1", b"<order/>", "application/xml"))
    connection = pika.BlockingConnection(connection_parameters(url))
    try:
        channel = connection.channel()
        method, props, body = channel.basic_get(doj, auto_ack=True)
        assert method is not None and body == b"<order/>" and props.message_id == "TLS-MCN-1"
        channel.queue_delete(doj)
    finally:
        connection.close()
    with pytest.raises(TransportConfigError, match="clear text"):
        AmqpTransportConfig(url=url.replace("amqps://", "amqp://", 1).split("?")[0],
                            queue=doj, reply_to=acks)
