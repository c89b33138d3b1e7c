"""Helpers shared by test modules: measuring what a call costs without a clock, and running
work in threads whose failures fail the test."""

import sys
import threading
import time
from collections.abc import Callable, Iterable


def count_operations(call: Callable[[], object]) -> int:
    """Python bytecode operations executed by `call()`, on this thread.

    A deterministic stand-in for time: work that grows with the square of an input shows as
    a ratio between two sizes far above theirs, whatever else the machine is doing. (Work done
    in C, such as SQLite running a statement, is not counted.)"""
    count = 0

    def trace(frame, event, _arg):
        nonlocal count
        frame.f_trace_opcodes = True
        if event == "opcode":
            count += 1
        return trace

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(previous)
    return count


def run_threads(targets: Iterable[Callable[[], object]], *, timeout: float = 60) -> None:
    """Run each target in its own thread and wait for them all, `timeout` seconds in all.

    Re-raises the first exception a thread raised (an exception left in a thread only prints
    a warning) and fails if any thread is still running at the end (a join with a timeout
    returns either way). Each thread closes its database connection when done, as a thread
    Django did not start must."""
    from django.db import connection

    errors: list[BaseException] = []

    def run(target):
        try:
            target()
        except BaseException as error:  # re-raised below, in the test's own thread
            errors.append(error)
        finally:
            connection.close()

    # Daemons: one stuck for good fails its test instead of keeping the run from exiting.
    threads = [threading.Thread(target=run, args=(target,), daemon=True) for target in targets]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    running = sum(thread.is_alive() for thread in threads)
    if errors:
        first = errors[0]
        if len(errors) > 1:
            first.add_note(f"{len(errors) - 1} more thread(s) raised too: {errors[1:]!r}")
        if running:
            first.add_note(f"{running} thread(s) still running after {timeout} s")
        raise first
    assert not running, f"{running} of {len(threads)} threads still running after {timeout} s"
