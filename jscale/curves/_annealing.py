"""The learning-rate annealing law of whole training curves (Tissue et al. 2024) and its baseline.

Tissue, Wang and Wang 2024, *Scaling Law with Learning Rate Annealing*, arXiv:2408.11029: with
eta_i the rate of step i (steps 0..T-1),

    L(s) = L0 + A * S1(s)^-alpha - C * S2(s),
    S1(s) = sum_{i<=s} eta_i                    (the forward area),
    S2(s) = sum_{i=1..s} m_i,  m_i = lambda * m_{i-1} + (eta_{i-1} - eta_i),  m_0 = 0
                                                (the annealing area; lambda the decay factor).

Unrolled, S2(s) = sum_{k=1..s} d_k (1 - lambda^(s-k+1)) / (1 - lambda) with d_k = eta_{k-1} - eta_k:
the warmup's rise makes it negative, a decay positive. `AreaPowerLaw` is the law without the
annealing term, L = L0 + A * S1^-alpha (a power law in the area under the schedule).

Both are curve laws (see `_curvelaw`), like `MultiPowerLaw`: build one with
`AnnealingLaw.over(pairs)` (pairs of a `Schedule` or per-step rates and checkpoint steps); its
one column "checkpoint" indexes those checkpoints in order, so `jscale.fit`, `fit_many` and
`bootstrap` fit it like any other law, and `fit_curves(curves, law=AnnealingLaw)` screens its
default starts and fits it.

**How S2 is evaluated (exact, no loop over steps, no overflow).** The checkpoints of each curve,
sorted, plus virtual points every `BLOCK` steps, cut its steps into segments (t_{j-1}, t_j] of at
most `BLOCK` steps. Over one segment of n steps the state (m, S2) moves by an affine map,

    m(t_j)  = lambda^n m(t_{j-1}) + P_j,                       P_j = sum_k d_k lambda^(t_j - k),
    S2(t_j) = S2(t_{j-1}) + lambda (1 - lambda^n) / (1 - lambda) m(t_{j-1}) + Q_j,
                                                                Q_j = sum_k d_k (1 - lambda^(t_j-k+1)) / (1 - lambda),

(k over the segment's steps whose rate changes). Every power has a non-negative exponent relative
to its own segment's end, so nothing overflows; 1 - lambda^n is `-expm1(n log lambda)`, so nothing
cancels as lambda -> 1; each segment sum has at most `BLOCK` terms (dense rows). The maps are then
composed along each curve with `lax.scan` (~T / BLOCK steps), restarting at each curve's first
point. The cost per evaluation is O(steps with a rate change) elementwise
powers; the parameters enter only through log lambda, so `jax.jacfwd` gives exact derivatives.
The tests measure it against a long-double recurrence: below 2e-14 relative at every checkpoint
(S1 too: its running sum is blocked, the blocks' offsets exact), for lambda from 0.5 to 0.99999.
"""

from __future__ import annotations

import dataclasses
import fractions
import functools
import itertools
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._numerics import x64_scope
from jscale.curves._curvelaw import digest, kept_pairs, rates_of
from jscale.curves._multipower import check_steps
from jscale.laws._laws import Law, log_sum_exp_offset

ANNEALING_PARAMS = ("L0", "A", "alpha", "C", "decay")
AREA_POWER_PARAMS = ("L0", "A", "alpha")
BLOCK = 128  # at most this many steps per segment: a virtual point every BLOCK steps

# Default starts: L0 in nats; the power term as a share of the loss scale at the curves' typical
# area; the annealing term's largest drop (nats) at each decay factor.
L0_STARTS = (1.5, 2.5, 3.5)
POWER_STARTS = (0.3, 1.0)
ALPHA_STARTS = (0.3, 0.6)
DROP_STARTS = (0.05, 0.3)
DECAY_STARTS = (0.99, 0.999, 0.9999)


def _running_area(lr: np.ndarray) -> np.ndarray:
    """S1 at every step, to ~1 ulp: np.cumsum adds T numbers one by one (a relative error of 6e-13
    on a 16,000-step two-stage schedule); here within blocks of BLOCK steps, the blocks' offsets
    summed exactly (rationals) and rounded once."""
    n_blocks = -(-lr.size // BLOCK)
    blocks = np.zeros(n_blocks * BLOCK)
    blocks[: lr.size] = lr
    blocks = np.cumsum(blocks.reshape(n_blocks, BLOCK), axis=1)
    exact, offsets = fractions.Fraction(0), np.zeros(n_blocks)
    for j in range(1, n_blocks):
        exact += fractions.Fraction(float(blocks[j - 1, -1]))
        offsets[j] = float(exact)
    return (offsets[:, None] + blocks).reshape(-1)[: lr.size]


def _check_pair(lr, steps, where: str):
    """(rates float64 (T,), steps int64 (c,), S1 at the steps) of one curve, checked (ValueError
    naming the first bad entry)."""
    lr = rates_of(lr, where)
    steps = check_steps(steps, lr.size, where)
    area = _running_area(lr)[steps]
    bad = np.flatnonzero(area <= 0)
    if bad.size:
        raise ValueError(f"The area under the schedule of {where} must be > 0 at every checkpoint (the laws raise "
                         f"it to -alpha); it is 0 at {bad.size}, the first at step {steps[bad[0]]} (row {bad[0]}). "
                         "Drop checkpoints before the first step with a positive rate.")
    return lr, steps, area


class AreaPlan(struct.PyTreeNode, kw_only=True):
    """The curves' data for both laws, built once in NumPy (`AreaPlan.build`); a pytree.

    Attributes:
        offsets: (n_curves + 1,) point offsets of the curves (static).
        log_s1: (n_points,) log S1 at every checkpoint, curve by curve in the caller's order.
        row_d, row_r: (R, BLOCK) the changing steps k of each segment as dense rows: d_k (0 for
            padding) and t_j - k, t_j the scan point ending the segment.
        row_point: (R,) the scan point of each row.
        gap: (n_scan,) steps from the previous scan point (from step 0 at a curve's first).
        first: (n_scan,) True at each curve's first scan point.
        real: (n_points,) the scan point of every checkpoint.
    """

    offsets: tuple = struct.field(pytree_node=False)
    log_s1: np.ndarray
    row_d: np.ndarray
    row_r: np.ndarray
    row_point: np.ndarray
    gap: np.ndarray
    first: np.ndarray
    real: np.ndarray

    @property
    def n_points(self) -> int:
        """Checkpoints of all curves."""
        return self.offsets[-1]

    @classmethod
    def build(cls, curves: Sequence) -> AreaPlan:
        """The plan of `curves`: (schedule or per-step rates, checkpoint steps) pairs, checked.

        Raises:
            ValueError: no curves, rates < 0 or not finite, steps outside [0, T), a checkpoint
                with no area under the schedule yet.
        """
        curves = list(curves)
        if not curves:
            raise ValueError("The annealing laws need at least one curve (schedule, steps); got none.")
        offsets, log_s1, row_d, row_r, row_point, gap, first, real = [0], [], [], [], [], [], [], []
        n_scan = 0
        for i, (lr, steps) in enumerate(curves):
            lr, steps, area = _check_pair(lr, steps, f"curve {i}")
            log_s1.append(np.log(area))
            offsets.append(offsets[-1] + steps.size)
            # Scan points: the distinct checkpoints and every BLOCK-th step up to the last one.
            top = int(steps.max())
            points = np.union1d(steps, np.arange(BLOCK, top, BLOCK))
            real.append(n_scan + np.searchsorted(points, steps))
            gap.append(np.diff(points, prepend=0).astype(np.float64))
            first.append(np.arange(points.size) == 0)
            d = np.zeros(lr.size)
            d[1:] = lr[:-1] - lr[1:]
            k = np.flatnonzero(d[: top + 1])
            seg = np.searchsorted(points, k)  # the first point t_j >= k
            # One dense row per segment with a changing step (segments span at most BLOCK steps).
            seg_ids, start = np.unique(seg, return_index=True)
            col = np.arange(k.size) - np.repeat(start, np.diff(np.append(start, k.size)))
            dense_d, dense_r = np.zeros((seg_ids.size, BLOCK)), np.zeros((seg_ids.size, BLOCK))
            row = np.searchsorted(seg_ids, seg)
            dense_d[row, col] = d[k]
            dense_r[row, col] = points[seg] - k
            row_d.append(dense_d)
            row_r.append(dense_r)
            row_point.append(n_scan + seg_ids)
            n_scan += points.size
        return cls(offsets=tuple(offsets), log_s1=np.concatenate(log_s1),
                   row_d=np.concatenate(row_d), row_r=np.concatenate(row_r),
                   row_point=np.concatenate(row_point).astype(np.int32), gap=np.concatenate(gap),
                   first=np.concatenate(first), real=np.concatenate(real).astype(np.int32))

    def s2(self, log_decay, log_one_minus):
        """S2 at every checkpoint (n_points,), from log lambda and log(1 - lambda) (JAX, may be traced).

        Both logs are taken as given, so that a caller holding lambda through a logistic map
        passes log_sigmoid(z) and log_sigmoid(-z), exact for lambda near 0 or 1.
        """
        one_minus = jnp.exp(log_one_minus)
        n_scan = self.gap.shape[0]
        r = jnp.asarray(self.row_r)
        p = jnp.sum(self.row_d * jnp.exp(r * log_decay), axis=1)
        q = jnp.sum(self.row_d * -jnp.expm1((r + 1.0) * log_decay), axis=1) / one_minus
        p = jax.ops.segment_sum(p, self.row_point, num_segments=n_scan, indices_are_sorted=True)
        q = jax.ops.segment_sum(q, self.row_point, num_segments=n_scan, indices_are_sorted=True)
        gap = jnp.asarray(self.gap)
        keep = jnp.asarray(~self.first, dtype=gap.dtype)  # 0 at a curve's first point: its state starts at 0
        a = keep * jnp.exp(gap * log_decay)
        c = keep * jnp.exp(log_decay - log_one_minus) * -jnp.expm1(gap * log_decay)

        # Along each curve, in order; `keep` = 0 restarts the state at a curve's first point.
        # (lax.associative_scan would round in a tree, but compiles ~20x slower than this scan of
        # ~T / BLOCK tiny steps, and the measured error of the scan is already ~1e-15.)
        def advance(state, segment):
            m, s2 = state
            a, c, k, p, q = segment
            return (a * m + p, k * s2 + c * m + q), k * s2 + c * m + q

        zero = jnp.zeros((), gap.dtype)
        _, s2 = jax.lax.scan(advance, (zero, zero), (a, c, keep, p, q))
        return s2[self.real]


@jax.jit
def _s2_call(plan, log_decay, log_one_minus):
    return plan.s2(log_decay, log_one_minus)


def annealing_areas(curves, decay: float) -> tuple[np.ndarray, np.ndarray]:
    """The forward and annealing areas S1, S2 at every checkpoint of `curves` (Tissue et al. 2024).

    Args:
        curves: a sequence of (schedule or per-step rates, checkpoint steps), or an `AreaPlan`.
        decay: the decay factor lambda of the annealing momentum, in (0, 1).

    Returns:
        (S1, S2), each (n_points,) float64, the curves' checkpoints concatenated in order.

    Example:
        >>> from jscale.curves import Schedule
        >>> s1, s2 = annealing_areas([(Schedule.two_stage(steps=3, peak=1.0, switch=1, value=0.5), [1, 2])], 0.5)
        >>> s1.tolist(), s2.tolist()
        ([1.5, 2.0], [0.5, 0.75])
    """
    if not (isinstance(decay, (int, float, np.floating)) and 0 < decay < 1):
        raise ValueError(f"decay must be a number in (0, 1); got {decay!r}.")
    plan = curves if isinstance(curves, AreaPlan) else AreaPlan.build(curves)
    with x64_scope():
        s2 = _s2_call(plan, np.log(float(decay)), np.log1p(-float(decay)))
    return np.exp(plan.log_s1), np.asarray(s2)


@functools.partial(jax.jit, static_argnums=0)
def _log_loss(law, theta):
    return law.log_loss(theta)


@dataclasses.dataclass(frozen=True)
class _AreaLaw(Law):
    """What both area laws share: the plan over fixed curves, the checkpoint column, the digest."""

    digest: str = ""
    plan: AreaPlan | None = dataclasses.field(default=None, compare=False, hash=False, repr=False)
    pairs: tuple = dataclasses.field(default=(), compare=False, hash=False, repr=False)

    columns = ("checkpoint",)
    column_space = "natural"

    @classmethod
    def over(cls, curves):
        """The law at every checkpoint of `curves`: a sequence of (schedule or per-step rates, steps),
        kept in `pairs` (a `Schedule` as it is, rates and steps as read-only arrays).

        Two laws over the same curves compare equal (a digest of the rates and steps).
        """
        curves = list(curves)
        plan = AreaPlan.build(curves)
        return cls(digest=digest(curves), plan=plan, pairs=kept_pairs(curves))

    @property
    def n_points(self) -> int:
        """Checkpoints of all its curves."""
        return self.plan.n_points

    def check_data(self, data) -> None:
        index = np.asarray(data["checkpoint"])
        if np.any(index != np.round(index)) or np.any((index < 0) | (index >= self.plan.n_points)):
            raise ValueError(f"The {self.name} law's column 'checkpoint' must hold indices of its "
                             f"{self.plan.n_points} checkpoints (build the data as jscale.curves.curve_data does).")

    def log_loss(self, theta):
        """log L at every checkpoint (n_points,) from free parameters `theta` (P,)."""
        raise NotImplementedError

    def log_predict(self, theta, x):
        return self.log_loss(theta)[x["checkpoint"].astype(jnp.int32)]

    def curve_loss(self, params) -> list:
        """The loss at the checkpoints of every curve (one NumPy array each) from natural
        parameters: a mapping (e.g. `fit.params`) or a sequence in the order of `param_names`."""
        if isinstance(params, Mapping):
            params = [params[k] for k in self.param_names]
        values = np.asarray(params, np.float64)
        if values.shape != (self.n_free,):
            raise ValueError(f"params must hold the {self.n_free} parameters {', '.join(self.param_names)}; got "
                             f"shape {values.shape}.")
        with x64_scope():
            loss = np.exp(np.asarray(_log_loss(self, self.to_free(values))))
        o = self.plan.offsets
        return [loss[a:b] for a, b in zip(o[:-1], o[1:])]

    def _log_area_scale(self) -> float:
        """log S1 at the geometric middle of the checkpoints: where the starts put the power term."""
        return float(np.mean(self.plan.log_s1))


@dataclasses.dataclass(frozen=True)
class AreaPowerLaw(_AreaLaw):
    """L = L0 + A * S1^-alpha, S1 the area under the schedule up to the checkpoint.

    The baseline of Tissue et al. 2024 (arXiv:2408.11029): a power law in the forward area alone,
    blind to annealing. Every parameter is positive (alpha > 0: the loss falls as the area grows).
    Build it with `AreaPowerLaw.over(curves)`; evaluated in log space.
    """

    name = "area_power"
    param_names = AREA_POWER_PARAMS
    positive = (True, True, True)
    anneals = False  # blind to the schedule's decay: nothing to identify

    def log_loss(self, theta):
        return log_sum_exp_offset(theta[0], theta[1] - jnp.exp(theta[2]) * self.plan.log_s1)

    def default_starts(self) -> np.ndarray:
        """L0 in {1.5, 2.5, 3.5}, alpha in {0.3, 0.6}, A with A S1^-alpha in {0.3, 1} at the curves'
        typical area: 12 starts."""
        rows = [(np.log(l0), np.log(q) + alpha * self._log_area_scale(), np.log(alpha))
                for l0, q, alpha in itertools.product(L0_STARTS, POWER_STARTS, ALPHA_STARTS)]
        return np.array(rows, dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class AnnealingLaw(_AreaLaw):
    """The scaling law with learning-rate annealing (Tissue et al. 2024, arXiv:2408.11029):

        L(s) = L0 + A * S1(s)^-alpha - C * S2(s),

    S1 the forward area and S2 the annealing area with decay factor lambda = `decay` (see the
    module docstring). Symbols: L0, A, alpha, C as in the paper; `decay` is lambda, fitted in
    (0, 1) through a logistic map (the paper fixes it near 0.999; `law.fix(decay=0.999)` does the
    same). L0, A, alpha and C are positive: alpha > 0 as the loss falls with the area, C > 0 as
    annealing lowers it. Build it with `AnnealingLaw.over(curves)`.
    """

    name = "annealing"
    anneals = True  # its annealing term needs a decay in the curves to be identified
    param_names = ANNEALING_PARAMS
    positive = (True, True, True, True, False)
    domain = ((0.0, float("inf")),) * 4 + ((0.0, 1.0),)

    def log_loss(self, theta):
        log_l0, log_a, log_alpha, log_c, z = (theta[i] for i in range(5))
        s2 = self.plan.s2(jax.nn.log_sigmoid(z), jax.nn.log_sigmoid(-z))
        loss = jnp.exp(log_l0) + jnp.exp(log_a - jnp.exp(log_alpha) * self.plan.log_s1) - jnp.exp(log_c) * s2
        return jnp.log(loss)

    def default_starts(self) -> np.ndarray:
        """L0 in {1.5, 2.5, 3.5}; alpha in {0.3, 0.6} with A S1^-alpha in {0.3, 1} at the curves'
        typical area; lambda in {0.99, 0.999, 0.9999} with C max|S2| in {0.05, 0.3} nats: 72 starts."""
        rows = []
        for decay in DECAY_STARTS:
            _, s2 = annealing_areas(self.plan, decay)
            top = float(np.max(np.abs(s2))) or 1.0
            for l0, q, alpha, drop in itertools.product(L0_STARTS, POWER_STARTS, ALPHA_STARTS, DROP_STARTS):
                rows.append((np.log(l0), np.log(q) + alpha * self._log_area_scale(), np.log(alpha),
                             np.log(drop / top), np.log(decay) - np.log1p(-decay)))
        return np.array(rows, dtype=np.float64)
