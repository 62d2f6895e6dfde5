"""The containers jscale's verbs return: immutable, saved with `jscale.save` where they hold fits.

Fits: `FitResult` (`jscale.fit`), `BootstrapResult` (`jscale.bootstrap`). Decisions:
`Allocation` (`compute_optimal`), `MarginalReturns`, `Optimum` (`optimum`), `Comparison`
(`compare`), `RunPlan` (`suggest_runs`), `SampleSize` (`runs_needed`), `TwoStage` and its
`Prediction` (`two_stage`). Selection: `Backtest`, `Ensemble` (`bootstrap_forms`) and its
`Mixture`. Sweeps: `IsoFLOPResult` (`isoflop`), `EnvelopeResult` (`envelope`), `SweepPlan`
(`plan_isoflop`), `HyperResult` (`hyperparameters`), its `HyperOptimum` and `HyperHeldOut`. `strict_json` turns
any `to_dict()` or summary into data `json.dumps` takes with `allow_nan=False` (arrays to lists,
NaN and infinities to None).
"""

from jscale.base._json import strict_json as strict_json
from jscale.decisions._allocation import Allocation as Allocation
from jscale.decisions._allocation import MarginalReturns as MarginalReturns
from jscale.decisions._compare import Comparison as Comparison
from jscale.decisions._design import RunPlan as RunPlan
from jscale.decisions._design import SampleSize as SampleSize
from jscale.decisions._optimize import Optimum as Optimum
from jscale.decisions._twostage import Prediction as Prediction
from jscale.decisions._twostage import TwoStage as TwoStage
from jscale.inference._results import BootstrapResult as BootstrapResult
from jscale.inference._results import FitResult as FitResult
from jscale.selection._backtest import Backtest as Backtest
from jscale.selection._forms import Ensemble as Ensemble
from jscale.selection._forms import Mixture as Mixture
from jscale.sweeps._envelope import EnvelopeResult as EnvelopeResult
from jscale.sweeps._heldout import HyperHeldOut as HyperHeldOut
from jscale.sweeps._hyper import HyperOptimum as HyperOptimum
from jscale.sweeps._hyper import HyperResult as HyperResult
from jscale.sweeps._isoflop import IsoFLOPResult as IsoFLOPResult
from jscale.sweeps._isoflop import SweepPlan as SweepPlan

__all__ = [
    "Allocation",
    "Backtest",
    "BootstrapResult",
    "Comparison",
    "Ensemble",
    "EnvelopeResult",
    "FitResult",
    "HyperHeldOut",
    "HyperOptimum",
    "HyperResult",
    "IsoFLOPResult",
    "MarginalReturns",
    "Mixture",
    "Optimum",
    "Prediction",
    "RunPlan",
    "SampleSize",
    "SweepPlan",
    "TwoStage",
    "strict_json",
]
