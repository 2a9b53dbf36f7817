#!/usr/bin/env python3
"""Build the generated parts of the IEPD in schemas/niem/ from the project's own sources.

The IEPD (NIEM MPD) is the folder schemas/niem/: the subset and extension schemas, plus

- samples/*.xml: one test message per fixture order (every order type, every action),
  rendered now by the engine (`engine.niem.render_niem`, test indicator true), and an
  accepted and a rejected acknowledgement;
- mapping.csv: canonical field -> NIEM XPath, made from the table in docs/niem-contract.md
  (abbreviations expanded), so the contract and the spreadsheet cannot disagree;
- mpd-catalog.xml: what each file is (its role), the IEPD's name and version, its two IEP
  conformance targets (message, acknowledgement) with their samples; valid to the MPD
  Specification 3.0.1 catalog schema (validated once against the MPD Toolkit 3.0.1
  copy; tests/niem/test_niem_mpd_catalog.py checks its rules in CI).

    python tools/build_iepd.py           # rewrite them
    python tools/build_iepd.py --check   # exit 1 if a committed file is stale (CI)

`make iepd` runs this, then `engine niem iepd build/iepd` (a self-contained copy, every
sample validated against the copy's own schemas). changelog.md and conformance-assertion.md
are written by hand.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import re
import sys
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.ack_types import Accepted, Rejected  # noqa: E402
from engine.canonical import decode_order  # noqa: E402
from engine.formats import RenderContext  # noqa: E402
from engine.model import Action, Order  # noqa: E402
from engine.niem import render_niem, render_niem_ack  # noqa: E402
from engine.niem.iepd import CATALOG, IEPD_DIR, MAPPING, SAMPLES  # noqa: E402
from engine.niem.namespaces import IEPD_VERSION, NS  # noqa: E402

ORDERS = ROOT / "tests" / "fixtures" / "orders"
CONTRACT = ROOT / "docs" / "niem-contract.md"
SENT_AT = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
MPD = "http://reference.niem.gov/niem/resource/mpd/catalog/3.0/"
MPD_SPEC = "http://reference.niem.gov/niem/specification/model-package-description/3.0/"
MPD_NC = "http://release.niem.gov/niem/niem-core/3.0/"  # the catalog schema's own NIEM 3.0
MPD_STRUCTURES = "http://release.niem.gov/niem/structures/3.0/"
ABBREVIATIONS = {  # as docs/niem-contract.md defines them, longest first
    "AUG": "PO/pox-ext:ProtectionOrderAugmentation",
    "PO": "M/j:ProtectionOrder",
    "RP": "PO/j:ProtectionOrderRestrictedPerson",
    "PA": "M/j:ProtectionOrderProtectedPersonAssociation",
    "PP": "PA/nc:Person",
    "M": "/pox:ProtectionOrderMessage",
}


def sample_context(stem: str, order: Order) -> RenderContext:
    """A test message: sample MCNs, a fixed time, a record id after the entry."""
    later = order.action is not Action.ISSUE
    return RenderContext(mcn=f"SAMPLE-{stem}", sent_at=SENT_AT, test=True,
                         doj_record_id="CA-DOJ-PO-000042" if later else None,
                         previous_mcn=f"SAMPLE-{stem}-previous" if later else None)


def samples() -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for path in sorted(ORDERS.glob("*.json")):
        order = decode_order(path.read_bytes())
        out[f"{path.stem}.xml"] = render_niem(order, sample_context(path.stem, order)).body
    out["ack_accepted.xml"] = render_niem_ack(Accepted(mcn="SAMPLE-dv_tro_issue",
                                                       record_id="CA-DOJ-PO-000042"))
    out["ack_rejected.xml"] = render_niem_ack(Rejected(
        mcn="SAMPLE-ch_oah_modify", code="E-RECORD", retryable=False,
        reason="No record CA-DOJ-PO-000042 for this court"))
    return out


def _expand(path: str) -> str:
    for _ in range(4):  # abbreviations refer to each other (AUG -> PO -> M)
        for short, long in ABBREVIATIONS.items():
            path = re.sub(rf"^{short}(?=/|$)", long, path)
    return path.replace("[i]", "")


def mapping() -> bytes:
    """docs/niem-contract.md's mapping table as CSV: field, XPath(s), notes."""
    rows: list[tuple[str, str, str]] = []
    field = ""
    text = CONTRACT.read_text(encoding="utf-8")
    start = text.index("\n## Mapping: canonical field -> XPath")
    section = text[start:text.index("\n## ", start + 1)]
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[1].startswith("`") or cells[0] == "Element":
            continue
        name = cells[0].replace("`", "").replace("**", "")
        if name.startswith("kind "):
            name = f"{field}.identifiers[] {name}"
        elif name.startswith("."):
            name = field + name
        elif name in ("restrained person", "protected person"):
            field = {"restrained person": "restrained_persons[]",
                     "protected person": "protected_persons[]"}[name]
            name = field
        paths = [re.findall(r"`([^`]+)`", part)[0] for part in cells[1].split(" / ")]
        base = paths[0].rsplit("/", 1)[0]
        expanded = [_expand(p if "/" in p or p in ABBREVIATIONS else f"{base}/{p}")
                    for p in paths]
        names = [n.strip() for n in name.split(" / ")]
        if len(names) == len(expanded) > 1:  # ".eye_color / .hair_color": one row each
            prefix = names[0].rsplit(".", 1)[0]
            names = [names[0]] + [prefix + n if n.startswith(".") else n for n in names[1:]]
        else:
            names = [name] * len(expanded)
        notes = cells[2].replace("`", "")
        rows.extend((n, path, notes) for n, path in zip(names, expanded, strict=True))
    if not rows:
        raise SystemExit(f"no mapping table found in {CONTRACT}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["canonical_field", "niem_xpath", "notes"])
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def catalog(files: list[str]) -> bytes:
    """The MPD catalog, valid to the MPD Specification 3.0.1 catalog schema
    (the MPD Toolkit 3.0.1 copy): name, version, classes MPD and IEPD (Rules 3-1, 3-3), one IEP
    conformance target per document element with its samples, and each artifact by role."""
    c, nc = f"{{{MPD}}}", f"{{{MPD_NC}}}"
    root = etree.Element(f"{c}Catalog", nsmap={"c": MPD, "nc": MPD_NC,
                                                 "structures": MPD_STRUCTURES, "pox": NS["pox"]})
    mpd = etree.SubElement(root, f"{c}MPD", {
        f"{c}mpdURI": "urn:ca-courts:po-exchange:iepd",
        f"{c}mpdClassURIList": f"{MPD_SPEC}#MPD {MPD_SPEC}#IEPD",
        f"{c}mpdName": "po-exchange", f"{c}mpdVersionID": IEPD_VERSION})
    etree.SubElement(mpd, f"{nc}DescriptionText").text = (
        "Protective and restraining orders from California courts to the Department of "
        "Justice registry (CARPOS), one message per version of an order, NIEM 5.2.")
    info = etree.SubElement(mpd, f"{c}MPDInformation")
    source = etree.SubElement(etree.SubElement(info, f"{c}AuthoritativeSource"),
                              f"{nc}EntityOrganization")
    etree.SubElement(source, f"{nc}OrganizationName").text = "California courts"
    samples = [f for f in files if f.startswith("samples/")]
    targets = [
        ("protection-order-message", "pox:ProtectionOrderMessage",
         "A protective order message: one version of one order.",
         [f for f in samples if not f.startswith("samples/ack_")]),
        ("protection-order-acknowledgement", "pox:ProtectionOrderAcknowledgement",
         "The DOJ's acknowledgement of one message.",
         [f for f in samples if f.startswith("samples/ack_")]),
    ]
    for target_id, element, description, instances in targets:
        target = etree.SubElement(mpd, f"{c}IEPConformanceTarget",
                                  {f"{{{MPD_STRUCTURES}}}id": target_id})
        etree.SubElement(target, f"{nc}DescriptionText").text = description
        etree.SubElement(target, f"{c}HasDocumentElement", {f"{c}qualifiedNameList": element})
        valid = etree.SubElement(target, f"{c}XMLSchemaValid")
        etree.SubElement(valid, f"{c}XMLSchemaDocument",
                         {f"{c}pathURI": "message/pox-message.xsd"})
        for path in instances:
            etree.SubElement(target, f"{c}IEPSampleXMLDocument", {f"{c}pathURI": path})
    roles = [
        ("README.md", "ReadMe", "How the schemas are laid out"),
        ("changelog.md", "MPDChangeLog", "What each version changed"),
        ("conformance-assertion.md", "ConformanceAssertion",
         "What conforms, and how it is checked"),
        ("mapping.csv", "BusinessRulesArtifact", "Canonical field to NIEM XPath"),
        ("xml-catalog.xml", "XMLCatalog", "Namespace to file, for tools that use catalogs"),
        ("message/pox-message.xsd", "ExtensionSchemaDocument",
         "Message wrapper and acknowledgement; the root schema to validate with"),
        ("extension/pox-ext.xsd", "ExtensionSchemaDocument", "NIEM extension"),
    ]
    roles += [(f, "SubsetSchemaDocument", "NIEM 5.2 subset") for f in files
              if f.startswith("niem/")]
    for path, role, description in roles:
        artifact = etree.SubElement(mpd, f"{c}{role}", {f"{c}pathURI": path})
        etree.SubElement(artifact, f"{nc}DescriptionText").text = description
    body: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                 pretty_print=True)
    return body


def build() -> dict[Path, bytes]:
    out = {IEPD_DIR / SAMPLES / name: body for name, body in samples().items()}
    out[IEPD_DIR / MAPPING] = mapping()
    files = sorted(str(p.relative_to(IEPD_DIR)) for p in (IEPD_DIR / "niem").rglob("*.xsd"))
    files += sorted(f"{SAMPLES}/{p.name}" for p in out if p.parent.name == SAMPLES)
    out[IEPD_DIR / CATALOG] = catalog(files)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    built = build()
    stale = [p for p, body in built.items() if not p.is_file() or p.read_bytes() != body]
    extra = [p for p in (IEPD_DIR / SAMPLES).glob("*.xml") if p not in built]
    if args.check:
        for path in stale + extra:
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if stale or extra else 0
    (IEPD_DIR / SAMPLES).mkdir(exist_ok=True)
    for path in extra:
        path.unlink()
    for path in stale:
        path.write_bytes(built[path])
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
