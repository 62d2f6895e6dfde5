"""Which runs to train next: greedy experiment design by the expected reduction of a target's variance.

The target is what the study is for: either a quantity q at a target compute, N*, D*, D*/N* or
L* (the compute-optimal allocation of `jscale.compute_optimal`), whose log the planner works
with; or the law's predictions over a set of T configurations (`region=`: e.g. the large runs a
study means to predict; one point is a region of one), whose logs it works with, lowering their
mean variance (the integrated-variance or I-optimal criterion of optimal design; Atkinson,
Donev and Tobias 2007, *Optimum Experimental Designs, with SAS*, ch. 10). For K candidate runs x_k,
let m_k(theta) be the law at x_k in the fit's residual space (log loss for log residuals). The
joint covariance C of (the T target values, m_1, ..., m_K) comes from

* the bootstrap draws (the empirical covariance of the values on every converged draw), or
* the curvature (Laplace): C = G S G^T with G the Jacobian of the values by autodiff (through
  the implicit derivatives of the optimum) and S the fit's curvature covariance, plus the
  covariance of the values between the plausible basins the starts ended in (end points whose
  objective is within the 95% likelihood-ratio bound of the best, weighted by their likelihood
  ratio), so that disagreement between minima is part of the variance. Where the curvature is
  singular (seed runs that leave a combination of parameters undetermined: all at one model
  size, or fewer runs than parameters), S is the inverse of the information H / (noise mean(psi'))
  plus a weak Gaussian prior of sd `PRIOR_SD` on every free parameter: the undetermined
  combinations get a large variance, so the planner favours the runs that determine them, and
  the plan says so in its `notes`.

A new run at x_k observes m_k plus noise of variance s^2 (the fit's residual variance). Gaussian
conditioning on it lowers the mean variance of the T target values by
sum_t C[t, k]^2 / (T (C[k, k] + s^2)) and updates C by C - C[:, k] C[k, :] / (C[k, k] + s^2),
exactly the posterior covariance of a linear-Gaussian model (Laplace) or the Gaussian
approximation of the draws. The planner picks, one run at a time, the candidate of largest
reduction per unit of cost^e (e = `cost_exponent`: 1 by default, reduction per unit cost; below
1 it leans towards dearer, more informative runs) that still fits the budget and has been
picked fewer than `max_repeats` times, and conditions on it.

The conditioning treats a new run as adding information J J^T / noise, with the fit's effective
noise mean(psi^2) / mean(psi')^2. For least squares this is exactly the refit's covariance (a
test checks it); for a robust (Huber) fit it is the expected information of a run, while the
fit's own covariance rests on the rows that happened to fall inside delta, so absolute figures
(e.g. `runs_needed`) are approximate there; the ranking of candidates is what the greedy uses.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._interval import Interval
from jscale.base._json import strict_json
from jscale.base._numerics import bucket, pad_repeating, read_only, x64_scope
from jscale.base._text import closest
from jscale.base._warnings import ExtrapolationWarning, IntervalWarning
from jscale.data._data import ScalingData
from jscale.decisions._allocation import (
    ALLOCATION_COLUMNS,
    allocation_terms,
    check_cost,
    chinchilla_cost,
    positive_array,
)
from jscale.engine._solve import SUCCESS
from jscale.inference._diagnostics import extrapolation
from jscale.inference._predict import codes_for
from jscale.inference._results import BootstrapResult, FitResult
from jscale.inference._uncertainty import COVARIANCES, check_level, free_covariance, normal_quantile

QUANTITIES = ("n_params", "n_tokens", "tokens_per_param", "loss")
# Candidates generated per budget along its iso-cost curve: tokens per parameter from 1/8 to 8
# times the fitted optimum's ratio (N from about 2.8x below to 2.8x above N*).
_RATIO_SPAN = 8.0
_PER_BUDGET = 13
# The 95% point of chi-square with one degree of freedom: basins within it are plausible.
_CHI2_95 = 3.841458820694124
# The prior sd (free units: log of a positive parameter, the value of a free one) that completes a
# singular curvature. Weak against any determined direction (a fit's free sds are ~1e-3..1), so it
# only decides how far the undetermined directions may roam; as large as it is, the greedy's
# subtractions still keep 6 of float64's 16 digits (a variance of 1e2 conditioned down to 1e-8).
PRIOR_SD = 10.0
# A target (compute, or a configuration of the region) at most this many decades beyond the fitted
# runs: past it a plan would rank runs by a linearisation nothing in the data speaks to (1e300 FLOP
# is ~280 decades beyond any study), so suggest_runs refuses it.
MAX_DECADES = 20.0


# --- the values whose covariance drives the design ---------------------------------------------------


def _values(theta, head, x, *, law, cost, quantity, residual, at_compute):
    """(T + K,): the T target values (log q at log C = `head`, or the log law at the
    configurations `head`), then the law at the K candidates in residual space."""
    if at_compute:
        first = allocation_terms(theta, head, {}, law, cost)[quantity][None]
    else:
        first = law.log_predict(theta, head)
    model = law.log_predict(theta, x) if residual == "log" else law.predict(theta, x)
    return jnp.concatenate([first, model])


_STATIC = ("law", "cost", "quantity", "residual", "at_compute")


@functools.partial(jax.jit, static_argnames=_STATIC)
def _on_draws(thetas, head, x, **static):
    return jax.vmap(lambda t: _values(t, head, x, **static))(thetas)


@functools.partial(jax.jit, static_argnames=_STATIC)
def _jacobian(theta, head, x, **static):
    return jax.jacfwd(lambda t: _values(t, head, x, **static))(theta)


# --- the result ----------------------------------------------------------------------------------------


def _rms(sd) -> float:
    """The root mean square of sds: the sd whose variance is their mean variance."""
    return float(np.sqrt(np.mean(np.square(sd))))


def _cell(value) -> str:
    return f"{value:>11.4g}" if isinstance(value, (int, float, np.number)) else f"{str(value):>11}"


class RunPlan(struct.PyTreeNode, kw_only=True):
    """The runs `jscale.suggest_runs` proposes, in the order picked.

    Attributes:
        law: static.
        cost: how a run's cost was read (static): the cost function, the name of the candidates'
            column, or "given per candidate".
        quantity: what the design pins down: "n_params", "n_tokens", "tokens_per_param" or
            "loss" at the budget `compute`, or "loss" (the law's prediction) at `point` or over
            `region` (static).
        compute: the target budget, or None; point: (n_params, n_tokens) of the loss, or None
            (static).
        region: the target configurations, column -> (T,) values, or None.
        estimate: the quantity's current estimate; over a region, (T,) predictions.
        sd_before, sd_after: standard deviation of log q now and after the proposed runs; over a
            region, (T,) one per configuration (the design lowers their mean variance).
        indices: (K,) the row of `candidates` each proposed run is (a run may repeat), or None
            for generated candidates.
        runs: the proposed runs' columns, column -> (K,) values (the law's columns; labels as given).
        n_params, n_tokens: (K,) the proposed runs' N and D, or None where the candidates lack them.
        cost_of_runs, reduction, cumulative_cost: (K,) each run's cost, the (mean) variance of the
            target it removes given the ones before it, and the cost spent up to and with it.
        budget: the total cost allowed; cost_exponent: e of the reduction per unit cost^e (of
            several asked, the one kept);
            source: "bootstrap draws" or "curvature (Laplace)"; n_basins: plausible basins whose
            disagreement entered the variance (curvature only); notes: what a reader should know,
            e.g. that the curvature was singular and completed by a prior (all static).

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
    cost_exponent: float = struct.field(pytree_node=False, default=1.0)
    notes: tuple = struct.field(pytree_node=False, default=())
    region: dict | None = None
    estimate: Any
    sd_before: Any
    sd_after: Any
    indices: np.ndarray | None = None
    runs: dict
    n_params: np.ndarray | None
    n_tokens: np.ndarray | None
    cost_of_runs: np.ndarray
    reduction: np.ndarray
    cumulative_cost: np.ndarray

    def interval(self, level: float = 0.95, after: bool = True):
        """(low, high) of the quantity after the proposed runs (or now, `after=False`), from the
        predicted sd of its log; over a region, (T,) arrays."""
        z = normal_quantile(0.5 + check_level(level) / 2)
        sd = self.sd_after if after else self.sd_before
        return Interval(self.estimate * np.exp(-z * sd), self.estimate * np.exp(z * sd))

    def table(self, level: float | None = None) -> str:
        """One line per proposed run: its row of the candidates (if given), its columns, its cost,
        the variance it removes and the cost so far (the runs carry no bands: `level` is taken so
        that every table answers the same call)."""
        columns = list(self.runs)
        head = (["#"] + (["row"] if self.indices is not None else []) + columns
                + ["cost", "var. removed", "cumulative"])
        widths = [3] + ([6] if self.indices is not None else []) + [11] * len(columns) + [10, 13, 11]
        lines = [" ".join(f"{h:>{w}}" for h, w in zip(head, widths))]
        for k in range(len(self.cost_of_runs)):
            cells = [f"{k + 1:>3}"] + ([f"{int(self.indices[k]):>6}"] if self.indices is not None else [])
            cells += [_cell(self.runs[c][k].item() if hasattr(self.runs[c][k], "item") else self.runs[c][k])
                      for c in columns]
            cells += [f"{self.cost_of_runs[k]:>10.3g}", f"{self.reduction[k]:>13.4g}",
                      f"{self.cumulative_cost[k]:>11.3g}"]
            lines.append(" ".join(cells))
        return "\n".join(lines)

    def _what(self) -> str:
        if self.compute is not None:
            return f"{self.quantity} at C = {self.compute:.3g}"
        if self.point is not None:
            return f"the loss at N = {self.point[0]:.3g}, D = {self.point[1]:.3g}"
        return f"the prediction over {len(self.sd_before)} configurations"

    def summary(self, level: float = 0.95) -> str:
        """What the plan is for, the interval now and after it (over a region, the root mean square
        sd of the log prediction), its notes and `table()`."""
        per = "per unit cost" if self.cost_exponent == 1 else f"per unit cost^{self.cost_exponent:g}"
        basins = f", {self.n_basins} plausible basins" if self.n_basins > 1 else ""
        spent = f"after {len(self.cost_of_runs)} runs costing {self.cost_of_runs.sum():.3g} of {self.budget:.3g}"
        if self.region is None:
            before, after = self.interval(level, after=False), self.interval(level)
            text = (f"Runs that shrink the {100 * level:g}% interval of {self._what()} most {per} (variance from the "
                    f"{self.source}{basins}):\n"
                    f"  now   {self.estimate:.4g} ({before[0]:.4g} to {before[1]:.4g})\n"
                    f"  {spent}: ({after[0]:.4g} to {after[1]:.4g}), predicted\n")
        else:
            text = (f"Runs that lower the mean variance of the log prediction over {len(self.sd_before)} "
                    f"configurations most {per} (variance from the {self.source}{basins}):\n"
                    f"  now   root mean square sd of the log prediction {_rms(self.sd_before):.4g}\n"
                    f"  {spent}: {_rms(self.sd_after):.4g}, predicted\n")
        return text + "".join(f"  Note: {note}\n" for note in self.notes) + self.table()

    def to_dict(self, level: float = 0.95) -> dict:
        """Strict-JSON-ready: the target, the sds and intervals before and after, the notes and the runs."""
        runs = [{**{c: self.runs[c][k] for c in self.runs}, "cost": self.cost_of_runs[k],
                 "reduction": self.reduction[k], **({"row": self.indices[k]} if self.indices is not None else {})}
                for k in range(len(self.cost_of_runs))]
        return strict_json({"quantity": self.quantity, "compute": self.compute, "point": self.point,
                            "region": self.region, "source": self.source, "cost_exponent": self.cost_exponent,
                            "estimate": self.estimate, "sd_before": self.sd_before, "sd_after": self.sd_after,
                            "interval_before": list(self.interval(level, False)),
                            "interval_after": list(self.interval(level)), "budget": self.budget,
                            "notes": list(self.notes), "runs": runs})

    def __repr__(self) -> str:
        if self.region is None:
            return (f"RunPlan({len(self.cost_of_runs)} runs for {self.quantity}, sd {self.sd_before:.3g} -> "
                    f"{self.sd_after:.3g})")
        return (f"RunPlan({len(self.cost_of_runs)} runs for the prediction over {len(self.sd_before)} configurations, "
                f"rms sd {_rms(self.sd_before):.3g} -> {_rms(self.sd_after):.3g})")


# --- the pieces ------------------------------------------------------------------------------------------


def greedy(cov, noise: float, costs, *, budget: float, n: int | None, max_repeats: int, n_head: int = 1,
           cost_exponent: float = 1.0):
    """The greedy design on a joint covariance `cov` (T + K, T + K) of (the T target values, the K
    candidates): (picked indices, mean variance of the targets each removes, mean variance of the
    targets after each, (T,) variance of every target after all). `n` None: no cap on the count."""
    cov = np.array(cov, np.float64)
    costs = np.asarray(costs, np.float64)
    weight = costs ** cost_exponent
    t = n_head
    picks, removed, left = [], [], []
    repeats = np.zeros(len(costs), np.int64)
    spent = 0.0
    while n is None or len(picks) < n:
        diag = np.diag(cov)[t:]
        gain = np.sum(cov[:t, t:] ** 2, axis=0) / t / (diag + noise)
        feasible = ((repeats < max_repeats) & (spent + costs <= budget * (1 + 1e-12)) & np.isfinite(gain)
                    & (gain > 0))
        if not feasible.any():
            break
        k = int(np.argmax(np.where(feasible, gain / weight, -np.inf)))
        column = cov[:, t + k].copy()
        cov = cov - np.outer(column, column) / (column[t + k] + noise)
        picks.append(k)
        removed.append(float(gain[k]))
        left.append(float(max(np.mean(np.diag(cov)[:t]), 0.0)))
        repeats[k] += 1
        spent += costs[k]
    return (np.asarray(picks, np.int64), np.asarray(removed), np.asarray(left),
            np.maximum(np.diag(cov)[:t], 0.0))


def iso_cost_candidates(result, budgets, cost) -> dict:
    """Candidates along the iso-cost curve of each budget: tokens per parameter from 1/8 to 8 times
    the fitted compute-optimal ratio there, `_PER_BUDGET` per budget."""
    from jscale.decisions._allocation import compute_optimal  # a function of the public layer, used as one

    budgets = positive_array("budgets", budgets)
    with warnings.catch_warnings():  # where the candidates lie is the planner's business, not a finding
        warnings.simplefilter("ignore", ExtrapolationWarning)
        warnings.simplefilter("ignore", IntervalWarning)  # the allocation's bands are not used
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
    """`runs_needed`'s design: exactly n_params and n_tokens arrays."""
    if isinstance(candidates, ScalingData):
        candidates.require(*ALLOCATION_COLUMNS, who="runs_needed's design")
        candidates = {c: candidates[c] for c in ALLOCATION_COLUMNS}
    if not isinstance(candidates, dict) or set(candidates) != set(ALLOCATION_COLUMNS):
        raise ValueError("design must be a ScalingData or a dict with exactly n_params and n_tokens arrays.")
    n, d = (positive_array(f"design[{c!r}]", candidates[c]) for c in ALLOCATION_COLUMNS)
    try:
        n, d = np.broadcast_arrays(n, d)
    except ValueError:
        raise ValueError(f"design: n_params ({n.size}) and n_tokens ({d.size}) differ in length.") from None
    return {"n_params": n, "n_tokens": d}


# --- tables of runs (candidates, a region) --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Table:
    """Rows given as a ScalingData or a mapping: the law's columns (natural units, categorical as
    the fitted codes), the same as given (labels) and a reader of any other column."""

    values: dict
    shown: dict
    size: int
    source: Any

    def column(self, name: str):
        """Another column of the table (e.g. a cost), as (size,) float64, or None where it has none."""
        has = self.source.columns if isinstance(self.source, ScalingData) else self.source
        if name not in has:
            return None
        try:
            values = np.atleast_1d(np.asarray(self.source[name], np.float64))
        except (TypeError, ValueError):
            raise ValueError(f"Column {name!r} of the candidates must hold numbers.") from None
        if values.shape != (self.size,):
            raise ValueError(f"Column {name!r} of the candidates has shape {values.shape}; the candidates have "
                             f"{self.size} rows.")
        return values


def _table(name: str, table, law, summary) -> _Table:
    """The law's columns of `table` (a ScalingData or a mapping column -> values), checked."""
    if isinstance(table, ScalingData):
        has = table.columns
    elif isinstance(table, Mapping):
        has = tuple(table)
    else:
        raise TypeError(f"{name} must be a ScalingData or a mapping of column name -> values (e.g. "
                        f"{{'n_params': [...], 'n_tokens': [...]}}); got {type(table).__name__}.")
    missing = [c for c in law.columns if c not in has]
    if missing:
        raise ValueError(f"{name} lacks column {missing[0]!r}{closest(missing[0], has)}, which the {law.name} law "
                         f"reads (it reads {', '.join(law.columns)}; {name} has {', '.join(map(str, has)) or 'none'}).")
    values, shown = {}, {}
    for c in law.columns:
        raw = np.atleast_1d(np.asarray(table[c]))
        if raw.ndim != 1:
            raise ValueError(f"{name}[{c!r}] must be a 1-D array; got shape {raw.shape}.")
        labels = summary.levels_of(c) if summary is not None else None
        if labels is not None:
            values[c], shown[c] = codes_for(c, raw, labels), raw
            continue
        try:
            arr = raw.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{c!r}] must hold numbers; got {raw[:1].tolist()}.") from None
        bad = ~np.isfinite(arr) | ((arr <= 0) if c in law.log_columns else False)
        if bad.any():
            need = "finite and positive" if c in law.log_columns else "finite"
            raise ValueError(f"{name}[{c!r}] must be {need} for the {law.name} law; row {int(np.argmax(bad))} is "
                             f"{float(arr[bad][0])!r}.")
        values[c] = shown[c] = arr
    sizes = {c: len(v) for c, v in values.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"{name}'s columns differ in length: {', '.join(f'{c} has {k}' for c, k in sizes.items())}.")
    size = next(iter(sizes.values()))
    if size == 0:
        raise ValueError(f"{name} has no rows; give at least one.")
    return _Table(values=values, shown=shown, size=size, source=table)


def _run_costs(cost, table: _Table, cost_fn) -> tuple[np.ndarray, Any]:
    """(K,) the candidates' costs and how they were read: `cost_fn` (a checked function of N and D)
    where given; else `cost` as a function of the candidates' n_params and n_tokens, the name of
    a column of theirs, or one number per candidate; by default 6ND, else their compute column."""
    if cost_fn is None and cost is None:
        cost_fn = chinchilla_cost if all(table.column(c) is not None for c in ALLOCATION_COLUMNS) else None
        cost = cost if cost_fn is not None else "compute"
        if cost_fn is None and table.column("compute") is None:
            raise ValueError("The candidates have neither n_params and n_tokens (for the default cost 6ND) nor a "
                             "compute column; pass cost= (a column name, one cost per candidate, or a function "
                             "cost(n_params, n_tokens)).")
    if cost_fn is None and callable(cost):
        cost_fn = cost
    if cost_fn is not None:
        n, d = (table.column(c) for c in ALLOCATION_COLUMNS)
        if n is None or d is None:
            raise ValueError("cost is a function of n_params and n_tokens, which the candidates lack; pass cost= as "
                             "the name of a column of theirs or as one cost per candidate.")
        with x64_scope():
            costs, how = np.asarray(cost_fn(n, d), np.float64) * np.ones(table.size), cost_fn
    elif isinstance(cost, str):
        costs, how = table.column(cost), cost
        if costs is None:
            raise ValueError(f"cost={cost!r} names no column of the candidates.")
    else:
        try:
            costs = np.atleast_1d(np.asarray(cost, np.float64))
        except (TypeError, ValueError):
            raise TypeError("cost must be a function cost(n_params, n_tokens), the name of a column of the "
                            f"candidates or one number per candidate; got {type(cost).__name__}.") from None
        how = "given per candidate"
        if costs.shape != (table.size,):
            raise ValueError(f"cost gives {costs.size} costs for {table.size} candidates; give one per candidate.")
    bad = ~(np.isfinite(costs) & (costs > 0))
    if bad.any():
        raise ValueError(f"Every candidate's cost must be positive and finite; candidate {int(np.argmax(bad))} costs "
                         f"{float(costs[bad][0])!r}.")
    return costs, how


# --- the joint covariance -----------------------------------------------------------------------------


def _basins(fit: FitResult, values_of) -> tuple[np.ndarray, int]:
    """Covariance of the values between the plausible basins of the fit's starts, and their count."""
    terms = fit.curvature
    n_obs, p = float(terms["sum_w"]), fit.law.n_free
    scale = (float(terms["sum_psi2"]) / max(n_obs - p, 1.0)) / max(float(terms["sum_dpsi"]) / n_obs, 0.0)
    if not (np.isfinite(scale) and scale > 0):  # residuals all 0 (no more rows than parameters): no scale
        return 0.0, 1
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


def _curvature_covariance(fit: FitResult, covariance: str, noise: float, completed: bool) -> tuple[np.ndarray, tuple]:
    """(P, P) the fit's free covariance, and notes. Where the curvature is singular (or there are no
    more rows than parameters) and `completed`: the inverse of the information, the Hessian over
    noise mean(psi'), plus a prior of sd `PRIOR_SD` on every free parameter (see the module
    docstring), with a note; not `completed`: a ValueError."""
    if covariance not in COVARIANCES:
        raise ValueError(f"covariance must be one of {', '.join(COVARIANCES)}; got {covariance!r}.")
    terms = fit.curvature
    if terms is None:
        raise ValueError("This FitResult holds no curvature terms (it was not made by jscale.fit); pass a "
                         "BootstrapResult.")
    n, p = float(terms["sum_w"]), fit.law.n_free
    cov = free_covariance(terms, covariance) if n > p else None
    if cov is not None and np.all(np.isfinite(cov)):
        return cov, ()
    h = np.asarray(terms["hessian"], np.float64)
    if not completed or not np.all(np.isfinite(h)):
        raise ValueError("The fit's curvature covariance is not finite (a singular Hessian); bootstrap the fit "
                         "and pass the BootstrapResult.")
    lam, vec = np.linalg.eigh(0.5 * (h + h.T))
    rank = int(np.sum(lam > 1e-12 * max(float(np.abs(lam).max()), np.finfo(np.float64).tiny)))
    slope = float(terms["sum_dpsi"]) / n
    scale = noise * (slope if np.isfinite(slope) and slope > 0 else 1.0)
    # Negative eigenvalues (a saddle, or rounding) carry no information: clipped to 0.
    information = (vec * (np.maximum(lam, 0.0) / scale)) @ vec.T + np.eye(p) / PRIOR_SD ** 2
    cov = np.linalg.inv(information)
    rows = f"; {n:g} rows for {p} parameters" if n <= p else ""
    note = (f"the fit's curvature is singular (rank {rank} of {p}{rows}): the runs so far leave some combination "
            f"of parameters undetermined. A weak prior (sd {PRIOR_SD:g} on every free parameter) completes it, so the "
            "plan favours runs that determine them; pass a BootstrapResult for variances from resampling instead.")
    return 0.5 * (cov + cov.T), (note,)


def _covariance(result, fit: FitResult, head, x, select, n_head: int, static: dict, covariance: str, noise: float,
                completed: bool = False):
    """(exp of the T = `n_head` target values, joint covariance of the selected values, its source,
    plausible basins, notes). `select`: the entries of the padded values vector kept, targets first."""
    theta = np.asarray(fit.end_params[fit.best_index])
    with x64_scope():
        args = (jax.tree.map(jnp.asarray, head), jax.tree.map(jnp.asarray, x))

        def values_of(thetas):
            size = bucket(len(thetas))
            out = _on_draws(jnp.asarray(pad_repeating(np.asarray(thetas), size)), *args, **static)
            return np.asarray(out)[:len(thetas)][:, select]

        estimate = np.exp(values_of(theta[None])[0, :n_head])
        if isinstance(result, BootstrapResult):
            draws = values_of(np.asarray(result.free_draws)[result.draw_ok])
            draws = draws[np.all(np.isfinite(draws), axis=1)]
            if len(draws) < 3:
                raise ValueError("Too few usable bootstrap draws for a covariance; bootstrap with more resamples.")
            return estimate, np.cov(draws, rowvar=False), "bootstrap draws", 1, ()
        free_cov, notes = _curvature_covariance(fit, covariance, noise, completed)
        jac = np.asarray(_jacobian(jnp.asarray(theta), *args, **static))[select]
        extra, n_basins = _basins(fit, values_of)
        return estimate, jac @ free_cov @ jac.T + extra, "curvature (Laplace)", n_basins, notes


# --- the target and the request --------------------------------------------------------------------------


def _fit_of(result, who: str) -> FitResult:
    if not isinstance(result, (FitResult, BootstrapResult)):
        raise TypeError(f"{who} takes a FitResult or a BootstrapResult; got {type(result).__name__}.")
    return result.fit if isinstance(result, BootstrapResult) else result


def _quantity(quantity, at_compute: bool) -> str:
    """The quantity, by default N* at a compute target and the law's prediction at a point or region."""
    if quantity is None:
        return "n_params" if at_compute else "loss"
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {', '.join(QUANTITIES)}; got {quantity!r}"
                         f"{closest(str(quantity), QUANTITIES)}.")
    if not at_compute and quantity != "loss":
        raise ValueError(f"quantity={quantity!r} is a quantity at a compute budget: pass compute=, or leave quantity "
                         "out (or pass quantity='loss') for the prediction at n_params= and n_tokens= or over region=.")
    return quantity


def _near_enough(fit: FitResult, law, columns: dict, what: str) -> None:
    """Refuses a target more than `MAX_DECADES` beyond the fitted runs (in compute or any column)."""
    found = extrapolation(fit.data_summary, law, columns, what)
    decades = 0.0 if found is None else float(np.max(found.values["decades"]))
    if decades > MAX_DECADES:
        raise ValueError(f"{what} lies {decades:.0f} decades beyond the fitted runs; suggest_runs plans for targets "
                         f"at most {MAX_DECADES:g} decades beyond them, as a variance linearised that far from any run "
                         "ranks nothing. Ask about a nearer target.")


@dataclasses.dataclass(frozen=True)
class _Target:
    """The checked target: log C (`at_compute`), or the configurations of a region (`table`)."""

    quantity: str
    at_compute: bool
    head: Any
    n_head: int
    cost_fn: Any = None
    compute: float | None = None
    point: tuple | None = None
    table: _Table | None = None


def _target_of(fit: FitResult, quantity, compute, n_params, n_tokens, region, cost, who: str) -> _Target:
    law = fit.law
    given = [compute is not None, n_params is not None or n_tokens is not None, region is not None]
    if sum(given) != 1:
        raise ValueError("Give the target as compute= (N*, D*, D*/N* or L* there), as n_params= and n_tokens= (the "
                         "loss at that point) or as region= (the prediction over a set of configurations): one of "
                         "them.")
    if compute is not None:
        quantity = _quantity(quantity, True)
        cost_fn = check_cost(law, cost)
        others = [c for c in law.columns if c not in ALLOCATION_COLUMNS]
        if others:
            raise ValueError(f"{who} plans for a compute-optimal quantity over n_params and n_tokens; the {law.name} "
                             f"law also reads {', '.join(others)}. Give the configurations to predict as region= "
                             "(with every column the law reads) instead.")
        c = float(positive_array("compute", compute)[0])
        _near_enough(fit, law, {"compute": np.array([c])}, f"compute={c:.3g}")
        return _Target(quantity=quantity, at_compute=True, head=np.log(c), n_head=1, cost_fn=cost_fn, compute=c)
    quantity = _quantity(quantity, False)
    point = None
    if region is None:
        if n_params is None or n_tokens is None:
            raise ValueError("A point is n_params= and n_tokens=: pass both.")
        point = (float(positive_array("n_params", n_params)[0]), float(positive_array("n_tokens", n_tokens)[0]))
        region = {"n_params": np.array([point[0]]), "n_tokens": np.array([point[1]])}
        if any(c not in ALLOCATION_COLUMNS for c in law.columns):
            raise ValueError(f"The {law.name} law reads {', '.join(law.columns)}: give the point as region= with "
                             "every one of them, e.g. region={'n_params': [...], 'n_tokens': [...], ...}.")
    table = _table("region", region, law, fit.data_summary)
    numeric = {c: table.values[c] for c in law.columns if fit.data_summary is None
               or fit.data_summary.levels_of(c) is None}
    _near_enough(fit, law, numeric, "The target point" if point is not None else "region")
    size = 1 if table.size == 1 else bucket(table.size)
    head = law.inputs({c: pad_repeating(v, size) for c, v in table.values.items()})
    return _Target(quantity=quantity, at_compute=False, head=head, n_head=table.size, point=point, table=table)


def _count(name: str, value, *, none: bool = False):
    if (value is None and none) or (not isinstance(value, bool) and isinstance(value, (int, np.integer))
                                    and value >= 1):
        return None if value is None else int(value)
    raise ValueError(f"{name} must be a positive integer{' or None' if none else ''}; got {value!r}.")


def _exponents(value) -> tuple[float, ...]:
    """The cost exponents to plan with: one number, or several (the plan keeps the best)."""
    several = isinstance(value, (list, tuple, np.ndarray))
    values = list(np.ravel(value)) if several else [value]
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) or not (
                np.isfinite(v) and v >= 0):
            raise ValueError(f"cost_exponent must be a finite number >= 0 (1: variance removed per unit cost; 0: cost "
                             f"ignored but for the budget), or a sequence of them; got {value!r}.")
    if not values:
        raise ValueError("cost_exponent is an empty sequence; give at least one exponent.")
    return tuple(float(v) for v in values)


def effective_noise(fit: FitResult) -> float:
    """The variance of one run's contribution to the fit, mean(psi^2) / mean(psi')^2 over the rows
    (M-estimation's efficiency: the residual variance for squared loss; for a Huber fit larger,
    as its covariance is), so that a new run carries as much information as a fitted one did."""
    terms = fit.curvature
    n = float(terms["sum_w"])
    slope = float(terms["sum_dpsi"]) / n
    return (float(terms["sum_psi2"]) / max(n - fit.law.n_free, 1.0)) / slope ** 2 if slope > 0 else float("inf")


def _check_noise(fit: FitResult, noise) -> float:
    if noise is None:
        if fit.curvature is None:
            raise ValueError("This FitResult holds no curvature terms (it was not made by jscale.fit); pass noise=.")
        n = float(fit.curvature["sum_w"])
        if n <= fit.law.n_free:
            raise ValueError(f"The fit has {n:g} rows for {fit.law.n_free} parameters, so the scatter of a run around "
                             "the law cannot be estimated from it; pass noise= (the variance of a new run around the "
                             "law in the fit's residual space, e.g. 1e-4 for a scatter of about 1% in log loss).")
        noise = effective_noise(fit)
    noise = float(noise)
    if not (np.isfinite(noise) and noise > 0):
        raise ValueError(f"noise must be a positive variance; got {noise!r}.")
    return noise


# --- the public function ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Request:
    """`suggest_runs`' checked arguments."""

    fit: FitResult
    target: _Target
    candidates: _Table
    generated: bool
    costs: np.ndarray
    cost: Any
    budget: float
    n: int | None
    max_repeats: int
    noise: float
    cost_exponent: tuple
    covariance: str


def _suggest_args(result, quantity, compute, n_params, n_tokens, region, candidates, budgets, budget, n, cost,
                  max_repeats, noise, cost_exponent, covariance) -> _Request:
    """Every argument of `suggest_runs` checked, before any work."""
    fit = _fit_of(result, "suggest_runs")
    budget = float(positive_array("budget", budget)[0])
    n = _count("n", n, none=True)
    max_repeats = _count("max_repeats", max_repeats)
    cost_exponent = _exponents(cost_exponent)
    if covariance not in COVARIANCES:
        raise ValueError(f"covariance must be one of {', '.join(COVARIANCES)}; got {covariance!r}.")
    target = _target_of(fit, quantity, compute, n_params, n_tokens, region, cost, "suggest_runs")
    generated = candidates is None
    if generated:
        if set(fit.law.columns) != set(ALLOCATION_COLUMNS):
            raise ValueError(f"suggest_runs generates candidates along iso-cost curves of n_params and n_tokens; the "
                             f"{fit.law.name} law reads {', '.join(fit.law.columns)}: pass candidates= (the runs to "
                             "choose from).")
        cost_fn = target.cost_fn or check_cost(fit.law, cost)
        budgets = np.geomspace(budget / 64, budget / 2, 6) if budgets is None else budgets
        candidates = iso_cost_candidates(result, budgets, cost_fn)
        cost = cost_fn
    elif budgets is not None:
        raise ValueError("Pass candidates= or budgets= (to generate candidates), not both.")
    table = _table("candidates", candidates, fit.law, fit.data_summary)
    costs, how = _run_costs(cost, table, target.cost_fn)
    return _Request(fit=fit, target=target, candidates=table, generated=generated, costs=costs, cost=how,
                    budget=budget, n=n, max_repeats=max_repeats, noise=_check_noise(fit, noise),
                    cost_exponent=cost_exponent, covariance=covariance)


def _joint(result, fit: FitResult, target: _Target, candidates: _Table, covariance: str, noise: float,
           completed: bool):
    """(estimate, joint covariance of (targets, candidates), source, basins, notes)."""
    law, k = fit.law, candidates.size
    x = law.inputs({c: pad_repeating(v, max(64, bucket(k))) for c, v in candidates.values.items()})
    static = dict(law=law, cost=target.cost_fn, quantity=target.quantity, residual=fit.residual,
                  at_compute=target.at_compute)
    padded = 1 if target.at_compute else len(next(iter(target.head.values())))
    select = np.concatenate([np.arange(target.n_head), padded + np.arange(k)])
    out = _covariance(result, fit, target.head, x, select, target.n_head, static, covariance, noise, completed)
    estimate, cov = out[0], out[1]
    if not (np.all(np.isfinite(estimate)) and np.all(np.isfinite(cov[:target.n_head, :target.n_head]))):
        what = f"{target.quantity} at compute={target.compute:.3g}" if target.at_compute else "the target's prediction"
        raise ValueError(f"The estimate or variance of {what} is not finite (a target beyond what the law and float64 "
                         "hold, or a law that gives no finite prediction there); ask about a nearer target.")
    return out


def suggest_runs(result, *, quantity: str | None = None, compute=None, n_params=None, n_tokens=None, region=None,
                 candidates=None, budgets=None, budget: float, n: int | None = 8, cost=None, cost_exponent=1.0,
                 max_repeats: int = 2, noise: float | None = None, covariance: str = "hessian") -> RunPlan:
    """Which runs to train next: a batch chosen greedily by the expected reduction of a target's
    variance per unit cost (see the module docstring of `jscale.decisions._design`).

    Args:
        result: a `BootstrapResult` (variance from its draws) or a `FitResult` (from the
            curvature, plus the disagreement of the plausible basins its starts found; where the
            curvature is singular, e.g. from a few cheap seed runs, completed by a weak prior and
            said in the plan's `notes`), of any law.
        quantity: what the runs should pin down: "n_params" (N*, the default at a budget),
            "n_tokens" (D*), "tokens_per_param" (D*/N*) or "loss" (L*) at the budget `compute`;
            at a point or over a region it is the law's prediction ("loss", the default there).
        compute: the target budget C (in the units of `cost`), for a law of n_params and n_tokens.
        n_params, n_tokens: the point whose loss matters (a law of those two columns).
        region: the configurations whose predictions matter, a ScalingData or a mapping column ->
            (T,) values with every column the law reads (e.g. the largest runs a study means to
            predict): the runs are chosen to lower the mean variance of the log prediction over
            them. Give one of compute=, the point, or region=.
        candidates: the runs to choose from, a ScalingData or a mapping column -> (K,) values
            holding every column the law reads (others, e.g. a loss or a cost column, are
            ignored or read as the cost); the plan's `indices` are its rows. Default (a law of
            n_params and n_tokens): along the iso-cost curves of `budgets`, 13 per budget around
            the fitted optimum (tokens per parameter from 1/8 to 8 times its ratio).
        budgets: the budgets of the generated candidates; default six from budget/64 to budget/2.
        budget: the total cost the proposed runs may spend.
        n: at most this many runs (None: as many as the budget and `max_repeats` allow).
        cost: a run's cost: a function cost(n_params, n_tokens) written with jax.numpy (default
            6ND), as in `jscale.compute_optimal`, also the cost of the target allocation; or,
            with given candidates, the name of a column of theirs (e.g. "compute") or one number
            per candidate. Candidates without n_params and n_tokens cost their compute column by
            default.
        cost_exponent: e in the greedy's score, variance removed / cost^e: 1 (default) per unit
            cost; below 1 it leans towards dearer, more informative runs (0 ranks by the
            variance removed alone); the budget binds either way. Several, e.g. (1, 0.4, 0):
            one plan each, and the plan keeps the one that removes the most variance within
            the budget (the better of the cost-ratio and the plain greedy, as in Leskovec et
            al. 2007's cost-effective selection; its notes say which). On pools of real runs
            (benchmarks/bench_design_pool.py, RESULTS.md), where the dearer runs lie nearest
            the targets, 0 and (1, 0.4, 0) did better than 1.
        max_repeats: at most this many runs at one candidate (keeps the design from collapsing
            onto one or two points, which could not check the law's form); 1 for a pool of runs
            each of which can be trained once. The most efficient designs repeat a few
            candidates: in simulated studies (benchmarks/bench_design.py, README) three uncapped
            batches after a small pilot halved the error of log10 N* of an isoFLOP grid at equal
            compute, and capped at 2 per batch cut it by a third; raise it when one call plans a
            large share of a study.
        noise: the variance a new run adds, in the fit's residual space; default the fit's
            effective noise, mean(psi^2) / mean(psi')^2 over its rows (the residual variance for
            squared loss; larger for a Huber fit, whose covariance is larger too), so that a new
            run informs the fit as much as a fitted one did. Required when the fit has no more
            rows than parameters.
        covariance: the curvature covariance of a FitResult: "hessian" (default), whose scale is
            the effective noise times the inverse information, so that conditioning on a new run
            (information J J^T / noise) is consistent with it; "sandwich" is robust to
            heteroscedastic residuals but not additive in runs (with a Huber fit it can make a
            replicate of the data look worth several).

    Returns:
        A `RunPlan`: the runs in order (`indices` into the candidates, `runs`, `n_params`,
        `n_tokens`, `cost_of_runs`, `reduction`, `cumulative_cost`), the sd of log q (or of
        every log prediction of the region) before and after, `notes`, `interval(level,
        after=)`, `table()`, `summary()`.

    Raises:
        ValueError: for a target more than `MAX_DECADES` (20) decades beyond the fitted runs, or
            whose estimate or variance is not finite, besides invalid arguments.

    Example:
        >>> import jscale  # doctest: +SKIP
        >>> data = jscale.datasets.load("chinchilla")  # doctest: +SKIP
        >>> boot = jscale.bootstrap(jscale.laws.Chinchilla(), data, key=0)  # doctest: +SKIP
        >>> plan = jscale.suggest_runs(boot, compute=1e24, budget=1e21, n=8)  # doctest: +SKIP
        >>> pool = jscale.suggest_runs(boot, candidates=untrained, region=largest, budget=1e21,
        ...                            n=None, max_repeats=1)  # doctest: +SKIP
        >>> pool.indices  # rows of `untrained` to train  # doctest: +SKIP
    """
    req = _suggest_args(result, quantity, compute, n_params, n_tokens, region, candidates, budgets, budget, n, cost,
                        max_repeats, noise, cost_exponent, covariance)
    estimate, cov, source, n_basins, notes = _joint(result, req.fit, req.target, req.candidates, req.covariance,
                                                    req.noise, completed=True)
    target = req.target
    plans = [greedy(cov, req.noise, req.costs, budget=req.budget, n=req.n, max_repeats=req.max_repeats,
                    n_head=target.n_head, cost_exponent=e) for e in req.cost_exponent]
    best = int(np.argmax([plan[1].sum() for plan in plans]))  # the first of equals
    picks, removed, _, after = plans[best]
    exponent = req.cost_exponent[best]
    if len(plans) > 1:
        notes += (f"of the cost exponents {', '.join(f'{e:g}' for e in req.cost_exponent)}, {exponent:g} removes the "
                  "most variance within the budget (" + ", ".join(f"{e:g}: {plan[1].sum():.3g}" for e, plan in
                                                                   zip(req.cost_exponent, plans)) + ").",)
    before = np.sqrt(np.maximum(np.diag(cov)[:target.n_head], 0.0))
    single = target.at_compute or target.point is not None
    table = req.candidates

    def picked(values):
        return None if values is None else read_only(values[picks])

    region = None if single else {c: read_only(v) for c, v in target.table.shown.items()}
    return RunPlan(law=req.fit.law, cost=req.cost, quantity=target.quantity, compute=target.compute,
                   point=target.point, source=source, n_basins=int(n_basins), budget=req.budget,
                   cost_exponent=exponent, notes=notes, region=region,
                   estimate=float(estimate[0]) if single else read_only(estimate),
                   sd_before=float(before[0]) if single else read_only(before),
                   sd_after=float(np.sqrt(after[0])) if single else read_only(np.sqrt(after)),
                   indices=None if req.generated else read_only(picks),
                   runs={c: picked(v) for c, v in table.shown.items()},
                   n_params=picked(table.column("n_params")), n_tokens=picked(table.column("n_tokens")),
                   cost_of_runs=read_only(req.costs[picks]), reduction=read_only(removed),
                   cumulative_cost=read_only(np.cumsum(req.costs[picks])))


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


def runs_needed(result, *, width: float, design, quantity: str | None = None, compute=None, n_params=None,
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
        result: a `FitResult` or `BootstrapResult` (the study so far) of a law of n_params and
            n_tokens; a FitResult's curvature must be regular (bootstrap a fit whose is not).
        width: the relative width asked for, e.g. 0.1 for an interval of about +-5%.
        design: the runs of one replicate, a ScalingData or {"n_params": ..., "n_tokens": ...}
            (e.g. the data fitted, to ask how many repeats of the whole study are needed).
        quantity, compute, n_params, n_tokens, cost, noise, covariance: as in `suggest_runs`.
        level: the interval's level (default 0.95).

    Returns:
        A `SampleSize` (replicates, n_runs, total_cost, sd_now, sd_target, sd_limit; `summary()`).
    """
    fit = _fit_of(result, "runs_needed")
    target = _target_of(fit, quantity, compute, n_params, n_tokens, None, cost, "runs_needed")
    cost = target.cost_fn or check_cost(fit.law, cost)
    level = check_level(level)
    width = float(positive_array("width", width)[0])
    design = _check_candidates(design)
    noise = _check_noise(fit, noise)
    table = _Table(values=design, shown=design, size=len(design["n_params"]), source=design)
    estimate, cov, _, _, _ = _joint(result, fit, target, table, covariance, noise, completed=False)
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
    return SampleSize(quantity=target.quantity, compute=target.compute, point=target.point, level=level,
                      width=width, estimate=float(estimate[0]), sd_now=float(np.sqrt(max(cov[0, 0], 0.0))),
                      sd_target=sd_target, sd_limit=float(np.sqrt(limit)), replicates=replicates,
                      runs_per_replicate=len(costs), cost_per_replicate=float(costs.sum()))
