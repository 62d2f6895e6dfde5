"""`Interval`, the one type every `interval()` of jscale returns (a leaf module)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Interval(NamedTuple):
    """A two-sided band: `low` and `high`, floats or arrays of one shape.

    A named tuple (after scipy's `ConfidenceInterval`), so `low, high = result.interval(...)`
    unpacks it.
    """

    low: np.ndarray | float
    high: np.ndarray | float
