"""One status type for every solve jscale runs: a fit's start, a bootstrap draw, an optimum at a
budget (a leaf module).

`Status` is an `IntEnum`, so the integer codes the kernels return inside `jit` compare equal to
its members (`fit.status == Status.SUCCESS`), and each member carries the message a user sees
(after optimistix's `RESULTS`).
"""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """Outcome of one solve.

    Members: SUCCESS (its convergence test held), MAX_STEPS (it stopped at its step limit before
    the test held), STALLED (no step could reduce the objective any further, short of the
    test), NONFINITE (it reached no finite answer). `Status(code).message` says what the code
    means for the values.
    """

    SUCCESS = 0
    MAX_STEPS = 1
    STALLED = 2
    NONFINITE = 3

    @property
    def label(self) -> str:
        """The lower-case name used in tables and files ("success", "max_steps", ...)."""
        return self.name.lower()

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Status.SUCCESS: "converged: the solve met its convergence test",
    Status.MAX_STEPS: "stopped at the step limit before its convergence test held; the values are not reliable",
    Status.STALLED: "stalled: no step reduced the objective further, short of the convergence test",
    Status.NONFINITE: "no finite answer (an overflowing input, or a law or cost that returned NaN)",
}

# Code -> label, for the integer arrays results hold.
STATUS_NAMES = {int(s): s.label for s in Status}
