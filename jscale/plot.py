"""Standard plots of fits, bands and allocations (matplotlib, the optional `plot` extra).

Every function takes a result (and the data where it plots them), an optional matplotlib `Axes`
(a new figure when omitted) and returns the `Axes` (the `Figure` for `corner`). Axes are
logarithmic where the quantity spans decades, labelled with units, and points are coloured by
compute. Install matplotlib with `pip install "jscale[plot]"`.

Example:
    >>> import jscale, jscale.plot  # doctest: +SKIP
    >>> data = jscale.datasets.load("chinchilla")  # doctest: +SKIP
    >>> result = jscale.fit(jscale.laws.Chinchilla(), data)  # doctest: +SKIP
    >>> jscale.plot.frontier(result, data).figure.savefig("frontier.png")  # doctest: +SKIP
"""

from __future__ import annotations

import warnings

import numpy as np

from jscale._allocation import compute_optimal
from jscale._isoflop import IsoFLOPResult, group_by_compute
from jscale._results import BootstrapResult, FitResult
from jscale._warnings import ExtrapolationWarning, IntervalWarning

__all__ = ["allocation", "corner", "frontier", "isoflop", "isoflop_optimum", "isoflop_parabolas", "residuals"]


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
    ax.set(xscale="log", xlabel="training compute C (FLOP)", ylabel="loss (nats/token)",
           title=f"{_fit_of(result)[0].law.name}: loss frontier")
    _mark_extrapolation(ax, float(compute.max()))
    ax.legend(frameon=False)
    return ax


def isoflop(result, data, *, ax=None, n_slices: int = 6, rtol: float = 0.1):
    """IsoFLOP slices: loss against N for runs of (nearly) equal compute, with the fit at that compute.

    Runs are grouped by compute (within `rtol`, relative); the `n_slices` largest groups are drawn,
    each with the fitted loss along N at its median compute (D = C / 6N).
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
        grid = np.logspace(np.log10(n.min()) - 0.2, np.log10(n.max()) + 0.2, 80)
        ax.plot(grid, _quiet(fit.predict, n_params=grid, n_tokens=c / (6 * grid)), color=colour, label=f"C = {c:.2g}")
    ax.set(xscale="log", xlabel="parameters N", ylabel="loss (nats/token)", title=f"{fit.law.name}: isoFLOP slices")
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
    ax.set(xscale="log", xlabel="parameters N", ylabel="loss (nats/token)",
           title="isoFLOP parabolas and their minima" + (f" ({100 * level:g}% bands of N*)" if banded else ""))
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
    line = result.predict(c, level)
    ax.plot(c, line["n_params"], color="C0", label=f"N* ~ C^{result.exponents['a']:.3f} (Approach 2)")
    if "n_params_low" in line:
        ax.fill_between(c, line["n_params_low"], line["n_params_high"], color="C0", alpha=0.2, linewidth=0)
    if approach3 is not None:
        other = _quiet(compute_optimal, approach3, c)
        ax.plot(c, other.n_params, color="C3", label=f"{_fit_of(approach3)[0].law.name} fit (Approach 3)")
        if other.draws is not None or other.sd is not None:
            low, high = other.interval("n_params", level)
            ax.fill_between(c, low, high, color="C3", alpha=0.2, linewidth=0)
    ax.set(xscale="log", yscale="log", xlabel="compute budget C (FLOP)", ylabel="compute-optimal parameters N*",
           title=f"compute-optimal N*(C) ({100 * level:g}% bands)")
    _mark_extrapolation(ax, float(result.budgets[used].max()))
    ax.legend(frameon=False, loc="lower right")
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
    ax.set(xscale="log", yscale="log", xlabel="compute budget C (FLOP)", ylabel="parameters / tokens",
           title=f"compute-optimal allocation{f' ({100 * level:g}% bands)' if banded else ''}")
    if data_max is not None:
        _mark_extrapolation(ax, data_max)
    ax.legend(frameon=False)
    return ax


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
    if against == "compute":
        _colour_by_compute(ax, compute, resid, compute)
        ax.axhline(0.0, color="0.3", linewidth=1)
        ax.set(xscale="log", xlabel="training compute C (FLOP)", ylabel="log residual, log L - log L_hat",
               title=f"{fit.law.name}: residuals (RMS {rms:.4f})")
        return ax
    _colour_by_compute(ax, predicted, data.loss, compute)
    lo, hi = min(predicted.min(), data.loss.min()), max(predicted.max(), data.loss.max())
    ax.plot([lo, hi], [lo, hi], color="0.3", linewidth=1, label="observed = predicted")
    ax.set(xlabel="predicted loss (nats/token)", ylabel="observed loss (nats/token)",
           title=f"{fit.law.name}: fit (RMS log residual {rms:.4f})")
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
    draws = {n: np.asarray(boot.draws[n])[boot.converged] for n in names}
    positive = dict(zip(law.param_names, law.positive))
    plt = _pyplot()
    k = len(names)
    fig = plt.figure(figsize=(1.9 * k + 0.6, 1.9 * k + 0.6)) if fig is None else fig
    # Fixed margins: a constrained layout of k x k axes takes seconds to solve.
    axes = fig.subplots(k, k, squeeze=False, gridspec_kw=dict(left=0.1, right=0.98, bottom=0.08, top=0.94,
                                                                wspace=0.35, hspace=0.35))
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            x = np.log10(draws[xj]) if positive[xj] else draws[xj]
            if i == j:
                ax.hist(x, bins=bins, color="C0", alpha=0.8)
                ax.set_yticks([])
            else:
                y = np.log10(draws[yi]) if positive[yi] else draws[yi]
                ax.scatter(x, y, s=2, alpha=0.3, color="C0", edgecolors="none")
                if j == 0:
                    ax.set_ylabel(f"log10 {yi}" if positive[yi] else yi)
            if i == k - 1:
                ax.set_xlabel(f"log10 {xj}" if positive[xj] else xj)
            ax.tick_params(labelsize="x-small")
    fig.suptitle(f"{law.name}: {len(next(iter(draws.values())))} bootstrap draws")
    return fig


def _quiet(fn, *args, **kwargs):
    """fn(...) without interval notes or extrapolation warnings: a plot shows the data's range."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntervalWarning)
        warnings.simplefilter("ignore", ExtrapolationWarning)
        return fn(*args, **kwargs)
