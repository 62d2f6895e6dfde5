"""Whole training curves under learning-rate schedules: schedules, the multi-power law, its fit.

Luo et al. 2025, *A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules*,
arXiv:2503.12811.
"""

from jscale.curves._fit import MultiPowerLaw as MultiPowerLaw
from jscale.curves._fit import curve_data as curve_data
from jscale.curves._fit import fit_curves as fit_curves
from jscale.curves._fit import predict_curves as predict_curves
from jscale.curves._multipower import MULTIPOWER_PARAMS as MULTIPOWER_PARAMS
from jscale.curves._multipower import MultiPowerCurves as MultiPowerCurves
from jscale.curves._multipower import multipower_exact as multipower_exact
from jscale.curves._multipower import multipower_loss as multipower_loss
from jscale.curves._schedules import Schedule as Schedule
from jscale.curves._schedules import parse_schedule as parse_schedule

__all__ = ["MULTIPOWER_PARAMS", "MultiPowerCurves", "MultiPowerLaw", "Schedule", "curve_data", "fit_curves",
           "multipower_exact", "multipower_loss", "parse_schedule", "predict_curves"]
