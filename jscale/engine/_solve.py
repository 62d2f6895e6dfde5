"""The single-fit kernel: one law, one weighted dataset, one start.

A solver is a frozen object holding only hyperparameters, with two pure functions:
`init(x0) -> state` (no evaluation) and `step(state, problem) -> state` (`problem` a
`jscale.engine._problem.Problem`), where every `step` evaluates the objective exactly once. One
evaluation per step is what lets the batching
layer run thousands of fits in lock step, with no member idling inside a nested line-search
loop, and hand a finished member's slot to the next start.

The kernel never prints, batches or raises: it reports an integer status per fit.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jscale.base._numerics import eps, pairwise_sum, ynn_at_every_width
from jscale.base._status import STATUS_NAMES as STATUS_NAMES
from jscale.base._status import Status

# Plain ints inside jit (the codes of `jscale.solvers.Status`); RUNNING marks a fit still in flight.
RUNNING = -1
SUCCESS, MAX_STEPS, STALLED, NONFINITE = (int(s) for s in Status)

_FRESH, _IRLS, _GAUSS_NEWTON = 0, 1, 2


def evaluate(problem, theta, newton):
    """Objective, gradient and a positive semi-definite curvature matrix at `theta`.

    With r_i the residuals y_i - m_i(theta), J_i = d m_i / d theta (forward-mode autodiff; m is
    the law in residual space, `Problem.model`) and w_i the row weights:
        f = sum_i w_i rho(r_i),   g = -sum_i w_i psi(r_i) J_i,   H = sum_i w_i k(r_i) J_i J_i^T,
    where k = psi(r)/r (the IRLS majoriser) unless `newton`, then k = rho''(r) (Gauss-Newton).

    Returns:
        f: scalar; g: (P,); h: (P, P).
    """
    loss, weight = problem.loss, problem.weight
    pred = problem.model(theta)
    jac = jax.jacfwd(problem.model)(theta)  # (R, P); forward mode fuses with the primal
    r = problem.y - pred
    irls = loss.irls_weight(r)
    f = pairwise_sum(weight * loss.rho(r))  # not jnp.sum: see pairwise_sum
    g = -(weight * irls * r) @ jac  # psi(r) = r * irls_weight(r) for the losses we support
    k = weight * jnp.where(newton, loss.curvature(r), irls)
    # H as a sum over rows of outer products, rows the minor axis: one fused reduction under vmap,
    # which XLA hands to YNNPACK once the batch holds enough terms; on 240 rows it is faster than
    # a batched (P, R) x (R, P) product (1.6 against 2.0 ms a 256-slot evaluation). YNNPACK sums
    # in another order than XLA's own reduction, so where narrow batches would not reach YNNPACK
    # (`ynn_at_every_width`), H is the product, which XLA routes alike at every batch width (and
    # which is the faster there). Either way H rounds alike at every width (tests/engine/test_batch.py).
    cols = jac.T
    if ynn_at_every_width(cols.size * cols.shape[0]):
        h = jnp.sum((cols * k[None, :])[:, None, :] * cols[None, :, :], axis=-1)
    else:
        h = (cols * k[None, :]) @ jac
    return f, g, h


def _check_hyperparameters(solver, fractions):
    """Eager checks of a solver's settings: a positive integer max_steps, fractions in (0, 1)."""
    name = type(solver).__name__
    m = solver.max_steps
    if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
        raise ValueError(f"{name}: max_steps must be a positive integer; got {m!r}.")
    for field in fractions:
        v = getattr(solver, field)
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 < v < 1:
            raise ValueError(f"{name}: {field} must be a number in (0, 1); got {v!r}.")


class State(NamedTuple):
    """Kernel state of one fit (every leaf gains leading batch axes under the batching layer)."""

    x: jax.Array  # (P,) accepted point (free parameters)
    f: jax.Array  # objective at x
    g: jax.Array  # (P,) gradient at x
    h: jax.Array  # (P, P) curvature at x
    d: jax.Array  # (P,) damping scale: running maximum of diag(h) (More 1978)
    p: jax.Array  # (P,) next trial step
    model_decrease: jax.Array  # decrease the quadratic model predicts along p
    mu: jax.Array  # Levenberg-Marquardt damping
    nu: jax.Array  # damping growth factor
    phase: jax.Array  # 0 fresh, 1 IRLS, 2 Gauss-Newton
    steps: jax.Array  # objective evaluations so far
    status: jax.Array  # RUNNING or a final status


@dataclasses.dataclass(frozen=True)
class RobustGaussNewton:
    """Levenberg-Marquardt for robust losses: IRLS curvature far away, Gauss-Newton near the optimum.

    Each step is p = -(H + mu D)^-1 g (D the running maximum of diag(H), as in MINPACK),
    accepted by its gain ratio with Nielsen's damping update (one objective evaluation per step,
    no line search). Far from the optimum H is the IRLS majoriser sum_i psi(r_i)/r_i J_i J_i^T
    (Holland & Welsch 1977): every residual informs it, so a step crosses many of the kinks of a
    Huber loss with a small delta at once. Once an accepted step lowers the objective by less
    than `switch` (relative), H becomes the Gauss-Newton matrix sum_i rho''(r_i) J_i J_i^T of
    the rows inside delta, which converges fast once the set of those rows settles. For squared
    error both are the Gauss-Newton matrix.

    Args:
        max_steps: objective evaluations per start before giving up (status MAX_STEPS).
        rtol: success when an accepted Gauss-Newton step lowers the objective by less than
            rtol * |objective|.
        switch: relative decrease below which the Gauss-Newton phase starts.
        trust_mu: damping up to which a step counts as undamped: only such steps can signal
            success, and a Gauss-Newton step rejected with more damping returns to IRLS.
    """

    max_steps: int = 500
    rtol: float = 1e-10
    switch: float = 1e-3
    trust_mu: float = 1.0

    def __post_init__(self):
        _check_hyperparameters(self, ("rtol", "switch"))
        if isinstance(self.trust_mu, bool) or not isinstance(self.trust_mu, numbers.Real) or not self.trust_mu > 0:
            raise ValueError(f"RobustGaussNewton: trust_mu must be a positive number; got {self.trust_mu!r}.")

    def init(self, x0) -> State:
        x0 = jnp.asarray(x0)
        n = x0.shape[-1]
        dtype = x0.dtype
        return State(
            x=x0, f=jnp.asarray(jnp.inf, dtype), g=jnp.zeros_like(x0), h=jnp.zeros((n, n), dtype),
            d=jnp.zeros_like(x0),
            p=jnp.zeros_like(x0), model_decrease=jnp.zeros((), dtype), mu=jnp.asarray(1e-3, dtype),
            nu=jnp.asarray(2.0, dtype), phase=jnp.asarray(_FRESH, jnp.int32),
            steps=jnp.asarray(0, jnp.int32), status=jnp.asarray(RUNNING, jnp.int32),
        )

    def step(self, s: State, problem) -> State:
        tiny = eps(s.x.dtype)
        xt = s.x + s.p
        ft, gt, ht = evaluate(problem, xt, s.phase == _GAUSS_NEWTON)
        fresh = s.phase == _FRESH
        finite = jnp.isfinite(ft) & jnp.all(jnp.isfinite(gt)) & jnp.all(jnp.isfinite(ht))
        gain = (s.f - ft) / s.model_decrease
        ok = finite & (fresh | ((s.model_decrease > 0) & (gain > 1e-4)))

        # Nielsen's update: shrink damping after a good step, grow it geometrically after failures.
        mu = jnp.where(ok, s.mu * jnp.maximum(1 / 3, 1 - (2 * gain - 1) ** 3), s.mu * s.nu)
        mu = jnp.where(fresh, s.mu, mu)
        nu = jnp.where(ok, 2.0, s.nu * 2)
        x = jnp.where(ok, xt, s.x)
        f = jnp.where(ok, ft, s.f)
        g = jnp.where(ok, gt, s.g)
        h = jnp.where(ok, ht, s.h)
        d = jnp.where(ok, jnp.maximum(s.d, jnp.diag(ht)), s.d)

        decrease = s.f - ft
        phase = jnp.where(fresh, _IRLS, s.phase)
        phase = jnp.where(ok & (phase == _IRLS) & (decrease <= self.switch * jnp.abs(ft)), _GAUSS_NEWTON, phase)
        # Gauss-Newton uses only the rows inside delta; when they are too few to pin the step down,
        # its steps fail and the damping grows: go back to the IRLS curvature, which uses every row.
        revert = ~ok & (phase == _GAUSS_NEWTON) & (mu > self.trust_mu)
        phase = jnp.where(revert, _IRLS, phase)
        mu = jnp.where(revert, 1e-3, mu)
        nu = jnp.where(revert, 2.0, nu)
        steps = s.steps + 1

        # An exact fit (zero residuals, e.g. synthetic data) ends at the rounding floor of the
        # objective, where no step can be accepted any more: that is success, not a stall.
        at_floor = f <= problem.floor
        # A small decrease shows convergence only for a (nearly) undamped step: a heavily damped
        # step is small whatever the gradient.
        success = (ok & ~fresh & (s.mu <= self.trust_mu) & (
            ((s.phase == _GAUSS_NEWTON) & (decrease <= self.rtol * jnp.abs(f))) | (decrease <= 4 * tiny * jnp.abs(f))
        )) | (~fresh & at_floor)
        stalled = ~ok & ~fresh & (
            (jnp.max(jnp.abs(s.p)) <= 16 * tiny * (1 + jnp.max(jnp.abs(s.x)))) | (mu > 1e30)
        )
        status = jnp.where(success, SUCCESS, RUNNING)
        status = jnp.where(fresh & ~finite, NONFINITE, status)
        status = jnp.where(stalled, STALLED, status)
        status = jnp.where((status == RUNNING) & (steps >= self.max_steps), MAX_STEPS, status)

        p, model_decrease = _damped_step(g, h, d, mu)
        return _keep_finished(State(x, f, g, h, d, p, model_decrease, mu, nu, phase, steps, status), s)


def _keep_finished(new, old):
    """`new`, except that a fit that had already finished stays exactly as it finished (under
    vmap its slot is still stepped)."""
    return jax.tree.map(lambda n, o: jnp.where(old.status == RUNNING, n, o), new, old)


def _damped_step(g, h, d, mu):
    """Solves (H + mu diag(d)) p = -g by Cholesky; returns p and the model's predicted decrease."""
    d = jnp.maximum(d, 1e-12 * jnp.max(d)) + jnp.finfo(g.dtype).tiny
    p = _cholesky_solve(h + mu * jnp.diag(d), -g)
    # Singular curvature (no usable rows): fall back to a scaled gradient step.
    bad = ~jnp.all(jnp.isfinite(p))
    p = jnp.where(bad, -g / (mu * jnp.max(d)), p)
    # Sums written out (not dots) so that they round alike at every batch width: see pairwise_sum.
    gp = pairwise_sum(g * p)
    php = pairwise_sum(p * pairwise_sum((h * p[None, :]).T))
    model_decrease = jnp.where(bad, -gp, -(gp + 0.5 * php))
    return p, model_decrease


_UNROLL_MAX = 12


def _cholesky_solve(a, b):
    """Solves a x = b for symmetric positive definite a (P, P); NaN where a is not.

    Laws have a handful of parameters, so for P <= 12 the factorisation and both triangular
    solves are unrolled into scalar arithmetic: under vmap that becomes a few fused vector
    operations over the batch, where a batched LAPACK call would loop over tiny matrices.
    """
    n = a.shape[-1]
    if n > _UNROLL_MAX:
        lower = jnp.linalg.cholesky(a)
        y = jax.scipy.linalg.solve_triangular(lower, b, lower=True)
        return jax.scipy.linalg.solve_triangular(lower.T, y, lower=False)
    low = [[None] * n for _ in range(n)]
    for j in range(n):
        low[j][j] = jnp.sqrt(a[j, j] - sum((low[j][k] ** 2 for k in range(j)), 0.0))
        for i in range(j + 1, n):
            low[i][j] = (a[i, j] - sum((low[i][k] * low[j][k] for k in range(j)), 0.0)) / low[j][j]
    y = []
    for i in range(n):
        y.append((b[i] - sum((low[i][k] * y[k] for k in range(i)), 0.0)) / low[i][i])
    x = [None] * n
    for i in reversed(range(n)):
        x[i] = (y[i] - sum((low[k][i] * x[k] for k in range(i + 1, n)), 0.0)) / low[i][i]
    return jnp.stack(x)


def solve_one(solver, problem, x0):
    """Fits one start to one dataset (a `Problem`); returns the final state."""
    state = solver.init(x0)
    return jax.lax.while_loop(lambda s: s.status == RUNNING, lambda s: solver.step(s, problem), state)


class LBFGSState(NamedTuple):
    """Kernel state of one L-BFGS fit."""

    x: jax.Array  # (P,) current point
    f: jax.Array  # objective at x
    opt_state: tuple  # optax L-BFGS state (memory, line-search state with value and gradient)
    steps: jax.Array  # objective evaluations so far
    status: jax.Array  # RUNNING or a final status


@dataclasses.dataclass(frozen=True)
class LBFGS:
    """optax L-BFGS with its zoom (strong Wolfe) line search, one iteration per kernel step.

    Provided for comparison and for smooth objectives; on the default Huber objective with a
    small delta it is slower and stalls more often than `RobustGaussNewton` (see the benchmark).
    A step runs a whole iteration, line search included, so under the batching layer every
    member waits for the longest line search of its batch.

    Args:
        max_steps: objective evaluations per start, line-search evaluations included, before
            giving up (status MAX_STEPS).
        rtol: success when an iteration lowers the objective by less than rtol * |objective|.
        memory_size: number of curvature pairs L-BFGS keeps.
    """

    max_steps: int = 1000
    rtol: float = 1e-10
    memory_size: int = 10

    def __post_init__(self):
        _check_hyperparameters(self, ("rtol",))
        m = self.memory_size
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 1:
            raise ValueError(f"memory_size must be a positive integer; got {self.memory_size!r}.")

    def _optimizer(self):
        return optax.lbfgs(memory_size=self.memory_size)

    def init(self, x0) -> LBFGSState:
        x0 = jnp.asarray(x0)
        return LBFGSState(
            x=x0, f=jnp.asarray(jnp.inf, x0.dtype), opt_state=self._optimizer().init(x0),
            steps=jnp.asarray(0, jnp.int32), status=jnp.asarray(RUNNING, jnp.int32),
        )

    def step(self, s: LBFGSState, problem) -> LBFGSState:
        opt = self._optimizer()
        fun = problem.objective

        value, grad = optax.value_and_grad_from_state(fun)(s.x, state=s.opt_state)
        updates, opt_state = opt.update(grad, s.opt_state, s.x, value=value, grad=grad, value_fn=fun)
        x = optax.apply_updates(s.x, updates)
        f = optax.tree.get(opt_state, "value")
        evals = optax.tree.get(opt_state, "num_linesearch_steps")
        steps = s.steps + jnp.asarray(evals, jnp.int32) + jnp.where(jnp.isinf(s.f), 1, 0)
        decrease = value - f
        finite = jnp.isfinite(f) & jnp.all(jnp.isfinite(x))
        status = jnp.where(finite & (decrease >= 0) & (decrease <= self.rtol * jnp.abs(f)), SUCCESS, RUNNING)
        status = jnp.where(finite & (decrease < 0), STALLED, status)
        status = jnp.where(~finite, NONFINITE, status)
        status = jnp.where((status == RUNNING) & (steps >= self.max_steps), MAX_STEPS, status)
        # Keep the last finite point when the step produced a non-finite one.
        x = jnp.where(finite, x, s.x)
        f = jnp.where(finite, f, value)
        return _keep_finished(LBFGSState(x, f, opt_state, steps, status), s)
