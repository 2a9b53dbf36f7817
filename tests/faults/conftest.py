"""Fault-suite plumbing: print every scenario's REPORT line at the end of the pytest run."""

from __future__ import annotations

from typing import Any

from tests.faults.harness import REPORT_LINES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if REPORT_LINES:
        terminalreporter.section("fault suite reports")
        for line in REPORT_LINES:
            terminalreporter.write_line(line)
