"""Standard plots of fits, bands and allocations (matplotlib, the optional `plot` extra).

Every function takes a result (and the data where it plots them), an optional matplotlib `Axes`
(a new figure when omitted) and returns the `Axes` (the `Figure` for `corner`). Axes are
logarithmic where the quantity spans decades, labelled with units, and points are coloured by
compute. `link` draws a two-stage prediction's link (a task metric against the loss) and
`multiplier` a comparison of two recipes (`jscale.compare`); `forms` the candidate forms of an
`Ensemble` side by side beyond the data. Training curves (`jscale.curves`): `curves` the logged
checkpoints with the fitted multi-power law through them, `curve_prediction` the predicted curves
of any schedules with their bands, and `schedule` the optimised learning-rate schedule beside
cosine and WSD. Install matplotlib with `pip install "jscale[plot]"`.

Example:
    >>> import jscale, jscale.plot  # doctest: +SKIP
    >>> data = jscale.datasets.load("chinchilla")  # doctest: +SKIP
    >>> result = jscale.fit(jscale.laws.Chinchilla(), data)  # doctest: +SKIP
    >>> jscale.plot.frontier(result, data).figure.savefig("frontier.png")  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

from jscale.base._warnings import ExtrapolationWarning, IntervalWarning
from jscale.curves import BestSchedule, CurvePrediction, predict_curves
from jscale.data._data import ScalingData
from jscale.decisions._allocation import compute_optimal
from jscale.decisions._compare import Comparison
from jscale.decisions._twostage import Prediction, TwoStage
from jscale.inference._results import BootstrapResult, FitResult
from jscale.inference._uncertainty import check_level
from jscale.selection._forms import Ensemble
from jscale.sweeps._hyper import HyperResult
from jscale.sweeps._isoflop import IsoFLOPResult, group_by_compute

__all__ = ["allocation", "corner", "curve_prediction", "curves", "frontier", "hyperparameter_cells",
           "hyperparameter_law", "isoflop", "isoflop_optimum", "isoflop_parabolas", "link", "multiplier", "residuals",
           "schedule"]


def _pyplot():
    try:
        import matplotlib

        if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
            import os

            if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
                matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "jscale.plot needs matplotlib: pip install 'jscale[plot]' (or pip install matplotlib)."
        ) from None
    return plt


def _axes(ax, size=(6.0, 4.2)):
    if ax is not None:
        return ax
    plt = _pyplot()
    # Fixed margins, wide enough for the labels: a constrained layout doubles the time to save.
    _, ax = plt.subplots(figsize=size, gridspec_kw=dict(left=0.13, right=0.96, bottom=0.12, top=0.92))
    return ax


def _fit_of(result):
    if isinstance(result, BootstrapResult):
        return result.fit, result
    if isinstance(result, FitResult):
        return result, None
    raise TypeError(f"expected a FitResult or a BootstrapResult; got {type(result).__name__}.")


def _title(ax, shown: str, source: str | None = None, bands: str | None = None):
    """Every plot's title, one pattern: what is shown, then where it comes from (the data, or the
    law as the form fitted to them, never the law's name alone, which reads like a data set's:
    "chinchilla"), then the level of its bands."""
    text = shown + ("" if source is None else f": {source}") + ("" if bands is None else f" ({bands})")
    ax.set_title(text, fontsize="medium")


def _fitted(fit) -> str:
    """A fit, for a title: "chinchilla law fitted to 240 runs"."""
    return f"{_form(fit.law.name)} fitted to {fit.n_rows:,} runs"


def _form(name: str) -> str:
    return name if "law" in name or "link" in name else f"{name} law"


def _compute(data):
    if data.compute is not None:
        return np.asarray(data.compute)
    return 6.0 * np.asarray(data.n_params) * np.asarray(data.n_tokens)


def _colour_by_compute(ax, x, y, compute, **kw):
    from matplotlib.colors import LogNorm

    points = ax.scatter(x, y, c=compute, norm=LogNorm(), cmap="viridis", s=14, edgecolors="none", **kw)
    ax.figure.colorbar(points, ax=ax, label="training compute C (FLOP)")
    return points


def frontier(result, data, *, ax=None, budgets=None, level: float = 0.95):
    """Loss against compute: the runs, and the compute-optimal loss L*(C) of the fit with its band.

    The band comes from the bootstrap draws for a `BootstrapResult`, from the delta method for a
    `FitResult`. Needs a law of `n_params` and `n_tokens` (allocation under C = 6ND).
    """
    ax = _axes(ax)
    compute = _compute(data)
    budgets = np.logspace(np.log10(compute.min()), np.log10(compute.max()) + 1, 60) if budgets is None else budgets
    curves = _quiet(compute_optimal, result, budgets)
    ax.scatter(compute, data.loss, s=12, color="0.55", edgecolors="none", label="runs")
    ax.plot(budgets, curves.loss, color="C3", label="compute-optimal L*(C)")
    low, high = curves.interval("loss", level)
    ax.fill_between(budgets, low, high, color="C3", alpha=0.2, linewidth=0, label=f"{100 * level:g}% band")
    ax.set(xscale="log", xlabel="training compute C (FLOP)", ylabel="loss (nats/token)")
    _title(ax, "loss frontier", _fitted(_fit_of(result)[0]), f"{100 * level:g}% band")
    _mark_extrapolation(ax, float(compute.max()))
    ax.legend(frameon=False)
    return ax


def isoflop(result, data, *, ax=None, n_slices: int = 6, rtol: float = 0.1):
    """IsoFLOP slices: loss against N for runs of (nearly) equal compute, with the fit at that compute.

    Runs are grouped by compute (within `rtol`, relative); the `n_slices` largest groups are drawn,
    each with the fitted loss along N at its median compute (D = C / 6N): solid over the sizes the
    slice's runs span, dashed for 0.2 decades beyond them on either side (no run there).
    """
    fit, _ = _fit_of(result)
    ax = _axes(ax)
    compute = _compute(data)
    label, _ = group_by_compute(compute, None, rtol)
    groups = [np.flatnonzero(label == g) for g in range(label.max() + 1)]
    groups = sorted(sorted(groups, key=len, reverse=True)[:n_slices], key=lambda g: compute[g].min())
    cmap = _pyplot().get_cmap("viridis")
    for k, g in enumerate(groups):
        colour = cmap(k / max(len(groups) - 1, 1))
        c = float(np.median(compute[g]))
        n = np.asarray(data.n_params)[g]
        ax.scatter(n, np.asarray(data.loss)[g], color=colour, s=14, edgecolors="none")
        inside = np.geomspace(n.min(), n.max(), 64)
        ends = np.concatenate([np.geomspace(n.min() / 10**0.2, n.min(), 9),
                               np.geomspace(n.max(), n.max() * 10**0.2, 9)])
        ax.plot(inside, _quiet(fit.predict, n_params=inside, n_tokens=c / (6 * inside)), color=colour,
                label=f"C = {c:.2g}")
        # A NaN between the two ends: one dashed line, not joined across the runs.
        beyond = np.insert(_quiet(fit.predict, n_params=ends, n_tokens=c / (6 * ends)), 9, np.nan)
        ax.plot(np.insert(ends, 9, np.nan), beyond, color=colour, linestyle="--", linewidth=0.9, alpha=0.7,
                label="beyond the slice's runs" if k == len(groups) - 1 else None)
    ax.set(xscale="log", xlabel="parameters N", ylabel="loss (nats/token)")
    _title(ax, "isoFLOP slices", _fitted(fit))
    ax.legend(frameon=False, fontsize="small", title="compute (FLOP)")
    return ax


def _sweep_of(result):
    if not isinstance(result, IsoFLOPResult):
        raise TypeError(f"expected an IsoFLOPResult (from jscale.isoflop); got {type(result).__name__}.")
    return result


def isoflop_parabolas(result, data, *, ax=None, level: float = 0.95):
    """An isoFLOP sweep's runs (loss against N, one colour per budget) with each budget's fitted
    parabola in log N and its minimum N*, with the `level` band of N* over the resamples; budgets
    left out of the power laws are drawn hollow, without a parabola."""
    result = _sweep_of(result)
    if len(result.budget_index) != len(data):
        raise ValueError(f"data has {len(data)} rows but the sweep was fitted to {len(result.budget_index)}; pass "
                         "the same data.")
    ax = _axes(ax)
    cmap = _pyplot().get_cmap("viridis")
    banded = result.banded
    low, high = result.interval("n_params", level) if banded else (None, None)
    n, loss = np.asarray(data.n_params), np.asarray(data.loss)
    for g, c in enumerate(result.budgets):
        colour = cmap(g / max(len(result.budgets) - 1, 1))
        mine = result.budget_index == g
        used = bool(result.included[g])
        ax.scatter(n[mine], loss[mine], s=16, color=colour if used else "none", edgecolors=colour,
                   label=f"C = {c:.2g}" + ("" if used else " (left out)"))
        if not used:
            continue
        grid = np.geomspace(n[mine].min(), n[mine].max(), 60)
        c0, c1, c2 = result.coef_params[g]
        u = np.log(grid) - result.center_params[g]
        ax.plot(grid, np.exp(c0 + c1 * u + c2 * u * u), color=colour, linewidth=1)
        ax.plot([result.n_params[g]], [result.loss[g]], marker="v", color=colour)
        if banded:
            ax.plot([low[g], high[g]], [result.loss[g]] * 2, color=colour, linewidth=3, alpha=0.5)
    ax.set(xscale="log", xlabel="parameters N", ylabel="loss (nats/token)")
    _title(ax, "isoFLOP parabolas and minima", f"{len(data):,} runs at {len(result.budgets)} budgets",
           f"{100 * level:g}% bands of N*" if banded else None)
    ax.legend(frameon=False, fontsize="small")
    return ax


def isoflop_optimum(result, *, approach3=None, ax=None, level: float = 0.95, compute=None):
    """N*(C) of an isoFLOP sweep (Approach 2: the budgets' minima and the power law through them,
    with its band) and, given `approach3` (a FitResult or BootstrapResult of a law of N and D on
    the same runs), Approach 3's N*(C) with its band, over `compute` (default: from a third of the
    smallest budget to 100 times the largest)."""
    result = _sweep_of(result)
    ax = _axes(ax)
    c = np.geomspace(result.budgets.min() / 3, result.budgets.max() * 100, 80) if compute is None else \
        np.asarray(compute, np.float64)
    used = np.asarray(result.included)
    ax.scatter(result.budgets[used], result.n_params[used], color="C0", zorder=3, label="budget minima (Approach 2)")
    line = compute_optimal(result, c)
    ax.plot(c, line.n_params, color="C0", label=f"N* ~ C^{result.exponents['a']:.3f} (Approach 2)")
    if line.draws is not None:
        ax.fill_between(c, *line.interval("n_params", level), color="C0", alpha=0.2, linewidth=0)
    if approach3 is not None:
        other = _quiet(compute_optimal, approach3, c)
        ax.plot(c, other.n_params, color="C3", label=f"{_fit_of(approach3)[0].law.name} fit (Approach 3)")
        if other.draws is not None or other.sd is not None:
            low, high = other.interval("n_params", level)
            ax.fill_between(c, low, high, color="C3", alpha=0.2, linewidth=0)
    ax.set(xscale="log", yscale="log", xlabel="compute budget C (FLOP)", ylabel="compute-optimal parameters N*")
    _title(ax, "compute-optimal N*(C)", f"isoFLOP sweep of {len(result.budgets)} budgets"
           + ("" if approach3 is None else f", {_fitted(_fit_of(approach3)[0])}"), f"{100 * level:g}% bands")
    _mark_extrapolation(ax, float(result.budgets[used].max()))
    ax.legend(frameon=False, loc="lower right")
    return ax


def _hyper_of(result) -> HyperResult:
    if not isinstance(result, HyperResult):
        raise TypeError(f"expected the HyperResult of jscale.hyperparameters; got {type(result).__name__}.")
    return result


def hyperparameter_cells(result, data, *, ax=None, level: float = 0.95, max_cells: int = 8):
    """A sweep of one hyperparameter: each cell's runs (loss against the hyperparameter, one
    colour per cell), its fitted parabola over the values it swept and its optimum with the
    `level` band over the resamples; cells left out of the power laws are drawn hollow, without
    a parabola. At most `max_cells` cells, spread over the sizes."""
    result = _hyper_of(result)
    if len(result.over) != 1:
        raise ValueError("hyperparameter_cells draws a sweep of one hyperparameter; this one has "
                         f"{len(result.over)} ({', '.join(result.over)}).")
    if len(result.cell_index) != len(data):
        raise ValueError(f"data has {len(data)} rows but the sweep was fitted to {len(result.cell_index)}; pass "
                         "the same data.")
    (h,) = result.over
    ax = _axes(ax)
    cmap = _pyplot().get_cmap("viridis")
    banded = result.banded
    low, high = result.interval(h, level) if banded else (None, None)
    x, loss = np.asarray(data[h], np.float64), np.asarray(data[result.target], np.float64)
    n_cells = len(result.n_runs)
    shown = np.unique(np.linspace(0, n_cells - 1, min(max_cells, n_cells)).round().astype(int))
    for rank, g in enumerate(shown):
        colour = cmap(rank / max(len(shown) - 1, 1))
        mine = result.cell_index == g
        used = bool(result.included[g])
        name = ", ".join(f"{b} {result.cells[b][g]:.2g}" for b in result.scale)
        ax.scatter(x[mine], loss[mine], s=16, color=colour if used else "none", edgecolors=colour,
                   label=name + ("" if used else " (left out)"))
        if not used or result.method != "parabola":
            continue
        grid = np.geomspace(x[mine].min(), x[mine].max(), 60)
        c0, c1, c2 = result.coef[g]
        u = np.log(grid) - result.center[g][0]
        ax.plot(grid, np.exp(c0 + c1 * u + c2 * u * u), color=colour, linewidth=1)
        ax.plot([result.optimum[h][g]], [result.best_loss[g]], marker="v", color=colour)
        if banded:
            ax.plot([low[g], high[g]], [result.best_loss[g]] * 2, color=colour, linewidth=3, alpha=0.5)
    ax.set(xscale="log", xlabel=h, ylabel=f"{result.target}")
    _title(ax, f"{h} sweeps and their optima", f"{len(data):,} runs in {n_cells} cells"
           + ("" if len(shown) == n_cells else f" ({len(shown)} shown)"),
           f"{100 * level:g}% bands of the optimum" if banded else None)
    ax.legend(frameon=False, fontsize="small")
    return ax


def hyperparameter_law(result, *, along: str | None = None, at: dict | None = None, ax=None, level: float = 0.95,
                       hyperparameter: str | None = None, reach: float = 1.5):
    """The optimal hyperparameter (or the critical one, of a `HyperResult.critical` result) against
    one scale column (`along`, default the first): the used cells' optima (other scale columns
    shown by colour) and the power law with its band, at the other scale columns' values in `at`
    (default their largest fitted values), from a third of the smallest cell to `reach` decades
    beyond the largest; a dashed line marks where the cells end."""
    result = _hyper_of(result)
    along = result.scale[0] if along is None else along
    h = result.over[0] if hyperparameter is None else hyperparameter
    if along not in result.scale or h not in result.over:
        raise ValueError(f"along must be one of {', '.join(result.scale)} and hyperparameter one of "
                         f"{', '.join(result.over)}; got {along!r} and {h!r}.")
    used = np.asarray(result.included, bool)
    others = {b: float(np.max(result.cells[b][used])) for b in result.scale if b != along}
    others.update(at or {})
    ax = _axes(ax)
    values = result.cells[along][used]
    grid = np.geomspace(values.min() / 3, values.max() * 10 ** reach, 80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        line = result.predict(**{along: grid}, **{b: np.full(len(grid), v) for b, v in others.items()})
    critical = result.method == "critical"  # `HyperResult.critical`: the near-optimal range's upper end
    word = "critical" if critical else "optimal"
    ax.scatter(values, result.optimum[h][used], color="C0", zorder=3,
               label="cells' critical values" if critical else "cell optima")
    exponent = result.exponents[h][along]
    ax.plot(grid, line[h], color="C0", label=f"{h}{'_crit' if critical else '*'} ~ {along}^{exponent:.3f}"
            + (f" at {', '.join(f'{b} {v:.2g}' for b, v in others.items())}" if others else ""))
    if line.draws is not None:
        ax.fill_between(grid, *line.interval(h, level), color="C0", alpha=0.2, linewidth=0)
    ax.set(xscale="log", yscale="log", xlabel=along, ylabel=f"{word} {h}")
    _title(ax, f"{word} {h} against {along}", f"{int(used.sum())} cells (" + (
        f"within {100 * result.tolerance:g}% of the best loss" if critical else result.method) + ")",
           f"{100 * level:g}% band" if line.draws is not None else None)
    _mark_extrapolation(ax, float(values.max()))
    ax.legend(frameon=False, fontsize="small")
    return ax


def _mark_extrapolation(ax, top: float):
    """A dashed line where the fitted data's compute ends; beyond it the curves extrapolate."""
    ax.axvline(top, color="0.4", linestyle="--", linewidth=0.8)
    low, high = np.log10(ax.get_xlim())
    near_right = (np.log10(top) - low) / (high - low) > 0.6  # no room for the note right of the line
    ax.annotate("data ends: extrapolation beyond →" if near_right else "data ends: extrapolation →",
                xy=(top, 1.0), xycoords=("data", "axes fraction"), xytext=(-4 if near_right else 4, -12),
                textcoords="offset points", ha="right" if near_right else "left", fontsize="small", color="0.3")


def allocation(curves, *, ax=None, level: float = 0.95, data_max: float | None = None):
    """Compute-optimal N*(C) and D*(C) with their bands, from `jscale.compute_optimal`;
    `data_max` (the fitted data's largest compute) marks where extrapolation begins."""
    ax = _axes(ax)
    banded = curves.draws is not None or curves.sd is not None
    for name, label, colour in [("n_params", "parameters N*", "C0"), ("n_tokens", "tokens D*", "C1")]:
        ax.plot(curves.compute, getattr(curves, name), color=colour, label=label)
        if banded:
            low, high = curves.interval(name, level)
            ax.fill_between(curves.compute, low, high, color=colour, alpha=0.25, linewidth=0)
    ax.set(xscale="log", yscale="log", xlabel="compute budget C (FLOP)", ylabel="parameters / tokens")
    _title(ax, "compute-optimal allocation", curves.source if curves.law is None else _form(curves.law.name),
           f"{100 * level:g}% bands" if banded else None)
    if data_max is not None:
        _mark_extrapolation(ax, data_max)
    ax.legend(frameon=False)
    return ax


def forms(ensemble, *, compute=None, quantity: str = "n_params", ax=None, level: float = 0.95, cost=None):
    """The candidate forms of an `Ensemble` (`jscale.bootstrap_forms([law, ...], data, key=...)`) side by
    side: each form's compute-optimal `quantity` ("n_params", "n_tokens", "loss" or
    "tokens_per_param") against the budget with its own band (dashed edges), and the mixture's
    band (shaded), from the fitted data into extrapolation. Default budgets: 30 from a tenth of the
    data's largest compute to 1,000 times it. The legend gives each form's weight."""
    if not isinstance(ensemble, Ensemble):
        raise TypeError(f"forms needs an Ensemble (jscale.bootstrap_forms); got "
                        f"{type(ensemble).__name__}.")
    level = check_level(level)
    span = ensemble.members[0].fit.data_summary.range_of("compute")
    top = None if span is None else float(span[1])
    if compute is None:
        if top is None:
            raise ValueError("forms: the fitted data has no compute range; pass compute=[...] budgets.")
        compute = np.geomspace(top / 10, top * 1e3, 30)
    compute = np.asarray(compute, np.float64)
    ax = _axes(ax)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)  # beyond the data is the point here
        mixed = ensemble.compute_optimal(compute, quantity=quantity, cost=cost)
    for k, form in enumerate(mixed.forms):
        colour = f"C{k}"
        low, high = mixed.interval(level, form=form)
        ax.plot(compute, mixed.by_form[k], color=colour,
                label=f"{form} (weight {float(np.mean(mixed.form_weights[k])):.2f})")
        ax.plot(compute, low, color=colour, linestyle="--", linewidth=0.8)
        ax.plot(compute, high, color=colour, linestyle="--", linewidth=0.8)
    low, high = mixed.interval(level)
    ax.fill_between(compute, low, high, color="0.5", alpha=0.25, linewidth=0,
                    label=f"mixture, {100 * level:g}% band")
    labels = {"n_params": "parameters N*", "n_tokens": "tokens D*", "loss": "loss L*", "tokens_per_param": "D*/N*"}
    ax.set(xscale="log", yscale="log", xlabel="compute budget C (FLOP)", ylabel=f"compute-optimal {labels[quantity]}")
    _title(ax, "candidate forms and their mixture",
           f"{len(mixed.forms)} forms fitted to {ensemble.members[0].fit.n_rows:,} runs", f"{100 * level:g}% bands")
    if top is not None:
        _mark_extrapolation(ax, top)
    ax.legend(frameon=False, fontsize="small")
    return ax


def link(two, data, *, link_rows=None, prediction=None, ax=None, level: float = 0.95):
    """A two-stage prediction's link (`jscale.two_stage`): the metric against the loss.

    The runs the link was fitted on (`data.subset(link_rows)`: the loss fit's target column, usually
    "loss", against the metric), the fitted link m(L) over a loss grid reaching a little beyond
    them, and its `level` percentile band over the converged draws of the link's joint bootstrap
    when there is one. A `prediction` (a `jscale.results.Prediction` of `two.predict` or
    `two.predict_optimal`) is marked at its predicted (loss, metric), with the `level` bands of
    both as error bars when it has draws. A dotted line marks the lowest fitted loss: left of it
    the link extrapolates.

    Args:
        two: the `TwoStage` result.
        data: the ScalingData the stages were fitted on (as passed to `jscale.two_stage`).
        link_rows: the rows of `data` the link was fitted on, a boolean mask or row indices
            (default: all rows), as passed to `jscale.two_stage`.
        prediction: a `Prediction` to mark, or None.
    """
    if not isinstance(two, TwoStage):
        raise TypeError(f"link needs a TwoStage (from jscale.two_stage); got {type(two).__name__}.")
    if not isinstance(data, ScalingData):
        raise TypeError(f"data must be the ScalingData the stages were fitted on; got {type(data).__name__}.")
    if prediction is not None and not isinstance(prediction, Prediction):
        raise TypeError(f"prediction must be a Prediction (from TwoStage.predict or predict_optimal); got "
                        f"{type(prediction).__name__}.")
    fit, loss_column, metric = two.link_fit, two.loss_fit.target, two.metric_name
    others = [c for c in fit.law.columns if c != loss_column]
    if others:
        raise ValueError(f"link draws a link of the loss alone; the {fit.law.name} link also reads "
                         f"{', '.join(others)}.")
    if prediction is not None and prediction.metric_name != metric:
        raise ValueError(f"prediction is of {prediction.metric_name!r} but the link predicts {metric!r}; pass a "
                         "prediction of this TwoStage.")
    rows = data if link_rows is None else data.subset(link_rows)
    if len(rows) != fit.n_rows:
        raise ValueError(f"the link was fitted to {fit.n_rows} rows but the rows of data are {len(rows)}; pass the "
                         "data and the link_rows= given to jscale.two_stage.")
    level = check_level(level)
    ax = _axes(ax)
    x, y = np.asarray(rows[loss_column], np.float64), np.asarray(rows[metric], np.float64)
    marked = None if prediction is None else _prediction_bands(prediction, level)
    # The grid reaches the predicted points (and their loss bands) too: they are usually beyond the runs.
    span = np.concatenate([x] + ([] if marked is None else [np.asarray(prediction.loss), *marked[0]]))
    low, high = float(np.nanmin(span)), float(np.nanmax(span))
    pad = 0.08 * (high - low) if high > low else 0.05 * max(abs(low), 1.0)
    grid = np.linspace(low - pad, high + pad, 200)
    ax.scatter(x, y, s=14, color="0.55", edgecolors="none", label=f"runs the link was fitted on ({len(x)})")
    ax.plot(grid, _quiet(fit.predict, **{loss_column: grid}), color="C0", label=f"{fit.law.name} at the full fit")
    if two.link_boot is not None:
        band_low, band_high = _quiet(two.link_boot.predict_interval, **{loss_column: grid}, level=level)
        ax.fill_between(grid, band_low, band_high, color="C0", alpha=0.2, linewidth=0,
                        label=f"{100 * level:g}% band ({two.link_boot.n_converged} converged draws)")
    ax.axvline(float(x.min()), color="0.4", linestyle=":", linewidth=0.8, label="lowest fitted loss")
    if prediction is not None:
        loss_band, metric_band = marked
        ax.scatter(prediction.loss, prediction.metric, marker="D", s=28, color="C3", zorder=3,
                   label=f"predicted ({len(prediction.loss)} point{'s' if len(prediction.loss) != 1 else ''})")
        if metric_band is not None:
            ax.vlines(prediction.loss, metric_band[0], metric_band[1], color="C3", linewidth=1.2, zorder=3)
            ax.hlines(prediction.metric, loss_band[0], loss_band[1], color="C3", linewidth=1.2, zorder=3)
    xlabel = "loss (nats/token)" if loss_column == "loss" else loss_column
    ax.set(xlabel=xlabel, ylabel=metric)
    _title(ax, f"{metric} against {loss_column}", _fitted(fit),
           f"{100 * level:g}% bands" if two.link_boot is not None else None)
    ax.legend(frameon=False, fontsize="small")
    return ax


def _prediction_bands(prediction, level):
    """((low, high) of the loss or the point losses, (low, high) of the metric or None) of a Prediction."""
    if prediction.draws is None:
        return (prediction.loss, prediction.loss), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a point with no usable draw: a NaN band
        return prediction.interval("loss", level), prediction.interval("metric", level)


def multiplier(comparison, *, ax=None, level: float = 0.95, data_max: float | None = None):
    """The effective compute multiplier m(C) of a `jscale.compare` result against the budget C.

    Log-log axes: m(C) (B's compute for A's compute-optimal loss at C, divided by C; above the line
    m = 1, A is the better recipe), its `level` band when the comparison has one (bootstrap draws or
    delta-method sds), and the crossover (a dotted vertical line, with its band) when the two
    cross.

    m is infinite where B never reaches A's loss (within a factor 1e10 of the compute) and 0 where
    B reaches it with less than 1e-10 C; neither fits on a log axis. There the line is cut and an
    "inf" (or "0") at the top (or bottom) edge marks each such budget. A band whose upper end is
    infinite (B out of reach in some draws) is drawn to the top edge of the plot and marked with
    an arrow "^" there ("band unbounded above"); one whose lower end is 0, to the bottom edge, with
    a "v". A band with no finite end (m infinite, or 0, in most draws) is left out, and the edge
    mark says why.

    A Comparison holds m(C) only at the budgets it was evaluated at, and the curve joins them with
    straight lines: for a smooth curve, compare at many budgets, e.g.
    `jscale.compare(a, b, np.geomspace(1e20, 1e25, 50))`. Fewer than 10 budgets are drawn as
    points. `data_max` (a budget, e.g. the smaller of the two fitted data's largest compute) marks
    where extrapolation begins.
    """
    if not isinstance(comparison, Comparison):
        raise TypeError(f"multiplier needs a Comparison (from jscale.compare); got {type(comparison).__name__}.")
    level = check_level(level)
    ax = _axes(ax)
    ax.set(xscale="log", yscale="log")
    compute = np.asarray(comparison.compute, np.float64)
    m = np.asarray(comparison.multiplier, np.float64)
    shown = np.isfinite(m) & (m > 0)
    ax.plot(compute, np.where(shown, m, np.nan), color="C0", marker="o" if len(compute) < 10 else None,
            markersize=4, label=f"m(C), {comparison.law_b.name} (B) against {comparison.law_a.name} (A)")
    banded = comparison.draws is not None or comparison.sd is not None
    low = high = None
    if banded:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # infinite draws or sds: NaN ends, not drawn
            low, high = (np.asarray(v, np.float64) for v in comparison.interval("multiplier", level))
    # Fixed limits, from every finite value: a band unbounded above runs to the top of these.
    finite = [v[np.isfinite(v) & (v > 0)] for v in ([m] if low is None else [m, low, high])]
    bottom, top = _log_limits(np.concatenate([np.ones(1), *finite]))
    ax.set_ylim(bottom, top)
    edge = ax.get_xaxis_transform()  # x in data, y in axes fraction: marks at the edges
    if banded:
        # An infinite end is drawn at the plot's edge; a band with no finite end is not drawn.
        drawn = (low < np.inf) & (high > 0)  # False where NaN too
        up, down = drawn & (high == np.inf), drawn & (low == 0)
        ax.fill_between(compute, np.where(low > 0, low, bottom), np.minimum(high, top), where=drawn, color="C0",
                        alpha=0.2, linewidth=0, label=f"{100 * level:g}% band")
        for mask, y, marker, what in ((up, 0.975, "^", "above (B out of reach"), (down, 0.025, "v", "below (m = 0")):
            if mask.any():
                ax.plot(compute[mask], np.full(mask.sum(), y), transform=edge, linestyle="none", marker=marker,
                        markersize=6, color="C0", alpha=0.6, label=f"band unbounded {what} in some draws)")
    for mask, y, marker, what in ((m == np.inf, 0.92, r"$\infty$", "m = inf: B never reaches A's loss within 1e10 C"),
                                  (m == 0, 0.08, "$0$", "m = 0: B reaches A's loss with under 1e-10 C")):
        if mask.any():
            ax.plot(compute[mask], np.full(mask.sum(), y), transform=edge, linestyle="none", marker=marker,
                    markersize=9, color="C0", label=what)
    ax.axhline(1.0, color="0.3", linewidth=1, label="m = 1: equal loss")
    crossover = float(comparison.crossover)
    if np.isfinite(crossover):
        ax.axvline(crossover, color="C3", linestyle=":", linewidth=1.2, label=f"crossover C = {crossover:.3g}")
    ax.set(xlabel="compute budget C (FLOP)", ylabel="compute multiplier m(C) (> 1: A is better)")
    # The recipes are named in the legend: two law names in the title would run off the figure.
    _title(ax, "effective compute multiplier of B against A", None, f"{100 * level:g}% band" if banded else None)
    if np.isfinite(crossover) and banded:
        cross_low, cross_high = comparison.interval("crossover", level)
        if np.isfinite(cross_low) and np.isfinite(cross_high):
            ax.set_xlim(*ax.get_xlim())  # a wide band of the crossover would squeeze the curve
            ax.axvspan(cross_low, cross_high, color="C3", alpha=0.1, linewidth=0)
    if data_max is not None:
        _mark_extrapolation(ax, float(data_max))
    ax.legend(frameon=False, fontsize="small")
    return ax


def _log_limits(values):
    """(bottom, top) of a log axis over positive `values`, with 5% of the span (at least a tenth
    of a decade) of room on each side."""
    low, high = np.log10(values.min()), np.log10(values.max())
    pad = max(0.05 * (high - low), 0.1)
    return 10 ** (low - pad), 10 ** (high + pad)


def residuals(result, data, *, ax=None, against: str = "predicted"):
    """Observed against predicted loss (`against="predicted"`, with the identity line), or the log
    residuals log L - log L_hat against compute (`against="compute"`, with the zero line); points
    coloured by compute."""
    fit, _ = _fit_of(result)
    if against not in ("predicted", "compute"):
        raise ValueError(f"against must be 'predicted' or 'compute'; got {against!r}.")
    ax = _axes(ax)
    predicted = fit.predict(data)
    compute = _compute(data)
    resid = np.log(data.loss) - np.log(predicted)
    rms = float(np.sqrt(np.mean(resid**2)))
    # The runs shown need not be the ones fitted: the note counts these, the title names the fit.
    ax.annotate(f"RMS log residual {rms:.4f} over {len(data):,} runs", xy=(0.98, 0.03), xycoords="axes fraction",
                ha="right", fontsize="small", color="0.3")
    if against == "compute":
        _colour_by_compute(ax, compute, resid, compute)
        ax.axhline(0.0, color="0.3", linewidth=1)
        ax.set(xscale="log", xlabel="training compute C (FLOP)", ylabel="log residual, log L - log L_hat")
        _title(ax, "log residuals", _fitted(fit))
        return ax
    _colour_by_compute(ax, predicted, data.loss, compute)
    lo, hi = min(predicted.min(), data.loss.min()), max(predicted.max(), data.loss.max())
    ax.plot([lo, hi], [lo, hi], color="0.3", linewidth=1, label="observed = predicted")
    ax.set(xlabel="predicted loss (nats/token)", ylabel="observed loss (nats/token)")
    _title(ax, "observed against predicted loss", _fitted(fit))
    ax.legend(frameon=False, loc="upper left")
    return ax


def corner(boot, *, params=None, fig=None, bins: int = 40):
    """Corner plot of bootstrap draws: histograms on the diagonal, pairwise scatter below.

    Positive parameters are drawn on log axes. Returns the Figure.
    """
    if not isinstance(boot, BootstrapResult):
        raise TypeError(f"corner needs a BootstrapResult; got {type(boot).__name__}.")
    law = boot.law
    names = list(law.param_names if params is None else params)
    # Converged draws with every shown parameter finite (a draw can overflow, e.g. A = exp(800),
    # far outside the data); histograms need finite values.
    keep = boot.draw_ok & np.all([np.isfinite(np.asarray(boot.draws[n])) for n in names], axis=0)
    draws = {n: np.asarray(boot.draws[n])[keep] for n in names}
    left_out = int(boot.draw_ok.sum() - keep.sum())
    positive = dict(zip(law.param_names, law.positive))
    plt = _pyplot()
    k = len(names)
    fig = plt.figure(figsize=(1.9 * k + 0.6, 1.9 * k + 0.6)) if fig is None else fig
    # Fixed margins: a constrained layout of k x k axes takes seconds to solve. Only the lower
    # triangle gets axes (each costs time to make and to draw).
    grid = fig.add_gridspec(k, k, left=0.1, right=0.98, bottom=0.08, top=0.94, wspace=0.35, hspace=0.35)
    for i, yi in enumerate(names):
        for j, xj in enumerate(names[:i + 1]):
            ax = fig.add_subplot(grid[i, j])
            x = np.log10(draws[xj]) if positive[xj] else draws[xj]
            if i == j:
                ax.hist(x, bins=bins, color="C0", alpha=0.8, histtype="stepfilled")  # one patch, not 40 bars
                ax.set_yticks([])
            else:
                y = np.log10(draws[yi]) if positive[yi] else draws[yi]
                ax.scatter(x, y, s=2, alpha=0.3, color="C0", edgecolors="none")
                if j == 0:
                    ax.set_ylabel(f"log10 {yi}" if positive[yi] else yi)
            if i == k - 1:
                ax.set_xlabel(f"log10 {xj}" if positive[xj] else xj)
            ax.tick_params(labelsize="x-small")
            ax.locator_params(nbins=4)  # small panels: a few ticks read better (and draw faster)
    fig.suptitle(f"bootstrap draws: {_fitted(boot.fit)} ({int(keep.sum())} draws"
                 + (f"; {left_out} with an infinite parameter left out)" if left_out else ")"))
    return fig


def _logged(curves, where: str) -> list:
    """[(name, schedule, steps, losses)] of a mapping name -> (schedule, checkpoint steps, losses), each
    curve's checkpoints in step order; TypeError or ValueError naming `where` and the curve."""
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError(f"{where} must be a non-empty mapping name -> (schedule, checkpoint steps, losses), as "
                        f"fit_curves takes; got {type(curves).__name__}.")
    out = []
    for name, value in curves.items():
        if not isinstance(value, (tuple, list)) or len(value) != 3:
            raise ValueError(f"{where}: curve {name!r} must be (schedule, checkpoint steps, losses); got "
                             f"{type(value).__name__}.")
        schedule, steps, loss = value
        steps, loss = np.asarray(steps, np.float64), np.asarray(loss, np.float64)
        if steps.ndim != 1 or steps.size == 0 or loss.shape != steps.shape:
            raise ValueError(f"{where}: curve {name!r} needs 1-D steps and losses of one length; got shapes "
                             f"{steps.shape} and {loss.shape}.")
        if not np.all(np.isfinite(steps) & (steps == np.round(steps)) & (steps >= 0)):
            raise ValueError(f"{where}: curve {name!r}'s checkpoint steps must be whole numbers >= 0.")
        order = np.argsort(steps, kind="stable")
        out.append((str(name), schedule, steps[order].astype(np.int64), loss[order]))
    return out


def _loss_limits(ax, shown):
    """Loss limits over the points of `shown` ((steps, losses) pairs) past the first tenth of the
    last step, with 5% of room: the steep early drop of a training curve runs off the top instead
    of flattening the end, where schedules differ. Nothing is set when that would clip nothing."""
    last = max(float(np.max(s)) for s, _ in shown)
    every = np.concatenate([np.ravel(v) for _, v in shown])
    later = np.concatenate([np.ravel(v)[np.ravel(s) >= 0.1 * last] for s, v in shown])
    every, later = every[np.isfinite(every)], later[np.isfinite(later)]
    if later.size == 0 or later.max() >= every.max():
        return
    low, high = float(later.min()), float(later.max())
    pad = 0.05 * (high - low) if high > low else 0.01 * abs(high)
    ax.set_ylim(low - pad, high + pad)


def curves(fit, curves, *, ax=None):
    """Training curves and the fitted multi-power law through them (`jscale.curves.fit_curves`).

    Loss against step: each curve's logged checkpoints (small hollow markers) and the law's loss
    under its schedule (a line of the same colour) from its first checkpoint to its last, from one
    `predict_curves` call. The legend names the curves; a note gives the RMS log residual over
    the checkpoints shown. The loss axis spans the losses past the first tenth of the steps: the
    steep early drop runs off its top.

    Args:
        fit: the `FitResult` of `fit_curves` (a `BootstrapResult` of `bootstrap_curves`: its full
            fit), or the law's natural parameters (a mapping name -> value, as `fit.params`).
        curves: a mapping name -> (schedule or per-step rates, checkpoint steps, losses), as
            `fit_curves` takes (the fitted curves, or others logged under other schedules).

    Example:
        >>> fit = jscale.curves.fit_curves(logged)  # doctest: +SKIP
        >>> jscale.plot.curves(fit, logged).figure.savefig("curves.png")  # doctest: +SKIP
    """
    logged = _logged(curves, "curves")
    if isinstance(fit, BootstrapResult):
        fit = fit.fit
    source = f"{_form(fit.law.name)} fitted to {fit.n_rows:,} checkpoints" if isinstance(fit, FitResult) \
        else "multipower law at the given parameters"
    # The line: every checkpoint and a grid between the first and the last (whole steps).
    grids = [np.union1d(steps, np.linspace(steps[0], steps[-1], 256).round().astype(np.int64))
             for _, _, steps, _ in logged]
    lines = predict_curves(fit, [(sched, grid) for (_, sched, _, _), grid in zip(logged, grids)]).split()
    ax = _axes(ax)
    residual = []
    for k, ((name, _, steps, loss), grid, line) in enumerate(zip(logged, grids, lines)):
        colour = f"C{k}"
        ax.plot(steps, loss, linestyle="none", marker="o", markersize=3.5, markerfacecolor="none",
                markeredgewidth=0.8, color=colour, alpha=0.8)
        ax.plot(grid, line, color=colour, linewidth=1.3, label=name)
        residual.append(np.log(loss) - np.log(line[np.searchsorted(grid, steps)]))
    residual = np.concatenate(residual)
    ax.annotate(f"RMS log residual {np.sqrt(np.mean(residual ** 2)):.2g} over {residual.size:,} checkpoints",
                xy=(0.98, 0.03), xycoords="axes fraction", ha="right", fontsize="small", color="0.3")
    ax.set(xlabel="training step", ylabel="loss (nats/token)")
    _loss_limits(ax, [(s, v) for _, _, s, v in logged] + list(zip(grids, lines)))
    _title(ax, "training curves", source)
    ax.legend(frameon=False, fontsize="small", title="logged (o) and fitted (line)", title_fontsize="small")
    return ax


def curve_prediction(prediction, *, observed=None, names=None, ax=None, level: float = 0.95):
    """Predicted training curves (`jscale.curves.predict_curves`) with their bands.

    Loss against step, one colour per schedule of the prediction: the predicted loss at its
    checkpoints (a line; points when it has fewer than 10) and, when the prediction has bootstrap
    draws (`predict_curves(bootstrap_curves(...), ...)`), the `level` percentile band over them
    (shaded; an error bar at a single checkpoint). `observed` curves are overlaid as markers: in
    the colour of the schedule of the same name in `names`, else in a colour of their own. The
    loss axis spans the losses past the first tenth of the steps, as in `curves`.

    Args:
        prediction: a `CurvePrediction` of K checkpoints on one or more schedules.
        observed: optional logged curves, a mapping name -> (schedule, checkpoint steps, losses)
            as `fit_curves` takes (the schedule is not read).
        names: the schedules' names, one per schedule in the order given to `predict_curves`
            (default "schedule 1", "schedule 2", ...).
        level: the bands' level, in (0, 1).

    Example:
        >>> boot = jscale.curves.bootstrap_curves(logged, fit, key=0)  # doctest: +SKIP
        >>> prediction = jscale.curves.predict_curves(boot, [(wsd, np.arange(100, 9000, 100))])  # doctest: +SKIP
        >>> jscale.plot.curve_prediction(prediction, names=["wsd"], observed=logged)  # doctest: +SKIP
    """
    from matplotlib.patches import Patch

    if not isinstance(prediction, CurvePrediction):
        raise TypeError(f"curve_prediction needs a CurvePrediction (from jscale.curves.predict_curves); got "
                        f"{type(prediction).__name__}.")
    level = check_level(level)
    n_schedules = len(prediction.offsets) - 1
    if names is None:
        names = [f"schedule {k + 1}" for k in range(n_schedules)]
    elif isinstance(names, str) or len(names) != n_schedules:
        raise ValueError(f"names must be a sequence of {n_schedules} names, one per schedule of the prediction; got "
                         f"{names!r}.")
    names = [str(n) for n in names]
    logged = [] if observed is None else _logged(observed, "observed")
    banded = prediction.draws is not None
    steps, loss = prediction.split(prediction.points()["step"]), prediction.split()
    shown = list(zip(steps, loss)) + [(s, v) for _, _, s, v in logged]
    if banded:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a checkpoint with no usable draw: a NaN band
            low, high = (prediction.split(v) for v in prediction.interval("loss", level))
        shown += list(zip(steps, low)) + list(zip(steps, high))
    n_draws = 0 if not banded else int(np.asarray(prediction.draw_ok).any(axis=1).sum())
    ax = _axes(ax)
    for k, name in enumerate(names):
        colour = f"C{k}"
        ax.plot(steps[k], loss[k], color=colour, marker="o" if len(steps[k]) < 10 else None, markersize=4,
                label=name)
        if banded and len(steps[k]) > 1:
            ax.fill_between(steps[k], low[k], high[k], color=colour, alpha=0.2, linewidth=0)
        elif banded:
            ax.vlines(steps[k], low[k], high[k], color=colour, linewidth=1.5, alpha=0.6)
    extra = n_schedules
    for name, _, at, value in logged:
        if name in names:
            colour, label = f"C{names.index(name)}", f"{name}, observed"
        else:
            colour, label, extra = f"C{extra}", f"{name} (observed)", extra + 1
        ax.plot(at, value, linestyle="none", marker="o", markersize=3.5, markerfacecolor="none",
                markeredgewidth=0.8, color=colour, alpha=0.8, label=label)
    ax.set(xlabel="training step", ylabel="loss (nats/token)")
    _loss_limits(ax, shown)
    # The prediction's source names its law ("the multipower law and its bootstrap draws").
    law = prediction.source.removeprefix("the ").removesuffix(" and its bootstrap draws") or None
    _title(ax, "predicted curves", law if not banded else f"{law or 'curve law'}, {n_draws} bootstrap draws",
           f"{100 * level:g}% bands" if banded else None)
    handles, labels = ax.get_legend_handles_labels()
    if banded:  # one grey entry for the bands of every colour
        handles.append(Patch(color="0.5", alpha=0.3, linewidth=0))
        labels.append(f"{100 * level:g}% band")
    ax.legend(handles, labels, frameon=False, fontsize="small")
    return ax


def schedule(best, *, ax=None, level: float = 0.95):
    """The optimised learning-rate schedule (`jscale.curves.best_schedule`) beside cosine and WSD.

    The per-step rates of the three schedules against the step (the best one's knots marked),
    each labelled with its predicted objective (the final loss, or the mean loss of the last k
    steps) under the fitted law; the baselines' labels give the best schedule's gain over them
    (their loss minus the best one's) and, when the result has parameter draws, the `level`
    percentile band of the gain over them. The legend sits above the peak rate.

    Example:
        >>> best = jscale.curves.best_schedule(fit, steps=24000, peak=3e-4, warmup=2160)  # doctest: +SKIP
        >>> jscale.plot.schedule(best).figure.savefig("schedule.png")  # doctest: +SKIP
    """
    from matplotlib.ticker import FuncFormatter

    if not isinstance(best, BestSchedule):
        raise TypeError(f"schedule needs a BestSchedule (from jscale.curves.best_schedule); got "
                        f"{type(best).__name__}.")
    level = check_level(level)
    banded = best.draw_losses is not None
    what = "final loss" if best.objective == "final" else f"mean loss of the last {best.objective} steps"
    ax = _axes(ax)
    step = np.arange(best.steps)

    def gain(name, value):
        if not banded:
            return f", gain {value:.3g}"
        low, high = best.interval(f"gain_{name}", level)
        return f", gain {value:.3g} ({low:.3g} to {high:.3g})"

    ax.plot(step, best.rates, color="C3", linewidth=1.6, label=f"best: {best.loss:.4f}")
    ax.plot(best.knot_steps, best.knot_rates, linestyle="none", marker="o", markersize=3, color="C3",
            label=f"its {len(best.knot_steps)} knots")
    ax.plot(step, best.cosine.lr(), color="C0", linewidth=1.2,
            label=f"cosine: {best.cosine_loss:.4f}" + gain("cosine", best.gain_cosine))
    ax.plot(step, best.wsd.lr(), color="C2", linewidth=1.2,
            label=f"WSD from step {best.wsd.decay_start}: {best.wsd_loss:.4f}" + gain("wsd", best.gain_wsd))
    # Rates in units of a power of ten, named in the label: matplotlib's offset text would sit on the title.
    power = int(np.floor(np.log10(best.peak)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 10.0 ** power:g}"))
    # Room above the peak for the legend: the rates never pass it.
    ax.set(xlabel="training step", ylabel="learning rate" + (f" (x 1e{power})" if power else ""),
           ylim=(0.0, 1.6 * best.peak))
    _title(ax, "best schedule, cosine and WSD", "multipower law", f"{100 * level:g}% bands" if banded else None)
    heading = f"predicted {what}" + (f"; the best's gain ({best.n_draws} draws)" if banded else "; the best's gain")
    ax.legend(frameon=False, fontsize="small", title=heading, title_fontsize="small", loc="upper left",
              alignment="left")
    return ax


def _quiet(fn, *args, **kwargs):
    """fn(...) without interval notes or extrapolation warnings: a plot shows the data's range."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntervalWarning)
        warnings.simplefilter("ignore", ExtrapolationWarning)
        return fn(*args, **kwargs)
