"""Immutable fit results: every start's end state plus the index of the best one.

The containers hold fields and thin methods; the interval math is in `jscale.inference._uncertainty`, the
reports in `jscale.inference._report`, the checks in `jscale.inference._diagnostics`. Properties never warn.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from flax import struct

from jscale.base._json import strict_json
from jscale.base._numerics import read_only, x64_scope
from jscale.base._warnings import renamed
from jscale.engine._batch import best_start, counts_of_resample
from jscale.engine._solve import NONFINITE, STATUS_NAMES, SUCCESS
from jscale.inference import _diagnostics, _predict, _report
from jscale.inference import _uncertainty as unc
from jscale.inference._diagnostics import DataSummary
from jscale.laws._laws import predict_at

# Relative gap to the best objective within which a start counts as having reached it.
AT_BEST_RTOL = 1e-8


class FitResult(struct.PyTreeNode, kw_only=True):
    """The outcome of `jscale.fit`: one law fitted from S starts to one dataset.

    Attributes:
        law, loss_function, target, residual: the law, the `loss=` of the residuals (e.g.
            `Huber(delta=1e-3)`), the fitted column (e.g. "loss") and "log" or "raw" (static).
        starts: (S, P) free-space starting points.
        end_params: (S, P) free-space end point of every start.
        objectives: (S,) objective (sum of losses of residuals) at every end point.
        status: (S,) integer status of every start (`jscale.solvers.Status` codes).
        n_steps: (S,) objective evaluations used by every start.
        best_index: index of the start with the lowest objective (static).
        n_rows: number of data rows fitted (static).
        objective_floor: objective of residuals at the data's rounding level (static).
        curvature: sums at the best start that the curvature covariances use, or None.
        n_configs: distinct configurations of the law's columns in the data (static).
        data_summary: what the diagnostics and predictions need of the fitted data (static).
        data_source: the fitted data's source and fingerprint, JSON text (static; see `source`).
        notes: what a reader should know, e.g. that the default starts were a subset (static).
    """

    law: Any = struct.field(pytree_node=False)
    loss_function: Any = struct.field(pytree_node=False)
    target: str = struct.field(pytree_node=False, default="loss")
    residual: str = struct.field(pytree_node=False, default="log")
    starts: np.ndarray
    end_params: np.ndarray
    objectives: np.ndarray
    status: np.ndarray
    n_steps: np.ndarray
    best_index: int = struct.field(pytree_node=False)
    n_rows: int = struct.field(pytree_node=False)
    objective_floor: float = struct.field(pytree_node=False, default=0.0)
    curvature: dict | None = None
    n_configs: int = struct.field(pytree_node=False, default=0)
    data_summary: DataSummary | None = struct.field(pytree_node=False, default=None)
    data_source: str = struct.field(pytree_node=False, default="")
    notes: tuple = struct.field(pytree_node=False, default=())

    @property
    def source(self) -> dict | None:
        """The fitted data's source (CSV path, columns, SHA-256; or dataset name), rows and
        fingerprint; None for data built from arrays."""
        return json.loads(self.data_source) if self.data_source else None

    @property
    def theta(self) -> np.ndarray:
        """(P,) free-space best fit."""
        return np.asarray(self.end_params[self.best_index])

    @property
    def free_params(self) -> dict[str, float]:
        """Best fit in the free parametrisation (log of positive parameters), name -> value."""
        return {n: float(v) for n, v in zip(self.law.free_names, self.theta)}

    @property
    def params(self) -> dict[str, float]:
        """Best fit in natural units, name -> value (e.g. E, A, B, alpha, beta)."""
        return {n: float(v) for n, v in zip(self.law.param_names, np.asarray(self.law.to_natural(self.theta)))}

    @property
    def objective(self) -> float:
        """Lowest objective over all starts."""
        return float(self.objectives[self.best_index])

    @property
    def best_status(self) -> str:
        """Status name of the best start ('success' when it converged)."""
        return STATUS_NAMES[int(self.status[self.best_index])]

    @property
    def n_starts(self) -> int:
        return int(self.objectives.shape[0])

    @property
    def n_converged(self) -> int:
        """Number of starts that ended with status success."""
        return int(np.sum(self.status == SUCCESS))

    def at_best(self, rtol: float = AT_BEST_RTOL) -> np.ndarray:
        """(S,) mask of starts within `rtol` (relative) of the best objective, or within the floor."""
        return self.objectives <= self.objective + max(rtol * abs(self.objective), self.objective_floor)

    n_at_best = property(lambda self: int(np.sum(self.at_best())), doc="Starts within 1e-8 of the best objective.")
    share_at_best = property(lambda self: self.n_at_best / self.n_starts, doc="Share of starts at the best.")
    loss = renamed("FitResult", "loss", "loss_function", "`.loss` is a predicted or measured loss elsewhere")

    def status_counts(self) -> dict[str, int]:
        """Number of starts per status name."""
        return {name: int(np.sum(self.status == code)) for code, name in STATUS_NAMES.items()}

    def predict(self, data=None, **columns) -> np.ndarray:
        """The fitted column (the loss, or the fit's `target`) predicted by the best fit, (R,).

        Pass a `ScalingData` or the law's columns as keyword arrays, e.g.
        `result.predict(n_params=[1e9], n_tokens=[2e10])`.
        """
        x = _predict.inputs(self.law, self.data_summary, data, **columns)
        with x64_scope():
            return predict_at(self.law, self.theta, x)

    def diagnostics(self) -> list:
        """What to check about this fit, as `jscale.warnings.Diagnostic` records (empty when nothing was
        found); `jscale.fit` warned with each of them. See `jscale.base._warnings` for the kinds."""
        return _diagnostics.diagnose_fit(self)

    def free_covariance(self, covariance: str = "sandwich") -> np.ndarray:
        """(P, P) covariance of the free parameters: "sandwich" (robust, default) or "hessian";
        NaN where the Hessian is singular."""
        return unc.fit_free_covariance(self, covariance)

    def covariance(self, covariance: str = "sandwich") -> np.ndarray:
        """(P, P) covariance of the natural parameters (delta method from the free ones)."""
        return unc.natural_covariance(self.law, self.theta, self.free_covariance(covariance))

    cov = property(covariance, doc="(P, P) sandwich covariance of the natural parameters.")
    se = property(lambda self: dict(zip(self.law.param_names, map(float, np.sqrt(np.diag(self.cov))))),
                  doc="Sandwich standard error of every natural parameter, name -> value.")
    corr = property(lambda self: unc.correlation(self.cov), doc="(P, P) correlation of the natural parameters.")

    def interval(self, name_or_function, level: float = 0.95, covariance: str = "sandwich", *, log: bool = False):
        """Curvature-based (Wald) interval of a parameter (natural or free name) or of a function
        fn(params) of the natural parameters, by the delta method with autodiff gradients (on
        log fn with `log=True`, for positive quantities). Returns (low, high)."""
        return unc.wald_interval(self.law, self.theta, self.free_covariance(covariance), name_or_function, level, log)

    def predict_interval(self, data=None, *, level: float = 0.95, observation: bool = False,
                         covariance: str = "sandwich", **columns):
        """Interval (R,) of the prediction by the delta method (in log space for log residuals);
        with `observation=True` it also spans a new run's spread around the law."""
        x = _predict.inputs(self.law, self.data_summary, data, **columns)
        model = self.law.log_predict if self.residual == "log" else self.law.predict
        extra = self.residual_variance if observation else 0.0
        return unc.model_interval(model, x, self.theta, self.free_covariance(covariance), level, extra,
                                  exponentiate=self.residual == "log")

    @property
    def residual_variance(self) -> float:
        """Variance of the residuals at the best fit, sum w r^2 / (n - P)."""
        if self.curvature is None:
            raise ValueError("This FitResult holds no curvature terms (it was not made by jscale.fit).")
        n = float(self.curvature["sum_w"])
        return float(self.curvature["sum_r2"]) / max(n - self.law.n_free, 1.0)

    def summary(self, level: float | None = None) -> str:
        """The fit as text (objective, convergence, parameters; with `level`, curvature intervals)."""
        return _report.fit_summary(self, level)

    def to_dict(self, level: float | None = None) -> dict:
        """Strict-JSON-ready: law, loss, estimates, objective and convergence; with `level`, the
        standard errors and curvature intervals too."""
        return strict_json(_report.fit_to_dict(self, level))

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        return f"FitResult({self.law.name}: {params}; objective={self.objective:.6g}, starts={self.n_starts})"


class BootstrapResult(struct.PyTreeNode, kw_only=True):
    """The outcome of `jscale.bootstrap`: a law refitted to B resamples from S starts each.

    Statistics (`se`, `cov`, `corr`, `interval`) use the draws whose best start converged
    (`draw_ok`); the others are kept and counted.

    Attributes:
        fit: the full-data `FitResult` (the point estimate; its law, loss, target and residual).
        unit: the resampling unit, "row", "group" (or the column grouped by) or "residual" (static).
        n_units: number of units drawn per resample (static).
        n_configs: distinct configurations of the law's columns in the data (static).
        key: the PRNG key data the resamples were drawn from (uint32 (2,)), or None.
        counts: the explicit (B, n_units) multiplicities passed instead of a key, or None.
        starts: (S, P) free-space starts used for every resample.
        end_params: (B, S, P) free-space end point of every start of every resample.
        objectives: (B, S) objective at every end point.
        start_status: (B, S) status of every start of every resample.
        n_steps: (B, S) objective evaluations used by every start.
        jackknife_params: (J, P) free-space fit with each unit left out (for BCa).
        jackknife_status: (J,) status of those fits.
        configurations: SHA-256 of every row's unit and configuration (static; "" in files of
            0.3.0 and before): draws of two bootstraps with one key pair only where these agree.
        basins_checked: with the default warm starts, the number of resamples on which the
            full fit's other basins were also fitted and none ended lower than the optimum's
            start, so the others ran from the optimum alone (static; 0 otherwise).
    """

    fit: FitResult
    unit: str = struct.field(pytree_node=False)
    n_units: int = struct.field(pytree_node=False)
    n_configs: int = struct.field(pytree_node=False)
    key: np.ndarray | None = None
    counts: np.ndarray | None = None
    starts: np.ndarray
    end_params: np.ndarray
    objectives: np.ndarray
    start_status: np.ndarray
    n_steps: np.ndarray
    jackknife_params: np.ndarray
    jackknife_status: np.ndarray
    basins_checked: int = struct.field(pytree_node=False, default=0)
    configurations: str = struct.field(pytree_node=False, default="")

    law = property(lambda self: self.fit.law, doc="The law (that of the full-data fit).")
    loss_function = property(lambda self: self.fit.loss_function,
                             doc="The loss function of the residuals (that of the full-data fit).")
    loss = renamed("BootstrapResult", "loss", "loss_function", "`.loss` is a predicted or measured loss elsewhere")
    n_resamples = property(lambda self: int(self.objectives.shape[0]))
    n_starts = property(lambda self: int(self.objectives.shape[1]))
    estimate = property(lambda self: self.fit.params, doc="The full-data fit, natural parameters.")

    @property
    def best_index(self) -> np.ndarray:
        """(B,) index of the best (lowest finite objective) start of every resample."""
        return best_start(self.objectives)

    def _take(self, array):
        return array[np.arange(self.n_resamples), self.best_index]

    @property
    def status(self) -> np.ndarray:
        """(B,) status of every draw: that of its best start (3, nonfinite, if none was finite)."""
        return np.where(np.isfinite(self._take(self.objectives)), self._take(self.start_status), NONFINITE)

    objective = property(lambda self: self._take(self.objectives), doc="(B,) best objective of every resample.")
    draw_ok = property(lambda self: self.status == SUCCESS,
                       doc="(B,) the usable-draw mask (every container's name for it): draws that converged.")
    n_converged = property(lambda self: int(np.sum(self.draw_ok)))
    converged = renamed("BootstrapResult", "converged", "draw_ok", "the usable-draw mask's one name")
    n_finite = property(lambda self: int(np.sum(np.isfinite(self._take(self.objectives)))))
    free_draws = property(lambda self: self._take(self.end_params), doc="(B, P) free-space best fit of every draw.")

    @property
    def draws(self) -> dict[str, np.ndarray]:
        """Every draw of every natural parameter, name -> (B,) (all draws; see `draw_ok`)."""
        nat = np.asarray(self.law.to_natural(np.asarray(self.free_draws)))
        return {n: read_only(nat[:, k]) for k, n in enumerate(self.law.param_names)}

    def derive(self, fn) -> np.ndarray:
        """fn(params) on every draw, (B, ...), e.g. `lambda p: p["beta"] / (p["alpha"] + p["beta"])`."""
        return unc.on_draws(self.law, fn, self.free_draws)

    @property
    def cov(self) -> np.ndarray:
        """(P, P) covariance of the natural parameters over the converged draws. A parameter with
        an infinite draw (e.g. A = exp(log A) overflowing where the data cannot bound it) has
        variance inf and covariances NaN."""
        nat = np.asarray(self.law.to_natural(np.asarray(self.free_draws[self.draw_ok])))
        if len(nat) < 2:
            return np.full((self.law.n_free,) * 2, np.nan)
        unbounded = ~np.all(np.isfinite(nat), axis=0)
        cov = np.cov(np.where(unbounded, 0.0, nat), rowvar=False)
        cov[unbounded, :] = cov[:, unbounded] = np.nan
        cov[unbounded, unbounded] = np.inf
        return cov

    se = property(lambda self: dict(zip(self.law.param_names, map(float, np.sqrt(np.diag(self.cov))))),
                  doc="Bootstrap standard error of every natural parameter, name -> value.")
    corr = property(lambda self: unc.correlation(self.cov), doc="(P, P) correlation over the converged draws.")

    def interval(self, name_or_function, level: float = 0.95, method: str = "percentile"):
        """Bootstrap interval ("percentile", "bca" or "basic") of a parameter (natural or free
        name) or of fn(params) -> scalar or array. Returns (low, high)."""
        if isinstance(name_or_function, str):
            return unc.draws_interval(self, unc.draws_of_param(self, name_or_function), level, method)
        return unc.draws_interval(self, lambda free: unc.on_draws(self.law, name_or_function, free), level, method)

    def predict(self, data=None, **columns) -> np.ndarray:
        """The fitted column predicted by the full-data fit (the point estimate), (R,); as
        `FitResult.predict`, with `predict_interval` for its band."""
        return self.fit.predict(data, **columns)

    def predict_interval(self, data=None, *, level: float = 0.95, method: str = "percentile", **columns):
        """Bootstrap interval (R,) of the prediction (the law's mean, not a new run's value)."""
        x = _predict.inputs(self.law, self.fit.data_summary, data, **columns)
        log = self.fit.residual == "log"
        model = self.law.log_predict if log else self.law.predict
        values = unc.model_on_draws(model, x)
        return unc.draws_interval(self, values, level, method, transform=np.exp if log else None)

    def resample_counts(self, index: int) -> np.ndarray:
        """Multiplicity of every unit (row or group) in resample `index`, recomputed from the key."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < self.n_resamples:
            raise ValueError(f"index must be an integer in [0, {self.n_resamples}); got {index!r}.")
        if self.counts is not None:
            return self.counts[index].astype(np.int64)
        return counts_of_resample(self.key, index, self.n_units)

    def diagnostics(self) -> list:
        """What to check about the intervals and the estimate, as `jscale.warnings.Diagnostic` records;
        `jscale.bootstrap` warned with each of them."""
        return _diagnostics.diagnose_bootstrap(self)

    def summary(self, level: float = 0.95, method: str = "percentile") -> str:
        """A table: estimate, bootstrap standard error and interval of every parameter."""
        return _report.bootstrap_summary(self, level, method)

    def to_dict(self, level: float = 0.95, method: str = "percentile") -> dict:
        """A JSON-ready summary: the fit, and per parameter the estimate, standard error and interval."""
        return strict_json(_report.bootstrap_to_dict(self, level, method))

    def __repr__(self) -> str:
        se = ", ".join(f"{k}={v:.4g}" for k, v in self.se.items())
        return (f"BootstrapResult({self.law.name}: {self.n_resamples} resamples by {self.unit}, "
                f"{self.n_converged} converged; se {se})")
