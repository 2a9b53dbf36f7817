"""NIEM Naming and Design Rules 5.0: every schema and message we ship passes the official rules.

`../shared/tools/ndr-check` applies the NDR 5.0 Schematron published with NIEM (Java and
Saxon-HE; `.ci/run` installs them): the subset as reference schema documents (`ref`), our
extension and message schemas as extension schema documents (`ext`), and every sample and
golden message as conformant instances (`ins`). One failed rule fails the test, and a test
proves the check can fail: a copy with one definition removed is caught.

The structures schema is NIEM's utility schema, not a reference schema document: the release's
own structures.xsd fails `ref` too (23 rules), so ours may fail only rules the release fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

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
