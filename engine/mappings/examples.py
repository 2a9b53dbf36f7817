"""`engine mapping examples DIR`: write the bundled example mappings, with their tests, to DIR.

A new court starts from a working mapping: copy the example closest to its CMS export,
run ``engine mapping test DIR/*`` (they pass as shipped), then edit. The examples are the
package's own copies (`engine.resources`), so this works from a wheel or image.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from engine import resources

__all__ = ["register_examples", "write_examples"]

#: Where the examples are inside the package.
EXAMPLES = "config/mappings"


def write_examples(target: Path, *, force: bool = False) -> list[Path]:
    """Copy every bundled mapping folder into ``target``; the folders written.

    Refuses (`FileExistsError`) to overwrite a folder already there unless ``force``: a
    court's edited mapping is never lost to a fresh copy.
    """
    source = resources.require(EXAMPLES)
    folders = sorted(p.parent for p in source.rglob("mapping.yaml"))
    if not folders:
        raise resources.ResourceMissing(f"{EXAMPLES}/*/mapping.yaml", source)
    clashes = [target / f.relative_to(source) for f in folders
               if (target / f.relative_to(source)).exists()]
    if clashes and not force:
        raise FileExistsError(f"already there (use --force to overwrite): "
                              f"{', '.join(str(c) for c in clashes)}")
    written = []
    for folder in folders:
        dest = target / folder.relative_to(source)
        shutil.copytree(folder, dest, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        written.append(dest)
    return written


def _cmd_examples(args: argparse.Namespace) -> int:
    try:
        written = write_examples(args.dir, force=args.force)
    except (FileExistsError, resources.ResourceMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for folder in written:
        print(f"wrote {folder}")
    print(f"\n{len(written)} example mapping(s); run them with:  engine mapping test "
          f"{args.dir}/*")
    return 0


def register_examples(commands: argparse._SubParsersAction[argparse.ArgumentParser]
                      ) -> None:
    """Add `engine mapping examples DIR`."""
    p = commands.add_parser("examples", help="write the bundled example mappings, with "
                                             "their tests, into DIR")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--force", action="store_true", help="overwrite example folders already "
                                                       "in DIR")
    p.set_defaults(func=_cmd_examples)
