"""Property tests are reproducible in CI: the ``ci`` profile, loaded when CI is set."""

from __future__ import annotations

import os

from hypothesis import settings


def test_the_ci_profile_is_derandomized_and_prints_the_blob() -> None:
    """The ``ci`` profile draws the same examples on every run and prints a failure's
    @reproduce_failure blob; with CI set it is the one in force."""
    ci = settings.get_profile("ci")
    assert (ci.derandomize, ci.print_blob, ci.deadline, ci.database) == (True, True, None, None)
    expected = "ci" if os.environ.get("CI") else "engine"
    assert settings.default.derandomize == settings.get_profile(expected).derandomize
