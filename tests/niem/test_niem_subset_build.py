"""The committed NIEM subset is what tools/niem_subset.py makes of it from the 5.2 release.

So every definition, xml:lang, conformance target and augmentation point in the subset is
the release's, and a hand edit that drifts from the release fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SHARED_REFERENCE

TOOL = Path(__file__).parents[2] / "tools" / "niem_subset.py"


def test_the_subset_is_up_to_date_with_the_release() -> None:
    """`tools/niem_subset.py --check` finds nothing to change."""
    if not (SHARED_REFERENCE / "niem-5.2").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"NIEM 5.2 reference not found at {SHARED_REFERENCE}")
        pytest.skip("NIEM 5.2 reference not found")
    result = subprocess.run([sys.executable, str(TOOL), "--check", "--reference",
                             str(SHARED_REFERENCE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
