"""Fitting curve laws to whole training curves with jscale's engine.

A curve is a schedule (a `Schedule` or per-step rates), the steps of its checkpoints and the
losses logged there. A curve law (see `_curvelaw`) over a set of curves is a `jscale.laws` law
whose one column, "checkpoint", indexes their checkpoints (in order): `MultiPowerLaw.over(pairs)`,
`AnnealingLaw.over(pairs)`, `AreaPowerLaw.over(pairs)`, a `curve_law(fn, params).over(pairs)`, or
a `Sized(law, vary=...)` over the curves of several model sizes. The engine fits it like any
other law (many starts, robust losses on log residuals, row weights, `fit_many` over data sets
sharing the curves), and `jscale.bootstrap(..., unit="curve")` resamples whole curves. The
multi-power law evaluates every checkpoint with the fast evaluator of `_multipower` (exact to ~1e-13).

`fit_curves` is the everyday verb: it screens the law's default starts by the objective (one cheap
evaluation each, all at once), runs the engine's Gauss-Newton from the best few, and returns a
`FitResult` (Luo et al. 2025, arXiv:2503.12811, fit on the sum of Huber(1e-3) losses of log
residuals, jscale's default).
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from jscale.base._numerics import read_only, x64_scope
from jscale.base._warnings import ScheduleWarning
from jscale.curves._curvelaw import anneals, build, digest, kept_pairs, kind_of, log_losses, unwrap
from jscale.curves._multipower import MULTIPOWER_PARAMS, MultiPowerCurves
from jscale.curves._schedules import Schedule
from jscale.curves._sized import Sized, check_size
from jscale.data._data import ScalingData
from jscale.fitting._fit import fit, fit_many
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
    holds, per data row, the index of the row's checkpoint among the curves' (see `curve_data`),
    and `pairs` keeps the curves it was built on. Two laws over the same curves compare equal (a
    digest of the rates and steps).
    """

    digest: str = ""
    plan: MultiPowerCurves | None = dataclasses.field(default=None, compare=False, hash=False, repr=False)
    pairs: tuple = dataclasses.field(default=(), compare=False, hash=False, repr=False)

    name = "multipower"
    param_names = MULTIPOWER_PARAMS
    positive = (True,) * len(MULTIPOWER_PARAMS)
    columns = ("checkpoint",)
    column_space = "natural"
    anneals = True  # its annealing term needs a decay in the curves to be identified

    @classmethod
    def over(cls, curves) -> MultiPowerLaw:
        """The law at every checkpoint of `curves`: a sequence of (schedule or rates, steps), kept in `pairs`."""
        curves = list(curves)
        return cls(digest=digest(curves), plan=MultiPowerCurves.build(curves), pairs=kept_pairs(curves))

    @property
    def n_points(self) -> int:
        """Checkpoints of all its curves."""
        return self.plan.n_points

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


def _curves(curves: Mapping, least: int = len(MULTIPOWER_PARAMS)) -> tuple[list, list, list]:
    """names, [(schedule, steps)], [losses] of a mapping name -> (schedule, steps, losses), checked
    (each curve with at least `least` checkpoints: the law's parameters)."""
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
        if steps.size < least:
            raise ValueError(f"curve {name!r} has {steps.size} checkpoints, fewer than the law's {least} parameters.")
        names.append(str(name))
        pairs.append((schedule, steps.astype(np.int64)))
        losses.append(loss)
    return names, pairs, losses


def _table(names, pairs, losses, checkpoint=None, size=None) -> ScalingData:
    """Checkpoint rows: "checkpoint" (the law's index; default 0, 1, ...), "step", "loss", "curve"
    (categorical); with a model size, "n_params" too and "<name>@<size>" as the curve's label."""
    steps = np.concatenate([s for _, s in pairs])
    label = np.concatenate([[n if size is None else f"{n}@{size:g}"] * len(s) for n, (_, s) in zip(names, pairs)])
    checkpoint = np.arange(len(steps), dtype=np.float64) if checkpoint is None else checkpoint
    extra = {} if size is None else {"n_params": np.full(len(steps), float(size))}
    return ScalingData.from_arrays(checkpoint=checkpoint, step=steps.astype(np.float64), loss=np.concatenate(losses),
                                   **extra, curve=label)


def _prepare(curves, law, n_params) -> tuple:
    """(kind, sized, many, parsed sets, sizes or None) of a call's curves, law and sizes, checked."""
    kind = MultiPowerLaw() if law is None else kind_of(law)
    sized = isinstance(unwrap(kind), Sized)
    many = isinstance(curves, (list, tuple))
    sets = list(curves) if many else [curves]
    if not sets:
        raise ValueError("fit_curves needs at least one mapping of curves.")
    least = unwrap(kind).base.n_free if sized else kind.n_free
    parsed = [_curves(c, least) for c in sets]
    sizes = None
    if sized:
        if n_params is None:
            raise ValueError(f"The {kind.name} law needs n_params=: the model size of each mapping of curves (one "
                             "number per mapping, in their order).")
        given = np.atleast_1d(np.asarray(n_params, dtype=object))
        if given.ndim != 1 or given.size != len(sets):
            raise ValueError(f"n_params must give one model size per mapping of curves: {len(sets)} mapping"
                             f"{'s' if len(sets) > 1 else ''}, {given.size} size{'s' if given.size != 1 else ''}.")
        sizes = [check_size(v, f"mapping {k}") for k, v in enumerate(given.tolist())]
        if unwrap(kind).vary and len(set(sizes)) < 2:
            raise ValueError(f"The {kind.name} law fits power laws of the size: it needs curves of at least 2 "
                             f"model sizes; got {len(set(sizes))}. Add a size, or vary=() to share every parameter.")
    elif n_params is not None:
        raise ValueError("n_params gives the model sizes of a size-aware law's curves; wrap the law: "
                         "law=jscale.curves.Sized(MultiPowerLaw, vary=('L0', 'A', 'B')).")
    return kind, sized, many, parsed, sizes


def _sized_table(parsed, sizes, index) -> ScalingData:
    """The checkpoint rows of every size's curves in one table (see `_table`)."""
    tables = [_table(*p, checkpoint=i, size=n) for p, i, n in zip(parsed, index, sizes)]
    columns = ("checkpoint", "step", "loss", "n_params", "curve")
    return ScalingData.from_arrays(**{c: np.concatenate([np.asarray(t[c]) for t in tables]) for c in columns})


def curve_data(curves, *, law=None, n_params=None) -> tuple[Law, ScalingData]:
    """The curve law over `curves` (name -> (schedule, checkpoint steps, losses)) and their checkpoints
    as `ScalingData` rows: "checkpoint" (the law's index), "step", "loss" and "curve" (the name,
    categorical: resample whole curves with `jscale.bootstrap(..., unit="curve")`).

    `law` is the curve law (default `MultiPowerLaw`; see `fit_curves`). For a `Sized` law, `curves`
    is a list of mappings, one per model size, `n_params` their sizes; the rows gain "n_params"
    and each curve is labelled "<name>@<size>"."""
    kind, sized, many, parsed, sizes = _prepare(curves, law, n_params)
    if many and not sized:
        raise TypeError("curve_data takes one mapping of curves (a list only with a Sized law and n_params=).")
    law, index = _shared(parsed, kind, sizes)
    return law, _sized_table(parsed, sizes, index) if sized else _table(*parsed[0], checkpoint=index[0])


def screen(law: Law, datasets, *, keep: int = 8, loss="huber", delta: float | None = None) -> np.ndarray:
    """The `keep` best of the law's default starts by the objective on each data set (their union)."""
    grid = np.asarray(law.default_starts(), np.float64)
    values = log_losses(law, grid)  # (S, n_points): one evaluation per start
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


def fit_curves(curves, *, law=None, n_params=None, keep: int = 4, loss="huber", delta: float | None = None,
               starts=None):
    """A curve law fitted to training curves: one `FitResult` per set of curves (per ladder of sizes).

    Args:
        curves: a mapping name -> (schedule, checkpoint steps, losses), the schedule a `Schedule`
            (or per-step rates, steps 0..T-1); or a list of such mappings, fitted in one batched
            call (e.g. one per model size), or, with a `Sized` law, in one fit across the sizes.
        law: the curve law: `MultiPowerLaw` (default, None), `AnnealingLaw`, `AreaPowerLaw`, a
            `curve_law(fn, params)`, any of them with fixed parameters (`AnnealingLaw().fix(decay=
            0.999)`), or a `Sized(law, vary=...)` whose varying parameters are power laws of the
            model size and the others shared across sizes.
        n_params: with a `Sized` law, the model size of each mapping (a list, in their order).
        keep: starts kept from the law's screened default starts per set of curves (default 4).
        loss, delta: of the log residuals, as in `jscale.fit` (default Huber, delta 1e-3: Luo et
            al.'s objective).
        starts: free-space starts (see the law's `free_names`) instead of the screened ones.

    Returns:
        A `FitResult` (or a list, for a list of mappings and a law of one size) whose law is the
        curve law over all the curves given (`predict_curves` for other schedules,
        `bootstrap_curves` for bands).

    Warns:
        ScheduleWarning: for a law with an annealing term (multi-power, annealing), where no
            curve decays its rate, or every curve follows one schedule.

    Example:
        >>> import numpy as np
        >>> from jscale.curves import Schedule, fit_curves, predict_curves  # doctest: +SKIP
        >>> fit = fit_curves({"cosine": (Schedule.cosine(steps=24000, peak=3e-4, floor=3e-5, warmup=2160),
        ...                              steps, losses), ...})  # doctest: +SKIP
    """
    kind, sized, many, parsed, sizes = _prepare(curves, law, n_params)
    if anneals(kind):
        groups = [[p for _, pairs, _ in parsed for p in pairs]] if sized else [pairs for _, pairs, _ in parsed]
        for k, pairs in enumerate(groups):
            note = _identifiable(pairs)
            if note:
                where = f"Set {k} of curves" if many and not sized else "The curves"
                warnings.warn(f"{where}: {note}", ScheduleWarning, stacklevel=2)
    law, index = _shared(parsed, kind, sizes)
    if sized:
        datasets = [_sized_table(parsed, sizes, index)]
    else:
        datasets = [_table(*p, checkpoint=i) for p, i in zip(parsed, index)]
    starts = screen(law, datasets, keep=keep, loss=loss, delta=delta) if starts is None else starts
    with warnings.catch_warnings(record=True) as caught:  # said again at the caller's line
        warnings.simplefilter("always")
        if len(datasets) > 1:
            fits = fit_many(law, datasets, starts=starts, loss=loss, delta=delta)
        else:  # one set: its warnings say "Dataset 0" only from fit_many
            fits = [fit(law, datasets[0], starts=starts, loss=loss, delta=delta)]
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=2)
    return fits if many and not sized else fits[0]


def _identifiable(pairs) -> str:
    """Why these curves' schedules cannot identify a law's annealing term, or ""."""
    rates = [np.asarray(lr.lr() if isinstance(lr, Schedule) else lr, np.float64)[: int(np.max(steps)) + 1]
             for lr, steps in pairs]
    if not any(np.any(np.diff(r) < 0) for r in rates):
        return ("no curve lowers its learning rate before its last checkpoint, so nothing measures the loss drop of "
                "annealing: the annealing term's parameters (the multi-power law's B, C, beta and gamma) are not "
                "identified, and predictions for decaying schedules extrapolate. Add a curve with a decay (cosine, "
                "WSD or a step down).")
    shortest = min(len(r) for r in rates)
    if len(rates) > 1 and all(np.array_equal(r[:shortest], rates[0][:shortest]) for r in rates):
        return ("every curve follows the same schedule up to the shortest one's last checkpoint: the law's split "
                "between the learning-rate area and annealing is not identified. Add a curve with another schedule.")
    return ""


def _shared(parsed, kind: Law | None = None, sizes=None) -> tuple[Law, list]:
    """One law (`kind`, default the multi-power law) over every distinct schedule of the sets of
    curves (of every distinct (schedule, size) with `sizes`, one per set), each at the union of its
    checkpoints (sets that share schedules, e.g. one per model size, share the law's work), and
    each set's checkpoint indices into it."""
    def key(schedule, size):
        return (schedule if isinstance(schedule, Schedule) else np.asarray(schedule, np.float64).tobytes()), size

    sizes = [None] * len(parsed) if sizes is None else list(sizes)
    merged: dict = {}
    for (_, pairs, _), size in zip(parsed, sizes):
        for schedule, steps in pairs:
            entry = merged.setdefault(key(schedule, size), [schedule, np.empty(0, np.int64), size])
            entry[1] = np.union1d(entry[1], steps)
    offsets = dict(zip(merged, np.cumsum([0] + [len(v[1]) for v in merged.values()])))
    curves = [tuple(v[:2]) if v[2] is None else tuple(v) for v in merged.values()]
    law = build(MultiPowerLaw() if kind is None else kind, curves)
    index = [np.concatenate([offsets[key(sch, size)] + np.searchsorted(merged[key(sch, size)][1], steps)
                             for sch, steps in pairs]).astype(np.float64)
             for (_, pairs, _), size in zip(parsed, sizes)]
    return law, index
