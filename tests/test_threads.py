"""att_report.threads.run_all: results in the order of the tasks, failures fail the call (issue 7)."""

from __future__ import annotations

import threading
import time

import pytest

from att_report.threads import run_all


def test_results_come_in_the_order_given_not_of_completion():
    done = []

    def task(i: int, delay: float) -> int:
        time.sleep(delay)
        done.append(i)
        return i * 10

    calls = [(task, (i, 0.05 * (4 - i))) for i in range(5)]
    assert run_all(calls, threads=4) == [0, 10, 20, 30, 40]
    assert done != sorted(done)  # they did finish out of order: the test means something


def test_one_thread_runs_inline_in_order():
    seen = []
    assert run_all([(seen.append, (i,)) for i in range(3)], threads=1) == [None] * 3
    assert seen == [0, 1, 2]


def test_a_failing_task_fails_the_call_and_later_tasks_never_start():
    started = []

    def slow_fail():
        time.sleep(0.05)
        raise ValueError("broken")

    def later(i):
        started.append(i)
        time.sleep(0.2)

    calls = [(slow_fail, ()), (later, (1,))] + [(later, (i,)) for i in range(2, 20)]
    with pytest.raises(ValueError, match="broken"):
        run_all(calls, threads=2, name="att-report-test")
    assert len(started) < 18  # the queue was dropped
    assert not [t for t in threading.enumerate() if t.name.startswith("att-report-test")]
