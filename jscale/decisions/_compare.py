"""Comparing two fitted laws (two recipes): the effective compute multiplier and the crossover.

With L_A*(C) and L_B*(C) the compute-optimal losses of recipes A and B at budget C (the
allocation of `jscale.compute_optimal` under a cost model; a law of compute alone is read at C
directly), the effective compute multiplier m(C) is the factor of compute that B needs to match
A's loss at C:

    L_B*(m C) = L_A*(C);

m > 1: B needs more compute than A (A is the better recipe at C), m < 1: B needs less. The
crossover is the budget where L_A*(C) = L_B*(C) (m = 1), if the two cross in the searched range.
Both are roots of smooth scalar functions of log compute, found for any law by a scan for a sign
change then Illinois (regula falsi) steps (vectorised over budgets and draws, under jit), and
differentiated implicitly (a `custom_jvp`: dx = -f_theta dtheta / f_x) for delta-method bands;
bootstrap bands evaluate them on every pair of draws.

For Chinchilla under C = 6ND, L*(C) = E + K (C/6)^-gamma in closed form (Hoffmann et al. 2022, eq.
4; `jscale.decisions._allocation.chinchilla_frontier`), and so is the multiplier when B is such a
law; only the crossover is searched. Elsewhere L*(C) is the allocation solver's, nested in the root
search: a program that takes seconds to compile. So the work goes to two programs per pair of laws
and cost, the budgets' (m, L_A*, L_B*) and the crossover's, each called on a fixed number of
parameter pairs and budgets with the searched range as an argument: any number of draws and
budgets, and any range, reuse them; a pair of fits calls their Jacobian versions, which give the
estimate too.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._interval import Interval
from jscale.base._numerics import pad_repeating, read_only, x64_scope
from jscale.base._text import closest
from jscale.base._warnings import ConvergenceWarning
from jscale.decisions._allocation import (
    ALLOCATION_COLUMNS,
    best_log_loss,
    check_cost,
    check_fixed,
    chinchilla_log_budget,
    closed_form,
    positive_array,
)
from jscale.inference._diagnostics import extrapolation
from jscale.inference._estimate import estimate_of
from jscale.inference._results import BootstrapResult, FitResult
from jscale.inference._uncertainty import check_level, normal_quantile
from jscale.laws._laws import Law, Shared

# The multiplier is searched over m in [1e-10, 1e10] (log m in +-23): a recipe that needs more
# than 1e10 times the compute is reported as m = inf, one that needs less than 1e-10 as m = 0.
_LOG_M_RANGE = 23.0
_SCAN_POINTS = 24
_CROSSOVER_POINTS = 64
_REFINE_STEPS = 40
DEFAULT_BETWEEN = (1e15, 1e28)
# Every call of a program takes this many parameter pairs and budgets (the last call padded with
# repeats): bootstraps of any size, fits and any number of budgets share one program per quantity.
_CHUNK = 32
_BUDGETS = 8


# --- the two roots ---------------------------------------------------------------------------------


def _reads_allocation(law: Law) -> bool:
    return all(c in law.columns for c in ALLOCATION_COLUMNS)


def log_best_loss(law, cost, theta, log_c, fixed):
    """log L*(C): the compute-optimal loss for a law of parameters and tokens, else the law at C."""
    if _reads_allocation(law):
        return best_log_loss(theta, log_c, fixed, law, cost)
    values = {"compute": jnp.exp(log_c)[None], **{k: jnp.exp(v)[None] for k, v in fixed.items()}}
    return law.log_predict(theta, law.inputs(values))[0]


def _scan(fn, lo, hi, n: int):
    """The first bracket [a, b] over a grid of `n` points on [lo, hi] where fn changes sign, fn(a),
    fn(b), whether one was found, and whether fn was positive (negative) on the whole grid."""
    grid = jnp.linspace(lo, hi, n)
    values = jax.vmap(fn)(grid)
    finite = jnp.isfinite(values)
    change = (jnp.sign(values[:-1]) != jnp.sign(values[1:])) & finite[:-1] & finite[1:]
    k = jnp.argmax(change)
    above = jnp.all(jnp.where(finite, values > 0, True))
    below = jnp.all(jnp.where(finite, values < 0, True))
    return (grid[k], grid[k + 1], values[k], values[k + 1], jnp.any(change), above & jnp.any(finite),
            below & jnp.any(finite))


def _refine(fn, a, b, fa, fb):
    """A root of fn in the bracket [a, b] (fa, fb of opposite signs) by the Illinois method
    (regula falsi that halves the value kept at a stale end; superlinear, and no derivative to
    compile): the bracket shrinks at every step; a non-finite value counts as one of fa's sign."""

    def body(_, carry):
        a, b, fa, fb, side = carry
        x = (a * fb - b * fa) / (fb - fa)
        x = jnp.where(jnp.isfinite(x) & (x > jnp.minimum(a, b)) & (x < jnp.maximum(a, b)), x, 0.5 * (a + b))
        f = fn(x)
        f = jnp.where(jnp.isfinite(f), f, fa)
        left = jnp.sign(f) == jnp.sign(fa)  # the root is in [x, b]: x replaces a
        fb = jnp.where(left & (side == 1), 0.5 * fb, fb)  # a moved twice running: halve the stale fb
        fa = jnp.where(~left & (side == -1), 0.5 * fa, fa)
        return (jnp.where(left, x, a), jnp.where(left, b, x), jnp.where(left, f, fa), jnp.where(left, fb, f),
                jnp.where(left, 1, -1))

    a, b, fa, fb, _ = jax.lax.fori_loop(0, _REFINE_STEPS, body, (a, b, fa, fb, 0))
    return jnp.where(jnp.abs(fa) < jnp.abs(fb), a, b)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1))
def root(fn, n: int, bounds, args):
    """The first root of x -> fn(x, args) on bounds = (lo, hi) from below, scanned on `n` points
    (NaN if none; +inf where fn > 0 on the whole range, -inf where fn < 0), differentiable in
    `args` by the implicit function theorem. The bounds are arrays, not constants of the
    program: every range shares one compiled program."""
    a, b, fa, fb, found, above, below = _scan(lambda x: fn(x, args), bounds[0], bounds[1], n)
    x = _refine(lambda x: fn(x, args), a, b, fa, fb)
    return jnp.where(found, x, jnp.where(above, jnp.inf, jnp.where(below, -jnp.inf, jnp.nan)))


@root.defjvp
def _root_jvp(fn, n, primals, tangents):
    (bounds, args), (_, args_dot) = primals, tangents
    x = root(fn, n, bounds, args)
    slope = jax.jvp(lambda y: fn(y, args), (x,), (jnp.ones_like(x),))[1]
    _, f_dot = jax.jvp(lambda a: fn(x, a), (args,), (args_dot,))
    return x, jnp.where(jnp.isfinite(x), -f_dot / slope, 0.0)


def _log_multiplier(law, cost, theta, log_c, fixed, target):
    """log m: the log budget at which B (law, theta) reaches the log loss `target` (A's at log C),
    less log C; +inf beyond +23, -inf below -23. In closed form for Chinchilla under 6ND, else a
    root of log L_B*(C e^s) - target, which decreases in s."""
    if closed_form(law, cost):
        log_m = chinchilla_log_budget(theta, target) - log_c
        return jnp.where(log_m > _LOG_M_RANGE, jnp.inf, jnp.where(log_m < -_LOG_M_RANGE, -jnp.inf, log_m))

    def gap(s, args):
        tb, c, fb, to = args
        return log_best_loss(law, cost, tb, c + s, fb) - to

    bounds = (jnp.asarray(-_LOG_M_RANGE), jnp.asarray(_LOG_M_RANGE))
    return root(gap, _SCAN_POINTS, bounds, (theta, log_c, fixed, target))


@dataclasses.dataclass(frozen=True)
class _AtBudgets:
    """log m, log L_A*, log L_B* of one pair of parameter vectors at budgets log C (K,), with the
    fixed columns' logs (K,) each: a static argument of `_on_pairs` and `_with_jacobians`."""

    law_a: Any
    law_b: Any
    cost: Any

    def __call__(self, theta_a, theta_b, log_cs, fixed_a, fixed_b):
        def one(log_c, fa, fb):
            # A's loss is solved once (its derivatives reach the multiplier through `target`).
            loss_a = log_best_loss(self.law_a, self.cost, theta_a, log_c, fa)
            return {"multiplier": _log_multiplier(self.law_b, self.cost, theta_b, log_c, fb, loss_a),
                    "loss_a": loss_a, "loss_b": log_best_loss(self.law_b, self.cost, theta_b, log_c, fb)}

        return jax.vmap(one)(log_cs, fixed_a, fixed_b)


@dataclasses.dataclass(frozen=True)
class _Crossover:
    """log of the crossover budget of one pair of parameter vectors (NaN if none) in the range
    log_between (2,), with the fixed columns' logs (scalars)."""

    law_a: Any
    law_b: Any
    cost: Any

    def __call__(self, theta_a, theta_b, fixed_a, fixed_b, log_between):
        def difference(c, args):
            ta, tb, fa, fb = args
            return log_best_loss(self.law_a, self.cost, ta, c, fa) - log_best_loss(self.law_b, self.cost, tb, c, fb)

        x = root(difference, _CROSSOVER_POINTS, (log_between[0], log_between[1]), (theta_a, theta_b, fixed_a, fixed_b))
        return {"crossover": jnp.where(jnp.isfinite(x), x, jnp.nan)}


@functools.partial(jax.jit, static_argnames=("terms",))
def _on_pairs(terms, thetas_a, thetas_b, args):
    """`terms` of every parameter pair (thetas (n, P) each)."""
    return jax.vmap(lambda a, b: terms(a, b, *args))(thetas_a, thetas_b)


@functools.partial(jax.jit, static_argnames=("terms",))
def _with_jacobians(terms, theta_a, theta_b, args):
    """`terms` of one pair and their Jacobians in both vectors, (values, {name: (d/dtheta_a,
    d/dtheta_b)}): one program gives a fit's estimate and its delta-method bands."""
    jac, values = jax.jacfwd(lambda a, b: (terms(a, b, *args),) * 2, argnums=(0, 1), has_aux=True)(theta_a, theta_b)
    return values, jac


def _budget_chunks(log_cs, fixed_a, fixed_b) -> list:
    """(log C, fixed A, fixed B) in chunks of `_BUDGETS` budgets, the last padded with repeats."""
    size = -(-len(log_cs) // _BUDGETS) * _BUDGETS
    log_cs = pad_repeating(log_cs, size)
    fixed_a, fixed_b = ({k: pad_repeating(v, size) for k, v in f.items()} for f in (fixed_a, fixed_b))
    return [jax.tree.map(jnp.asarray, (log_cs[i:i + _BUDGETS], {k: v[i:i + _BUDGETS] for k, v in fixed_a.items()},
                                       {k: v[i:i + _BUDGETS] for k, v in fixed_b.items()}))
            for i in range(0, size, _BUDGETS)]


def _over_pairs(terms, thetas_a, thetas_b, chunks: list) -> dict:
    """`_on_pairs` on (n, P) parameter pairs in calls of `_CHUNK` pairs (the last padded with
    repeats) and each chunk of arguments (joined along the second axis), so that a fit and
    bootstraps of any size share one compiled program. NumPy, (n, ...) each."""
    n = len(thetas_a)
    size = -(-n // _CHUNK) * _CHUNK
    ta, tb = pad_repeating(thetas_a, size), pad_repeating(thetas_b, size)
    parts = [[_on_pairs(terms, jnp.asarray(ta[i:i + _CHUNK]), jnp.asarray(tb[i:i + _CHUNK]), args)
              for i in range(0, size, _CHUNK)] for args in chunks]
    joined = {k: [np.concatenate([np.asarray(p[k]) for p in pieces])[:n] for pieces in parts] for k in parts[0][0]}
    return {k: v[0] if v[0].ndim == 1 else np.concatenate(v, axis=1) for k, v in joined.items()}


def _fit_terms(terms, theta_a, theta_b, chunks: list):
    """`_with_jacobians` at one pair for each chunk of arguments: (values, (jacobians in theta_a,
    in theta_b)), name -> (K,) and (K, P) joined along budgets (a scalar and (P,) for one chunk)."""
    parts = [_with_jacobians(terms, jnp.asarray(theta_a), jnp.asarray(theta_b), args) for args in chunks]
    values = {k: np.concatenate([np.atleast_1d(np.asarray(v[k])) for v, _ in parts]) for k in parts[0][0]}
    jac = tuple({k: np.concatenate([np.atleast_2d(np.asarray(j[k][i])) for _, j in parts]) for k in parts[0][1]}
                for i in (0, 1))
    return values, jac


# --- the two sides -----------------------------------------------------------------------------------


class _Side(struct.PyTreeNode, kw_only=True):
    """One recipe: its law, free estimate, draws (B, P) with their mask, or the covariance; a
    linear `select`or maps the result's free vector to this law's (a label of a shared fit), and
    `origin` is the result object itself (to see when both sides come from one fit)."""

    law: Any = struct.field(pytree_node=False)
    theta: np.ndarray
    draws: np.ndarray | None
    mask: np.ndarray | None
    cov: np.ndarray | None
    select: np.ndarray
    origin: Any = struct.field(pytree_node=False)


def _side(which: str, value) -> _Side:
    """A side from a FitResult, a BootstrapResult, (law, params), or (shared result, label)."""
    label = None
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], Law):
        law, theta, draws, mask, cov = estimate_of(value[0], dict(value[1]))[:5]
        origin = None
    elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], (FitResult, BootstrapResult)):
        value, label = value
        law, theta, draws, mask, cov = estimate_of(value, None)[:5]
        origin = value
    elif isinstance(value, (FitResult, BootstrapResult)):
        law, theta, draws, mask, cov = estimate_of(value, None)[:5]
        origin = value
    else:
        raise TypeError(f"{which} must be a FitResult, a BootstrapResult, a (law, params) pair or a (result of a "
                        f"shared law, label) pair; got {type(value).__name__}.")
    select = np.eye(law.n_free)
    if isinstance(law, Shared):
        if label is None:
            raise ValueError(f"{which} is a fit of the shared law {law.name!r}; name the data set to compare: "
                             f"({which}_result, label) with a label of {list(law.labels)}.")
        if str(label) not in law.labels:
            raise ValueError(f"{which}: the shared law has no data set {label!r}{closest(str(label), law.labels)}; "
                             f"its labels are {list(law.labels)}.")
        k = law.labels.index(str(label))
        select = np.zeros((law.base.n_free, law.n_free))
        for row, index in enumerate(law._layout):
            select[row, index if isinstance(index, int) else index[k]] = 1.0
        law = law.base
    elif label is not None:
        raise ValueError(f"{which}: a label picks a data set of a shared fit; the {law.name} law is not shared.")
    if not _reads_compute(law):
        check_cost(law, None)
    return _Side(law=law, theta=np.asarray(theta), draws=None if draws is None else np.asarray(draws),
                 mask=None if mask is None else np.asarray(mask), cov=cov, select=select, origin=origin)


def _warn_beyond(sides, budgets) -> None:
    """An `ExtrapolationWarning` for budgets outside the compute of a recipe's fitted runs (the
    diagnostic `compute_optimal` warns with), one per recipe fitted to data."""
    for side, name in sides:
        fit = side.origin.fit if isinstance(side.origin, BootstrapResult) else side.origin
        if isinstance(fit, FitResult):
            found = extrapolation(fit.data_summary, side.law, {"compute": budgets},
                                  f"compare: recipe {name}'s multipliers")
            if found is not None:
                found.warn(stacklevel=3)


def _reads_compute(law: Law) -> bool:
    return not _reads_allocation(law) and "compute" in law.columns


def _paired(a, b) -> bool:
    """Whether two bootstraps drew the same configurations together (one result;
    `bootstrap_many(paired=True)`; or equal keys or counts over the same units holding the same
    configurations in the same order): their draws are then paired by index. Equal keys over
    as many rows alone are not enough: rows in another order draw other configurations."""
    if a is b:
        return True
    if not (isinstance(a, BootstrapResult) and isinstance(b, BootstrapResult)):
        return False
    if a.unit == b.unit == "configuration":  # bootstrap_many(paired=True): configurations drawn together
        return np.array_equal(a.key, b.key)
    if not a.configurations or a.configurations != b.configurations:
        return False
    if a.key is not None and b.key is not None and a.counts is None and b.counts is None:
        return a.n_units == b.n_units and a.unit == b.unit and np.array_equal(a.key, b.key)
    return a.counts is not None and b.counts is not None and np.array_equal(a.counts, b.counts)


# --- the result ----------------------------------------------------------------------------------------


class Comparison(struct.PyTreeNode, kw_only=True):
    """Recipe B against recipe A (`jscale.compare`): the compute multiplier and the crossover.

    Attributes:
        law_a, law_b, cost: the two laws and the cost model (static).
        compute: (K,) budgets C.
        multiplier: (K,) m(C), the factor of compute B needs to reach A's compute-optimal loss at
            C (> 1: A is better at C; inf: B never reaches it within a factor 1e10; 0: B beats it
            with less than 1e-10 C).
        loss_a, loss_b: (K,) compute-optimal losses L_A*(C) and L_B*(C).
        crossover: the budget where L_A* = L_B*, the first from below in `between` (NaN if none).
        between: (low, high) compute range searched for the crossover (static).
        paired: whether the draws of A and B come from the same resamples (static).
        draws: name -> (B,) or (B, K) per-draw values from bootstraps, else None.
        draw_ok: (B,) mask of draws where both fits converged, else None.
        sd: name -> delta-method sds of the logs (from two fits), else None.
    """

    QUANTITIES = ("multiplier", "loss_a", "loss_b", "crossover")

    law_a: Any = struct.field(pytree_node=False)
    law_b: Any = struct.field(pytree_node=False)
    cost: Any = struct.field(pytree_node=False)
    compute: np.ndarray
    multiplier: np.ndarray
    loss_a: np.ndarray
    loss_b: np.ndarray
    crossover: float
    between: tuple = struct.field(pytree_node=False)
    paired: bool = struct.field(pytree_node=False, default=False)
    draws: dict | None = None
    draw_ok: np.ndarray | None = None
    sd: dict | None = None

    @property
    def crossover_share(self) -> float | None:
        """Share of the usable draws that cross inside `between` (None without draws)."""
        if self.draws is None:
            return None
        return float(np.mean(np.isfinite(self.draws["crossover"][self.draw_ok])))

    def interval(self, name: str, level: float = 0.95):
        """(low, high) band of a quantity at every budget (a float pair for the crossover): the
        percentile interval over the draws (the crossover over the draws that cross), or the
        delta method in log space from two fits."""
        level = check_level(level)
        if name not in self.QUANTITIES:
            raise ValueError(f"name must be one of {', '.join(self.QUANTITIES)}; got {name!r}"
                             f"{closest(str(name), self.QUANTITIES)}.")
        estimate = np.asarray(getattr(self, name), np.float64)
        if self.draws is not None:
            values = np.asarray(self.draws[name])[self.draw_ok]
            if name == "crossover":
                values = values[np.isfinite(values)]
                if values.size == 0:
                    return Interval(float("nan"), float("nan"))
            # Order statistics, not interpolation: draws of m can be infinite (B never catches up).
            q = (np.quantile(values, 0.5 - level / 2, axis=0, method="lower"),
                 np.quantile(values, 0.5 + level / 2, axis=0, method="higher"))
            return Interval(float(q[0]), float(q[1])) if name == "crossover" else Interval(*q)
        if self.sd is None:
            raise ValueError("No uncertainty to band: both sides were given as (law, params).")
        half = normal_quantile(0.5 + level / 2) * np.asarray(self.sd[name])
        low, high = estimate * np.exp(-half), estimate * np.exp(half)
        return Interval(float(low), float(high)) if name == "crossover" else Interval(low, high)

    def table(self, level: float = 0.95) -> str:
        """The multiplier at every budget, with its band and both recipes' losses."""
        banded = self.draws is not None or self.sd is not None
        head = f"{'compute':>10} {'multiplier':>11} {'loss A*':>8} {'loss B*':>8}"
        method = "bootstrap" if self.draws is not None else "delta method"
        lines = [head + (f"   {100 * level:g}% band of the multiplier ({method})" if banded else "")]
        band = self.interval("multiplier", level) if banded else None
        for k, c in enumerate(self.compute):
            line = f"{c:>10.3g} {self.multiplier[k]:>11.4g} {self.loss_a[k]:>8.4f} {self.loss_b[k]:>8.4f}"
            if banded:
                line += f"   ({band[0][k]:.4g}, {band[1][k]:.4g})"
            lines.append(line)
        return "\n".join(lines)

    def summary(self, level: float = 0.95) -> str:
        """What the comparison says, in words, then `table()`."""
        lo, hi = self.between
        if np.isfinite(self.crossover):
            cross = f"The two cross at C = {self.crossover:.3g}"
            if self.draws is not None or self.sd is not None:
                band = self.interval("crossover", level)
                cross += f" ({100 * level:g}% band {band[0]:.3g} to {band[1]:.3g})"
        else:
            cross = f"The two do not cross between C = {lo:.3g} and {hi:.3g}"
        if self.draws is not None:
            cross += f"; {100 * self.crossover_share:.0f}% of the draws cross there"
        how = ("paired bootstrap draws (the same resamples)" if self.paired else "independent bootstrap draws") \
            if self.draws is not None \
            else ("the delta method" if self.sd is not None else "given parameters, no bands")
        return (f"Recipe B ({self.law_b.name}) against recipe A ({self.law_a.name}); m(C) = the compute B needs to "
                f"reach A's compute-optimal loss at C, divided by C (m > 1: A is better). Bands from {how}.\n"
                f"{cross}.\n{self.table(level)}")

    def to_dict(self, level: float = 0.95) -> dict:
        """A JSON-ready summary: budgets, multipliers, losses, crossover, bands where there are some."""
        out = {"law_a": self.law_a.name, "law_b": self.law_b.name, "paired": self.paired,
               "compute": self.compute.tolist(), "multiplier": self.multiplier.tolist(),
               "loss_a": self.loss_a.tolist(), "loss_b": self.loss_b.tolist(),
               "crossover": None if not np.isfinite(self.crossover) else float(self.crossover),
               "between": list(self.between)}
        if self.draws is not None or self.sd is not None:
            low, high = self.interval("multiplier", level)
            out["multiplier_band"] = {"level": level, "low": low.tolist(), "high": high.tolist()}
            cl, ch = self.interval("crossover", level)
            out["crossover_band"] = None if not np.isfinite(cl) else [cl, ch]
        return out

    def __repr__(self) -> str:
        return f"Comparison({self.law_b.name} vs {self.law_a.name} at {len(self.compute)} budgets)"


# --- the public function --------------------------------------------------------------------------------


def _check_between(between) -> tuple:
    try:
        lo, hi = (float(v) for v in between)
    except (TypeError, ValueError):
        raise ValueError(f"between must be a (low, high) pair of budgets; got {between!r}.") from None
    if not (0 < lo < hi < np.inf):
        raise ValueError(f"between must be 0 < low < high < inf; got {between!r}.")
    return lo, hi


def _fixed_for(law: Law, fixed, n: int) -> dict:
    """Logs of the law's columns held fixed, from `fixed` (the entries this law reads)."""
    fixed = dict(fixed or {})
    if _reads_allocation(law):
        others = [c for c in law.columns if c not in ALLOCATION_COLUMNS]
        return check_fixed(law, {k: v for k, v in fixed.items() if k in others}, n)
    others = [c for c in law.columns if c != "compute"]
    missing = [c for c in others if c not in fixed]
    if missing:
        raise ValueError(f"The {law.name} law also reads {', '.join(missing)}; pass its value(s) as fixed={{...}}.")
    return {c: np.log(np.broadcast_to(positive_array(f"fixed {c}", fixed[c]), (n,))) for c in others}


def _draw_pairs(a: _Side, b: _Side):
    """(thetas_a, thetas_b, ok) of the bootstrap draws, paired by index."""
    n = min(len(a.draws), len(b.draws))
    thetas_a = a.draws[:n] @ a.select.T
    thetas_b = b.draws[:n] @ b.select.T
    return thetas_a, thetas_b, a.mask[:n] & b.mask[:n]


def _delta_sd(a: _Side, b: _Side, jac) -> dict:
    """sds of the log quantities from both fits' covariances (cross terms when one fit gave both)."""
    ja, jb = jac
    sd = {}
    same = a.origin is not None and a.origin is b.origin
    for name in Comparison.QUANTITIES:
        da = np.atleast_2d(np.asarray(ja[name])) @ a.select  # in the result's free coordinates
        db = np.atleast_2d(np.asarray(jb[name])) @ b.select
        if same:
            total = da + db
            var = np.einsum("kp,pq,kq->k", total, a.cov, total)
        else:
            var = np.einsum("kp,pq,kq->k", da, a.cov, da) + np.einsum("kp,pq,kq->k", db, b.cov, db)
        sd[name] = np.sqrt(np.maximum(var, 0.0))
    sd["crossover"] = sd["crossover"][0]
    return sd


def _evaluate(side_a: _Side, side_b: _Side, cost, log_cs, fixed_a, fixed_b, log_between):
    """(estimate, draws, draw_ok, sd) of every quantity at budgets log C (K,): the estimates and
    per-draw values from the draws' programs (`_on_pairs`), or from a pair of fits the estimates
    with their Jacobians (`_with_jacobians`) for delta-method sds. Two programs per pair of laws:
    the budgets' and the crossover's (at the first budget's fixed columns)."""
    k = len(log_cs)
    at_budgets, crossover = (kind(law_a=side_a.law, law_b=side_b.law, cost=cost) for kind in (_AtBudgets, _Crossover))
    theta_a, theta_b = side_a.select @ side_a.theta, side_b.select @ side_b.theta
    draws = draw_ok = sd = None
    with x64_scope():
        budgets = _budget_chunks(log_cs, fixed_a, fixed_b)
        across = [jax.tree.map(jnp.asarray, ({c: v[0] for c, v in fixed_a.items()},
                                             {c: v[0] for c, v in fixed_b.items()}, log_between))]
        if side_a.cov is not None and side_a.draws is None:
            values, jac = _fit_terms(at_budgets, theta_a, theta_b, budgets)
            cross, cross_jac = _fit_terms(crossover, theta_a, theta_b, across)
            est = {**{c: np.exp(v[:k]) for c, v in values.items()}, "crossover": np.exp(cross["crossover"])}
            jac = tuple({**{c: v[:k] for c, v in j.items()}, **cj} for j, cj in zip(jac, cross_jac))
            return est, None, None, {c: read_only(v) for c, v in _delta_sd(side_a, side_b, jac).items()}
        if side_a.draws is not None:
            ta, tb, ok = _draw_pairs(side_a, side_b)
            thetas_a, thetas_b = np.concatenate([ta, theta_a[None]]), np.concatenate([tb, theta_b[None]])
            draw_ok = read_only(ok)
        else:
            thetas_a, thetas_b = theta_a[None], theta_b[None]
        out = {**_over_pairs(at_budgets, thetas_a, thetas_b, budgets),
               **_over_pairs(crossover, thetas_a, thetas_b, across)}
    out = {c: np.exp(v[:, :k] if v.ndim == 2 else v) for c, v in out.items()}
    est = {c: v[-1] for c, v in out.items()}
    if side_a.draws is not None:
        draws = {c: read_only(v[:-1]) for c, v in out.items()}
    return est, draws, draw_ok, sd


def compare(a, b, compute, *, cost=None, fixed=None, between=DEFAULT_BETWEEN) -> Comparison:
    """How much compute recipe B needs to match recipe A: the multiplier m(C) and the crossover.

    m(C) solves L_B*(m C) = L_A*(C), L* being the compute-optimal loss of each fitted law under
    `cost` (for a law of compute alone, the law at C), by root finding for any law (in closed
    form for Chinchilla under 6ND); see the module docstring of `jscale.decisions._compare`.

    Args:
        a, b: recipes A and B, each a `FitResult`, a `BootstrapResult`, a `(law, params)` pair
            (no bands), or `(result, label)` for one data set of a fit of a shared law
            (`jscale.laws.shared`). Both bootstraps, or both fits: bands from the bootstrap
            draws, draw b with draw b (*paired* resamples, which draw the same configurations
            for both recipes, from `jscale.bootstrap_many([a, b], paired=True)`, from one
            shared fit's bootstrap, or from the same key over the same units in the same
            order), or from the delta method with implicit derivatives (cross terms included
            when one shared fit gives both).
        compute: budget(s) C, a number or a 1-D array, in the units of `cost`.
        cost: cost(n_params, n_tokens) -> compute (default 6ND), as in `jscale.compute_optimal`.
        fixed: values of the laws' other columns, held fixed (e.g. {"unique_tokens": U}).
        between: (low, high) budgets searched for the crossover (default 1e15 to 1e28 FLOP).

    Returns:
        A `Comparison` (multiplier, loss_a, loss_b over budgets, crossover; `interval(name)`,
        `table()`, `summary()`, `to_dict()`).

    Example:
        >>> import jscale
        >>> law = jscale.laws.Chinchilla()
        >>> a = dict(E=1.82, A=482.0, B=2085.4, alpha=0.348, beta=0.366)
        >>> b = dict(a, A=2 * 482.0, B=2 * 2085.4)  # recipe B: twice the reducible loss
        >>> cmp = jscale.compare((law, a), (law, b), [1e21, 1e23])
        >>> [round(float(m), 1) for m in cmp.multiplier]  # 2 ** (1 / 0.1784), as in closed form
        [48.7, 48.7]
    """
    side_a, side_b = _side("a", a), _side("b", b)
    kinds = ["draws" if s.draws is not None else ("a fit" if s.cov is not None else "parameters")
             for s in (side_a, side_b)]
    if kinds[0] != kinds[1]:
        raise ValueError("Compare two bootstraps (bands from draws) or two fits (delta-method bands), not one of "
                         "each: bootstrap both recipes, or pass both FitResults.")
    cost = check_cost(side_a.law, cost) if _reads_allocation(side_a.law) else \
        (check_cost(side_b.law, cost) if _reads_allocation(side_b.law) else cost)
    budgets = positive_array("compute", compute)
    between = _check_between(between)
    fixed_a, fixed_b = _fixed_for(side_a.law, fixed, budgets.size), _fixed_for(side_b.law, fixed, budgets.size)
    paired = side_a.draws is not None and _paired(side_a.origin, side_b.origin)
    est, draws, draw_ok, sd = _evaluate(side_a, side_b, cost, np.log(budgets), fixed_a, fixed_b, np.log(between))
    _warn_beyond(((side_a, "A"), (side_b, "B")), budgets)
    undefined = np.flatnonzero(np.isnan(est["multiplier"]) | ~np.isfinite(est["loss_a"]) | ~np.isfinite(est["loss_b"]))
    if undefined.size:
        shown = ", ".join(f"{budgets[k]:.3g}" for k in undefined[:5]) + (" ..." if undefined.size > 5 else "")
        warnings.warn(ConvergenceWarning(
            f"compare: no multiplier at {undefined.size} of {budgets.size} budgets ({shown}): a recipe's "
            "compute-optimal loss is not finite there (a budget beyond what its law and float64 hold, or a law whose "
            "loss does not fall with both n_params and n_tokens, such as a Chinchilla alpha <= 0?). Those entries "
            "are NaN."), stacklevel=2)
    return Comparison(law_a=side_a.law, law_b=side_b.law, cost=cost, compute=read_only(budgets),
                      multiplier=read_only(est["multiplier"]), loss_a=read_only(est["loss_a"]),
                      loss_b=read_only(est["loss_b"]), crossover=float(np.squeeze(est["crossover"])), between=between,
                      paired=bool(paired), draws=draws, draw_ok=draw_ok, sd=sd)
