"""AMQP settings: URLs and explicit settings become pika connection parameters, or clear errors."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pika
import pytest

from engine.transports._config import TransportConfigError
from engine.transports.amqp_settings import DEFAULT_HEARTBEAT, AmqpSettings, connection_parameters
from engine.transports.amqp_topology import QueueTopology


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed CA certificate made with the openssl CLI."""
    d = tmp_path_factory.mktemp("amqp-ca")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=test-ca", "-keyout", str(d / "ca.key"), "-out",
                    str(d / "ca.pem")], check=True, capture_output=True)
    return d / "ca.pem"


class TestConnectionParameters:
    def test_plain_url_sets_host_port_vhost_and_credentials(self) -> None:
        """An amqp:// URL gives its host, port, decoded virtual host and credentials."""
        params = connection_parameters("amqp://court:s%40cret@mq.example:5673/doj%2Fprod")
        assert (params.host, params.port, params.virtual_host) == ("mq.example", 5673, "doj/prod")
        assert params.credentials == pika.PlainCredentials("court", "s@cret")
        assert params.ssl_options is None

    def test_defaults_give_heartbeat_and_blocked_timeout(self) -> None:
        """Without settings, heartbeats and a blocked-connection timeout are still on."""
        params = connection_parameters("amqp://127.0.0.1")
        assert params.heartbeat == DEFAULT_HEARTBEAT
        assert params.blocked_connection_timeout is not None
        assert params.port == 5672
        assert params.virtual_host == "/"

    def test_query_parameters_are_read(self) -> None:
        """Heartbeat and timeouts in the URL query are honoured."""
        params = connection_parameters(
            "amqp://h/?heartbeat=7&blocked_connection_timeout=12.5&connection_name=intake")
        assert params.heartbeat == 7
        assert params.blocked_connection_timeout == 12.5
        assert params.client_properties == {"connection_name": "intake"}

    def test_explicit_setting_wins_over_query(self) -> None:
        """A setting given explicitly overrides the same setting in the URL."""
        params = connection_parameters(AmqpSettings(url="amqp://h/?heartbeat=7", heartbeat=3))
        assert params.heartbeat == 3

    def test_amqps_builds_tls_context_with_ca_and_hostname_check(self, ca_file: Path) -> None:
        """An amqps:// URL with a CA file gives a verifying TLS context on port 5671."""
        params = connection_parameters(f"amqps://mq.example/?cafile={ca_file}")
        assert params.port == 5671
        context = params.ssl_options.context
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True
        assert params.ssl_options.server_hostname == "mq.example"

    def test_verify_hostname_can_be_turned_off(self, ca_file: Path) -> None:
        """verify_hostname=false keeps certificate verification but skips the name check."""
        params = connection_parameters(AmqpSettings(url="amqps://10.0.0.5", ca_file=ca_file,
                                                    verify_hostname=False))
        assert params.ssl_options.context.check_hostname is False
        assert params.ssl_options.context.verify_mode == ssl.CERT_REQUIRED

    @pytest.mark.parametrize(("url", "words"), [
        ("http://h/", "scheme"),
        ("amqp://h/?hearbeat=3", "unknown parameter 'hearbeat'"),
        ("amqp://h/?heartbeat=soon", "heartbeat"),
        ("amqp://h:port/", "port"),
        ("amqp://h/?cafile=/x.pem", "amqps://"),
        ("amqps://h/?cafile=/does/not/exist.pem", "CA/certificate/key"),
        ("amqps://h/?verify_hostname=maybe", "true or false"),
    ])
    def test_bad_settings_name_the_problem(self, url: str, words: str) -> None:
        """A bad URL raises TransportConfigError whose message names what to fix."""
        with pytest.raises(TransportConfigError, match=words.replace("?", r"\?")):
            connection_parameters(url)


class TestQueueTopology:
    def test_quorum_queue_arguments_carry_dead_letter_and_delivery_limit(self) -> None:
        """The main queue is a quorum queue dead-lettering to its DLX with a delivery limit."""
        topo = QueueTopology(queue="intake", delivery_limit=3)
        args = topo.queue_arguments()
        assert args["x-queue-type"] == "quorum"
        assert args["x-dead-letter-exchange"] == "intake.dlx"
        assert args["x-dead-letter-routing-key"] == "intake.dead"
        assert args["x-delivery-limit"] == 3

    def test_delivery_limit_below_one_is_refused(self) -> None:
        """A delivery limit of zero would dead-letter everything: it is refused."""
        with pytest.raises(TransportConfigError, match="delivery_limit"):
            QueueTopology(queue="q", delivery_limit=0)
