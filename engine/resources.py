"""Every file the engine reads at run time, found in one place: the installed package.

The source of truth stays in the checkout's top-level folders (``schemas/``, ``config/``,
``tests/fixtures/orders``), where people edit them. The build (``setup.py``) copies each
folder in `BUNDLES`, every file in it, into ``engine/_resources/`` of the wheel, so an
installed engine (wheel, pipx, container image) finds them with `importlib.resources` and
never looks for a source tree. In a source checkout (editable install, tests) there is no
``engine/_resources/``; the same names then resolve to the top-level folders themselves.

A resource is named by its path inside the package's resource tree, e.g.
``schemas/clets-layout.yaml`` or ``demo/orders``. `path` gives where it is (for module
constants: it never fails); `require` also checks it is there and raises `ResourceMissing`,
which names the resource and how to fix the installation; `missing_resources` checks every
file the build shipped (its manifest) at once.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from engine.errors import EngineError

__all__ = [
    "BUNDLES",
    "INCOMPLETE_INSTALL",
    "MANIFEST",
    "PACKAGE_DIR",
    "REQUIRED",
    "ResourceMissing",
    "bundle_files",
    "missing_resources",
    "path",
    "require",
    "root",
    "shipped",
]

#: Folder inside ``engine/`` of an installed package that holds the resources.
PACKAGE_DIR = "_resources"
#: File in `PACKAGE_DIR` the build writes: every resource name it shipped, one a line, so an
#: installation that lost a file (a NIEM schema another one imports, say) says which.
MANIFEST = "MANIFEST.txt"

#: Resource folder (in the package) -> source folder (in a checkout). Every file under the
#: source folder ships, so a file added there ships without touching this table.
BUNDLES: dict[str, str] = {
    "schemas": "schemas",  # NIEM subset + wrapper, CLETS layout, canonical JSON Schema
    "config": "config",  # deadline rules, example mappings with tests, alerts, dashboard
    "demo/orders": "tests/fixtures/orders",  # `engine demo`'s orders
}

#: Resources the engine cannot work without (checked before `engine run` touches anything).
REQUIRED: tuple[str, ...] = (
    "schemas/niem/message/pox-message.xsd",
    "schemas/clets-layout.yaml",
    "schemas/canonical-order.schema.json",
    "config/deadlines.yaml",
    "config/mappings",
    "config/prometheus/alerts.yml",
    "config/grafana/po-engine-dashboard.json",
    "demo/orders",
)

#: Files in a source folder that never ship (caches, editor droppings).
_SKIP_PARTS = frozenset({"__pycache__", ".pytest_cache", ".DS_Store"})


#: What to do about a shipped file that is not there (said with the file's name).
INCOMPLETE_INSTALL = (
    "the engine installation is incomplete: reinstall it from a complete wheel "
    "(pip install --force-reinstall po-engine-*.whl) or image; in a source checkout "
    "run `pip install -e .` there")


class ResourceMissing(EngineError):
    """A file the engine ships with is not where the installation should have put it."""

    def __init__(self, name: str, where: Path) -> None:
        self.name = name
        super().__init__(f"resource {name} is missing or unreadable (looked for {where}); "
                         f"{INCOMPLETE_INSTALL}")


def _checkout_root() -> Path:
    """The checkout the engine package sits in (used only when nothing is packaged)."""
    return Path(str(files("engine"))).resolve().parent


def root() -> Path:
    """The folder resource names resolve against: the packaged tree, else the checkout."""
    packaged = Path(str(files("engine").joinpath(PACKAGE_DIR)))
    return packaged if packaged.is_dir() else _checkout_root()


def _split(name: str) -> tuple[str, str]:
    """(bundle, rest) of a resource name; `KeyError` for a name outside every bundle."""
    name = name.strip("/")
    for bundle in sorted(BUNDLES, key=len, reverse=True):
        if name == bundle or name.startswith(bundle + "/"):
            return bundle, name[len(bundle):].lstrip("/")
    raise KeyError(f"{name!r} is in no resource bundle (known: {', '.join(BUNDLES)})")


def path(name: str) -> Path:
    """Where resource ``name`` is (not checked: module constants use this at import)."""
    bundle, rest = _split(name)
    base = root()
    folder = base / bundle if base.name == PACKAGE_DIR else base / BUNDLES[bundle]
    return folder / rest if rest else folder


def require(name: str) -> Path:
    """Where resource ``name`` is; `ResourceMissing` when it is not there or not readable."""
    where = path(name)
    try:
        if where.is_dir():
            next(iter(where.iterdir()), None)
        else:
            with where.open("rb"):
                pass
    except OSError as exc:
        raise ResourceMissing(name, where) from exc
    return where


def shipped() -> list[str]:
    """Every resource name this installation should have (the build's manifest)."""
    base = root()
    if base.name != PACKAGE_DIR:  # a checkout: what the build would ship
        return [name for _, name in bundle_files(base)]
    try:
        text = (base / MANIFEST).read_text(encoding="utf-8")
    except OSError as exc:
        raise ResourceMissing(MANIFEST, base / MANIFEST) from exc
    return [line for line in text.splitlines() if line]


def missing_resources() -> list[ResourceMissing]:
    """Each shipped or `REQUIRED` resource that is not there, as the error it would raise."""
    try:
        names = list(dict.fromkeys([*REQUIRED, *shipped()]))
    except ResourceMissing as exc:
        return [exc]
    out = []
    for name in names:
        try:
            require(name)
        except ResourceMissing as exc:
            out.append(exc)
    return out


def bundle_files(checkout: Path) -> list[tuple[Path, str]]:
    """(source file, resource name) for every file the build ships from ``checkout``.

    The build (``setup.py``) and the no-drift test both use this, so they cannot disagree.
    """
    out = []
    for bundle, source in BUNDLES.items():
        folder = checkout / source
        for file in sorted(folder.rglob("*")):
            rel = file.relative_to(folder)
            if file.is_file() and not _SKIP_PARTS.intersection(rel.parts) \
                    and file.suffix != ".pyc":
                out.append((file, f"{bundle}/{rel.as_posix()}"))
    return out
