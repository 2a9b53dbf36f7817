"""Conformance: our NIEM subset declares only what the real NIEM 5.2 release declares.

Every element, type and attribute that schemas/niem/niem/ declares in the structures,
niem-xs, nc and j namespaces must exist in the release in ../shared/reference/niem-5.2/
with the same type, base type, substitution group, abstractness and nillability; each
type's content must be the release's content with elements left out (same order, narrower
or equal cardinality) and each code list a subset of the release's values.

The NCIC code schema of NIEM 5.2 is not in the reference folder, so ncic: declarations are
checked against the NCIC 5.0.1 code lists (same type names and values) and the
ProtectionOrderConditionCode against the fbi_ncic PCO list and jxdm 7.2's
j:ProtectionOrderConditionAbstract, which it substitutes for since NIEM 5.1.

These tests need the reference folder: in CI (env CI set) its absence fails them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from engine.niem.schema import SCHEMA_DIR
from tests.conftest import SHARED_REFERENCE
from tests.services import unavailable

XS = "http://www.w3.org/2001/XMLSchema"
X = f"{{{XS}}}"
NIEM_52 = SHARED_REFERENCE / "niem-5.2"
SUBSET = SCHEMA_DIR / "niem"

# Subset file -> the release file it is cut from.
RELEASE_FILES = {
    "utility/structures.xsd": "utility/structures.xsd",
    "adapters/niem-xs.xsd": "adapters/niem-xs.xsd",
    "niem-core.xsd": "niem-core.xsd",
    "domains/jxdm.xsd": "domains/jxdm.xsd",
}
UNBOUNDED = 10**9


@pytest.fixture(scope="module", autouse=True)
def _reference_present() -> None:
    if not NIEM_52.is_dir():
        unavailable(f"NIEM 5.2 reference schemas not found at {NIEM_52}")


@dataclass(frozen=True)
class Decl:
    """One top-level declaration, with every QName resolved to Clark notation."""

    kind: str
    name: str
    element: etree._Element

    def qname_attr(self, attr: str, node: etree._Element | None = None) -> str | None:
        node = self.element if node is None else node
        return resolve(node, node.get(attr))


def resolve(node: etree._Element, value: str | None) -> str | None:
    if value is None:
        return None
    prefix, _, local = value.rpartition(":")
    return f"{{{node.nsmap[prefix or None]}}}{local}"


@cache
def declarations(path: Path) -> dict[tuple[str, str], Decl]:
    return declarations_of(etree.parse(str(path)).getroot())


def declarations_of(root: etree._Element) -> dict[tuple[str, str], Decl]:
    out = {}
    for node in root:
        if not isinstance(node.tag, str) or node.get("name") is None:
            continue
        kind = etree.QName(node).localname
        out[(kind, node.get("name"))] = Decl(kind, node.get("name"), node)
    return out


def derivation(decl: Decl) -> tuple[str, str | None]:
    """(content kind + method, base) of a type, e.g. ('complexContent/extension', '{nc}X')."""
    for node in decl.element.iter(f"{X}extension", f"{X}restriction"):
        parent = etree.QName(node.getparent()).localname
        return f"{parent}/{etree.QName(node).localname}", decl.qname_attr("base", node)
    return "none", None


def particles(decl: Decl) -> list[tuple[str, int, int]]:
    """The element refs of a type's own sequence: (QName, minOccurs, maxOccurs)."""
    out = []
    for node in decl.element.iter(f"{X}element"):
        high = node.get("maxOccurs", "1")
        out.append((decl.qname_attr("ref", node), int(node.get("minOccurs", "1")),
                    UNBOUNDED if high == "unbounded" else int(high)))
    return out


def enumerations(decl: Decl) -> set[str]:
    return {node.get("value") for node in decl.element.iter(f"{X}enumeration")}


def subset_cases() -> list[tuple[str, str, str]]:
    cases = []
    for ours in RELEASE_FILES:
        for kind, name in declarations(SUBSET / ours):
            cases.append((ours, kind, name))
    return cases


def check_against(ours: Decl, theirs: Decl | None, *, same: callable = lambda a, b: a == b,
                  flags: tuple[str, ...] = ("abstract", "nillable")) -> list[str]:
    """Every way `ours` differs from the release's declaration `theirs`."""
    if theirs is None:
        return ["is not declared in the release"]
    problems = []
    for attr in ("type", "substitutionGroup"):
        if not same(ours.qname_attr(attr), theirs.qname_attr(attr)):
            problems.append(f"{attr} {ours.qname_attr(attr)} != {theirs.qname_attr(attr)}")
    for attr in flags:
        if ours.element.get(attr) != theirs.element.get(attr):
            problems.append(f"{attr} {ours.element.get(attr)} != {theirs.element.get(attr)}")
    if ours.kind in ("complexType", "simpleType"):
        (our_method, our_base), (their_method, their_base) = derivation(ours), derivation(theirs)
        if our_method != their_method or not same(our_base, their_base):
            problems.append(f"derives {our_method} {our_base}, release {their_method} "
                            f"{their_base}")
        extra = enumerations(ours) - enumerations(theirs)
        if extra:
            problems.append(f"code values not in the release: {sorted(extra)}")
        problems += content_problems(particles(ours), particles(theirs), same)
    return problems


def content_problems(ours: list, theirs: list, same: callable) -> list[str]:
    """Our sequence must be the release's with elements left out, cardinality narrowed."""
    problems, position = [], 0
    for ref, low, high in ours:
        while position < len(theirs) and not same(theirs[position][0], ref):
            position += 1
        if position == len(theirs):
            problems.append(f"{ref} is not in the release's content (or is out of order)")
            continue
        _, their_low, their_high = theirs[position]
        if low < their_low or high > their_high:
            problems.append(f"{ref} occurs {low}..{high}, release allows {their_low}..{their_high}")
        position += 1
    return problems


@pytest.mark.parametrize(("ours", "kind", "name"), subset_cases())
def test_subset_declaration_matches_the_release(ours: str, kind: str, name: str) -> None:
    """A declaration in our structures/niem-xs/nc/j subset is the release's, narrowed at most."""
    decl = declarations(SUBSET / ours)[(kind, name)]
    theirs = declarations(NIEM_52 / RELEASE_FILES[ours]).get((kind, name))
    assert check_against(decl, theirs) == []


def test_the_subset_files_use_the_release_namespaces() -> None:
    """Each subset file has the same target namespace as the release file it is cut from."""
    for ours, theirs in RELEASE_FILES.items():
        ours_ns = etree.parse(str(SUBSET / ours)).getroot().get("targetNamespace")
        theirs_ns = etree.parse(str(NIEM_52 / theirs)).getroot().get("targetNamespace")
        assert ours_ns == theirs_ns, ours


# -- ncic ---------------------------------------------------------------------------------
NCIC_501 = SHARED_REFERENCE / "ncic-codes-5.0.1.xsd"
FBI_NCIC_40 = SHARED_REFERENCE / "ecf5-niem4-subset" / "codes" / "fbi_ncic" / "4.0" / "fbi_ncic.xsd"
JXDM_61 = SHARED_REFERENCE / "ecf5-niem4-subset" / "domains" / "jxdm" / "6.1" / "jxdm.xsd"


_VERSIONED = re.compile(r"\{http://release\.niem\.gov/niem/"
                        r"(codes/(?:fbi_)?ncic|domains/jxdm|niem-core|structures)/[\d.]+/\}")


def family(qname: str | None) -> str | None:
    """A QName with its NIEM version dropped: ncic 5.0.1 and 5.2 names compare equal."""
    if qname is None:
        return None
    return _VERSIONED.sub(lambda m: "{niem:" + m.group(1).replace("fbi_ncic", "ncic") + "}",
                          qname)


def same_family(a: str | None, b: str | None) -> bool:
    return family(a) == family(b)


def ncic_cases() -> list[tuple[str, str]]:
    return sorted(declarations(SUBSET / "codes/ncic.xsd"))


@pytest.mark.parametrize(("kind", "name"), ncic_cases())
def test_ncic_declaration_matches_the_published_code_lists(kind: str, name: str) -> None:
    """An ncic: declaration has the published NCIC name, type, substitution and code values."""
    decl = declarations(SUBSET / "codes/ncic.xsd")[(kind, name)]
    flags: tuple[str, ...] = ("abstract", "nillable")
    if name.startswith("PCOCode"):
        theirs = declarations(FBI_NCIC_40).get((kind, name))
    elif name == "ProtectionOrderConditionCode":
        # NIEM 4 had it in j: with type ncic:PCOCodeType; NIEM 5.1 moved it to ncic:, and
        # NIEM 5 declares every non-abstract element nillable (as ncic 5.0.1 does).
        theirs = declarations(JXDM_61).get((kind, name))
        flags = ("abstract",)
        assert ("element", "ProtectionOrderConditionAbstract") in declarations(
            NIEM_52 / "domains/jxdm.xsd")
    else:
        theirs = declarations(NCIC_501).get((kind, name))
    assert check_against(decl, theirs, same=same_family, flags=flags) == []


# -- our extension hooks into real augmentation points -----------------------------------
def test_extension_augmentations_substitute_for_release_augmentation_points() -> None:
    """Every pox-ext augmentation substitutes for an augmentation point the release declares."""
    release = {**{(d.element.getroottree().getroot().get("targetNamespace"), n): d
                  for (k, n), d in declarations(NIEM_52 / "niem-core.xsd").items()
                  if k == "element"},
               **{(d.element.getroottree().getroot().get("targetNamespace"), n): d
                  for (k, n), d in declarations(NIEM_52 / "domains/jxdm.xsd").items()
                  if k == "element"}}
    extension = declarations(SCHEMA_DIR / "extension" / "pox-ext.xsd")
    augmentations = [d for (k, n), d in extension.items()
                     if k == "element" and n.endswith("Augmentation")]
    assert len(augmentations) == 3
    for decl in augmentations:
        group = etree.QName(decl.qname_attr("substitutionGroup"))
        point = release.get((group.namespace, group.localname))
        assert point is not None, group
        assert point.element.get("abstract") == "true"
        assert group.localname.endswith("AugmentationPoint")


# -- the checker itself -------------------------------------------------------------------
def _fake_subset(body: str) -> dict[tuple[str, str], Decl]:
    return declarations_of(etree.fromstring(
        f'<xs:schema xmlns:xs="{XS}" xmlns:nc="http://release.niem.gov/niem/niem-core/5.0/" '
        f'xmlns:structures="http://release.niem.gov/niem/structures/5.0/" '
        f'targetNamespace="http://release.niem.gov/niem/niem-core/5.0/">{body}</xs:schema>'))


@pytest.mark.parametrize("body", [
    '<xs:element name="PersonName" type="nc:TextType" nillable="true"/>',
    '<xs:element name="PersonNickName" type="nc:TextType" nillable="true"/>',
    '<xs:complexType name="PersonNameType"><xs:complexContent><xs:extension '
    'base="structures:ObjectType"><xs:sequence><xs:element ref="nc:PersonSurName"/>'
    '<xs:element ref="nc:PersonGivenName"/></xs:sequence></xs:extension></xs:complexContent>'
    '</xs:complexType>',
    '<xs:simpleType name="PersonNameCategoryCodeSimpleType"><xs:restriction base="xs:token">'
    '<xs:enumeration value="Nickname"/></xs:restriction></xs:simpleType>',
])
def test_the_check_catches_a_declaration_that_differs_from_the_release(body: str) -> None:
    """A wrong type, an invented name, a reordered sequence or an invented code is caught."""
    (key, decl), = _fake_subset(body).items()
    theirs = declarations(NIEM_52 / "niem-core.xsd").get(key)
    assert check_against(decl, theirs) != []
