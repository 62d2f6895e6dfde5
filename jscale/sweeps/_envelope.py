"""Chinchilla's Approach 1 (Hoffmann et al. 2022, section 3.1): the envelope of training curves.

Each run (one model size N) is evaluated at several checkpoints (tokens seen D, compute
C = 6 N D or given). On a grid of compute values, every run's loss is interpolated linearly in
(log C, log L) within the compute its checkpoints span; the envelope is the lowest loss at each
grid point, and the run that reaches it gives N*(C) (D*(C) = the tokens it has seen there). The
power laws N*(C) = G_N C^a and D*(C) = G_D C^b are fitted through the envelope in log space.
Grid points where the best run is the smallest or the largest model are left out: there the
optimum may lie beyond the sizes trained. Bands come from resampling whole runs (all resamples
in one jitted call).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._json import strict_json
from jscale.base._numerics import read_only, x64_scope
from jscale.data._data import ScalingData
from jscale.fitting._bootstrap import as_key_data
from jscale.inference._uncertainty import check_level
from jscale.sweeps._isoflop import band, check_resamples, fit_line, power_laws

EXPONENTS = ("a", "b")


def _curves(log_c, log_l, log_d, grid):
    """Every run's log loss and log tokens at every grid point (inf / NaN outside its checkpoints)."""
    order = np.argsort(log_c)
    c, loss, d = log_c[order], log_l[order], log_d[order]
    inside = (grid >= c[0]) & (grid <= c[-1])
    return np.where(inside, np.interp(grid, c, loss), np.inf), np.where(inside, np.interp(grid, c, d), np.nan)


def _envelope(present, loss, log_d, log_n, grid):
    """The envelope of the present runs: (best run per grid point, usable points, a, log G_N, b, log G_D)."""
    masked = jnp.where(present[:, None], loss, jnp.inf)  # (runs, K)
    best = jnp.argmin(masked, axis=0)  # (K,)
    finite = jnp.isfinite(jnp.min(masked, axis=0))
    sizes = jnp.where(present, log_n, jnp.nan)
    edge = (log_n[best] <= jnp.nanmin(sizes)) | (log_n[best] >= jnp.nanmax(sizes))
    use = finite & ~edge
    w = use.astype(grid.dtype)
    star_n = jnp.where(use, log_n[best], 0.0)
    star_d = jnp.where(use, jnp.take_along_axis(log_d, best[None], axis=0)[0], 0.0)
    a, gn = fit_line(grid, star_n, w)
    b, gd = fit_line(grid, star_d, w)
    return {"best": best, "use": use, "a": a, "log_gn": gn, "b": b, "log_gd": gd}


@jax.jit
def _full(loss, log_d, log_n, grid):
    return _envelope(jnp.ones(loss.shape[0], bool), loss, log_d, log_n, grid)


@functools.partial(jax.jit, static_argnames=("n_resamples",))
def _resampled(key_data, loss, log_d, log_n, grid, *, n_resamples):
    """Runs drawn with replacement, every resample at once: a run drawn at least once is present
    (the envelope is a minimum, so multiplicity does not matter)."""
    n_runs = loss.shape[0]
    picks = jax.random.randint(jax.random.wrap_key_data(key_data), (n_resamples, n_runs), 0, n_runs)
    present = jnp.any(picks[:, :, None] == jnp.arange(n_runs), axis=1)  # (B, runs)
    return jax.vmap(lambda p: _envelope(p, loss, log_d, log_n, grid))(present)


class EnvelopeResult(struct.PyTreeNode, kw_only=True):
    """Approach 1: the envelope of training curves and the power laws through it.

    `compute` (K,) the grid; `loss` (K,) the envelope (lowest loss of any run); `n_params`,
    `n_tokens` (K,) the run that reaches it and its tokens there; `used` (K,) the points the power
    laws use (NaN-free, best run neither the smallest nor the largest model); `exponents` a
    (N* ~ C^a) and b (D* ~ C^b) with `prefactors` log G_N and log G_D; `draws` the same per resample
    of runs.
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

    def interval(self, name: str, level: float = 0.95):
        """Percentile band of exponent `name` ("a" or "b") over the resamples of runs."""
        if self.draws is None:
            raise ValueError("This result holds no resamples; run jscale.envelope with n_resamples >= 2.")
        if name not in EXPONENTS:
            raise ValueError(f"name must be one of {', '.join(EXPONENTS)}; got {name!r}.")
        values = np.asarray(self.draws[name])
        return band(values[np.isfinite(values)], level)

    def predict(self, compute, level: float = 0.95) -> dict:
        """N*(C) and D*(C) of the power laws at `compute`, with percentile bands when resampled."""
        # a and b come from one line fit's weights: finite together
        draws = None if self.draws is None else {k: np.asarray(v)[np.isfinite(self.draws["a"])]
                                                 for k, v in self.draws.items()}
        return power_laws(compute, (("n_params", "a", "log_gn"), ("n_tokens", "b", "log_gd")), self.exponents,
                          self.prefactors, draws, level)

    def summary(self, level: float = 0.95) -> str:
        lines = [f"jscale envelope (Approach 1): {self.n_runs} runs, {int(self.used.sum())} of {len(self.compute)} "
                 f"compute points used ({self.compute[self.used].min():.3g} to {self.compute[self.used].max():.3g} "
                 "FLOP)"]
        for name, label in (("a", "N* ~ C^a"), ("b", "D* ~ C^b")):
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
            out["intervals"] = {k: [float(v) for v in self.interval(k, level)] for k in EXPONENTS}
        return strict_json(out)


def envelope(data: ScalingData, *, run: str = "group", n_points: int = 200, n_resamples: int | None = None,
             key=0) -> EnvelopeResult:
    """Chinchilla's Approach 1: N*(C) and D*(C) from the lower envelope of training curves.

    Args:
        data: checkpoints of several runs: n_params, n_tokens (tokens seen so far), loss, compute
            (given or C = 6 N D), and a column naming the run of each checkpoint.
        run: that column (default "group").
        n_points: compute grid points, log-spaced over the compute the checkpoints span.
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
    if isinstance(n_points, bool) or not isinstance(n_points, (int, np.integer)) or n_points < 10:
        raise ValueError(f"n_points must be an integer of at least 10; got {n_points!r}.")
    n_resamples = check_resamples(n_resamples)
    labels, codes = data.codes(run) if run in data.categorical else np.unique(data[run], return_inverse=True)
    n = np.asarray(data.n_params, np.float64)
    d = np.asarray(data.n_tokens, np.float64)
    compute = np.asarray(data.compute, np.float64)  # given, or derived as 6 N D by ScalingData
    runs = [np.flatnonzero(codes == k) for k in range(len(labels))]
    single = [labels[k] for k, rows in enumerate(runs) if len(rows) < 2 or np.ptp(n[rows]) > 0]
    if single:
        raise ValueError(f"Approach 1 needs each run to be one model size with at least 2 checkpoints; run "
                         f"{single[0]!r} is not (checked by the column {run!r}).")
    if len(runs) < 3:
        raise ValueError(f"Approach 1 needs at least 3 runs of different sizes; the data has {len(runs)}.")
    grid = np.linspace(np.log(compute.min()), np.log(compute.max()), int(n_points))
    loss, log_d = map(np.stack, zip(*[_curves(np.log(compute[r]), np.log(np.asarray(data.loss)[r]), np.log(d[r]), grid)
                                      for r in runs]))
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
            draws = {k: read_only(out[k]) for k in ("a", "b", "log_gn", "log_gd")}
    best = full["best"]
    k = np.arange(len(grid))
    return EnvelopeResult(
        compute=read_only(np.exp(grid)), loss=read_only(np.exp(loss[best, k])), n_params=read_only(np.exp(log_n[best])),
        n_tokens=read_only(np.exp(log_d[best, k])), used=read_only(full["use"]),
        exponents={"a": float(full["a"]), "b": float(full["b"])},
        prefactors={"log_gn": float(full["log_gn"]), "log_gd": float(full["log_gd"])},
        n_runs=len(runs), draws=draws, key=None if key_data is None else read_only(key_data))
