"""engine.resources: one place finds every shipped file, in a package or in a checkout."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine import resources
from engine.cli import main
from engine.resources import ResourceMissing

CHECKOUT = Path(__file__).resolve().parents[2]


def test_every_required_resource_is_found_in_the_checkout() -> None:
    for name in resources.REQUIRED:
        assert resources.require(name).exists(), name
    assert resources.missing_resources() == []


def test_checkout_names_resolve_to_the_source_folders() -> None:
    assert resources.path("schemas/clets-layout.yaml") == CHECKOUT / "schemas" / \
        "clets-layout.yaml"
    assert resources.path("demo/orders") == CHECKOUT / "tests" / "fixtures" / "orders"


def test_a_name_outside_every_bundle_is_refused() -> None:
    with pytest.raises(KeyError, match="no resource bundle"):
        resources.path("engine.yaml")


def test_bundle_files_picks_up_new_files_and_skips_caches(tmp_path: Path) -> None:
    """Others add files to schemas/ and config/: they ship without touching the table."""
    for source in resources.BUNDLES.values():
        (tmp_path / source).mkdir(parents=True)
    (tmp_path / "schemas" / "niem" / "extra").mkdir(parents=True)
    (tmp_path / "schemas" / "niem" / "extra" / "new.xsd").write_text("<x/>")
    (tmp_path / "config" / "__pycache__").mkdir()
    (tmp_path / "config" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"")
    (tmp_path / "tests" / "fixtures" / "orders" / "o.json").write_text("{}")
    names = [name for _, name in resources.bundle_files(tmp_path)]
    assert names == ["schemas/niem/extra/new.xsd", "demo/orders/o.json"]


#: A file for each REQUIRED name (one inside each required folder).
_REQUIRED_FILES = [f"{n}/{'m/mapping.yaml' if n.endswith('mappings') else 'o.json'}"
                   if n in ("config/mappings", "demo/orders") else n
                   for n in resources.REQUIRED]


def _packaged(tmp_path: Path, names: list[str], manifest: list[str]) -> Path:
    package = tmp_path / "engine"
    for name in names:
        (package / resources.PACKAGE_DIR / name).parent.mkdir(parents=True, exist_ok=True)
        (package / resources.PACKAGE_DIR / name).write_text("x")
    (package / resources.PACKAGE_DIR).mkdir(parents=True, exist_ok=True)
    (package / resources.PACKAGE_DIR / resources.MANIFEST).write_text(
        "".join(f"{n}\n" for n in manifest))
    return package


def test_an_installed_package_reads_its_own_copies_and_its_manifest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    everything = [*_REQUIRED_FILES, "schemas/niem/niem/niem-core.xsd"]
    package = _packaged(tmp_path, everything, everything)
    monkeypatch.setattr(resources, "files", lambda _name: package)
    assert resources.root() == package / resources.PACKAGE_DIR
    assert resources.path("demo/orders") == package / resources.PACKAGE_DIR / "demo" / "orders"
    assert resources.missing_resources() == []
    (package / resources.PACKAGE_DIR / "schemas/niem/niem/niem-core.xsd").unlink()
    [lost] = resources.missing_resources()
    assert lost.name == "schemas/niem/niem/niem-core.xsd"
    assert "reinstall" in str(lost) and "schemas/niem/niem/niem-core.xsd" in str(lost)


def test_an_installed_package_without_its_manifest_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = _packaged(tmp_path, _REQUIRED_FILES, [])
    (package / resources.PACKAGE_DIR / resources.MANIFEST).unlink()
    monkeypatch.setattr(resources, "files", lambda _name: package)
    [lost] = resources.missing_resources()
    assert lost.name == resources.MANIFEST


def test_require_names_the_resource_and_the_fix(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    package = _packaged(tmp_path, [], [])
    monkeypatch.setattr(resources, "files", lambda _name: package)
    with pytest.raises(ResourceMissing) as caught:
        resources.require("schemas/clets-layout.yaml")
    assert "resource schemas/clets-layout.yaml is missing" in str(caught.value)
    assert "pip install --force-reinstall" in str(caught.value)


def test_no_engine_module_finds_a_resource_relative_to_the_source_tree() -> None:
    """Only engine/resources.py knows where shipped files are (issue 15)."""
    offenders = []
    for module in sorted((CHECKOUT / "engine").rglob("*.py")):
        if module.name == "resources.py" and module.parent.name == "engine":
            continue
        for line in module.read_text(encoding="utf-8").splitlines():
            if "__file__" in line and re.search(r"parents\[|parent\.parent|schemas|config|"
                                                r"fixtures", line):
                offenders.append(f"{module.relative_to(CHECKOUT)}: {line.strip()}")
    assert offenders == []


class TestMappingExamples:
    def test_examples_are_written_with_their_tests_and_pass(
            self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["mapping", "examples", str(tmp_path / "ex")]) == 0
        written = sorted(p.name for p in (tmp_path / "ex").iterdir())
        shipped = sorted(p.parent.name for p in
                         (CHECKOUT / "config" / "mappings").glob("*/mapping.yaml"))
        assert written == shipped
        for name in written:
            source = CHECKOUT / "config" / "mappings" / name
            copied = sorted(p.relative_to(tmp_path / "ex" / name)
                            for p in (tmp_path / "ex" / name).rglob("*") if p.is_file())
            assert copied == sorted(p.relative_to(source) for p in source.rglob("*")
                                    if p.is_file() and "__pycache__" not in p.parts)
        capsys.readouterr()
        assert main(["mapping", "test", *(str(tmp_path / "ex" / n) for n in written)]) == 0
        assert " 0 failed" in capsys.readouterr().out

    def test_an_existing_copy_is_not_overwritten_without_force(
            self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["mapping", "examples", str(tmp_path)]) == 0
        [first] = sorted(tmp_path.iterdir())[:1]
        edited = first / "mapping.yaml"
        edited.write_text("# the court's own edits\n", encoding="utf-8")
        capsys.readouterr()
        assert main(["mapping", "examples", str(tmp_path)]) == 1
        assert "--force" in capsys.readouterr().err
        assert edited.read_text(encoding="utf-8") == "# the court's own edits\n"
        assert main(["mapping", "examples", "--force", str(tmp_path)]) == 0
        assert edited.read_text(encoding="utf-8") != "# the court's own edits\n"
