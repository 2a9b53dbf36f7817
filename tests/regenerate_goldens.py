"""Rewrite the golden files from the renderers' current output: ``make goldens``.

Run it only after an intended change to the rendering, then review ``git diff
tests/fixtures/niem tests/fixtures/clets`` (it must show only what you meant) and commit the
goldens in their own commit saying why they changed. The golden tests never write files.
"""

from __future__ import annotations

import sys

from tests.goldens import all_goldens


def main() -> int:
    changed = 0
    for path, body in all_goldens():
        if path.exists() and path.read_bytes() == body:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        changed += 1
        print(f"wrote {path}")
    print(f"{changed} golden file(s) changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
