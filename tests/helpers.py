"""Helpers shared by test modules: measuring what a call costs without a clock."""

import sys
from collections.abc import Callable


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
