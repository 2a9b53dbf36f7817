"""The whole configuration checked before a command does anything: `load_checked_config`.

`engine.config.load_config` checks the file's own keys and values. What it cannot see
until something is built is checked here, from the same YAML, before any database is
opened, any migration runs or any queue is declared:

- each destination's transport settings (``destinations.<name>.settings...``);
- each court's mapping file loads (``courts.<ORI>.mapping``);
- the formats the destinations speak can be made: the CLETS layout loads, the NIEM
  schemas compile (``destinations.<name>.format``);
- every file the engine ships is installed (``(install) <resource>``).

Every problem is reported at once, each with its key, in one `ConfigError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from engine import resources
from engine.config import (
    ConfigError,
    EngineConfig,
    default_config,
    load_config,
    mapping_path,
)
from engine.errors import EngineError

__all__ = ["deep_problems", "load_checked_config"]


def _clets_ready() -> None:
    from engine.clets.layout import default_layout

    default_layout()


def _niem_ready() -> None:
    from engine.niem.schema import ack_schema, message_schema

    message_schema()
    ack_schema()


#: Outbound format -> what must load for it (raises when it cannot).
_FORMAT_READY: dict[str, Callable[[], None]] = {"clets": _clets_ready, "niem": _niem_ready}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.splitlines()[:4]) if text else type(exc).__name__


def _transport_problems(name: str, raw: Mapping[str, Any]) -> list[str]:
    from engine.transports import transport_config

    kind = raw.get("transport")
    settings = raw.get("settings") or {}
    if kind in (None, "mock") or not isinstance(settings, Mapping):
        return []  # no transport named, or a bad one: load_config has said so
    try:
        transport_config({"kind": kind, **dict(settings)},
                         where=f"destinations.{name}.settings")
    except ValueError as exc:
        return [_first_line(exc)]
    return []


def _mapping_problems(ori: str, raw: Mapping[str, Any], mappings_dir: Path) -> list[str]:
    from engine.mappings.mapping import load_mapping

    name = raw.get("mapping", "canonical")
    if not isinstance(name, str) or name == "canonical":
        return []
    path = mapping_path(mappings_dir, name)
    if path is None:
        return []  # load_config names the missing mapping
    try:
        load_mapping(path)
    except (EngineError, OSError) as exc:
        return [f"courts.{ori}.mapping: mapping {name!r} ({path}) does not load: "
                f"{_first_line(exc)}"]
    return []


def _format_problems(destinations: Mapping[str, Any]) -> list[str]:
    by_format: dict[str, list[str]] = {}
    for name, raw in destinations.items():
        if isinstance(raw, Mapping) and raw.get("format") in _FORMAT_READY:
            by_format.setdefault(str(raw["format"]), []).append(str(name))
    out: list[str] = []
    for fmt, names in sorted(by_format.items()):
        try:
            _FORMAT_READY[fmt]()
        except Exception as exc:  # any failure to load is the problem to name
            out.extend(f"destinations.{name}.format: cannot make {fmt} messages: "
                       f"{_first_line(exc)}" for name in names)
    return out


def deep_problems(data: Any, mappings_dir: Path) -> list[str]:
    """Problems `load_config` cannot see, from the raw YAML ``data``: ``key: what to fix``."""
    top = data if isinstance(data, Mapping) else {}
    problems = [f"(install) {exc.name}: {exc}" for exc in resources.missing_resources()]
    destinations = top.get("destinations")
    destinations = destinations if isinstance(destinations, Mapping) else {}
    for name, raw in destinations.items():
        if isinstance(raw, Mapping):
            problems.extend(_transport_problems(str(name), raw))
    problems.extend(_format_problems(destinations))
    courts = top.get("courts")
    for ori, raw in (courts.items() if isinstance(courts, Mapping) else ()):
        if isinstance(raw, Mapping):
            problems.extend(_mapping_problems(str(ori), raw, mappings_dir))
    return problems


def _base_dir(path: Path) -> Path:
    """Where relative paths in the file resolve (as `load_config` resolves them)."""
    return path.parent.parent if path.parent.name == "config" else path.parent


def load_checked_config(path: Path | None, *,
                        env: Mapping[str, str] | None = None) -> EngineConfig:
    """`load_config`, then `deep_problems`; one `ConfigError` with every problem found."""
    if path is None:
        installation = deep_problems({}, default_config().mappings_dir)
        if installation:
            raise ConfigError(installation, "the engine's installation")
        return default_config()
    problems: list[str] = []
    config: EngineConfig | None = None
    try:
        config = load_config(path, env=env)
    except ConfigError as exc:
        problems.extend(exc.problems)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        raise ConfigError(problems, str(path)) from None  # load_config said why
    raw_dir = data.get("mappings_dir") if isinstance(data, Mapping) else None
    mappings_dir = (config.mappings_dir if config is not None
                    else _base_dir(path) / str(raw_dir or EngineConfig().mappings_dir))
    problems.extend(p for p in deep_problems(data, mappings_dir) if p not in problems)
    if problems:
        raise ConfigError(problems, str(path))
    assert config is not None
    return config

