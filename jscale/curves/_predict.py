"""Bands for curve laws: resampling whole curves or blocks of checkpoints, and loss curves under any
schedule with bands, for any curve law (see `_curvelaw`).

Checkpoints along one training curve are not independent draws: their noise is correlated over
steps, and a row bootstrap would treat 170 checkpoints of one curve as 170 pieces of evidence.
`bootstrap_curves` draws, by default, new correlated errors along each curve around the fit
(`unit="residual"`: an autoregressive residual bootstrap that keeps every checkpoint); or resamples
blocks of checkpoints (`unit="block"`), or whole curves (`unit="curve"`: honest, but three
training curves make three units). `predict_curves`
evaluates the law at the checkpoints of any schedules (unseen ones, longer horizons, the planned
schedule of a run still training; with a `Sized` law, other model sizes) at the fit and at every
draw, and gives percentile bands: the law is rebuilt at those checkpoints (`build`, which keeps its
settings) and evaluated at the fit's free parameters and at every usable draw's.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from flax import struct

from jscale.base._numerics import read_only
from jscale.base._status import Status
from jscale.base._warnings import ResamplesWarning, warn_all
from jscale.curves._curvelaw import build, kind_of, log_losses, unwrap
from jscale.curves._fit import MultiPowerLaw, _prepare, _shared, _sized_table, _table
from jscale.curves._sized import Sized
from jscale.data._data import ScalingData
from jscale.engine._execution import Execution
from jscale.fitting._bootstrap import bootstrap, resample_fits
from jscale.inference._bands import Bands
from jscale.inference._results import BootstrapResult, FitResult

UNITS = ("residual", "block", "curve")
# Solver slots per device for curve bootstraps: a curve law's step costs about 1 ms per slot on a
# CPU, so slots that wait for the slowest resample cost more than a queue: 100 resamples (4,315
# steps) took 3.9 s with 8 slots against 14 s with 64 and 53 s with 256 (2-core Xeon, 2026-12-07).
SLOTS = 8


class CurvePrediction(struct.PyTreeNode, Bands, kw_only=True):
    """A curve law's loss at the checkpoints of K points on one or more schedules
    (`predict_curves`): `values["loss"]` (K,), per draw in `draws["loss"]` (B, K) with `draw_ok`;
    points `curve` (the schedule's index) and `step` (and `n_params` for a `Sized` law);
    `split()` gives one array per schedule."""

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


def _ar_series(data: ScalingData, law, fit: FitResult) -> dict:
    """The autoregressive residual bootstrap's per-row arrays (`ar_residual_problems`) from the
    fit's log residuals, curve by curve (a curve's checkpoints are consecutive rows, in order).

    Each curve's lag-one autocorrelation is corrected for its small-sample bias (Kendall 1954:
    rho + (1 + 3 rho) / n, at most 0.99). A smooth law fitted to correlated noise absorbs part
    of its slow component, so the residuals vary less than the noise: the innovations are scaled
    by 1 / sqrt(1 - P / n_eff), P the law's free parameters and n_eff the checkpoints' effective
    number, sum of n (1 - rho) / (1 + rho) (at most a factor 2)."""
    index = np.asarray(data["checkpoint"]).astype(np.int64)
    r = np.log(np.asarray(data["loss"], np.float64)) - log_losses(law, np.asarray(fit.theta))[0][index]
    curve = np.asarray(data["curve"])
    out = {"first": np.zeros(len(r), np.int64), "count": np.ones(len(r), np.int64), "innovation": np.zeros(len(r)),
           "rho": np.zeros(len(r)), "scale": np.ones(len(r))}
    n_eff = 0.0
    for name in dict.fromkeys(curve.tolist()):
        rows = np.flatnonzero(curve == name)
        e = r[rows] - np.mean(r[rows])
        rho = float(np.sum(e[1:] * e[:-1]) / np.sum(e * e)) if rows.size > 2 and np.any(e) else 0.0
        rho = float(np.clip(rho + (1 + 3 * rho) / rows.size, -0.99, 0.99))
        shocks = e[1:] - rho * e[:-1]
        out["first"][rows], out["rho"][rows] = rows[0], rho
        out["count"][rows] = max(rows.size - 1, 1)
        out["innovation"][rows[1:]] = shocks - (np.mean(shocks) if shocks.size else 0.0)
        n_eff += rows.size * (1 - rho) / (1 + rho)
    out["scale"][:] = 1 / np.sqrt(max(1 - law.n_free / n_eff, 0.25)) if n_eff > 0 else 2.0
    return out


def _block_labels(data: ScalingData, block: int) -> np.ndarray:
    """"<curve>/<j>" for the j-th run of `block` consecutive checkpoints of each curve."""
    curve = np.asarray(data["curve"])
    position = np.zeros(len(curve), np.int64)
    for name in dict.fromkeys(curve.tolist()):
        rows = np.flatnonzero(curve == name)
        position[rows] = np.arange(rows.size) // block
    return np.array([f"{c}/{p}" for c, p in zip(curve, position)])


def bootstrap_curves(curves, fit: FitResult, *, n_params=None, unit: str = "residual", block: int = 16,
                     n_resamples: int = 200, key=0, execution: Execution | None = None) -> BootstrapResult:
    """Bootstrap of a curve fit that keeps the noise's correlation along each curve.

    Args:
        curves: the mapping name -> (schedule, checkpoint steps, losses) that `fit` was fitted to
            (`jscale.curves.fit_curves(curves)`); for a `Sized` law, the list of mappings, one per size.
        fit: that fit (its law and its best parameters warm-start every resample), of any curve law.
        n_params: with a `Sized` law, the model size of each mapping (as given to `fit_curves`).
        unit: what is resampled:
            * "residual" (default): an autoregressive residual bootstrap. Every checkpoint stays
              (the schedules' design is whole: every resample still sees each decay); new
              errors along each curve follow an AR(1) fitted to that curve's log residuals, its
              innovations drawn from the curve's own, added to the fitted values. The lag-one
              correlation is corrected for its small-sample bias and the innovations for what
              the fitted law absorbs (see `_ar_series`).
            * "block": blocks of `block` consecutive checkpoints of a curve are drawn with
              replacement (a resample may lose a curve's decay, and with it the annealing term).
            * "curve": whole curves (with few curves, few units; a curve of one size is one unit).
        block: checkpoints per block (default 16; unit "block" only).
        n_resamples: resamples B (default 200).
        key: integer seed or JAX PRNG key.
        execution: how the fits run, a `jscale.Execution` (default: 8 solver slots per device,
            since a curve law's steps are costly and a queue keeps the slots busy).

    Returns:
        A `BootstrapResult` (its `draws` are the law's parameters per resample) for
        `predict_curves`, `interval(name)` and the rest of the bootstrap contract.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be 'residual', 'block' or 'curve'; got {unit!r}.")
    if isinstance(block, bool) or not isinstance(block, int) or block < 2:
        raise ValueError(f"block must be an integer number of checkpoints of at least 2; got {block!r}.")
    if not isinstance(fit, FitResult):
        raise TypeError(f"fit must be the FitResult of fit_curves on these curves; got {type(fit).__name__}.")
    kind, sized, many, parsed, sizes = _prepare(curves, fit.law, n_params)
    if many and not sized:
        raise TypeError("bootstrap_curves takes the one mapping of curves its fit was fitted to (name -> (schedule, "
                        "checkpoint steps, losses)); a list only with a Sized law and n_params=.")
    law, index = _shared(parsed, kind, sizes)
    if law != fit.law:
        raise ValueError("fit was not fitted to these curves (its law covers other schedules or checkpoints).")
    data = _sized_table(parsed, sizes, index) if sized else _table(*parsed[0], checkpoint=index[0])
    columns = {c: np.asarray(data[c]) for c in ("checkpoint", "step", "loss", "curve") + (("n_params",) * sized)}
    if execution is None:
        execution = Execution(batch_size=SLOTS)
    elif not isinstance(execution, Execution):
        raise TypeError(f"execution must be a jscale.Execution; got {type(execution).__name__}.")
    if unit == "residual":
        result = resample_fits(law, ScalingData.from_arrays(**columns), n_resamples=n_resamples, key=key, counts=None,
                               unit="residual", starts="warm", full_fit=fit, target=fit.target,
                               residual=fit.residual, loss=fit.loss_function, delta=None, progress=None,
                               jackknife=False, series=_ar_series(data, law, fit),
                               **execution.keywords())
        warn_all(result.diagnostics(), stacklevel=2)
        return result
    column = "curve"
    if unit == "block":
        columns["block"], column = _block_labels(data, block), "block"
    n_units = len(set(np.asarray(columns[column]).tolist()))
    if n_units < 5:
        warnings.warn(f"Resampling {n_units} {unit}s: a bootstrap over so few units says little about the spread; "
                      "prefer unit='residual' or more curves.", ResamplesWarning, stacklevel=2)
    return bootstrap(law, ScalingData.from_arrays(**columns), n_resamples=n_resamples, key=key, unit=column,
                     full_fit=fit, jackknife=False, loss=fit.loss_function, execution=execution)


def predict_curves(source, curves, *, law=None) -> CurvePrediction:
    """A curve law's loss at the checkpoints of schedules, with bands from a bootstrap.

    Args:
        source: a `FitResult` of `fit_curves`, a `BootstrapResult` of `bootstrap_curves` (bands:
            percentiles over its usable draws), or natural parameters of `law` (a mapping such as
            `fit.params`, or the values in the order of its `param_names`).
        curves: a sequence of (schedule or per-step rates, checkpoint steps): unseen schedules,
            longer horizons, or a run still training with its planned schedule and its last step;
            for a `Sized` law, (schedule, checkpoint steps, n_params) triples: any model size.
        law: the curve law of parameters given by name or in order (default `MultiPowerLaw`; a
            class, a `curve_law(...)`, a `Sized(...)` or a fitted law). A result carries its own.

    Returns:
        A `CurvePrediction`: `["loss"]` (K,), `split()` per schedule, `interval("loss", level)`,
        `table()`, `rows()`.
    """
    fitted, theta, draws = _parameters(source, law)
    curves = list(curves)
    sized = isinstance(unwrap(fitted), Sized)
    at = build(fitted, curves)
    thetas = theta[None, :] if draws is None else np.concatenate([theta[None, :], draws])
    values = np.exp(log_losses(at, thetas))
    loss = values[0]
    steps = np.concatenate([np.asarray(c[1], np.float64) for c in curves])
    which = np.concatenate([np.full(len(c[1]), i, np.float64) for i, c in enumerate(curves)])
    points = {"curve": read_only(which), "step": read_only(steps)}
    if sized:
        points["n_params"] = read_only(np.concatenate([np.full(len(c[1]), float(c[2])) for c in curves]))
    per = draw_ok = None
    if draws is not None:
        per = {"loss": read_only(values[1:])}
        draw_ok = read_only(np.ones(per["loss"].shape, bool))
    offsets = tuple(int(o) for o in np.cumsum([0] + [len(c[1]) for c in curves]))
    return CurvePrediction(at=points, values={"loss": read_only(loss)},
                           solve_status=read_only(np.full(loss.size, int(Status.SUCCESS))), draws=per,
                           draw_ok=draw_ok, offsets=offsets,
                           source=f"the {fitted.name} law" + ("" if draws is None else " and its bootstrap draws"))


def _parameters(source, law):
    """(the law, its free parameters (P,), None or the usable draws' free parameters (B, P)) of a
    prediction's source."""
    if isinstance(source, (FitResult, BootstrapResult)):
        if law is not None:
            raise ValueError("law= names the law of parameters given by name; a fit or a bootstrap carries its own.")
        fitted = source.law if isinstance(source, FitResult) else source.fit.law
        kind_of(fitted, "the source's law")
        if isinstance(source, FitResult):
            return fitted, np.asarray(source.theta, np.float64), None
        if not np.any(source.draw_ok):
            raise ValueError(f"None of the bootstrap's {len(source.draw_ok)} draws is usable (see its diagnostics()): "
                             "no bands. Resample blocks (unit='block') or use more resamples.")
        draws = np.asarray(source.free_draws, np.float64)[np.asarray(source.draw_ok, bool)]
        return fitted, np.asarray(source.fit.theta, np.float64), draws
    kind = MultiPowerLaw() if law is None else kind_of(law)
    return kind, _free(kind, source), None


def _free(law, params) -> np.ndarray:
    """The free vector (P,) of natural parameters given by name (a mapping, or an object with a
    `params` mapping) or in the order of the law's `param_names`, each checked against its domain."""
    names = law.param_names
    if not isinstance(params, Mapping) and isinstance(getattr(params, "params", None), Mapping):
        params = params.params
    if isinstance(params, Mapping):
        missing = [n for n in names if n not in params]
        if missing:
            raise ValueError(f"params lacks {', '.join(missing)}: the {law.name} law needs {', '.join(names)}; got "
                             f"the names {', '.join(map(str, params))}.")
        params = [params[n] for n in names]
    try:
        values = np.asarray(params, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"params must be a mapping name -> value or a sequence of the {len(names)} numbers "
                        f"{', '.join(names)}; got {type(params).__name__}.") from None
    if values.shape != (len(names),):
        raise ValueError(f"params must hold the {len(names)} parameters {', '.join(names)} of the {law.name} law; "
                         f"got shape {values.shape}.")
    for k, v in enumerate(values):
        if not law.in_domain(k, float(v)):
            low, high = law.bounds[k]
            raise ValueError(f"params: {names[k]} = {float(v)!r} lies outside the {law.name} law's domain "
                             f"({low:g}, {high:g}).")
    return np.asarray(law.to_free(values), np.float64)
