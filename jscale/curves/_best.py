"""The best learning-rate schedule under a fitted multi-power law, and its gain over cosine and WSD.

Luo et al. 2025 (arXiv:2503.12811, sec. 5) optimise the schedule through their fitted law; this
is that, by `jax.grad` through the exact law (`multipower_exact`), under the constraints a user
states: the number of steps, the peak rate, a linear warmup (`np.linspace(0, peak, warmup)`, as
`Schedule`), and after it a non-increasing rate between `floor` and `peak`.

**Parametrisation** (the constraints hold by construction). After the warmup the rate is
piecewise linear in the step between `knots` knots spread evenly over [warmup, steps - 1], with
knot values

    eta_j = floor + (peak - floor) * exp(-c_j),   c_0 = 0,   c_j = sum_{i <= j} softplus(u_i),

so the first knot is the peak (no jump after the warmup), the knots never rise and never pass
the floor; c is capped at 40 (exp(-40) ~ 4e-18) so a floor of 0 keeps every rate > 0, as the law
needs. The free vector u (knots - 1 numbers) is optimised by L-BFGS (`optax.lbfgs`, zoom line
search) in float64 inside one `lax.while_loop`, from two starts one after the other (`lax.map`;
every u at -1 and at 1: geometric decays from the peak, fast and faster; starts deep in the
plateau, u << 0, stall where softplus is flat; under `vmap` the batched line searches cost more
than the two runs). A start stops when its best objective improved by less than
`rtol` (relative) over 20 iterations, or after `max_steps`; the lower start wins.

**Objective**: "final", the loss at the last step, steps - 1; or an integer k, the mean loss
over the last k steps (k checkpoints: k times the cost of "final").

**Baselines**, with the same steps, peak, warmup and floor: cosine from the peak to the floor
(`Schedule.cosine`) and WSD, the peak then a linear decay to the floor over the last
`wsd_fraction` (default 20%) of the steps (`Schedule.wsd(decay_start=steps - round(wsd_fraction
* steps))`, never before the warmup ends). With `floor=None` every schedule decays to peak / 10,
the convention of Luo et al. (3e-4 to 3e-5).

**Draws** (e.g. bootstrap refits): the three schedules stay fixed (the schedule was chosen on the
point parameters) and the law is evaluated with every draw's parameters; the bands are percentiles
of the per-draw gains.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jscale.base._interval import Interval
from jscale.base._json import strict_json
from jscale.base._numerics import bucket, pad_repeating, read_only, x64_scope
from jscale.base._warnings import ConvergenceWarning
from jscale.curves._multipower import EXACT_CHUNK, MULTIPOWER_PARAMS, multipower_exact
from jscale.curves._schedules import Schedule
from jscale.inference._uncertainty import check_level

KNOTS = 128
MAX_STEPS = 1000
RTOL = 1e-10  # relative improvement of the objective over PATIENCE iterations below which a start stops
PATIENCE = 20
STARTS = (-1.0, 1.0)  # the constant values of u the starts take
C_MAX = 40.0
WSD_FRACTION = 0.2
SCHEDULES = ("best", "cosine", "wsd")
NAMES = SCHEDULES + ("gain_cosine", "gain_wsd")


# --------------------------------------------------------------------------------------------
# Kernel (pure JAX)


def _knot_values(u, peak, floor):
    """(knots,) non-increasing knot rates in [floor, peak], the first the peak."""
    c = jnp.concatenate([jnp.zeros(1, u.dtype), jnp.cumsum(jax.nn.softplus(u))])
    return floor + (peak - floor) * jnp.exp(-jnp.minimum(c, C_MAX))


def _interpolation(steps: int, warmup: int, knots: int):
    """(knot steps, left knot index, weight of the right knot) of every step after the warmup (NumPy):
    a fixed gather instead of `jnp.interp`'s search, three times cheaper with its gradient."""
    knot_steps = np.linspace(warmup, steps - 1, knots)
    at = np.arange(warmup, steps, dtype=np.float64)
    left = np.clip(np.searchsorted(knot_steps, at, side="right") - 1, 0, knots - 2)
    weight = (at - knot_steps[left]) / (knot_steps[left + 1] - knot_steps[left])
    return knot_steps, left, weight


def _rates(u, peak, floor, *, steps: int, warmup: int, knots: int):
    """(steps,) per-step rates: the linear warmup, then the knots interpolated linearly."""
    _, left, weight = _interpolation(steps, warmup, knots)
    v = _knot_values(u, peak, floor)
    after = v[left] * (1.0 - weight) + v[left + 1] * weight
    return jnp.concatenate([jnp.linspace(0.0, peak, warmup), after])


def _final_loss(theta, lr):
    """The law at the last step, every term as in `multipower_exact` without its checkpoint masks
    and chunks (one checkpoint: T terms), 2.5 times cheaper with its gradient; the tests hold the two equal."""
    L0, A, alpha, B, C, beta, gamma = (theta[i] for i in range(len(MULTIPOWER_PARAMS)))
    S = jnp.cumsum(lr)
    q = jnp.exp(-beta * jnp.log1p(C * jnp.exp(-gamma * jnp.log(lr[1:])) * (S[-1] - S[:-1])))
    return L0 + A * jnp.exp(-alpha * jnp.log(S[-1])) + B * jnp.sum((lr[1:] - lr[:-1]) * (1.0 - q))


def _objective(theta, lr, last: int):
    """The mean predicted loss over the last `last` steps of the rates `lr` (the exact law)."""
    if last == 1:
        return _final_loss(theta, lr)
    steps = lr.shape[0]
    return jnp.mean(multipower_exact(theta, lr, np.arange(steps - last, steps)))


@functools.partial(jax.jit, static_argnames=("steps", "warmup", "knots", "last"))
def _optimise(theta, peak, floor, u0, rtol, max_steps, *, steps, warmup, knots, last):
    """Per start (rows of u0): (best u, its objective, iterations, converged), L-BFGS in a while loop.

    The loop keeps the best iterate seen: once converged, L-BFGS's curvature pairs degenerate and
    a last step can be wild (the line search gives up and accepts it)."""

    def f(u):
        return _objective(theta, _rates(u, peak, floor, steps=steps, warmup=warmup, knots=knots), last)

    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(f)

    def one(u_init):
        def body(carry):
            u, state, i, best_u, best_v, ref_v, since = carry
            v, g = value_and_grad(u, state=state)
            better = v < best_v
            best_u, best_v = jnp.where(better, u, best_u), jnp.where(better, v, best_v)
            gained = ref_v - v > rtol * jnp.abs(v)  # true at the first finite v (ref_v = inf)
            ref_v, since = jnp.where(gained, v, ref_v), jnp.where(gained, 0, since + 1)
            updates, state = solver.update(g, state, u, value=v, grad=g, value_fn=f)
            return optax.apply_updates(u, updates), state, i + 1, best_u, best_v, ref_v, since

        def cond(carry):
            return (carry[2] < max_steps) & (carry[6] < PATIENCE)

        inf = jnp.asarray(jnp.inf, u_init.dtype)
        init = (u_init, solver.init(u_init), 0, u_init, inf, inf, 0)
        _, _, i, best_u, best_v, _, since = jax.lax.while_loop(cond, body, init)
        return best_u, best_v, i, (since >= PATIENCE) & jnp.isfinite(best_v)

    # One start after the other: under vmap the batched line searches run both branches for all.
    return jax.lax.map(one, u0)


@functools.partial(jax.jit, static_argnames=("steps", "warmup", "knots"))
def _rates_jit(u, peak, floor, *, steps, warmup, knots):
    return _rates(u, peak, floor, steps=steps, warmup=warmup, knots=knots), _knot_values(u, peak, floor)


@functools.partial(jax.jit, static_argnames=("last", "batch"))
def _evaluate(thetas, rates, *, last, batch):
    """(D, S) objective of every schedule (rows of `rates`) under every parameter vector (rows of
    `thetas`), by `multipower_exact` itself: the reported losses are the law's."""

    steps = rates.shape[1]

    def per_theta(theta):
        return jnp.stack([jnp.mean(multipower_exact(theta, rates[s], np.arange(steps - last, steps)))
                          for s in range(rates.shape[0])])

    return jax.lax.map(per_theta, thetas, batch_size=batch)


# --------------------------------------------------------------------------------------------
# The result


class BestSchedule(struct.PyTreeNode, kw_only=True):
    """The schedule that minimises the predicted loss under the stated constraints (`best_schedule`).

    Attributes:
        rates: (steps,) the best schedule's per-step rates (read-only).
        knot_steps, knot_rates: (knots,) where the knots sit and their rates (the rates after the
            warmup are these, linearly interpolated).
        loss: the best schedule's predicted objective (final loss or mean of the last k steps).
        cosine_loss, wsd_loss: the same for the cosine and WSD baselines.
        draw_losses: "best", "cosine", "wsd" -> (B,) the objective under every draw of the
            parameters (the schedules fixed), or None without draws.
        cosine, wsd: the baselines as `Schedule`s (static).
        steps, peak, warmup, floor: the constraints (static).
        objective: "final" or the number of last steps averaged (static).
        n_iterations: L-BFGS iterations of the winning start (static).
        converged: whether the winning start met its stopping test before `max_steps` (static).
    """

    rates: np.ndarray
    knot_steps: np.ndarray
    knot_rates: np.ndarray
    loss: float
    cosine_loss: float
    wsd_loss: float
    draw_losses: dict | None = None
    cosine: Schedule = struct.field(pytree_node=False)
    wsd: Schedule = struct.field(pytree_node=False)
    steps: int = struct.field(pytree_node=False)
    peak: float = struct.field(pytree_node=False)
    warmup: int = struct.field(pytree_node=False)
    floor: float = struct.field(pytree_node=False)
    objective: str | int = struct.field(pytree_node=False, default="final")
    n_iterations: int = struct.field(pytree_node=False, default=0)
    converged: bool = struct.field(pytree_node=False, default=True)

    gain_cosine = property(lambda self: self.cosine_loss - self.loss,
                           doc="Predicted cosine loss minus the best schedule's (> 0: the best is better).")
    gain_wsd = property(lambda self: self.wsd_loss - self.loss,
                        doc="Predicted WSD loss minus the best schedule's (> 0: the best is better).")
    n_draws = property(lambda self: 0 if self.draw_losses is None else len(self.draw_losses["best"]))

    @property
    def schedule(self) -> Schedule:
        """The best rates as a custom `Schedule`."""
        return Schedule.custom(self.rates)

    def draws(self, name: str) -> np.ndarray:
        """(B,) per-draw values of "best", "cosine", "wsd" (losses) or "gain_cosine", "gain_wsd"."""
        if name not in NAMES:
            raise ValueError(f"name must be one of {', '.join(NAMES)}; got {name!r}.")
        if self.draw_losses is None:
            raise ValueError("No draws: pass draws= (e.g. bootstrap parameters) to best_schedule for bands.")
        d = self.draw_losses
        return d[name] if name in d else d[name.removeprefix("gain_")] - d["best"]

    def interval(self, name: str, level: float = 0.95) -> Interval:
        """Percentile band of `name` ("gain_cosine", "gain_wsd", "best", "cosine", "wsd") over the draws."""
        level = check_level(level)
        q = np.quantile(self.draws(name), [0.5 - level / 2, 0.5 + level / 2])
        return Interval(float(q[0]), float(q[1]))

    def summary(self, level: float = 0.95) -> str:
        """The constraints, the three predicted losses, the gains and their bands, and the shape."""
        return _summary(self, check_level(level))

    def to_dict(self, level: float = 0.95) -> dict:
        """Strict-JSON-ready: the constraints, the knots, the losses, the gains and their bands."""
        level = check_level(level)
        out = {"kind": "best_schedule", "steps": self.steps, "peak": self.peak, "warmup": self.warmup,
               "floor": self.floor, "objective": self.objective, "knot_steps": self.knot_steps,
               "knot_rates": self.knot_rates, "loss": self.loss, "cosine": str(self.cosine),
               "cosine_loss": self.cosine_loss, "wsd": str(self.wsd), "wsd_loss": self.wsd_loss,
               "gain_cosine": self.gain_cosine, "gain_wsd": self.gain_wsd, "n_draws": self.n_draws,
               "n_iterations": self.n_iterations, "converged": self.converged}
        if self.draw_losses is not None:
            out["level"] = level
            out["interval"] = {n: list(self.interval(n, level)) for n in NAMES}
        return strict_json(out)

    def __repr__(self) -> str:
        return (f"BestSchedule(steps={self.steps}, loss={self.loss:.6g}, gain_cosine={self.gain_cosine:.4g}, "
                f"gain_wsd={self.gain_wsd:.4g}, n_draws={self.n_draws})")


def _summary(r: BestSchedule, level: float) -> str:
    what = "final loss" if r.objective == "final" else f"mean loss of the last {r.objective} steps"
    lines = [f"Best schedule under the multi-power law ({what}): {r.steps} steps, peak {r.peak:g}, warmup "
             f"{r.warmup}, non-increasing to floor {r.floor:g}."]
    banded = r.draw_losses is not None
    head = f"  {'schedule':<34} {'predicted':>10} {'gain':>10}"
    if banded:
        head += f"   {100 * level:g}% band of the gain ({r.n_draws} draws)"
    lines.append(head)
    lines.append(f"  {'best':<34} {r.loss:>10.6f}")
    for name, spec, loss, gain in (("cosine", r.cosine, r.cosine_loss, r.gain_cosine),
                                   ("wsd", r.wsd, r.wsd_loss, r.gain_wsd)):
        line = f"  {str(spec).split('(')[0] + f' to {r.floor:g}':<34} {loss:>10.6f} {gain:>10.6f}"
        if banded:
            low, high = r.interval(f"gain_{name}", level)
            line += f"   ({low:.6f}, {high:.6f})"
        lines.append(line)
    below = np.flatnonzero(r.rates[r.warmup:] < r.peak - 0.01 * (r.peak - r.floor))
    held = r.warmup + int(below[0]) if below.size else r.steps
    lines.append(f"  The best schedule holds the peak (within 1% of peak - floor) to step {held} and ends at "
                 f"{r.rates[-1]:.3g}; L-BFGS took {r.n_iterations} iterations"
                 f" ({'converged' if r.converged else 'stopped at max_steps'}).")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Validation


def _in_order(table: Mapping, where: str) -> list:
    """The values of a mapping name -> value in the order of `MULTIPOWER_PARAMS`, or ValueError naming the missing."""
    missing = [n for n in MULTIPOWER_PARAMS if n not in table]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}: the multi-power law needs "
                         f"{', '.join(MULTIPOWER_PARAMS)}; got the names {', '.join(map(str, table))}.")
    return [table[n] for n in MULTIPOWER_PARAMS]


def _theta(params, where: str = "params") -> np.ndarray:
    """(7,) float64 from a mapping name -> value, a sequence in `MULTIPOWER_PARAMS` order, or an
    object with a `params` mapping (a `FitResult`)."""
    if not isinstance(params, Mapping) and isinstance(getattr(params, "params", None), Mapping):
        params = params.params
    if isinstance(params, Mapping):
        params = _in_order(params, where)
    try:
        theta = np.asarray(params, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{where} must be a mapping name -> value or a sequence of the 7 numbers "
                        f"{', '.join(MULTIPOWER_PARAMS)}; got {type(params).__name__}.") from None
    if theta.shape != (len(MULTIPOWER_PARAMS),):
        raise ValueError(f"{where} must hold the 7 parameters {', '.join(MULTIPOWER_PARAMS)}; got shape "
                         f"{theta.shape}.")
    return theta


def _draws(draws) -> np.ndarray:
    """(B, 7) float64 from a (B, 7) array, a sequence of mappings, a mapping name -> (B,), or an
    object with a `draws` mapping (a `BootstrapResult`: its usable draws, `draw_ok`)."""
    ok = None
    if not isinstance(draws, Mapping) and isinstance(getattr(draws, "draws", None), Mapping):
        ok = getattr(draws, "draw_ok", None)
        draws = draws.draws
    if isinstance(draws, Mapping):
        out = np.stack([np.asarray(v, np.float64).reshape(-1) for v in _in_order(draws, "draws")], axis=1)
        if ok is not None and np.shape(ok) == (out.shape[0],):  # BootstrapResult.draws holds every draw
            out = out[np.asarray(ok, bool)]
    elif isinstance(draws, Sequence) and draws and all(isinstance(d, Mapping) for d in draws):
        out = np.stack([_theta(d, f"draws[{i}]") for i, d in enumerate(draws)])
    else:
        try:
            out = np.asarray(draws, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"draws must be a (B, 7) array, a sequence of parameter mappings or a mapping "
                            f"name -> (B,) draws; got {type(draws).__name__}.") from None
    if out.ndim != 2 or out.shape[1] != len(MULTIPOWER_PARAMS) or out.shape[0] == 0:
        raise ValueError(f"draws must be a (B, 7) array of parameters ({', '.join(MULTIPOWER_PARAMS)}) with B >= 1; "
                         f"got shape {out.shape}.")
    bad = np.flatnonzero(~np.all(np.isfinite(out) & (out > 0), axis=1))
    if bad.size:
        raise ValueError(f"Every draw's parameters must be finite and > 0; {bad.size} of {out.shape[0]} draws are "
                         f"not, the first is row {bad[0]} ({out[bad[0]].tolist()}). Drop failed draws first.")
    return out


def _integer(name: str, value, low: int, high: int | None = None, hint: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r}.")
    value = int(value)
    if value < low or (high is not None and value > high):
        span = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {span}{hint}; got {value}.")
    return value


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {value!r}.")
    return float(value)


def _plan(steps, peak, warmup, floor, objective, knots, wsd_fraction, max_steps, rtol):
    """The checked arguments: (steps, peak, warmup, floor, last, knots, wsd decay start, max_steps, rtol)."""
    steps = _integer("steps", steps, 2)
    warmup = _integer("warmup", warmup, 0, steps - 2, f" (steps={steps}: at least 2 steps must follow the warmup)")
    peak = _number("peak", peak)
    if not (math.isfinite(peak) and peak > 0):
        raise ValueError(f"peak must be finite and > 0; got {peak!r}.")
    floor = 0.1 * peak if floor is None else _number("floor", floor)
    if not (math.isfinite(floor) and 0 <= floor < peak):
        raise ValueError(f"floor must be in [0, peak={peak!r}) (the lowest rate after the warmup); got {floor!r}.")
    if objective == "final":
        last = 1
    elif isinstance(objective, (int, np.integer)) and not isinstance(objective, bool):
        last = _integer("objective", objective, 1, steps - max(warmup, 1),
                        " (the number of last steps whose mean loss is minimised, all after the warmup)")
        objective = last
    else:
        raise ValueError(f"objective must be 'final' (the loss at the last step) or an integer k (the mean loss of "
                         f"the last k steps); got {objective!r}.")
    knots = _integer("knots", knots, 2, steps - warmup, f" (the steps after the warmup: {steps - warmup})")
    wsd_fraction = _number("wsd_fraction", wsd_fraction)
    if not 0 < wsd_fraction <= 1:
        raise ValueError(f"wsd_fraction (the share of the steps WSD decays over) must be in (0, 1]; got "
                         f"{wsd_fraction!r}.")
    decay_start = min(steps - 1, max(warmup, steps - round(wsd_fraction * steps)))
    max_steps = _integer("max_steps", max_steps, 1)
    rtol = _number("rtol", rtol)
    if not (math.isfinite(rtol) and rtol >= 0):
        raise ValueError(f"rtol must be finite and >= 0; got {rtol!r}.")
    return steps, peak, warmup, floor, objective, last, knots, decay_start, max_steps, rtol


# --------------------------------------------------------------------------------------------
# Public API


def best_schedule(params, *, steps: int, peak: float, warmup: int = 0, floor: float | None = None,
                  objective: str | int = "final", knots: int = KNOTS, draws=None, wsd_fraction: float = WSD_FRACTION,
                  max_steps: int = MAX_STEPS, rtol: float = RTOL) -> BestSchedule:
    """The schedule that minimises the multi-power law's predicted loss, and its gain over cosine and WSD.

    Luo et al. 2025 (arXiv:2503.12811), sec. 5: the schedule is optimised through the fitted law
    by `jax.grad` (L-BFGS, float64), non-increasing after a linear warmup, between `floor` and
    `peak` by construction (see the module docstring for the parametrisation).

    Args:
        params: the law's parameters (L0, A, alpha, B, C, beta, gamma): a mapping name -> value, a
            sequence in `MULTIPOWER_PARAMS` order, or a `FitResult` of `fit_curves`.
        steps: training steps (the schedule covers steps 0..steps-1).
        peak: the peak learning rate, reached at the end of the warmup.
        warmup: steps of linear warmup from 0 (`np.linspace(0, peak, warmup)`).
        floor: the lowest rate allowed after the warmup, in [0, peak); None: peak / 10 (Luo et
            al.'s convention). The baselines decay to it too.
        objective: "final" (the loss at step steps - 1) or an integer k (the mean loss of the
            last k steps, k times the cost per iteration).
        knots: knots of the piecewise-linear schedule after the warmup (>= 2).
        draws: optional parameter draws (e.g. a bootstrap's): a (B, 7) array, a sequence of
            mappings, a mapping name -> (B,), or a `BootstrapResult` (its usable draws).
        wsd_fraction: the share of the steps over which the WSD baseline decays linearly.
        max_steps: L-BFGS iterations per start at most.
        rtol: a start stops when its objective improved by less than rtol (relative) over 20
            iterations.

    Returns:
        A `BestSchedule` (rates, predicted losses, gains, and bands over the draws).

    Raises:
        ValueError: steps <= warmup + 1, peak <= 0, floor outside [0, peak), a bad objective or
            knots, params or draws lacking names or of the wrong shape, draws not finite or <= 0.

    Warns:
        ConvergenceWarning: the winning start stopped at `max_steps`.

    Example:
        >>> from jscale.curves._luo import LUO2025_PUBLISHED
        >>> best = best_schedule(LUO2025_PUBLISHED["25M"], steps=3000, peak=3e-4, warmup=300, knots=16)
        >>> bool(best.gain_cosine > 0 and best.gain_wsd > 0)
        True
    """
    steps, peak, warmup, floor, objective, last, knots, decay_start, max_steps, rtol = _plan(
        steps, peak, warmup, floor, objective, knots, wsd_fraction, max_steps, rtol)
    theta = _theta(params)
    bad = np.flatnonzero(~(np.isfinite(theta) & (theta > 0)))
    if bad.size:
        raise ValueError(f"params must be finite and > 0; {MULTIPOWER_PARAMS[bad[0]]} is {theta[bad[0]]!r}.")
    thetas = theta[None, :] if draws is None else np.concatenate([theta[None, :], _draws(draws)])
    cosine = Schedule.cosine(steps=steps, peak=peak, floor=floor, warmup=warmup)
    wsd = Schedule.wsd(steps=steps, peak=peak, decay_start=decay_start, floor=floor, warmup=warmup)
    shape = dict(steps=steps, warmup=warmup, knots=knots)
    with x64_scope():
        u0 = jnp.asarray(np.repeat(np.asarray(STARTS)[:, None], knots - 1, axis=1))
        u, value, n_iter, converged = _optimise(jnp.asarray(theta), peak, floor, u0, rtol, max_steps, last=last,
                                                **shape)
        win = int(np.nanargmin(np.asarray(value)))
        rates, knot_rates = (np.asarray(a) for a in _rates_jit(u[win], peak, floor, **shape))
        # The interpolation may round one ulp up between knots: restore the constraints exactly.
        rates = rates.copy()
        rates[warmup:] = np.clip(np.minimum.accumulate(rates[warmup:]), floor, peak)
        batch = max(1, EXACT_CHUNK // (3 * last * steps))
        padded = pad_repeating(thetas, bucket(len(thetas)))  # one compile per bucket of draw counts
        losses = np.asarray(_evaluate(jnp.asarray(padded), jnp.asarray(np.stack([rates, cosine.lr(), wsd.lr()])),
                                      last=last, batch=batch))[: len(thetas)]
    if not bool(converged[win]):
        warnings.warn(f"best_schedule: L-BFGS stopped at max_steps={max_steps} before its objective settled (rtol="
                      f"{rtol:g}); raise max_steps or rtol.", ConvergenceWarning, stacklevel=2)
    draw_losses = None if draws is None else {n: read_only(losses[1:, i]) for i, n in enumerate(SCHEDULES)}
    return BestSchedule(rates=read_only(rates), knot_steps=read_only(_interpolation(steps, warmup, knots)[0]),
                        knot_rates=read_only(knot_rates), loss=float(losses[0, 0]), cosine_loss=float(losses[0, 1]),
                        wsd_loss=float(losses[0, 2]), draw_losses=draw_losses, cosine=cosine, wsd=wsd, steps=steps,
                        peak=peak, warmup=warmup, floor=floor, objective=objective, n_iterations=int(n_iter[win]),
                        converged=bool(converged[win]))
