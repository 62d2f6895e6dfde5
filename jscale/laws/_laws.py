"""Law forms: parameter names, the free parametrisation, log-space prediction, default starts.

A law is a frozen, hashable object (it is a static argument of the jitted fits) that knows:

* `param_names`: the names of its natural parameters, e.g. ("E", "A", "B", "alpha", "beta");
* `positive`: which of them are positive; those are fitted as their logarithms, so the free
  vector `theta` (what the optimiser moves) is log E, log A, log B, alpha, beta for Chinchilla;
* `columns`: the data columns it reads (`n_params`, `n_tokens`, any other column by name);
* `column_space`: "log" (the built-in forms: they read the logs of their columns, which must be
  positive) or "natural" (custom laws: the values as they are, categorical columns as integer
  codes); `inputs(columns)` applies it, once per data set, to give the law's inputs `x`;
* `log_predict(theta, x)`: log of the prediction for every row, from the free vector and the
  inputs (`x["n_params"]` is log N for the built-in forms), evaluated in log space for numerical
  range; `predict(theta, x)` is the prediction itself (exp of `log_predict` unless the law
  computes it directly, as a custom law does);
* `default_starts()`: a (S, P) array of free-space starting points;
* `domain` (optional): natural-space (low, high) per parameter where the law is meaningful
  (default (0, inf) for positive parameters, unbounded otherwise); a fit at one of these
  bounds triggers a warning when intervals are computed.

New forms subclass `Law` and implement `log_predict` and `default_starts`; the engine uses
nothing else. `LAWS` is the one registry of the built-in forms (saved files and the command line
name them from it).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jscale.base._numerics import bucket, log, pad_repeating
from jscale.base._text import closest


def log_sum_exp_offset(offset, *terms):
    """log(exp(offset) + sum_k exp(terms_k)), shifted by `offset`.

    The usual log-sum-exp shifts by the largest term, which costs a per-row maximum and its
    bookkeeping in every derivative. Scaling laws have a constant term (log E) that is one of the
    summands, so shifting by it is exact, needs no maximum, and overflows only when another term
    exceeds it by more than ~709 (far outside any fit; the objective is then non-finite and the
    optimiser rejects the step).
    """
    total = 1.0
    for t in terms:
        total = total + jnp.exp(t - offset)
    return offset + log(total)


@dataclasses.dataclass(frozen=True)
class Law:
    """Base class of scaling-law forms (see the module docstring for the contract)."""

    name: ClassVar[str] = "law"
    param_names: ClassVar[tuple[str, ...]] = ()
    positive: ClassVar[tuple[bool, ...]] = ()
    columns: ClassVar[tuple[str, ...]] = ()
    domain: ClassVar[tuple[tuple[float, float], ...]] = ()
    column_space: ClassVar[str] = "log"

    def inputs(self, columns: dict) -> dict:
        """The law's inputs `x` from its columns in natural units (name -> (R,) array): their logs
        for a law whose `column_space` is "log", else the values unchanged."""
        if self.column_space == "log":
            return {c: (np.log if isinstance(columns[c], np.ndarray) else jnp.log)(columns[c]) for c in self.columns}
        return {c: columns[c] for c in self.columns}

    @property
    def log_columns(self) -> tuple[str, ...]:
        """The columns the law reads as logs (they must be positive): all of them for a law whose
        `column_space` is "log", none otherwise."""
        return tuple(self.columns) if self.column_space == "log" else ()

    def check_data(self, data) -> None:
        """Checks of the data that only this law can make (e.g. the labels of `Shared`); none by default."""

    @property
    def bounds(self) -> tuple[tuple[float, float], ...]:
        """Natural-space (low, high) of every parameter (`domain`, or the default from `positive`)."""
        if self.domain:
            return tuple((float(lo), float(hi)) for lo, hi in self.domain)
        return tuple((0.0, float("inf")) if p else (float("-inf"), float("inf")) for p in self.positive)

    @property
    def n_free(self) -> int:
        """Number of fitted parameters P."""
        return len(self.param_names)

    @property
    def free_names(self) -> tuple[str, ...]:
        """Names of the free coordinates: `log_<name>` for positive parameters, `logit_<name>`
        for parameters bounded on both sides."""
        bounded = self._bounded
        return tuple(f"log_{n}" if p else (f"logit_{n}" if b else n)
                     for n, p, b in zip(self.param_names, self.positive, bounded))

    @property
    def _bounded(self) -> tuple[bool, ...]:
        """Parameters that are not positive but have a finite (low, high) domain: fitted through
        a logistic map, value = low + (high - low) sigmoid(free)."""
        if not self.domain:
            return (False,) * len(self.param_names)
        return tuple(not p and np.isfinite(lo) and np.isfinite(hi) for p, (lo, hi) in zip(self.positive, self.bounds))

    def log_predict(self, theta, x):
        """Log of the prediction, shape (R,), from free parameters `theta` (P,) and inputs `x`."""
        raise NotImplementedError

    def predict(self, theta, x):
        """The prediction itself (e.g. the loss), shape (R,): exp of `log_predict`."""
        return jnp.exp(self.log_predict(theta, x))

    def default_starts(self) -> np.ndarray:
        """Default free-space starts, shape (S, P)."""
        raise NotImplementedError

    def starts_note(self) -> str:
        """What a user should know about the default starts (e.g. that they are a subset), or ""."""
        return ""

    def in_domain(self, k: int, value: float) -> bool:
        """Whether `value` is a usable natural value of parameter `k`: finite, above 0 if it is
        fitted as its log, strictly inside a finite (low, high) it is mapped into (a one-sided
        bound only warns; see `bounds`)."""
        low, high = self.bounds[k]
        return bool(np.isfinite(value) and (not self.positive[k] or value > 0)
                    and (not self._bounded[k] or low < value < high))

    def fix(self, **values) -> Law:
        """This law with parameters held at natural values, e.g. `law.fix(E=1.8)`.

        The others are fitted; fit, bootstrap and allocation work unchanged on the result.
        """
        return _fix(self, values)

    def tie(self, **pairs) -> Law:
        """This law with parameters tied to others, e.g. `law.tie(beta="alpha")` for beta = alpha."""
        return _tie(self, pairs)

    def bound(self, **limits) -> Law:
        """This law with parameters kept inside finite intervals, e.g. `link.bound(ceiling=(0, 1))`.

        Each named parameter is fitted through a logistic map onto its (low, high), which must
        lie inside the parameter's domain (for a positive parameter, low >= 0). Starts are moved
        inside the interval; an optimum on an edge is reported as at its bound. Combine freely
        with `fix` and `tie`.
        """
        return _bound(self, limits)

    def to_natural(self, theta):
        """Free vector(s) (..., P) to natural parameters (exp of the positive ones)."""
        xp = jnp if not isinstance(theta, np.ndarray) else np
        pos = np.asarray(self.positive)
        with np.errstate(over="ignore"):  # a huge free value is an infinite natural one, not a warning
            out = xp.where(pos, xp.exp(theta), theta)
            bounded = np.asarray(self._bounded)
            if bounded.any():
                low, high = (np.array([b[i] if k else 0.0 for b, k in zip(self.bounds, bounded)]) for i in (0, 1))
                squash = low + (high - low) / (1 + xp.exp(-theta))
                out = xp.where(bounded, squash, out)
        return out

    def to_free(self, values):
        """Natural parameters (..., P) to the free vector (log of the positive ones)."""
        values = np.asarray(values, dtype=np.float64)
        pos = np.asarray(self.positive)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(pos, np.log(np.where(pos, values, 1.0)), values)
            bounded = np.asarray(self._bounded)
            if bounded.any():
                low, high = (np.array([b[i] if k else 0.0 for b, k in zip(self.bounds, bounded)]) for i in (0, 1))
                unit = (values - low) / np.where(bounded, high - low, 1.0)
                out = np.where(bounded, np.log(unit) - np.log1p(-unit), out)
        return out


@dataclasses.dataclass(frozen=True)
class Chinchilla(Law):
    """L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022, arXiv:2203.15556, eq. 2).

    Symbols: N = `n_params`, D = `n_tokens`, L = `loss`. Evaluated in log space as
    log L = logsumexp(log A - alpha log N, log B - beta log D, log E), as in the replication by
    Besiroglu et al. 2024 (arXiv:2404.10102).

    Default starts are Hoffmann's grid: alpha, beta in {0, 0.5, 1, 1.5, 2}; log E in
    {-1, -0.5, 0, 0.5, 1}; log A, log B in {0, 5, ..., 25}: 4,500 starts.
    """

    name: ClassVar[str] = "chinchilla"
    param_names: ClassVar[tuple[str, ...]] = ("E", "A", "B", "alpha", "beta")
    positive: ClassVar[tuple[bool, ...]] = (True, True, True, False, False)
    columns: ClassVar[tuple[str, ...]] = ("n_params", "n_tokens")
    domain: ClassVar[tuple[tuple[float, float], ...]] = ((0.0, float("inf")),) * 5

    def log_predict(self, theta, log_x):
        log_e, log_a, log_b, alpha, beta = (theta[i] for i in range(5))
        log_n, log_d = log_x["n_params"], log_x["n_tokens"]
        return log_sum_exp_offset(log_e, log_a - alpha * log_n, log_b - beta * log_d)

    def default_starts(self) -> np.ndarray:
        exps = np.arange(0.0, 2.5, 0.5)
        log_e = np.arange(-1.0, 1.5, 0.5)
        log_ab = np.arange(0.0, 30.0, 5.0)
        grid = itertools.product(log_e, log_ab, log_ab, exps, exps)
        return np.array(list(grid), dtype=np.float64)

    @staticmethod
    def compute_optimal(params, compute):
        """Closed-form compute-optimal allocation under C = 6 N D (Hoffmann et al. 2022, eq. 4).

        Minimising E + A/N^alpha + B/D^beta subject to 6 N D = C gives
        N* = G (C/6)^a, D* = (C/6)^b / G with a = beta/(alpha+beta), b = alpha/(alpha+beta),
        G = (alpha A / (beta B))^(1/(alpha+beta)).

        Args:
            params: natural parameters, a mapping with E, A, B, alpha, beta.
            compute: training FLOP, scalar or array.

        Returns:
            (n_params, n_tokens, loss) at the optimum, arrays shaped like `compute`.
        """
        e, a_, b_, alpha, beta = (float(params[k]) for k in ("E", "A", "B", "alpha", "beta"))
        c = np.asarray(compute, dtype=np.float64) / 6.0
        g = (alpha * a_ / (beta * b_)) ** (1.0 / (alpha + beta))
        n = g * c ** (beta / (alpha + beta))
        d = c ** (alpha / (alpha + beta)) / g
        return n, d, e + a_ / n**alpha + b_ / d**beta




@functools.partial(jax.jit, static_argnums=0)
def _predict_at(law: Law, theta, x):
    return law.predict(theta, x)


# Predictions are padded to at least this many rows: a job's curves and data share one program.
_MIN_PREDICT_ROWS = 256


def padded_points(x: dict) -> tuple[dict, int]:
    """The points `x` (name -> (R,)) padded by repeats to the bucket of rows a prediction program
    is compiled for (at least `_MIN_PREDICT_ROWS`), and R."""
    n = len(next(iter(x.values())))
    size = max(_MIN_PREDICT_ROWS, bucket(n))
    return {k: pad_repeating(v, size) for k, v in x.items()}, n


def predict_at(law: Law, theta, x) -> np.ndarray:
    """`law.predict(theta, x)` (R,) as NumPy, compiled as one program (not one per operation, as
    eagerly) per bucket of rows. Call inside `x64_scope`."""
    padded, n = padded_points(x)
    return np.asarray(_predict_at(law, theta, padded))[:n]


def _parts(law: Law) -> tuple:
    """(base, fixed, tied, limits) of a law, as dicts to edit."""
    if isinstance(law, Constrained):
        return law.base, dict(law.fixed), dict(law.tied), dict(law.limits)
    return law, {}, {}, {}


def _constrained(base: Law, fixed: dict, tied: dict, limits: dict) -> Constrained:
    return Constrained(base=base, fixed=tuple(sorted(fixed.items())), tied=tuple(sorted(tied.items())),
                       limits=tuple(sorted(limits.items())))


def _fix(law: Law, values: dict) -> Law:
    base, fixed, tied, limits = _parts(law)
    for name, value in values.items():
        if name not in law.param_names:
            raise ValueError(
                f"fix: the {law.name} law has no free parameter {name!r}{closest(name, law.param_names)}; "
                f"its free parameters are {', '.join(law.param_names)}."
            )
        k = base.param_names.index(name)
        value = float(value)
        if not base.in_domain(k, value):
            if base._bounded[k] and np.isfinite(value):
                low, high = base.bounds[k]
                raise ValueError(f"fix: {name} must lie inside its domain ({low:g}, {high:g}); got {value!r}.")
            kind = " positive" if base.positive[k] else ""
            raise ValueError(f"fix: {name} must be a finite{kind} number; got {value!r}.")
        if name in limits and not limits[name][0] <= value <= limits[name][1]:
            low, high = limits[name]
            raise ValueError(f"fix: {name} is bounded to ({low:g}, {high:g}); got {value!r}.")
        limits.pop(name, None)
        fixed[name] = value
        # Parameters tied to a fixed one are fixed with it.
        for follower in [f for f, lead in tied.items() if lead == name]:
            fixed[follower] = value
            del tied[follower]
    return _constrained(base, fixed, tied, limits)


def _tie(law: Law, pairs: dict) -> Law:
    base, fixed, tied, limits = _parts(law)
    for follower, leader in pairs.items():
        for name in (follower, leader):
            if name not in law.param_names:
                raise ValueError(
                    f"tie: the {law.name} law has no free parameter {name!r}{closest(name, law.param_names)}; "
                    f"its free parameters are {', '.join(law.param_names)}."
                )
        if follower == leader:
            raise ValueError(f"tie: cannot tie {follower} to itself.")
        kf, kl = base.param_names.index(follower), base.param_names.index(leader)
        same = (base.positive[kf] == base.positive[kl] and base._bounded[kf] == base._bounded[kl]
                and (not base._bounded[kf] or base.bounds[kf] == base.bounds[kl]))
        if not same:
            raise ValueError(
                f"tie: {follower} and {leader} have different domains ({base.bounds[kf]} and {base.bounds[kl]}, or one "
                "is positive); they cannot be tied."
            )
        if limits.get(follower) != limits.get(leader):
            raise ValueError(
                f"tie: {follower} and {leader} have different bounds ({limits.get(follower)} and "
                f"{limits.get(leader)}); tie them first, then bound the one that is fitted."
            )
        limits.pop(follower, None)
        if leader in tied:
            leader = tied[leader]
        tied = {f: (leader if lead == follower else lead) for f, lead in tied.items()}
        tied[follower] = leader
    return _constrained(base, fixed, tied, limits)


def _bound(law: Law, given: dict) -> Law:
    base, fixed, tied, limits = _parts(law)
    for name, interval in given.items():
        if name not in law.param_names:
            held = "fixed or tied" if name in base.param_names else "not a parameter"
            raise ValueError(
                f"bound: {name!r} is {held} of the {law.name} law{closest(name, law.param_names)}; "
                f"its free parameters are {', '.join(law.param_names)}."
            )
        try:
            low, high = (float(v) for v in interval)
        except (TypeError, ValueError):
            raise ValueError(f"bound: {name} takes (low, high), two numbers; got {interval!r}.") from None
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"bound: {name} takes finite (low, high) with low < high; got {interval!r}.")
        base_low, base_high = base.bounds[base.param_names.index(name)]
        if low < base_low or high > base_high:
            raise ValueError(f"bound: ({low:g}, {high:g}) for {name} leaves its domain ({base_low:g}, {base_high:g}).")
        limits[name] = (low, high)
    return _constrained(base, fixed, tied, limits)


# Starts of a bounded parameter are kept at least this share of its interval away from its edges:
# at an edge the logistic map's gradient vanishes and the fit cannot move off it.
START_MARGIN = 0.02




@dataclasses.dataclass(frozen=True)
class Constrained(Law):
    """A law with some parameters fixed and some tied to others; made by `Law.fix` and `Law.tie`.

    Attributes:
        base: the full law.
        fixed: (name, natural value) pairs held fixed.
        tied: (follower, leader) pairs: the follower takes the leader's value.
        limits: (name, (low, high)) pairs: the parameter is fitted through a logistic map onto
            (low, high) (made by `Law.bound`).
    """

    base: Law = None
    fixed: tuple = ()
    tied: tuple = ()
    limits: tuple = ()

    @property
    def name(self) -> str:
        parts = ([f"{k}={v:g}" for k, v in self.fixed] + [f"{f}={lead}" for f, lead in self.tied]
                 + [f"{k} in ({low:g}, {high:g})" for k, (low, high) in self.limits])
        return f"{self.base.name}({', '.join(parts)})"

    @property
    def _kept(self) -> tuple[int, ...]:
        held = {k for k, _ in self.fixed} | {f for f, _ in self.tied}
        return tuple(i for i, n in enumerate(self.base.param_names) if n not in held)

    @property
    def param_names(self):
        return tuple(self.base.param_names[i] for i in self._kept)

    @property
    def positive(self):
        limited = dict(self.limits)
        return tuple(self.base.positive[i] and self.base.param_names[i] not in limited for i in self._kept)

    @property
    def columns(self):
        return self.base.columns

    @property
    def column_space(self):
        return self.base.column_space

    def inputs(self, columns: dict) -> dict:
        return self.base.inputs(columns)

    @property
    def log_columns(self):
        return self.base.log_columns

    def check_data(self, data) -> None:
        self.base.check_data(data)

    @property
    def domain(self):
        limited = dict(self.limits)
        return tuple(limited.get(self.base.param_names[i], self.base.bounds[i]) for i in self._kept)

    def full(self, theta):
        """The base law's free vector (P_base,) from this law's (P,)."""
        names = self.base.param_names
        fixed, tied, limited = dict(self.fixed), dict(self.tied), dict(self.limits)
        values = {}
        for j, n in enumerate(self.param_names):
            if n in limited:  # logistic onto (low, high), then the base law's own free coordinate
                values[n] = _free_value(self.base, names.index(n), _natural_value(self, j, theta[j]))
            else:
                values[n] = theta[j]
        out = []
        for k, n in enumerate(names):
            if n in fixed:
                out.append(jnp.asarray(self._fixed_free[k], theta.dtype))
            elif n in tied:
                out.append(values[tied[n]])
            else:
                out.append(values[n])
        return jnp.stack(out)

    @property
    def _fixed_free(self) -> np.ndarray:
        """The base law's free vector with the fixed values in place (others 1, unused)."""
        fixed = dict(self.fixed)
        values = [fixed.get(n, 1.0) for n in self.base.param_names]
        low_high = self.base.bounds
        values = [v if n in fixed or not np.all(np.isfinite(low_high[k])) else (low_high[k][0] + low_high[k][1]) / 2
                  for k, (n, v) in enumerate(zip(self.base.param_names, values))]
        return np.asarray(self.base.to_free(values))

    def log_predict(self, theta, x):
        return self.base.log_predict(self.full(jnp.asarray(theta)), x)

    def predict(self, theta, x):
        return self.base.predict(self.full(jnp.asarray(theta)), x)

    def starts_note(self) -> str:
        return self.base.starts_note()

    def default_starts(self) -> np.ndarray:
        base_starts = np.asarray(self.base.default_starts())
        starts = base_starts[:, list(self._kept)]
        if self.limits:  # the base's starts, moved inside each interval, as this law's free values
            natural = np.asarray(self.base.to_natural(base_starts))[:, list(self._kept)]
            for j, n in enumerate(self.param_names):
                if n in dict(self.limits):
                    low, high = dict(self.limits)[n]
                    unit = np.clip((natural[:, j] - low) / (high - low), START_MARGIN, 1 - START_MARGIN)
                    starts[:, j] = np.log(unit) - np.log1p(-unit)
        return np.unique(starts, axis=0)


def _natural_value(law: Law, k: int, free):
    """Law `law`'s natural parameter k from its free coordinate (traceable); see `_free_value`."""
    if law.positive[k]:
        return jnp.exp(free)
    if law._bounded[k]:
        low, high = law.bounds[k]
        return low + (high - low) * jax.nn.sigmoid(free)
    return free


def _free_value(law: Law, k: int, value):
    """Law `law`'s free coordinate k for the natural value `value` (traceable): its log for a
    positive parameter, its logit within the domain for a bounded one, else the value itself."""
    if law.positive[k]:
        return jnp.log(value)
    if law._bounded[k]:
        low, high = law.bounds[k]
        unit = (value - low) / (high - low)
        return jnp.log(unit) - jnp.log1p(-unit)
    return value


@dataclasses.dataclass(frozen=True)
class DataConstrained(Law):
    """Muennighoff et al. 2023 (arXiv:2305.16264), repeated data: L = E + A/N'^alpha + B/D'^beta.

    Symbols: N = `n_params`, D = `n_tokens` (total, repeats included), U_D = `unique_tokens`.
    Effective data and parameters, with R_D* = `R_D` and R_N* = `R_N` the decay constants:

        D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*)),   R_D = max(D / U_D - 1, 0),
        N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*)),   R_N = max(N / U_N - 1, 0),
        U_N = min(N, N_opt(U_D)),   N_opt(U) = G (G U)^(beta/alpha),  G = (alpha A/(beta B))^(1/(alpha+beta)),

    N_opt(U) being the Chinchilla-optimal size of a run with D = U tokens (G^2 U when alpha = beta).
    Evaluated in log space. Published fit on C4: the base law (log A, log B, log E, alpha = beta)
    = (6.255414, 7.3049974, 0.6254804, 0.3526596) held fixed, R_D* = 15.387756, R_N* = 5.309743
    (`jscale.datasets.load("datablations")`; fix the base with `DataConstrained().fix(...)`).

    Default starts: the paper's base grid (log A, log B in 0..25 (5), log E in -1..1 (4), alpha =
    beta in 0..2 (4), alpha = 0 replaced by 0.1) times R_D*, R_N* in {1, 7, 13, 20}: 6,400 starts.
    """

    name: ClassVar[str] = "data-constrained"
    param_names: ClassVar[tuple[str, ...]] = ("E", "A", "B", "alpha", "beta", "R_D", "R_N")
    positive: ClassVar[tuple[bool, ...]] = (True, True, True, False, False, True, True)
    columns: ClassVar[tuple[str, ...]] = ("n_params", "n_tokens", "unique_tokens")
    domain: ClassVar[tuple[tuple[float, float], ...]] = ((0.0, float("inf")),) * 7

    def log_predict(self, theta, log_x):
        log_e, log_a, log_b, alpha, beta, log_rd, log_rn = (theta[i] for i in range(7))
        log_n, log_d, log_u = log_x["n_params"], log_x["n_tokens"], log_x["unique_tokens"]
        log_dp = _log_effective(log_u, log_d, log_rd)
        log_g = (jnp.log(alpha) + log_a - jnp.log(beta) - log_b) / (alpha + beta)
        log_n_opt = log_g + (beta / alpha) * (log_g + log_u)
        log_np = _log_effective(jnp.minimum(log_n, log_n_opt), log_n, log_rn)
        return log_sum_exp_offset(log_e, log_a - alpha * log_np, log_b - beta * log_dp)

    def default_starts(self) -> np.ndarray:
        ab = np.linspace(0.0, 25.0, 5)
        exps = np.linspace(0.0, 2.0, 4)
        exps[0] = 0.1
        rs = np.log([1.0, 7.0, 13.0, 20.0])
        grid = itertools.product(np.linspace(-1.0, 1.0, 4), ab, ab, exps, rs, rs)
        return np.array([(e, a, b, x, x, rd, rn) for e, a, b, x, rd, rn in grid], dtype=np.float64)


def _log_effective(log_unique, log_total, log_r_star):
    """log(U + U R* (1 - exp(-R/R*))), R = max(total/U - 1, 0): repeated units decay in value."""
    r_star = jnp.exp(log_r_star)
    repeats = jnp.maximum(jnp.exp(log_total - log_unique) - 1.0, 0.0)
    return log_unique + jnp.log1p(-r_star * jnp.expm1(-repeats / r_star))


def _check_column(law, column):
    if not isinstance(column, str) or not column:
        raise ValueError(f"{type(law).__name__}: column must be the name of a data column, e.g. 'compute' or "
                         f"'steps'; got {column!r}.")


@dataclasses.dataclass(frozen=True)
class PowerLaw(Law):
    """L(x) = E + A x^(-alpha) in one input x (Hestness et al. 2017; Kaplan et al. 2020).

    `column` picks x: "compute" (default), "n_params", "n_tokens" (tokens or examples seen),
    "unique_tokens" or any other positive column (e.g. "steps"). Evaluated as
    log L = logsumexp(log E, log A - alpha log x).

    Default starts: log E in {-3, -2, -1, 0, 1}, log A in {0, 5, ..., 25}, alpha in
    {0.05, 0.1, 0.2, 0.4, 0.8, 1.6}: 180 starts.
    """

    column: str = "compute"
    param_names: ClassVar[tuple[str, ...]] = ("E", "A", "alpha")
    positive: ClassVar[tuple[bool, ...]] = (True, True, False)
    domain: ClassVar[tuple[tuple[float, float], ...]] = ((0.0, float("inf")),) * 3

    def __post_init__(self):
        _check_column(self, self.column)

    @property
    def name(self) -> str:
        return f"power-law({self.column})"

    @property
    def columns(self):
        return (self.column,)

    def log_predict(self, theta, log_x):
        log_e, log_a, alpha = theta[0], theta[1], theta[2]
        return log_sum_exp_offset(log_e, log_a - alpha * log_x[self.column])

    def default_starts(self) -> np.ndarray:
        grid = itertools.product([-3.0, -2.0, -1.0, 0.0, 1.0], np.arange(0.0, 30.0, 5.0),
                                 [0.05, 0.1, 0.2, 0.4, 0.8, 1.6])
        return np.array(list(grid), dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class PurePowerLaw(Law):
    """L(x) = (X_c / x)^alpha, no offset: Kaplan et al. 2020's one-variable laws (eqs. 1.1-1.3).

    E.g. `PurePowerLaw("n_params")` is L(N) = (N_c/N)^alpha_N. Log space: log L = alpha (log X_c - log x).
    Default starts: log X_c in {10, 15, ..., 45}, alpha in {0.02, 0.05, 0.1, 0.2, 0.5}: 40 starts.
    """

    column: str = "n_params"
    param_names: ClassVar[tuple[str, ...]] = ("X_c", "alpha")
    positive: ClassVar[tuple[bool, ...]] = (True, False)
    domain: ClassVar[tuple[tuple[float, float], ...]] = ((0.0, float("inf")),) * 2

    def __post_init__(self):
        _check_column(self, self.column)

    @property
    def name(self) -> str:
        return f"pure-power-law({self.column})"

    @property
    def columns(self):
        return (self.column,)

    def log_predict(self, theta, log_x):
        return theta[1] * (theta[0] - log_x[self.column])

    def default_starts(self) -> np.ndarray:
        return np.array(list(itertools.product(np.arange(10.0, 50.0, 5.0), [0.02, 0.05, 0.1, 0.2, 0.5])))


@dataclasses.dataclass(frozen=True)
class Kaplan(Law):
    """L(N, D) = ((N_c/N)^(alpha_N/alpha_D) + D_c/D)^alpha_D (Kaplan et al. 2020, eq. 1.5).

    Symbols: N = `n_params`, D = `n_tokens`. Log space: log L = alpha_D logaddexp((alpha_N/alpha_D)
    (log N_c - log N), log D_c - log D). Published (non-embedding N): N_c = 8.8e13, D_c = 5.4e13,
    alpha_N = 0.076, alpha_D = 0.095. Default starts: log N_c, log D_c in {20, 25, ..., 40},
    alpha_N, alpha_D in {0.03, 0.1, 0.3, 1}: 400 starts.
    """

    name: ClassVar[str] = "kaplan"
    param_names: ClassVar[tuple[str, ...]] = ("N_c", "D_c", "alpha_N", "alpha_D")
    positive: ClassVar[tuple[bool, ...]] = (True, True, False, False)
    columns: ClassVar[tuple[str, ...]] = ("n_params", "n_tokens")
    domain: ClassVar[tuple[tuple[float, float], ...]] = ((0.0, float("inf")),) * 4

    def log_predict(self, theta, log_x):
        log_nc, log_dc, alpha_n, alpha_d = (theta[i] for i in range(4))
        t_n = (alpha_n / alpha_d) * (log_nc - log_x["n_params"])
        t_d = log_dc - log_x["n_tokens"]
        return alpha_d * jnp.logaddexp(t_n, t_d)

    def default_starts(self) -> np.ndarray:
        logs = np.arange(20.0, 45.0, 5.0)
        exps = [0.03, 0.1, 0.3, 1.0]
        return np.array(list(itertools.product(logs, logs, exps, exps)), dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class HyperparameterLaw(Law):
    """L = L0 exp(sum_h k_h (log h - log h*)^2): a loss law over hyperparameters h and scale columns s.

    L0 = E + sum_s A_s / s^alpha_s is the loss at the optimal hyperparameters; each hyperparameter's
    optimum is a power law of the scale, log h* = log G_h + sum_s a_{h,s} log s, and k_h > 0 the
    curvature of the basin in log h (the loss rises by a factor exp(k_h (log k)^2) when h misses
    h* by a factor k). Fitted to every run of a sweep at once (`jscale.fit`), its optimum at any
    scale is `jscale.optimum(result, over=h, fixed={s: ...})`, with bands from a bootstrap. The
    joint counterpart of `jscale.hyperparameters`' per-cell optima and power laws.

    Args:
        over: the hyperparameter columns (e.g. ("learning_rate",) or ("learning_rate", "batch_size")).
        scale: the scale columns (e.g. ("n_params", "n_tokens"), or ("compute",)).

    Parameters: E; A_<s> and alpha_<s> per scale column; log_G_<h> (the log of the optimum's
    prefactor: it spans many decades), a_<h>_<s> (its exponents) and k_<h> per hyperparameter.
    Default starts: log E in {0, 0.5, 1}, log A_s in {5, 10}, alpha_s = 0.3, a = 0, k = 0.1 and
    G_h from 1e-5 to 1e5 by decades.
    """

    over: tuple = ("learning_rate",)
    scale: tuple = ("n_params", "n_tokens")

    def __post_init__(self):
        for name in ("over", "scale"):
            value = getattr(self, name)
            names = (value,) if isinstance(value, str) else tuple(value)
            if not names or not all(isinstance(n, str) and n for n in names):
                raise ValueError(f"HyperparameterLaw: {name} must name columns; got {value!r}.")
            object.__setattr__(self, name, names)
        both = self.over + self.scale
        if len(set(both)) != len(both) or len(self.over) > 2:
            raise ValueError(f"HyperparameterLaw: over ({self.over}) takes one or two columns and scale "
                             f"({self.scale}) others, each once.")

    @property
    def name(self) -> str:
        return f"hyperparameter-law({', '.join(self.over)} by {', '.join(self.scale)})"

    @property
    def columns(self):
        return self.scale + self.over

    @property
    def param_names(self):
        names = ["E"] + [f"{p}_{s}" for s in self.scale for p in ("A", "alpha")]
        for h in self.over:
            names += [f"log_G_{h}"] + [f"a_{h}_{s}" for s in self.scale] + [f"k_{h}"]
        return tuple(names)

    @property
    def positive(self):
        flags = [True] + [True, False] * len(self.scale)
        for _ in self.over:
            flags += [False] * (1 + len(self.scale)) + [True]
        return tuple(flags)

    @property
    def domain(self):
        inf = float("inf")
        bounds = [(0.0, inf)] + [(0.0, inf)] * 2 * len(self.scale)
        for _ in self.over:
            bounds += [(-inf, inf)] * (1 + len(self.scale)) + [(0.0, inf)]
        return tuple(bounds)

    def log_predict(self, theta, log_x):
        n_s = len(self.scale)
        terms = [theta[1 + 2 * j] - theta[2 + 2 * j] * log_x[s] for j, s in enumerate(self.scale)]
        out = log_sum_exp_offset(theta[0], *terms)
        k = 1 + 2 * n_s
        for h in self.over:
            centre = theta[k] + sum(theta[k + 1 + j] * log_x[s] for j, s in enumerate(self.scale))
            out = out + jnp.exp(theta[k + 1 + n_s]) * (log_x[h] - centre) ** 2
            k += n_s + 2
        return out

    def default_starts(self) -> np.ndarray:
        base = [[e] + [a, 0.3] * len(self.scale) for e in (0.0, 0.5, 1.0) for a in (5.0, 10.0)]
        log_g = np.log(10.0 ** np.arange(-5.0, 6.0))
        rows = []
        for b in base:
            for gs in itertools.product(log_g, repeat=len(self.over)):
                rows.append(b + [v for g in gs for v in [g] + [0.0] * len(self.scale) + [np.log(0.1)]])
        return np.array(rows, dtype=np.float64)


# More breaks than any scaling curve shows; the bound keeps a crafted result file from declaring
# a law of millions of parameters.
MAX_BREAKS = 32


@dataclasses.dataclass(frozen=True)
class BrokenPowerLaw(Law):
    """Smoothly broken power law (Caballero et al. 2022, arXiv:2210.14891, eq. 1), `n_breaks` breaks:

        y = a + b x^(-c0) prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i),

    with x the `column` (default "n_tokens", tokens or examples seen; any positive column). Parameters a, b, d_i, f_i
    are positive; c0 and c_i free. Log space: log y = logsumexp(log a, log b - c0 log x -
    sum_i c_i f_i softplus((log x - log d_i)/f_i)).

    Default starts: log a in {-3, -1, 0.5}, log b in {0, 2, 5}, c0 in {0, 0.3, 1}, and per break
    c_i in {0.3, 1}, log d_i in {5, 10, 15, 20, 25}, f_i in {0.3, 1}; for more than one break a
    fixed pseudo-random subset of at most 2,000 of that grid.
    """

    n_breaks: int = 1
    column: str = "n_tokens"
    domain: ClassVar[tuple[tuple[float, float], ...]] = ()

    def __post_init__(self):
        _check_column(self, self.column)
        if (isinstance(self.n_breaks, bool) or not isinstance(self.n_breaks, int)
                or not 1 <= self.n_breaks <= MAX_BREAKS):
            raise ValueError(f"BrokenPowerLaw: n_breaks must be an integer from 1 to {MAX_BREAKS}; got "
                             f"{self.n_breaks!r}.")

    @property
    def name(self) -> str:
        return f"broken-power-law({self.column}, {self.n_breaks} break{'s' if self.n_breaks > 1 else ''})"

    @property
    def columns(self):
        return (self.column,)

    @property
    def param_names(self):
        names = ["a", "b", "c0"]
        for i in range(1, self.n_breaks + 1):
            names += [f"c{i}", f"d{i}", f"f{i}"]
        return tuple(names)

    @property
    def positive(self):
        return (True, True, False) + (False, True, True) * self.n_breaks

    def log_predict(self, theta, log_x):
        x = log_x[self.column]
        term = theta[1] - theta[2] * x
        for i in range(self.n_breaks):
            c, log_d, log_f = theta[3 + 3 * i], theta[4 + 3 * i], theta[5 + 3 * i]
            f = jnp.exp(log_f)
            term = term - c * f * jax.nn.softplus((x - log_d) / f)
        return log_sum_exp_offset(theta[0], term)

    def default_starts(self) -> np.ndarray:
        head = list(itertools.product([-3.0, -1.0, 0.5], [0.0, 2.0, 5.0], [0.0, 0.3, 1.0]))
        brk = list(itertools.product([0.3, 1.0], [5.0, 10.0, 15.0, 20.0, 25.0], np.log([0.3, 1.0])))
        if self.n_breaks == 1:
            return np.array([h + b for h in head for b in brk], dtype=np.float64)
        rng = np.random.default_rng(0)
        rows = [head[rng.integers(len(head))] + sum((brk[rng.integers(len(brk))] for _ in range(self.n_breaks)), ())
                for _ in range(2000)]
        return np.unique(np.array(rows, dtype=np.float64), axis=0)


@dataclasses.dataclass(frozen=True)
class ExponentialLink(Law):
    """Err(L) = eps - k exp(-gamma L): a task metric from the loss (Gadre et al. 2024, arXiv:2403.08540, eq. 4).

    A *link* law: it reads the loss (the `column`, default "loss") and predicts a task metric,
    e.g. the top-1 error averaged over tasks. Fit it with `target=` the metric's column and
    `residual="raw"` (the metric is bounded); `jscale.two_stage` does that and chains it to a loss
    law. eps is the metric where the loss is high (about the chance-level error); k and gamma set
    how fast it falls as the loss falls. All three are positive (fitted as their logs).

    Default starts: eps in {0.5, 0.8, 1}, k in {0.3, 1, 3, 10}, gamma in {0.3, 0.7, 1.5, 3}: 48
    starts (Gadre et al. start scipy's curve_fit from eps = k = gamma = 1, one of them).
    """

    column: str = "loss"
    param_names: ClassVar[tuple[str, ...]] = ("eps", "k", "gamma")
    positive: ClassVar[tuple[bool, ...]] = (True, True, True)
    domain: ClassVar[tuple[tuple[float, float], ...]] = ((0.0, float("inf")),) * 3
    column_space: ClassVar[str] = "natural"

    def __post_init__(self):
        _check_column(self, self.column)

    @property
    def name(self) -> str:
        return f"exponential-link({self.column})"

    @property
    def columns(self):
        return (self.column,)

    def predict(self, theta, x):
        return jnp.exp(theta[0]) - jnp.exp(theta[1] - jnp.exp(theta[2]) * x[self.column])

    def log_predict(self, theta, x):
        return jnp.log(self.predict(theta, x))

    def default_starts(self) -> np.ndarray:
        grid = itertools.product([0.5, 0.8, 1.0], [0.3, 1.0, 3.0, 10.0], [0.3, 0.7, 1.5, 3.0])
        return np.log(np.array(list(grid), dtype=np.float64))


@dataclasses.dataclass(frozen=True)
class SigmoidLink(Law):
    """m(L) = floor + (ceiling - floor) / (1 + exp(s (L - L0))): a task metric from the loss.

    The link of Llama 3's two-step prediction (Dubey et al. 2024, arXiv:2407.21783, sec. 3.2.1)
    and of ladder studies (Bhagia et al. 2024, arXiv:2412.04403): the metric goes from `floor` at
    high loss (chance level: an accuracy of 1/choices, or its error) to `ceiling` at low loss, with
    its midpoint at loss L0 and slope s > 0. The same form fits an accuracy (ceiling > floor) or an
    error (ceiling < floor). floor and ceiling lie inside `metric_range`, default (0, 1): an
    accuracy or error cannot pass 100% (they are fitted through a logistic map onto it, so an
    optimum on an edge is reported as at its bound). Pass the metric's own range (e.g. (0, 100)
    for percentages) or `metric_range=None` for unbounded floor and ceiling; narrow either with
    `bound`, e.g. `SigmoidLink().bound(floor=(0.2, 0.3))`, or hold the chance level fixed with
    `SigmoidLink().fix(floor=0.25)`. Fit with `residual="raw"` and `target=` the metric column, or
    through `jscale.two_stage`.

    Default starts: floor and ceiling at 2%, 25%, 50%, 75% and 98% of `metric_range` (at 0, 0.25,
    0.5, 0.75, 1 when it is None; not equal to each other), s in {1, 3, 10}, L0 in {1.5, 2.5, 3.5,
    5}: 240 starts.
    """

    column: str = "loss"
    metric_range: tuple | None = (0.0, 1.0)
    param_names: ClassVar[tuple[str, ...]] = ("floor", "ceiling", "s", "L0")
    positive: ClassVar[tuple[bool, ...]] = (False, False, True, False)
    column_space: ClassVar[str] = "natural"

    def __post_init__(self):
        _check_column(self, self.column)
        if self.metric_range is not None:
            try:
                low, high = (float(v) for v in self.metric_range)
            except (TypeError, ValueError):
                low = high = float("nan")
            if not (np.isfinite(low) and np.isfinite(high) and low < high):
                raise ValueError(f"SigmoidLink: metric_range must be finite (low, high) with low < high, or None; "
                                 f"got {self.metric_range!r}.")
            object.__setattr__(self, "metric_range", (low, high))

    @property
    def name(self) -> str:
        return f"sigmoid-link({self.column})"

    @property
    def columns(self):
        return (self.column,)

    @property
    def domain(self):
        edges = (float("-inf"), float("inf")) if self.metric_range is None else self.metric_range
        return (edges, edges, (0.0, float("inf")), (float("-inf"), float("inf")))

    def predict(self, theta, x):
        floor, ceiling, s, l0 = (_natural_value(self, k, theta[k]) for k in range(4))
        return floor + (ceiling - floor) * jax.nn.sigmoid(-s * (x[self.column] - l0))

    def log_predict(self, theta, x):
        return jnp.log(self.predict(theta, x))

    def default_starts(self) -> np.ndarray:
        if self.metric_range is None:
            levels = [0.0, 0.25, 0.5, 0.75, 1.0]
        else:
            low, high = self.metric_range
            levels = [low + (high - low) * q for q in (START_MARGIN, 0.25, 0.5, 0.75, 1 - START_MARGIN)]
        grid = [(f, c, s, l0) for f, c, s, l0 in itertools.product(levels, levels, [1.0, 3.0, 10.0],
                                                                   [1.5, 2.5, 3.5, 5.0]) if f != c]
        return self.to_free(np.array(grid, dtype=np.float64))


@dataclasses.dataclass(frozen=True)
class Shared(Law):
    """One law over several data sets (or recipes), some parameters shared and the rest per set.

    The data sets are the values of a categorical column `by` (`labels`, sorted as the data's
    codes are); the parameters named in `shared` take one value for all of them, every other
    parameter of `base` one value per label, named `name[label]` (e.g. "A[rpj]"). Made by
    `jscale.laws.shared` (or `jscale.fit_shared`); fit, bootstrap (resampling each set's runs,
    see `jscale.bootstrap`'s `strata=`) and `fix`/`tie` work on it unchanged. It equals the base
    law written with per-label parameters over the `by` column, e.g. as a custom law.

    Default starts: the base law's, each start's values copied to every label.
    """

    base: Law = None
    by: str = "dataset"
    labels: tuple = ()
    shared: tuple = ()

    def __post_init__(self):
        if not isinstance(self.base, Law):
            raise TypeError(f"shared: law must be a jscale law; got {type(self.base).__name__}.")
        unknown = [n for n in self.shared if n not in self.base.param_names]
        if unknown:
            raise ValueError(f"shared: the {self.base.name} law has no parameter {unknown[0]!r}"
                             f"{closest(unknown[0], self.base.param_names)}; its parameters are "
                             f"{', '.join(self.base.param_names)}.")
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"shared: labels must name at least two distinct data sets; got {self.labels!r}.")
        if self.by in self.base.columns:
            raise ValueError(f"shared: by={self.by!r} is a column the {self.base.name} law reads; name the "
                             "categorical column that says which data set a run belongs to.")

    @property
    def name(self) -> str:
        return f"{self.base.name} by {self.by} (shared: {', '.join(self.shared) or 'none'})"

    @property
    def _layout(self) -> tuple:
        """Per base parameter, its index (shared) or the indices per label in this law's vector."""
        out, k = [], 0
        for n in self.base.param_names:
            if n in self.shared:
                out.append(k)
                k += 1
            else:
                out.append(tuple(range(k, k + len(self.labels))))
                k += len(self.labels)
        return tuple(out)

    @property
    def param_names(self):
        names = []
        for n in self.base.param_names:
            names += [n] if n in self.shared else [f"{n}[{label}]" for label in self.labels]
        return tuple(names)

    def _expand(self, per_base) -> tuple:
        return tuple(v for n, v in zip(self.base.param_names, per_base)
                     for _ in range(1 if n in self.shared else len(self.labels)))

    @property
    def positive(self):
        return self._expand(self.base.positive)

    @property
    def domain(self):
        return self._expand(self.base.bounds)

    @property
    def columns(self):
        return tuple(self.base.columns) + (self.by,)

    @property
    def column_space(self):
        return "natural"

    @property
    def log_columns(self):
        return self.base.log_columns

    def inputs(self, columns: dict) -> dict:
        return {**self.base.inputs({c: columns[c] for c in self.base.columns}), self.by: columns[self.by]}

    def check_data(self, data) -> None:
        if self.by not in data.categorical:
            raise ValueError(f"The {self.name} law reads {self.by!r} as labels, but the data's {self.by!r} column is "
                             "numeric; give it as text labels (or use jscale.fit_shared).")
        levels = [str(v) for v in data.codes(self.by)[0].tolist()]
        if levels != [str(v) for v in self.labels]:
            raise ValueError(f"The {self.name} law has labels {list(self.labels)} but the data's {self.by!r} column "
                             f"has {levels}; make the law from this data (jscale.laws.shared(law, data, ...)).")
        self.base.check_data(data)

    def member(self, theta, label):
        """The base law's free vector (P_base,) of one data set (by label or code) from this law's."""
        k = self.labels.index(label) if not isinstance(label, (int, np.integer)) else int(label)
        return jnp.stack([theta[i] if isinstance(i, int) else theta[i[k]] for i in self._layout])

    def _by_label(self, fn, theta, x):
        base_x = {c: x[c] for c in x if c != self.by}
        rows = jnp.stack([fn(self.member(theta, k), base_x) for k in range(len(self.labels))])
        return jnp.take_along_axis(rows, x[self.by].astype(jnp.int32)[None, :], axis=0)[0]

    def log_predict(self, theta, x):
        return self._by_label(self.base.log_predict, jnp.asarray(theta), x)

    def predict(self, theta, x):
        return self._by_label(self.base.predict, jnp.asarray(theta), x)

    def starts_note(self) -> str:
        return self.base.starts_note()

    def default_starts(self) -> np.ndarray:
        base = np.asarray(self.base.default_starts())
        return np.stack([base[:, i] for i, n in enumerate(self.base.param_names)
                         for _ in range(1 if n in self.shared else len(self.labels))], axis=1)


def shared(law: Law, data, *, by: str = "dataset", shared: tuple = ()) -> Shared:
    """`law` over the data sets named by the categorical column `by` of `data`, with the
    parameters in `shared` common to all and the others one per data set (see `Shared`).

    Example:
        >>> import jscale
        >>> runs = jscale.ScalingData.from_arrays(n_params=[1e8, 1e9, 1e8, 1e9], n_tokens=[2e9, 2e10, 2e9, 2e10],
        ...                                       loss=[3.2, 2.7, 3.1, 2.6], recipe=["a", "a", "b", "b"])
        >>> jscale.laws.shared(jscale.laws.PowerLaw("compute"), runs, by="recipe", shared=("E",)).param_names
        ('E', 'A[a]', 'A[b]', 'alpha[a]', 'alpha[b]')
    """
    if by not in data.columns:
        raise ValueError(f"shared: the data has no column {by!r}{closest(by, data.columns)}; its columns are "
                         f"{', '.join(data.columns)}.")
    shared_names = (shared,) if isinstance(shared, str) else tuple(shared)
    return Shared(base=law, by=by, labels=tuple(str(v) for v in data.codes(by)[0].tolist()), shared=shared_names)


@dataclasses.dataclass(frozen=True)
class Param:
    """A parameter of a custom law: its domain and its starting values (natural units).

    Args:
        domain: "positive" (fitted as its log), "free", or (low, high) with both finite (fitted
            through a logistic map) or one infinite (a bound used only for warnings).
        starts: starting values; the law's default starts are the grid of all parameters'.
            Default: (0.1, 1, 10) for positive, (-1, 0, 1) for free, the midpoint and quartiles
            for bounded parameters.
    """

    domain: object = "free"
    starts: tuple = ()

    def __post_init__(self):
        d = self.domain
        ok = d in ("positive", "free") or (isinstance(d, tuple) and len(d) == 2 and float(d[0]) < float(d[1]))
        if not ok:
            raise ValueError(f"Param domain must be 'positive', 'free' or (low, high) with low < high; got {d!r}.")
        object.__setattr__(self, "starts", tuple(float(v) for v in np.atleast_1d(self.starts)))

    @property
    def bounds(self) -> tuple[float, float]:
        if self.domain == "positive":
            return (0.0, float("inf"))
        if self.domain == "free":
            return (float("-inf"), float("inf"))
        return (float(self.domain[0]), float(self.domain[1]))

    def start_values(self) -> tuple:
        if self.starts:
            return self.starts
        if self.domain == "positive":
            return (0.1, 1.0, 10.0)
        lo, hi = self.bounds
        if np.isfinite(lo) and np.isfinite(hi):
            return tuple(lo + (hi - lo) * q for q in (0.25, 0.5, 0.75))
        return (-1.0, 0.0, 1.0)


@dataclasses.dataclass(frozen=True)
class Custom(Law):
    """A law from a plain JAX function; made by `jscale.laws.custom`."""

    fn: object = None
    specs: tuple = ()  # (name, Param) pairs
    input_columns: tuple = ()
    label: str = "custom"
    returns_log: bool = False
    column_space: ClassVar[str] = "natural"

    @property
    def name(self) -> str:
        return self.label

    @property
    def param_names(self):
        return tuple(n for n, _ in self.specs)

    @property
    def positive(self):
        return tuple(p.domain == "positive" for _, p in self.specs)

    @property
    def columns(self):
        return self.input_columns

    @property
    def domain(self):
        return tuple(p.bounds for _, p in self.specs)

    def _call(self, theta, x):
        nat = self.to_natural(theta)
        return self.fn({n: nat[i] for i, n in enumerate(self.param_names)}, dict(x))

    def log_predict(self, theta, x):
        out = self._call(theta, x)
        return out if self.returns_log else jnp.log(out)

    def predict(self, theta, x):
        out = self._call(theta, x)
        return jnp.exp(out) if self.returns_log else out

    def default_starts(self) -> np.ndarray:
        """The grid of every parameter's start values; for a grid of more than
        `MAX_DEFAULT_STARTS` points (3^P passes 4,096 at P = 8), a deterministic Halton subset
        of it (see `starts_note`)."""
        values = [p.start_values() for _, p in self.specs]
        if self._grid_size() <= MAX_DEFAULT_STARTS:
            grid = np.array(list(itertools.product(*values)), dtype=np.float64)
        else:
            grid = _halton_subset(values, MAX_DEFAULT_STARTS)
        return self.to_free(grid)

    def _grid_size(self) -> int:
        return math.prod(len(p.start_values()) for _, p in self.specs)

    def starts_note(self) -> str:
        size = self._grid_size()
        if size <= MAX_DEFAULT_STARTS:
            return ""
        return (f"The default starts are {MAX_DEFAULT_STARTS:,} of the {size:,} points of the {self.name} law's grid "
                "of start values (a Halton subset); pass starts= to fit others.")


# Default starts of a custom law: its grid of start values, at most this many points.
MAX_DEFAULT_STARTS = 4096


def _halton_subset(values: list, n: int) -> np.ndarray:
    """`n` distinct points of the grid product(*values), chosen by a Halton sequence over the
    grid's index space (deterministic, spread evenly over every parameter's values)."""
    primes = _primes(len(values))
    rows, seen = [], set()
    j = 0
    while len(rows) < n:
        j += 1
        index = tuple(min(int(_radical_inverse(j, b) * len(v)), len(v) - 1) for b, v in zip(primes, values))
        if index not in seen:
            seen.add(index)
            rows.append([v[i] for v, i in zip(values, index)])
    return np.array(rows, dtype=np.float64)


def _radical_inverse(j: int, base: int) -> float:
    out, scale = 0.0, 1.0 / base
    while j:
        j, digit = divmod(j, base)
        out += digit * scale
        scale /= base
    return out


def _primes(n: int) -> list:
    found = []
    k = 2
    while len(found) < n:
        if all(k % p for p in found if p * p <= k):
            found.append(k)
        k += 1
    return found


def _check_param_starts(name: str, param: Param) -> None:
    """A start outside a parameter's domain would be an infinite free value: refuse it by name."""
    low, high = param.bounds
    positive = param.domain == "positive"
    bounded = not positive and np.isfinite(low) and np.isfinite(high)
    where = "above 0" if positive else (f"inside ({low:g}, {high:g})" if bounded else "finite")
    for value in param.start_values():
        if not np.isfinite(value) or (positive and value <= 0) or (bounded and not low < value < high):
            raise ValueError(f"custom: parameter {name!r} has domain {param.domain!r} but a start of {value!r}; "
                             f"its starts must be {where}.")


def custom(fn, params: dict, columns, *, name: str = "custom", log: bool = False) -> Custom:
    """A law from a function `fn(params, inputs) -> prediction` written with jax.numpy.

    Args:
        fn: maps `params` (name -> scalar, natural units) and `inputs` (column -> (R,) array,
            natural units; categorical columns as int32 codes into the sorted labels) to the
            prediction (R,) of the fitted column (the loss, or the `target=` of the fit), or to
            its log with `log=True`.
        params: name -> `jscale.laws.Param` (or a domain string: "positive", "free").
        columns: the data columns `fn` reads: any columns of the data, e.g. ("n_params",
            "n_experts") or ("n_params", "tokens_per_param").
        name: a label for summaries.
        log: `fn` returns the log of the prediction.

    Fit, bootstrap and allocation work on the result unchanged; `fix` and `tie` too. The law
    is hashed by `fn` (a jit static argument): define the function once and reuse it.

    Example:
        >>> import jax.numpy as jnp, jscale
        >>> from jscale.laws import Param, custom
        >>> law = custom(lambda p, x: p["E"] + p["A"] * x["compute"] ** -p["alpha"],
        ...              {"E": Param("positive"), "A": Param("positive", (1e2, 1e4)), "alpha": Param((0, 1))},
        ...              columns=("compute",), name="my-law")
        >>> law.free_names, law.default_starts().shape
        (('log_E', 'log_A', 'logit_alpha'), (18, 3))
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(params, inputs) -> prediction; got {type(fn).__name__}.")
    if not params:
        raise ValueError("custom: params must name at least one parameter.")
    named = [n for n in params if not isinstance(n, str) or not n]
    if named:
        raise ValueError(f"custom: parameter names must be non-empty strings (fn reads p[name]); got {named[0]!r}.")
    specs = tuple((n, p if isinstance(p, Param) else Param(p)) for n, p in params.items())
    for n, p in specs:
        _check_param_starts(n, p)
    columns = (columns,) if isinstance(columns, str) else tuple(columns)
    bad = [c for c in columns if not isinstance(c, str) or not c]
    if not columns or bad:
        raise ValueError(f"custom: columns must name the data columns fn reads, e.g. ('n_params', 'n_tokens'); "
                         f"got {columns!r}.")
    if len(set(columns)) != len(columns):
        raise ValueError(f"custom: columns lists a column twice: {columns!r}.")
    return Custom(fn=fn, specs=specs, input_columns=columns, label=str(name), returns_log=bool(log))


# The one registry of law forms, by class name (saved files and the command line use it).
LAWS = {cls.__name__: cls for cls in (Chinchilla, DataConstrained, Kaplan, PowerLaw, PurePowerLaw, BrokenPowerLaw,
                                      ExponentialLink, SigmoidLink, HyperparameterLaw, Constrained, Custom, Shared)}
# The forms written here (a Constrained law is built-in where its base is); others run user code.
BUILT_IN = (Chinchilla, DataConstrained, Kaplan, PowerLaw, PurePowerLaw, BrokenPowerLaw, ExponentialLink, SigmoidLink,
            HyperparameterLaw)
# Names of the laws of two columns (n_params, n_tokens) that need no settings, for the command line.
# The laws by their command-line names; the one-column forms take `NAME:COLUMN` there.
NAMED = {"chinchilla": Chinchilla, "kaplan": Kaplan, "data-constrained": DataConstrained, "power-law": PowerLaw,
         "pure-power-law": PurePowerLaw, "broken-power-law": BrokenPowerLaw}
