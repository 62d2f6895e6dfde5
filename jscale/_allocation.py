"""Differentiating the fitted law: compute-optimal allocation and marginal returns, with bands.

Compute-optimal allocation minimises the predicted loss L(N, D) subject to cost(N, D) = C.
In log space, u = log N and v = log D, the optimum solves the Lagrange conditions

    F(u, v, lam) = [d l/du + lam d g/du,  d l/dv + lam d g/dv,  g(u, v) - log C] = 0,

with l = log L (the law's `log_predict`) and g = log cost. For every budget (batched with
`vmap`, under `jit`) the solver scans a grid of tokens-per-parameter ratios along the constraint
for a start, then takes Newton steps on F (its 3 x 3 Jacobian by autodiff). Derivatives of the
optimum with respect to the law's parameters and to log C come from the implicit function
theorem on F (a `custom_jvp`), not from the iterations: dz = -F_z^-1 (F_theta dtheta + F_c dc).
They give the local exponents d log N*/d log C, d log D*/d log C and delta-method intervals.

The closed form for Chinchilla under C = 6ND (`jscale.laws.Chinchilla.compute_optimal`) is
the test of this solver, not a shortcut.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale._batch import memory_budget
from jscale._data import closest
from jscale._diagnostics import extrapolation
from jscale._laws import Law
from jscale._numerics import bucket, jacobian_and_value, pad_repeating, read_only, x64_scope
from jscale._results import BootstrapResult, FitResult
from jscale._uncertainty import check_level, normal_quantile
from jscale._warnings import ConvergenceWarning

ALLOCATION_COLUMNS = ("n_params", "n_tokens")
# Tokens-per-parameter ratios (log D/N) scanned for a start: 1e-5 to 1e8.
_LOG_RATIOS = np.linspace(np.log(1e-5), np.log(1e8), 40)
_CONSTRAINT_STEPS = 8
_NEWTON_STEPS = 16
_MAX_LOG_STEP = 1.0


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


# --- the solver (one budget, one parameter vector) -------------------------------------------------


def _log_loss(law, theta, u, v, fixed):
    """log L at u = log N, v = log D (`fixed`: logs of the other columns), in the law's input space."""
    logs = {"n_params": u, "n_tokens": v, **fixed}
    if law.column_space == "log":
        return law.log_predict(theta, logs)
    return law.log_predict(theta, law.inputs({k: jnp.exp(w) for k, w in logs.items()}))


def _log_cost(cost, u, v):
    return jnp.log(cost(jnp.exp(u), jnp.exp(v)))


def _residual(z, theta, log_c, fixed, law, cost):
    u, v, lam = z[0], z[1], z[2]
    dl = jax.grad(lambda w: _log_loss(law, theta, w[0], w[1], fixed))(jnp.stack([u, v]))
    dg = jax.grad(lambda w: _log_cost(cost, w[0], w[1]))(jnp.stack([u, v]))
    return jnp.stack([dl[0] + lam * dg[0], dl[1] + lam * dg[1], _log_cost(cost, u, v) - log_c])


def _on_constraint(cost, log_c, r):
    """u with g(u, u + r) = log C (Newton from the 6ND guess; g increases with u)."""
    u = (log_c - jnp.log(6.0) - r) / 2

    def step(carry):
        u, _, k = carry
        g, dg = jax.value_and_grad(lambda w: _log_cost(cost, w, w + r))(u)
        du = -(g - log_c) / dg
        return u + du, jnp.abs(du), k + 1

    def running(carry):
        _, du, k = carry
        return (k < _CONSTRAINT_STEPS) & (du > 1e-14 * (1 + jnp.abs(log_c)))

    return jax.lax.while_loop(running, step, (u, jnp.asarray(jnp.inf, u.dtype), 0))[0]


def _solve(theta, log_c, fixed, law, cost):
    ratios = jnp.asarray(_LOG_RATIOS)
    us = jax.vmap(lambda r: _on_constraint(cost, log_c, r))(ratios)
    losses = jax.vmap(lambda u, r: _log_loss(law, theta, u, u + r, fixed))(us, ratios)
    k = jnp.argmin(jnp.where(jnp.isfinite(losses), losses, jnp.inf))
    u0, v0 = us[k], us[k] + ratios[k]
    dl = jax.grad(lambda w: _log_loss(law, theta, w[0], w[1], fixed))(jnp.stack([u0, v0]))
    dg = jax.grad(lambda w: _log_cost(cost, w[0], w[1]))(jnp.stack([u0, v0]))
    lam0 = -(dl @ dg) / (dg @ dg)
    z = jnp.stack([u0, v0, lam0])

    def step(carry):
        z, _, k = carry
        jac, f = jacobian_and_value(lambda w: _residual(w, theta, log_c, fixed, law, cost), z)
        dz = jnp.linalg.solve(jac, -f)
        big = jnp.max(jnp.abs(dz[:2]))
        dz = dz * jnp.minimum(1.0, _MAX_LOG_STEP / jnp.where(big > 0, big, 1.0))
        ok = jnp.all(jnp.isfinite(dz))
        return jnp.where(ok, z + dz, z), jnp.where(ok, big, 0.0), k + 1

    def running(carry):
        z, big, k = carry
        return (k < _NEWTON_STEPS) & (big > 1e-13 * (1 + jnp.max(jnp.abs(z[:2]))))

    return jax.lax.while_loop(running, step, (z, jnp.asarray(jnp.inf, z.dtype), 0))[0]


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def optimum(theta, log_c, fixed, law, cost):
    """(u*, v*, lam*) = (log N*, log D*, multiplier) at budget log C, differentiable implicitly."""
    return _solve(theta, log_c, fixed, law, cost)


@optimum.defjvp
def _optimum_jvp(law, cost, primals, tangents):
    theta, log_c, fixed = primals
    z = optimum(theta, log_c, fixed, law, cost)
    _, f_dot = jax.jvp(lambda t, c, fx: _residual(z, t, c, fx, law, cost), primals, tangents)
    jac = jax.jacfwd(_residual)(z, theta, log_c, fixed, law, cost)
    return z, jnp.linalg.solve(jac, -f_dot)


def allocation_terms(theta, log_c, fixed, law, cost) -> dict:
    """Log N*, log D*, log L*, log(D*/N*), the local exponents and the convergence flag at one budget."""
    z = optimum(theta, log_c, fixed, law, cost)
    # The implicit function theorem with dF/d log C = (0, 0, -1).
    jac, res = jacobian_and_value(lambda w: _residual(w, theta, log_c, fixed, law, cost), z)
    dz_dc = jnp.linalg.solve(jac, jnp.array([0.0, 0.0, 1.0], z.dtype))
    return {
        "n_params": z[0], "n_tokens": z[1], "loss": _log_loss(law, theta, z[0], z[1], fixed),
        "tokens_per_param": z[1] - z[0], "exponent_params": dz_dc[0], "exponent_tokens": dz_dc[1],
        "converged": jnp.all(jnp.isfinite(z)) & (jnp.max(jnp.abs(res)) <= 1e-9 * (1 + jnp.abs(log_c))),
    }


def frontier_terms(theta, log_n, log_d, fixed, law, cost) -> dict:
    """Marginal returns at (N, D): dL/dlog N, dL/dlog D, and dL*/dlog C on the frontier at C = cost(N, D)."""
    grad = jax.grad(lambda w: jnp.exp(_log_loss(law, theta, w[0], w[1], fixed)))(jnp.stack([log_n, log_d]))
    log_c = _log_cost(cost, log_n, log_d)

    def best_loss(c):
        z = optimum(theta, c, fixed, law, cost)
        return jnp.exp(_log_loss(law, theta, z[0], z[1], fixed))

    z = optimum(theta, log_c, fixed, law, cost)
    res = _residual(z, theta, log_c, fixed, law, cost)
    converged = jnp.all(jnp.isfinite(z)) & (jnp.max(jnp.abs(res)) <= 1e-9 * (1 + jnp.abs(log_c)))
    return {"d_log_params": grad[0], "d_log_tokens": grad[1], "d_log_compute": jax.grad(best_loss)(log_c),
            "converged": converged}


# --- sources of parameters and bands ---------------------------------------------------------------


def _source(result, params):
    """(law, theta_hat (P,), draws (B, P) or None, draw mask (B,) or None, free cov (P, P) or None)."""
    if isinstance(result, BootstrapResult):
        if params is not None:
            raise ValueError("params= is for a law object; a BootstrapResult carries its own parameters.")
        fit = result.fit
        return (fit.law, np.asarray(fit.end_params[fit.best_index]), np.asarray(result.free_draws),
                np.asarray(result.converged), None)
    if isinstance(result, FitResult):
        if params is not None:
            raise ValueError("params= is for a law object; a FitResult carries its own parameters.")
        return result.law, np.asarray(result.end_params[result.best_index]), None, None, result.free_covariance()
    if isinstance(result, Law):
        if params is None:
            raise ValueError(
                "With a law object, pass its natural parameters as params= "
                f"(e.g. {dict.fromkeys(result.param_names, 0.0)})."
            )
        missing = [n for n in result.param_names if n not in params]
        if missing:
            raise ValueError(f"params lacks {', '.join(missing)} of the {result.name} law.")
        _check_params(result, params)
        theta = result.to_free([float(params[n]) for n in result.param_names])
        return result, np.asarray(theta, np.float64), None, None, None
    raise TypeError(
        f"expected a FitResult, a BootstrapResult or a law with params=; got {type(result).__name__}."
    )


def _check_params(law: Law, params) -> None:
    """Natural parameters given by hand: numbers inside the law's domains (`Law.in_domain`, the
    rule of `law.fix`; a zero, negative or NaN parameter would give a plausible-looking but
    meaningless optimum)."""
    for k, (name, (low, high)) in enumerate(zip(law.param_names, law.bounds)):
        try:
            value = float(params[name])
        except (TypeError, ValueError):
            raise ValueError(f"params[{name!r}] must be a number; got {params[name]!r}.") from None
        if not law.in_domain(k, value):
            raise ValueError(f"params[{name!r}] is {value!r}; the {law.name} law needs it inside ({low:g}, {high:g}). "
                             "Pass the fitted values.")


def _warn_outside(result, law, what: str, columns: dict) -> None:
    """`ExtrapolationWarning` for points (the law's columns) outside a fitted result's data."""
    fit = result.fit if isinstance(result, BootstrapResult) else result
    if isinstance(fit, FitResult):
        found = extrapolation(fit.data_summary, law, {c: columns[c] for c in law.columns if c in columns}, what)
        if found is not None:
            found.warn(stacklevel=3)


def _check_law(law: Law, cost):
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
    return cost


def _check_fixed(law: Law, fixed, n: int) -> dict:
    """Logs of the law's other columns, held fixed (e.g. unique_tokens), broadcast to (n,)."""
    fixed = dict(fixed or {})
    others = [c for c in law.columns if c not in ALLOCATION_COLUMNS]
    missing = [c for c in others if c not in fixed]
    if missing:
        raise ValueError(f"The {law.name} law also reads {', '.join(missing)}; pass its value(s) as fixed={{...}}.")
    unknown = [c for c in fixed if c not in others]
    if unknown:
        raise ValueError(f"fixed names {', '.join(unknown)}, which the {law.name} law does not hold fixed here.")
    out = {}
    for name, value in fixed.items():
        arr = np.broadcast_to(np.asarray(value, np.float64), (n,))
        if not np.all(np.isfinite(arr) & (arr > 0)):
            raise ValueError(f"fixed {name} must be finite and positive; got {value!r}.")
        out[name] = np.log(arr)
    return out


def _positive_array(name: str, value) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value, np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a 1-D array of numbers; got shape {arr.shape}.")
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        raise ValueError(f"{name} must be finite and positive; entry {int(np.argmax(bad))} is {arr[bad][0]!r}.")
    return arr


@functools.partial(jax.jit, static_argnames=("fn", "law", "cost"))
def _values(theta, args, *, fn, law, cost):
    return jax.vmap(lambda *a: fn(theta, *a, law, cost))(*args)


@functools.partial(jax.jit, static_argnames=("fn", "law", "cost"))
def _draw_values(thetas, args, *, fn, law, cost):
    return jax.vmap(lambda t: jax.vmap(lambda *a: fn(t, *a, law, cost))(*args))(thetas)


@functools.partial(jax.jit, static_argnames=("fn", "law", "cost", "names"))
def _jacobians(theta, args, *, fn, law, cost, names):
    def picked(t):
        out = jax.vmap(lambda *a: fn(t, *a, law, cost))(*args)
        return {n: out[n] for n in names}

    return jax.jacfwd(picked)(theta)


def _evaluate(source, fn, args, positive, signed, cost):
    """Estimates (K,), per-draw values (B, K) and delta-method sds (K,) of fn's outputs.

    `source` is what `_source` returns for the result: law, estimate, draws, draw mask, covariance.
    """
    n_points = len(jax.tree.leaves(args)[0])
    n_draws = 1 if source[2] is None else len(source[2]) + 1
    width = max(_MIN_POINTS, bucket(min(n_points, max(1, memory_budget() // (_BYTES_PER_SOLVE * n_draws)))))
    if n_points <= width:
        return _evaluate_chunk(source, fn, args, positive, signed, cost, width)
    # More points than one call may hold in memory: calls of `width` points (one program).
    parts = [_evaluate_chunk(source, fn, jax.tree.map(lambda a, lo=lo: np.asarray(a)[lo:lo + width], args),
                             positive, signed, cost, width) for lo in range(0, n_points, width)]
    joined = [None if parts[0][k] is None else {n: np.concatenate([p[k][n] for p in parts], axis=-1)
                                                for n in parts[0][k]} for k in (0, 1, 3)]
    return joined[0], joined[1], source[3], joined[2]


def _evaluate_chunk(source, fn, args, positive, signed, cost, width):
    """`_evaluate` on at most `width` points, padded to `width`."""
    law, theta, draws, mask, cov = source
    names = positive + signed
    n_points = len(jax.tree.leaves(args)[0])
    # Points and draws padded to buckets (repeats of the last), so that a table of 6 budgets and
    # a curve of 50 share one compiled program.
    args = jax.tree.map(lambda a: pad_repeating(np.asarray(a), width), args)
    with x64_scope():
        args = jax.tree.map(jnp.asarray, args)
        per_draw = sd = None
        if draws is None:
            est = _values(jnp.asarray(theta), args, fn=fn, law=law, cost=cost)
            est = {k: np.asarray(v)[:n_points] for k, v in est.items()}
        else:  # the estimate rides along as draw -1: one program (and one trace) for both
            thetas = np.concatenate([np.asarray(draws), np.asarray(theta)[None]])
            out = _draw_values(jnp.asarray(pad_repeating(thetas, bucket(len(thetas)))), args, fn=fn, law=law, cost=cost)
            est = {k: np.asarray(v)[len(draws), :n_points] for k, v in out.items()}
            per_draw = {k: np.asarray(v)[:len(draws), :n_points] for k, v in out.items()}
        if cov is not None:
            jac = _jacobians(jnp.asarray(theta), args, fn=fn, law=law, cost=cost, names=names)
            jac = {n: np.asarray(jac[n])[:n_points] for n in names}
            sd = {n: np.sqrt(np.einsum("kp,pq,kq->k", jac[n], cov, jac[n])) for n in names}
    return est, per_draw, mask, sd


# Allocation points come in buckets of at least this many: solving 64 points costs about what 6 do.
_MIN_POINTS = 64
# Memory of one solve (one point, one draw) with its derivatives, measured with room to spare
# (about 2 KB): points beyond `memory_budget()` are solved in several calls.
_BYTES_PER_SOLVE = 4096


class _Bands:
    """Intervals and statuses shared by `Allocation` and `MarginalReturns` (estimates, per-draw
    values, sds)."""

    @property
    def status(self) -> np.ndarray:
        """(K,) outcome of the solve at every point: "success"; "max_steps" (it stopped without
        meeting its test, the values there are unreliable); "nonfinite" (no finite answer, e.g. a
        budget whose cost overflows or a cost function returning NaN)."""
        finite = np.all([np.isfinite(np.asarray(getattr(self, n))) for n in self.QUANTITIES], axis=0)
        converged = np.ones_like(finite) if self.converged is None else np.asarray(self.converged, bool)
        return np.where(~finite, "nonfinite", np.where(converged, "success", "max_steps"))

    def _warn_failed(self, what: str, points: np.ndarray) -> None:
        status = self.status
        bad = np.flatnonzero(status != "success")
        if bad.size:
            shown = ", ".join(f"{points[k]:.3g} ({status[k]})" for k in bad[:5]) + (" ..." if bad.size > 5 else "")
            warnings.warn(ConvergenceWarning(
                f"{what}: the solve failed at {bad.size} of {status.size} points: {shown}. Their values are not "
                "answers (`status` says which; table() marks them)."), stacklevel=3)

    def interval(self, name: str, level: float = 0.95, method: str | None = None):
        """95% (or `level`) band of a quantity at every point, (low, high) arrays.

        From a `BootstrapResult`: the percentile (default) or "basic" interval over the draws
        whose fit converged (and whose solve did). From a `FitResult`: the delta method ("delta")
        with the implicit derivatives of the optimum, in log space for positive quantities.
        """
        level = check_level(level)
        if name not in self.QUANTITIES:
            raise ValueError(f"name must be one of {', '.join(self.QUANTITIES)}; got {name!r}"
                             f"{closest(name, self.QUANTITIES)}.")
        estimate = np.asarray(getattr(self, name))
        positive = name in self.POSITIVE
        if self.draws is not None:
            method = "percentile" if method is None else method
            if method not in ("percentile", "basic"):
                raise ValueError(f"method must be 'percentile' or 'basic' for bootstrap bands; got {method!r}.")
            values = np.where(self.draw_ok, self.draws[name], np.nan)
            if not np.isfinite(values).any():
                raise ValueError("No bootstrap draw is usable for these bands.")
            q = np.nanquantile(values, [0.5 - level / 2, 0.5 + level / 2], axis=0)
            if method == "basic":
                q = (2 * estimate - q[1], 2 * estimate - q[0])
            return np.asarray(q[0]), np.asarray(q[1])
        if self.sd is None:
            raise ValueError("No uncertainty to band: these values come from fixed parameters (params=).")
        method = "delta" if method is None else method
        if method != "delta":
            raise ValueError(f"method must be 'delta' for curvature-based bands; got {method!r}.")
        z = normal_quantile(0.5 + level / 2)
        half = z * self.sd[name]
        if positive:
            return estimate * np.exp(-half), estimate * np.exp(half)
        return estimate - half, estimate + half

    def draws_of(self, name: str) -> np.ndarray:
        """(B, K) per-draw values of a quantity (NaN where the draw or its solve failed)."""
        if self.draws is None:
            raise ValueError("These values come from a single fit, not a bootstrap; there are no draws.")
        return np.where(self.draw_ok, self.draws[name], np.nan)


def _bands(est, per_draw, mask, sd, positive, ok_name):
    """Natural values (exp of the log ones), per-draw values with their usable mask, and sds."""
    values = {k: read_only(np.exp(v) if k in positive else v) for k, v in est.items() if k != ok_name}
    draws = draw_ok = None
    if per_draw is not None:
        draws = {k: read_only(np.exp(v) if k in positive else v) for k, v in per_draw.items() if k != ok_name}
        ok = mask[:, None] if ok_name is None else mask[:, None] & per_draw[ok_name]
        draw_ok = read_only(np.broadcast_to(ok, next(iter(draws.values())).shape))
    sd = None if sd is None else {k: read_only(v) for k, v in sd.items()}
    return values, draws, draw_ok, sd


class Allocation(_Bands, struct.PyTreeNode, kw_only=True):
    """Compute-optimal allocation at K budgets (`jscale.compute_optimal`).

    Attributes:
        law, cost: the law and the cost function (static).
        compute: (K,) budgets C (cost units, FLOP for the default C = 6ND).
        n_params, n_tokens, loss: (K,) N*, D* and the predicted loss L* at the optimum.
        tokens_per_param: (K,) D*/N*.
        exponent_params, exponent_tokens: (K,) local exponents d log N*/d log C, d log D*/d log C.
        converged: (K,) whether the solve met its test at each budget (point estimate); see
            `status`, and the `ConvergenceWarning` issued where it did not.
        fixed: name -> (K,) values of the law's other columns held fixed (e.g. unique_tokens).
        draws: name -> (B, K) per-draw values when computed from a bootstrap, else None.
        draw_ok: (B, K) mask of usable draws (fit and solve converged), else None.
        sd: name -> (K,) delta-method standard deviations (of the log for positive
            quantities) when computed from a FitResult, else None.
    """

    QUANTITIES = ("n_params", "n_tokens", "loss", "tokens_per_param", "exponent_params", "exponent_tokens")
    POSITIVE = ("n_params", "n_tokens", "loss", "tokens_per_param")

    law: Any = struct.field(pytree_node=False)
    cost: Any = struct.field(pytree_node=False)
    compute: np.ndarray
    n_params: np.ndarray
    n_tokens: np.ndarray
    loss: np.ndarray
    tokens_per_param: np.ndarray
    exponent_params: np.ndarray
    exponent_tokens: np.ndarray
    converged: np.ndarray
    fixed: dict = struct.field(default_factory=dict)
    draws: dict | None = None
    draw_ok: np.ndarray | None = None
    sd: dict | None = None

    @property
    def epochs(self) -> np.ndarray:
        """(K,) passes over the unique data, D*/U (needs fixed unique_tokens)."""
        if "unique_tokens" not in self.fixed:
            raise ValueError("epochs needs the unique-token budget: pass fixed={'unique_tokens': U}.")
        return self.n_tokens / self.fixed["unique_tokens"]

    def table(self, level: float = 0.95) -> str:
        """A readable table: budget, N*, D*, D*/N*, L* (with bands when there is uncertainty)."""
        banded = self.draws is not None or self.sd is not None
        lines = [f"{'compute':>10} {'params N*':>11} {'tokens D*':>11} {'D*/N*':>8} {'loss L*':>8}"
                 + (f"   {100 * level:g}% band of N*        {100 * level:g}% band of D*/N*" if banded else "")]
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


class MarginalReturns(_Bands, struct.PyTreeNode, kw_only=True):
    """Marginal returns of the fitted law at K points (`jscale.marginal_returns`).

    Attributes:
        law, cost: static.
        n_params, n_tokens: (K,) the points.
        d_log_params: (K,) dL/d log N at (N, D): loss change per e-fold of parameters (negative).
        d_log_tokens: (K,) dL/d log D.
        d_log_compute: (K,) dL*/d log C along the compute-optimal frontier at C = cost(N, D).
        converged: (K,) whether the frontier solve met its test at each point.
        draws, draw_ok, sd: as in `Allocation`.
    """

    QUANTITIES = ("d_log_params", "d_log_tokens", "d_log_compute")
    POSITIVE = ()

    law: Any = struct.field(pytree_node=False)
    cost: Any = struct.field(pytree_node=False)
    n_params: np.ndarray
    n_tokens: np.ndarray
    d_log_params: np.ndarray
    d_log_tokens: np.ndarray
    d_log_compute: np.ndarray
    converged: np.ndarray | None = None
    draws: dict | None = None
    draw_ok: np.ndarray | None = None
    sd: dict | None = None


def _allocation_fn(theta, log_c, fixed, law, cost):
    return allocation_terms(theta, log_c, fixed, law, cost)


def _marginal_fn(theta, log_n, log_d, fixed, law, cost):
    return frontier_terms(theta, log_n, log_d, fixed, law, cost)


def compute_optimal(result, compute, *, cost=None, fixed=None, params=None) -> Allocation:
    """The allocation (N*, D*) minimising the fitted law's loss at each compute budget.

    Solves min L(N, D) subject to cost(N, D) = C numerically in log space (Lagrange conditions,
    Newton steps, all budgets batched under jit), for any law of `n_params` and `n_tokens` and
    any differentiable cost. Local exponents and delta-method bands use implicit derivatives of
    the optimum (see the module docstring).

    Args:
        result: a `FitResult` (bands by the delta method), a `BootstrapResult` (bands over the
            draws) or a law object with `params=` (no bands).
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

    Example:
        >>> import jscale
        >>> law = jscale.laws.Chinchilla()
        >>> epoch = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)
        >>> best = jscale.compute_optimal(law, [5.76e23], params=epoch)
        >>> round(float(best.tokens_per_param[0]), 1), round(float(best.exponent_params[0]), 4)
        (18.3, 0.5126)
    """
    source = _source(result, params)
    law = source[0]
    cost = _check_law(law, cost)
    budgets = _positive_array("compute", compute)
    fixed_logs = _check_fixed(law, fixed, budgets.size)
    positive = ("n_params", "n_tokens", "loss", "tokens_per_param")
    signed = ("exponent_params", "exponent_tokens")
    est, per_draw, mask, sd = _evaluate(source, _allocation_fn, (np.log(budgets), fixed_logs), positive, signed,
                                        cost)
    values, draws, draw_ok, sd = _bands(est, per_draw, mask, sd, positive, "converged")
    natural_fixed = {k: read_only(np.exp(v)) for k, v in fixed_logs.items()}
    _warn_outside(result, law, "Compute-optimal allocations",
                  {"n_params": values["n_params"], "n_tokens": values["n_tokens"], **natural_fixed})
    allocation = Allocation(law=law, cost=cost, compute=read_only(budgets), converged=read_only(est["converged"]),
                            fixed=natural_fixed, draws=draws, draw_ok=draw_ok, sd=sd, **values)
    allocation._warn_failed("Compute-optimal allocation", budgets)
    return allocation


def marginal_returns(result, *, n_params, n_tokens, cost=None, fixed=None, params=None) -> MarginalReturns:
    """Derivatives of the predicted loss at (N, D): per e-fold of N, of D, and of C on the frontier.

    dL/d log N and dL/d log D by autodiff at each point; dL*/d log C is the slope of the
    compute-optimal loss at the point's budget C = cost(N, D) (via the implicit derivative of the
    optimum). Arguments as in `compute_optimal`; `n_params` and `n_tokens` broadcast together.
    """
    source = _source(result, params)
    law = source[0]
    cost = _check_law(law, cost)
    n = _positive_array("n_params", n_params)
    d = _positive_array("n_tokens", n_tokens)
    try:
        n, d = np.broadcast_arrays(n, d)
    except ValueError:
        raise ValueError(f"n_params ({n.size}) and n_tokens ({d.size}) must have the same length.") from None
    fixed_logs = _check_fixed(law, fixed, n.size)
    names = ("d_log_params", "d_log_tokens", "d_log_compute")
    est, per_draw, mask, sd = _evaluate(source, _marginal_fn, (np.log(n), np.log(d), fixed_logs), (), names, cost)
    values, draws, draw_ok, sd = _bands(est, per_draw, mask, sd, (), "converged")
    _warn_outside(result, law, "Marginal returns", {"n_params": n, "n_tokens": d,
                                                    **{k: np.exp(v) for k, v in fixed_logs.items()}})
    returns = MarginalReturns(law=law, cost=cost, n_params=read_only(n), n_tokens=read_only(d), draws=draws,
                              draw_ok=draw_ok, sd=sd, converged=read_only(est["converged"]), **values)
    returns._warn_failed("Marginal returns (points by their N)", n)
    return returns
