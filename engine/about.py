"""`engine --version`: the package version, and the message versions this engine speaks.

Operators and the DOJ's endpoint team compare these when an exchange misbehaves, so they
are read from what the engine actually uses: the NIEM namespaces it writes
(`engine.niem.namespaces`), the intake format's version (`engine.model`) and the CLETS
layout it loads (the packaged ``schemas/clets-layout.yaml``).
"""

from __future__ import annotations

import re

from engine import __version__

__all__ = ["version_text"]

#: Namespace prefix -> what to call it in the version text.
_NIEM_PARTS = (("nc", "niem-core"), ("j", "jxdm"), ("ncic", "ncic codes"),
               ("structures", "structures"))


def _namespace_version(uri: str) -> str:
    """``5.0`` of ``http://release.niem.gov/niem/niem-core/5.0/``, ``1.0`` of ``urn:...:1.0``."""
    found = re.search(r"[/:](\d+(?:\.\d+)*)/?$", uri)
    return found.group(1) if found else "?"


def version_text() -> str:
    """Three lines: package version; NIEM namespaces and message; intake and CLETS layout."""
    from engine.model import SCHEMA_VERSION
    from engine.niem.namespaces import NS

    niem = ", ".join(f"{name} {_namespace_version(NS[prefix])}"
                     for prefix, name in _NIEM_PARTS if prefix in NS)
    try:
        from engine.clets.layout import default_layout

        layout = f"CLETS layout {default_layout().version}"
    except Exception as exc:  # --version must answer even from a broken installation
        layout = f"CLETS layout unavailable ({exc})"
    return (f"engine {__version__}\n"
            f"NIEM: {niem}; message pox {_namespace_version(NS['pox'])}, extension "
            f"pox-ext {_namespace_version(NS['pox-ext'])}\n"
            f"intake format {SCHEMA_VERSION}; {layout}")
