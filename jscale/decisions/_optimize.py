"""`jscale.optimum`: the inputs that minimise (or maximise, or reach) a fitted law, with bands.

Any law over any of its columns: the learning rate that minimises a law of (N, D, learning
rate) at given N and D; (N, D) that minimise the loss at a compute budget under any cost model;
the cheapest (N, D) that reach a loss. Each is a problem of jscale's one optimum solver
(`jscale.engine._optimum`) in the logs of the optimised columns, solved for every point under `jit`,
for the estimate and every bootstrap draw, with delta-method bands from implicit derivatives.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._numerics import read_only
from jscale.base._text import closest
from jscale.decisions._allocation import fixed_columns, positive_array, warn_outside
from jscale.engine._optimum import pins, solve, status
from jscale.inference._bands import Bands, evaluate, to_bands
from jscale.inference._estimate import estimate_of

# Starting grid: at most this many points over the search box (per column: 64 for one column,
# 16 for two, 6 for three).
_GRID_POINTS = 256
# Without fitted data or bounds, a column is searched from starts over this range.
_WIDE = (1e-30, 1e30)
# With fitted data, starts cover its range widened by this many decades on each side.
_WIDEN_DECADES = 1.0


@dataclasses.dataclass(frozen=True)
class LawProblem:
    """The law's log prediction (or the log cost) as a problem of `jscale.engine._optimum.solve` in
    w = log of the `over` columns. mode "free": minimise sign * log L; "budget": the same with
    log cost = args["log_target"]; "reach": minimise log cost with log L = args["log_target"]."""

    law: Any
    over: tuple
    cost: Any
    mode: str
    sign: float = 1.0

    @property
    def n_vars(self) -> int:
        return len(self.over)

    @property
    def n_constraints(self) -> int:
        return 0 if self.mode == "free" else 1

    def log_value(self, w, theta, args):
        columns = {**{c: v[None] for c, v in args["fixed"].items()},
                   **{c: jnp.exp(w[i])[None] for i, c in enumerate(self.over)}}
        return self.law.log_predict(theta, self.law.inputs(columns))[0]

    def log_cost(self, w):
        return jnp.log(self.cost(*(jnp.exp(w[i]) for i in range(len(self.over)))))

    def objective(self, w, theta, args):
        if self.mode == "reach":
            return self.log_cost(w)
        return self.sign * self.log_value(w, theta, args)

    def constraint(self, w, theta, args):
        if self.mode == "budget":
            return (self.log_cost(w) - args["log_target"])[None]
        return (self.log_value(w, theta, args) - args["log_target"])[None]


@dataclasses.dataclass(frozen=True)
class OptimumTerms:
    """Log of every optimised column, of the law's value and cost at the optimum, the exponents
    d log x*/d log target, the status and the bound flags at one point (for `_bands.evaluate`)."""

    problem: LawProblem

    def __call__(self, theta, fixed, log_target, starts, lower, upper):
        p = self.problem
        args = {"fixed": fixed, "log_target": log_target}
        if p.mode == "free":
            z = solve(p, theta, args, starts, lower, upper)
        else:  # one solve: the optimum rides along as the primal of its derivative in the target
            z, dz = jax.jvp(lambda t: solve(p, theta, {"fixed": fixed, "log_target": t}, starts, lower, upper),
                            (log_target,), (jnp.ones_like(log_target),))
        out = {c: z[i] for i, c in enumerate(p.over)}
        w = z[:p.n_vars]
        out["value"] = p.log_value(w, theta, args)
        if p.cost is not None:
            out["cost"] = p.log_cost(w)
        if p.mode != "free":
            out.update({f"exponent_{c}": dz[i] for i, c in enumerate(p.over)})
        pinned, _ = pins(p, z, lower, upper)
        out["status"] = status(p, z, theta, args, lower, upper)
        out["at_bound"] = pinned
        return out


class Optimum(Bands, struct.PyTreeNode, kw_only=True):
    """The optimum of a fitted law at K points (`jscale.optimum`).

    Attributes:
        law, cost: the law and the cost function, or None (static).
        over: the optimised columns (static).
        mode: "minimize", "maximize", "budget" (minimum at a cost budget) or "reach" (the
            cheapest inputs that reach a value of the law) (static).
        inputs: column -> (K,) the optimised inputs x* (natural units).
        value: (K,) the law's prediction at x*.
        total_cost: (K,) cost(x*), or None without a cost.
        target: (K,) the budget or the value to reach, or None.
        exponents: column -> (K,) d log x*/d log target, or None without a target.
        at_bound: column -> (K,) whether x* sits on a bound you gave (the optimum is then the
            bound's, not the law's own).
        fixed: column -> (K,) the other columns' values.
        solve_status: (K,) `jscale.solvers.Status` codes of the solves (`converged`, `status`).
        draws: name -> (B, K) per-draw values from a bootstrap, else None.
        draw_ok: (B, K) mask of usable draws (fit and solve converged), else None.
        sd: name -> (K,) delta-method standard deviations (of the log for positive quantities)
            from a FitResult, else None.

    `interval(name)` bands any of `quantities`: the optimised columns by name, "value", "cost"
    and "exponent_<column>".
    """

    law: Any = struct.field(pytree_node=False)
    cost: Any = struct.field(pytree_node=False, default=None)
    over: tuple = struct.field(pytree_node=False)
    mode: str = struct.field(pytree_node=False, default="minimize")
    inputs: dict
    value: np.ndarray
    total_cost: np.ndarray | None = None
    target: np.ndarray | None = None
    exponents: dict | None = None
    at_bound: dict = struct.field(default_factory=dict)
    fixed: dict = struct.field(default_factory=dict)
    solve_status: np.ndarray
    draws: dict | None = None
    draw_ok: np.ndarray | None = None
    sd: dict | None = None

    WHAT = "optimum"
    __repr__ = Bands.__repr__  # not the dataclass repr, which prints every array

    def points(self) -> dict:
        return {**self.fixed, **({"target": self.target} if self.target is not None else {})}

    @property
    def quantities(self) -> tuple:
        names = (*self.over, "value") + (("cost",) if self.total_cost is not None else ())
        return names + tuple(f"exponent_{c}" for c in (self.exponents or {}))

    @property
    def positive_quantities(self) -> tuple:
        return (*self.over, "value", "cost")

    def value_of(self, name: str) -> np.ndarray:
        if name in self.over:
            return np.asarray(self.inputs[name])
        if name == "cost":
            return np.asarray(self.total_cost)
        if name.startswith("exponent_"):
            return np.asarray(self.exponents[name[len("exponent_"):]])
        return np.asarray(getattr(self, name))

    def to_dict(self, level: float = 0.95) -> dict:
        """`Bands.to_dict` with the mode, the optimised columns and where a bound holds them."""
        return {**super().to_dict(level), "mode": self.mode, "over": list(self.over),
                "at_bound": {c: np.asarray(v).tolist() for c, v in self.at_bound.items()}}

    def __getitem__(self, column: str) -> np.ndarray:
        """x* of an optimised column, e.g. `best["learning_rate"]`."""
        if column not in self.over:
            raise KeyError(f"{column!r} is not optimised here; the optimised columns are {', '.join(self.over)}"
                           f"{closest(str(column), self.over)}.")
        return self.inputs[column]

    def table(self, level: float = 0.95) -> str:
        """A readable table: the fixed columns and target, x* (with bands when there is
        uncertainty) and the law's value there."""
        banded = self.draws is not None or self.sd is not None
        head = [*self.fixed] + (["target"] if self.target is not None else [])
        lines = [" ".join(f"{h:>14}" for h in [*head, *self.over, "value"] + (["cost"] if self.total_cost is not None
                                                                             else []))
                 + (f"   {100 * level:g}% band of {', '.join(self.over)} ({self.band_method})" if banded else "")]
        bands = [self.interval(c, level) for c in self.over] if banded else []
        status = self.status
        for k in range(self.value.size):
            cells = [self.fixed[c][k] for c in self.fixed] + ([self.target[k]] if self.target is not None else [])
            cells += [self.inputs[c][k] for c in self.over] + [self.value[k]]
            cells += [self.total_cost[k]] if self.total_cost is not None else []
            line = " ".join(f"{v:>14.6g}" for v in cells)
            if banded:
                line += "   " + "  ".join(f"({b.low[k]:.4g}, {b.high[k]:.4g})" for b in bands)
            flags = [c for c in self.over if self.at_bound[c][k]]
            if flags:
                line += f"   <- at the bound of {', '.join(flags)}"
            if status[k] != "success":
                line += f"   <- {status[k]}: not a solution"
            lines.append(line)
        return "\n".join(lines)


def _check_over(law, over) -> tuple:
    over = (over,) if isinstance(over, str) else tuple(over)
    if not over or not all(isinstance(c, str) for c in over):
        raise ValueError(f"over must name one or more of the law's columns ({', '.join(law.columns)}); got {over!r}.")
    for c in over:
        if c not in law.columns:
            raise ValueError(f"The {law.name} law reads {', '.join(law.columns)}; over names {c!r}"
                             f"{closest(c, law.columns)}.")
    if len(set(over)) != len(over):
        raise ValueError(f"over names a column twice: {over!r}.")
    return over


def _check_bounds(over, bounds, summary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, upper) hard bounds in log space (m,), and the (S, m) starting grid."""
    bounds = dict(bounds or {})
    unknown = [c for c in bounds if c not in over]
    if unknown:
        raise ValueError(f"bounds names {unknown[0]!r}, which is not optimised here (over={over!r}).")
    lower, upper, axes = [], [], []
    for c in over:
        given = bounds.get(c, (None, None))
        try:
            low, high = (np.inf * s if v is None else float(v) for v, s in zip(given, (-1, 1)))
        except (TypeError, ValueError):
            raise ValueError(f"bounds[{c!r}] must be a (low, high) pair of numbers or None; got {given!r}.") from None
        if not (low < high and (low > 0 or low == -np.inf) and high > 0):
            raise ValueError(f"bounds[{c!r}] must be positive with low < high (None for no bound); got {given!r}. "
                             "optimum searches positive columns on a log scale.")
        log_low = np.log(low) if low > 0 else -np.inf
        log_high = np.log(high)
        seen = summary.range_of(c) if summary is not None else None
        if seen is not None and seen[0] <= 0:
            raise ValueError(f"Column {c!r} takes values <= 0 in the fitted data; optimum searches positive columns "
                             "on a log scale.")
        box = ((np.log(seen[0]) - _WIDEN_DECADES * np.log(10), np.log(seen[1]) + _WIDEN_DECADES * np.log(10))
               if seen is not None else tuple(np.log(_WIDE)))
        box = (max(box[0], log_low) if np.isfinite(log_low) else box[0], min(box[1], log_high))
        if not box[0] < box[1]:
            box = (log_low, log_high)
        lower.append(log_low)
        upper.append(log_high)
        axes.append(box)
    per = max(3, min(64, int(_GRID_POINTS ** (1 / len(over)))))
    grids = np.meshgrid(*[np.linspace(lo, hi, per) for lo, hi in axes], indexing="ij")
    starts = np.stack([g.ravel() for g in grids], axis=1)
    return np.array(lower), np.array(upper), starts


def optimum(result, over, *, fixed=None, bounds=None, cost=None, budget=None, reach=None, maximize: bool = False,
            params=None) -> Optimum:
    """The inputs that minimise a fitted law, at given values of its other columns, with bands.

    Solves, in the logs of the `over` columns and at each of K points (all batched under jit):

    * minimise the law (or maximise it, `maximize=True`) within `bounds`;
    * with `cost` and `budget`: minimise the law subject to cost(x) = budget (compute-optimal
      allocation under any cost model);
    * with `cost` and `reach`: minimise cost(x) subject to the law = reach (the cheapest inputs
      that reach a loss).

    Bands come from the draws of a `BootstrapResult` or, from a `FitResult`, from the
    delta method with the optimum's implicit derivatives (see `jscale.engine._optimum`).

    Args:
        result: a `FitResult`, a `BootstrapResult` or a law object with `params=`.
        over: the column(s) to optimise, e.g. "learning_rate" or ("n_params", "n_tokens"). Each
            must be positive: they are searched on a log scale.
        fixed: values of the law's other columns, column -> scalar or 1-D array; the arrays (and
            `budget` or `reach`) broadcast together to the K points.
        bounds: column -> (low, high), natural units, None for no bound on a side. The optimum
            stays inside them (`at_bound` says where a bound holds it). Without bounds, the
            search starts over the fitted data's range of the column, one decade wider each side.
        cost: cost(*columns) -> cost, written with jax.numpy, taking the `over` columns in their
            order (e.g. `lambda n_params, n_tokens: 6 * n_params * n_tokens`). A new function
            object compiles anew: define it once and reuse it.
        budget: the cost(s) to spend exactly (with `cost`).
        reach: the value(s) of the law to reach at the least cost (with `cost`).
        maximize: maximise the law instead (e.g. a law of accuracy); not with `reach`.
        params: natural parameters when `result` is a law.

    Returns:
        An `Optimum`: `inputs[column]` (or `best[column]`), `value`, `total_cost`, `exponents`,
        `at_bound`; `interval(name)` for bands; `table()`; `status` of every solve.

    Example:
        >>> import jax.numpy as jnp, jscale
        >>> from jscale.laws import Param, custom
        >>> law = custom(lambda p, x: p["E"] + p["C"] * (jnp.log(x["learning_rate"]) - p["log_lr"]) ** 2,
        ...              {"E": Param("positive"), "C": Param("positive"), "log_lr": Param("free")},
        ...              columns=("learning_rate",))
        >>> best = jscale.optimum(law, "learning_rate", params={"E": 2.0, "C": 0.1, "log_lr": -7.0})
        >>> round(float(jnp.log(best["learning_rate"][0])), 8), round(float(best.value[0]), 8)
        (-7.0, 2.0)
    """
    estimate = estimate_of(result, params)
    law = estimate.law
    over = _check_over(law, over)
    summary = estimate.fit.data_summary if estimate.fit is not None else None
    if (budget is not None or reach is not None) and cost is None:
        raise ValueError("budget= and reach= constrain a cost: pass cost= too (e.g. "
                         "cost=lambda n_params, n_tokens: 6 * n_params * n_tokens).")
    if budget is not None and reach is not None:
        raise ValueError("Pass budget= (the law's minimum at a cost) or reach= (the least cost to reach a value), "
                         "not both.")
    if cost is not None and budget is None and reach is None:
        raise ValueError("cost= needs budget= (the cost to spend) or reach= (the value of the law to reach).")
    if cost is not None and not callable(cost):
        raise TypeError(f"cost must be a function of the over columns written with jax.numpy; got {cost!r}.")
    if maximize and reach is not None:
        raise ValueError("maximize= is for the law's own optimum or its optimum at a budget, not with reach=.")
    mode = "free" if cost is None else ("budget" if budget is not None else "reach")
    target = None if mode == "free" else positive_array("budget" if mode == "budget" else "reach",
                                                         budget if mode == "budget" else reach)
    fixed_values = fixed_columns(law, over, fixed, summary, hint=" (or optimise it too with over=)")
    lower, upper, starts = _check_bounds(over, bounds, summary)
    sizes = [len(v) for v in fixed_values.values()] + ([target.size] if target is not None else [])
    try:
        n = int(np.broadcast_shapes(*[(s,) for s in sizes])[0]) if sizes else 1
    except ValueError:
        raise ValueError(f"fixed columns and budget/reach must broadcast to one length; got lengths {sizes}.") from None
    fixed_values = {c: np.broadcast_to(v, (n,)) for c, v in fixed_values.items()}
    log_target = np.zeros(n) if target is None else np.log(np.broadcast_to(target, (n,)))
    problem = LawProblem(law, over, cost, mode, -1.0 if maximize else 1.0)
    bounded = np.isfinite(lower).any() or np.isfinite(upper).any()  # else no active set to settle
    args = (fixed_values, log_target, np.broadcast_to(starts, (n, *starts.shape)),
            np.broadcast_to(lower, (n, len(over))) if bounded else None,
            np.broadcast_to(upper, (n, len(over))) if bounded else None)
    names = (*over, "value") + (("cost",) if cost is not None else ()) + \
        (tuple(f"exponent_{c}" for c in over) if mode != "free" else ())
    est, per_draw, sd = evaluate(estimate, OptimumTerms(problem), args, names)
    pinned = est.pop("at_bound")
    if per_draw is not None:
        per_draw.pop("at_bound")
    values, draws, draw_ok, sd = to_bands(estimate, est, per_draw, sd, (*over, "value", "cost"), "status")
    natural_fixed = {c: read_only(v) for c, v in fixed_values.items()
                     if summary is None or summary.levels_of(c) is None}
    best = Optimum(
        law=law, cost=cost, over=over, mode={"free": "maximize" if maximize else "minimize"}.get(mode, mode),
        inputs={c: values[c] for c in over}, value=values["value"], total_cost=values.get("cost"),
        target=None if target is None else read_only(np.broadcast_to(target, (n,))),
        exponents=None if mode == "free" else {c: values[f"exponent_{c}"] for c in over},
        at_bound={c: read_only(np.asarray(pinned)[:, i]) for i, c in enumerate(over)}, fixed=natural_fixed,
        solve_status=read_only(est["status"]), draws=draws, draw_ok=draw_ok, sd=sd)
    warn_outside(estimate.result, law, "Optima", {**natural_fixed, **best.inputs})
    best._warn_failed("Optimum (points by their first value)", best.value_of(over[0]))
    return best
