"""Which is better supported on held-out cells: per-cell optima with power laws through them, or a
joint law of loss over hyperparameters and scale fitted to every run at once?

One cell at a time is held out (or, for an extrapolation test, every cell at the largest value
of a scale column at once). The per-cell approach refits its power laws through the other
cells' optima (each cell's optimum depends on its own runs only) and predicts the held-out cell's
optimum from them; the joint law (`jscale.laws.HyperparameterLaw` by default, or any law over the
same columns) is refitted to every run outside the held-out cell (all folds in one batched call,
`jscale.fit_many`) and its optimum there comes from `jscale.optimum`. Both predictions are scored
by the held-out cell's own sweep: the relative loss increase its parabola puts on the predicted
value (the penalty of following the prediction; method "parabola"), and the error in log h
against its own optimum. The approach with the lower mean penalty (or, without parabolas, the
lower mean squared log error) is the better supported one; the cells beyond the other cells'
range (where a prediction extrapolates) are summarised apart.
"""

from __future__ import annotations

import warnings

import numpy as np
from flax import struct

from jscale.base._json import strict_json
from jscale.base._numerics import read_only
from jscale.base._text import closest, values_text
from jscale.base._warnings import DiagnosticWarning
from jscale.data._data import ScalingData
from jscale.decisions._optimize import optimum
from jscale.fitting._fit import fit_many
from jscale.laws._laws import HyperparameterLaw, Law

APPROACHES = ("per-cell", "joint")


class HyperHeldOut(struct.PyTreeNode, kw_only=True):
    """Per-cell optima with power laws against a joint law on held-out cells (`HyperResult.held_out`).

    Static: `over`, `scale`, `law` (the joint law's name), `method` (of the sweep). Per held-out
    cell (H,): `cells` (scale column -> value), `decades` (how far it lies beyond the other used
    cells, 0 inside), `observed`, `per_cell` and `joint` (hyperparameter -> its own optimum and
    the two predictions), `penalty` (approach -> the relative loss increase the cell's parabola
    puts on the prediction; NaN for method "near"), `joint_status` (the joint fit's best status).
    """

    over: tuple = struct.field(pytree_node=False)
    scale: tuple = struct.field(pytree_node=False)
    law: str = struct.field(pytree_node=False)
    method: str = struct.field(pytree_node=False)
    cells: dict
    decades: np.ndarray
    observed: dict
    per_cell: dict
    joint: dict
    penalty: dict
    joint_status: tuple = struct.field(pytree_node=False, default=())
    notes: tuple = struct.field(pytree_node=False, default=())

    def log_error(self, approach: str) -> np.ndarray:
        """(H, k) log(predicted / observed optimum) of each hyperparameter, for "per-cell" or "joint"."""
        if approach not in APPROACHES:
            raise ValueError(f"approach must be 'per-cell' or 'joint'; got {approach!r}.")
        pred = self.per_cell if approach == "per-cell" else self.joint
        return np.stack([np.log(pred[h] / self.observed[h]) for h in self.over], axis=1)

    def score(self, approach: str, where=None) -> float:
        """The mean penalty of an approach over the held-out cells (or `where`, a (H,) mask); without
        parabolas, its mean squared log error. NaN where no cell has a prediction."""
        where = np.ones(len(self.decades), bool) if where is None else np.asarray(where, bool)
        values = self.penalty[approach] if self.method == "parabola" else \
            np.sum(self.log_error(approach) ** 2, axis=1)
        values = values[where & np.isfinite(values)]
        return float(np.mean(values)) if values.size else float("nan")

    @property
    def better(self) -> str:
        """"per-cell" or "joint": the approach with the lower score; "tie" when equal or unscored."""
        a, b = self.score("per-cell"), self.score("joint")
        return "tie" if not (np.isfinite(a) and np.isfinite(b)) or a == b else ("per-cell" if a < b else "joint")

    def table(self, level: float = 0.95) -> str:
        """One line per held-out cell: its sizes, distance, own optimum, the two predictions and penalties."""
        head = [*self.scale, "decades", *(f"{h} {w}" for h in self.over for w in ("own", "per-cell", "joint"))]
        if self.method == "parabola":
            head += ["pen. per-cell", "pen. joint"]
        lines = ["  ".join(f"{h:>14}" for h in head)]
        for g in range(len(self.decades)):
            row = [f"{self.cells[b][g]:>14.4g}" for b in self.scale] + [f"{self.decades[g]:>14.2f}"]
            row += [f"{t[h][g]:>14.4g}" for h in self.over for t in (self.observed, self.per_cell, self.joint)]
            if self.method == "parabola":
                row += [f"{100 * self.penalty[a][g]:>13.3g}%" for a in APPROACHES]
            lines.append("  ".join(row))
        return "\n".join(lines)

    def summary(self, level: float = 0.95) -> str:
        """Which approach is better supported, by how much, at every cell and at the edge cells."""
        edge = self.decades > 0
        apart = edge.any() and not edge.all()  # the edge cells' scores, where they differ from the whole's
        what = "mean loss penalty" if self.method == "parabola" else "mean squared log error"
        fmt = (lambda v: f"{100 * v:.3g}%") if self.method == "parabola" else (lambda v: f"{v:.3g}")
        lines = [f"jscale hyperparameters, {len(self.decades)} cells held out: the "
                 f"{', '.join(self.over)} each approach predicts there, scored by the cell's own sweep ({what})",
                 f"  per-cell optima + power laws: {fmt(self.score('per-cell'))}"
                 + (f" ({fmt(self.score('per-cell', edge))} at the {int(edge.sum())} edge cells)"
                    if apart else ""),
                 f"  joint law {self.law}: {fmt(self.score('joint'))}"
                 + (f" ({fmt(self.score('joint', edge))} at the edge cells)" if apart else "")]
        better = self.better
        if better != "tie":
            key = self.penalty if self.method == "parabola" else {a: np.sum(self.log_error(a) ** 2, 1)
                                                                  for a in APPROACHES}
            wins = int(np.sum(key[better] < key["joint" if better == "per-cell" else "per-cell"]))
            name = "per-cell optima + power laws" if better == "per-cell" else "the joint law"
            lines.append(f"Better supported: {name} (lower in {wins} of {len(self.decades)} cells).")
        lines += [f"Note: {n}." for n in self.notes]
        return "\n".join(lines + ["", self.table(level)])

    def to_dict(self, level: float = 0.95) -> dict:
        """Strict-JSON-ready: the held-out cells, both predictions, the penalties, the scores and the verdict."""
        edge = self.decades > 0
        return strict_json({
            "kind": "hyperparameters held out", "over": list(self.over), "scale": list(self.scale), "law": self.law,
            "method": self.method, "cells": dict(self.cells), "decades": self.decades,
            "observed": dict(self.observed), "per_cell": dict(self.per_cell), "joint": dict(self.joint),
            "penalty": dict(self.penalty), "joint_status": list(self.joint_status),
            "score": {a: self.score(a) for a in APPROACHES},
            "score_at_edge": {a: self.score(a, edge) for a in APPROACHES}, "better": self.better,
            "notes": list(self.notes)})

    def __repr__(self) -> str:
        return (f"HyperHeldOut({' x '.join(self.over)} by {', '.join(self.scale)}, {len(self.decades)} cells held out, "
                f"better: {self.better})")


def held_out(result, data: ScalingData, law: Law | None = None, *, by: str | None = None,
             starts=None) -> HyperHeldOut:
    """See `HyperResult.held_out`."""
    over, scale = result.over, result.scale
    if result.method == "critical":
        raise ValueError("held_out compares optima: call it on the sweep's result, not on its critical values.")
    _check_same(result, data)
    law = HyperparameterLaw(over, scale) if law is None else law
    if not isinstance(law, Law):
        raise TypeError(f"law must be a jscale law over {', '.join(over + scale)} (default HyperparameterLaw); "
                        f"got {type(law).__name__}.")
    if set(law.columns) != set(over + scale):
        raise ValueError(f"The joint law reads {', '.join(law.columns)}; it must read exactly the sweep's columns "
                         f"{', '.join(over + scale)}.")
    used = np.asarray(result.included, bool)
    log_cells = np.log(np.stack([result.cells[b] for b in scale], axis=1))
    design = np.concatenate([np.ones((len(log_cells), 1)), log_cells], axis=1)
    folds, notes = [], []
    for fold in _folds(result, by, used):
        rest = used & ~np.isin(np.arange(len(design)), fold)
        if np.linalg.matrix_rank(design[rest]) < design.shape[1]:
            names = ", ".join(values_text([result.cells[b][g] for b in scale]) for g in fold)
            notes.append(f"without {names} the other cells do not vary in every "
                         f"scale column, so power laws in {', '.join(scale)} cannot be fitted: not held out")
        else:
            folds.append(fold)
    if not folds:
        raise ValueError("No cell can be held out: without any of them the others do not vary in every scale "
                         f"column ({'; '.join(notes)}).")
    held = np.concatenate(folds)
    log_star = np.log(np.stack([result.optimum[h] for h in over], axis=1))  # (G, k)
    per_cell, decades, at = np.zeros((len(held), len(over))), np.zeros(len(held)), 0
    for fold in folds:
        rest = used & ~np.isin(np.arange(len(design)), fold)
        lo, hi = log_cells[rest].min(axis=0), log_cells[rest].max(axis=0)
        beyond = np.maximum(lo[None, :] - log_cells[fold], log_cells[fold] - hi[None, :]).clip(min=0)
        decades[at:at + len(fold)] = np.max(beyond, axis=1) / np.log(10)
        coef, *_ = np.linalg.lstsq(design[rest], log_star[rest], rcond=None)
        per_cell[at:at + len(fold)] = design[fold] @ coef
        at += len(fold)
    rows = [data.subset(np.flatnonzero(~np.isin(np.asarray(result.cell_index), fold))) for fold in folds]
    with warnings.catch_warnings():  # each fold's own diagnostics would repeat for every cell
        warnings.simplefilter("ignore", DiagnosticWarning)
        fits = fit_many(law, rows, starts=starts)
        joint = np.concatenate([np.stack([np.log(optimum(fit, over, fixed={b: result.cells[b][fold] for b in scale})
                                                 .inputs[h]) for h in over], axis=1) for fit, fold in zip(fits, folds)])
    status = tuple(str(f.best_status) for f, fold in zip(fits, folds) for _ in fold)
    if any(s != "success" for s in status):
        notes.append(f"the joint law's fit did not converge in {sum(s != 'success' for s in status)} of the "
                     f"{len(held)} cells' folds")
    penalty = {"per-cell": _penalty(result, held, per_cell), "joint": _penalty(result, held, joint)}
    as_dict = lambda logs: {h: read_only(np.exp(logs[:, i])) for i, h in enumerate(over)}  # noqa: E731
    return HyperHeldOut(over=over, scale=scale, law=law.name, method=result.method,
                        cells={b: read_only(np.asarray(result.cells[b])[held]) for b in scale},
                        decades=read_only(decades), observed=as_dict(log_star[held]), per_cell=as_dict(per_cell),
                        joint=as_dict(joint), penalty={a: read_only(v) for a, v in penalty.items()},
                        joint_status=status, notes=tuple(notes))


def _folds(result, by: str | None, used) -> list:
    """Cell indices held out together, fold by fold: each used cell alone (`by` None), or every used
    cell at the largest value of the scale column `by` at once (the others fit: an extrapolation test)."""
    if by is None:
        return [np.array([g]) for g in np.flatnonzero(used)]
    if by not in result.scale:
        raise ValueError("by must be None (each cell in turn) or a scale column "
                         f"({', '.join(map(repr, result.scale))}); got {by!r}{closest(str(by), result.scale)}.")
    values = np.asarray(result.cells[by])
    top = used & (values == values[used].max())
    if top.sum() == used.sum():
        raise ValueError(f"Every used cell has the largest {by}: nothing would be left to fit.")
    return [np.flatnonzero(top)]


def _penalty(result, held, log_h) -> np.ndarray:
    """(H,) the relative loss increase each held-out cell's own quadratic puts on log_h (H, k)."""
    if result.method != "parabola":
        return np.full(len(held), np.nan)
    coef, center = np.asarray(result.coef)[held], np.asarray(result.center)[held]
    u = log_h - center
    if u.shape[1] == 1:
        y = coef[:, 0] + coef[:, 1] * u[:, 0] + coef[:, 2] * u[:, 0] ** 2
    else:
        y = (coef[:, 0] + coef[:, 1] * u[:, 0] + coef[:, 2] * u[:, 1] + coef[:, 3] * u[:, 0] ** 2
             + coef[:, 4] * u[:, 0] * u[:, 1] + coef[:, 5] * u[:, 1] ** 2)
    return np.expm1(y - np.log(np.asarray(result.best_loss)[held]))


def _check_same(result, data) -> None:
    if not isinstance(data, ScalingData):
        raise TypeError(f"data must be the jscale.ScalingData the sweep was fitted to; got {type(data).__name__}.")
    index = np.asarray(result.cell_index)
    same = len(data) == len(index) and all(
        b in data.columns and np.array_equal(np.asarray(data[b], np.float64), np.asarray(result.cells[b])[index])
        for b in result.scale)
    if not same:
        raise ValueError("data must be the runs the sweep was fitted to (the same rows in the same order).")
