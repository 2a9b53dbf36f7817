"""Client-side TLS contexts for the HTTPS and TCP transports (mutual TLS when a cert is given)."""

from __future__ import annotations

import ssl
from pathlib import Path

from engine.transports._config import TransportConfigError

__all__ = ["client_tls_context"]


def client_tls_context(*, ca_file: Path | None, cert_file: Path | None, key_file: Path | None,
                       verify_hostname: bool, where: str,
                       key_password: str | None = None) -> ssl.SSLContext:
    """A verifying client context: the CA bundle (system store if None), our cert and key
    (``key_password`` unlocks an encrypted key).

    Raises `TransportConfigError` naming ``where`` when a file cannot be loaded.
    """
    if key_file and not cert_file:
        raise TransportConfigError(f"{where}: key_file given without cert_file")
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if cert_file:
            context.load_cert_chain(str(cert_file), str(key_file) if key_file else None,
                                    password=key_password)
    except (OSError, ssl.SSLError) as exc:
        raise TransportConfigError(
            f"{where}: cannot load CA/certificate/key files: {exc.__class__.__name__}: {exc}"
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = verify_hostname
    return context
