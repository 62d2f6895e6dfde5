"""Immutable fit results: every start's end state plus the index of the best one."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale import _diagnostics
from jscale._data import closest
from jscale._diagnostics import (
    DataSummary,
    Diagnostic,
)
from jscale._numerics import read_only, x64_scope
from jscale._solve import NONFINITE, STATUS_NAMES, SUCCESS
from jscale._uncertainty import (
    BOOTSTRAP_METHODS,
    CURVATURE_METHODS,
    bootstrap_interval,
    bound_messages,
    check_level,
    correlation,
    correlation_messages,
    few_configurations,
    free_covariance,
    function_jacobian,
    natural_jacobian,
    normal_quantile,
    warn,
)

# Relative gap to the best objective within which a start counts as having reached it.
AT_BEST_RTOL = 1e-8


class FitResult(struct.PyTreeNode, kw_only=True):
    """The outcome of `jscale.fit`: one law fitted from S starts to one dataset.

    Attributes:
        law: the law object (static).
        loss: the loss object, e.g. `Huber(delta=1e-3)` (static).
        starts: (S, P) free-space starting points.
        end_params: (S, P) free-space end point of every start.
        objectives: (S,) objective (sum of losses of log residuals) at every end point.
        status: (S,) integer status of every start (0 success, 1 max_steps, 2 stalled,
            3 nonfinite; see `jscale.STATUS`).
        n_steps: (S,) objective evaluations used by every start.
        best_index: index of the start with the lowest objective (static).
        n_rows: number of data rows fitted (static).
        objective_floor: objective of residuals at the data's rounding level; gaps below it
            are not resolved (static).
        curvature: sums at the best start that the curvature covariances use (Hessian of the
            objective, spread of the per-row scores, residual sums; see `jscale._uncertainty`),
            or None.
        n_configs: number of distinct configurations of the law's columns in the data (static).
        data_summary: ranges, lowest loss, epochs and compute ratio of the fitted data, which
            the diagnostics and the extrapolation check use (static; None if unknown).
    """

    law: Any = struct.field(pytree_node=False)
    loss: Any = struct.field(pytree_node=False)
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

    # --- the best fit -------------------------------------------------------------------------
    @property
    def free_params(self) -> dict[str, float]:
        """Best fit in the free parametrisation (log of positive parameters), name -> value."""
        x = self.end_params[self.best_index]
        return {n: float(v) for n, v in zip(self.law.free_names, x)}

    @property
    def params(self) -> dict[str, float]:
        """Best fit in natural units, name -> value (e.g. E, A, B, alpha, beta)."""
        x = np.asarray(self.law.to_natural(np.asarray(self.end_params[self.best_index])))
        return {n: float(v) for n, v in zip(self.law.param_names, x)}

    @property
    def objective(self) -> float:
        """Lowest objective over all starts."""
        return float(self.objectives[self.best_index])

    @property
    def best_status(self) -> str:
        """Status name of the best start ('success' when it converged)."""
        return STATUS_NAMES[int(self.status[self.best_index])]

    # --- all starts ---------------------------------------------------------------------------
    @property
    def n_starts(self) -> int:
        return int(self.objectives.shape[0])

    @property
    def n_converged(self) -> int:
        """Number of starts that ended with status success."""
        return int(np.sum(self.status == SUCCESS))

    def at_best(self, rtol: float = AT_BEST_RTOL) -> np.ndarray:
        """(S,) mask of starts within `rtol` (relative) of the best objective, or within the floor."""
        best = self.objective
        return self.objectives <= best + max(rtol * abs(best), self.objective_floor)

    @property
    def n_at_best(self) -> int:
        """Number of starts within 1e-8 (relative) of the best objective."""
        return int(np.sum(self.at_best()))

    @property
    def share_at_best(self) -> float:
        """Share of starts within 1e-8 (relative) of the best objective."""
        return self.n_at_best / self.n_starts

    def status_counts(self) -> dict[str, int]:
        """Number of starts per status name."""
        return {name: int(np.sum(self.status == code)) for code, name in STATUS_NAMES.items()}

    # --- use ----------------------------------------------------------------------------------
    def predict(self, data=None, **columns) -> np.ndarray:
        """Predicted loss of the best fit, shape (R,).

        Pass a `ScalingData` or the law's columns as keyword arrays, e.g.
        `result.predict(n_params=[1e9], n_tokens=[2e10])`.
        """
        from jscale._fit import predict

        return predict(self.law, self.end_params[self.best_index], data, summary=self.data_summary, **columns)

    # --- diagnostics --------------------------------------------------------------------------------
    def diagnostics(self) -> list[Diagnostic]:
        """What to check about this fit, as `Diagnostic` records (empty when nothing was found).

        Each has a `kind`, a `message`, its warning `category` (one class per kind, all
        subclasses of `jscale.DiagnosticWarning`) and the figures behind it (`values`). In order:
        the optimiser stopped early ("convergence", with the gradient norm at the best start);
        fewer than 3 starts reached the best objective ("starts"); a parameter at a bound
        ("bound"); two parameters correlated above 0.99 ("correlation"); fewer distinct
        configurations than twice the parameters ("configurations"); E above the lowest
        observed loss ("irreducible_loss"); a given compute column outside 0.8-1.25 times 6ND
        ("compute"); repeated data under a law that ignores repetition ("repetition").
        `jscale.fit` warns with each of them; predictions and allocations outside the fitted
        data warn with `jscale.ExtrapolationWarning`.

        Example:
            >>> [d.kind for d in result.diagnostics()]  # doctest: +SKIP
            ['correlation']
        """
        return _diagnostics.diagnose(self)

    # --- curvature-based uncertainty ---------------------------------------------------------------
    def free_covariance(self, method: str = "sandwich") -> np.ndarray:
        """(P, P) covariance of the free parameters (log of positive ones); NaN if unavailable.

        Args:
            method: "sandwich" (robust, default) or "hessian" (see `jscale._uncertainty`).
        """
        if method not in CURVATURE_METHODS:
            raise ValueError(f"method must be one of {', '.join(CURVATURE_METHODS)}; got {method!r}.")
        if self.curvature is None:
            raise ValueError("This FitResult holds no curvature terms (it was not made by jscale.fit).")
        cov = free_covariance(self.curvature, method)
        if cov is None:
            n_inside = float(self.curvature["sum_dpsi"])
            warn(
                f"The Hessian of the objective at the optimum is not positive definite (weight {n_inside:.3g} of "
                f"rows inside the loss's quadratic zone for {self.law.n_free} parameters): curvature intervals are "
                "undefined; use jscale.bootstrap.",
                stacklevel=4,
            )
            return np.full((self.law.n_free, self.law.n_free), np.nan)
        return cov

    def covariance(self, method: str = "sandwich") -> np.ndarray:
        """(P, P) covariance of the natural parameters (delta method from the free ones).

        Warns (`jscale.IntervalWarning`) when the intervals cannot be trusted: too few distinct
        configurations, a parameter at a bound, strongly correlated parameters, or a singular
        Hessian.
        """
        return self._natural_covariance(self.free_covariance(method))

    def _natural_covariance(self, free):
        """Natural-unit covariance from the free one, with the reliability warnings."""
        jac = natural_jacobian(self.law, self.end_params[self.best_index])
        cov = jac @ free @ jac.T
        found = _diagnostics.configurations(self) + _diagnostics.bounds(self) + _diagnostics.correlations(self, cov)
        for d in found:
            d.warn(stacklevel=3)
        return cov

    @property
    def cov(self) -> np.ndarray:
        """(P, P) sandwich covariance of the natural parameters (see `covariance`)."""
        return self.covariance("sandwich")

    @property
    def se(self) -> dict[str, float]:
        """Sandwich standard error of every natural parameter, name -> value."""
        return dict(zip(self.law.param_names, (float(v) for v in np.sqrt(np.diag(self.cov)))))

    @property
    def corr(self) -> np.ndarray:
        """(P, P) correlation of the natural parameters (sandwich)."""
        return correlation(self.cov)

    def interval(self, name_or_function, level: float = 0.95, method: str = "sandwich", *, log: bool = False):
        """Curvature-based (Wald) interval of a parameter or of a function of the parameters.

        A positive parameter's interval is symmetric in its logarithm (so it stays positive);
        other parameters' are symmetric. A function `fn(params)` (params: name -> scalar, written
        with jax.numpy) gets fn(estimate) +- z * se by the delta method, its gradient by autodiff;
        with `log=True` (for positive quantities such as tokens per parameter) the interval is
        taken on log fn and exponentiated, so it stays positive and follows the skew.

        Returns:
            (low, high): floats, or arrays shaped like the function's value.
        """
        level = check_level(level)
        z = normal_quantile(0.5 + level / 2)
        theta = np.asarray(self.end_params[self.best_index])
        free = self.free_covariance(method)
        self._natural_covariance(free)  # the reliability warnings
        if isinstance(name_or_function, str):
            k = _param_index(self.law, name_or_function)
            half = z * np.sqrt(free[k, k])
            low, high = theta.copy(), theta.copy()
            low[k], high[k] = theta[k] - half, theta[k] + half
            if name_or_function in self.law.free_names and name_or_function not in self.law.param_names:
                return float(low[k]), float(high[k])
            # The Wald interval of the free coordinate, mapped to natural units (a monotone map).
            return float(self.law.to_natural(low)[k]), float(self.law.to_natural(high)[k])
        if not callable(name_or_function):
            raise TypeError(f"interval takes a parameter name or a function of the parameters; got {name_or_function!r}.")
        fn = name_or_function
        if log:
            def fn(p, f=name_or_function):
                return jnp.log(f(p))
        with x64_scope():
            value, jac = function_jacobian(self.law, fn, theta)
        half = z * np.sqrt(np.einsum("kp,pq,kq->k", jac, free, jac))
        low, high = value - half, value + half
        if log:
            low, high = np.exp(low), np.exp(high)
        return _shaped(low), _shaped(high)

    def predict_interval(self, data=None, *, level: float = 0.95, observation: bool = False,
                         method: str = "sandwich", **columns):
        """Interval of the predicted loss (R,), from the curvature covariance by the delta method.

        Computed in log space and exponentiated. With `observation=True` it also includes the
        spread of a new run around the law: the residual variance sum w r^2 / (n - P) of the fit
        (log residuals).

        Returns:
            (low, high): arrays (R,).
        """
        from jscale._fit import prediction_columns

        level = check_level(level)
        z = normal_quantile(0.5 + level / 2)
        log_x = prediction_columns(self.law, data, summary=self.data_summary, stacklevel=3, **columns)
        free = self.free_covariance(method)
        theta = np.asarray(self.end_params[self.best_index])
        with x64_scope():
            log_x = {k: np.asarray(v) for k, v in log_x.items()}
            log_pred = np.asarray(self.law.log_predict(theta, log_x))
            jac = np.asarray(jax.jacfwd(self.law.log_predict)(theta, log_x))
        var = np.einsum("rp,pq,rq->r", jac, free, jac)
        if observation:
            var = var + self.residual_variance
        half = z * np.sqrt(var)
        return np.exp(log_pred - half), np.exp(log_pred + half)

    @property
    def residual_variance(self) -> float:
        """Variance of the log residuals at the best fit, sum w r^2 / (n - P)."""
        if self.curvature is None:
            raise ValueError("This FitResult holds no curvature terms (it was not made by jscale.fit).")
        n = float(self.curvature["sum_w"])
        return float(self.curvature["sum_r2"]) / max(n - self.law.n_free, 1.0)

    def summary(self) -> str:
        """A readable table of the fit: objective, convergence and every parameter."""
        counts = ", ".join(f"{k} {v}" for k, v in self.status_counts().items() if v)
        lines = [
            f"jscale fit: {self.law.name} law, {self.n_rows} rows, loss {self.loss}",
            f"  objective     {self.objective:.10g}  (best of {self.n_starts} starts, start #{self.best_index}, "
            f"{self.best_status})",
            f"  starts        {counts}; {self.n_at_best} ({100 * self.share_at_best:.1f}%) within 1e-8 of the best",
            "",
            f"  {'parameter':<10} {'value':>14} {'free':>10} {'free value':>14}",
        ]
        for (name, value), (free, fv) in zip(self.params.items(), self.free_params.items()):
            lines.append(f"  {name:<10} {value:>14.6g} {free:>10} {fv:>14.8g}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """A JSON-ready summary: law, loss, estimates, objective and convergence (no arrays)."""
        return {
            "kind": "fit", "law": self.law.name, "loss": str(self.loss), "n_rows": self.n_rows,
            "params": self.params, "free_params": self.free_params, "objective": self.objective,
            "best_status": self.best_status, "n_starts": self.n_starts, "status_counts": self.status_counts(),
            "n_at_best": self.n_at_best,
        }

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        return f"FitResult({self.law.name}: {params}; objective={self.objective:.6g}, starts={self.n_starts})"


def _param_index(law, name: str) -> int:
    """Index of a parameter given by its natural or free name (e.g. "A" or "log_A")."""
    for names in (law.param_names, law.free_names):
        if name in names:
            return names.index(name)
    raise ValueError(
        f"The {law.name} law has parameters {', '.join(law.param_names)} (free: {', '.join(law.free_names)}); "
        f"got {name!r}{closest(name, law.param_names + law.free_names)}."
    )


def _shaped(values):
    """A scalar function's interval ends as floats, an array function's as arrays of its shape."""
    values = np.asarray(values)
    return float(values[0]) if values.size == 1 else values


class BootstrapResult(struct.PyTreeNode, kw_only=True):
    """The outcome of `jscale.bootstrap`: a law refitted to B resamples from S starts each.

    Statistics (`se`, `cov`, `corr`, `interval`) use the draws whose best start converged
    (`converged`); the others are kept and counted.

    Attributes:
        law, loss: as in `FitResult` (static).
        unit: the resampling unit, "row", "group" (or the column grouped by) or "residual" (static).
        n_units: number of units drawn per resample (static).
        n_configs: distinct configurations of the law's columns in the data (static).
        fit: the full-data `FitResult` (the point estimate).
        key: the PRNG key data the resamples were drawn from (uint32 (2,)), or None.
        counts: the explicit (B, n_units) multiplicities passed instead of a key, or None.
        starts: (S, P) free-space starts used for every resample.
        end_params: (B, S, P) free-space end point of every start of every resample.
        objectives: (B, S) objective at every end point.
        start_status: (B, S) status of every start of every resample.
        n_steps: (B, S) objective evaluations used by every start.
        jackknife_params: (J, P) free-space fit with each unit left out (for BCa).
        jackknife_status: (J,) status of those fits.
    """

    law: Any = struct.field(pytree_node=False)
    loss: Any = struct.field(pytree_node=False)
    unit: str = struct.field(pytree_node=False)
    n_units: int = struct.field(pytree_node=False)
    n_configs: int = struct.field(pytree_node=False)
    fit: FitResult
    key: np.ndarray | None
    counts: np.ndarray | None
    starts: np.ndarray
    end_params: np.ndarray
    objectives: np.ndarray
    start_status: np.ndarray
    n_steps: np.ndarray
    jackknife_params: np.ndarray
    jackknife_status: np.ndarray

    # --- per draw -------------------------------------------------------------------------------
    @property
    def n_resamples(self) -> int:
        return int(self.objectives.shape[0])

    @property
    def n_starts(self) -> int:
        return int(self.objectives.shape[1])

    @property
    def best_index(self) -> np.ndarray:
        """(B,) index of the best (lowest finite objective) start of every resample."""
        return np.argmin(np.where(np.isfinite(self.objectives), self.objectives, np.inf), axis=1)

    def _take(self, array):
        return array[np.arange(self.n_resamples), self.best_index]

    @property
    def objective(self) -> np.ndarray:
        """(B,) best objective of every resample."""
        return self._take(self.objectives)

    @property
    def status(self) -> np.ndarray:
        """(B,) status of every draw: that of its best start (3, nonfinite, if none was finite)."""
        status = self._take(self.start_status)
        return np.where(np.isfinite(self.objective), status, NONFINITE)

    @property
    def converged(self) -> np.ndarray:
        """(B,) mask of the draws whose best start converged."""
        return self.status == SUCCESS

    @property
    def n_converged(self) -> int:
        return int(np.sum(self.converged))

    @property
    def n_finite(self) -> int:
        return int(np.sum(np.isfinite(self.objective)))

    @property
    def free_draws(self) -> np.ndarray:
        """(B, P) free-space best fit of every resample."""
        return self._take(self.end_params)

    @property
    def draws(self) -> dict[str, np.ndarray]:
        """Every draw of every natural parameter, name -> (B,) (all draws; see `converged`)."""
        nat = np.asarray(self.law.to_natural(np.asarray(self.free_draws)))
        return {n: read_only(nat[:, k]) for k, n in enumerate(self.law.param_names)}

    def _natural(self, free) -> np.ndarray:
        return np.asarray(self.law.to_natural(np.asarray(free)))

    def derive(self, fn) -> np.ndarray:
        """fn evaluated on every draw: (B, ...) for fn(params) (params: name -> scalar, jax.numpy).

        Example: `boot.derive(lambda p: p["beta"] / (p["alpha"] + p["beta"]))`, the allocation
        exponent a of every draw.
        """
        return self._apply(fn, self.free_draws)

    def _apply(self, fn, free):
        if not callable(fn):
            raise TypeError(f"expected a function of the parameters (name -> value); got {fn!r}.")
        law = self.law

        def one(theta):
            nat = law.to_natural(theta)
            return jnp.asarray(fn(dict(zip(law.param_names, (nat[i] for i in range(law.n_free))))))

        with x64_scope():
            return np.asarray(jax.vmap(one)(jnp.asarray(free, jnp.float64)))

    # --- statistics ---------------------------------------------------------------------------
    @property
    def estimate(self) -> dict[str, float]:
        """The full-data fit, natural parameters (name -> value)."""
        return self.fit.params

    @property
    def cov(self) -> np.ndarray:
        """(P, P) covariance of the natural parameters over the converged draws."""
        nat = self._natural(self.free_draws[self.converged])
        return np.cov(nat, rowvar=False) if len(nat) > 1 else np.full((self.law.n_free,) * 2, np.nan)

    @property
    def se(self) -> dict[str, float]:
        """Bootstrap standard error (standard deviation over converged draws), name -> value."""
        return dict(zip(self.law.param_names, (float(v) for v in np.sqrt(np.diag(self.cov)))))

    @property
    def corr(self) -> np.ndarray:
        """(P, P) correlation of the natural parameters over the converged draws."""
        return correlation(self.cov)

    def interval(self, name_or_function, level: float = 0.95, method: str = "percentile"):
        """Bootstrap interval of a parameter (natural or free name) or of a function of the parameters.

        Args:
            name_or_function: e.g. "alpha", "log_A", or fn(params) -> scalar or array, written
                with jax.numpy (params: name -> value), e.g. the allocation exponent
                `lambda p: p["beta"] / (p["alpha"] + p["beta"])`.
            level: coverage, e.g. 0.95.
            method: "percentile" (default), "bca" (bias-corrected and accelerated) or "basic".

        Returns:
            (low, high): floats, or arrays shaped like the function's value.
        """
        level = check_level(level)
        if method not in BOOTSTRAP_METHODS:
            raise ValueError(f"method must be one of {', '.join(BOOTSTRAP_METHODS)}; got {method!r}.")
        if not self.converged.any():
            raise ValueError("No bootstrap draw converged; intervals are undefined.")
        if isinstance(name_or_function, str):
            k = _param_index(self.law, name_or_function)
            free = name_or_function in self.law.free_names and name_or_function not in self.law.param_names
            if free:
                return self._interval_of(lambda x: np.asarray(x)[..., k], level, method)
            return self._interval_of(lambda x: self._natural(x)[..., k], level, method)
        return self._interval_of(lambda free: self._apply(name_or_function, free), level, method)

    def _interval_of(self, values, level, method, transform=None):
        """Interval of values(free (n, P)) -> (n, ...) over the converged draws; `transform` maps the ends."""
        ok = self.converged
        jk_ok = self.jackknife_status == SUCCESS
        best = np.asarray(self.fit.end_params[self.fit.best_index])
        draws = values(self.free_draws[ok])
        shape = draws.shape[1:]
        width = int(np.prod(shape)) if shape else 1
        estimate = values(best[None])[0]
        jack = values(self.jackknife_params[jk_ok]) if method == "bca" and jk_ok.any() else np.zeros((0,) + shape)
        low, high = bootstrap_interval(draws.reshape(len(draws), width), estimate.reshape(width),
                                       jack.reshape(len(jack), width), level, method)
        if transform is not None:
            low, high = transform(low), transform(high)
        if not shape:
            return float(low[0]), float(high[0])
        return low.reshape(shape), high.reshape(shape)

    def predict_interval(self, data=None, *, level: float = 0.95, method: str = "percentile", **columns):
        """Bootstrap interval (R,) of the predicted loss (the law's mean, not a new run's loss)."""
        from jscale._fit import prediction_columns

        level = check_level(level)
        if method not in BOOTSTRAP_METHODS:
            raise ValueError(f"method must be one of {', '.join(BOOTSTRAP_METHODS)}; got {method!r}.")
        if not self.converged.any():
            raise ValueError("No bootstrap draw converged; intervals are undefined.")
        law = self.law
        columns_log = prediction_columns(law, data, summary=self.fit.data_summary, stacklevel=3, **columns)

        def log_losses(free):
            with x64_scope():
                log_x = {k: jnp.asarray(v) for k, v in columns_log.items()}
                return np.asarray(jax.vmap(lambda t: law.log_predict(t, log_x))(jnp.asarray(free, jnp.float64)))

        # The interval of the log loss, exponentiated (monotone: percentile and BCa ends map over).
        return self._interval_of(log_losses, level, method, transform=np.exp)

    def resample_counts(self, index: int) -> np.ndarray:
        """Multiplicity of every unit (row or group) in resample `index`, recomputed from the key.

        For a "residual" bootstrap these are the multiplicities of the residuals drawn.
        """
        from jscale._batch import resample_counts

        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < self.n_resamples:
            raise ValueError(f"index must be an integer in [0, {self.n_resamples}); got {index!r}.")
        if self.counts is not None:
            return self.counts[index].astype(np.int64)
        with x64_scope():
            key = jax.random.wrap_key_data(jnp.asarray(self.key))
            return np.asarray(resample_counts(key, index, self.n_units)).astype(np.int64)

    def warnings(self) -> list[str]:
        """Reasons the intervals may not be trusted (empty when none was found)."""
        out = few_configurations(self.law, self.n_configs)
        failed = self.n_resamples - self.n_converged
        if failed:
            out.append(
                f"{failed} of {self.n_resamples} bootstrap draws ({100 * failed / self.n_resamples:.1f}%) did not "
                "converge and are left out of the statistics; if they are many, the intervals are biased. Try "
                "starts='grid' or a larger solver max_steps."
            )
        nat = self._natural(self.free_draws[self.converged])
        out += bound_messages(self.law, list(self.estimate.values()), nat)
        if len(nat) > 1:
            out += correlation_messages(self.law.param_names, self.corr)
        return out

    def to_dict(self, level: float = 0.95, method: str = "percentile") -> dict:
        """A JSON-ready summary: the fit, and per parameter the estimate, standard error and interval."""
        intervals = {n: list(self.interval(n, level, method)) for n in self.law.param_names}
        return {
            "kind": "bootstrap", "fit": self.fit.to_dict(), "unit": self.unit, "n_resamples": self.n_resamples,
            "n_converged": self.n_converged, "level": level, "method": method, "estimate": self.estimate,
            "se": self.se, "interval": intervals, "warnings": self.warnings(),
        }

    def summary(self, level: float = 0.95, method: str = "percentile") -> str:
        """A table: estimate, bootstrap standard error and interval of every parameter."""
        level = check_level(level)
        se = self.se
        pct = f"{100 * level:g}%"
        lines = [
            f"jscale bootstrap: {self.law.name} law, {self.n_resamples} resamples by {self.unit} "
            f"({self.n_units} units), {self.n_starts} start{'s' if self.n_starts > 1 else ''} each",
            f"  converged     {self.n_converged} of {self.n_resamples} draws "
            f"({100 * self.n_converged / self.n_resamples:.1f}%)",
            "",
            f"  {'parameter':<10} {'estimate':>12} {'std err':>12}   {pct + ' ' + method + ' interval':<30}",
        ]
        for name, value in self.estimate.items():
            low, high = self.interval(name, level, method)
            lines.append(f"  {name:<10} {value:>12.6g} {se[name]:>12.4g}   ({low:.6g}, {high:.6g})")
        notes = self.warnings()
        if notes:
            lines += ["", "  notes:"] + [f"  - {m}" for m in notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        se = ", ".join(f"{k}={v:.4g}" for k, v in self.se.items())
        return (f"BootstrapResult({self.law.name}: {self.n_resamples} resamples by {self.unit}, "
                f"{self.n_converged} converged; se {se})")
