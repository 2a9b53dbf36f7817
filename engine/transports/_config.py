"""Transport settings given as plain data (a dict from YAML), checked with errors that say the fix.

Every transport config is a frozen dataclass; `config_from_mapping` builds one from a dict,
naming unknown keys (with the closest known one), missing keys and values of the wrong type.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["TransportConfigError", "config_from_mapping", "redact_url"]

T = TypeVar("T")


def redact_url(url: str) -> str:
    """``url`` fit to print: user name and password, and query values, replaced by ``***``.
    A URL too broken to split is not printed at all."""
    import urllib.parse

    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(a URL that cannot be parsed)"
    netloc = ("***@" if parts.username or parts.password else "") + host + port
    query = "&".join(f"{k}=***" for k in urllib.parse.parse_qs(parts.query,
                                                               keep_blank_values=True))
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class TransportConfigError(ValueError):
    """A transport configuration that cannot be used; the message names the key and the fix."""


def _coerce(where: str, name: str, value: Any, annotation: Any) -> Any:
    """Coerce ``value`` to the field's declared type (str, int, float, bool, Path, or None)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(where, name, value, option)
            except TransportConfigError as exc:
                errors.append(str(exc))
        raise TransportConfigError(errors[0])
    if origin is typing.Literal:
        allowed = typing.get_args(annotation)
        if value not in allowed:
            raise TransportConfigError(
                f"{where}.{name}: must be one of {', '.join(map(repr, allowed))}")
        return value
    if origin is dict:
        if isinstance(value, Mapping) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return dict(value)
        raise TransportConfigError(f"{where}.{name}: must be a mapping of names to strings")
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise TransportConfigError(f"{where}.{name}: must be true or false")
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise TransportConfigError(f"{where}.{name}: must be a whole number")
    if annotation is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise TransportConfigError(f"{where}.{name}: must be a number")
    if annotation is str:
        if isinstance(value, str) and value:
            return value
        raise TransportConfigError(f"{where}.{name}: must be a non-empty string")
    if annotation is Path:
        if isinstance(value, str | Path) and str(value):
            return Path(value)
        raise TransportConfigError(f"{where}.{name}: must be a file or directory path")
    return value


def config_from_mapping(cls: type[T], data: Mapping[str, Any], *, where: str) -> T:
    """Build the dataclass ``cls`` from ``data``; raise `TransportConfigError` naming the problem.

    ``where`` says where the settings came from (e.g. ``destinations.doj.transport``) so the
    message points at the place to fix.
    """
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = unknown[0]
        close = difflib.get_close_matches(key, list(fields), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise TransportConfigError(
            f"{where}: unknown key {key!r}{hint}; known keys: {', '.join(sorted(fields))}")
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in data:
            required = (field.default is dataclasses.MISSING
                        and field.default_factory is dataclasses.MISSING)
            if required:
                raise TransportConfigError(f"{where}: missing required key {name!r}")
            continue
        kwargs[name] = _coerce(where, name, data[name], hints[name])
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, TransportConfigError):
            raise TransportConfigError(f"{where}: {exc}") from None
        raise TransportConfigError(f"{where}: {exc}") from exc
