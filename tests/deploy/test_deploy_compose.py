"""deploy/: the compose rehearsal of the several-replicas shape, linted since Docker cannot run
here. Every file the compose file mounts exists; host ports do not clash; health conditions
point at services with healthchecks; the engine config loads with `engine.config`'s own
loader as the containers would see it (mounts and secrets laid out in a scratch root);
prometheus.yml passes ``promtool check config`` with the real alert rules mounted beside it;
Grafana's provisioning loads the real dashboard; the secrets agree with each other.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import urllib.parse
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from engine.config import EngineConfig, load_config
from engine.transports import build_transport
from tests.services import require_promtool

REPO = Path(__file__).parents[2]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
ENGINES = ("engine-1", "engine-2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str]]:
    """(host path, container path) of each bind mount (named volumes left out)."""
    mounts = []
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append(((DEPLOY / source).resolve(), target))
    return mounts


def host_file(service: dict[str, Any], container_path: str) -> Path:
    """The host file a container path comes from, through the service's bind mounts."""
    wanted = PurePosixPath(container_path)
    for source, target in bind_mounts(service):
        if wanted == PurePosixPath(target):
            return source
        if PurePosixPath(target) in wanted.parents:
            return source / wanted.relative_to(target)
    raise AssertionError(f"{container_path} is not mounted")


def secret_file(compose: dict[str, Any], name: str) -> Path:
    return (DEPLOY / compose["secrets"][name]["file"]).resolve()


def container_root(compose: dict[str, Any], service: dict[str, Any], root: Path) -> Path:
    """Lay out the service's bind mounts and secrets under ``root`` as symlinks."""
    for source, target in bind_mounts(service):
        link = root / target.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(source)
    for name in service.get("secrets", []):
        link = root / "run" / "secrets" / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(secret_file(compose, name))
    return root


def engine_config(compose: dict[str, Any], service_name: str, root: Path) -> EngineConfig:
    """The engine config as that replica loads it, through `engine.config.load_config`."""
    service = services(compose)[service_name]
    container_root(compose, service, root)
    config_path = service["command"][service["command"].index("--config") + 1]
    mounted = root / config_path.lstrip("/")
    text = mounted.read_text(encoding="utf-8").replace("/run/secrets/",
                                                       f"{root}/run/secrets/")
    local = mounted.parent / "engine.local.yaml"
    local.write_text(text, encoding="utf-8")
    return load_config(local, env={})




class TestFiles:
    def test_the_shape_has_every_service(self, compose: dict[str, Any]) -> None:
        """RabbitMQ, PostgreSQL, two engine replicas, the receiver, Prometheus,
        Alertmanager, Grafana."""
        assert set(services(compose)) == {"rabbitmq", "postgres", "receiver", *ENGINES,
                                          "prometheus", "alertmanager", "grafana"}

    def test_every_mounted_file_and_secret_exists(self, compose: dict[str, Any]) -> None:
        """Every bind-mount source, secret file and build context is in the repository."""
        missing = [str(source) for service in services(compose).values()
                   for source, _ in bind_mounts(service) if not source.exists()]
        missing += [name for name in compose["secrets"]
                    if not secret_file(compose, name).is_file()]
        for service in services(compose).values():
            build = service.get("build")
            if build:
                context = (DEPLOY / build["context"]).resolve()
                if not (context / build.get("dockerfile", "Dockerfile")).is_file():
                    missing.append(f"{context}/Dockerfile")
        assert missing == []

    def test_every_secret_a_service_names_is_declared(self, compose: dict[str, Any]) -> None:
        """A service can only use secrets the file declares."""
        used = {name for s in services(compose).values() for name in s.get("secrets", [])}
        assert used <= set(compose["secrets"])

    def test_host_ports_do_not_clash(self, compose: dict[str, Any]) -> None:
        """No host port is published twice, and every one is bound to 127.0.0.1."""
        published = []
        for service in services(compose).values():
            for entry in service.get("ports", []):
                address, host_port, _ = str(entry).split(":")
                assert address == "127.0.0.1", entry
                published.append(int(host_port))
        assert len(published) == len(set(published)), sorted(published)

    def test_health_conditions_wait_on_real_healthchecks(self, compose: dict[str, Any]) -> None:
        """A depends_on with service_healthy names a service that has a healthcheck."""
        for name, service in services(compose).items():
            for target, rule in service.get("depends_on", {}).items():
                assert target in services(compose), f"{name} depends on unknown {target}"
                if rule["condition"] == "service_healthy":
                    assert "healthcheck" in services(compose)[target], f"{name} -> {target}"

    def test_replicas_wait_for_broker_database_and_destination(
            self, compose: dict[str, Any]) -> None:
        """Each replica starts only once RabbitMQ, PostgreSQL and the receiver are healthy."""
        for name in ENGINES:
            depends = services(compose)[name]["depends_on"]
            assert {t: r["condition"] for t, r in depends.items()} == {
                "rabbitmq": "service_healthy", "postgres": "service_healthy",
                "receiver": "service_healthy"}


class TestEngineConfig:
    def test_both_replicas_load_the_config_with_the_engine_loader(
            self, compose: dict[str, Any], tmp_path: Path) -> None:
        """deploy/engine.yaml loads through the secrets (AMQP and PostgreSQL URLs) into a
        replica on RabbitMQ and PostgreSQL, its destination buildable as configured."""
        for name in ENGINES:
            config = engine_config(compose, name, tmp_path / name)
            assert config.amqp is not None
            assert config.amqp.url == secret_file(compose, "engine_amqp_url").read_text(
                encoding="utf-8").strip()
            assert config.ledger.url.startswith("postgresql+psycopg://")
            assert config.mappings_dir.is_dir()
            for dest in config.destinations.values():
                build_transport({"kind": dest.transport, **dict(dest.settings)})

    def test_no_password_outside_the_secret_files(self, compose: dict[str, Any]) -> None:
        """No password from a secret file appears in the engine config, the compose file or
        the Prometheus config: they only name the secret files."""
        passwords = set()
        for name in compose["secrets"]:
            value = secret_file(compose, name).read_text(encoding="utf-8").strip()
            passwords.add(urllib.parse.urlsplit(value).password if "://" in value else value)
        for path in (DEPLOY / "engine.yaml", COMPOSE, DEPLOY / "prometheus.yml"):
            text = path.read_text(encoding="utf-8")
            assert [p for p in passwords if p and p in text] == [], path.name

    def test_the_destination_is_the_receiver_service_on_its_port(
            self, compose: dict[str, Any], tmp_path: Path) -> None:
        """The engine sends to the receiver service, on the port the receiver listens on."""
        config = engine_config(compose, "engine-1", tmp_path)
        receiver = services(compose)["receiver"]["command"]
        (dest,) = config.destinations.values()
        url = urllib.parse.urlsplit(dest.settings["url"])
        assert url.hostname == "receiver"
        assert url.port == int(receiver[receiver.index("--port") + 1])
        # the receiver must listen beyond its own container for the replicas to reach it
        assert receiver[receiver.index("--host") + 1] == "0.0.0.0"  # noqa: S104
        assert dest.format == receiver[receiver.index("--format") + 1]

    def test_metrics_port_is_the_published_and_healthchecked_port(
            self, compose: dict[str, Any], tmp_path: Path) -> None:
        """The replicas' metrics_port is the container port compose publishes and probes."""
        config = engine_config(compose, "engine-1", tmp_path)
        for name in ENGINES:
            service = services(compose)[name]
            assert [str(p).split(":")[2] for p in service["ports"]] == [
                str(config.metrics_port)]
            assert f":{config.metrics_port}/readyz" in " ".join(service["healthcheck"]["test"])


class TestPrometheus:
    def test_promtool_accepts_the_config_with_the_alert_rules(
            self, compose: dict[str, Any], tmp_path: Path) -> None:
        """promtool check config passes on prometheus.yml with the mounted alerts.yml."""
        promtool = require_promtool()
        service = services(compose)["prometheus"]
        root = container_root(compose, service, tmp_path)
        config_arg = next(a for a in service["command"] if a.startswith("--config.file="))
        config = root / config_arg.split("=", 1)[1].lstrip("/")
        result = subprocess.run([promtool, "check", "config", str(config)],
                                capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout + result.stderr

    def test_both_replicas_are_scraped_as_job_po_engine(
            self, compose: dict[str, Any], tmp_path: Path) -> None:
        """The po-engine job (the name the alert rules use) targets each replica's metrics port."""
        metrics_port = engine_config(compose, "engine-1", tmp_path).metrics_port
        data = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
        (job,) = [j for j in data["scrape_configs"] if j["job_name"] == "po-engine"]
        targets = {t for c in job["static_configs"] for t in c["targets"]}
        assert targets == {f"{name}:{metrics_port}" for name in ENGINES}
        rules = host_file(services(compose)["prometheus"],
                          str(PurePosixPath("/etc/prometheus") / data["rule_files"][0]))
        assert rules == (REPO / "config" / "prometheus" / "alerts.yml").resolve()


class TestGrafana:
    def test_the_dashboard_provider_loads_the_real_dashboard(
            self, compose: dict[str, Any]) -> None:
        """The provider's folder holds config/grafana/po-engine-dashboard.json, as JSON."""
        grafana = services(compose)["grafana"]
        provisioning = host_file(grafana, "/etc/grafana/provisioning/dashboards")
        (provider,) = yaml.safe_load((provisioning / "po-engine.yml").read_text(
            encoding="utf-8"))["providers"]
        dashboards = [source for source, target in bind_mounts(grafana)
                      if PurePosixPath(provider["options"]["path"]) in
                      PurePosixPath(target).parents]
        assert dashboards == [(REPO / "config" / "grafana" / "po-engine-dashboard.json")
                              .resolve()]
        assert json.loads(dashboards[0].read_text(encoding="utf-8"))["uid"] == "po-engine"

    def test_the_datasource_is_the_prometheus_service(self, compose: dict[str, Any]) -> None:
        """The default Prometheus datasource points at the prometheus service's port."""
        grafana = services(compose)["grafana"]
        folder = host_file(grafana, "/etc/grafana/provisioning/datasources")
        (source,) = yaml.safe_load((folder / "prometheus.yml").read_text(
            encoding="utf-8"))["datasources"]
        url = urllib.parse.urlsplit(source["url"])
        assert (source["type"], source["isDefault"], url.hostname) == (
            "prometheus", True, "prometheus")
        published = [str(p).split(":")[2] for p in services(compose)["prometheus"]["ports"]]
        assert str(url.port) in published


class TestSecretsAgree:
    def test_the_ledger_url_uses_the_engine_role_password(
            self, compose: dict[str, Any]) -> None:
        """The ledger URL's user and password are the role the PostgreSQL init script makes."""
        url = urllib.parse.urlsplit(secret_file(compose, "engine_ledger_url").read_text(
            encoding="utf-8").strip())
        password = secret_file(compose, "engine_db_password").read_text(
            encoding="utf-8").strip()
        assert (url.hostname, url.username, url.password, url.path) == (
            "postgres", "engine", password, "/engine")
        init = host_file(services(compose)["postgres"],
                         "/docker-entrypoint-initdb.d/10-engine-role.sh")
        script = init.read_text(encoding="utf-8")
        assert "CREATE ROLE engine LOGIN NOSUPERUSER" in script
        assert "CREATE DATABASE engine OWNER engine" in script

    def test_the_amqp_url_logs_in_as_a_user_of_the_definitions(
            self, compose: dict[str, Any]) -> None:
        """The AMQP URL's user, password (checked against its salted SHA-256 hash) and vhost
        are in the RabbitMQ definitions, the vhost with quorum as its default queue type."""
        rabbit = services(compose)["rabbitmq"]
        conf = host_file(rabbit, "/etc/rabbitmq/rabbitmq.conf").read_text(encoding="utf-8")
        loaded = re.search(r"^load_definitions\s*=\s*(\S+)", conf, re.M)
        assert loaded is not None
        definitions = json.loads(host_file(rabbit, loaded.group(1)).read_text(encoding="utf-8"))
        url = urllib.parse.urlsplit(secret_file(compose, "engine_amqp_url").read_text(
            encoding="utf-8").strip())
        (user,) = [u for u in definitions["users"] if u["name"] == url.username]
        raw = base64.b64decode(user["password_hash"])
        salt, digest = raw[:4], raw[4:]
        assert hashlib.sha256(salt + (url.password or "").encode()).digest() == digest
        vhost = urllib.parse.unquote(url.path.lstrip("/"))
        (entry,) = [v for v in definitions["vhosts"] if v["name"] == vhost]
        assert entry["default_queue_type"] == "quorum"
        assert any(p["user"] == url.username and p["vhost"] == vhost
                   for p in definitions["permissions"])
