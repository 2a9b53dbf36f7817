"""The IEPD (NIEM MPD) of the exchange, and `engine niem iepd DIR` that hands it out.

The IEPD is the folder schemas/niem/, shipped with the engine: the NIEM 5.2 subset, our
extension and message schemas, sample messages for every order type and action, the
mapping from canonical fields to NIEM XPaths, the MPD catalog, the conformance assertion
and the change log. Its version (`IEPD_VERSION`) is in every message (pox:IEPDVersionID).

`engine niem iepd DIR` copies it to DIR and validates every sample there against the copy's
own schemas, so what a DOJ team receives is known to be complete and self-consistent.
`tools/build_iepd.py` (`make iepd`) regenerates the generated parts from the sources.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from lxml import etree

from engine.niem.namespaces import IEPD_VERSION, q
from engine.niem.schema import SCHEMA_DIR

__all__ = ["CATALOG", "IEPD_DIR", "MAPPING", "SAMPLES", "export_iepd", "register_niem"]

IEPD_DIR = SCHEMA_DIR
CATALOG = "mpd-catalog.xml"
MAPPING = "mapping.csv"
SAMPLES = "samples"
#: Files an IEPD must have besides its schemas and samples (NIEM MPD specification 3.0).
REQUIRED = (CATALOG, MAPPING, "conformance-assertion.md", "changelog.md", "xml-catalog.xml",
            "message/pox-message.xsd", "extension/pox-ext.xsd")


class IepdError(Exception):
    """The IEPD is incomplete or a sample does not validate against it."""


def validate_samples(root: Path) -> int:
    """Validate every sample in ``root/samples`` against ``root``'s own schemas."""
    missing = [name for name in REQUIRED if not (root / name).is_file()]
    if missing:
        raise IepdError(f"the IEPD lacks {', '.join(missing)}")
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    schema = etree.XMLSchema(etree.parse(str(root / "message" / "pox-message.xsd"), parser))
    samples = sorted((root / SAMPLES).glob("*.xml"))
    if not samples:
        raise IepdError("the IEPD has no sample messages")
    for sample in samples:
        document = etree.parse(str(sample), parser)
        if not schema.validate(document):
            raise IepdError(f"{sample.name} does not validate: {schema.error_log.last_error}")
        version = document.getroot().findtext(q("pox", "IEPDVersionID"))
        if version is not None and version != IEPD_VERSION:
            raise IepdError(f"{sample.name} names IEPD {version}, this is {IEPD_VERSION}")
    return len(samples)


def export_iepd(out: Path) -> int:
    """Copy the IEPD to ``out`` (which must not exist) and validate it there."""
    if out.exists():
        raise IepdError(f"{out} exists; give a new directory")
    shutil.copytree(IEPD_DIR, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return validate_samples(out)


def _cmd_iepd(args: argparse.Namespace) -> int:
    try:
        count = export_iepd(args.dir)
    except (IepdError, OSError) as exc:
        print(f"engine niem iepd: {exc}", file=sys.stderr)
        return 1
    print(f"IEPD {IEPD_VERSION} in {args.dir}: schemas, {count} samples (each valid), "
          f"{CATALOG}, {MAPPING}")
    return 0


def register_niem(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `engine niem iepd DIR` to the command line."""
    niem = sub.add_parser("niem", help="the NIEM exchange specification (IEPD)")
    commands = niem.add_subparsers(dest="niem_command", metavar="COMMAND", required=True)
    p = commands.add_parser("iepd", help="write the IEPD (schemas, samples, mapping, "
                                         "catalog) to a new directory, samples validated")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.set_defaults(func=_cmd_iepd)
