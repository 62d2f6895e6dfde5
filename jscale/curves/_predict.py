"""Bands for curve laws: resampling whole curves or blocks of checkpoints, and loss curves under any
schedule with bands.

Checkpoints along one training curve are not independent draws: their noise is correlated over
steps, and a row bootstrap would treat 170 checkpoints of one curve as 170 pieces of evidence.
`bootstrap_curves` resamples whole curves (`unit="curve"`: honest, but three training curves make
three units) or blocks of `block` consecutive checkpoints of a curve (`unit="block"`, the
default: a moving-block bootstrap that keeps the correlation within a block). `predict_curves`
evaluates the law at the checkpoints of any schedules (unseen ones, longer horizons, the planned
schedule of a run still training) at the fit and at every draw, and gives percentile bands.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from flax import struct

from jscale.base._numerics import read_only
from jscale.base._status import Status
from jscale.base._warnings import ResamplesWarning
from jscale.curves._best import _draws, _theta
from jscale.curves._fit import _curves, _shared, _table
from jscale.curves._multipower import MULTIPOWER_PARAMS, MultiPowerCurves, multipower_loss
from jscale.data._data import ScalingData
from jscale.fitting._bootstrap import bootstrap
from jscale.inference._bands import Bands
from jscale.inference._results import BootstrapResult, FitResult

UNITS = ("block", "curve")


class CurvePrediction(struct.PyTreeNode, Bands, kw_only=True):
    """A curve law's loss at the checkpoints of K points on one or more schedules
    (`predict_curves`): `values["loss"]` (K,), per draw in `draws["loss"]` (B, K) with `draw_ok`;
    points `curve` (the schedule's index) and `step`; `split()` gives one array per schedule."""

    WHAT = "losses"
    QUANTITIES = ("loss",)
    POSITIVE = ("loss",)
    law = None
    sd = None

    at: dict
    values: dict
    solve_status: np.ndarray
    draws: dict | None = None
    draw_ok: np.ndarray | None = None
    offsets: tuple = struct.field(pytree_node=False, default=())
    source: str = struct.field(pytree_node=False, default="")

    def points(self) -> dict:
        return dict(self.at)

    def value_of(self, name: str) -> np.ndarray:
        return np.asarray(self.values[name])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.value_of(name)

    def split(self, values=None) -> list:
        """One array per schedule, in their order, of `values` (default the predicted losses; any
        (..., K) array, e.g. a band's `low`)."""
        values = self.value_of("loss") if values is None else np.asarray(values)
        return [values[..., a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    __repr__ = Bands.__repr__  # the dataclass's own would print every array


def _block_labels(data: ScalingData, block: int) -> np.ndarray:
    """"<curve>/<j>" for the j-th run of `block` consecutive checkpoints of each curve."""
    curve = np.asarray(data["curve"])
    position = np.zeros(len(curve), np.int64)
    for name in dict.fromkeys(curve.tolist()):
        rows = np.flatnonzero(curve == name)
        position[rows] = np.arange(rows.size) // block
    return np.array([f"{c}/{p}" for c, p in zip(curve, position)])


def bootstrap_curves(curves: Mapping, fit: FitResult, *, unit: str = "block", block: int = 16,
                     n_resamples: int = 200, key=0) -> BootstrapResult:
    """Bootstrap of a curve fit that resamples blocks of checkpoints or whole curves.

    Args:
        curves: the mapping name -> (schedule, checkpoint steps, losses) that `fit` was fitted to
            (`jscale.curves.fit_curves(curves)`).
        fit: that fit (its law and its best parameters warm-start every resample).
        unit: "block" (default: runs of `block` consecutive checkpoints of a curve are drawn with
            replacement, keeping the noise's correlation within them) or "curve" (whole curves:
            with few curves, few units).
        block: checkpoints per block (default 16; unit "block" only).
        n_resamples: resamples B (default 200).
        key: integer seed or JAX PRNG key.

    Returns:
        A `BootstrapResult` (its `draws` are the law's parameters per resample) for
        `predict_curves`, `interval(name)` and the rest of the bootstrap contract.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be 'block' or 'curve'; got {unit!r}.")
    if isinstance(block, bool) or not isinstance(block, int) or block < 2:
        raise ValueError(f"block must be an integer number of checkpoints of at least 2; got {block!r}.")
    if not isinstance(fit, FitResult):
        raise TypeError(f"fit must be the FitResult of fit_curves on these curves; got {type(fit).__name__}.")
    parsed = _curves(curves)
    law, (index,) = _shared([parsed])
    if law != fit.law:
        raise ValueError("fit was not fitted to these curves (its law covers other schedules or checkpoints).")
    data = _table(*parsed, checkpoint=index)
    columns = {c: np.asarray(data[c]) for c in ("checkpoint", "step", "loss", "curve")}
    column = "curve"
    if unit == "block":
        columns["block"], column = _block_labels(data, block), "block"
    n_units = len(set(np.asarray(columns[column]).tolist()))
    if n_units < 5:
        warnings.warn(f"Resampling {n_units} {unit}s: a bootstrap over so few units says little about the spread; "
                      "prefer unit='block' or more curves.", ResamplesWarning, stacklevel=2)
    return bootstrap(law, ScalingData.from_arrays(**columns), n_resamples=n_resamples, key=key, unit=column,
                     full_fit=fit, jackknife=False, loss=fit.loss_function)


def predict_curves(source, curves) -> CurvePrediction:
    """The multi-power law's loss at the checkpoints of schedules, with bands from a bootstrap.

    Args:
        source: natural parameters (a dict such as `fit.params`, or 7 values in the order of
            `MULTIPOWER_PARAMS`), a `FitResult` of `fit_curves`, or a `BootstrapResult` of
            `bootstrap_curves` (bands: percentiles over its usable draws).
        curves: a sequence of (schedule or per-step rates, checkpoint steps): unseen schedules,
            longer horizons, or a run still training with its planned schedule and its last step.

    Returns:
        A `CurvePrediction`: `["loss"]` (K,), `split()` per schedule, `interval("loss", level)`,
        `table()`, `rows()`.
    """
    params, draws = _parameters(source)
    plan = MultiPowerCurves.build(list(curves))
    loss = multipower_loss(params, plan)
    steps = np.concatenate([np.asarray(s, np.float64) for _, s in curves])
    which = np.concatenate([np.full(len(s), i, np.float64) for i, (_, s) in enumerate(curves)])
    per = draw_ok = None
    if draws is not None:
        per = {"loss": read_only(multipower_loss(draws[0], plan))}
        draw_ok = read_only(np.broadcast_to(draws[1][:, None], per["loss"].shape))
    return CurvePrediction(at={"curve": read_only(which), "step": read_only(steps)},
                           values={"loss": read_only(loss)}, solve_status=read_only(np.full(loss.size,
                                                                                          int(Status.SUCCESS))),
                           draws=per, draw_ok=draw_ok, offsets=plan.offsets,
                           source="the multi-power law" + ("" if draws is None else " and its bootstrap draws"))


def _parameters(source):
    """(natural parameters (7,), None or ((B, 7) usable draws, (B,) all True)) of a prediction's source."""
    law = source.law if isinstance(source, FitResult) else source.fit.law if isinstance(source, BootstrapResult) \
        else None
    if law is not None and law.param_names != MULTIPOWER_PARAMS:
        raise ValueError(f"predict_curves takes multi-power law results; this one is a {law.name} law.")
    if isinstance(source, BootstrapResult):
        if not np.any(source.draw_ok):
            raise ValueError(f"None of the bootstrap's {len(source.draw_ok)} draws is usable (see its diagnostics()): "
                             "no bands. Resample blocks (unit='block') or use more resamples.")
        draws = _draws(source)
        return _theta(source.fit), (draws, np.ones(len(draws), bool))
    return _theta(source), None
