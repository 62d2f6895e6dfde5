"""Hyperparameter scaling laws: the best learning rate (and batch size) per cell of a sweep, power
laws of the optimum in model and data size, and the optimum at the next scale with bands.

Labs sweep a hyperparameter h (learning rate, batch size, ...) at several cells (model size N,
tokens D, or compute C), take each cell's optimum and fit power laws through the optima
(DeepSeek LLM 2024, arXiv:2401.02954: eta_opt = 0.3118 C^-0.125, B_opt = 0.2920 C^0.3271; Step
Law 2025, arXiv:2503.04715: lr* = 1.79 N^-0.713 D^0.307, bs* = 0.58 D^0.571; Porian et al. 2024;
Bergsma et al. 2025). `hyperparameters` does it with uncertainty:

* per cell, by `method`: "parabola" (a quadratic of log loss in log h, or in (log h1, log h2) on a
  grid of two; its vertex; robust losses by reweighting, as the isoFLOP parabolas) or "near" (the
  centre, in log h, of the configurations within a fraction `near` of the cell's best loss, as
  DeepSeek and Step Law select them);
* cells whose optimum lies at or beyond the edge of their sweep, or with too few distinct values,
  are left out and named (`SweepWarning`), as are wide or lopsided parabolas with the size of
  their bias (a cubic's vertex against the parabola's);
* power laws log h* = log G + sum_j a_j log x_j over the `scale` columns, by least squares through
  the cells' optima, and of the parabola's curvature (the basin's width) the same way;
* bands: runs resampled within each cell, every resample refitting the cells and the power laws
  (all cells and resamples in one jitted call), percentiles over the resamples in which every
  used cell kept its optimum inside its sweep.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._interval import Interval
from jscale.base._json import strict_json
from jscale.base._numerics import read_only, x64_scope
from jscale.base._status import Status
from jscale.base._text import closest, values_text
from jscale.base._warnings import Diagnostic, ExtrapolationWarning, SweepWarning, warn_all
from jscale.data._data import ScalingData, check_column
from jscale.fitting._bootstrap import as_key_data
from jscale.inference._bands import Bands
from jscale.inference._uncertainty import check_level
from jscale.losses._losses import resolve_loss
from jscale.sweeps._isoflop import OFF_CENTRE, WIDE, _cubic_shift, _quadratic, _solve, band, check_resamples

METHODS = ("parabola", "near")
def _vertex(coef, k: int):
    """(u*, y*, curvature (k,), is a minimum) of a quadratic in k = 1 or 2 centred log values."""
    if k == 1:
        c0, c1, c2 = coef[0], coef[1], coef[2]
        u = -c1 / (2 * c2)
        return u[None], c0 - c1 * c1 / (4 * c2), c2[None], c2 > 0
    c0, g, (a, b, c) = coef[0], coef[1:3], (coef[3], coef[4], coef[5])  # y = c0 + g.u + a u1^2 + b u1 u2 + c u2^2
    det = 4 * a * c - b * b
    u = jnp.stack([(-2 * c * g[0] + b * g[1]) / det, (b * g[0] - 2 * a * g[1]) / det])
    return u, c0 + 0.5 * jnp.dot(g, u), jnp.stack([a, c]), (a > 0) & (det > 0)


def _cell(w, x, y, real, *, k, method, log_near, loss):
    """One cell (M runs): its optimum in log h (k,), the loss there, the curvature, whether the
    optimum is inside the sweep, and the quadratic (for plots)."""
    big = jnp.finfo(x.dtype).max
    low = jnp.min(jnp.where(real[:, None], x, big), axis=0)
    high = jnp.max(jnp.where(real[:, None], x, -big), axis=0)
    if method == "parabola":
        coef, center = _quadratic(x, y, w, loss)
        u, y_star, curvature, is_min = _vertex(coef, k)
        star = center + u
        # A resample can keep fewer distinct values than a quadratic needs (its system is then
        # singular, and a solve under jit may return a finite vertex): not a usable optimum.
        present = real & (w > 0)
        enough = jnp.all(jnp.stack([_distinct(x[:, i:i + 1], present) for i in range(k)]) >= 3)
        if k == 2:
            enough = enough & (_distinct(x, present) >= 6)
        inside = enough & is_min & jnp.all((star > low) & (star < high) & jnp.isfinite(star))
    else:
        present = real & (w > 0)
        y_min = jnp.min(jnp.where(present, y, big))
        chosen = present & (y <= y_min + log_near)
        weight = jnp.where(chosen, w, 0.0)
        star = jnp.sum(weight[:, None] * x, axis=0) / jnp.sum(weight)
        best = x[jnp.argmin(jnp.where(present, y, big))]
        inside = jnp.all((best > low) & (best < high))
        y_star, curvature = y_min, jnp.full((k,), jnp.nan, x.dtype)
        coef, center = jnp.zeros(1 + k + k * (k + 1) // 2, x.dtype), jnp.zeros(k, x.dtype)
    return {"star": star, "y_star": y_star, "curvature": curvature, "inside": inside, "coef": coef, "center": center}


def _distinct(x, present):
    """Number of distinct rows of x (M, k) among the present ones (M,)."""
    same = jnp.all(x[:, None, :] == x[None, :, :], axis=-1) & present[None, :]
    earlier = jnp.tril(same, k=-1)  # an equal present row before it
    return jnp.sum(present & ~jnp.any(earlier, axis=1))


def _line(design, values, weight):
    """Weighted least squares of values (G,) on design (G, T): coefficients (T,)."""
    a = (design * weight[:, None]).T @ design
    return _solve(a, (design * weight[:, None]).T @ values)


def _sweep(w, x, y, real, log_by, use, *, k, method, log_near, loss):
    """Every cell, then the power laws of the optima and of the curvatures through the used cells."""
    per = jax.vmap(functools.partial(_cell, k=k, method=method, log_near=log_near, loss=loss))(w, x, y, real)
    weight = jnp.where(use, 1.0, 0.0)
    design = jnp.concatenate([jnp.ones_like(log_by[:, :1]), log_by], axis=1)
    safe = jnp.where(use[:, None], per["star"], 0.0)
    laws = jax.vmap(lambda v: _line(design, v, weight), in_axes=1)(safe)  # (k, T)
    log_curv = jnp.where(use[:, None] & (per["curvature"] > 0), jnp.log(jnp.abs(per["curvature"])), 0.0)
    curvature_laws = jax.vmap(lambda v: _line(design, v, weight), in_axes=1)(log_curv)
    return {**per, "laws": laws, "curvature_laws": curvature_laws, "ok": jnp.all(per["inside"] | ~use)}


@functools.partial(jax.jit, static_argnames=("k", "method", "log_near", "loss"))
def _full(w, x, y, real, log_by, use, *, k, method, log_near, loss):
    return _sweep(w, x, y, real, log_by, use, k=k, method=method, log_near=log_near, loss=loss)


@functools.partial(jax.jit, static_argnames=("n_resamples", "k", "method", "log_near", "loss"))
def _resampled(key_data, w, x, y, real, log_by, use, *, n_resamples, k, method, log_near, loss):
    """Every resample at once: each cell's runs drawn with replacement (B, ...) outputs."""
    n_runs = jnp.sum(real, axis=1)
    u = jax.random.uniform(jax.random.wrap_key_data(key_data), (n_resamples, *w.shape), dtype=w.dtype)
    picks = jnp.minimum(jnp.floor(u * n_runs[None, :, None]), n_runs[None, :, None] - 1).astype(jnp.int32)
    used = (jnp.arange(w.shape[1])[None, :] < n_runs[:, None]).astype(w.dtype)  # (G, M) slots that draw

    def counts_of(p):  # (G, M) picks -> multiplicities, by a scatter (no (G, M, M) comparison)
        return jax.vmap(lambda row, keep: jnp.zeros(w.shape[1], w.dtype).at[row].add(keep))(p, used)

    return jax.vmap(lambda p: _sweep(w * counts_of(p), x, y, real, log_by, use, k=k, method=method,
                                     log_near=log_near, loss=loss))(picks)


class HyperResult(struct.PyTreeNode, kw_only=True):
    """Optimal hyperparameters per cell of a sweep and power laws of them in the cells' sizes.

    Static: `over` (the hyperparameter columns, one or two), `scale` (the cell columns), `method`,
    `target` (the loss column). Per run of the data (R,): `cell_index`. Per cell (G,): `cells`
    (scale column -> value), `n_runs`, `included` (used by the power laws), `optimum` (hyperparameter
    -> value at the cell's optimum; NaN where left out), `best_loss` (the fitted loss there), and
    for plots `coef`, `center` (G, ...) (the quadratic in centred logs, `jscale.sweeps._hyper._basis`).
    Power laws (`laws`): for each hyperparameter h, log h* = coef[0] + sum_j coef[j] log scale[j-1],
    and the same of the log curvature of the parabola (`curvature_laws`), each (k, 1 + len(by)).
    `draws` holds them per resample (keys "optimum" (B, G, k), "laws", "curvature_laws" and the
    cells' "curvature" (B, G, k)), `draw_ok` the resamples counted in bands; `span` (G, k, 2) each
    cell's lowest and highest swept value; `notes` the cells left out and why.

    `critical(tolerance)` gives a result of the same kind (method "critical", `tolerance` set)
    whose per-cell values are the largest near-optimal value of one hyperparameter and whose
    power laws are fitted through those (critical batch size against tokens, for instance).
    """

    over: tuple = struct.field(pytree_node=False)
    scale: tuple = struct.field(pytree_node=False)
    method: str = struct.field(pytree_node=False)
    target: str = struct.field(pytree_node=False, default="loss")
    cell_index: np.ndarray
    cells: dict
    n_runs: np.ndarray
    included: np.ndarray
    optimum: dict
    best_loss: np.ndarray
    coef: np.ndarray
    center: np.ndarray
    laws: np.ndarray
    curvature_laws: np.ndarray
    draws: dict | None = None
    draw_ok: np.ndarray | None = None
    key: np.ndarray | None = None
    span: np.ndarray | None = None
    notes: tuple = struct.field(pytree_node=False, default=())
    tolerance: float | None = struct.field(pytree_node=False, default=None)

    @property
    def n_resamples(self) -> int:
        return 0 if self.draw_ok is None else len(self.draw_ok)

    @property
    def banded(self) -> bool:
        """Whether at least 2 resamples are usable, so that there are bands."""
        return self.draws is not None and int(np.sum(self.draw_ok)) >= 2

    @property
    def exponents(self) -> dict:
        """{hyperparameter: {by column: exponent}} of the power laws, e.g. {"learning_rate": {"n_params": -0.7}}."""
        return {h: {b: float(self.laws[i, 1 + j]) for j, b in enumerate(self.scale)} for i, h in enumerate(self.over)}

    @property
    def prefactors(self) -> dict:
        """{hyperparameter: G} of the power laws h* = G prod_j by_j^a_j."""
        return {h: float(np.exp(self.laws[i, 0])) for i, h in enumerate(self.over)}

    def _names(self) -> dict:
        """Every name with a band -> (its (B, ...) draws, its estimate): per-cell optima by the
        hyperparameter's name, exponents as "<h>:<scale column>", prefactors as "<h>:prefactor"."""
        draws = self.draws
        out = {}
        for i, h in enumerate(self.over):
            # a wild resample's prefactor may pass float64's range: inf there, not a warning
            with np.errstate(over="ignore"):
                out[h] = (None if draws is None else np.exp(draws["optimum"][:, :, i]), np.asarray(self.optimum[h]))
                out[f"{h}:prefactor"] = (None if draws is None else np.exp(draws["laws"][:, i, 0]),
                                         np.exp(self.laws[i, 0]))
            for j, b in enumerate(self.scale):
                out[f"{h}:{b}"] = (None if draws is None else draws["laws"][:, i, 1 + j], self.laws[i, 1 + j])
        return out

    def interval(self, name: str, level: float = 0.95) -> Interval:
        """Percentile band over the usable resamples of a cell's optimum (name: the hyperparameter,
        (G,) arrays), an exponent ("learning_rate:n_params") or a prefactor ("learning_rate:prefactor")."""
        names = self._names()
        if name not in names:
            raise ValueError(f"name must be one of {', '.join(names)}; got {name!r}{closest(str(name), names)}.")
        if not self.banded:
            raise ValueError("No bands: this sweep has no usable resamples (pass n_resamples= of at least 2).")
        draws = np.asarray(names[name][0])[np.asarray(self.draw_ok)]
        return band(draws, level)

    def predict(self, *, tolerance: float = 0.01, **at) -> HyperOptimum:
        """The optimal hyperparameters at new cells, e.g. `predict(n_params=7e9, n_tokens=2e12)`, with
        bands, and the near-optimal range: the values whose loss lies within `tolerance` (relative)
        of the optimum's by the parabolas' curvature law (method "parabola" only; NaN otherwise; a
        `critical` result predicts its critical values alone). Cells outside the fitted ones warn
        (`ExtrapolationWarning`) with the distance in decades."""
        return _predict(self, check_tolerance(tolerance), at)

    def penalty(self, factor, **at) -> HyperOptimum:
        """The loss penalty of missing the optimum by `factor` (e.g. 2: half or twice the optimal
        value) at cells `at`: the relative loss increase exp(k (ln factor)^2) - 1, k the parabolas'
        curvature law there, per hyperparameter as "<h>_penalty", with bands (method "parabola")."""
        factor = np.asarray(factor, np.float64)
        if factor.ndim or not np.isfinite(factor) or factor <= 0:
            raise ValueError(f"factor must be one positive number, e.g. 2 (half or twice the optimum); got {factor!r}.")
        if self.method != "parabola":
            raise ValueError("penalty needs the parabolas' curvature: fit with method='parabola'.")
        return _predict(self, None, at, penalty=float(abs(np.log(factor))))

    def critical(self, tolerance: float = 0.01, over: str | None = None) -> HyperResult:
        """The critical value of a hyperparameter per cell, and power laws of it with bands.

        Definition: the largest value of `over` whose loss, by the cell's parabola, lies within
        `tolerance` (relative) of the cell's optimum (on a grid of two, with the other
        hyperparameter at its optimum): log h_crit = log h* + sqrt(log(1 + tolerance) / k), k the
        parabola's curvature in log h. For batch size at fixed tokens, it is the largest batch
        (the fewest steps) that costs at most `tolerance` in loss: the critical batch size, as a
        power law in n_tokens when the cells vary in tokens (Bergsma et al. 2025 fit both the
        optimal and the critical batch size against D). Each resample's critical values and power
        laws come from the same resampled parabolas, so the bands carry the cells' uncertainty.

        Args:
            tolerance: the relative loss increase that defines "near-optimal" (default 0.01).
            over: the hyperparameter (default: the only one; name it on a grid of two).

        Returns:
            A `HyperResult` with method "critical": `optimum[over]` holds the critical values
            (NaN where left out), `laws` and `exponents` their power laws, `interval`,
            `predict(**cell)`, `table`, `summary` and `to_dict` as for the optima. Cells whose
            critical value lies beyond their largest swept value are named in `notes` (their
            parabola extrapolates) but kept.
        """
        return _critical(self, check_tolerance(tolerance), over)

    def held_out(self, data: ScalingData, law=None, *, by: str | None = None, starts=None):
        """Which is better supported on held-out cells: these per-cell optima with power laws, or a
        joint law fitted to every run at once? One cell at a time is held out; both approaches,
        refitted without it, predict its optimum, scored by the cell's own sweep (the loss penalty
        its parabola puts on the prediction, and the error in log h). With `by` a scale column,
        every cell at its largest value is held out at once: an extrapolation test.

        Args:
            data: the runs this sweep was fitted to (same rows, same order).
            law: the joint law (default `jscale.laws.HyperparameterLaw(over, scale)`; any law over
                exactly the sweep's columns, e.g. a `jscale.laws.custom` law).
            by: None (default: one cell at a time) or a scale column (its largest cells at once).
            starts: starts of the joint fits (default: the law's own).

        Returns:
            A `jscale.results.HyperHeldOut`: `better` ("per-cell" or "joint"), `score(approach)`,
            per-cell predictions and penalties, `summary()`, `table()`, `to_dict()`.
        """
        from jscale.sweeps._heldout import held_out

        return held_out(self, data, law, by=by, starts=starts)

    def diagnostics(self) -> list:
        """Cells left out or doubtful, as `jscale.warnings.Diagnostic` records (`hyperparameters` warned)."""
        if not self.notes:
            return []
        return [Diagnostic("sweep", f"{' x '.join(self.over)} sweep: " + "; ".join(self.notes) + ".", SweepWarning,
                           {"cells": len(self.n_runs), "included": int(np.sum(self.included))})]

    def table(self, level: float = 0.95) -> str:
        """One line per cell: its sizes, runs, optima (with bands) and whether the power laws use it."""
        bands = {h: self.interval(h, level) for h in self.over} if self.banded else {}
        head = [*self.scale, "runs", *self.over, "used"]
        lines = ["  ".join(f"{h:>13}" for h in head) + (f"   ({100 * level:g}% bands)" if bands else "")]
        for g in range(len(self.n_runs)):
            cells = [f"{self.cells[b][g]:>13.4g}" for b in self.scale] + [f"{int(self.n_runs[g]):>13d}"]
            cells += [f"{self.optimum[h][g]:>13.4g}" for h in self.over]
            cells.append(f"{'yes' if self.included[g] else 'no':>13}")
            line = "  ".join(cells)
            if bands:
                line += "   " + ", ".join(f"{h} {bands[h].low[g]:.3g}..{bands[h].high[g]:.3g}" for h in self.over)
            lines.append(line)
        return "\n".join(lines)

    def laws_table(self, level: float = 0.95) -> str:
        """The power laws h* = G prod scale^a, each coefficient with its band."""
        lines = []
        for i, h in enumerate(self.over):
            terms = " ".join(f"{b}^{self.laws[i, 1 + j]:.4g}" for j, b in enumerate(self.scale))
            lines.append(f"{h}{'_crit' if self.method == 'critical' else '*'} = {np.exp(self.laws[i, 0]):.4g} {terms}")
            if self.banded:
                for name in (f"{h}:prefactor", *(f"{h}:{b}" for b in self.scale)):
                    low, high = self.interval(name, level)
                    still = name != f"{h}:prefactor" and float(low) <= 0 <= float(high)
                    lines.append(f"  {name:<28} {100 * level:g}% band {float(low):.4g} .. {float(high):.4g}"
                                 + (f"   (includes 0: no evidence that {h} moves with {name.split(':')[1]})"
                                    if still else ""))
        return "\n".join(lines)

    def summary(self, level: float = 0.95) -> str:
        """What was fitted, the cell table and the power laws with their bands."""
        used = int(np.sum(self.included))
        what = (f"critical {self.over[0]} (the largest within {100 * self.tolerance:g}% of each cell's best loss, "
                "by its parabola)" if self.method == "critical" else f"{' x '.join(self.over)} ({self.method})")
        head = (f"jscale hyperparameters: {what} by {', '.join(self.scale)}; "
                f"{used} of {len(self.n_runs)} cells used; "
                + (f"bands from {int(np.sum(self.draw_ok))} of {self.n_resamples} resamples of runs within cells"
                   if self.banded else "no bands"))
        return "\n".join([head, self.table(level), "", self.laws_table(level)])

    def to_dict(self, level: float = 0.95) -> dict:
        """Strict-JSON-ready: the cells, their optima (with bands), the power laws (with bands), the notes."""
        level = check_level(level)
        out = {"kind": "hyperparameters", "over": list(self.over), "scale": list(self.scale), "method": self.method,
               "cells": {b: np.asarray(v) for b, v in self.cells.items()}, "n_runs": self.n_runs,
               "included": self.included, "optimum": {h: np.asarray(v) for h, v in self.optimum.items()},
               "exponents": self.exponents, "prefactors": self.prefactors, "notes": list(self.notes),
               "n_resamples": self.n_resamples}
        if self.tolerance is not None:
            out["tolerance"] = self.tolerance
        if self.banded:
            out["level"] = level
            out["bands"] = {n: list(self.interval(n, level)) for n in self._names()}
        return strict_json(out)

    def __repr__(self) -> str:
        return (f"HyperResult({' x '.join(self.over)} by {', '.join(self.scale)}, {self.method}, "
                f"{int(np.sum(self.included))} of {len(self.n_runs)} cells used, {self.n_resamples} resamples)")


class HyperOptimum(struct.PyTreeNode, Bands, kw_only=True):
    """Optimal hyperparameters at K new cells (`HyperResult.predict`): for each hyperparameter h,
    `values[h]` (the power law's h*) and `values[h + "_low_range"]`, `values[h + "_high_range"]`
    (the near-optimal range for `tolerance`), per resample in `draws`; `decades` (K,) how far each
    cell lies beyond the fitted cells (0 inside)."""

    WHAT = "optimal hyperparameters"
    QUANTITIES = ()
    POSITIVE = ()
    law = None
    sd = None

    at: dict
    values: dict
    decades: np.ndarray
    solve_status: np.ndarray
    draws: dict | None = None
    draw_ok: np.ndarray | None = None
    source: str = struct.field(pytree_node=False, default="")
    names: tuple = struct.field(pytree_node=False, default=())

    def points(self) -> dict:
        return dict(self.at)

    @property
    def quantities(self) -> tuple:
        return self.names

    @property
    def positive_quantities(self) -> tuple:
        return self.names

    def value_of(self, name: str) -> np.ndarray:
        return np.asarray(self.values[name])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.value_of(name)

    __repr__ = Bands.__repr__  # the dataclass's own would print every array


def _critical(result: HyperResult, tolerance: float, over: str | None) -> HyperResult:
    """Per-cell critical values (the near-optimal range's upper end) and their power laws."""
    if result.method != "parabola":
        raise ValueError(f"critical needs the sweep's parabolas: fit with method='parabola' (this result is "
                         f"{result.method!r}).")
    if over is None and len(result.over) > 1:
        raise ValueError(f"critical: name the hyperparameter, over= one of {', '.join(map(repr, result.over))}.")
    h = result.over[0] if over is None else over
    if h not in result.over:
        raise ValueError(f"over must be one of {', '.join(map(repr, result.over))}; got {h!r}"
                         f"{closest(str(h), result.over)}.")
    i = result.over.index(h)
    reach = math.log1p(tolerance)
    curvature = _slice(result, i)[:, 2]
    with np.errstate(invalid="ignore"):
        log_crit = np.log(np.asarray(result.optimum[h])) + np.sqrt(reach / curvature)
    use = np.asarray(result.included, bool) & np.isfinite(log_crit)
    design = np.concatenate([np.ones((len(use), 1)), np.log(np.stack([result.cells[b] for b in result.scale], 1))],
                            axis=1)
    solve = np.linalg.pinv(design[use])  # (T, G_used): least squares through the used cells
    laws = (solve @ log_crit[use])[None, :]
    notes = [n for n in result.notes if n.endswith(": left out")]
    if result.span is not None:
        high = np.asarray(result.span)[:, i, 1]
        for g in np.flatnonzero(use & (log_crit > np.log(high))):
            notes.append(f"cell {values_text([result.cells[b][g] for b in result.scale])} has its critical {h} "
                         f"({np.exp(log_crit[g]):.3g}) beyond its largest swept value ({high[g]:.3g}): its "
                         "parabola extrapolates")
    draws = draw_ok = None
    if result.banded:
        if "curvature" not in result.draws:
            raise ValueError("critical needs each resample's curvatures, which results saved before jscale 0.3.1 "
                             "lack: rerun jscale.hyperparameters.")
        with np.errstate(invalid="ignore", divide="ignore"):
            per = result.draws["optimum"][:, :, i] + np.sqrt(reach / result.draws["curvature"][:, :, i])  # (B, G)
        per = np.where(use[None, :], per, np.nan)
        draw_laws = (per[:, use] @ solve.T)[:, None, :]
        draw_ok = np.asarray(result.draw_ok, bool) & np.all(np.isfinite(per[:, use]), axis=1)
        nan_laws = np.full_like(draw_laws, np.nan)
        draws = {"optimum": read_only(per[:, :, None]), "laws": read_only(draw_laws),
                 "curvature_laws": read_only(nan_laws), "curvature": read_only(np.full_like(per[:, :, None], np.nan))}
    nan = np.where(use, 1.0, np.nan)
    return result.replace(
        over=(h,), method="critical", tolerance=tolerance, included=read_only(use),
        optimum={h: read_only(np.exp(log_crit) * nan)},
        best_loss=read_only(np.asarray(result.best_loss) * (1 + tolerance) * nan),
        coef=read_only(_slice(result, i)), center=read_only(np.asarray(result.center)[:, i:i + 1]),
        laws=read_only(laws),
        curvature_laws=read_only(np.full_like(laws, np.nan)), draws=draws,
        draw_ok=None if draw_ok is None else read_only(draw_ok),
        span=None if result.span is None else read_only(np.asarray(result.span)[:, i:i + 1]), notes=tuple(notes))


def _slice(result: HyperResult, i: int) -> np.ndarray:
    """(G, 3) the cells' quadratics in hyperparameter i alone (the other, on a grid of two, at its optimum)."""
    coef = np.asarray(result.coef)
    if len(result.over) == 1:
        return coef
    c0, g, (a, b, c) = coef[:, 0], coef[:, 1:3], (coef[:, 3], coef[:, 4], coef[:, 5])
    other = result.over[1 - i]
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.log(np.asarray(result.optimum[other])) - np.asarray(result.center)[:, 1 - i]
    if i == 0:
        return np.stack([c0 + g[:, 1] * v + c * v * v, g[:, 0] + b * v, a], axis=1)
    return np.stack([c0 + g[:, 0] * v + a * v * v, g[:, 1] + b * v, c], axis=1)


def check_tolerance(tolerance) -> float:
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be a relative loss increase in (0, 1), e.g. 0.01; got {tolerance!r}.")
    return float(tolerance)


def _predict(result: HyperResult, tolerance: float | None, at: dict, penalty: float | None = None) -> HyperOptimum:
    missing = [b for b in result.scale if b not in at]
    unknown = [c for c in at if c not in result.scale]
    if missing or unknown:
        raise ValueError(f"predict takes the cell columns {', '.join(result.scale)} as keywords; "
                         + (f"missing {missing[0]!r}" if missing else f"got {unknown[0]!r}"
                            f"{closest(unknown[0], result.scale)}") + ".")
    cols = np.broadcast_arrays(*(np.atleast_1d(np.asarray(at[b], np.float64)) for b in result.scale))
    if any(c.ndim != 1 for c in cols) or not all(np.all(np.isfinite(c) & (c > 0)) for c in cols):
        raise ValueError("predict's cell columns must be positive finite numbers (one value or a 1-D array each).")
    log_x = np.stack([np.log(c) for c in cols], axis=1)  # (K, nb)
    design = np.concatenate([np.ones((len(log_x), 1)), log_x], axis=1)
    reach = None if tolerance is None else np.log(np.log1p(tolerance))

    def values(laws, curvature_laws):  # (..., k, T) -> name -> (..., K)
        out = {}
        for i, h in enumerate(result.over):
            if penalty is not None:  # the loss ratio of missing h* by exp(penalty): exp(k penalty^2) - 1
                out[f"{h}_penalty"] = np.expm1(np.exp(curvature_laws[..., i, :] @ design.T) * penalty ** 2)
                continue
            log_h = laws[..., i, :] @ design.T
            half = np.sqrt(np.exp(reach - curvature_laws[..., i, :] @ design.T)) if result.method == "parabola" \
                else np.full_like(log_h, np.nan)
            out[h], out[f"{h}_low_range"], out[f"{h}_high_range"] = np.exp(log_h), np.exp(log_h - half), \
                np.exp(log_h + half)
        return out

    names = tuple(f"{h}_penalty" for h in result.over) if penalty is not None else result.over \
        if result.method == "critical" else tuple(n for h in result.over for n in (h, f"{h}_low_range",
                                                                                   f"{h}_high_range"))
    est = values(np.asarray(result.laws), np.asarray(result.curvature_laws))
    draws = draw_ok = None
    if result.banded:
        per = values(np.asarray(result.draws["laws"]), np.asarray(result.draws["curvature_laws"]))
        draws = {k: read_only(per[k]) for k in names}
        draw_ok = read_only(np.broadcast_to(np.asarray(result.draw_ok, bool)[:, None], (result.n_resamples,
                                                                                       len(log_x))))
    decades = _decades(result, cols)
    if np.any(decades > 0):
        far = int(np.argmax(decades))
        where = ", ".join(f"{b} {cols[j][far]:.3g}" for j, b in enumerate(result.scale))
        fitted = ", ".join(f"{b} {lo:.3g}-{hi:.3g}" for b, (lo, hi) in _ranges(result).items())
        word = "Critical" if result.method == "critical" else "Optimal"
        message = (f"{word} {', '.join(result.over)} at {int(np.sum(decades > 0))} of {len(decades)} cells beyond "
                   f"the fitted ones: up to {decades[far]:.2f} decades ({where}; fitted {fitted}). The power laws' "
                   "error grows with the distance.")
        warn_all([Diagnostic("extrapolation", message, ExtrapolationWarning, {"decades": decades})], stacklevel=3)
    return HyperOptimum(at={b: read_only(c) for b, c in zip(result.scale, cols)},
                        values={k: read_only(est[k]) for k in names}, decades=read_only(decades),
                        solve_status=read_only(np.full(len(log_x), int(Status.SUCCESS))), draws=draws,
                        draw_ok=draw_ok, names=names,
                        source=f"the power law of the critical {result.over[0]} (within {100 * result.tolerance:g}%)"
                        if result.method == "critical" else
                        f"the power laws of the {' x '.join(result.over)} sweep ({result.method})")


def _ranges(result: HyperResult) -> dict:
    use = np.asarray(result.included, bool)
    return {b: (float(np.min(result.cells[b][use])), float(np.max(result.cells[b][use]))) for b in result.scale}


def _decades(result: HyperResult, cols) -> np.ndarray:
    """(K,) the largest distance in decades of any cell column beyond the used cells' range."""
    out = np.zeros(len(cols[0]))
    for c, (lo, hi) in zip(cols, _ranges(result).values()):
        out = np.maximum(out, np.maximum(np.log10(lo / c), np.log10(c / hi)).clip(min=0))
    return out


def _names(value, what: str) -> tuple:
    names = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, (list, tuple)) else None
    if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"{what} must name columns of the data, e.g. 'learning_rate' or ('n_params', 'n_tokens'); "
                         f"got {value!r}.")
    return names


def _cells(data: ScalingData, over: tuple, by: tuple):
    """Runs grouped by their cell (equal values of every `by` column) and padded to (G, M)."""
    keys = np.stack([np.asarray(data[b], np.float64) for b in by], axis=1)
    uniq, index = np.unique(keys, axis=0, return_inverse=True)
    index = index.ravel()
    n_cells = len(uniq)
    n_runs = np.bincount(index, minlength=n_cells)
    width = max(3, int(n_runs.max()))
    order = np.argsort(index, kind="stable")
    slot = np.arange(len(index)) - np.repeat(np.cumsum(n_runs) - n_runs, n_runs)
    rows = np.full((n_cells, width), -1)
    rows[index[order], slot] = order
    real = rows >= 0
    take = np.where(real, rows, rows[:, :1])  # padding repeats the cell's first run, weight 0
    return uniq, index, n_runs, real, take


def _few(data, over, uniq, real, take, k) -> tuple[np.ndarray, list]:
    """Cells that cannot hold the chosen estimate (fewer than 3 distinct values of a hyperparameter;
    on a grid of two, fewer than 6 distinct configurations), and notes naming them."""
    few, notes = np.zeros(len(uniq), bool), []
    for g in range(len(uniq)):
        values = np.stack([np.asarray(data[h])[take[g][real[g]]] for h in over], axis=1)
        distinct = [len(np.unique(values[:, i])) for i in range(k)]
        configs = len(np.unique(values, axis=0))
        if min(distinct) < 3 or (k == 2 and configs < 6):
            few[g] = True
            short = over[int(np.argmin(distinct))]
            notes.append(f"cell {values_text(uniq[g])} has {min(distinct)} distinct {short} value"
                         f"{'s' if min(distinct) != 1 else ''}" + (f" and {configs} configurations" if k == 2 else "")
                         + f"; a {'parabola' if k == 1 else 'quadratic'} needs at least 3 per hyperparameter"
                         + (" and 6 in all" if k == 2 else "") + ": left out")
    return few, notes


def _span(x, real) -> np.ndarray:
    """(G, k, 2) each cell's lowest and highest swept value of each hyperparameter (x: (G, M, k) logs)."""
    return np.exp(np.stack([np.where(real[..., None], x, np.inf).min(axis=1),
                            np.where(real[..., None], x, -np.inf).max(axis=1)], axis=-1))


# A wide or lopsided sweep is named when a cubic through its runs moves the optimum by more than
# this (relative): learning-rate sweeps commonly span 30x, and a parabola that fits them is fine.
MATERIAL_SHIFT = 0.02


def _shape_notes(uniq, over, x, y, w, star, use) -> list:
    """Wide or lopsided sweeps of one hyperparameter whose parabola a cubic moves materially,
    with the cubic's estimate of the bias."""
    notes = []
    for g in np.flatnonzero(use):
        keep = w[g] > 0
        xs, ys = x[g][keep][:, 0], y[g][keep]
        position = (star[g][0] - xs.min()) / (xs.max() - xs.min())
        reach = float(np.exp(max(star[g][0] - xs.min(), xs.max() - star[g][0])))
        found = ([f"wide ({reach:.1f}x beyond its optimum)"] if reach > WIDE else []) + \
            ([f"lopsided (its optimum at {position:.0%} of its range of log {over[0]})"]
             if min(position, 1 - position) < OFF_CENTRE else [])
        shift = _cubic_shift(xs, ys, star[g][0]) if found else None
        if found and (shift is None or abs(shift) > MATERIAL_SHIFT):
            notes.append(f"cell {values_text(uniq[g])} is {' and '.join(found)}: " + (
                f"its parabola's {over[0]} is off by about {-shift:+.1%} (a cubic through its runs puts the optimum "
                f"{shift:+.1%} from it)" if shift is not None else
                f"its parabola's {over[0]} may be biased (too few values to estimate by how much)"))
    return notes


def hyperparameters(data: ScalingData, over, scale, *, method: str = "parabola", near: float = 0.0025,
                    target: str = "loss", loss="squared", delta: float | None = None,
                    n_resamples: int | None = None, key=0) -> HyperResult:
    """Optimal hyperparameters per cell of a sweep, and power laws of them in the cells' sizes.

    Args:
        data: the sweep's runs: the `over` columns (positive: e.g. learning_rate, batch_size), the
            `by` columns (positive: e.g. n_params and n_tokens, or compute) and the `target` loss.
        over: the hyperparameter column, or two on a grid (e.g. ("learning_rate", "batch_size")).
        scale: the column(s) that set a cell's scale: runs with equal values of them make a cell,
            and they are the variables of the power laws (e.g. ("n_params", "n_tokens") for
            lr*(N, D), "compute" for eta_opt(C)).
        method: "parabola" (default; the vertex of a quadratic of log loss in log h per cell) or
            "near" (the centre, in log h, of the configurations within `near` of the cell's best).
        near: the relative loss margin of method "near" (default 0.0025: DeepSeek's 0.25%).
        target: the loss column (default "loss").
        loss: of the quadratics' residuals in log loss: "squared" (default) or a robust loss
            (e.g. "huber", fitted by iteratively reweighted least squares).
        delta: the Huber threshold with loss="huber" (default 1e-3).
        n_resamples: resamples of runs within each cell for bands (default 1000; 0 for none).
        key: integer seed or JAX PRNG key of the resamples.

    Returns:
        A `HyperResult`: `table()`, `laws_table()`, `interval(name)`, `predict(**cell)` (a
        `HyperOptimum` with bands and the near-optimal range), `summary()`, `to_dict()`.

    Example:
        >>> import jscale  # doctest: +SKIP
        >>> result = jscale.hyperparameters(runs, "learning_rate", ("n_params", "n_tokens"))  # doctest: +SKIP
        >>> result.predict(n_params=7e9, n_tokens=2e12).table()  # doctest: +SKIP
    """
    if not isinstance(data, ScalingData):
        raise TypeError(f"data must be a jscale.ScalingData; got {type(data).__name__}.")
    over, by = _names(over, "over"), _names(scale, "scale")
    if len(over) > 2:
        raise ValueError(f"over takes one hyperparameter or two on a grid; got {len(over)}: {', '.join(over)}.")
    if set(over) & set(by) or target in over + by:
        raise ValueError(f"over ({', '.join(over)}), scale ({', '.join(by)}) and target ({target!r}) must be "
                         "different columns.")
    data.require(*over, *by, target, who="A hyperparameter sweep")
    for c in (*over, *by, target):
        if c in data.categorical:
            raise ValueError(f"{c!r} is categorical; a hyperparameter sweep needs numbers in {c!r}.")
        check_column(data, c, positive=True, who="A hyperparameter sweep (it works in log space)")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}; got {method!r}"
                         f"{closest(str(method), METHODS)}.")
    if isinstance(near, bool) or not isinstance(near, (int, float)) or not 0 < near < 1:
        raise ValueError(f"near must be a relative loss margin in (0, 1), e.g. 0.0025; got {near!r}.")
    n_resamples = check_resamples(n_resamples)
    loss = resolve_loss(loss, delta)
    k = len(over)
    uniq, index, n_runs, real, take = _cells(data, over, by)
    few, notes = _few(data, over, uniq, real, take, k)
    weight = np.ones(len(data)) if data.weight is None else np.asarray(data.weight, np.float64)
    w = real * weight[take]
    x = np.stack([np.log(np.asarray(data[h], np.float64))[take] for h in over], axis=-1)  # (G, M, k)
    y = np.log(np.asarray(data[target], np.float64))[take]
    span = _span(x, real)
    for g in np.flatnonzero(few):  # a well-posed placeholder, never used
        grid = np.linspace(-1.0, 1.0, x.shape[1])
        x[g] = np.stack([grid, grid[::-1] ** 3][:k], axis=-1)
        y[g] = np.sum(x[g] ** 2, axis=-1)
        w[g], real[g] = 1.0, True
    log_by = np.log(uniq)
    use = ~few
    static = dict(k=k, method=method, log_near=float(math.log1p(near)), loss=loss)
    with x64_scope():
        args = [jnp.asarray(a) for a in (w, x, y, real, log_by)]
        full = jax.tree.map(np.asarray, _full(*args, jnp.asarray(use), **static))
        edge = use & ~full["inside"]
        for g in np.flatnonzero(edge):
            swept = ", ".join(f"{h} {span[g, i, 0]:.3g}-{span[g, i, 1]:.3g}" for i, h in enumerate(over))
            notes.append(f"cell {values_text(uniq[g])} has its optimum at or beyond the edge of its sweep ({swept})"
                         ": left out")
        use = use & ~edge
        flat = [b for j, b in enumerate(by) if use.any() and np.ptp(log_by[use, j]) == 0]
        if flat:
            value = np.exp(log_by[use][0, by.index(flat[0])])
            raise ValueError(f"{flat[0]!r} takes one value over the cells used ({value:.3g}): a power law in it "
                             "cannot be fitted; leave it out of scale=.")
        if use.sum() < len(by) + 1 or np.linalg.matrix_rank(log_by[use] - log_by[use].mean(axis=0)) < len(by):
            raise ValueError(
                f"Power laws in {', '.join(by)} need at least {len(by) + 1} cells with an optimum inside their sweep, "
                "whose sizes vary independently in each column; "
                f"{int(use.sum())} of {len(uniq)} have one ({'; '.join(notes) or 'none found'}).")
        if edge.any():  # the power laws without the cells left out
            full = jax.tree.map(np.asarray, _full(*args, jnp.asarray(use), **static))
        if method == "parabola" and k == 1:
            notes += _shape_notes(uniq, over, x, y, w, full["star"], use)
        draws = draw_ok = key_data = None
        if n_resamples:
            key_data = as_key_data(key)
            out = jax.tree.map(np.asarray, _resampled(jnp.asarray(key_data), *args, jnp.asarray(use),
                                                      n_resamples=int(n_resamples), **static))
            draw_ok = out["ok"] & np.all(np.isfinite(out["laws"]), axis=(1, 2))
            draws = {"optimum": read_only(np.where(use[None, :, None], out["star"], np.nan)),
                     "laws": read_only(out["laws"]), "curvature_laws": read_only(out["curvature_laws"]),
                     "curvature": read_only(np.where(use[None, :, None], out["curvature"], np.nan))}
    nan = np.where(use, 1.0, np.nan)
    result = HyperResult(
        over=over, scale=by, method=method, target=target, cell_index=read_only(index),
        cells={b: read_only(uniq[:, j]) for j, b in enumerate(by)}, n_runs=read_only(n_runs), included=read_only(use),
        optimum={h: read_only(np.exp(full["star"][:, i]) * nan) for i, h in enumerate(over)},
        best_loss=read_only(np.exp(full["y_star"]) * nan), coef=read_only(full["coef"]),
        center=read_only(full["center"]), laws=read_only(full["laws"]),
        curvature_laws=read_only(full["curvature_laws"]), draws=draws,
        draw_ok=None if draw_ok is None else read_only(draw_ok),
        key=None if key_data is None else read_only(key_data), span=read_only(span), notes=tuple(notes))
    warn_all(result.diagnostics(), stacklevel=2)
    return result
