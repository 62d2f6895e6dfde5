"""Which runs to train next: greedy experiment design by the expected reduction of a quantity's variance.

The quantity q is what the study is for: N*, D*, D*/N* or L* at a target compute (the
compute-optimal allocation of `jscale.compute_optimal`), or the loss at a given (N, D); the
planner works with log q. For K candidate runs x_k, let m_k(theta) be the law at x_k in the fit's
residual space (log loss for log residuals). The joint covariance C of (log q, m_1, ..., m_K)
comes from

* the bootstrap draws (the empirical covariance of the values on every converged draw), or
* the curvature (Laplace): C = G S G^T with G the Jacobian of the values by autodiff (through
  the implicit derivatives of the optimum) and S the fit's curvature covariance, plus the
  covariance of the values between the plausible basins the starts ended in (end points whose
  objective is within the 95% likelihood-ratio bound of the best, weighted by their likelihood
  ratio), so that disagreement between minima is part of the variance.

A new run at x_k observes m_k plus noise of variance s^2 (the fit's residual variance). Gaussian
conditioning on it lowers the variance of log q by C[0, k]^2 / (C[k, k] + s^2) and updates C by
C - C[:, k] C[k, :] / (C[k, k] + s^2), exactly the posterior covariance of a linear-Gaussian
model (Laplace) or the Gaussian approximation of the draws. The planner picks, one run at a
time, the candidate of largest reduction per unit cost that still fits the budget and has been
picked fewer than `max_repeats` times, and conditions on it.

The conditioning treats a new run as adding information J J^T / noise, with the fit's effective
noise mean(psi^2) / mean(psi')^2. For least squares this is exactly the refit's covariance (a
test checks it); for a robust (Huber) fit it is the expected information of a run, while the
fit's own covariance rests on the rows that happened to fall inside delta, so absolute figures
(e.g. `runs_needed`) are approximate there; the ranking of candidates is what the greedy uses.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._interval import Interval
from jscale.base._json import strict_json
from jscale.base._numerics import bucket, pad_repeating, read_only, x64_scope
from jscale.base._text import closest
from jscale.base._warnings import ExtrapolationWarning
from jscale.data._data import ScalingData
from jscale.decisions._allocation import ALLOCATION_COLUMNS, allocation_terms, check_cost, positive_array
from jscale.engine._solve import SUCCESS
from jscale.inference._results import BootstrapResult, FitResult
from jscale.inference._uncertainty import check_level, normal_quantile

QUANTITIES = ("n_params", "n_tokens", "tokens_per_param", "loss")
# Candidates generated per budget along its iso-cost curve: tokens per parameter from 1/8 to 8
# times the fitted optimum's ratio (N from about 2.8x below to 2.8x above N*).
_RATIO_SPAN = 8.0
_PER_BUDGET = 13
# The 95% point of chi-square with one degree of freedom: basins within it are plausible.
_CHI2_95 = 3.841458820694124


# --- the values whose covariance drives the design ---------------------------------------------------


def _values(theta, target, x, *, law, cost, quantity, residual, at_compute):
    """(1 + K,): log q, then the law at the K candidates in residual space."""
    if at_compute:
        head = allocation_terms(theta, target, {}, law, cost)[quantity]
    else:
        head = law.log_predict(theta, target)[0]
    model = law.log_predict(theta, x) if residual == "log" else law.predict(theta, x)
    return jnp.concatenate([head[None], model])


_STATIC = ("law", "cost", "quantity", "residual", "at_compute")


@functools.partial(jax.jit, static_argnames=_STATIC)
def _on_draws(thetas, target, x, **static):
    return jax.vmap(lambda t: _values(t, target, x, **static))(thetas)


@functools.partial(jax.jit, static_argnames=_STATIC)
def _jacobian(theta, target, x, **static):
    return jax.jacfwd(lambda t: _values(t, target, x, **static))(theta)


# --- the result ----------------------------------------------------------------------------------------


class RunPlan(struct.PyTreeNode, kw_only=True):
    """The runs `jscale.suggest_runs` proposes, in the order picked.

    Attributes:
        law, cost: static.
        quantity: what the design pins down: "n_params", "n_tokens", "tokens_per_param" or
            "loss" (static); `compute` is its target budget, or None for the loss at `point`.
        point: (n_params, n_tokens) of the loss, or None (static).
        estimate: the quantity's current estimate.
        sd_before, sd_after: standard deviation of log q now and after the proposed runs.
        n_params, n_tokens, cost_of_runs: (K,) the proposed runs (a run may repeat).
        reduction: (K,) variance of log q each run removes, given the ones before it.
        cumulative_cost: (K,) cost spent up to and with each run.
        budget: the total cost allowed; source: "bootstrap" or "curvature" (static).
        n_basins: plausible basins whose disagreement entered the variance (curvature only).

    `RunPlan.TARGETS` lists the quantities `suggest_runs` can pin down (its `quantity`).
    """

    TARGETS = QUANTITIES
    law: Any = struct.field(pytree_node=False)
    cost: Any = struct.field(pytree_node=False)
    quantity: str = struct.field(pytree_node=False)
    compute: float | None = struct.field(pytree_node=False)
    point: tuple | None = struct.field(pytree_node=False)
    source: str = struct.field(pytree_node=False)
    n_basins: int = struct.field(pytree_node=False)
    budget: float = struct.field(pytree_node=False)
    estimate: float
    sd_before: float
    sd_after: float
    n_params: np.ndarray
    n_tokens: np.ndarray
    cost_of_runs: np.ndarray
    reduction: np.ndarray
    cumulative_cost: np.ndarray

    def interval(self, level: float = 0.95, after: bool = True):
        """(low, high) of the quantity after the proposed runs (or now, `after=False`), from the
        predicted sd of its log."""
        z = normal_quantile(0.5 + check_level(level) / 2)
        sd = self.sd_after if after else self.sd_before
        return Interval(self.estimate * np.exp(-z * sd), self.estimate * np.exp(z * sd))

    def table(self, level: float | None = None) -> str:
        """One line per proposed run: N, D, its cost, the variance it removes and the cost so far (the
        runs carry no bands: `level` is taken so that every table answers the same call)."""
        lines = [f"{'#':>3} {'n_params':>11} {'n_tokens':>11} {'cost':>10} {'var. removed':>13} {'cumulative':>11}"]
        for k in range(len(self.n_params)):
            lines.append(f"{k + 1:>3} {self.n_params[k]:>11.4g} {self.n_tokens[k]:>11.4g} "
                         f"{self.cost_of_runs[k]:>10.3g} {self.reduction[k]:>13.4g} {self.cumulative_cost[k]:>11.3g}")
        return "\n".join(lines)

    def summary(self, level: float = 0.95) -> str:
        """What the plan is for, the interval now and after it, and `table()`."""
        what = (f"{self.quantity} at C = {self.compute:.3g}" if self.compute is not None else
                f"the loss at N = {self.point[0]:.3g}, D = {self.point[1]:.3g}")
        before, after = self.interval(level, after=False), self.interval(level)
        return (f"Runs that shrink the {100 * level:g}% interval of {what} most per unit cost (variance from the "
                f"{self.source}{f', {self.n_basins} plausible basins' if self.n_basins > 1 else ''}):\n"
                f"  now   {self.estimate:.4g} ({before[0]:.4g} to {before[1]:.4g})\n"
                f"  after {len(self.n_params)} runs costing {self.cost_of_runs.sum():.3g} of {self.budget:.3g}: "
                f"({after[0]:.4g} to {after[1]:.4g}), predicted\n{self.table()}")

    def to_dict(self, level: float = 0.95) -> dict:
        return {"quantity": self.quantity, "compute": self.compute, "point": self.point, "source": self.source,
                "estimate": float(self.estimate), "sd_before": float(self.sd_before),
                "sd_after": float(self.sd_after), "interval_before": list(map(float, self.interval(level, False))),
                "interval_after": list(map(float, self.interval(level))), "budget": self.budget,
                "runs": [{"n_params": float(n), "n_tokens": float(d), "cost": float(c), "reduction": float(r)}
                         for n, d, c, r in zip(self.n_params, self.n_tokens, self.cost_of_runs, self.reduction)]}

    def __repr__(self) -> str:
        return f"RunPlan({len(self.n_params)} runs for {self.quantity}, sd {self.sd_before:.3g} -> {self.sd_after:.3g})"


# --- the pieces ------------------------------------------------------------------------------------------


def greedy(cov, noise: float, costs, *, budget: float, n: int, max_repeats: int):
    """The greedy design on a joint covariance `cov` (1 + K, 1 + K) of (log q, candidates):
    (picked indices, variance removed by each, variance of log q after each)."""
    cov = np.array(cov, np.float64)
    costs = np.asarray(costs, np.float64)
    picks, removed, left = [], [], []
    repeats = np.zeros(len(costs), np.int64)
    spent = 0.0
    for _ in range(n):
        diag = np.diag(cov)[1:]
        gain = cov[0, 1:] ** 2 / (diag + noise)
        feasible = (repeats < max_repeats) & (spent + costs <= budget * (1 + 1e-12)) & np.isfinite(gain)
        if not feasible.any():
            break
        k = int(np.argmax(np.where(feasible, gain / costs, -np.inf)))
        column = cov[:, k + 1].copy()
        cov = cov - np.outer(column, column) / (column[k + 1] + noise)
        picks.append(k)
        removed.append(float(gain[k]))
        left.append(float(max(cov[0, 0], 0.0)))
        repeats[k] += 1
        spent += costs[k]
    return np.asarray(picks, np.int64), np.asarray(removed), np.asarray(left)


def iso_cost_candidates(result, budgets, cost) -> dict:
    """Candidates along the iso-cost curve of each budget: tokens per parameter from 1/8 to 8 times
    the fitted compute-optimal ratio there, `_PER_BUDGET` per budget."""
    from jscale.decisions._allocation import compute_optimal  # a function of the public layer, used as one

    budgets = positive_array("budgets", budgets)
    with warnings.catch_warnings():  # where the candidates lie is the planner's business, not a finding
        warnings.simplefilter("ignore", ExtrapolationWarning)
        alloc = compute_optimal(result.fit if isinstance(result, BootstrapResult) else result, budgets, cost=cost)
    n, d = [], []
    for c, n_star, ratio in zip(budgets, alloc.n_params, alloc.tokens_per_param):
        for r in ratio * np.geomspace(1 / _RATIO_SPAN, _RATIO_SPAN, _PER_BUDGET):
            size = _on_budget(cost, c, r, n_star)
            n.append(size)
            d.append(r * size)
    return {"n_params": np.asarray(n), "n_tokens": np.asarray(d)}


def _on_budget(cost, budget: float, ratio: float, guess: float) -> float:
    """N with cost(N, ratio N) = budget (Newton in log N from the 6ND guess)."""
    log_n = np.log(np.sqrt(budget / (6.0 * ratio)))
    for _ in range(50):
        value = float(cost(np.exp(log_n), ratio * np.exp(log_n)))
        step = 1e-6
        slope = (np.log(float(cost(np.exp(log_n + step), ratio * np.exp(log_n + step)))) - np.log(value)) / step
        delta = (np.log(value) - np.log(budget)) / slope
        log_n -= delta
        if abs(delta) < 1e-12:
            break
    return float(np.exp(log_n))


def _check_candidates(candidates) -> dict:
    if isinstance(candidates, ScalingData):
        candidates.require(*ALLOCATION_COLUMNS, who="suggest_runs' candidates")
        candidates = {c: candidates[c] for c in ALLOCATION_COLUMNS}
    if not isinstance(candidates, dict) or set(candidates) != set(ALLOCATION_COLUMNS):
        raise ValueError("candidates must be a ScalingData or a dict with exactly n_params and n_tokens arrays.")
    n, d = (positive_array(f"candidates[{c!r}]", candidates[c]) for c in ALLOCATION_COLUMNS)
    try:
        n, d = np.broadcast_arrays(n, d)
    except ValueError:
        raise ValueError(f"candidates: n_params ({n.size}) and n_tokens ({d.size}) differ in length.") from None
    return {"n_params": n, "n_tokens": d}


def _basins(fit: FitResult, values_of) -> tuple[np.ndarray, int]:
    """Covariance of the values between the plausible basins of the fit's starts, and their count."""
    terms = fit.curvature
    n_obs, p = float(terms["sum_w"]), fit.law.n_free
    scale = (float(terms["sum_psi2"]) / max(n_obs - p, 1.0)) / (float(terms["sum_dpsi"]) / n_obs)
    stat = 2.0 * (np.asarray(fit.objectives) - fit.objective) / scale
    ok = (np.asarray(fit.status) == SUCCESS) & np.isfinite(stat) & (stat <= _CHI2_95)
    ends = np.asarray(fit.end_params)[ok]
    if len(ends) < 2:
        return 0.0, 1
    # Distinct minima: end points apart by more than 1e-4 in free units.
    keep, stats = [], []
    for e, s in zip(ends, stat[ok]):
        if all(np.max(np.abs(e - k)) > 1e-4 for k in keep):
            keep.append(e)
            stats.append(s)
    if len(keep) < 2:
        return 0.0, 1
    values = values_of(np.asarray(keep))
    weight = np.exp(-0.5 * np.asarray(stats))
    weight = weight / weight.sum()
    centred = values - weight @ values
    return (centred * weight[:, None]).T @ centred, len(keep)


def _covariance(result, fit: FitResult, target, x, k: int, static: dict, covariance: str):
    """(estimate of q, joint covariance (1 + K, 1 + K), its source, plausible basins)."""
    theta = np.asarray(fit.end_params[fit.best_index])
    with x64_scope():
        args = (jax.tree.map(jnp.asarray, target), jax.tree.map(jnp.asarray, x))

        def values_of(thetas):
            size = bucket(len(thetas))
            out = _on_draws(jnp.asarray(pad_repeating(np.asarray(thetas), size)), *args, **static)
            return np.asarray(out)[:len(thetas), :k + 1]

        estimate = float(np.exp(values_of(theta[None])[0, 0]))
        if isinstance(result, BootstrapResult):
            draws = values_of(np.asarray(result.free_draws)[result.draw_ok])
            draws = draws[np.all(np.isfinite(draws), axis=1)]
            if len(draws) < 3:
                raise ValueError("Too few usable bootstrap draws for a covariance; bootstrap with more resamples.")
            return estimate, np.cov(draws, rowvar=False), "bootstrap draws", 1
        free_cov = fit.free_covariance(covariance)
        if free_cov is None or not np.all(np.isfinite(free_cov)):
            raise ValueError("The fit's curvature covariance is not finite (a singular Hessian); bootstrap the fit "
                             "and pass the BootstrapResult.")
        jac = np.asarray(_jacobian(jnp.asarray(theta), *args, **static))[:k + 1]
        extra, n_basins = _basins(fit, values_of)
        return estimate, jac @ free_cov @ jac.T + extra, "curvature (Laplace)", n_basins


def _target(result, quantity, compute, n_params, n_tokens, cost, who: str):
    """Checked (fit, law, cost, target, point): target is log C for a quantity at a budget (point
    None), or the law's inputs at the point (n_params, n_tokens) of the loss."""
    if not isinstance(result, (FitResult, BootstrapResult)):
        raise TypeError(f"{who} takes a FitResult or a BootstrapResult; got {type(result).__name__}.")
    fit = result.fit if isinstance(result, BootstrapResult) else result
    law = fit.law
    cost = check_cost(law, cost)
    if any(c not in ALLOCATION_COLUMNS for c in law.columns):
        raise ValueError(f"{who} plans runs of n_params and n_tokens; the {law.name} law also reads "
                         f"{', '.join(c for c in law.columns if c not in ALLOCATION_COLUMNS)}.")
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(QUANTITIES)}; got {quantity!r}"
                         f"{closest(str(quantity), QUANTITIES)}.")
    at_compute = compute is not None
    if at_compute == (n_params is not None or n_tokens is not None):
        raise ValueError("Give the target as compute= (N*, D*, D*/N* or L* there) or as n_params= and n_tokens= "
                         "(the loss at that point), not both or neither.")
    if not at_compute and (quantity != "loss" or n_params is None or n_tokens is None):
        raise ValueError("With n_params= and n_tokens=, the quantity is the loss there: pass quantity='loss' and both.")
    if at_compute:
        return fit, law, cost, np.log(positive_array("compute", compute)[:1])[0], None
    point = (float(positive_array("n_params", n_params)[0]), float(positive_array("n_tokens", n_tokens)[0]))
    return fit, law, cost, law.inputs({"n_params": np.array([point[0]]), "n_tokens": np.array([point[1]])}), point


def effective_noise(fit: FitResult) -> float:
    """The variance of one run's contribution to the fit, mean(psi^2) / mean(psi')^2 over the rows
    (M-estimation's efficiency: the residual variance for squared loss; for a Huber fit larger,
    as its covariance is), so that a new run carries as much information as a fitted one did."""
    terms = fit.curvature
    n = float(terms["sum_w"])
    return (float(terms["sum_psi2"]) / max(n - fit.law.n_free, 1.0)) / (float(terms["sum_dpsi"]) / n) ** 2


def _check_noise(fit: FitResult, noise) -> float:
    noise = effective_noise(fit) if noise is None else float(noise)
    if not (np.isfinite(noise) and noise > 0):
        raise ValueError(f"noise must be a positive variance; got {noise!r}.")
    return noise


def _joint(result, fit, quantity, target, point, candidates: dict, cost, covariance):
    """(estimate of q, joint covariance of (log q, the candidates), its source, plausible basins)."""
    law = fit.law
    k = len(candidates["n_params"])
    x = law.inputs({c: pad_repeating(v, max(64, bucket(k))) for c, v in candidates.items()})
    static = dict(law=law, cost=cost, quantity=quantity, residual=fit.residual, at_compute=point is None)
    return _covariance(result, fit, target, x, k, static, covariance)


# --- the public function ---------------------------------------------------------------------------------


def suggest_runs(result, *, quantity: str = "n_params", compute=None, n_params=None, n_tokens=None,
                 candidates=None, budgets=None, budget: float, n: int = 8, cost=None, max_repeats: int = 2,
                 noise: float | None = None, covariance: str = "hessian") -> RunPlan:
    """Which runs to train next: a batch chosen greedily by the expected reduction of a quantity's
    variance per unit cost (see the module docstring of `jscale.decisions._design`).

    Args:
        result: a `BootstrapResult` (variance from its draws) or a `FitResult` (from the
            curvature, plus the disagreement of the plausible basins its starts found), of a law
            of n_params and n_tokens.
        quantity: what the runs should pin down: "n_params" (N*), "n_tokens" (D*),
            "tokens_per_param" (D*/N*) or "loss" (L*) at the budget `compute`; or "loss" at
            `n_params` and `n_tokens` (one point) instead of `compute`.
        compute: the target budget C (in the units of `cost`).
        n_params, n_tokens: with quantity="loss", the point whose loss matters.
        candidates: the runs to choose from, a ScalingData or {"n_params": ..., "n_tokens": ...};
            default: along the iso-cost curves of `budgets`, 13 per budget around the fitted
            optimum (tokens per parameter from 1/8 to 8 times its ratio).
        budgets: the budgets of the generated candidates; default six from budget/64 to budget/2.
        budget: the total cost the proposed runs may spend.
        n: at most this many runs.
        cost: cost(n_params, n_tokens) (default 6ND), as in `jscale.compute_optimal`; the cost of
            a run and of the target allocation.
        max_repeats: at most this many runs at one candidate (keeps the design from collapsing
            onto one or two points, which could not check the law's form). The most efficient
            designs repeat a few candidates: in simulated studies (benchmarks/bench_design.py,
            README) three uncapped batches after a small pilot halved the error of log10 N* of an
            isoFLOP grid at equal compute, and capped at 2 per batch cut it by a third; raise it
            when one call plans a large share of a study.
        noise: the variance a new run adds, in the fit's residual space; default the fit's
            effective noise, mean(psi^2) / mean(psi')^2 over its rows (the residual variance for
            squared loss; larger for a Huber fit, whose covariance is larger too), so that a new
            run informs the fit as much as a fitted one did.
        covariance: the curvature covariance of a FitResult: "hessian" (default), whose scale is
            the effective noise times the inverse information, so that conditioning on a new run
            (information J J^T / noise) is consistent with it; "sandwich" is robust to
            heteroscedastic residuals but not additive in runs (with a Huber fit it can make a
            replicate of the data look worth several).

    Returns:
        A `RunPlan`: the runs in order (`n_params`, `n_tokens`, `cost_of_runs`, `reduction`,
        `cumulative_cost`), the sd of log q before and after, `interval(level, after=)`,
        `table()`, `summary()`.

    Example:
        >>> import jscale  # doctest: +SKIP
        >>> data = jscale.datasets.load("chinchilla")  # doctest: +SKIP
        >>> boot = jscale.bootstrap(jscale.laws.Chinchilla(), data, key=0)  # doctest: +SKIP
        >>> plan = jscale.suggest_runs(boot, compute=1e24, budget=1e21, n=8)  # doctest: +SKIP
    """
    fit, law, cost, target, point = _target(result, quantity, compute, n_params, n_tokens, cost, "suggest_runs")
    budget = float(positive_array("budget", budget)[0])
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}.")
    if isinstance(max_repeats, bool) or not isinstance(max_repeats, int) or max_repeats < 1:
        raise ValueError(f"max_repeats must be a positive integer; got {max_repeats!r}.")
    if candidates is None:
        budgets = np.geomspace(budget / 64, budget / 2, 6) if budgets is None else budgets
        candidates = iso_cost_candidates(result, budgets, cost)
    elif budgets is not None:
        raise ValueError("Pass candidates= or budgets= (to generate candidates), not both.")
    candidates = _check_candidates(candidates)
    noise = _check_noise(fit, noise)
    estimate, cov, source, n_basins = _joint(result, fit, quantity, target, point, candidates, cost, covariance)
    costs = np.asarray(cost(candidates["n_params"], candidates["n_tokens"]), np.float64)
    picks, removed, left = greedy(cov, noise, costs, budget=budget, n=n, max_repeats=max_repeats)
    at_compute = point is None
    return RunPlan(law=law, cost=cost, quantity=quantity, compute=float(np.exp(target)) if at_compute else None,
                   point=point, source=source, n_basins=int(n_basins), budget=budget, estimate=estimate,
                   sd_before=float(np.sqrt(max(cov[0, 0], 0.0))),
                   sd_after=float(np.sqrt(left[-1])) if len(left) else float(np.sqrt(max(cov[0, 0], 0.0))),
                   n_params=read_only(candidates["n_params"][picks]), n_tokens=read_only(candidates["n_tokens"][picks]),
                   cost_of_runs=read_only(costs[picks]), reduction=read_only(removed),
                   cumulative_cost=read_only(np.cumsum(costs[picks])))


class SampleSize(struct.PyTreeNode, kw_only=True):
    """How many replicates of a design a target interval width needs (`jscale.runs_needed`).

    Attributes:
        quantity, compute, point: the target, as in `RunPlan` (static).
        level, width: the interval's level and the relative width asked for, (high - low) / q
            (static).
        estimate: the quantity's current estimate.
        sd_now, sd_target: sd of log q now and the one the width asks for.
        sd_limit: the sd left with infinitely many replicates of the design (what it cannot
            pin down: a design far from the target, or disagreement between basins).
        replicates: replicates of the whole design needed (0: the width is already met; inf: the
            design cannot reach it).
        runs_per_replicate, cost_per_replicate: the design's size and cost.
    """

    quantity: str = struct.field(pytree_node=False)
    compute: float | None = struct.field(pytree_node=False)
    point: tuple | None = struct.field(pytree_node=False)
    level: float = struct.field(pytree_node=False)
    width: float = struct.field(pytree_node=False)
    estimate: float
    sd_now: float
    sd_target: float
    sd_limit: float
    replicates: float
    runs_per_replicate: int = struct.field(pytree_node=False)
    cost_per_replicate: float

    @property
    def n_runs(self) -> float:
        """Runs needed in all (replicates times the design's runs)."""
        return self.replicates * self.runs_per_replicate

    @property
    def total_cost(self) -> float:
        return self.replicates * self.cost_per_replicate

    def interval(self, level: float | None = None) -> Interval:
        """The quantity's interval now, estimate x exp(+-z sd_now), at `level` (default: the level
        the width was asked at)."""
        z = normal_quantile(0.5 + check_level(self.level if level is None else level) / 2)
        return Interval(self.estimate * np.exp(-z * self.sd_now), self.estimate * np.exp(z * self.sd_now))

    def to_dict(self, level: float | None = None) -> dict:
        """Strict-JSON-ready: the target, the width asked (at the level it was asked at), the
        replicates, runs and cost it needs, and the interval now at `level` (default: that level)."""
        level = self.level if level is None else check_level(level)
        return strict_json({"kind": "sample_size", "quantity": self.quantity, "compute": self.compute,
                            "point": self.point, "width": self.width, "width_level": self.level,
                            "estimate": self.estimate, "sd_now": self.sd_now, "sd_target": self.sd_target,
                            "sd_limit": self.sd_limit, "replicates": self.replicates, "n_runs": self.n_runs,
                            "runs_per_replicate": self.runs_per_replicate, "total_cost": self.total_cost,
                            "level": level, "interval_now": list(self.interval(level))})

    def summary(self, level: float | None = None) -> str:
        """The width now and asked, and the replicates needed; with a `level` other than the one the
        width was asked at, the interval now at that level too."""
        what = (f"{self.quantity} at C = {self.compute:.3g}" if self.compute is not None else
                f"the loss at N = {self.point[0]:.3g}, D = {self.point[1]:.3g}")
        now = 2 * np.sinh(normal_quantile(0.5 + self.level / 2) * self.sd_now)
        head = (f"{100 * self.level:g}% interval of {what} ({self.estimate:.4g}): relative width {now:.3g} now, "
                f"{self.width:.3g} asked.")
        if level is not None and check_level(level) != self.level:
            low, high = self.interval(level)
            head += f" Its {100 * level:g}% interval now: ({low:.4g}, {high:.4g})."
        if not np.isfinite(self.replicates):
            limit = 2 * np.sinh(normal_quantile(0.5 + self.level / 2) * self.sd_limit)
            return (f"{head} This design cannot get there: with unlimited replicates the width stays above "
                    f"{limit:.3g}; add runs nearer the target.")
        return (f"{head} Needs {self.replicates:,.0f} more replicate(s) of the {self.runs_per_replicate}-run design: "
                f"{self.n_runs:,.0f} runs costing {self.total_cost:.3g}.")


def _variance_after(cov, noise: float, m: float) -> float:
    """Variance of log q after m replicates of every candidate (each observed with noise / m)."""
    if m == 0:
        return float(cov[0, 0])
    lam, vec = np.linalg.eigh(cov[1:, 1:])
    lam, proj, shrink = np.maximum(lam, 0.0), vec.T @ cov[0, 1:], noise / m
    # Without noise (the limit of unlimited replicates) a direction the candidates do not vary in
    # (eigenvalue ~0, more candidates than parameters) removes nothing: a pseudo-inverse, where
    # dividing by its rounding-level eigenvalue would give inf or NaN.
    seen = lam + shrink > np.finfo(np.float64).eps * len(lam) * max(float(lam.max()), np.finfo(np.float64).tiny)
    return float(cov[0, 0] - np.sum(proj[seen] ** 2 / (lam[seen] + shrink)))


def runs_needed(result, *, width: float, design, quantity: str = "n_params", compute=None, n_params=None,
                n_tokens=None, level: float = 0.95, cost=None, noise: float | None = None,
                covariance: str = "hessian") -> SampleSize:
    """How many replicates of a design of runs bring the `level` interval of a quantity to a
    relative width (high - low) / q of `width` (in the spirit of Besiroglu et al. 2024,
    arXiv:2404.10102, on the runs Hoffmann et al.'s intervals would need).

    Every replicate runs each of the design's configurations once more; with m replicates each
    configuration's mean is observed with variance noise / m, and the variance of log q follows by
    Gaussian conditioning on the joint covariance of `jscale.suggest_runs` (from the bootstrap
    draws, or the curvature with basin disagreement). The smallest integer m that meets the
    width is found by bisection; m is infinite where even unlimited replicates cannot (the
    part of the variance the design does not inform, `sd_limit`).

    Args:
        result: a `FitResult` or `BootstrapResult` (the study so far).
        width: the relative width asked for, e.g. 0.1 for an interval of about +-5%.
        design: the runs of one replicate, a ScalingData or {"n_params": ..., "n_tokens": ...}
            (e.g. the data fitted, to ask how many repeats of the whole study are needed).
        quantity, compute, n_params, n_tokens, cost, noise, covariance: as in `suggest_runs`.
        level: the interval's level (default 0.95).

    Returns:
        A `SampleSize` (replicates, n_runs, total_cost, sd_now, sd_target, sd_limit; `summary()`).
    """
    fit, _, cost, target, point = _target(result, quantity, compute, n_params, n_tokens, cost, "runs_needed")
    level = check_level(level)
    width = float(positive_array("width", width)[0])
    design = _check_candidates(design)
    noise = _check_noise(fit, noise)
    estimate, cov, _, _ = _joint(result, fit, quantity, target, point, design, cost, covariance)
    sd_target = float(np.arcsinh(width / 2) / normal_quantile(0.5 + level / 2))
    limit = max(_variance_after(cov, 0.0, 1.0), 0.0)  # noise 0: as with infinitely many replicates
    if cov[0, 0] <= sd_target ** 2:
        replicates = 0.0
    elif limit >= sd_target ** 2 * (1 - 1e-12):
        replicates = float("inf")
    else:
        low, high = 0, 1
        while _variance_after(cov, noise, high) > sd_target ** 2:
            low, high = high, high * 2
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if _variance_after(cov, noise, mid) > sd_target ** 2 else (low, mid)
        replicates = float(high)
    costs = np.asarray(cost(design["n_params"], design["n_tokens"]), np.float64)
    return SampleSize(quantity=quantity, compute=float(np.exp(target)) if point is None else None, point=point,
                      level=level, width=width, estimate=estimate, sd_now=float(np.sqrt(max(cov[0, 0], 0.0))),
                      sd_target=sd_target, sd_limit=float(np.sqrt(limit)), replicates=replicates,
                      runs_per_replicate=len(costs), cost_per_replicate=float(costs.sum()))
