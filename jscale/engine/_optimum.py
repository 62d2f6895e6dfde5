"""The optimum of a fitted law, once: the inputs that minimise a smooth function of them, under
equality constraints and bounds, differentiable in the law's parameters.

Every optimum jscale reports is solved here: compute-optimal allocation (minimise log L over
log N, log D with log cost = log C), the frontier slope of marginal returns, the compute
multiplier's L*(C), the run planner's optimum, and `jscale.optimum` for any law over any of its
columns. A problem is a hashable object (a jit static argument) with

* `n_vars` (m) and `n_constraints` (k, 0 for none);
* `objective(w, theta, args) -> scalar` and `constraint(w, theta, args) -> (k,)` (zero when met),

smooth in the variables w (logs of the optimised inputs), the law's free parameters theta and the
arguments `args` (a pytree: given columns, a budget). The problem is

    minimise f(w)   subject to   g(w) = 0,   lower <= w <= upper.

The solver (one problem, one theta; the callers `vmap` it over points and draws):

1. places S candidate starts on the constraint by Gauss-Newton projection (minimum-norm steps
   w <- w - J^T (J J^T)^-1 g), clips them into the box and keeps the feasible one with the lowest
   objective;
2. takes damped Newton steps on the Karush-Kuhn-Tucker conditions with an active set of bounds,

       F(z) = [ pinned_i ? w_i - b_i : df/dw_i + lam . dg/dw_i   (i < m),   g(w) ] = 0,   z = (w, lam),

   each step at most one e-fold in any variable. After the steps settle, a free variable outside
   its box is pinned at the bound it crossed and a pinned one whose multiplier has the wrong sign
   is released, until the active set holds still (at most 2m + 2 rounds).

Derivatives of z with respect to theta and args come from the implicit function theorem on F at
the solution (a `custom_jvp`): dz = -F_z^-1 (F_theta dtheta + F_args dargs), not from the
iterations; a pinned variable does not move. `status` reports `jscale.solvers.Status` codes: a
solution has a small residual F and a small Newton step -F_z^-1 F from it (a residual alone is
small wherever the objective is flat: the loss of a law with alpha = 0 runs off towards N -> 0,
D -> inf, with a gradient below any absolute tolerance and no optimum anywhere).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jscale.base._numerics import jacobian_and_value
from jscale.base._status import Status

_NEWTON_STEPS = 24
_PROJECT_STEPS = 8
_MAX_LOG_STEP = 1.0
# A start counts as on the constraint when |g| is below this (projection converges quadratically).
_FEASIBLE = 1e-6
# The KKT residual below which a solve has converged, relative to 1 + max |w|.
_TOL = 1e-9
# ... and the Newton step (in e-folds of the variables, relative to 1 + max |w|) that must be as
# small: a converged solve stops at steps of 1e-13 and the next is smaller still; a solve running
# off along a flat valley (no optimum) has steps of an e-fold or more.
_STEP_TOL = 1e-6


def _lagrangian_gradient(problem, w, lam, theta, args):
    def lagrangian(v):
        out = problem.objective(v, theta, args)
        if problem.n_constraints:
            out = out + lam @ problem.constraint(v, theta, args)
        return out

    return jax.grad(lagrangian)(w)


def residual(problem, z, theta, args, pinned, bound):
    """The KKT residual F(z) (m + k,) with the variables `pinned` (m,) held at `bound` (m,)."""
    m = problem.n_vars
    w, lam = z[:m], z[m:]
    head = jnp.where(pinned, w - jnp.where(pinned, bound, 0.0), _lagrangian_gradient(problem, w, lam, theta, args))
    if problem.n_constraints:
        return jnp.concatenate([head, problem.constraint(w, theta, args)])
    return head


def _min_norm(jac, g):
    """The least-norm v with jac v = g (jac (k, m) of full row rank): jac^T (jac jac^T)^-1 g; a
    division for one constraint (a LAPACK call per lane costs more than the whole step on CPU)."""
    if jac.shape[0] == 1:
        return jac[0] * (g[0] / (jac[0] @ jac[0]))
    return jac.T @ jnp.linalg.solve(jac @ jac.T, g)


def _project(problem, w, theta, args, lower, upper):
    """w moved onto g = 0 by minimum-norm Gauss-Newton steps, then clipped into the box."""
    if problem.n_constraints:

        def step(carry):
            v, _, k = carry
            jac, g = jacobian_and_value(lambda u: problem.constraint(u, theta, args), v)
            dv = -_min_norm(jac, g)
            ok = jnp.all(jnp.isfinite(dv))
            return jnp.where(ok, v + dv, v), jnp.where(ok, jnp.max(jnp.abs(dv)), 0.0), k + 1

        def running(carry):
            v, size, k = carry
            return (k < _PROJECT_STEPS) & (size > 1e-14 * (1 + jnp.max(jnp.abs(v))))

        w = jax.lax.while_loop(running, step, (w, jnp.asarray(jnp.inf, w.dtype), 0))[0]
    return w if lower is None else jnp.clip(w, lower, upper)


def _start(problem, theta, args, starts, lower, upper):
    """z0 = (w0, lam0): the best projected start and the least-squares multipliers there."""
    ws = jax.vmap(lambda w: _project(problem, w, theta, args, lower, upper))(starts)
    f = jax.vmap(lambda w: problem.objective(w, theta, args))(ws)
    ok = jnp.isfinite(f) & jnp.all(jnp.isfinite(ws), axis=1)
    if problem.n_constraints:
        g = jax.vmap(lambda w: problem.constraint(w, theta, args))(ws)
        ok = ok & jnp.all(jnp.abs(g) <= _FEASIBLE, axis=1)
    w0 = ws[jnp.argmin(jnp.where(ok, f, jnp.inf))]
    if not problem.n_constraints:
        return w0
    df = jax.grad(lambda w: problem.objective(w, theta, args))(w0)
    jac = jax.jacfwd(lambda w: problem.constraint(w, theta, args))(w0)
    lam0 = -(jac @ df) / (jac[0] @ jac[0]) if problem.n_constraints == 1 else -jnp.linalg.solve(jac @ jac.T, jac @ df)
    return jnp.concatenate([w0, lam0])


def _newton(problem, z, theta, args, pinned, bound):
    m = problem.n_vars

    def step(carry):
        z, _, k = carry
        jac, f = jacobian_and_value(lambda v: residual(problem, v, theta, args, pinned, bound), z)
        dz = jnp.linalg.solve(jac, -f)
        big = jnp.max(jnp.abs(dz[:m]))
        dz = dz * jnp.minimum(1.0, _MAX_LOG_STEP / jnp.where(big > 0, big, 1.0))
        ok = jnp.all(jnp.isfinite(dz))
        return jnp.where(ok, z + dz, z), jnp.where(ok, jnp.max(jnp.abs(dz)), 0.0), k + 1

    def running(carry):
        z, size, k = carry
        return (k < _NEWTON_STEPS) & (size > 1e-13 * (1 + jnp.max(jnp.abs(z[:m]))))

    return jax.lax.while_loop(running, step, (z, jnp.asarray(jnp.inf, z.dtype), 0))[0]


def pins(problem, z, lower, upper):
    """(pinned, bound): the variables sitting exactly on a bound (the solver puts them there)."""
    w = z[:problem.n_vars]
    if lower is None:
        return jnp.zeros(w.shape, bool), jnp.zeros_like(w)
    at_low, at_high = w == lower, w == upper
    return at_low | at_high, jnp.where(at_low, lower, jnp.where(at_high, upper, 0.0))


def _solve(problem, theta, args, starts, lower, upper):
    m = problem.n_vars
    z = _start(problem, theta, args, starts, lower, upper)
    pinned, bound = pins(problem, z, lower, upper)
    if lower is None:  # no bounds: no active set to settle
        return _newton(problem, z, theta, args, pinned, bound)

    def round_(carry):
        z, pinned, bound, _, r = carry
        z = _newton(problem, z, theta, args, pinned, bound)
        w = z[:m]
        grad = _lagrangian_gradient(problem, w, z[m:], theta, args)
        below, above = ~pinned & (w < lower), ~pinned & (w > upper)
        release = pinned & (((bound == lower) & (grad < -_TOL)) | ((bound == upper) & (grad > _TOL)))
        new_pinned = (pinned & ~release) | below | above
        bound = jnp.where(below, lower, jnp.where(above, upper, bound))
        w = jnp.where(below, lower, jnp.where(above, upper, w))
        return z.at[:m].set(w), new_pinned, bound, jnp.any(new_pinned != pinned), r + 1

    def running(carry):
        _, _, _, changed, r = carry
        return (r == 0) | (changed & (r < 2 * m + 2))

    init = (z, pinned, bound, jnp.asarray(True), 0)
    return jax.lax.while_loop(running, round_, init)[0]


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def solve(problem, theta, args, starts, lower, upper):
    """z* = (w*, lam*) (m + k,) of `problem` at parameters `theta` (P,) and arguments `args`, from
    candidate starts (S, m) in the box [lower, upper] (m,) (both None for no bounds: one Newton
    solve, no active set); differentiable implicitly in theta and args (not in the starts or the
    bounds)."""
    return _solve(problem, theta, args, starts, lower, upper)


@solve.defjvp
def _solve_jvp(problem, primals, tangents):
    theta, args, starts, lower, upper = primals
    z = solve(problem, theta, args, starts, lower, upper)
    pinned, bound = pins(problem, z, lower, upper)

    def f(v, t, a):
        return residual(problem, v, t, a, pinned, bound)

    _, f_dot = jax.jvp(lambda t, a: f(z, t, a), (theta, args), tangents[:2])
    return z, jnp.linalg.solve(jax.jacfwd(f)(z, theta, args), -f_dot)


def _small_solve(a, b):
    """x with a x = b for a small (n, n) `a`, by Gauss-Jordan elimination with partial pivoting,
    unrolled in jax.numpy: inf or NaN where `a` is singular. Not `jnp.linalg.solve`: its LAPACK
    call, batched over every point and draw after the solves, hung XLA's CPU runtime now and then
    (about one call in 150 of `compute_optimal` on 500 draws at 4 budgets, jaxlib 0.10.2)."""
    n = a.shape[0]
    m = jnp.concatenate([a, b[:, None]], axis=1)
    for i in range(n):
        p = i + jnp.argmax(jnp.abs(m[i:, i]))
        top, pivot = m[i], m[p]
        m = m.at[p].set(top).at[i].set(pivot / pivot[i])
        m = m - jnp.outer(m[:, i].at[i].set(0.0), m[i])
    return m[:, n]


def status(problem, z, theta, args, lower, upper):
    """`Status` code of a solution: SUCCESS where the KKT residual and the Newton step from z are
    both within tolerance, NONFINITE where z is not finite, MAX_STEPS otherwise (among them the
    points where the objective is flat and the solve ran off without an optimum: the step there
    is large or, where F_z is singular, not finite)."""
    m = problem.n_vars
    pinned, bound = pins(problem, z, lower, upper)
    jac, res = jacobian_and_value(lambda v: residual(problem, v, theta, args, pinned, bound), z)
    step = _small_solve(jac, -res)[:m]
    finite = jnp.all(jnp.isfinite(z))
    scale = 1 + jnp.max(jnp.abs(z[:m]))
    converged = ((jnp.max(jnp.abs(res)) <= _TOL * scale) & jnp.all(jnp.isfinite(step))
                 & (jnp.max(jnp.abs(step)) <= _STEP_TOL * scale))
    return jnp.where(~finite, int(Status.NONFINITE), jnp.where(converged, int(Status.SUCCESS), int(Status.MAX_STEPS)))
