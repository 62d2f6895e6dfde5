"""jscale: neural scaling laws in JAX.

Fits scaling laws (e.g. Chinchilla's L = E + A/N^alpha + B/D^beta, or your own law over any
columns) to measured training runs by batched float64 optimisation from thousands of starts
under `jit`.
"""

from jscale import datasets as datasets
from jscale import laws as laws
from jscale import losses as losses
from jscale import solvers as solvers
from jscale._allocation import Allocation as Allocation
from jscale._allocation import InferenceCost as InferenceCost
from jscale._allocation import MarginalReturns as MarginalReturns
from jscale._allocation import compute_optimal as compute_optimal
from jscale._allocation import marginal_returns as marginal_returns
from jscale._backtest import Backtest as Backtest
from jscale._backtest import backtest as backtest
from jscale._bootstrap import bootstrap as bootstrap
from jscale._bootstrap import bootstrap_many as bootstrap_many
from jscale._cache import default_cache_dir as default_cache_dir
from jscale._cache import enable_compilation_cache as enable_compilation_cache
from jscale._compare import Comparison as Comparison
from jscale._compare import compare as compare
from jscale._data import ScalingData as ScalingData
from jscale._design import RunPlan as RunPlan
from jscale._design import SampleSize as SampleSize
from jscale._design import runs_needed as runs_needed
from jscale._design import suggest_runs as suggest_runs
from jscale._envelope import EnvelopeResult as EnvelopeResult
from jscale._envelope import envelope as envelope
from jscale._estimate import Estimate as Estimate
from jscale._fit import fit as fit
from jscale._fit import fit_many as fit_many
from jscale._forms import Ensemble as Ensemble
from jscale._forms import Mixture as Mixture
from jscale._interval import Interval as Interval
from jscale._io import load as load
from jscale._io import save as save
from jscale._isoflop import IsoFLOPResult as IsoFLOPResult
from jscale._isoflop import SweepPlan as SweepPlan
from jscale._isoflop import isoflop as isoflop
from jscale._isoflop import plan_isoflop as plan_isoflop
from jscale._losses import Huber as Huber
from jscale._losses import Squared as Squared
from jscale._optimize import Optimum as Optimum
from jscale._optimize import optimum as optimum
from jscale._results import BootstrapResult as BootstrapResult
from jscale._results import FitResult as FitResult
from jscale._solve import LBFGS as LBFGS
from jscale._solve import STATUS_NAMES as STATUS
from jscale._solve import RobustGaussNewton as RobustGaussNewton
from jscale._twostage import Prediction as Prediction
from jscale._twostage import TwoStage as TwoStage
from jscale._twostage import two_stage as two_stage
from jscale._version import __version__ as __version__
from jscale._warnings import BoundWarning as BoundWarning
from jscale._warnings import ComputeWarning as ComputeWarning
from jscale._warnings import ConfigurationsWarning as ConfigurationsWarning
from jscale._warnings import ConvergenceError as ConvergenceError
from jscale._warnings import ConvergenceWarning as ConvergenceWarning
from jscale._warnings import CorrelationWarning as CorrelationWarning
from jscale._warnings import CurvatureWarning as CurvatureWarning
from jscale._warnings import Diagnostic as Diagnostic
from jscale._warnings import DiagnosticWarning as DiagnosticWarning
from jscale._warnings import DrawsWarning as DrawsWarning
from jscale._warnings import ExtrapolationWarning as ExtrapolationWarning
from jscale._warnings import FormWarning as FormWarning
from jscale._warnings import IntervalWarning as IntervalWarning
from jscale._warnings import IrreducibleLossWarning as IrreducibleLossWarning
from jscale._warnings import RepetitionWarning as RepetitionWarning
from jscale._warnings import ResamplesWarning as ResamplesWarning
from jscale._warnings import StartsWarning as StartsWarning
from jscale._warnings import SweepWarning as SweepWarning

__all__ = [
    "Allocation",
    "Backtest",
    "BootstrapResult",
    "BoundWarning",
    "Comparison",
    "ComputeWarning",
    "ConfigurationsWarning",
    "ConvergenceError",
    "ConvergenceWarning",
    "CorrelationWarning",
    "CurvatureWarning",
    "Diagnostic",
    "DiagnosticWarning",
    "DrawsWarning",
    "ResamplesWarning",
    "Ensemble",
    "Estimate",
    "EnvelopeResult",
    "ExtrapolationWarning",
    "FitResult",
    "FormWarning",
    "IsoFLOPResult",
    "Huber",
    "InferenceCost",
    "Interval",
    "IntervalWarning",
    "IrreducibleLossWarning",
    "LBFGS",
    "MarginalReturns",
    "Mixture",
    "Optimum",
    "Prediction",
    "RepetitionWarning",
    "RobustGaussNewton",
    "RunPlan",
    "SampleSize",
    "STATUS",
    "ScalingData",
    "Squared",
    "StartsWarning",
    "SweepPlan",
    "SweepWarning",
    "TwoStage",
    "__version__",
    "backtest",
    "bootstrap",
    "bootstrap_many",
    "compare",
    "compute_optimal",
    "datasets",
    "default_cache_dir",
    "enable_compilation_cache",
    "envelope",
    "fit",
    "fit_many",
    "isoflop",
    "laws",
    "load",
    "losses",
    "marginal_returns",
    "optimum",
    "plan_isoflop",
    "runs_needed",
    "save",
    "solvers",
    "suggest_runs",
    "two_stage",
]
