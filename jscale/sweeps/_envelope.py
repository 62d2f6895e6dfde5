"""Chinchilla's Approach 1 (Hoffmann et al. 2022, section 3.1): the envelope of training curves.

Each run (one model size N) is evaluated at several checkpoints (tokens seen D, compute
C = 6 N D or given). On a grid of compute values, every run's loss is interpolated linearly in
(log C, log L) within the compute its checkpoints span; the envelope is the lowest loss at each
grid point, and the run that reaches it gives N*(C) (D*(C) = the tokens it has seen there). The
power laws N*(C) = G_N C^a, D*(C) = G_D C^b and L*(C) = G_L C^gamma are fitted through the
envelope in log space (`jscale.compute_optimal(result, compute)` evaluates them, with bands).
Grid points where the best run is the smallest or the largest model are left out: there the
optimum may lie beyond the sizes trained. Bands come from resampling whole runs (all resamples
in one jitted call).
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._json import strict_json
from jscale.base._numerics import read_only, x64_scope
from jscale.data._data import ScalingData
from jscale.decisions._allocation import Allocation, compute_optimal
from jscale.engine._batch import MEMORY_ENV, memory_budget
from jscale.fitting._bootstrap import as_key_data
from jscale.inference._uncertainty import check_level
from jscale.sweeps._isoflop import band, check_resamples, fit_line, frontier, legacy_dict

EXPONENTS = ("a", "b", "loss_exponent")
DRAWS = (*EXPONENTS, "log_gn", "log_gd", "log_gl")


# A grid far finer than any run's checkpoints adds nothing but memory (runs x points values).
MAX_POINTS = 100_000


def _bytes(n_runs: int, n_points: int, n_resamples: int) -> int:
    """Memory of one envelope call, a little above what XLA reports for the resamples (measured on
    CPU): the (runs, K) losses and tokens (with the host copies they are built from), the (B, runs)
    draws of runs (with their scatter indices) and the (B, K) running minima and per-resample
    temporaries of the power laws (7 values per point)."""
    return 8 * (6 * n_runs * n_points + 4 * n_resamples * n_runs + 8 * n_resamples * n_points)


def _curves(log_c, log_l, log_d, grid):
    """One run's log loss and log tokens at every grid point (inf / NaN outside its checkpoints)."""
    order = np.argsort(log_c)
    c, loss, d = log_c[order], log_l[order], log_d[order]
    inside = (grid >= c[0]) & (grid <= c[-1])
    return np.where(inside, np.interp(grid, c, loss), np.inf), np.where(inside, np.interp(grid, c, d), np.nan)


def _lowest(present, loss):
    """Per resample, the lowest loss of its present runs at every grid point and the first run that
    reaches it: (B, K) each, from present (B, runs) and loss (runs, K).

    A loop over the runs holds O(B K) values; masking the losses per resample would hold (B, runs,
    K), which grows with the square of the runs when B does too. `<` keeps the first run of a tie,
    as `argmin` does, and run 0 where no run is present."""
    def step(carry, run):
        low, best = carry
        here, row, r = run
        value = jnp.where(here[:, None], row[None, :], jnp.inf)
        better = value < low
        return (jnp.where(better, value, low), jnp.where(better, r, best)), None

    shape = (present.shape[0], loss.shape[1])
    start = (jnp.full(shape, jnp.inf, loss.dtype), jnp.zeros(shape, jnp.int32))
    (low, best), _ = jax.lax.scan(step, start, (present.T, loss, jnp.arange(loss.shape[0], dtype=jnp.int32)))
    return low, best


def _envelope(present, low, best, log_d, log_n, grid):
    """The envelope of the present runs (lowest loss `low` reached by run `best`, (K,) each):
    usable points and the power laws through them (a, log G_N; b, log G_D; gamma, log G_L)."""
    finite = jnp.isfinite(low)
    sizes = jnp.where(present, log_n, jnp.nan)
    edge = (log_n[best] <= jnp.nanmin(sizes)) | (log_n[best] >= jnp.nanmax(sizes))
    use = finite & ~edge
    w = use.astype(grid.dtype)
    star_n = jnp.where(use, log_n[best], 0.0)
    star_d = jnp.where(use, log_d[best, jnp.arange(best.shape[0])], 0.0)
    a, gn = fit_line(grid, star_n, w)
    b, gd = fit_line(grid, star_d, w)
    gamma, gl = fit_line(grid, jnp.where(use, low, 0.0), w)
    return {"best": best, "use": use, "a": a, "log_gn": gn, "b": b, "log_gd": gd, "loss_exponent": gamma,
            "log_gl": gl}


@jax.jit
def _full(loss, log_d, log_n, grid):
    return _envelope(jnp.ones(loss.shape[0], bool), jnp.min(loss, axis=0), jnp.argmin(loss, axis=0), log_d, log_n,
                     grid)


@functools.partial(jax.jit, static_argnames=("n_resamples",))
def _resampled(key_data, loss, log_d, log_n, grid, *, n_resamples):
    """Runs drawn with replacement, every resample at once: a run drawn at least once is present
    (the envelope is a minimum, so multiplicity does not matter). Only the power laws come back."""
    n_runs = loss.shape[0]
    picks = jax.random.randint(jax.random.wrap_key_data(key_data), (n_resamples, n_runs), 0, n_runs)
    present = jnp.zeros((n_resamples, n_runs), bool).at[jnp.arange(n_resamples)[:, None], picks].set(True)
    low, best = _lowest(present, loss)
    out = jax.vmap(lambda p, lo, be: _envelope(p, lo, be, log_d, log_n, grid))(present, low, best)
    return {k: out[k] for k in DRAWS}


class EnvelopeResult(struct.PyTreeNode, kw_only=True):
    """Approach 1: the envelope of training curves and the power laws through it.

    `compute` (K,) the grid; `loss` (K,) the envelope (lowest loss of any run); `n_params`,
    `n_tokens` (K,) the run that reaches it and its tokens there; `used` (K,) the points the power
    laws use (NaN-free, best run neither the smallest nor the largest model); `exponents` a
    (N* ~ C^a), b (D* ~ C^b) and loss_exponent (L* ~ C^gamma) with `prefactors` log G_N, log G_D
    and log G_L; `draws` the same per resample of runs. `jscale.compute_optimal(result, compute)`
    evaluates the power laws at any budgets, with bands.
    """

    compute: np.ndarray
    loss: np.ndarray
    n_params: np.ndarray
    n_tokens: np.ndarray
    used: np.ndarray
    exponents: dict
    prefactors: dict
    n_runs: int = struct.field(pytree_node=False, default=0)
    draws: dict | None = None
    key: np.ndarray | None = None

    @property
    def n_resamples(self) -> int:
        return 0 if self.draws is None else len(self.draws["a"])

    @property
    def draw_ok(self):
        """(B,) the resamples that count in the bands (a line through at least 2 points), or None."""
        return None if self.draws is None else read_only(np.isfinite(np.asarray(self.draws["a"])))

    def __allocation__(self, budgets) -> Allocation:
        """`jscale.compute_optimal(self, budgets)`: the power laws at `budgets`, banded over the
        resamples of runs."""
        return frontier(budgets, self.exponents, self.prefactors, self.draws, self.draw_ok,
                        "the envelope's power laws (Approach 1)")

    def interval(self, name: str, level: float = 0.95):
        """Percentile band of exponent `name` ("a", "b" or "loss_exponent") over the resamples of
        runs."""
        if self.draws is None:
            raise ValueError("This result holds no resamples; run jscale.envelope with n_resamples >= 2.")
        if name not in EXPONENTS:
            raise ValueError(f"name must be one of {', '.join(EXPONENTS)}; got {name!r}.")
        if name not in self.exponents:
            raise ValueError(f"This result (saved by an older jscale) holds no {name!r}.")
        return band(np.asarray(self.draws[name])[self.draw_ok], level)

    def predict(self, compute, level: float = 0.95) -> dict:
        """Deprecated (until 0.4.0): `jscale.compute_optimal(result, compute)` gives the same
        values as an `Allocation` with `interval()`. A dict of (K,) arrays (n_params, n_tokens and
        their _low / _high)."""
        warnings.warn("EnvelopeResult.predict(compute) is now jscale.compute_optimal(result, compute) (predict "
                      "takes points and returns values); predict goes in 0.4.0.", DeprecationWarning, stacklevel=2)
        return legacy_dict(compute_optimal(self, compute), ("n_params", "n_tokens"), level)

    def summary(self, level: float = 0.95) -> str:
        lines = [f"jscale envelope (Approach 1): {self.n_runs} runs, {int(self.used.sum())} of {len(self.compute)} "
                 f"compute points used ({self.compute[self.used].min():.3g} to {self.compute[self.used].max():.3g} "
                 "FLOP)"]
        for name, label in (("a", "N* ~ C^a"), ("b", "D* ~ C^b"), ("loss_exponent", "L* ~ C^gamma")):
            if name not in self.exponents:
                continue
            band = ""
            if self.draws is not None:
                low, high = self.interval(name, level)
                band = f"   {100 * level:g}% ({low:.4f}, {high:.4f})"
            lines.append(f"  {label:<10} {self.exponents[name]:.4f}{band}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"EnvelopeResult(Approach 1: {self.n_runs} runs, a={self.exponents['a']:.4f}, "
                f"b={self.exponents['b']:.4f}, {self.n_resamples} resamples)")

    def to_dict(self, level: float = 0.95) -> dict:
        """Strict-JSON-ready: the runs, the exponents and (when resampled) their bands at `level`."""
        level = check_level(level)
        out = {"kind": "envelope", "approach": 1, "n_runs": self.n_runs, "n_resamples": self.n_resamples,
               "exponents": {k: float(v) for k, v in self.exponents.items()}}
        if self.draws is not None:
            out["level"] = level
            out["intervals"] = {k: [float(v) for v in self.interval(k, level)] for k in EXPONENTS
                                if k in self.exponents}
        return strict_json(out)


def envelope(data: ScalingData, *, run: str = "group", n_points: int = 200, n_resamples: int | None = None,
             key=0) -> EnvelopeResult:
    """Chinchilla's Approach 1: N*(C) and D*(C) from the lower envelope of training curves.

    Args:
        data: checkpoints of several runs: n_params, n_tokens (tokens seen so far), loss, compute
            (given or C = 6 N D), and a column naming the run of each checkpoint.
        run: that column (default "group").
        n_points: compute grid points, log-spaced over the compute the checkpoints span: 10 to
            `MAX_POINTS` (100,000). Every run is evaluated at every point, so a call whose runs x
            points (and resamples) would take more than the memory budget
            (`JSCALE_MEMORY_BUDGET`, default a quarter of the free memory) is refused.
        n_resamples: resamples of whole runs for the bands (0 for none).
        key: integer seed or JAX PRNG key of the resamples.

    Returns:
        An `EnvelopeResult`.
    """
    if not isinstance(data, ScalingData):
        raise TypeError(f"data must be a jscale.ScalingData; got {type(data).__name__}.")
    data.require("n_params", "n_tokens", "loss", who="Approach 1 (the envelope of training curves)")
    if run not in data.columns:
        raise ValueError(
            f"Approach 1 needs the run of every checkpoint, and the data has no column {run!r}; name it with "
            "run='<column>' (several checkpoints per run, e.g. a run id), or use jscale.isoflop for one loss per run."
        )
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or not 10 <= n_points <= MAX_POINTS:
        raise ValueError(f"n_points must be an integer from 10 to {MAX_POINTS:,} (a finer grid only costs memory: "
                         f"every run is evaluated at every point); got {n_points!r}.")
    n_resamples = check_resamples(n_resamples)
    labels, codes = data.codes(run) if run in data.categorical else np.unique(data[run], return_inverse=True)
    n = np.asarray(data.n_params, np.float64)
    d = np.asarray(data.n_tokens, np.float64)
    compute = np.asarray(data.compute, np.float64)  # given, or derived as 6 N D by ScalingData
    order = np.argsort(codes, kind="stable")
    runs = np.split(order, np.cumsum(np.bincount(codes, minlength=len(labels)))[:-1])
    single = [labels[k] for k, rows in enumerate(runs) if len(rows) < 2 or np.ptp(n[rows]) > 0]
    if single:
        raise ValueError(f"Approach 1 needs each run to be one model size with at least 2 checkpoints; run "
                         f"{single[0]!r} is not (checked by the column {run!r}).")
    if len(runs) < 3:
        raise ValueError(f"Approach 1 needs at least 3 runs of different sizes; the data has {len(runs)}.")
    needed, budget = _bytes(len(runs), int(n_points), n_resamples), memory_budget()
    if needed > budget:
        raise ValueError(f"Approach 1 with {len(runs):,} runs, n_points={int(n_points):,} and "
                         f"n_resamples={n_resamples:,} needs about {needed / 2**20:,.0f} MiB, more than the "
                         f"{budget / 2**20:,.0f} MiB memory budget; pass fewer n_points or n_resamples, or set "
                         f"{MEMORY_ENV} (bytes) higher.")
    grid = np.linspace(np.log(compute.min()), np.log(compute.max()), int(n_points))
    log_c, log_l, log_t = np.log(compute), np.log(np.asarray(data.loss, np.float64)), np.log(d)
    loss, log_d = np.empty((len(runs), len(grid))), np.empty((len(runs), len(grid)))
    for k, r in enumerate(runs):
        loss[k], log_d[k] = _curves(log_c[r], log_l[r], log_t[r], grid)
    log_n = np.log(np.array([n[r[0]] for r in runs]))
    with x64_scope():
        args = [jnp.asarray(a) for a in (loss, np.nan_to_num(log_d), log_n, grid)]
        full = jax.tree.map(np.asarray, _full(*args))
        if full["use"].sum() < 2:
            raise ValueError("The envelope is reached by the smallest or the largest model at almost every compute: "
                             "train sizes on both sides of the optimum for Approach 1.")
        draws = key_data = None
        if n_resamples:
            key_data = as_key_data(key)
            out = jax.tree.map(np.asarray, _resampled(jnp.asarray(key_data), *args, n_resamples=int(n_resamples)))
            draws = {k: read_only(out[k]) for k in DRAWS}
    best = full["best"]
    k = np.arange(len(grid))
    return EnvelopeResult(
        compute=read_only(np.exp(grid)), loss=read_only(np.exp(loss[best, k])), n_params=read_only(np.exp(log_n[best])),
        n_tokens=read_only(np.exp(log_d[best, k])), used=read_only(full["use"]),
        exponents={k: float(full[k]) for k in EXPONENTS},
        prefactors={k: float(full[k]) for k in ("log_gn", "log_gd", "log_gl")},
        n_runs=len(runs), draws=draws, key=None if key_data is None else read_only(key_data))
