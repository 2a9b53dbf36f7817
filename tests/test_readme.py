"""The README's promises hold: exactly two quickstart commands that exist, CI runs the same
test command, and every command the CLI table names is a real subcommand."""

from __future__ import annotations

import re

import pytest

from engine.cli import build_parser
from tests.conftest import TESTS

ROOT = TESTS.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}.*?$(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_quickstart_is_exactly_make_demo_and_make_test():
    """The quickstart's code block holds the two set-up commands and nothing else."""
    [block] = re.findall(r"```sh\n(.*?)```", _section("Quickstart"), re.S)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]


@pytest.mark.parametrize("target", ["demo", "test"])
def test_quickstart_targets_exist_and_build_their_venv(target):
    """Each quickstart target is in the Makefile and depends on the venv it creates."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(rf"^{target}: \$\(STAMP\)$", makefile, re.M)


def test_ci_runs_the_readme_test_command():
    """.ci/run ends by calling `make test`, the README's test command, with errexit on."""
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "set -euo pipefail" in script
    assert script.rstrip().splitlines()[-1] == "make test"


def test_cli_table_names_real_commands():
    """Every `engine X` in the README's CLI table is a subcommand the parser knows."""
    parser = build_parser()
    [sub] = [a for a in parser._actions if a.dest == "command"]
    named = set(re.findall(r"^\| `engine (\w+)", _section("CLI"), re.M))
    assert named
    assert named <= set(sub.choices)


def test_install_section_covers_wheel_pipx_and_image():
    """Beside the source quickstart, how to install the package: wheel, pipx, image."""
    install = _section("Install")
    for way in ("python3 -m build", "pip install dist/po_engine-", "pipx install",
                "docker build"):
        assert way in install, way
    assert "engine mapping examples" in install and "engine mapping test" in install
