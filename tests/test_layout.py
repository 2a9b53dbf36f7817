"""The layout's import rules (issue 20, docs/engine-core.md "The map"): the layers contract
in pyproject.toml and the reference receiver's forbidden imports hold for the engine as it
is, each fails on a deliberate upward import, and no two engine modules import each other
in a circle."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the `engine` package found under ``root``, with the repo's contract."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"),
                           "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          check=False, timeout=120)


@pytest.fixture(scope="module")
def engine_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    shutil.copytree(REPO / "engine", root / "engine",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_engine_keeps_the_contract() -> None:
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout


LAYERS = "Each layer imports only the layers below it BROKEN"
RECEIVER = "The reference receiver uses none of the engine's stages BROKEN"


@pytest.mark.parametrize(("lower", "upward", "broken"), [
    ("engine/ledger/states.py", "from engine.intake import pipeline", LAYERS),  # ledger -> intake
    ("engine/model.py", "import engine.cli", LAYERS),  # the model -> a command
    ("engine/intake/spool.py", "from engine.delivery import transmitter", LAYERS),  # siblings
    ("engine/receiver/journal.py", "from engine.ledger import states", RECEIVER),
])
def test_an_upward_import_breaks_the_contract(engine_copy: Path, lower: str,
                                               upward: str, broken: str) -> None:
    module = engine_copy / lower
    original = module.read_text(encoding="utf-8")
    try:
        module.write_text(original + f"\n{upward}  # deliberate\n", encoding="utf-8")
        done = _lint_imports(engine_copy)
    finally:
        module.write_text(original, encoding="utf-8")
    assert done.returncode != 0, done.stdout
    assert broken in done.stdout
    importer = lower.removesuffix(".py").replace("/", ".")
    assert re.search(rf"^-\s+{re.escape(importer)} ->", done.stdout, re.M), done.stdout


def test_no_import_circles() -> None:
    """Every engine module's imports form no cycle (type-checking imports included)."""
    graph = grimp.build_graph("engine", cache_dir=None)
    circles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back is not None:
                circles.append(" -> ".join((importer, *back)))
    assert circles == []
