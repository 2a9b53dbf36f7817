"""`make mutation`'s targets name files that exist and a score docs/testing.md records.

A target whose module moved, or whose test file was renamed, would otherwise only show when
someone runs the (long) mutation run; and a target docs/testing.md does not mention is a
score nobody can read.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _mutation_tool():
    spec = importlib.util.spec_from_file_location("mutation_tool", REPO / "tools" / "mutation.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


TARGETS = _mutation_tool().TARGETS


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_each_target_names_a_module_and_tests_that_exist(name):
    module, tests = TARGETS[name]
    assert (REPO / module).is_file(), f"{name}: {module} is not a file"
    assert tests, f"{name}: no tests to run against its mutants"
    missing = [path for path in tests if not (REPO / path).exists()]
    assert not missing, f"{name}: test paths that do not exist: {missing}"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_docs_testing_records_each_target_module(name):
    module, _ = TARGETS[name]
    assert f"`{module}`" in (REPO / "docs" / "testing.md").read_text(encoding="utf-8")


def test_the_documented_command_names_the_tool():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "tools/mutation.py" in makefile
