"""Secret transport settings from a file or the environment, never from engine.yaml itself.

A setting that carries a secret (``url`` with a password, ``headers`` with a token,
``key_password``) may be given as ``<name>_file`` (a path: a mounted secret, read once at
start) or ``<name>_env`` (the name of an environment variable). ``headers_file`` holds one
``Name: value`` line per header. Errors name the key and the file or variable, never what
it holds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.transports._config import TransportConfigError

__all__ = ["SECRET_SETTINGS", "resolve_secrets"]

#: Settings that may come from ``<name>_file`` / ``<name>_env``.
SECRET_SETTINGS = ("url", "headers", "key_password")


def _read(where: str, key: str, path: Any) -> str:
    try:
        return Path(str(path)).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TransportConfigError(
            f"{where}.{key}: cannot read the secret file ({type(exc).__name__})") from None


def _headers(where: str, key: str, text: str) -> dict[str, str]:
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise TransportConfigError(
                f"{where}.{key}: line {number} is not 'Name: value'")
        out[name.strip()] = value.strip()
    return out


def resolve_secrets(data: Mapping[str, Any], *, where: str,
                    env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``data`` with every ``<name>_file`` / ``<name>_env`` replaced by ``<name>``."""
    env = os.environ if env is None else env
    out = dict(data)
    for name in SECRET_SETTINGS:
        given = [k for k in (name, f"{name}_file", f"{name}_env") if k in out]
        if len(given) > 1:
            raise TransportConfigError(f"{where}: give only one of {', '.join(given)}")
        if f"{name}_env" in out:
            var = str(out.pop(f"{name}_env"))
            if not env.get(var):
                raise TransportConfigError(
                    f"{where}.{name}_env: the environment variable {var} is not set")
            text = env[var].strip()
            key = f"{name}_env"
        elif f"{name}_file" in out:
            key = f"{name}_file"
            text = _read(where, key, out.pop(key))
        else:
            continue
        out[name] = _headers(where, key, text) if name == "headers" else text
    return out
