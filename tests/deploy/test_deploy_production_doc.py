"""docs/production.md matches what it describes: every config key it names is a key the
engine's loader accepts, and its compose table names the compose file's services with the
host ports they publish."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml

from engine.config import AmqpConfig, EngineConfig, LedgerConfig, TransmitterConfig

REPO = Path(__file__).parents[2]
DOC = (REPO / "docs" / "production.md").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text(encoding="utf-8"))

SECTIONS = {"amqp": AmqpConfig, "ledger": LedgerConfig, "transmitter": TransmitterConfig}
#: Keys the loader reads itself instead of passing them to a dataclass.
LOADER_KEYS = {"amqp.url_file", "ledger.url_file"}


def _section(title: str) -> str:
    start = DOC.index(f"## {title}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end != -1 else None]


def test_every_config_key_the_guide_names_exists() -> None:
    """Each `section.key` (and top-level key) in the replicas key table is a real config key."""
    table = _section("Configuration keys that matter for replicas")
    named = {k for k in re.findall(r"`([a-z_]+(?:\.[a-z_]+)?)`", table)
             if not k.endswith(".yaml")}
    assert {"amqp.url_file", "ledger.url_file", "transmitter.lease_seconds"} <= named
    top = {f.name for f in dataclasses.fields(EngineConfig)}
    unknown = []
    for key in sorted(named):
        section, _, field = key.partition(".")
        if not field:
            if key not in top:
                unknown.append(key)
        elif key not in LOADER_KEYS and field not in {
                f.name for f in dataclasses.fields(SECTIONS[section])}:
            unknown.append(key)
    assert unknown == []


def test_the_compose_table_lists_every_service_and_its_host_ports() -> None:
    """The guide's compose table has one row per service with exactly its published ports."""
    rows = [line for line in _section("Compose file (rehearsal)").splitlines()
            if line.startswith("| `")]
    documented: dict[str, set[int]] = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        ports = {int(p) for p in re.findall(r"\b(\d{4,5})\b", cells[-1])}
        for name in re.findall(r"`([a-z0-9-]+)`", cells[0]):
            documented[name] = ports
    published: dict[str, set[int]] = {}
    for name, service in COMPOSE["services"].items():
        published[name] = {int(str(p).split(":")[1]) for p in service.get("ports", [])}
    # engine-1 and engine-2 share a row: its ports are both replicas' ports together.
    published["engine-1"] = published["engine-2"] = (published["engine-1"]
                                                     | published["engine-2"])
    assert documented == published
