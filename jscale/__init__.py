"""jscale: neural scaling laws in JAX.

Fits scaling laws (e.g. Chinchilla's L = E + A/N^alpha + B/D^beta, or your own law over any
columns) to measured training runs by batched float64 optimisation from thousands of starts
under `jit`.

The top level holds the verbs, `ScalingData`, `Interval`, `Estimate`, `Execution` (how fits run)
and `InferenceCost`; the
containers the verbs return are in `jscale.results`, the warnings in `jscale.warnings`, the
solvers and `Status` in `jscale.solvers`, the laws and losses in `jscale.laws` and
`jscale.losses`, bundled data in `jscale.datasets`.
"""

import importlib as _importlib
import warnings as _warnings
from typing import TYPE_CHECKING as _TYPE_CHECKING

from jscale.base._version import __version__ as __version__

# The public names, loaded on first use (PEP 562): `import jscale` costs a few milliseconds, and
# JAX loads only when a verb, container or law is first touched. So `jscale` (the command) sets
# its signal handlers before the seconds JAX takes to load, and a Ctrl-C then ends it cleanly.
# name -> (module, attribute; None: the module itself).
_LAZY = {
    "datasets": ("jscale.datasets", None),
    "laws": ("jscale.laws", None),
    "losses": ("jscale.losses", None),
    "results": ("jscale.results", None),
    "solvers": ("jscale.solvers", None),
    "warnings": ("jscale.warnings", None),
    "default_cache_dir": ("jscale.base._cache", "default_cache_dir"),
    "enable_compilation_cache": ("jscale.base._cache", "enable_compilation_cache"),
    "Interval": ("jscale.base._interval", "Interval"),
    "ScalingData": ("jscale.data._data", "ScalingData"),
    "InferenceCost": ("jscale.decisions._allocation", "InferenceCost"),
    "compute_optimal": ("jscale.decisions._allocation", "compute_optimal"),
    "marginal_returns": ("jscale.decisions._allocation", "marginal_returns"),
    "compare": ("jscale.decisions._compare", "compare"),
    "runs_needed": ("jscale.decisions._design", "runs_needed"),
    "suggest_runs": ("jscale.decisions._design", "suggest_runs"),
    "optimum": ("jscale.decisions._optimize", "optimum"),
    "two_stage": ("jscale.decisions._twostage", "two_stage"),
    "Execution": ("jscale.engine._execution", "Execution"),
    "bootstrap": ("jscale.fitting._bootstrap", "bootstrap"),
    "bootstrap_many": ("jscale.fitting._bootstrap", "bootstrap_many"),
    "fit": ("jscale.fitting._fit", "fit"),
    "fit_many": ("jscale.fitting._fit", "fit_many"),
    "Estimate": ("jscale.inference._estimate", "Estimate"),
    "load": ("jscale.io._io", "load"),
    "save": ("jscale.io._io", "save"),
    "backtest": ("jscale.selection._backtest", "backtest"),
    "bootstrap_forms": ("jscale.selection._bootstrap_forms", "bootstrap_forms"),
    "envelope": ("jscale.sweeps._envelope", "envelope"),
    "hyperparameters": ("jscale.sweeps._hyper", "hyperparameters"),
    "isoflop": ("jscale.sweeps._isoflop", "isoflop"),
    "plan_isoflop": ("jscale.sweeps._isoflop", "plan_isoflop"),
}

if _TYPE_CHECKING:  # the same names, for type checkers, editors and the layout's import graph
    from jscale import datasets as datasets
    from jscale import laws as laws
    from jscale import losses as losses
    from jscale import results as results
    from jscale import solvers as solvers
    from jscale import warnings as warnings
    from jscale.base._cache import default_cache_dir as default_cache_dir
    from jscale.base._cache import enable_compilation_cache as enable_compilation_cache
    from jscale.base._interval import Interval as Interval
    from jscale.base._version import __version__ as __version__
    from jscale.data._data import ScalingData as ScalingData
    from jscale.decisions._allocation import InferenceCost as InferenceCost
    from jscale.decisions._allocation import compute_optimal as compute_optimal
    from jscale.decisions._allocation import marginal_returns as marginal_returns
    from jscale.decisions._compare import compare as compare
    from jscale.decisions._design import runs_needed as runs_needed
    from jscale.decisions._design import suggest_runs as suggest_runs
    from jscale.decisions._optimize import optimum as optimum
    from jscale.decisions._twostage import two_stage as two_stage
    from jscale.engine._execution import Execution as Execution
    from jscale.fitting._bootstrap import bootstrap as bootstrap
    from jscale.fitting._bootstrap import bootstrap_many as bootstrap_many
    from jscale.fitting._fit import fit as fit
    from jscale.fitting._fit import fit_many as fit_many
    from jscale.inference._estimate import Estimate as Estimate
    from jscale.io._io import load as load
    from jscale.io._io import save as save
    from jscale.selection._backtest import backtest as backtest
    from jscale.selection._bootstrap_forms import bootstrap_forms as bootstrap_forms
    from jscale.sweeps._envelope import envelope as envelope
    from jscale.sweeps._hyper import hyperparameters as hyperparameters
    from jscale.sweeps._isoflop import isoflop as isoflop
    from jscale.sweeps._isoflop import plan_isoflop as plan_isoflop

__all__ = [
    "Estimate",
    "Execution",
    "InferenceCost",
    "Interval",
    "ScalingData",
    "__version__",
    "backtest",
    "bootstrap",
    "bootstrap_forms",
    "bootstrap_many",
    "compare",
    "compute_optimal",
    "datasets",
    "default_cache_dir",
    "enable_compilation_cache",
    "envelope",
    "fit",
    "fit_many",
    "hyperparameters",
    "isoflop",
    "laws",
    "load",
    "losses",
    "marginal_returns",
    "optimum",
    "plan_isoflop",
    "results",
    "runs_needed",
    "save",
    "solvers",
    "suggest_runs",
    "two_stage",
    "warnings",
]

# Names that left the top level in 0.3.0: they keep working, with a DeprecationWarning naming the
# new place, until 0.4.0. name -> (namespace, name there).
_MOVED_ELSEWHERE = {
    "LBFGS": ("solvers", "LBFGS"),
    "RobustGaussNewton": ("solvers", "RobustGaussNewton"),
    "STATUS": ("solvers", "Status"),
    "Huber": ("losses", "Huber"),
    "Squared": ("losses", "Squared"),
}


def _moved() -> dict:
    """Every name that left the top level (the containers and warnings by their namespaces' lists)."""
    results, warnings = __getattr__("results"), __getattr__("warnings")
    return {**{name: ("results", name) for name in results.__all__ if name != "strict_json"},
            **{name: ("warnings", name) for name in warnings.__all__}, **_MOVED_ELSEWHERE}


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is not None:
        module = _importlib.import_module(target[0])
        value = module if target[1] is None else getattr(module, target[1])
        globals()[name] = value
        return value
    moved = _moved()
    if name in moved:
        space, new = moved[name]
        _warnings.warn(f"jscale.{name} moved to jscale.{space}.{new} in 0.3.0; the old name goes in 0.4.0.",
                       DeprecationWarning, stacklevel=2)
        if name == "STATUS":  # the {code: label} dict it was, from the enumeration that replaces it
            return {int(s): s.label for s in __getattr__("solvers").Status}
        return getattr(__getattr__(space), new)
    raise AttributeError(f"module 'jscale' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
