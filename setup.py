"""Build step: carry the run-time resources into the wheel (see engine/resources.py).

The top-level schemas/, config/ and tests/fixtures/orders stay the source of truth; this
copies every file of each folder `engine.resources.BUNDLES` names into
engine/_resources/ of the build, so an installed engine never needs the source tree.
Everything else about the package is in pyproject.toml.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from engine.resources import MANIFEST, PACKAGE_DIR, bundle_files  # noqa: E402


class build_py_with_resources(build_py):  # type: ignore[misc]  # untyped base
    """`build_py`, then the resource bundles copied into engine/_resources/."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout's own folders
        target = Path(self.build_lib) / "engine" / PACKAGE_DIR
        shutil.rmtree(target, ignore_errors=True)  # no stale copies from an earlier build
        names = []
        for source, name in bundle_files(HERE):
            dest = target / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
            names.append(name)
        (target / MANIFEST).write_text("".join(f"{n}\n" for n in names), encoding="utf-8")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        target = Path(self.build_lib) / "engine" / PACKAGE_DIR
        return [*super().get_outputs(include_bytecode), str(target / MANIFEST),
                *(str(target / name) for _, name in bundle_files(HERE))]


setup(cmdclass={"build_py": build_py_with_resources})
