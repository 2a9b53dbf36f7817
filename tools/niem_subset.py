#!/usr/bin/env python3
"""Refresh the NIEM subset in schemas/niem/niem/ from the NIEM 5.2 release beside the project.

The subset's *selection* is the committed files: which components are kept and how their
content is narrowed (NIEM subsetting allows leaving elements out and narrowing cardinality).
What the release says *about* each kept component is taken from the release, never
retyped: its xs:annotation (definition, appinfo), each kept enumeration's definition, the
schema document's own annotation, version, xml:lang and ct:conformanceTargets, and every
augmentation point the release gives a kept type (NDR rule 10-23: an augmentable type uses
its augmentation point; the subset keeps the point, minOccurs 0, so instances do not change).

    python tools/niem_subset.py [--reference ../shared/reference] [--check]

--check changes nothing and exits 1 if a file would change (CI uses it through
tests/niem/test_niem_subset_build.py). Reference files are read, never copied.

Where the release is not in the reference folder (the NCIC 5.2 code schema), the NCIC
5.0.1 code lists (same type names) give the definitions, and the fbi_ncic 2.1 list the PCO
code definitions; a component none of them declares keeps the definition written here.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Iterable
from pathlib import Path

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
X = f"{{{XS}}}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
CT = "http://release.niem.gov/niem/conformanceTargets/3.0/"
CT_ATTR = f"{{{CT}}}conformanceTargets"
APPINFO = "http://release.niem.gov/niem/appinfo/5.0/"
REF_TARGET = ("http://reference.niem.gov/niem/specification/naming-and-design-rules/5.0/"
              "#ReferenceSchemaDocument")
ROOT = Path(__file__).resolve().parents[1]
SUBSET = ROOT / "schemas" / "niem" / "niem"

#: Subset file -> the release files that say what its components are (first match wins).
SOURCES: dict[str, tuple[str, ...]] = {
    "utility/structures.xsd": ("niem-5.2/utility/structures.xsd",),
    "adapters/niem-xs.xsd": ("niem-5.2/adapters/niem-xs.xsd",),
    "niem-core.xsd": ("niem-5.2/niem-core.xsd",),
    "domains/jxdm.xsd": ("niem-5.2/domains/jxdm.xsd",),
    "codes/ncic.xsd": ("ncic-codes-5.0.1.xsd", "ncic-codes-niem2.1-fbi.xsd"),
}
#: The schema document whose root facts (annotation, version) the subset file takes.
ROOT_SOURCE = {name: sources[0] for name, sources in SOURCES.items()}
#: The NIEM 5.2 NCIC schema is not in the reference folder: its version is written here.
ROOT_VERSION = {"codes/ncic.xsd": "5.2"}
#: Definitions for what no reference file declares (the NCIC 5.2 schema is not there).
WRITTEN_HERE: dict[tuple[str, str, str], str] = {
    ("codes/ncic.xsd", "schema", ""):
        "FBI National Crime Information Center (NCIC) code lists, as published in NIEM 5.2 "
        "(subset: the person descriptor codes and the protection order condition codes).",
    ("codes/ncic.xsd", "element", "ProtectionOrderConditionCode"):
        "A code for a condition of a protection order (NCIC PCO field).",
}
#: The release's utility schema for structures is not a reference schema document and
#: carries no conformance target; the subset keeps it that way.
NO_TARGET = {"utility/structures.xsd"}

KINDS = ("complexType", "simpleType", "element", "attribute", "attributeGroup")
_PARSER = etree.XMLParser(remove_blank_text=True, no_network=True, resolve_entities=False,
                          load_dtd=False)


class Release:
    """Top-level components of one or more release schema documents, by kind and name."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.components: dict[tuple[str, str], etree._Element] = {}
        self.roots: list[etree._Element] = []
        for path in paths:
            root = etree.parse(str(path), _PARSER).getroot()
            self.roots.append(root)
            for child in root:
                if not isinstance(child.tag, str) or not child.tag.startswith(X):
                    continue
                kind = etree.QName(child).localname
                name = child.get("name")
                if kind in KINDS and name:
                    self.components.setdefault((kind, name), child)

    def get(self, kind: str, name: str) -> etree._Element | None:
        return self.components.get((kind, name))


def _annotation(element: etree._Element) -> etree._Element | None:
    first = element.find(f"{X}annotation")
    return first


def _set_annotation(target: etree._Element, source: etree._Element | None) -> None:
    """The release's annotation on ``target``, first child, replacing ours."""
    if source is None:
        return
    ours = _annotation(target)
    theirs = _annotation(source)
    if theirs is None:
        return
    if ours is not None:
        target.remove(ours)
    target.insert(0, _xs_copy(theirs))


def _xs_copy(source: etree._Element) -> etree._Element:
    """A copy of a release annotation, without appinfo of an older NIEM (the fbi_ncic 2.1
    list carries NIEM 2.0 appinfo that means nothing in 5.2)."""
    out = copy.deepcopy(source)
    for appinfo in out.findall(f"{X}appinfo"):
        if any(isinstance(e.tag, str) and etree.QName(e).namespace != APPINFO
               for e in appinfo):
            out.remove(appinfo)
    return out


def _enumerations(target: etree._Element, source: etree._Element) -> None:
    theirs = {e.get("value"): e for e in source.iter(f"{X}enumeration")}
    for enumeration in target.iter(f"{X}enumeration"):
        match = theirs.get(enumeration.get("value"))
        if match is not None:
            _set_annotation(enumeration, match)


def _sequence(element: etree._Element) -> etree._Element | None:
    return element.find(f"{X}complexContent/{X}extension/{X}sequence")


def _augmentation_points(target: etree._Element, source: etree._Element,
                         release: Release, declare: list[str]) -> None:
    """Give ``target`` every augmentation point particle the release type has, at the end."""
    theirs = _sequence(source)
    if theirs is None:
        return
    for particle in theirs.findall(f"{X}element"):
        ref = particle.get("ref", "")
        if not ref.endswith("AugmentationPoint"):
            continue
        ours = _sequence(target)
        if ours is None:  # the subset kept no content: give the extension a sequence
            extension = target.find(f"{X}complexContent/{X}extension")
            if extension is None:
                continue
            ours = etree.SubElement(extension, f"{X}sequence")
        kept = [p for p in ours.findall(f"{X}element") if p.get("ref") == ref]
        if kept:  # NDR 10-29/10-30: a point is optional and unbounded, never narrowed
            kept[0].set("minOccurs", "0")
            kept[0].set("maxOccurs", "unbounded")
            continue
        ours.append(etree.Element(f"{X}element", {"ref": ref, "minOccurs": "0",
                                                  "maxOccurs": "unbounded"}))
        declare.append(ref.partition(":")[2])


def _written(target: etree._Element, text: str) -> None:
    annotation = etree.Element(f"{X}annotation")
    etree.SubElement(annotation, f"{X}documentation").text = text
    ours = _annotation(target)
    if ours is not None:
        target.remove(ours)
    target.insert(0, annotation)


def _root(target: etree._Element, release: Release, version: str | None,
          conformance: bool) -> etree._Element:
    """The subset root with the release document's facts: namespaces, version, lang, target."""
    source = release.roots[0]
    nsmap = dict(target.nsmap)
    nsmap.setdefault("ct", CT)
    if source.find(f"{X}annotation/{X}appinfo") is not None:
        nsmap.setdefault("appinfo", APPINFO)
    attrs = dict(target.attrib)
    attrs["version"] = version or source.get("version", attrs.get("version", "1"))
    attrs[XML_LANG] = source.get(XML_LANG, "en-US")
    if conformance:
        attrs[CT_ATTR] = source.get(CT_ATTR, REF_TARGET)
    else:
        nsmap.pop("ct", None)
    root = etree.Element(target.tag, attrs, nsmap=nsmap)
    root.text, root.tail = target.text, target.tail
    for child in target:
        root.append(child)
    _set_annotation(root, source)
    return root


def refresh(name: str, reference: Path) -> bytes:
    """The subset file ``name`` with what the release says about each kept component."""
    path = SUBSET / name
    tree = etree.parse(str(path), _PARSER)
    release = Release(reference / source for source in SOURCES[name])
    root = _root(tree.getroot(), release, ROOT_VERSION.get(name), name not in NO_TARGET)
    if (name, "schema", "") in WRITTEN_HERE:
        _written(root, WRITTEN_HERE[name, "schema", ""])
    declare: list[str] = []
    for child in list(root):
        if not isinstance(child.tag, str):
            continue
        kind = etree.QName(child).localname
        source = release.get(kind, child.get("name", ""))
        if source is None:
            written = WRITTEN_HERE.get((name, kind, child.get("name", "")))
            if written is not None:
                _written(child, written)
            continue
        _set_annotation(child, source)
        if kind == "simpleType":
            _enumerations(child, source)
        if kind == "complexType":
            _augmentation_points(child, source, release, declare)
    present = {c.get("name") for c in root.findall(f"{X}element")}
    for local in declare:
        if local in present:
            continue
        source = release.get("element", local)
        if source is None:
            raise SystemExit(f"{name}: the release declares no {local}")
        root.append(_xs_copy(source))
        present.add(local)
    _order(root)
    etree.cleanup_namespaces(root, top_nsmap=root.nsmap, keep_ns_prefixes=list(root.nsmap))
    text: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                 pretty_print=True)
    header = _leading_comment(path)
    return text.replace(b"?>\n", b"?>\n" + header, 1) if header else text


def _order(root: etree._Element) -> None:
    """Annotation, imports, then the components: types, then elements, each by name."""
    children = [c for c in root if isinstance(c.tag, str)]
    rank = {"annotation": 0, "import": 1, "complexType": 2, "simpleType": 2,
            "attributeGroup": 3, "attribute": 4, "element": 5}
    for child in children:
        root.remove(child)
    children.sort(key=lambda c: (rank.get(etree.QName(c).localname, 9),
                                 c.get("name") or c.get("namespace") or ""))
    for child in children:
        root.append(child)


def _leading_comment(path: Path) -> bytes:
    """The subset file's own header comment (what it is, why), kept across refreshes."""
    text = path.read_bytes()
    start = text.find(b"<!--")
    if start < 0 or start > text.find(b"<xs:schema"):
        return b""
    end = text.index(b"-->", start) + 3
    return text[start:end] + b"\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file would change")
    args = parser.parse_args(argv)
    stale = []
    for name in SOURCES:
        new = refresh(name, args.reference)
        path = SUBSET / name
        if path.read_bytes() != new:
            stale.append(name)
            if not args.check:
                path.write_bytes(new)
    if args.check and stale:
        print("out of date with the release: " + ", ".join(stale), file=sys.stderr)
        return 1
    for name in stale if not args.check else []:
        print(f"refreshed {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
