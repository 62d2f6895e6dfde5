"""Whole training curves under learning-rate schedules: schedules and the multi-power law.

Luo et al. 2025, *A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules*,
arXiv:2503.12811.
"""

from jscale.curves._multipower import MULTIPOWER_PARAMS as MULTIPOWER_PARAMS
from jscale.curves._multipower import MultiPowerCurves as MultiPowerCurves
from jscale.curves._multipower import multipower_exact as multipower_exact
from jscale.curves._multipower import multipower_loss as multipower_loss
from jscale.curves._schedules import Schedule as Schedule
from jscale.curves._schedules import parse_schedule as parse_schedule

__all__ = ["MULTIPOWER_PARAMS", "MultiPowerCurves", "Schedule", "multipower_exact", "multipower_loss",
           "parse_schedule"]
