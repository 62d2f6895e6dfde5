"""Whole training curves under learning-rate schedules: schedules, curve laws, their fits and bands,
and the best schedule by jax.grad.

Luo et al. 2025, *A Multi-Power Law for Loss Curve Prediction Across Learning Rate Schedules*,
arXiv:2503.12811; Tissue et al. 2024, *Scaling Law with Learning Rate Annealing*, arXiv:2408.11029.
"""

from jscale.curves._annealing import AnnealingLaw as AnnealingLaw
from jscale.curves._annealing import AreaPowerLaw as AreaPowerLaw
from jscale.curves._annealing import annealing_areas as annealing_areas
from jscale.curves._best import BestSchedule as BestSchedule
from jscale.curves._best import best_schedule as best_schedule
from jscale.curves._curvelaw import CustomCurveLaw as CustomCurveLaw
from jscale.curves._curvelaw import curve_law as curve_law
from jscale.curves._fit import MultiPowerLaw as MultiPowerLaw
from jscale.curves._fit import curve_data as curve_data
from jscale.curves._fit import fit_curves as fit_curves
from jscale.curves._luo import LUO2025_PUBLISHED as LUO2025_PUBLISHED
from jscale.curves._luo import LUO2025_SCHEDULES as LUO2025_SCHEDULES
from jscale.curves._luo import LUO2025_TRAIN as LUO2025_TRAIN
from jscale.curves._multipower import MULTIPOWER_PARAMS as MULTIPOWER_PARAMS
from jscale.curves._multipower import MultiPowerCurves as MultiPowerCurves
from jscale.curves._multipower import multipower_exact as multipower_exact
from jscale.curves._multipower import multipower_loss as multipower_loss
from jscale.curves._predict import CurvePrediction as CurvePrediction
from jscale.curves._predict import bootstrap_curves as bootstrap_curves
from jscale.curves._predict import predict_curves as predict_curves
from jscale.curves._read import curves_from_table as curves_from_table
from jscale.curves._runs import drop_before as drop_before
from jscale.curves._runs import finals as finals
from jscale.curves._runs import moving_average as moving_average
from jscale.curves._schedules import Schedule as Schedule
from jscale.curves._schedules import parse_schedule as parse_schedule
from jscale.curves._sized import Sized as Sized

__all__ = [
    "LUO2025_PUBLISHED",
    "LUO2025_SCHEDULES",
    "LUO2025_TRAIN",
    "MULTIPOWER_PARAMS",
    "AnnealingLaw",
    "AreaPowerLaw",
    "BestSchedule",
    "CurvePrediction",
    "CustomCurveLaw",
    "MultiPowerCurves",
    "MultiPowerLaw",
    "Schedule",
    "Sized",
    "annealing_areas",
    "best_schedule",
    "bootstrap_curves",
    "curve_data",
    "curve_law",
    "curves_from_table",
    "drop_before",
    "finals",
    "fit_curves",
    "moving_average",
    "multipower_exact",
    "multipower_loss",
    "parse_schedule",
    "predict_curves",
]
