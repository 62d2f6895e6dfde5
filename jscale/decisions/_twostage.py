"""Two-stage prediction: a task metric from (N, D) through a loss law and a link law, with joint bands.

Stage 1 is a loss law L(N, D) (any law, fitted with `jscale.fit`); stage 2 a link law m(L) from
the loss to a task metric (`jscale.laws.ExponentialLink`, `SigmoidLink` or a custom law of the
"loss" column, fitted with `target=` the metric and `residual="raw"`). The metric at new
points is m(L(N, D)). Its band carries both stages: a joint bootstrap draws the runs once per
resample (rows, or groups of rows), refits both stages on that resample (each stage batched over
all resamples, with multiplicities as weights), and chains draw b of the loss law into draw b
of the link. This is the procedure of Gadre et al. 2024 (arXiv:2403.08540, sec. 3) and of
Llama 3's two-step prediction, with its uncertainty.
"""

from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jscale.base._interval import Interval
from jscale.base._json import strict_json
from jscale.base._numerics import bucket, pad_repeating, read_only, x64_scope
from jscale.base._text import closest
from jscale.base._warnings import ConvergenceError, warn_all
from jscale.data._data import ScalingData
from jscale.engine._batch import counts_table
from jscale.engine._execution import Execution
from jscale.fitting._bootstrap import as_key_data, check_n_resamples, resample_fits
from jscale.inference import _predict
from jscale.inference._diagnostics import summarize
from jscale.inference._results import BootstrapResult, FitResult
from jscale.inference._uncertainty import check_level


@functools.partial(jax.jit, static_argnames=("loss_law", "link_law", "loss_column"))
def _chain(loss_thetas, link_thetas, x_loss, link_columns, loss_values, *, loss_law, link_law, loss_column):
    """Per draw: the loss law at `x_loss` (or the given `loss_values` where not NaN), then the link."""

    def one(t_loss, t_link, given):
        loss = loss_law.predict(t_loss, x_loss)
        loss = jnp.where(jnp.isnan(given), loss, given)
        metric = link_law.predict(t_link, link_law.inputs({**link_columns, loss_column: loss}))
        return loss, metric

    return jax.vmap(one)(loss_thetas, link_thetas, loss_values)


class Prediction(struct.PyTreeNode, kw_only=True):
    """Predicted loss and metric at K points (`TwoStage.predict`, `TwoStage.predict_optimal`).

    Attributes:
        metric_name: the metric column (static).
        columns: the points, column -> (K,) (n_params, n_tokens, and compute for optimal points).
        loss, metric: (K,) the point predictions (full-data fits of both stages).
        draws: "loss" and "metric" -> (B, K) per joint draw, or None without a bootstrap.
        draw_ok: (B, K) mask of draws where both stages (and the allocation) converged, or None.
    """

    metric_name: str = struct.field(pytree_node=False)
    columns: dict
    loss: np.ndarray
    metric: np.ndarray
    draws: dict | None = None
    draw_ok: np.ndarray | None = None

    def interval(self, name: str = "metric", level: float = 0.95):
        """Percentile band (low, high) of "metric" or "loss" at every point over the joint draws."""
        level = check_level(level)
        if name not in ("metric", "loss"):
            raise ValueError(f"name must be 'metric' or 'loss'; got {name!r}.")
        if self.draws is None:
            raise ValueError("No bands: this two-stage result has no bootstrap; pass key= to jscale.two_stage.")
        values = np.where(self.draw_ok, self.draws[name], np.nan)
        q = np.nanquantile(values, [0.5 - level / 2, 0.5 + level / 2], axis=0)
        return Interval(q[0], q[1])

    def table(self, level: float = 0.95) -> str:
        """The points, the predicted loss and metric, and their bands."""
        names = [c for c in ("compute", "n_params", "n_tokens") if c in self.columns]
        names += [c for c in self.columns if c not in names]
        head = " ".join(f"{c:>11}" for c in names) + f" {'loss':>8} {self.metric_name:>12}"
        banded = self.draws is not None
        if banded:
            head += f"   {100 * level:g}% band of the loss   {100 * level:g}% band of the metric"
            bands = self.interval("loss", level), self.interval("metric", level)
        lines = [head]
        for k in range(len(self.loss)):
            line = " ".join(f"{np.asarray(self.columns[c])[k]:>11.4g}" for c in names)
            line += f" {self.loss[k]:>8.4f} {self.metric[k]:>12.4f}"
            if banded:
                (ll, lh), (ml, mh) = bands
                line += f"   ({ll[k]:.4f}, {lh[k]:.4f})      ({ml[k]:.4f}, {mh[k]:.4f})"
            lines.append(line)
        return "\n".join(lines)

    def summary(self, level: float = 0.95) -> str:
        """A line on where the bands come from, then `table(level)`."""
        source = "no bootstrap" if self.draws is None else f"{len(self.draws['metric'])} joint bootstrap draws"
        return f"Predicted loss and {self.metric_name!r} at {len(self.loss)} points ({source}):\n" + self.table(level)

    def to_dict(self, level: float = 0.95) -> dict:
        """Strict-JSON-ready: the points, the predicted loss and metric, and their bands at `level`."""
        level = check_level(level)
        out = {"kind": "two_stage_prediction", "metric_name": self.metric_name,
               "columns": {k: np.asarray(v) for k, v in self.columns.items()}, "loss": self.loss,
               "metric": self.metric, "n_draws": 0 if self.draws is None else len(self.draws["metric"])}
        if self.draws is not None:
            out["level"] = level
            out["interval"] = {name: list(self.interval(name, level)) for name in ("loss", "metric")}
        return strict_json(out)

    def __repr__(self) -> str:
        return (f"Prediction({self.metric_name!r} at {len(self.loss)} points"
                + (")" if self.draws is None else f", {len(self.draws['metric'])} joint draws)"))


class TwoStage(struct.PyTreeNode, kw_only=True):
    """A loss law chained to a link law (`jscale.two_stage`), with its joint bootstrap.

    Attributes:
        loss_fit, link_fit: the full-data fits of the two stages.
        loss_boot, link_boot: their joint bootstraps (resample b of one is resample b of the
            other: the same runs, drawn once), or None without a key.
        n_dropped: resamples drawn but not fitted, because one stage got fewer distinct runs than
            it has parameters (static).
        unit: what a run is: "row" (one row per run), or the column whose values name the runs
            (static).
        n_runs: (loss stage, link stage) numbers of runs, anchor rows left out (static).
        n_anchors: rows of the link stage kept once in every resample (static).
    """

    loss_fit: FitResult
    link_fit: FitResult
    loss_boot: BootstrapResult | None = None
    link_boot: BootstrapResult | None = None
    n_dropped: int = struct.field(pytree_node=False, default=0)
    unit: str = struct.field(pytree_node=False, default="row")
    n_runs: tuple = struct.field(pytree_node=False, default=())
    n_anchors: int = struct.field(pytree_node=False, default=0)

    @property
    def metric_name(self) -> str:
        return self.link_fit.target

    @property
    def _loss_column(self) -> str:
        return self.loss_fit.target

    def _chain(self, x_loss, link_columns, given, n_points):
        """(estimates, draws, ok) of loss and metric at n_points: the loss law on every draw, or the
        `given` losses ((n_draws + 1, n_points), the estimate last; NaN: use the law), into the link."""
        fits = (self.loss_fit, self.link_fit)
        thetas = [np.asarray(f.end_params[f.best_index])[None] for f in fits]
        if self.loss_boot is not None:
            thetas = [np.concatenate([np.asarray(b.free_draws), t])
                      for b, t in zip((self.loss_boot, self.link_boot), thetas)]
        n = len(thetas[0])
        size, width = bucket(n), max(8, bucket(n_points))
        given = pad_repeating(pad_repeating(np.broadcast_to(given, (n, n_points)).T, width).T, size)
        with x64_scope():
            loss, metric = _chain(*(jnp.asarray(pad_repeating(t, size)) for t in thetas),
                                  *({k: jnp.asarray(pad_repeating(np.asarray(v), width)) for k, v in cols.items()}
                                    for cols in (x_loss, link_columns)),
                                  jnp.asarray(given), loss_law=self.loss_fit.law, link_law=self.link_fit.law,
                                  loss_column=self._loss_column)
        loss, metric = (np.asarray(v)[:n, :n_points] for v in (loss, metric))
        if self.loss_boot is None:
            return loss[0], metric[0], None, None
        ok = (self.loss_boot.draw_ok & self.link_boot.draw_ok)[:, None] & np.isfinite(metric[:-1])
        return loss[-1], metric[-1], {"loss": read_only(loss[:-1]), "metric": read_only(metric[:-1])}, ok

    def _link_columns(self, columns: dict, n: int) -> dict:
        """The link law's other columns (besides the loss) at the points, natural units."""
        others = [c for c in self.link_fit.law.columns if c != self._loss_column]
        missing = [c for c in others if c not in columns]
        if missing:
            raise ValueError(f"The {self.link_fit.law.name} link also reads {', '.join(missing)}; pass "
                             f"{missing[0]}=... to predict.")
        return {c: np.broadcast_to(np.asarray(columns[c], np.float64), (n,)) for c in others}

    def predict(self, data: ScalingData | None = None, **columns) -> Prediction:
        """The loss and the metric at new points (a ScalingData, or the loss law's columns as keywords,
        e.g. n_params=..., n_tokens=...), with joint bands when bootstrapped. Points outside the
        fitted data warn (`ExtrapolationWarning`)."""
        law = self.loss_fit.law
        x = _predict.inputs(law, self.loss_fit.data_summary, data, stacklevel=2,
                            **{k: v for k, v in columns.items() if k in law.columns})
        n = len(next(iter(x.values())))
        given = data if data is not None else columns
        points = {c: np.broadcast_to(np.asarray(given[c], np.float64), (n,)) for c in law.columns
                  if c in getattr(given, "columns", given)}
        extra = {k: v for k, v in columns.items() if k not in law.columns}
        unknown = [k for k in extra if k not in self.link_fit.law.columns]
        if unknown:
            raise ValueError(f"predict got {unknown[0]!r}{closest(unknown[0], law.columns)}, which neither law reads; "
                             f"the loss law reads {', '.join(law.columns)}.")
        link_cols = self._link_columns({**points, **extra}, n)
        loss, metric, draws, ok = self._chain(x, link_cols, np.full(n, np.nan), n)
        return Prediction(metric_name=self.metric_name, columns={k: read_only(v) for k, v in points.items()},
                          loss=read_only(loss), metric=read_only(metric), draws=draws,
                          draw_ok=None if ok is None else read_only(ok))

    def predict_optimal(self, compute, *, cost=None, fixed=None) -> Prediction:
        """The metric at the compute-optimal allocation of each budget: `jscale.compute_optimal` of
        the loss stage (on every draw of its bootstrap), each draw's optimal loss L* into its link."""
        from jscale.decisions._allocation import compute_optimal

        with warnings.catch_warnings(record=True) as caught:  # said again below, at the caller's line
            warnings.simplefilter("always")
            # the loss stage's N* and D* are used, not their bands: the note on delta-method bands is not for here
            warnings.filterwarnings("ignore", message="Compute-optimal allocation from a fit")
            alloc = compute_optimal(self.loss_fit if self.loss_boot is None else self.loss_boot, compute, cost=cost,
                                    fixed=fixed)
        for found in caught:
            warnings.warn(found.message, found.category, stacklevel=2)
        n = len(alloc.compute)
        points = {"compute": alloc.compute, "n_params": alloc.n_params, "n_tokens": alloc.n_tokens}
        link_cols = self._link_columns({**points, **alloc.fixed}, n)
        x = self.loss_fit.law.inputs({"n_params": alloc.n_params, "n_tokens": alloc.n_tokens, **alloc.fixed})
        given = alloc.loss[None] if alloc.draws is None else np.concatenate([alloc.draws["loss"], alloc.loss[None]])
        loss, metric, draws, ok = self._chain(x, link_cols, given, n)
        return Prediction(metric_name=self.metric_name, columns={k: read_only(v) for k, v in points.items()},
                          loss=read_only(loss), metric=read_only(metric), draws=draws,
                          draw_ok=None if ok is None else read_only(ok & alloc.draw_ok))

    def summary(self, level: float = 0.95) -> str:
        """Both stages' parameters and how the bands were made."""
        runs = "runs" if self.unit == "row" else f"runs (by {self.unit!r})"
        boot = ("no bootstrap (pass key= for bands)" if self.loss_boot is None else
                f"a joint bootstrap of {self.loss_boot.n_resamples} resamples of the {runs} (both stages refitted on "
                f"each; {self.loss_boot.n_converged} and {self.link_boot.n_converged} converged"
                + (f"; {self.n_dropped} dropped with too few distinct runs for a stage" if self.n_dropped else "")
                + (f"; {self.n_anchors} anchor row{'s' if self.n_anchors > 1 else ''} kept once in every resample"
                   if self.n_anchors else "") + ")")
        stages = [self._stage_rows(fit, k) for k, fit in enumerate((self.loss_fit, self.link_fit))]
        return "\n".join([f"Two-stage prediction of {self.metric_name!r}: loss law {self.loss_fit.law.name} on "
                          f"{stages[0]}, link {self.link_fit.law.name} on {stages[1]}; bands from {boot}.", "",
                          "Stage 1, loss:", _stage_summary(self.loss_fit, self.loss_boot, level), "",
                          "Stage 2, link:", _stage_summary(self.link_fit, self.link_boot, level)])

    def _stage_rows(self, fit: FitResult, k: int) -> str:
        """"40 runs", or "1,417 rows of 40 runs" where a run has several rows."""
        anchors = self.n_anchors if k else 0
        rows = fit.n_rows - anchors
        runs = rows if not self.n_runs else self.n_runs[k]
        text = f"{runs:,} runs" if rows == runs else f"{rows:,} rows of {runs:,} runs"
        return text + (f" and {anchors} anchor row{'s' if anchors > 1 else ''}" if anchors else "")

    def to_dict(self, level: float = 0.95) -> dict:
        """Strict-JSON-ready: both stages (their fits, or bootstraps with intervals at `level`)."""
        level = check_level(level)
        stages = [fit.to_dict() if boot is None else boot.to_dict(level)
                  for fit, boot in ((self.loss_fit, self.loss_boot), (self.link_fit, self.link_boot))]
        return strict_json({"kind": "two_stage", "metric_name": self.metric_name, "loss_stage": stages[0],
                            "link_stage": stages[1], "n_dropped": self.n_dropped, "unit": self.unit,
                            "n_runs": list(self.n_runs), "n_anchors": self.n_anchors})

    def __repr__(self) -> str:
        return (f"TwoStage({self.loss_fit.law.name} -> {self.link_fit.law.name} -> {self.metric_name!r}"
                + (f", {self.loss_boot.n_resamples} joint resamples)" if self.loss_boot is not None else ")"))


def _stage_summary(fit: FitResult, boot: BootstrapResult | None, level: float) -> str:
    return fit.summary() if boot is None else boot.summary(level)


def _rows(name: str, rows, n: int) -> np.ndarray:
    """A boolean (n,) mask from a mask, indices or None (all rows)."""
    if rows is None:
        return np.ones(n, bool)
    arr = np.asarray(rows)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"{name} must be a boolean mask of shape ({n},) or row indices; got shape {arr.shape}.")
        mask = arr.copy()
    elif arr.dtype.kind in "iu" and arr.ndim == 1:
        if arr.size and (arr.min() < 0 or arr.max() >= n):
            raise ValueError(f"{name} has row indices outside 0..{n - 1}.")
        mask = np.zeros(n, bool)
        mask[arr] = True
    else:
        raise ValueError(f"{name} must be a boolean mask of shape ({n},) or integer row indices; got {arr.dtype}.")
    if not mask.any():
        raise ValueError(f"{name} selects no rows.")
    return mask


def _check_stage(which: str, fit, data: ScalingData, mask: np.ndarray) -> ScalingData:
    if not isinstance(fit, FitResult):
        raise TypeError(f"{which} must be the FitResult of jscale.fit; got {type(fit).__name__}.")
    part = data.subset(mask)
    rows = which.replace("_fit", "_rows")
    if fit.n_rows != len(part):
        raise ValueError(f"{which} was fitted to {fit.n_rows} rows but its rows of data are {len(part)}; pass the "
                         f"rows it was fitted on as {rows}= (a mask or row indices).")
    # The same rows, not just as many: by the data's fingerprint where the fit recorded one, else
    # by what the fit recorded of its data (ranges of the law's columns, lowest target).
    recorded = (fit.source or {}).get("fingerprint")
    if (part.fingerprint() != recorded) if recorded else (fit.data_summary != summarize(fit.law, part, fit.target)):
        raise ValueError(f"{which} was not fitted on the rows of data given as {rows}= (other runs, or other "
                         f"values); pass the data and the rows it was fitted on.")
    return part


def _run_labels(unit: str, data: ScalingData, mask: np.ndarray, which: str) -> np.ndarray:
    """The run label of every selected row of `data`: the row's index for unit "row", else its
    value of the column `unit` ("group" for the group column)."""
    if unit == "row":
        return np.flatnonzero(mask)
    column = "group" if unit == "group" else unit
    if not isinstance(unit, str) or column not in data.columns:
        raise ValueError(f"unit={unit!r} must be 'row', 'group' or a column of {which} naming each row's run"
                         f"{closest(str(unit), data.columns)}; it has: {', '.join(data.columns)}.")
    return np.asarray(data[column])[mask]


def _stage_units(labels: np.ndarray, runs: np.ndarray, anchors: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """A stage's (unit_of_row, n_units, run of each unit): its runs by their index among all
    `runs` (sorted labels), the anchor rows (mask over the stage's rows) one unit of their own
    (run -1)."""
    present, unit_of_row = np.unique(labels[~anchors], return_inverse=True)
    out = np.full(len(labels), len(present), np.int64)
    out[~anchors] = unit_of_row.ravel()
    run_of_unit = np.searchsorted(runs, present)
    if anchors.any():
        run_of_unit = np.append(run_of_unit, -1)
    return out, len(run_of_unit), run_of_unit


def two_stage(loss_fit: FitResult, link_fit: FitResult, data: ScalingData, *, link_data: ScalingData | None = None,
              loss_rows=None, link_rows=None, anchor_rows=None, key=None, n_resamples: int | None = None,
              unit: str = "row", progress: bool | None = None) -> TwoStage:
    """Chains a fitted loss law to a fitted link law, with a joint bootstrap of both for bands.

    Fit the stages first, each with its own options: the loss law as usual, the link with
    `target=` the metric column and `residual="raw"` (e.g.
    `jscale.fit(jscale.laws.ExponentialLink(), data, target="err", residual="raw")`); the link
    reads the loss under the loss fit's target column ("loss"). With `key`, runs are drawn once
    per resample (by `unit`, as in `jscale.bootstrap`) over the runs of either stage, and both
    stages are refitted on every resample (each stage in one batched bootstrap, from its fit's
    warm starts, with that fit's target, residual and loss), so draw b of the link goes with
    draw b of the loss law. Resamples that leave a stage fewer distinct rows than its parameters
    are dropped and counted (`n_dropped`).

    Each stage may have rows of its own: the published ladder method fits the loss law on each
    run's final loss and the link on every intermediate checkpoint. Pass the link's rows as
    `link_data` and name the run of every row with `unit` (a column of both data sets): a
    resample draws runs, and each stage takes all the rows of the runs drawn. A fixed point of
    the link, e.g. loss 0 at accuracy 1, is a row of its data named in `anchor_rows`: it is kept
    once (weight 1) in every resample instead of being drawn.

    Args:
        loss_fit: the `FitResult` of the loss law (stage 1).
        link_fit: the `FitResult` of the link law (stage 2).
        data: the runs the loss law was fitted on (and the link, unless `link_data` is given).
        link_data: the rows the link was fitted on, when they are not rows of `data` (e.g. every
            checkpoint of the runs); needs `unit` to be the column that names the runs.
        loss_rows, link_rows: the rows each stage was fitted on (of `data`; the link's of
            `link_data` when given), boolean masks or row indices (default: all rows). Gadre et
            al. fit the loss law on 5 small runs and the link on those plus one larger run.
        anchor_rows: rows of the link's data (among `link_rows`) kept once in every resample
            rather than drawn, as a mask or row indices; default none.
        key: an integer seed or JAX key for the joint bootstrap; None: point predictions only.
        n_resamples: resamples drawn (default 1000).
        unit: "row" (default: one row per run), "group" or a column whose values name the runs.
        progress: as in `jscale.bootstrap`.

    Returns:
        A `TwoStage`: `predict(n_params=..., n_tokens=...)` and `predict_optimal(compute)` give a
        `Prediction` (loss, metric, `interval("metric")`, `table()`); `summary()`.

    Example (Gadre et al. 2024's RedPajama fits, `examples/downstream.py`):
        >>> import jscale  # doctest: +SKIP
        >>> data = jscale.datasets.load("gadre2024").split("dataset")["rpj"]  # doctest: +SKIP
    """
    if not isinstance(data, ScalingData):
        raise TypeError(f"data must be the ScalingData both stages were fitted on; got {type(data).__name__}.")
    if link_data is not None and not isinstance(link_data, ScalingData):
        raise TypeError(f"link_data must be the ScalingData the link was fitted on; got {type(link_data).__name__}.")
    if link_data is not None and unit == "row":
        raise ValueError("With link_data, the two stages have different rows: name the column that says which run "
                         "each row belongs to, e.g. unit='run', so a resample can draw runs for both.")
    sources = (data, data if link_data is None else link_data)
    masks = [_rows(name, rows, len(d)) for name, rows, d in (("loss_rows", loss_rows, sources[0]),
                                                                ("link_rows", link_rows, sources[1]))]
    anchors = np.zeros(len(sources[1]), bool) if anchor_rows is None else _rows("anchor_rows", anchor_rows,
                                                                                 len(sources[1]))
    if (anchors & ~masks[1]).any():
        raise ValueError("anchor_rows must be rows the link was fitted on (among link_rows).")
    if link_data is None and (anchors & masks[0]).any():
        raise ValueError("anchor_rows are fixed points of the link; the loss law cannot be fitted on them.")
    parts = [_check_stage(w, f, d, m) for w, f, d, m in zip(("loss_fit", "link_fit"), (loss_fit, link_fit), sources,
                                                             masks)]
    if loss_fit.target not in link_fit.law.columns:
        raise ValueError(f"The link law {link_fit.law.name} must read the loss column {loss_fit.target!r} (the loss "
                         f"fit's target); it reads {', '.join(link_fit.law.columns)}.")
    where = ("data", "data" if link_data is None else "link_data")
    labels = [_run_labels(unit, d, m, w) for d, m, w in zip(sources, masks, where)]
    if unit != "row" and labels[0].dtype.kind != labels[1].dtype.kind and not {labels[0].dtype.kind,
                                                                               labels[1].dtype.kind} <= set("iuf"):
        raise ValueError(f"The {unit!r} columns of data and link_data hold different kinds of labels "
                         f"({labels[0].dtype} and {labels[1].dtype}); they must name the same runs.")
    stage_anchors = (np.zeros(len(labels[0]), bool), anchors[masks[1]])
    runs = np.unique(np.concatenate([labels[0], labels[1][~stage_anchors[1]]]))
    units = [_stage_units(lab, runs, a) for lab, a in zip(labels, stage_anchors)]
    n_runs = tuple(int((run_of_unit >= 0).sum()) for _, _, run_of_unit in units)
    plain = dict(loss_fit=loss_fit, link_fit=link_fit, unit=str(unit), n_runs=n_runs, n_anchors=int(anchors.sum()))
    if key is None:
        if n_resamples is not None:
            raise ValueError("n_resamples= needs key= for the joint bootstrap.")
        return TwoStage(**plain)
    n_resamples = check_n_resamples(n_resamples)
    counts = counts_table(as_key_data(key), n_resamples, len(runs))
    stage_counts = [np.where(run_of_unit >= 0, counts[:, np.maximum(run_of_unit, 0)], 1)
                    for _, _, run_of_unit in units]
    keep = np.ones(n_resamples, bool)
    for c, (unit_of_row, _, _), fit in zip(stage_counts, units, (loss_fit, link_fit)):
        keep &= (c[:, unit_of_row] > 0).sum(axis=1) >= fit.law.n_free
    if keep.sum() < 2:
        raise ValueError(f"Only {int(keep.sum())} of {n_resamples} resamples give both stages as many distinct runs "
                         "as parameters; the stages need more runs for a bootstrap.")
    boots = []
    for fit, part, c, (unit_of_row, n_units, _) in zip((loss_fit, link_fit), parts, stage_counts, units):
        boots.append(resample_fits(fit.law, part, n_resamples=None, key=None, counts=c[keep], unit=str(unit),
                                   units=(unit_of_row, n_units), starts="warm", full_fit=fit, target=fit.target,
                                   residual=fit.residual, loss=fit.loss_function, delta=None, progress=progress,
                                   jackknife=False, **Execution().keywords()))
    result = TwoStage(**plain, loss_boot=boots[0], link_boot=boots[1], n_dropped=int(n_resamples - keep.sum()))
    if not (boots[0].draw_ok & boots[1].draw_ok).any():
        raise ConvergenceError("No joint resample converged in both stages; check the fits and the data.")
    warn_all([d for b in boots for d in b.diagnostics() if d.kind != "resamples"], stacklevel=2)
    return result
