"""The engine's configuration: frozen dataclasses, loaded from YAML and checked at load.

Every problem is reported as ``where: what to fix`` (``destinations.doj.format: must be one
of clets, niem``), all at once, in a `ConfigError`. With no file, `default_config()` is the
embedded one-box setup: spool intake, SQLite ledger, nothing external.

Secrets never sit in the file and are never logged: the AMQP URL comes from the environment
(``ENGINE_AMQP_URL``) or from a file named by ``amqp.url_file``; `AmqpConfig.__repr__`
hides it. A ledger URL that carries a password (PostgreSQL) comes the same way, from
``ENGINE_LEDGER_URL`` or ``ledger.url_file``; ``ledger.url`` is for password-less URLs.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from engine.reliability.breaker import DEFAULT_BREAKER, BreakerPolicy
from engine.reliability.retry import DEFAULT_RESCHEDULE, DEFAULT_RETRY, RetryPolicy

__all__ = [
    "AMQP_URL_ENV",
    "FORMATS",
    "LEDGER_URL_ENV",
    "TRANSPORT_KINDS",
    "AmqpConfig",
    "ConfigError",
    "CourtConfig",
    "DestinationConfig",
    "EngineConfig",
    "LedgerConfig",
    "TransmitterConfig",
    "default_config",
    "load_config",
    "mapping_path",
    "parse_config",
]

#: Environment variable holding the AMQP URL (it carries a password).
AMQP_URL_ENV = "ENGINE_AMQP_URL"
#: Environment variable holding the ledger URL when it carries a password (PostgreSQL).
LEDGER_URL_ENV = "ENGINE_LEDGER_URL"
#: Outbound formats a destination can speak.
FORMATS = ("clets", "niem")
#: Transport kinds a destination can use (modules in `engine.transports`; ``mock`` for tests).
TRANSPORT_KINDS = ("amqp", "file", "https", "mock", "tcp")
#: Court key that applies to every court not listed by ORI.
ANY_COURT = "*"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ConfigError(ValueError):
    """A configuration that cannot be used; ``problems`` lists ``where: what to fix``."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = tuple(problems)
        super().__init__(f"{source} has {len(problems)} problem(s):\n  "
                         + "\n  ".join(problems))


@dataclass(frozen=True, slots=True, kw_only=True)
class AmqpConfig:
    url: str
    intake_queue: str = "engine.intake"
    dead_letter_exchange: str = "engine.intake.dlx"
    dead_letter_queue: str = "engine.intake.dlq"
    #: Unacked deliveries the broker may hand this consumer at once (>= batch_size).
    prefetch: int = 200
    heartbeat: int = 30
    #: Quorum queue delivery limit: a message redelivered this often is dead-lettered.
    delivery_limit: int = 20
    #: Ledger commits group up to this many messages or this many ms, then ack them at once.
    batch_size: int = 100
    batch_ms: int = 50

    def __repr__(self) -> str:  # the URL carries a password
        return (f"AmqpConfig(url='***', intake_queue={self.intake_queue!r}, "
                f"prefetch={self.prefetch}, batch_size={self.batch_size})")


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerConfig:
    #: SQLAlchemy URL: ``sqlite:///path/ledger.db`` or ``postgresql+psycopg://...``.
    url: str = "sqlite:///var/ledger.db"

    def __repr__(self) -> str:  # a PostgreSQL URL may carry a password
        scheme = self.url.split(":", 1)[0]
        return f"LedgerConfig(url='{scheme}:***')"


@dataclass(frozen=True, slots=True, kw_only=True)
class CourtConfig:
    #: Mapping name (a file under ``mappings/``) or ``canonical`` for canonical JSON.
    mapping: str = "canonical"
    destination: str = ""
    #: A court with more than one CMS: source name -> its mapping. A message names its
    #: source by spool folder (``incoming/<ORI>/<source>/``) or ``x-court-source`` header.
    sources: Mapping[str, str] = field(default_factory=dict)

    def mapping_for(self, source: str | None) -> str | None:
        """The mapping of a message from `source` (None: the court's own), or None when
        the court has no such source."""
        return self.mapping if source is None else self.sources.get(source)


@dataclass(frozen=True, slots=True, kw_only=True)
class DestinationConfig:
    name: str
    transport: str
    format: str
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransmitterConfig:
    #: Seconds between looks at the ledger when nothing is due.
    poll_interval: float = 0.5
    #: Transmissions claimed per look.
    batch_size: int = 50
    #: A claim expires after this long, so a crashed replica's work is picked up again.
    lease_seconds: float = 120.0
    #: A SENT transmission with no acknowledgement after this long is sent again (same MCN).
    ack_timeout: float = 300.0
    #: At most this many SENT-but-unacknowledged transmissions per destination: the engine
    #: never runs further ahead of the DOJ than this, so a backlog waits in the ledger (not
    #: in the DOJ's queue) and ``ack_timeout`` measures the DOJ's answer, not our backlog.
    max_in_flight: int = 200
    #: Seconds before an order's due time after which no retry is planned: a failing
    #: order is tried again by then at the latest (the backoff may say 15 minutes).
    deadline_margin: float = 300.0


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineConfig:
    amqp: AmqpConfig | None = None
    ledger: LedgerConfig = LedgerConfig()
    spool_dir: Path = Path("var/spool")
    #: Days files stay in spool/done and spool/invalid (the ledger keeps the order); None: kept.
    spool_retention_days: float | None = 30.0
    #: Court mappings: ``<mappings_dir>/<name>/mapping.yaml`` (or ``<name>.yaml``).
    mappings_dir: Path = Path("config/mappings")
    courts: Mapping[str, CourtConfig] = field(default_factory=dict)
    destinations: Mapping[str, DestinationConfig] = field(default_factory=dict)
    retry: RetryPolicy = DEFAULT_RETRY
    reschedule: RetryPolicy = DEFAULT_RESCHEDULE
    breaker: BreakerPolicy = DEFAULT_BREAKER
    transmitter: TransmitterConfig = TransmitterConfig()
    metrics_port: int | None = 9464
    #: Interface the metrics server listens on: loopback unless set (0.0.0.0 in a container
    #: that Prometheus scrapes from outside).
    metrics_host: str = "127.0.0.1"
    #: Hosts an order-image link may point at (``.example.gov``: any name under it); empty:
    #: any public https host (engine.attachments).
    image_hosts: tuple[str, ...] = ()
    #: Child processes that decode, check and render intake messages (`engine.intake.prepare_pool`),
    #: so the engine uses a second core; 0 does that work in the engine process itself.
    prepare_workers: int = 1
    #: How far ahead of this engine's clock an order's ``issued_at`` may be before the
    #: intake refuses it (a future issuance would get a future deadline and never alert).
    max_clock_skew_seconds: float = 300.0

    def court(self, ori: str) -> CourtConfig | None:
        """The court's settings, or the ``*`` entry, or None when the court is unknown."""
        return self.courts.get(ori) or self.courts.get(ANY_COURT)


def mapping_path(mappings_dir: Path, name: str) -> Path | None:
    """The file of mapping ``name``: ``<name>/mapping.yaml`` or ``<name>.yaml``."""
    for candidate in (mappings_dir / name / "mapping.yaml", mappings_dir / f"{name}.yaml"):
        if candidate.is_file():
            return candidate
    return None


def default_config() -> EngineConfig:
    """The embedded one-box setup: no broker, spool intake, SQLite ledger."""
    return EngineConfig()


# -- loading -------------------------------------------------------------------------------

class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}")


def _section(data: Any, where: str, problems: _Problems) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.add(where, "must be a mapping of keys to values")
        return {}
    return data


def _build(cls: type, data: dict[str, Any], where: str, problems: _Problems,
           allowed: set[str] | None = None) -> Any:
    """cls(**data), with unknown keys and bad values reported as problems."""
    declared = {f.name: f for f in dataclasses.fields(cls)}
    names = allowed if allowed is not None else set(declared)
    unknown = sorted(set(data) - names)
    for key in unknown:
        problems.add(f"{where}.{key}", f"unknown key; known keys: {', '.join(sorted(names))}")
    kwargs = {k: v for k, v in data.items() if k in names}
    for key, value in kwargs.items():
        expected = declared[key].type
        if "float" in str(expected) and isinstance(value, int) and not isinstance(value, bool):
            kwargs[key] = float(value)
        elif ("int" in str(expected) and "float" not in str(expected)
              and not isinstance(value, int | type(None))):
            problems.add(f"{where}.{key}", f"must be a whole number, not {value!r}")
            return None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        problems.add(where, str(exc))
        return None


def _parses(url: str) -> bool:
    """True when ``url``'s host and port can be read (a bad port or [IPv6] host fails)."""
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number
        parts.hostname  # noqa: B018
    except ValueError:
        return False
    return True


def _loopback(url: str) -> bool:
    """True when ``url``'s host is this machine (the traffic never leaves it)."""
    import ipaddress
    import urllib.parse

    host = urllib.parse.urlsplit(url).hostname or "localhost"
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _amqp_url(section: dict[str, Any], where: str, problems: _Problems,
              env: Mapping[str, str]) -> str | None:
    if "url" in section:
        problems.add(f"{where}.url", f"do not put the URL (it holds a password) in the file; "
                     f"set {AMQP_URL_ENV} or amqp.url_file")
    url_file = section.get("url_file")
    if env.get(AMQP_URL_ENV):
        return env[AMQP_URL_ENV].strip()
    if url_file:
        try:
            return Path(url_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.add(f"{where}.url_file", f"cannot read {url_file}: {exc.strerror}")
    return None


def _ledger_url(section: dict[str, Any], problems: _Problems,
                env: Mapping[str, str]) -> str | None:
    """``$ENGINE_LEDGER_URL``, else the file ``ledger.url_file`` names, else None."""
    if env.get(LEDGER_URL_ENV):
        return env[LEDGER_URL_ENV].strip()
    url_file = section.get("url_file")
    if not url_file:
        return None
    if "url" in section:
        problems.add("ledger.url_file", "give ledger.url or ledger.url_file, not both")
    try:
        return Path(url_file).read_text(encoding="utf-8").strip()
    except OSError as exc:
        problems.add("ledger.url_file", f"cannot read {url_file}: {exc.strerror}")
    return None


def parse_config(data: Any, *, source: str = "config",
                 env: Mapping[str, str] | None = None,
                 base_dir: Path | None = None) -> EngineConfig:
    """Build and check an `EngineConfig` from YAML data; `ConfigError` lists every problem."""
    env = os.environ if env is None else env
    problems = _Problems()
    top = _section(data, "(top)", problems)
    known = {"amqp", "ledger", "spool_dir", "mappings_dir", "courts", "destinations", "retry",
             "reschedule", "breaker", "transmitter", "metrics_port", "prepare_workers",
             "max_clock_skew_seconds", "spool_retention_days", "metrics_host", "image_hosts"}
    for key in sorted(set(top) - known):
        problems.add(key, f"unknown key; known keys: {', '.join(sorted(known))}")
    base = base_dir or Path.cwd()

    amqp = None
    amqp_data = _section(top.get("amqp"), "amqp", problems)
    url = _amqp_url(amqp_data, "amqp", problems, env)
    if url:
        if not url.startswith(("amqp://", "amqps://")):
            problems.add(AMQP_URL_ENV, "must start with amqp:// or amqps://")
        elif not _parses(url):  # never the URL in the message: it holds a password
            problems.add(AMQP_URL_ENV, "cannot be parsed (amqps://user:password@host[:port]"
                         "/vhost, the password percent-encoded)")
        fields = {k: v for k, v in amqp_data.items()
                  if k not in ("url", "url_file", "allow_plaintext")}
        if (url.startswith("amqp://") and _parses(url) and not _loopback(url)
                and amqp_data.get("allow_plaintext") is not True):
            problems.add(AMQP_URL_ENV, "is plain amqp:// to another host: orders would cross "
                         "the network in clear text; use amqps://, or set "
                         "amqp.allow_plaintext: true (test networks only)")
        amqp = _build(AmqpConfig, {**fields, "url": url}, "amqp", problems)
        if amqp is not None and amqp.prefetch < amqp.batch_size:
            problems.add("amqp.prefetch", f"must be at least amqp.batch_size "
                         f"({amqp.batch_size}), or batches never fill")

    ledger_data = dict(_section(top.get("ledger"), "ledger", problems))
    ledger_url = _ledger_url(ledger_data, problems, env)
    ledger_data.pop("url_file", None)
    if ledger_url:
        ledger_data["url"] = ledger_url
    ledger = _build(LedgerConfig, ledger_data, "ledger", problems)
    if ledger is not None and not ledger.url.startswith(("sqlite", "postgresql")):
        problems.add("ledger.url", "must be a sqlite:/// or postgresql+psycopg:// URL")

    destinations: dict[str, DestinationConfig] = {}
    for name, raw in _section(top.get("destinations"), "destinations", problems).items():
        where = f"destinations.{name}"
        raw = _section(raw, where, problems)
        if not _NAME.match(str(name)):
            problems.add(where, "name must be letters, digits, '.', '_' or '-'")
        dest = _build(DestinationConfig, {**raw, "name": str(name)}, where, problems,
                      allowed={"name", "transport", "format", "settings"})
        if dest is None:
            continue
        if dest.transport not in TRANSPORT_KINDS:
            problems.add(f"{where}.transport", f"must be one of {', '.join(TRANSPORT_KINDS)}")
        if dest.format not in FORMATS:
            problems.add(f"{where}.format", f"must be one of {', '.join(FORMATS)}")
        if not isinstance(dest.settings, dict):
            problems.add(f"{where}.settings", "must be a mapping")
        destinations[str(name)] = dest

    courts: dict[str, CourtConfig] = {}
    for ori, raw in _section(top.get("courts"), "courts", problems).items():
        where = f"courts.{ori}"
        if ori != ANY_COURT and not re.match(r"^[A-Z]{2}[A-Z0-9]{7}$", str(ori)):
            problems.add(where, "key must be a 9-character court ORI (e.g. CA019015J) or '*'")
        court = _build(CourtConfig, _section(raw, where, problems), where, problems)
        if court is None:
            continue
        if court.destination not in destinations:
            problems.add(f"{where}.destination", f"names no destination; configured: "
                         f"{', '.join(sorted(destinations)) or '(none)'}")
        mappings_dir = base / str(top.get("mappings_dir", EngineConfig().mappings_dir))
        if not isinstance(court.sources, dict):
            problems.add(f"{where}.sources", "must map source names to mapping names")
            court = dataclasses.replace(court, sources={})
        for source in court.sources:
            if not re.fullmatch(r"[A-Za-z0-9_-]+", str(source)):
                problems.add(f"{where}.sources.{source}",
                             "a source name is letters, digits, '_' or '-'")
        named = [(f"{where}.mapping", court.mapping)] + [
            (f"{where}.sources.{name}", mapping) for name, mapping in court.sources.items()]
        for key, name in named:
            if not isinstance(name, str):
                problems.add(key, "must be a mapping name or 'canonical'")
            elif name != "canonical" and mapping_path(mappings_dir, name) is None:
                problems.add(key, f"no {name}/mapping.yaml (or {name}.yaml) in "
                             f"{mappings_dir}; use 'canonical' for canonical JSON")
        courts[str(ori)] = court

    def policy(key: str, cls: type, default: Any) -> Any:
        if key not in top:
            return default
        return _build(cls, _section(top[key], key, problems), key, problems) or default

    defaults = EngineConfig()
    transmitter = policy("transmitter", TransmitterConfig, defaults.transmitter)
    metrics_port = top.get("metrics_port", defaults.metrics_port)
    if metrics_port is not None and not (isinstance(metrics_port, int)
                                         and 0 <= metrics_port < 65536):
        problems.add("metrics_port", "must be a port number 0-65535, or null for none")
    prepare_workers = top.get("prepare_workers", defaults.prepare_workers)
    if (not isinstance(prepare_workers, int) or isinstance(prepare_workers, bool)
            or not 0 <= prepare_workers <= 64):
        problems.add("prepare_workers", "must be a whole number 0-64 (0: prepare intake "
                     "messages in the engine process)")
        prepare_workers = defaults.prepare_workers
    max_clock_skew = top.get("max_clock_skew_seconds", defaults.max_clock_skew_seconds)
    if (isinstance(max_clock_skew, bool) or not isinstance(max_clock_skew, int | float)
            or not 0 <= max_clock_skew <= 86_400):
        problems.add("max_clock_skew_seconds", "must be a number of seconds from 0 to 86400")
        max_clock_skew = defaults.max_clock_skew_seconds
    retention = top.get("spool_retention_days", defaults.spool_retention_days)
    if retention is not None and (not isinstance(retention, int | float)
                                  or isinstance(retention, bool) or retention <= 0):
        problems.add("spool_retention_days", "must be a number of days above 0, or null to "
                     "keep spool files forever")
        retention = defaults.spool_retention_days
    image_hosts = top.get("image_hosts") or []
    if not isinstance(image_hosts, list) or not all(
            isinstance(h, str) and h.strip(".") for h in image_hosts):
        problems.add("image_hosts", "must be a list of host names (.example.gov: any name "
                     "under it)")
        image_hosts = []
    config = EngineConfig(
        amqp=amqp,
        image_hosts=tuple(str(h).lower() for h in image_hosts),
        spool_retention_days=retention,
        ledger=ledger or defaults.ledger,
        spool_dir=base / str(top.get("spool_dir", defaults.spool_dir)),
        mappings_dir=base / str(top.get("mappings_dir", defaults.mappings_dir)),
        courts=courts,
        destinations=destinations,
        retry=policy("retry", RetryPolicy, defaults.retry),
        reschedule=policy("reschedule", RetryPolicy, defaults.reschedule),
        breaker=policy("breaker", BreakerPolicy, defaults.breaker),
        transmitter=transmitter,
        metrics_port=metrics_port,
        metrics_host=str(top.get("metrics_host", defaults.metrics_host)),
        prepare_workers=prepare_workers,
        max_clock_skew_seconds=float(max_clock_skew),
    )
    if problems.items:
        raise ConfigError(problems.items, source)
    return config


def load_config(path: Path | None, *, env: Mapping[str, str] | None = None) -> EngineConfig:
    """Load ``path`` (YAML), or the embedded default when ``path`` is None."""
    if path is None:
        return default_config()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"(file): cannot read: {exc.strerror}"], str(path)) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ConfigError([f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"],
                          str(path)) from exc
    return parse_config(data, source=str(path), env=env, base_dir=path.parent.parent
                        if path.parent.name == "config" else path.parent)
