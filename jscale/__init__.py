"""jscale: neural scaling laws in JAX.

Fits scaling laws (e.g. Chinchilla's L = E + A/N^alpha + B/D^beta, or your own law over any
columns) to measured training runs by batched float64 optimisation from thousands of starts
under `jit`.
"""

from jscale import datasets as datasets
from jscale import laws as laws
from jscale import losses as losses
from jscale import solvers as solvers
from jscale.base._cache import default_cache_dir as default_cache_dir
from jscale.base._cache import enable_compilation_cache as enable_compilation_cache
from jscale.base._interval import Interval as Interval
from jscale.base._version import __version__ as __version__
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
from jscale.base._warnings import StartsWarning as StartsWarning
from jscale.base._warnings import SweepWarning as SweepWarning
from jscale.data._data import ScalingData as ScalingData
from jscale.decisions._allocation import Allocation as Allocation
from jscale.decisions._allocation import InferenceCost as InferenceCost
from jscale.decisions._allocation import MarginalReturns as MarginalReturns
from jscale.decisions._allocation import compute_optimal as compute_optimal
from jscale.decisions._allocation import marginal_returns as marginal_returns
from jscale.decisions._compare import Comparison as Comparison
from jscale.decisions._compare import compare as compare
from jscale.decisions._design import RunPlan as RunPlan
from jscale.decisions._design import SampleSize as SampleSize
from jscale.decisions._design import runs_needed as runs_needed
from jscale.decisions._design import suggest_runs as suggest_runs
from jscale.decisions._optimize import Optimum as Optimum
from jscale.decisions._optimize import optimum as optimum
from jscale.decisions._twostage import Prediction as Prediction
from jscale.decisions._twostage import TwoStage as TwoStage
from jscale.decisions._twostage import two_stage as two_stage
from jscale.engine._solve import LBFGS as LBFGS
from jscale.engine._solve import STATUS_NAMES as STATUS
from jscale.engine._solve import RobustGaussNewton as RobustGaussNewton
from jscale.fitting._bootstrap import bootstrap as bootstrap
from jscale.fitting._bootstrap import bootstrap_many as bootstrap_many
from jscale.fitting._fit import fit as fit
from jscale.fitting._fit import fit_many as fit_many
from jscale.inference._estimate import Estimate as Estimate
from jscale.inference._results import BootstrapResult as BootstrapResult
from jscale.inference._results import FitResult as FitResult
from jscale.io._io import load as load
from jscale.io._io import save as save
from jscale.losses._losses import Huber as Huber
from jscale.losses._losses import Squared as Squared
from jscale.selection._backtest import Backtest as Backtest
from jscale.selection._backtest import backtest as backtest
from jscale.selection._bootstrap_forms import bootstrap_forms as bootstrap_forms
from jscale.selection._forms import Ensemble as Ensemble
from jscale.selection._forms import Mixture as Mixture
from jscale.sweeps._envelope import EnvelopeResult as EnvelopeResult
from jscale.sweeps._envelope import envelope as envelope
from jscale.sweeps._isoflop import IsoFLOPResult as IsoFLOPResult
from jscale.sweeps._isoflop import SweepPlan as SweepPlan
from jscale.sweeps._isoflop import isoflop as isoflop
from jscale.sweeps._isoflop import plan_isoflop as plan_isoflop

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
    "bootstrap_forms",
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
