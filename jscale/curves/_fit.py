"""Fitting the multi-power law to whole training curves with jscale's engine.

A curve is a schedule (a `Schedule` or per-step rates), the steps of its checkpoints and the
losses logged there. `MultiPowerLaw.over(curves)` is a `jscale.laws` law whose one column,
"checkpoint", indexes the checkpoints of the curves it was built on (in order): the engine fits
it like any other law (many starts, robust losses on log residuals, row weights, `fit_many` over
data sets sharing the curves), and `jscale.bootstrap(..., unit="curve")` resamples whole curves.
The law evaluates every checkpoint with the fast evaluator of `_multipower` (exact to ~1e-13).

`fit_curves` is the everyday verb: it screens a grid of starts by the objective (one cheap
evaluation each, all at once), runs the engine's Gauss-Newton from the best few, and returns a
`FitResult` (Luo et al. 2025, arXiv:2503.12811, fit on the sum of Huber(1e-3) losses of log
residuals, jscale's default).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import warnings
from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from jscale.base._numerics import read_only, x64_scope
from jscale.base._warnings import ScheduleWarning
from jscale.curves._multipower import MULTIPOWER_PARAMS, MultiPowerCurves, multipower_loss
from jscale.curves._schedules import Schedule
from jscale.data._data import ScalingData
from jscale.fitting._fit import fit_many
from jscale.laws._laws import Law
from jscale.losses._losses import resolve_loss

# The screening grid of natural parameters (L0, A, alpha, B, C, beta, gamma): 1,080 starts
# spanning the values Luo et al. report for 25M-400M models and well beyond.
SCREEN = ((1.5, 2.0, 2.5, 3.0, 3.5), (0.2, 0.5, 1.0), (0.3, 0.5, 0.7), (100.0, 300.0, 1000.0), (0.5, 2.0),
          (0.3, 0.6), (0.4, 0.7))


@dataclasses.dataclass(frozen=True)
class MultiPowerLaw(Law):
    """The multi-power law (Luo et al. 2025) at the checkpoints of a fixed set of curves:

        L(t) = L0 + A S(t)^-alpha + B sum_{k<=t} gap_k (1 - (1 + C eta_k^-gamma (S(t) - S(k-1)))^-beta),

    eta the schedule's per-step rate, S(t) its running sum, gap_k = eta_k - eta_{k-1}. Every
    parameter is positive. Build it with `MultiPowerLaw.over(curves)`; its column "checkpoint"
    holds, per data row, the index of the row's checkpoint among the curves' (see `curve_data`).
    Two laws over the same curves compare equal (a digest of the rates and steps).
    """

    digest: str = ""
    plan: MultiPowerCurves | None = dataclasses.field(default=None, compare=False, hash=False, repr=False)

    name = "multipower"
    param_names = MULTIPOWER_PARAMS
    positive = (True,) * len(MULTIPOWER_PARAMS)
    columns = ("checkpoint",)
    column_space = "natural"

    @classmethod
    def over(cls, curves) -> MultiPowerLaw:
        """The law at every checkpoint of `curves`: a sequence of (schedule or rates, steps)."""
        plan = MultiPowerCurves.build(curves)
        digest = hashlib.sha256()
        for lr, steps in curves:
            digest.update(np.asarray(lr.lr() if isinstance(lr, Schedule) else lr, np.float64).tobytes())
            digest.update(np.asarray(steps, np.int64).tobytes())
        return cls(digest=digest.hexdigest()[:16], plan=plan)

    def check_data(self, data) -> None:
        index = np.asarray(data["checkpoint"])
        if np.any(index != np.round(index)) or np.any((index < 0) | (index >= self.plan.n_points)):
            raise ValueError(f"The multi-power law's column 'checkpoint' must hold indices of its {self.plan.n_points} "
                             "checkpoints (build the data with jscale.curves.curve_data).")

    def log_predict(self, theta, x):
        loss = self.plan(jnp.exp(theta))
        return jnp.log(loss)[x["checkpoint"].astype(jnp.int32)]

    def default_starts(self) -> np.ndarray:
        return np.log(np.array(list(itertools.product(*SCREEN)), dtype=np.float64))

    def starts_note(self) -> str:
        return "jscale.curves.fit_curves screens these 1,080 starts and fits from the best few"


def _curves(curves: Mapping) -> tuple[list, list, list]:
    """names, [(schedule, steps)], [losses] of a mapping name -> (schedule, steps, losses), checked."""
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError("curves must be a non-empty mapping: name -> (schedule, checkpoint steps, losses).")
    names, pairs, losses = [], [], []
    for name, value in curves.items():
        if not isinstance(value, (tuple, list)) or len(value) != 3:
            raise ValueError(f"curve {name!r} must be (schedule, checkpoint steps, losses); got "
                             f"{type(value).__name__}.")
        schedule, steps, loss = value
        steps = np.asarray(steps)
        loss = np.asarray(loss, np.float64)
        if steps.ndim != 1 or loss.shape != steps.shape:
            raise ValueError(f"curve {name!r}: steps and losses must be 1-D arrays of one length; got shapes "
                             f"{steps.shape} and {loss.shape}.")
        if np.any(np.diff(steps) <= 0):
            raise ValueError(f"curve {name!r}: its checkpoint steps must increase (no repeats, in order).")
        if not np.all(np.isfinite(loss) & (loss > 0)):
            raise ValueError(f"curve {name!r}: its losses must be positive finite numbers.")
        if steps.size < len(MULTIPOWER_PARAMS):
            raise ValueError(f"curve {name!r} has {steps.size} checkpoints, fewer than the law's "
                             f"{len(MULTIPOWER_PARAMS)} parameters.")
        names.append(str(name))
        pairs.append((schedule, steps.astype(np.int64)))
        losses.append(loss)
    return names, pairs, losses


def _table(names, pairs, losses, checkpoint=None) -> ScalingData:
    """Checkpoint rows: "checkpoint" (the law's index; default 0, 1, ...), "step", "loss", "curve" (categorical)."""
    steps = np.concatenate([s for _, s in pairs])
    label = np.concatenate([[n] * len(s) for n, (_, s) in zip(names, pairs)])
    checkpoint = np.arange(len(steps), dtype=np.float64) if checkpoint is None else checkpoint
    return ScalingData.from_arrays(checkpoint=checkpoint,
                                   step=steps.astype(np.float64), loss=np.concatenate(losses), curve=label)


def curve_data(curves: Mapping) -> tuple[MultiPowerLaw, ScalingData]:
    """The law over `curves` (name -> (schedule, checkpoint steps, losses)) and their checkpoints
    as `ScalingData` rows: "checkpoint" (the law's index), "step", "loss" and "curve" (the name,
    categorical: resample whole curves with `jscale.bootstrap(..., unit="curve")`)."""
    names, pairs, losses = _curves(curves)
    return MultiPowerLaw.over(pairs), _table(names, pairs, losses)


def screen(law: MultiPowerLaw, datasets, *, keep: int = 8, loss="huber", delta: float | None = None) -> np.ndarray:
    """The `keep` best of the law's default starts by the objective on each data set (their union)."""
    grid = law.default_starts()
    values = np.log(multipower_loss(np.exp(grid), law.plan))  # (S, n_points): one evaluation per start
    rho = resolve_loss(loss, delta)
    best = []
    for data in datasets:
        index = np.asarray(data["checkpoint"]).astype(int)
        weight = np.ones(len(data)) if data.weight is None else np.asarray(data.weight)
        r = np.log(np.asarray(data["loss"]))[None, :] - values[:, index]
        with x64_scope():  # the loss in float64, as the fit computes it
            objective = np.sum(weight[None, :] * np.asarray(rho.rho(jnp.asarray(r))), axis=1)
        objective = np.where(np.isfinite(objective), objective, np.inf)
        best.extend(np.argsort(objective, kind="stable")[:keep].tolist())
    return read_only(grid[sorted(set(best))])


def fit_curves(curves, *, keep: int = 4, loss="huber", delta: float | None = None, starts=None):
    """The multi-power law fitted to training curves: one `FitResult` per set of curves.

    Args:
        curves: a mapping name -> (schedule, checkpoint steps, losses), the schedule a `Schedule`
            (or per-step rates, steps 0..T-1); or a list of such mappings, fitted in one batched
            call (e.g. one per model size).
        keep: starts kept from the screening grid per set of curves (default 4).
        loss, delta: of the log residuals, as in `jscale.fit` (default Huber, delta 1e-3: Luo et
            al.'s objective).
        starts: free-space starts (log of the parameters) instead of the screened ones.

    Returns:
        A `FitResult` (or a list, for a list of mappings) whose law is the `MultiPowerLaw` over
        all the curves given (`predict_curves` for other schedules, `bootstrap_curves` for bands).

    Example:
        >>> import numpy as np
        >>> from jscale.curves import Schedule, fit_curves, predict_curves  # doctest: +SKIP
        >>> fit = fit_curves({"cosine": (Schedule.cosine(steps=24000, peak=3e-4, floor=3e-5, warmup=2160),
        ...                              steps, losses), ...})  # doctest: +SKIP
    """
    many = isinstance(curves, (list, tuple))
    sets = list(curves) if many else [curves]
    if not sets:
        raise ValueError("fit_curves needs at least one mapping of curves.")
    parsed = [_curves(c) for c in sets]
    for k, (_, pairs, _) in enumerate(parsed):
        note = _identifiable(pairs)
        if note:
            where = f"Set {k} of curves" if many else "The curves"
            warnings.warn(f"{where}: {note}", ScheduleWarning, stacklevel=2)
    law, index = _shared(parsed)
    datasets = [_table(*p, checkpoint=i) for p, i in zip(parsed, index)]
    starts = screen(law, datasets, keep=keep, loss=loss, delta=delta) if starts is None else starts
    with warnings.catch_warnings(record=True) as caught:  # said again at the caller's line
        warnings.simplefilter("always")
        fits = fit_many(law, datasets, starts=starts, loss=loss, delta=delta)
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=2)
    return fits if many else fits[0]


def _identifiable(pairs) -> str:
    """Why these curves' schedules cannot identify the multi-power law's parameters, or ""."""
    rates = [np.asarray(lr.lr() if isinstance(lr, Schedule) else lr, np.float64)[: int(np.max(steps)) + 1]
             for lr, steps in pairs]
    if not any(np.any(np.diff(r) < 0) for r in rates):
        return ("no curve lowers its learning rate before its last checkpoint, so nothing measures the loss drop of "
                "annealing: B, C, beta and gamma are not identified, and predictions for decaying schedules "
                "extrapolate. Add a curve with a decay (cosine, WSD or a step down).")
    shortest = min(len(r) for r in rates)
    if len(rates) > 1 and all(np.array_equal(r[:shortest], rates[0][:shortest]) for r in rates):
        return ("every curve follows the same schedule up to the shortest one's last checkpoint: the law's split "
                "between the learning-rate area and annealing is not identified. Add a curve with another schedule.")
    return ""


def _shared(parsed) -> tuple[MultiPowerLaw, list]:
    """One law over every distinct schedule of the sets of curves, each at the union of its
    checkpoints (sets that share schedules, e.g. one per model size, share the law's work), and
    each set's checkpoint indices into it."""
    def key(schedule):
        return schedule if isinstance(schedule, Schedule) else np.asarray(schedule, np.float64).tobytes()

    merged: dict = {}
    for _, pairs, _ in parsed:
        for schedule, steps in pairs:
            entry = merged.setdefault(key(schedule), [schedule, np.empty(0, np.int64)])
            entry[1] = np.union1d(entry[1], steps)
    offsets = dict(zip(merged, np.cumsum([0] + [len(v[1]) for v in merged.values()])))
    law = MultiPowerLaw.over([tuple(v) for v in merged.values()])
    index = [np.concatenate([offsets[key(sch)] + np.searchsorted(merged[key(sch)][1], steps) for sch, steps in pairs])
             .astype(np.float64) for _, pairs, _ in parsed]
    return law, index
