"""NIEM Naming and Design Rules 5.0: every schema and message we ship passes the official rules.

`../shared/tools/ndr-check` applies the NDR 5.0 Schematron published with NIEM (Java and
Saxon-HE; `.ci/run` installs them): the subset as reference schema documents (`ref`), our
extension and message schemas as extension schema documents (`ext`), and every sample and
golden message as conformant instances (`ins`). One failed rule fails the test, and a test
proves the check can fail: a copy with one definition removed is caught.

The structures schema is not a conformant schema document: NDR 5.0 section 10.2.3 says "although
the schema document for the [structures namespace] is not conformant, it is not considered an
external schema document because it defines the fundamental framework on which NIEM is built",
and Rule 10-78 (REF, EXT, INS, SET) requires that every schema "use the NIEM [structures
namespace] consistent with the schema as it is defined in Appendix B", adding nothing, while
"users may profile the structures namespace". So structures.xsd is held to that, not to `ref`
(the release's own copy fails `ref` 23 times): its components are the release's (a profile,
nothing added or changed), it claims no conformance target, and every other schema we ship is
under `ref` or `ext`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import etree

from engine.niem.schema import SCHEMA_DIR
from tests.conftest import SHARED_REFERENCE

NDR_CHECK = SHARED_REFERENCE.parent / "tools" / "ndr-check"
SUBSET = SCHEMA_DIR / "niem"
STRUCTURES = SUBSET / "utility" / "structures.xsd"
REFERENCE_SCHEMAS = sorted(p for p in SUBSET.rglob("*.xsd") if p != STRUCTURES)
EXTENSION_SCHEMAS = sorted((SCHEMA_DIR / "extension").glob("*.xsd")) + sorted(
    (SCHEMA_DIR / "message").glob("*.xsd"))
FIXTURES = Path(__file__).parents[1] / "fixtures" / "niem"
IEPD_SAMPLES = SCHEMA_DIR / "samples"
INSTANCES = sorted(FIXTURES.glob("*.xml")) + sorted(IEPD_SAMPLES.glob("*.xml"))
RULE = re.compile(r": (Rule \d+-\d+):")


def _java_and_saxon() -> bool:
    jars = list(Path("/usr/share/java").glob("Saxon-HE*.jar"))
    return bool(jars) and shutil.which("java") is not None


@pytest.fixture(scope="module", autouse=True)
def _tools_present() -> None:
    if NDR_CHECK.is_file() and _java_and_saxon():
        return
    message = "ndr-check needs ../shared/tools/ndr-check, java and Saxon-HE"
    if os.environ.get("CI"):
        pytest.fail(message + " (required in CI: .ci/run installs them)")
    pytest.skip(message)


def ndr_check(target: str, files: list[Path]) -> subprocess.Popen[str]:
    return subprocess.Popen([str(NDR_CHECK), target, *map(str, files)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=600)
    return process.returncode, out, err


def rules_over_folder(target: str, folder: Path, out: Path) -> subprocess.Popen[str]:
    """ndr-check's own rules (same XSL, same Saxon) over every file of one folder, in one
    JVM: Saxon's directory mode. ndr-check starts a JVM per file, 1 s each."""
    jar = sorted(Path("/usr/share/java").glob("Saxon-HE*.jar"))[0]
    rules = SHARED_REFERENCE / "niem-ndr-5.0" / f"ndr-rules-conformance-target-{target}.sch.xsl"
    out.mkdir(parents=True)
    return subprocess.Popen(["java", "-jar", str(jar), f"-s:{folder}", f"-xsl:{rules}",
                             f"-o:{out}"], text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def failed_rules(report: Path) -> list[str]:
    """The failed assertions of one SVRL report, as ndr-check prints them."""
    text = report.read_text(encoding="utf-8")
    return [" ".join(t.split()) for t in re.findall(
        r"<svrl:failed-assert[^>]*>.*?<svrl:text>(.*?)</svrl:text>", text, re.S)]


def test_every_schema_and_message_we_ship_passes_the_ndr(tmp_path: Path) -> None:
    """ref on the subset, ext on ours, ins on every golden and sample: 0 failures each."""
    assert REFERENCE_SCHEMAS and EXTENSION_SCHEMAS and INSTANCES
    groups: dict[tuple[str, Path], list[Path]] = {}
    for target, files in (("ref", REFERENCE_SCHEMAS), ("ext", EXTENSION_SCHEMAS),
                          ("ins", INSTANCES)):
        for path in files:
            groups.setdefault((target, path.parent), []).append(path)
    runs = []
    for i, ((target, folder), files) in enumerate(sorted(groups.items())):
        if target == "ref" and folder == STRUCTURES.parent:
            continue
        runs.append((target, files, tmp_path / str(i),
                     rules_over_folder(target, folder, tmp_path / str(i))))
    failures: dict[str, list[str]] = {}
    for target, files, out, process in runs:
        code, _, err = finish(process)
        assert code == 0, err
        for path in files:
            report = out / (path.name if path.suffix == ".xml" else path.name + ".xml")
            assert report.is_file(), f"the {target} rules did not run on {path}"
            if failed := failed_rules(report):
                failures[f"{path} ({target})"] = failed
    assert not failures, "\n".join(f"{f}: {len(r)}\n  " + "\n  ".join(r)
                                   for f, r in failures.items())


def test_structures_fails_no_rule_the_release_does_not() -> None:
    """Our structures.xsd fails (as ref) only rules the release's own structures.xsd fails."""
    ours = finish(ndr_check("ref", [STRUCTURES]))[2]
    release = finish(ndr_check("ref", [SHARED_REFERENCE / "niem-5.2/utility/structures.xsd"]))[2]
    assert set(RULE.findall(ours)) <= set(RULE.findall(release))


def test_the_check_catches_a_schema_with_one_definition_removed(tmp_path: Path) -> None:
    """A copy of the extension schema missing one xs:documentation fails, naming rule 9-37."""
    copy = tmp_path / "niem"
    shutil.copytree(SCHEMA_DIR, copy)
    extension = copy / "extension" / "pox-ext.xsd"
    text = extension.read_text(encoding="utf-8")
    broken = re.sub(r'(<xs:element name="PersonMinorIndicator"[^>]*>)\s*<xs:annotation>.*?'
                    r'</xs:annotation>', r"\1", text, count=1, flags=re.S)
    assert broken != text
    extension.write_text(broken, encoding="utf-8")
    code, out, err = finish(ndr_check("ext", [extension]))
    assert code != 0
    assert "1 NDR rule failure(s)" in out
    assert "Rule 9-37" in err


XS = "{http://www.w3.org/2001/XMLSchema}"
CT = "{http://release.niem.gov/niem/conformanceTargets/3.0/}conformanceTargets"
STRUCTURES_NS = "http://release.niem.gov/niem/structures/5.0/"
RELEASE_STRUCTURES = SHARED_REFERENCE / "niem-5.2" / "utility" / "structures.xsd"


def structures_components(root: etree._Element) -> dict[tuple[str, str], dict[str, object]]:
    """Each top-level component of a structures schema: its type and abstractness, the
    attributes it uses (ref or name, type, use), its anyAttribute wildcards and its element
    particles (ref, minOccurs, maxOccurs), in document order."""
    out: dict[tuple[str, str], dict[str, object]] = {}
    for node in root:
        if not isinstance(node.tag, str) or node.get("name") is None:
            continue
        inner = [n for n in node.iter() if n is not node]
        out[(etree.QName(node).localname, node.get("name"))] = {
            "type": node.get("type"), "abstract": node.get("abstract"),
            "attributes": {(a.get("ref") or a.get("name"), a.get("type"), a.get("use"))
                           for a in inner if a.tag == f"{XS}attribute"},
            "wildcards": {(a.get("namespace"), a.get("processContents"))
                          for a in inner if a.tag == f"{XS}anyAttribute"},
            "elements": [(e.get("ref"), e.get("minOccurs"), e.get("maxOccurs"))
                         for e in inner if e.tag == f"{XS}element"]}
    return out


def profile_problems(ours: etree._Element, release: etree._Element) -> list[str]:
    """How `ours` departs from being a profile of the release's structures schema (Rule
    10-78): a component the release lacks, a changed type or abstractness, an attribute,
    wildcard or element the release's component does not have."""
    theirs = structures_components(release)
    problems = []
    for key, mine in structures_components(ours).items():
        if key not in theirs:
            problems.append(f"{key} is not in the release")
            continue
        other = theirs[key]
        for field in ("type", "abstract"):
            if mine[field] != other[field]:
                problems.append(f"{key} {field} {mine[field]} != {other[field]}")
        for field in ("attributes", "wildcards"):
            extra = mine[field] - other[field]  # type: ignore[operator]
            if extra:
                problems.append(f"{key} {field} not in the release: {sorted(extra)}")
        if any(e not in other["elements"] for e in mine["elements"]):  # type: ignore[operator]
            problems.append(f"{key} elements {mine['elements']} != {other['elements']}")
    return problems


def test_structures_defines_the_structures_namespace_and_claims_no_target() -> None:
    """The NDR's exemption is for the schema whose target namespace is structures; such a
    schema claims no NDR conformance target (the release's carries none either)."""
    root = etree.parse(str(STRUCTURES)).getroot()
    assert root.get("targetNamespace") == STRUCTURES_NS
    assert not [n for n in root.iter() if isinstance(n.tag, str) and CT in n.attrib]
    release = etree.parse(str(RELEASE_STRUCTURES)).getroot()
    assert release.get("targetNamespace") == STRUCTURES_NS and CT not in release.attrib


def test_structures_is_a_profile_of_the_release() -> None:
    """Rule 10-78: every component of our structures.xsd is the release's, nothing added."""
    ours = etree.parse(str(STRUCTURES)).getroot()
    assert structures_components(ours)
    assert profile_problems(ours, etree.parse(str(RELEASE_STRUCTURES)).getroot()) == []


@pytest.mark.parametrize(("change", "before", "after"), [
    ("an attribute's type", 'name="id" type="xs:ID"', 'name="id" type="xs:string"'),
    ("an added attribute use", '<xs:attribute ref="structures:id"/>',
     '<xs:attribute ref="structures:id"/><xs:attribute ref="structures:extra"/>'),
    ("an invented component", "</xs:schema>",
     '<xs:attribute name="extra" type="xs:string"/></xs:schema>'),
])
def test_the_profile_check_catches_a_changed_structures(change: str, before: str,
                                                        after: str) -> None:
    """A structures copy with a changed attribute type, or an attribute or component the
    release does not define, is not a profile."""
    text = STRUCTURES.read_text(encoding="utf-8")
    assert before in text, change
    broken = etree.fromstring(text.replace(before, after, 1).encode("utf-8"))
    assert profile_problems(broken, etree.parse(str(RELEASE_STRUCTURES)).getroot()) != []


def test_every_other_schema_we_ship_is_under_ref_or_ext() -> None:
    """No shipped .xsd escapes the NDR: all but structures.xsd are checked as reference or
    extension schema documents, and each claims the NDR 5.0 target it is checked against."""
    shipped = set(SCHEMA_DIR.rglob("*.xsd")) - {STRUCTURES}
    assert shipped == set(REFERENCE_SCHEMAS) | set(EXTENSION_SCHEMAS)
    assert not set(REFERENCE_SCHEMAS) & set(EXTENSION_SCHEMAS)
    ndr = "http://reference.niem.gov/niem/specification/naming-and-design-rules/5.0/#"
    for paths, target in ((REFERENCE_SCHEMAS, "ReferenceSchemaDocument"),
                          (EXTENSION_SCHEMAS, "ExtensionSchemaDocument")):
        for path in paths:
            claimed = etree.parse(str(path)).getroot().get(CT, "").split()
            assert ndr + target in claimed, path
