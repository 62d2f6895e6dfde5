"""The multi-power law of whole training curves (Luo et al. 2025, arXiv:2503.12811), exact and fast.

With eta the per-step learning rate (steps 0..T-1), S(t) = sum_{tau <= t} eta_tau and
gap_k = eta_k - eta_{k-1},

    L(t) = L0 + A * S(t)^-alpha + B * sum_{k=1..t} gap_k * (1 - (1 + C * eta_k^-gamma * (S(t) - S(k-1)))^-beta)

(symbols as in the paper; parameters in the order of `MULTIPOWER_PARAMS`). The sum has one term
per step whose rate changed, for every checkpoint t: tens of millions of powers for a set of
long cosine curves. Two evaluators give it:

* **exact** (`multipower_exact`): every term, in checkpoint chunks under `lax.map` (bounded
  memory); differentiable in the parameters and in the rates (with every step in its support).
* **fast** (`MultiPowerCurves.build(..., method="fast")`): the same sum with the far terms
  aggregated. For a checkpoint t, the summand's dependence on k, phi_t(k) = 1 - (1 + C
  eta_k^-gamma (S(t) - S(k-1)))^-beta, is analytic in k away from k ~ t (its singularity sits
  beyond t) wherever log eta and S are smooth. The steps [1, t] are covered by dyadic blocks,
  H-matrix style: a block whose distance to t is at least `ratio` times its length, and on whose
  steps log eta and S(k-1) are polynomials of degree < `nodes` to 1e-13 (checked on the host, so
  kinks and jumps of the schedule fall between blocks), contributes
  sum_k gap_k phi_t(k) ~= sum_j w_j phi_t(k_j), phi interpolated at `nodes` rounded Chebyshev
  steps k_j with weights w_j = sum_k gap_k l_j(k) (the Lagrange basis) that depend on neither t nor
  the parameters. Other blocks split; leaves and blocks with few changing steps are summed
  exactly. The cost per checkpoint is O(nodes * log T) instead of O(t); the plan (which terms,
  which weights) is built once per set of curves in NumPy, and the parameters enter only through
  elementwise powers and one segment sum, so jax.grad and jacfwd in the parameters are exact
  derivatives of the fast value. Its error against the exact sum is measured in the tests and
  the benchmark (below 1e-12 relative on the 18 curves of Luo et al.).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._numerics import last_axis_sum, x64_scope
from jscale.curves._schedules import Schedule

MULTIPOWER_PARAMS = ("L0", "A", "alpha", "B", "C", "beta", "gamma")
METHODS = ("fast", "exact")

# The fast plan's settings: Chebyshev nodes per block, admissible distance / block length, the
# leaf size, and the tolerance of the smoothness test (log eta absolute, S relative to the
# block's sum of rates).
NODES, RATIO, LEAF, SMOOTH_TOL = 14, 1.0, 16, 1e-11
EXACT_CHUNK = 1 << 21  # terms per chunk of the exact evaluator (16 MiB per float64 temporary)


def _unpack(theta):
    return tuple(theta[..., i] for i in range(len(MULTIPOWER_PARAMS)))


def _check_curve(lr, steps, where: str = "the curve"):
    """(lr float64 (T,), steps int64 (c,)) after checking both (ValueError naming the first bad entry)."""
    lr = np.asarray(lr.lr() if isinstance(lr, Schedule) else lr, dtype=np.float64)
    if lr.ndim != 1 or lr.size < 2:
        raise ValueError(f"The rates of {where} must be a 1-D array of at least 2 steps; got shape {lr.shape}.")
    bad = np.flatnonzero(~np.isfinite(lr[1:]) | (lr[1:] <= 0))
    if bad.size:
        raise ValueError(f"The multi-power law needs rates > 0 after step 0 (it raises them to -gamma); {where} "
                         f"has {bad.size} that are not, the first at step {bad[0] + 1} ({float(lr[bad[0] + 1])!r}).")
    return lr, check_steps(steps, lr.size, where)


def check_steps(steps, n_steps: int, where: str) -> np.ndarray:
    """Checkpoint steps as int64 (c,): a non-empty 1-D integer array within [0, n_steps)."""
    steps_in = np.asarray(steps)
    if steps_in.ndim != 1 or steps_in.size == 0 or steps_in.dtype.kind not in "iu":
        raise ValueError(f"The checkpoint steps of {where} must be a non-empty 1-D array of integers; got "
                         f"{steps_in.dtype} of shape {steps_in.shape}.")
    steps = steps_in.astype(np.int64)
    bad = np.flatnonzero((steps < 0) | (steps >= n_steps))
    if bad.size:
        raise ValueError(f"The checkpoint steps of {where} must lie in [0, {n_steps}) (the schedule's steps); "
                         f"{bad.size} do not, the first is {steps[bad[0]]} (row {bad[0]}). Drop rows with step >= "
                         f"{n_steps}.")
    return steps


def multipower_exact(theta, lr, steps, *, support=None, chunk: int = EXACT_CHUNK):
    """The multi-power law at `steps`, every term of the sum evaluated (call inside `x64_scope`).

    Long because it is the reference evaluator in one piece: cumulative sums, the chunking of the
    checkpoints for bounded memory, and the masked terms whose gradients stay finite.

    Args:
        theta: (7,) parameters in the order of `MULTIPOWER_PARAMS` (a JAX array, may be traced).
        lr: (T,) per-step rates, eta_k > 0 for k >= 1 (may be traced: differentiable).
        steps: (c,) checkpoint steps in [0, T), NumPy integers (static).
        support: the steps k >= 1 whose terms are summed, NumPy integers (static); None sums them
            all, as the gradient in `lr` needs. Leaving out steps whose gap is exactly 0 gives the
            same value.
        chunk: terms per chunk (checkpoints x support), bounding the temporaries.

    Returns:
        (c,) losses L(t).
    """
    L0, A, alpha, B, C, beta, gamma = _unpack(theta)
    steps = np.asarray(steps, np.int64)
    T = lr.shape[0]
    K = np.arange(1, T) if support is None else np.asarray(support, np.int64)
    S = jnp.cumsum(lr)
    St = S[steps]
    if K.size == 0:
        far = jnp.zeros(steps.shape, lr.dtype)
    else:
        gK, sK = lr[K] - lr[K - 1], S[K - 1]
        aK = C * jnp.exp(-gamma * jnp.log(lr[K]))
        rows = max(1, min(len(steps), chunk // K.size))
        n_chunks = -(-len(steps) // rows)
        pad = np.concatenate([steps, np.repeat(steps[-1:], n_chunks * rows - len(steps))])

        def one(args):
            t, s_t = args
            mask = K[None, :] <= t[:, None]
            u = jnp.where(mask, s_t[:, None] - sK[None, :], 0.0)  # 0, not negative: finite gradients
            q = jnp.exp(-beta * jnp.log1p(aK[None, :] * u))
            return jnp.sum(jnp.where(mask, gK[None, :] * (1.0 - q), 0.0), axis=1)

        t_chunks = jnp.asarray(pad.reshape(n_chunks, rows))
        far = jax.lax.map(one, (t_chunks, S[pad].reshape(n_chunks, rows))).reshape(-1)[: len(steps)]
    return L0 + A * jnp.exp(-alpha * jnp.log(St)) + B * far


# --------------------------------------------------------------------------------------------
# The fast plan (NumPy, once per set of curves)


class _Blocks:
    """The dyadic blocks of one schedule, with their interpolation data computed on demand."""

    def __init__(self, lr, nodes, ratio, leaf, tol):
        self.lr, self.nodes, self.ratio, self.leaf, self.tol = lr, nodes, ratio, leaf, tol
        self.gap = np.diff(lr, prepend=lr[0])
        self.nz = np.flatnonzero(self.gap)
        self.S = np.cumsum(lr)
        self.S_prev = np.concatenate([[0.0], self.S[:-1]])
        with np.errstate(divide="ignore"):
            self.x = np.log(lr)
        size = leaf
        while size < lr.size:
            size *= 2
        self.size = size
        self.cache = {}
        # Chebyshev points of the second kind on [0, 1].
        self.cheb = (1.0 - np.cos(np.pi * np.arange(nodes) / (nodes - 1))) / 2.0

    def interpolation(self, lo, hi):
        """(node steps, weights) of the block [lo, hi), or None where the block is not smooth."""
        key = (lo, hi)
        if key not in self.cache:
            self.cache[key] = self._interpolation(lo, hi)
        return self.cache[key]

    def _interpolation(self, lo, hi):
        i0, i1 = np.searchsorted(self.nz, [lo, hi])
        a, b = self.nz[i0], self.nz[i1 - 1]
        n = b - a + 1
        if n < 3 * self.nodes:
            return None
        k_nodes = np.unique(np.rint(a + (b - a) * self.cheb).astype(np.int64))
        if k_nodes.size != self.nodes:
            return None
        xi = (k_nodes - a) / (b - a) * 2.0 - 1.0
        diff = xi[:, None] - xi[None, :]
        np.fill_diagonal(diff, 1.0)
        bary = 1.0 / np.prod(diff, axis=1)
        k = np.arange(a, b + 1)
        z = (k - a) / (b - a) * 2.0 - 1.0
        d = z[:, None] - xi[None, :]
        hit = d == 0.0
        d[hit] = 1.0
        lag = bary[None, :] / d
        lag /= lag.sum(axis=1, keepdims=True)
        rows = hit.any(axis=1)
        lag[rows] = hit[rows].astype(np.float64)
        x, s = self.x[a: b + 1], self.S_prev[a: b + 1]
        scale = self.S[b] - self.S_prev[a]
        # S(k-1) is tested against the block's sum of rates, plus the rounding of the cumulative sum.
        s_tol = self.tol * scale + 64 * np.finfo(np.float64).eps * abs(self.S[b])
        if not (np.all(np.isfinite(x))
                and np.max(np.abs(lag @ x[k_nodes - a] - x)) <= self.tol
                and np.max(np.abs(lag @ s[k_nodes - a] - s)) <= s_tol):
            return None
        return k_nodes, self.gap[a: b + 1] @ lag

    def terms(self, t):
        """(steps k, weights) whose sum of w * phi_t(k) gives the law's sum at checkpoint t."""
        ks, ws, stack, nz = [], [], [(0, self.size)], self.nz
        while stack:
            lo, hi = stack.pop()
            i0, i1, i_end = np.searchsorted(nz, [lo, min(hi, t + 1), hi])
            if i1 <= i0:  # no changing step in the block up to t
                continue
            a, b = nz[i0], nz[i_end - 1]
            if i_end - i0 > self.nodes and t - b >= self.ratio * (b - a + 1):
                found = self.interpolation(lo, hi)
                if found is not None:
                    ks.append(found[0])
                    ws.append(found[1])
                    continue
            if hi - lo <= self.leaf or i1 - i0 <= self.nodes:
                ks.append(nz[i0:i1])
                ws.append(self.gap[nz[i0:i1]])
                continue
            mid = (lo + hi) // 2
            stack += [(mid, hi), (lo, mid)]
        if not ks:
            return np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(ks), np.concatenate(ws)


def _fast_plan(lr, steps, nodes=NODES, ratio=RATIO, leaf=LEAF, tol=SMOOTH_TOL):
    """(term point index, log eta_k, log(S(t) - S(k-1)), weight) of one curve, NumPy."""
    blocks = _Blocks(lr, nodes, ratio, leaf, tol)
    rows, ks, ws = [], [], []
    for i, t in enumerate(steps):
        k, w = blocks.terms(int(t))
        rows.append(np.full(k.size, i, np.int64))
        ks.append(k)
        ws.append(w)
    row, k, w = np.concatenate(rows), np.concatenate(ks), np.concatenate(ws)
    u = blocks.S[steps[row]] - blocks.S_prev[k]
    return row, blocks.x[k], np.log(u), w


class MultiPowerCurves(struct.PyTreeNode, kw_only=True):
    """A set of curves (schedule + checkpoint steps) ready for the multi-power law, as a pytree.

    Build it with `MultiPowerCurves.build`; calling it maps parameters (..., 7) to the losses
    (..., n_points) of every checkpoint of every curve, in curve order (`offsets` delimit the
    curves). The call is pure JAX (jit, vmap, grad and jacfwd in the parameters); run it in
    float64 (`x64_scope`). Luo et al. 2025, arXiv:2503.12811.

    Neither method differentiates in the rates: "fast" holds NumPy weights and "exact" sums only
    the steps whose rate changes. For gradients in the schedule use `multipower_exact` with
    `support=None`.
    """

    method: str = struct.field(pytree_node=False)
    offsets: tuple = struct.field(pytree_node=False)  # point offsets of the curves, len n_curves + 1
    log_S: np.ndarray  # (n_points,) log S(t)
    rise: np.ndarray  # (n_points,) eta_t - eta_0: the sum of the gaps up to t
    # fast: the terms as dense (points, width) blocks of log eta_k, log(S(t) - S(k-1)) and weights
    # (zero-weight padding), the points sorted by term count; `order` puts the rows back.
    groups: tuple = ()
    order: np.ndarray | None = None
    n_fast_terms: int = struct.field(pytree_node=False, default=0)
    # exact: per curve the rates, the checkpoint steps and the support (static)
    lr: tuple = ()
    steps: tuple = struct.field(pytree_node=False, default=())
    support: tuple = struct.field(pytree_node=False, default=())

    @classmethod
    def build(cls, curves: Sequence, *, method: str = "fast") -> MultiPowerCurves:
        """The curves (pairs of a `Schedule` or per-step rates and checkpoint steps), validated.

        Raises:
            ValueError: an unknown method, rates <= 0 after step 0, steps outside [0, T).
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
        checked = [_check_curve(lr, steps, f"curve {i}") for i, (lr, steps) in enumerate(curves)]
        if not checked:
            raise ValueError("MultiPowerCurves.build needs at least one curve (schedule, steps); got none.")
        offsets = tuple(int(o) for o in np.cumsum([0] + [s.size for _, s in checked]))
        log_S = np.concatenate([np.log(np.cumsum(lr)[s]) for lr, s in checked])
        rise = np.concatenate([lr[s] - lr[0] for lr, s in checked])
        if method == "exact":
            # Static metadata must hash and compare: tuples of ints, not arrays.
            support = tuple(tuple((np.flatnonzero(np.diff(lr)) + 1).tolist()) for lr, _ in checked)
            return cls(method=method, offsets=offsets, log_S=log_S, rise=rise, lr=tuple(lr for lr, _ in checked),
                       steps=tuple(tuple(s.tolist()) for _, s in checked), support=support)
        plans = [_cached_plan(lr.tobytes(), s.tobytes()) for lr, s in checked]
        row = np.concatenate([p[0] + o for p, o in zip(plans, offsets)])
        x, log_u, w = (np.concatenate([p[j] for p in plans]) for j in (1, 2, 3))
        groups, order = _dense_groups(row, x, log_u, w, offsets[-1])
        return cls(method=method, offsets=offsets, log_S=log_S, rise=rise, groups=groups, order=order,
                   n_fast_terms=int(row.size))

    @property
    def n_points(self) -> int:
        return self.offsets[-1]

    @property
    def n_terms(self) -> int:
        """Powers evaluated per parameter vector."""
        if self.method == "fast":
            return self.n_fast_terms
        return int(sum(np.searchsorted(np.asarray(k, np.int64), np.asarray(s), side="right").sum()
                       for s, k in zip(self.steps, self.support)))

    def __call__(self, theta):
        theta = jnp.asarray(theta)
        batch = theta.shape[:-1]
        flat = theta.reshape((-1, len(MULTIPOWER_PARAMS)))
        if self.method == "fast":
            out = jax.vmap(self._fast_one)(flat)
        else:
            out = jax.lax.map(self._exact_one, flat)
        return out.reshape(batch + (self.n_points,))

    def _fast_one(self, theta):
        L0, A, alpha, B, C, beta, gamma = _unpack(theta)
        far = _far_sum(jnp.log(C), beta, gamma, self.groups)[self.order]
        return L0 + A * jnp.exp(-alpha * self.log_S) + B * (self.rise - far)

    def _exact_one(self, theta):
        return jnp.concatenate([multipower_exact(theta, lr, s, support=k)
                                for lr, s, k in zip(self.lr, self.steps, self.support)])


@jax.custom_jvp
def _far_sum(log_c, beta, gamma, groups):
    """Per point (grouped order), sum_j w_j (1 + exp(z_j))^-beta with z_j = log C - gamma x_j + log u_j:
    one fused elementwise-and-reduce per group (no scatter, no (terms,) temporary)."""
    return jnp.concatenate([last_axis_sum(w * jnp.exp(-beta * jnp.log1p(jnp.exp(log_c - gamma * x + log_u))))
                            for x, log_u, w in groups])


@_far_sum.defjvp
def _far_sum_jvp(primals, tangents):
    """The sums' derivatives in (log C, beta, gamma) from one pass over the terms: with f the
    summand and s = log(1 + e^z), df/dbeta = -s f and df/dz = -beta f sigmoid(z), dz/dlog C = 1,
    dz/dgamma = -x. Forward mode (the engine's Jacobian) then costs about one more pass, not one
    per parameter. The plan's arrays are constants: their tangents are ignored."""
    log_c, beta, gamma, groups = primals
    dc, db, dg = tangents[:3]
    value, by_beta, by_z, by_zx = [], [], [], []
    for x, log_u, w in groups:
        z = log_c - gamma * x + log_u
        soft = jnp.log1p(jnp.exp(z))
        f = w * jnp.exp(-beta * soft)
        slope = -beta * f * jnp.exp(z - soft)  # d(w f)/dz
        value.append(last_axis_sum(f))  # not jnp.sum: see last_axis_sum
        by_beta.append(-last_axis_sum(soft * f))
        by_z.append(last_axis_sum(slope))
        by_zx.append(last_axis_sum(slope * x))
    by_z, by_zx = jnp.concatenate(by_z), jnp.concatenate(by_zx)
    tangent = jnp.concatenate(by_beta) * db + by_z * dc - by_zx * dg
    return jnp.concatenate(value), tangent


def _dense_groups(row, x, log_u, w, n_points, rows_per_group: int = 128):
    """The terms (sorted by point) as dense groups of `rows_per_group` points of similar term
    counts, each padded with zero weights to its widest point; and the order that restores the points."""
    if row.size == 0:  # no rate ever changes: one zero-weight term
        row, x, log_u, w = np.zeros(1, np.int64), np.zeros(1), np.zeros(1), np.zeros(1)
    counts = np.bincount(row, minlength=n_points)
    start = np.concatenate([[0], np.cumsum(counts)])
    by_count = np.argsort(-counts, kind="stable")
    groups = []
    for g in range(0, n_points, rows_per_group):
        points = by_count[g: g + rows_per_group]
        width = max(1, int(counts[points].max()))
        col = np.arange(width)[None, :]
        valid = col < counts[points][:, None]
        idx = np.where(valid, start[points][:, None] + col, 0)
        groups.append(tuple(np.where(valid, a[idx], 0.0) for a in (x, log_u, w)))
    order = np.empty(n_points, np.int32)
    order[by_count] = np.arange(n_points, dtype=np.int32)
    return tuple(groups), order


@functools.lru_cache(maxsize=64)
def _cached_plan(lr_bytes: bytes, steps_bytes: bytes):
    lr, steps = np.frombuffer(lr_bytes, np.float64), np.frombuffer(steps_bytes, np.int64)
    return _fast_plan(lr, steps)


@jax.jit
def _call(curves, theta):
    return curves(theta)


def multipower_loss(theta, curves, *, method: str = "fast") -> np.ndarray:
    """The multi-power law's loss at every checkpoint of `curves`, in float64 (Luo et al. 2025).

    Args:
        theta: (..., 7) parameters (L0, A, alpha, B, C, beta, gamma); see `MULTIPOWER_PARAMS`.
        curves: a `MultiPowerCurves`, or a sequence of (schedule or per-step rates, checkpoint steps).
        method: "fast" (aggregated far terms, relative error below 1e-12 on Luo's curves) or "exact".

    Returns:
        (..., n_points) NumPy losses, the curves' checkpoints concatenated in order.

    Example:
        >>> from jscale.curves import Schedule
        >>> lr = Schedule.cosine(steps=2000, peak=3e-4, floor=3e-5, warmup=100)
        >>> theta = [3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6]
        >>> fast = multipower_loss(theta, [(lr, [500, 1999])])
        >>> exact = multipower_loss(theta, [(lr, [500, 1999])], method="exact")
        >>> bool(abs(fast - exact).max() < 1e-12)
        True
    """
    with x64_scope():
        if not isinstance(curves, MultiPowerCurves):
            curves = MultiPowerCurves.build(curves, method=method)
        elif curves.method != method:
            raise ValueError(f"The curves were built for method {curves.method!r}; got method={method!r}.")
        theta = np.asarray(theta, np.float64)
        if theta.ndim < 1 or theta.shape[-1] != len(MULTIPOWER_PARAMS):
            raise ValueError(f"theta must have a last axis of {len(MULTIPOWER_PARAMS)} parameters "
                             f"({', '.join(MULTIPOWER_PARAMS)}); got shape {theta.shape}.")
        return np.asarray(_call(curves, theta))
