"""The wheel carries everything: built, installed in a fresh virtualenv, run elsewhere.

What a court's operations team does (issue 15): build the sdist and the wheel from it,
``pip install`` the wheel (with its dependencies) into a new virtualenv outside the
checkout, and run the engine from a folder outside the checkout. Every run-time resource
must be in the wheel and equal to its source (no drift); a resource left out, or lost from
an installation, fails here and is named by the engine.

``ENGINE_TEST_WHEEL=path/to.whl`` tests a wheel built elsewhere instead of building one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.resources import MANIFEST, PACKAGE_DIR, REQUIRED, bundle_files

pytestmark = pytest.mark.packaging

CHECKOUT = Path(__file__).resolve().parents[2]
PREFIX = f"engine/{PACKAGE_DIR}/"
ORDER = CHECKOUT / "tests" / "fixtures" / "orders" / "dv_tro_issue.json"


def wheel_drift(wheel: Path, checkout: Path = CHECKOUT) -> list[str]:
    """How the wheel's resources differ from the checkout's source folders (none: [])."""
    with zipfile.ZipFile(wheel) as archive:
        packed = {n[len(PREFIX):]: n for n in archive.namelist()
                  if n.startswith(PREFIX) and not n.endswith("/")}
        manifest = packed.pop(MANIFEST, None)
        listed = (archive.read(manifest).decode().split() if manifest else None)
        problems = []
        sources = dict((name, path) for path, name in bundle_files(checkout))
        for name, source in sorted(sources.items()):
            if name not in packed:
                problems.append(f"missing from the wheel: {name}")
            elif archive.read(packed[name]) != source.read_bytes():
                problems.append(f"differs from its source {source.relative_to(checkout)}: "
                                f"{name}")
        problems.extend(f"in the wheel but not in the sources: {name}"
                        for name in sorted(set(packed) - set(sources)))
    if listed is None:
        problems.append(f"missing from the wheel: {MANIFEST}")
    elif sorted(listed) != sorted(sources):
        problems.append(f"{MANIFEST} does not list exactly the shipped resources")
    return problems


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built the way a release is: sdist first, the wheel from the sdist."""
    given = os.environ.get("ENGINE_TEST_WHEEL")
    if given:
        return Path(given).resolve()
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(CHECKOUT)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    wheels = sorted(out.glob("po_engine-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {out}: {wheels}"
    return wheels[0]


def test_wheel_carries_every_resource_equal_to_its_source(wheel: Path) -> None:
    assert wheel_drift(wheel) == []
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for name in REQUIRED:
        assert f"{PREFIX}{name}" in names or any(n.startswith(f"{PREFIX}{name}/")
                                                 for n in names), name


def test_drift_check_fails_on_a_resource_left_out_or_changed(wheel: Path,
                                                             tmp_path: Path) -> None:
    """The check above can fail: a wheel without the CLETS layout, one with a changed rule."""
    left_out, changed = f"{PREFIX}schemas/clets-layout.yaml", f"{PREFIX}config/deadlines.yaml"
    doctored = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(doctored, "w") as dst:
        for item in src.infolist():
            if item.filename == left_out:
                continue
            data = src.read(item)
            dst.writestr(item, data + b"\n# edited\n" if item.filename == changed else data)
    problems = wheel_drift(doctored)
    assert "missing from the wheel: schemas/clets-layout.yaml" in problems
    assert any(p.endswith(": config/deadlines.yaml") and p.startswith("differs")
               for p in problems)


# -- installed in a fresh virtualenv, run from outside the checkout ------------------------

@dataclass(frozen=True)
class Installed:
    bin: Path
    work: Path
    env: dict[str, str]

    def engine(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.bin / "engine"), *args], cwd=self.work, env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)

    @property
    def resources(self) -> Path:
        done = subprocess.run([str(self.bin / "python"), "-c",
                               "import engine.resources as r; print(r.root())"],
                              cwd=self.work, env=self.env, capture_output=True, text=True,
                              timeout=60, check=True)
        return Path(done.stdout.strip())


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel and its dependencies (pip's cache makes this quick) in a new virtualenv."""
    home = tmp_path_factory.mktemp("fresh")
    assert not home.is_relative_to(CHECKOUT)
    venv, work = home / "venv", home / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                           "--no-compile", str(wheel)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"pip install failed:\n{done.stderr[-3000:]}"
    return Installed(venv / "bin", work, env)  # pytest prunes old temp dirs itself


def test_installed_engine_is_the_wheel_not_the_checkout(installed: Installed) -> None:
    root = installed.resources
    assert root.name == PACKAGE_DIR
    assert not root.is_relative_to(CHECKOUT)
    assert root.is_relative_to(installed.bin.parent)


def test_installed_wheel_runs_every_command_outside_the_checkout(installed: Installed) -> None:
    shutil.copy(ORDER, installed.work / "order.json")
    steps: list[tuple[list[str], str]] = [
        (["--version"], "engine "),
        (["check", "order.json"], "OK      order.json"),
        (["convert", "--to", "niem", "order.json"], "<pox:ProtectionOrderMessage"),
        (["convert", "--to", "clets", "order.json"], "MKE/"),
        (["schema"], '"$id": "urn:po-engine:schema:canonical-order:'),
        (["mapping", "examples", "examples"], "example mapping(s)"),
        (["niem", "iepd", "iepd"], "samples (each valid)"),
    ]
    for argv, expected in steps:
        done = installed.engine(*argv)
        assert done.returncode == 0, f"engine {' '.join(argv)}:\n{done.stderr[-3000:]}"
        assert expected in done.stdout, f"engine {' '.join(argv)} printed:\n{done.stdout}"
    version = installed.engine("--version").stdout
    assert "NIEM: niem-core" in version and "CLETS layout " in version
    assert "unavailable" not in version
    iepd = installed.work / "iepd"  # the IEPD is the shipped schemas/niem/, whole
    shipped = sorted(p.relative_to(iepd).as_posix() for p in iepd.rglob("*") if p.is_file())
    sources = {name.removeprefix("schemas/niem/"): path for path, name in bundle_files(CHECKOUT)
               if name.startswith("schemas/niem/")}
    assert shipped == sorted(sources)
    assert [n for n in shipped if (iepd / n).read_bytes() != sources[n].read_bytes()] == []
    examples = sorted(p.name for p in (installed.work / "examples").iterdir())
    assert examples == sorted(p.parent.name for p in
                              (CHECKOUT / "config" / "mappings").glob("*/mapping.yaml"))
    tested = installed.engine("mapping", "test",
                              *(f"examples/{name}" for name in examples))
    assert tested.returncode == 0, tested.stdout[-3000:]
    assert f"{len(examples)} mapping(s)" in tested.stdout and " 0 failed" in tested.stdout
    demo = installed.engine("demo", "--json", timeout=180)
    assert demo.returncode == 0, demo.stderr[-3000:]
    result = json.loads(demo.stdout)
    assert result["all_acked"] is True
    assert len(result["orders"]) >= len(list(ORDER.parent.glob("*.json")))


@pytest.mark.parametrize(("resource", "argv"), [
    ("schemas/clets-layout.yaml", ["convert", "--to", "clets", "order.json"]),
    ("schemas/niem/niem/niem-core.xsd", ["convert", "--to", "niem", "order.json"]),
    ("demo/orders", ["demo"]),
])
def test_installed_engine_names_a_lost_resource_and_the_fix(
        installed: Installed, resource: str, argv: list[str]) -> None:
    """An installation missing a shipped file says which one and what to do."""
    shutil.copy(ORDER, installed.work / "order.json")
    where = installed.resources / resource
    aside = where.with_name(where.name + ".aside")
    where.rename(aside)
    try:
        done = installed.engine(*argv)
    finally:
        aside.rename(where)
    assert done.returncode != 0
    assert resource in done.stderr
    assert "reinstall" in done.stderr
    assert "Traceback" not in done.stderr and "None" not in done.stderr
