"""Differentiating the fitted law: compute-optimal allocation and marginal returns, with bands.

Compute-optimal allocation minimises the predicted loss L(N, D) subject to cost(N, D) = C.
In log space, u = log N and v = log D, it is a problem of jscale's one optimum solver
(`jscale.engine._optimum`: `AllocationProblem`, minimise l = log L subject to g = log cost - log C = 0),
started from a scan of tokens-per-parameter ratios along the constraint and solved for every
budget (batched with `vmap`, under `jit`) by Newton steps on the Lagrange conditions.
Derivatives of the optimum with respect to the law's parameters and to log C come from the
implicit function theorem there, not from the iterations. They give the local exponents
d log N*/d log C, d log D*/d log C and delta-method intervals.

For Chinchilla under C = 6ND the optimum has a closed form (Hoffmann et al. 2022, eq. 4;
`chinchilla_frontier`), which every verb takes (`optimum`): exact, and seconds less to compile
(with the solver inside, `jscale.compare`'s nested root searches took tens of seconds). It is also
the test of the solver, which any other law or cost uses (the tests give 6ND as a cost of their
own, which takes the solver).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._numerics import read_only, x64_scope
from jscale.base._status import Status
from jscale.base._warnings import IntervalWarning
from jscale.engine._optimum import solve, status
from jscale.inference._bands import Bands, evaluate, to_bands
from jscale.inference._diagnostics import extrapolation
from jscale.inference._estimate import estimate_of
from jscale.inference._predict import codes_for
from jscale.inference._results import BootstrapResult, FitResult
from jscale.laws._laws import Chinchilla, Law

ALLOCATION_COLUMNS = ("n_params", "n_tokens")
# Delta-method bands of N* from a fit of fewer distinct configurations than this per fitted
# parameter are too narrow. `python benchmarks/calibrate_intervals.py` (Chinchilla-like studies
# simulated from a known law, 100 data sets each; benchmarks/RESULTS.md, 2026-12-07) measured how
# often the 95% band of N*(C) at 1e21-1e25 FLOP covered the true N*: delta method 74-83% at 25
# runs, 80-88% at 50, 84-92% at 100, 92-93% at 240; the bootstrap's 95-100% at every size.
FEW_CONFIGS_PER_PARAM = 40
_DELTA_BANDS_NOTE = (
    "Compute-optimal allocation from a fit of {n} configurations for {p} parameters: its bands come from the delta "
    "method on the fit's curvature, which is too narrow for so few runs. On simulated Chinchilla-like studies of 25 "
    "runs, its 95% band of N* covered the true N* in 74-83% of them, the bootstrap's in 95-99% (the delta method's: "
    "80-88% at 50 runs, 84-92% at 100, 92-93% at 240; python benchmarks/calibrate_intervals.py). For the "
    "allocation's band, pass a jscale.bootstrap result to compute_optimal (on the command line, jscale fit "
    "bootstraps by default)."
)
# Tokens-per-parameter ratios (log D/N) scanned for a start: 1e-5 to 1e8.
_LOG_RATIOS = np.linspace(np.log(1e-5), np.log(1e8), 40)


def chinchilla_cost(n_params, n_tokens):
    """Training FLOP C = 6 N D (Kaplan et al. 2020; Hoffmann et al. 2022)."""
    return 6.0 * n_params * n_tokens


class InferenceCost:
    """Training plus inference FLOP, 6 N D + 2 N D_inference (after Sardana et al. 2023).

    Args:
        inference_tokens: tokens served over the model's life.
    """

    def __init__(self, inference_tokens: float):
        self.inference_tokens = float(inference_tokens)
        if not self.inference_tokens >= 0:
            raise ValueError(f"inference_tokens must be a number >= 0; got {inference_tokens!r}.")

    def __call__(self, n_params, n_tokens):
        return 6.0 * n_params * n_tokens + 2.0 * n_params * self.inference_tokens

    def __eq__(self, other):
        return isinstance(other, InferenceCost) and other.inference_tokens == self.inference_tokens

    def __hash__(self):
        return hash(("InferenceCost", self.inference_tokens))

    def __repr__(self):
        return f"InferenceCost(inference_tokens={self.inference_tokens:g})"


# --- the optimum (one budget, one parameter vector) -------------------------------------------------


def _log_loss(law, theta, u, v, fixed):
    """log L at u = log N, v = log D (`fixed`: logs of the other columns), in the law's input space."""
    logs = {"n_params": u, "n_tokens": v, **fixed}
    if law.column_space == "log":
        return law.log_predict(theta, logs)
    return law.log_predict(theta, law.inputs({k: jnp.exp(w) for k, w in logs.items()}))


def _log_cost(cost, u, v):
    return jnp.log(cost(jnp.exp(u), jnp.exp(v)))


@dataclasses.dataclass(frozen=True)
class AllocationProblem:
    """min log L(N, D) subject to log cost(N, D) = log C, in w = (log N, log D) (a problem of
    `jscale.engine._optimum.solve`); args = {"log_c": log C, "fixed": logs of the other columns}."""

    law: Any
    cost: Any
    n_vars: ClassVar[int] = 2
    n_constraints: ClassVar[int] = 1

    def objective(self, w, theta, args):
        return _log_loss(self.law, theta, w[0], w[1], args["fixed"])

    def constraint(self, w, theta, args):
        return (_log_cost(self.cost, w[0], w[1]) - args["log_c"])[None]


def best_allocation(theta, log_c, fixed, law, cost):
    """(log N*, log D*, multiplier) at budget log C, differentiable implicitly in theta, log C and
    the fixed columns. The starts are the 6ND points of a scan of tokens-per-parameter ratios."""
    starts = jnp.stack([(log_c - jnp.log(6.0) - _LOG_RATIOS) / 2, (log_c - jnp.log(6.0) + _LOG_RATIOS) / 2], axis=1)
    return solve(AllocationProblem(law, cost), theta, {"log_c": log_c, "fixed": fixed}, starts, None, None)


def closed_form(law, cost) -> bool:
    """Whether the compute-optimal loss of `law` under `cost` has Hoffmann et al.'s closed form
    (`chinchilla_frontier`): the Chinchilla law itself (not a subclass) under C = 6ND."""
    return type(law) is Chinchilla and cost is chinchilla_cost


def chinchilla_frontier(theta):
    """(log G, log K, gamma) of the Chinchilla law under C = 6ND in closed form (Hoffmann et al.
    2022, eq. 4; theta = (log E, log A, log B, alpha, beta)):

        N* = G (C/6)^(beta/(alpha+beta)),  D* = (C/6)^(alpha/(alpha+beta)) / G,
        L*(C) = E + K (C/6)^-gamma,  G = (alpha A / (beta B))^(1/(alpha+beta)),
        gamma = alpha beta / (alpha + beta),  K = A G^-alpha + B G^beta.

    NaN where alpha or beta <= 0: the loss then does not fall with N or with D, and no allocation
    is optimal."""
    log_a, log_b, alpha, beta = theta[1], theta[2], theta[3], theta[4]
    total = alpha + beta
    log_g = (jnp.log(alpha) + log_a - jnp.log(beta) - log_b) / total
    return log_g, jnp.logaddexp(log_a - alpha * log_g, log_b + beta * log_g), alpha * beta / total


def chinchilla_log_budget(theta, log_loss):
    """log C whose compute-optimal loss is exp(log_loss), the inverse of L*(C) in
    `chinchilla_frontier`: C = 6 (K / (L - E))^(1/gamma); +inf where L <= E (never reached)."""
    _, log_k, gamma = chinchilla_frontier(theta)
    reached = log_loss > theta[0]
    # log(L - E) = log L + log(1 - E/L); the unreached branch's NaN never enters the answer.
    excess = log_loss + jnp.log(-jnp.expm1(theta[0] - jnp.where(reached, log_loss, theta[0] + 1.0)))
    out = jnp.log(6.0) + (log_k - excess) / gamma
    return jnp.where(reached, out, jnp.where(log_loss <= theta[0], jnp.inf, jnp.nan))


def optimum(theta, log_c, fixed, law, cost):
    """(log N*, log D*, multiplier) at budget log C: in closed form where there is one
    (`closed_form`: N* = G (C/6)^(beta/(alpha+beta)), D* = C / (6 N*), the multiplier -d log L /
    d log N there), else by the solver (`best_allocation`). Both are differentiable in theta and
    log C; the solver is checked against the closed form in the tests."""
    if not closed_form(law, cost):
        return best_allocation(theta, log_c, fixed, law, cost)
    log_g, _, _ = chinchilla_frontier(theta)
    alpha, beta = theta[3], theta[4]
    x = log_c - jnp.log(6.0)
    u, v = log_g + beta / (alpha + beta) * x, alpha / (alpha + beta) * x - log_g
    multiplier = -jax.grad(lambda w: _log_loss(law, theta, w, v, fixed))(u)  # grad l + lambda grad g = 0
    return jnp.stack([u, v, multiplier])


def best_log_loss(theta, log_c, fixed, law, cost):
    """log L*(C): the law's log loss at the compute-optimal allocation of budget log C (`optimum`)."""
    z = optimum(theta, log_c, fixed, law, cost)
    return _log_loss(law, theta, z[0], z[1], fixed)


def _status_at(theta, log_c, fixed, law, cost, z):
    """The status of the optimum `z` at budget log C: a solver's checked (`status`); the closed
    form's is exact wherever it is finite (NaN where alpha or beta <= 0: no optimum), and the
    check, a second-order program, would only add seconds of compiling."""
    if closed_form(law, cost):
        return jnp.where(jnp.all(jnp.isfinite(z)), int(Status.SUCCESS), int(Status.NONFINITE))
    return status(AllocationProblem(law, cost), z, theta, {"log_c": log_c, "fixed": fixed}, None, None)


@dataclasses.dataclass(frozen=True)
class AllocationTerms:
    """Log N*, log D*, log L*, log(D*/N*), the local exponents and the solve's status at one budget."""

    law: Any
    cost: Any

    def __call__(self, theta, log_c, fixed):
        law, cost = self.law, self.cost
        z, dz_dc = jax.jvp(lambda c: optimum(theta, c, fixed, law, cost), (log_c,), (jnp.ones_like(log_c),))
        return {
            "n_params": z[0], "n_tokens": z[1], "loss": _log_loss(law, theta, z[0], z[1], fixed),
            "tokens_per_param": z[1] - z[0], "exponent_params": dz_dc[0], "exponent_tokens": dz_dc[1],
            "status": _status_at(theta, log_c, fixed, law, cost, z),
        }


def allocation_terms(theta, log_c, fixed, law, cost) -> dict:
    """`AllocationTerms(law, cost)(theta, log_c, fixed)`."""
    return AllocationTerms(law, cost)(theta, log_c, fixed)


@dataclasses.dataclass(frozen=True)
class FrontierTerms:
    """Marginal returns at (N, D): dL/dlog N, dL/dlog D, and dL*/dlog C on the frontier at C = cost(N, D)."""

    law: Any
    cost: Any

    def __call__(self, theta, log_n, log_d, fixed):
        law, cost = self.law, self.cost
        grad = jax.grad(lambda w: jnp.exp(_log_loss(law, theta, w[0], w[1], fixed)))(jnp.stack([log_n, log_d]))
        log_c = _log_cost(cost, log_n, log_d)

        def best_loss(c):  # L*(c), with the optimum as aux: one solve for the slope and the status
            z = optimum(theta, c, fixed, law, cost)
            return jnp.exp(_log_loss(law, theta, z[0], z[1], fixed)), z

        slope, z = jax.grad(best_loss, has_aux=True)(log_c)
        return {"d_log_params": grad[0], "d_log_tokens": grad[1], "d_log_compute": slope,
                "status": _status_at(theta, log_c, fixed, law, cost, z)}


# --- checks --------------------------------------------------------------------------------------------


def warn_outside(result, law, what: str, columns: dict) -> None:
    """`ExtrapolationWarning` for points (the law's columns) outside a fitted result's data."""
    fit = result.fit if isinstance(result, BootstrapResult) else result
    if isinstance(fit, FitResult):
        found = extrapolation(fit.data_summary, law, {c: columns[c] for c in law.columns if c in columns}, what)
        if found is not None:
            found.warn(stacklevel=3)


def check_cost(law: Law, cost):
    missing = [c for c in ALLOCATION_COLUMNS if c not in law.columns]
    if missing:
        raise ValueError(
            f"The {law.name} law does not read {', '.join(missing)}: allocation trades parameters against tokens "
            f"and needs a law of both (this one reads {', '.join(law.columns)})."
        )
    cost = chinchilla_cost if cost is None else cost
    if not callable(cost):
        raise TypeError(
            f"cost must be a function cost(n_params, n_tokens) -> FLOP written with jax.numpy; got {cost!r}."
        )
    if cost is not chinchilla_cost:
        _probe_cost(cost)
    return cost


def _probe_cost(cost) -> None:
    """A cost function tried at two ordinary points before any solve: it must give a positive finite
    number (a cost returning NaN or a negative number would give answers that look like numbers)."""
    with x64_scope():
        try:
            values = [float(cost(jnp.float64(n), jnp.float64(d))) for n, d in ((1e8, 2e9), (1e10, 2e11))]
        except Exception as err:  # noqa: BLE001 - whatever the user's function raises
            raise ValueError(f"cost(n_params, n_tokens) fails at N = 1e8, D = 2e9 ({type(err).__name__}: {err}); "
                             "write it with jax.numpy for scalar N and D.") from None
    if not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"cost(n_params, n_tokens) must be a positive finite cost; at (N, D) = (1e8, 2e9) and "
                         f"(1e10, 2e11) it gives {values[0]!r} and {values[1]!r}.")


def _no_optimum(law, theta, allocation, fixed_logs) -> str | None:
    """Why the solve failed, where it did because the law's loss does not fall with n_params or
    with n_tokens (e.g. Chinchilla with alpha <= 0): then no allocation is optimal, every unit of
    cost goes to the other input and the solve runs off along the constraint. None otherwise."""
    bad = np.flatnonzero(allocation.status != "success")
    if not bad.size:
        return None
    # Where the solve ran off, its end point; where it has no point (the closed form's NaN), the
    # even split of the 6ND budget.
    n, d = allocation.n_params[bad], allocation.n_tokens[bad]
    ran = np.isfinite(n) & np.isfinite(d) & (n > 0) & (d > 0)
    even = np.sqrt(allocation.compute[bad] / 6.0)
    n, d = np.where(ran, n, even), np.where(ran, d, even)
    with x64_scope():
        def slopes(u, v, fixed):  # d log L / d log N, d log L / d log D
            return jax.grad(lambda w: _log_loss(law, jnp.asarray(theta), w[0], w[1], fixed))(jnp.stack([u, v]))

        fixed = {k: jnp.asarray(v[bad]) for k, v in fixed_logs.items()}
        found = np.asarray(jax.vmap(slopes)(jnp.log(n), jnp.log(d), fixed))
    for j, column in enumerate(ALLOCATION_COLUMNS):
        flat = found[:, j] >= 0
        if flat.any():
            k = int(np.argmax(flat))
            return (f"the {law.name} law's loss does not fall as {column} grows (d log L/d log {column} = "
                    f"{found[k, j]:.3g} at n_params = {n[k]:.3g}, n_tokens = {d[k]:.3g}), so no allocation is optimal: "
                    "every unit of cost would go "
                    f"to {ALLOCATION_COLUMNS[1 - j]} (a zero or negative exponent of {column}, like a Chinchilla "
                    f"{('alpha', 'beta')[j]} of 0, does this)")
    return None


def _delta_bands_note(estimate) -> str | None:
    """What to say of delta-method bands from a fit of few configurations (fewer than
    `FEW_CONFIGS_PER_PARAM` per fitted parameter; issue 33, item 10), or None."""
    if estimate.covariance is None or estimate.draws is not None:
        return None
    n, p = (0 if estimate.fit is None else estimate.fit.n_configs), estimate.law.n_free
    if n >= FEW_CONFIGS_PER_PARAM * p:
        return None
    return _DELTA_BANDS_NOTE.format(n=n, p=p)


def fixed_columns(law, over, fixed, summary, *, hint: str = "") -> dict:
    """The values of the law's columns other than `over` (natural units, 1-D; categorical labels as
    codes, given the fitted data's `summary`), checked: every other column given, none unknown."""
    fixed = dict(fixed or {})
    others = [c for c in law.columns if c not in over]
    missing = [c for c in others if c not in fixed]
    if missing:
        raise ValueError(f"The {law.name} law also reads {', '.join(missing)}; pass its value(s) as "
                         f"fixed={{...}}{hint}.")
    unknown = [c for c in fixed if c not in others]
    if unknown:
        where = "is one of the optimised columns" if unknown[0] in over else f"is not a column of the {law.name} law"
        raise ValueError(f"fixed names {unknown[0]!r}, which {where}.")
    out = {}
    for c in others:
        labels = summary.levels_of(c) if summary is not None else None
        if labels is not None:
            out[c] = codes_for(c, np.atleast_1d(np.asarray(fixed[c], dtype=object)), labels)
        else:
            out[c] = np.atleast_1d(np.asarray(fixed[c], np.float64))
            if out[c].ndim != 1 or not np.all(np.isfinite(out[c])):
                raise ValueError(f"fixed {c} must be a finite number or a 1-D array of them; got {fixed[c]!r}.")
            if c in law.log_columns and not np.all(out[c] > 0):
                raise ValueError(f"fixed {c} must be positive for the {law.name} law; got {fixed[c]!r}.")
    return out


def check_fixed(law: Law, fixed, n: int) -> dict:
    """Logs of the law's columns other than N and D, held fixed (e.g. unique_tokens), broadcast to (n,)."""
    out = {}
    for name, value in fixed_columns(law, ALLOCATION_COLUMNS, fixed, None).items():
        if value.size not in (1, n):
            raise ValueError(f"fixed {name} must be one value or {n} (one per point); got {value.size}.")
        if not np.all(value > 0):
            raise ValueError(f"fixed {name} must be finite and positive; got {fixed[name]!r}.")
        out[name] = np.log(np.broadcast_to(value, (n,)))
    return out


def positive_array(name: str, value) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a 1-D array of numbers; got shape {arr.shape}.")
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        raise ValueError(f"{name} must be finite and positive; entry {int(np.argmax(bad))} is {arr[bad][0]!r}.")
    return arr


class Allocation(Bands, struct.PyTreeNode, kw_only=True):
    """Compute-optimal allocation at K budgets (`jscale.compute_optimal`).

    Attributes:
        law, cost: the law and the cost function (static).
        compute: (K,) budgets C (cost units, FLOP for the default C = 6ND).
        n_params, n_tokens, loss: (K,) N*, D* and the predicted loss L* at the optimum.
        tokens_per_param: (K,) D*/N*.
        exponent_params, exponent_tokens: (K,) local exponents d log N*/d log C, d log D*/d log C.
        solve_status: (K,) `jscale.solvers.Status` code of the solve at each budget (point
            estimate); `converged` and `status` read it, and a `ConvergenceWarning` is issued
            where it failed.
        fixed: name -> (K,) values of the law's other columns held fixed (e.g. unique_tokens).
        draws: name -> (B, K) per-draw values when computed from a bootstrap, else None.
        draw_ok: (B, K) mask of usable draws (fit and solve converged), else None.
        sd: name -> (K,) delta-method standard deviations (of the log for positive
            quantities) when computed from a FitResult, else None.
        source: what the allocation comes from when not a law (then `law` and `cost` are None):
            e.g. the power laws through an isoFLOP sweep's minima.
    """

    QUANTITIES = ("n_params", "n_tokens", "loss", "tokens_per_param", "exponent_params", "exponent_tokens")
    POSITIVE = ("n_params", "n_tokens", "loss", "tokens_per_param")
    WHAT = "compute-optimal allocation"
    __repr__ = Bands.__repr__  # not the dataclass repr, which prints every array

    law: Any = struct.field(pytree_node=False)
    cost: Any = struct.field(pytree_node=False)
    compute: np.ndarray
    n_params: np.ndarray
    n_tokens: np.ndarray
    loss: np.ndarray
    tokens_per_param: np.ndarray
    exponent_params: np.ndarray
    exponent_tokens: np.ndarray
    solve_status: np.ndarray
    fixed: dict = struct.field(default_factory=dict)
    draws: dict | None = None
    draw_ok: np.ndarray | None = None
    sd: dict | None = None
    source: str | None = struct.field(pytree_node=False, default=None)

    @property
    def epochs(self) -> np.ndarray:
        """(K,) passes over the unique data, D*/U (needs fixed unique_tokens)."""
        if "unique_tokens" not in self.fixed:
            raise ValueError("epochs needs the unique-token budget: pass fixed={'unique_tokens': U}.")
        return self.n_tokens / self.fixed["unique_tokens"]

    def points(self) -> dict:
        return {"compute": self.compute, **self.fixed}

    def table(self, level: float = 0.95) -> str:
        """A readable table: budget, N*, D*, D*/N*, L* (with bands when there is uncertainty)."""
        banded = self.draws is not None or self.sd is not None
        lines = [f"{'compute':>10} {'params N*':>11} {'tokens D*':>11} {'D*/N*':>8} {'loss L*':>8}"
                 + (f"   {100 * level:g}% band of N* ({self.band_method})   {100 * level:g}% band of D*/N*"
                    if banded else "")]
        bands = [self.interval(n, level) for n in ("n_params", "tokens_per_param")] if banded else None
        for k, c in enumerate(self.compute):
            line = (f"{c:>10.3g} {self.n_params[k]:>11.4g} {self.n_tokens[k]:>11.4g} "
                    f"{self.tokens_per_param[k]:>8.2f} {self.loss[k]:>8.4f}")
            if banded:
                (nl, nh), (rl, rh) = bands
                line += f"   ({nl[k]:.3g}, {nh[k]:.3g})   ({rl[k]:.3g}, {rh[k]:.3g})"
            if self.status[k] != "success":
                line += f"   <- {self.status[k]}: not a solution"
            lines.append(line)
        return "\n".join(lines)


class MarginalReturns(Bands, struct.PyTreeNode, kw_only=True):
    """Marginal returns of the fitted law at K points (`jscale.marginal_returns`).

    Attributes:
        law, cost: static.
        n_params, n_tokens: (K,) the points.
        d_log_params: (K,) dL/d log N at (N, D): loss change per e-fold of parameters (negative).
        d_log_tokens: (K,) dL/d log D.
        d_log_compute: (K,) dL*/d log C along the compute-optimal frontier at C = cost(N, D).
        solve_status: (K,) `Status` code of the frontier solve at each point (`converged`).
        draws, draw_ok, sd: as in `Allocation`.
    """

    QUANTITIES = ("d_log_params", "d_log_tokens", "d_log_compute")
    POSITIVE = ()
    WHAT = "marginal returns"
    __repr__ = Bands.__repr__  # not the dataclass repr, which prints every array

    law: Any = struct.field(pytree_node=False)
    cost: Any = struct.field(pytree_node=False)
    n_params: np.ndarray
    n_tokens: np.ndarray
    d_log_params: np.ndarray
    d_log_tokens: np.ndarray
    d_log_compute: np.ndarray
    solve_status: np.ndarray
    draws: dict | None = None
    draw_ok: np.ndarray | None = None
    sd: dict | None = None

    def points(self) -> dict:
        return {"n_params": self.n_params, "n_tokens": self.n_tokens}


def compute_optimal(result, compute, *, cost=None, fixed=None, params=None) -> Allocation:
    """The allocation (N*, D*) minimising the fitted law's loss at each compute budget.

    Solves min L(N, D) subject to cost(N, D) = C numerically in log space (Lagrange conditions,
    Newton steps, all budgets batched under jit), for any law of `n_params` and `n_tokens` and
    any differentiable cost. Local exponents and delta-method bands use implicit derivatives of
    the optimum (see the module docstring).

    Args:
        result: a `FitResult` (bands by the delta method), a `BootstrapResult` (bands over the
            draws), a law object with `params=` (no bands), or an isoFLOP or envelope sweep
            (`IsoFLOPResult`, `EnvelopeResult`: the power laws N*(C), D*(C), L*(C) through its
            minima, with bands over its resamples; its own compute, so no `cost` or `fixed`).
        compute: budget(s) C, scalar or 1-D array, in the units of `cost`.
        cost: cost(n_params, n_tokens) -> compute, written with jax.numpy; default 6 N D. E.g.
            `jscale.InferenceCost(2e12)` for training plus inference, 6ND + 2N D_inference.
            (A new function object compiles anew: define it once and reuse it.)
        fixed: values of the law's other columns, held fixed (e.g. {"unique_tokens": U} for a
            data-constrained law), scalars or arrays matching `compute`.
        params: natural parameters when `result` is a law.

    Returns:
        An `Allocation` (n_params, n_tokens, loss, tokens_per_param, exponent_params,
        exponent_tokens over budgets; `interval(name)` for bands; `table()`).

    Raises:
        ValueError: `params` whose loss does not fall with n_params or with n_tokens (e.g. a
            Chinchilla alpha or beta of 0): no allocation is optimal. From a fitted result, the
            budgets concerned get status "max_steps" and the `ConvergenceWarning` says why.

    Warns:
        IntervalWarning: from a `FitResult` of fewer than 40 distinct configurations per fitted
            parameter (200 for Chinchilla), once per call: its delta-method bands are too narrow
            there (coverage measured by `benchmarks/calibrate_intervals.py`); the bands of a
            `BootstrapResult` cover.

    Example:
        >>> import jscale
        >>> law = jscale.laws.Chinchilla()
        >>> epoch = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)
        >>> best = jscale.compute_optimal(law, [5.76e23], params=epoch)
        >>> round(float(best.tokens_per_param[0]), 1), round(float(best.exponent_params[0]), 4)
        (18.3, 0.5126)
    """
    budgets = positive_array("compute", compute)
    if hasattr(type(result), "__allocation__"):  # a sweep's power laws through its minima
        given = [name for name, v in (("cost", cost), ("fixed", fixed), ("params", params)) if v is not None]
        if given:
            raise ValueError(f"A {type(result).__name__} carries its own power laws at its own compute; "
                             f"{', '.join(given)}= {'is' if len(given) == 1 else 'are'} for a fitted law.")
        return result.__allocation__(budgets)
    estimate = estimate_of(result, params)
    law = estimate.law
    cost = check_cost(law, cost)
    fixed_logs = check_fixed(law, fixed, budgets.size)
    est, per_draw, sd = evaluate(estimate, AllocationTerms(law, cost), (np.log(budgets), fixed_logs),
                                 Allocation.QUANTITIES)
    values, draws, draw_ok, sd = to_bands(estimate, est, per_draw, sd, Allocation.POSITIVE, "status")
    natural_fixed = {k: read_only(np.exp(v)) for k, v in fixed_logs.items()}
    warn_outside(result, law, "Compute-optimal allocations",
                  {"n_params": values["n_params"], "n_tokens": values["n_tokens"], **natural_fixed})
    allocation = Allocation(law=law, cost=cost, compute=read_only(budgets), solve_status=read_only(est["status"]),
                            fixed=natural_fixed, draws=draws, draw_ok=draw_ok, sd=sd, **values)
    reason = _no_optimum(law, estimate.theta, allocation, fixed_logs)
    if reason is not None and estimate.result is None:
        raise ValueError(f"With these params {reason}. Pass params whose loss falls with both n_params and n_tokens.")
    allocation._warn_failed("Compute-optimal allocation" + (f" ({reason})" if reason else ""), budgets)
    note = _delta_bands_note(estimate)
    if note is not None:
        warnings.warn(IntervalWarning(note), stacklevel=2)
    return allocation


def marginal_returns(result, *, n_params, n_tokens, cost=None, fixed=None, params=None) -> MarginalReturns:
    """Derivatives of the predicted loss at (N, D): per e-fold of N, of D, and of C on the frontier.

    dL/d log N and dL/d log D by autodiff at each point; dL*/d log C is the slope of the
    compute-optimal loss at the point's budget C = cost(N, D) (via the implicit derivative of the
    optimum). Arguments as in `compute_optimal`; `n_params` and `n_tokens` broadcast together.
    """
    estimate = estimate_of(result, params)
    law = estimate.law
    cost = check_cost(law, cost)
    n = positive_array("n_params", n_params)
    d = positive_array("n_tokens", n_tokens)
    try:
        n, d = np.broadcast_arrays(n, d)
    except ValueError:
        raise ValueError(f"n_params ({n.size}) and n_tokens ({d.size}) must have the same length.") from None
    fixed_logs = check_fixed(law, fixed, n.size)
    est, per_draw, sd = evaluate(estimate, FrontierTerms(law, cost), (np.log(n), np.log(d), fixed_logs),
                                 MarginalReturns.QUANTITIES)
    values, draws, draw_ok, sd = to_bands(estimate, est, per_draw, sd, (), "status")
    warn_outside(result, law, "Marginal returns", {"n_params": n, "n_tokens": d,
                                                    **{k: np.exp(v) for k, v in fixed_logs.items()}})
    returns = MarginalReturns(law=law, cost=cost, n_params=read_only(n), n_tokens=read_only(d), draws=draws,
                              draw_ok=draw_ok, sd=sd, solve_status=read_only(est["status"]), **values)
    returns._warn_failed("Marginal returns (points by their N)", n)
    return returns
