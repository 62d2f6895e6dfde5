"""jscale: neural scaling laws in JAX.

Fits scaling laws (e.g. Chinchilla's L = E + A/N^alpha + B/D^beta) to measured training runs
by batched float64 optimisation from thousands of starts under `jit`.
"""

from jscale import datasets as datasets
from jscale import laws as laws
from jscale._allocation import Allocation as Allocation
from jscale._allocation import InferenceCost as InferenceCost
from jscale._allocation import MarginalReturns as MarginalReturns
from jscale._allocation import compute_optimal as compute_optimal
from jscale._allocation import marginal_returns as marginal_returns
from jscale._backtest import Backtest as Backtest
from jscale._backtest import backtest as backtest
from jscale._bootstrap import bootstrap as bootstrap
from jscale._data import ScalingData as ScalingData
from jscale._diagnostics import BoundWarning as BoundWarning
from jscale._diagnostics import ComputeWarning as ComputeWarning
from jscale._diagnostics import ConfigurationsWarning as ConfigurationsWarning
from jscale._diagnostics import ConvergenceWarning as ConvergenceWarning
from jscale._diagnostics import CorrelationWarning as CorrelationWarning
from jscale._diagnostics import Diagnostic as Diagnostic
from jscale._diagnostics import DiagnosticWarning as DiagnosticWarning
from jscale._diagnostics import ExtrapolationWarning as ExtrapolationWarning
from jscale._diagnostics import IntervalWarning as IntervalWarning
from jscale._diagnostics import IrreducibleLossWarning as IrreducibleLossWarning
from jscale._diagnostics import RepetitionWarning as RepetitionWarning
from jscale._diagnostics import StartsWarning as StartsWarning
from jscale._fit import ConvergenceError as ConvergenceError
from jscale._fit import fit as fit
from jscale._io import load as load
from jscale._io import save as save
from jscale._objective import Huber as Huber
from jscale._objective import Squared as Squared
from jscale._results import BootstrapResult as BootstrapResult
from jscale._results import FitResult as FitResult
from jscale._solve import LBFGS as LBFGS
from jscale._solve import STATUS_NAMES as STATUS
from jscale._solve import RobustGaussNewton as RobustGaussNewton

__version__ = "0.1.0"

__all__ = [
    "Allocation",
    "Backtest",
    "BootstrapResult",
    "BoundWarning",
    "ComputeWarning",
    "ConfigurationsWarning",
    "ConvergenceError",
    "ConvergenceWarning",
    "CorrelationWarning",
    "Diagnostic",
    "DiagnosticWarning",
    "ExtrapolationWarning",
    "FitResult",
    "Huber",
    "InferenceCost",
    "IntervalWarning",
    "IrreducibleLossWarning",
    "MarginalReturns",
    "LBFGS",
    "RepetitionWarning",
    "RobustGaussNewton",
    "STATUS",
    "ScalingData",
    "Squared",
    "StartsWarning",
    "backtest",
    "bootstrap",
    "compute_optimal",
    "datasets",
    "fit",
    "laws",
    "load",
    "marginal_returns",
    "save",
]
