"""`engine run` exits non-zero when one of its threads dies, so a supervisor restarts it."""

from __future__ import annotations

import threading

from engine.runner import EngineRunner


class _Runner(EngineRunner):
    """Only the parts of the runner that `wait` uses."""

    def __init__(self, threads: list[threading.Thread]) -> None:
        self._stop = threading.Event()
        self._threads = threads


class TestRunnerWait:
    def test_a_dead_thread_makes_wait_report_failure(self):
        """wait() returns False once any engine thread has ended on its own."""
        dead = threading.Thread(target=lambda: None)
        dead.start()
        dead.join()
        assert _Runner([dead]).wait() is False

    def test_a_requested_stop_makes_wait_report_success(self):
        """wait() returns True when stop was asked for while every thread was alive."""
        alive = threading.Thread(target=threading.Event().wait, args=(5,), daemon=True)
        alive.start()
        runner = _Runner([alive])
        runner._stop.set()
        assert runner.wait() is True
