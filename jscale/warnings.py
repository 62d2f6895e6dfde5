"""Every finding jscale reports, in one hierarchy: each warning derives from `DiagnosticWarning`,
so `warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)` silences them all.

A result's `diagnostics()` returns its findings as `Diagnostic` records (kind, category, message);
`ConvergenceError` is raised only when no start or draw produced a finite fit.
"""

from jscale.base._warnings import BoundWarning as BoundWarning
from jscale.base._warnings import ComputeWarning as ComputeWarning
from jscale.base._warnings import ConfigurationsWarning as ConfigurationsWarning
from jscale.base._warnings import ConvergenceError as ConvergenceError
from jscale.base._warnings import ConvergenceWarning as ConvergenceWarning
from jscale.base._warnings import CorrelationWarning as CorrelationWarning
from jscale.base._warnings import CurvatureWarning as CurvatureWarning
from jscale.base._warnings import Diagnostic as Diagnostic
from jscale.base._warnings import DiagnosticWarning as DiagnosticWarning
from jscale.base._warnings import DrawsWarning as DrawsWarning
from jscale.base._warnings import ExtrapolationWarning as ExtrapolationWarning
from jscale.base._warnings import FormWarning as FormWarning
from jscale.base._warnings import IntervalWarning as IntervalWarning
from jscale.base._warnings import IrreducibleLossWarning as IrreducibleLossWarning
from jscale.base._warnings import RepetitionWarning as RepetitionWarning
from jscale.base._warnings import ResamplesWarning as ResamplesWarning
from jscale.base._warnings import ScheduleWarning as ScheduleWarning
from jscale.base._warnings import StartsWarning as StartsWarning
from jscale.base._warnings import SweepWarning as SweepWarning

__all__ = [
    "BoundWarning",
    "ComputeWarning",
    "ConfigurationsWarning",
    "ConvergenceError",
    "ConvergenceWarning",
    "CorrelationWarning",
    "CurvatureWarning",
    "Diagnostic",
    "DiagnosticWarning",
    "DrawsWarning",
    "ExtrapolationWarning",
    "FormWarning",
    "IntervalWarning",
    "IrreducibleLossWarning",
    "RepetitionWarning",
    "ResamplesWarning",
    "ScheduleWarning",
    "StartsWarning",
    "SweepWarning",
]
