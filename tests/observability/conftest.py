"""The core harness's fixtures (`clock`, `core`, from tests/core/conftest.py) here too."""

from tests.core.conftest import clock, core  # noqa: F401 - fixtures, found by name
