"""jscale.plot: every plot renders to a PNG without warnings."""

import warnings

import numpy as np
import pytest

import jscale

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import jscale.plot as jplot  # noqa: E402


@pytest.fixture(scope="module")
def fitted(grid_fit):
    data = jscale.datasets.load("chinchilla")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
        boot = jscale.bootstrap(jscale.laws.Chinchilla(), data, n_resamples=100, key=0, full_fit=grid_fit,
                                starts="optimum", jackknife=False)
    return data, grid_fit, boot


@pytest.mark.parametrize("kind", ["frontier", "frontier-fit", "isoflop", "allocation", "residuals", "residuals-compute",
                                  "corner"])
def test_plot_renders_without_warnings(fitted, kind, tmp_path):
    import matplotlib.pyplot as plt

    data, fit, boot = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if kind == "frontier":
            figure = jplot.frontier(boot, data).figure
        elif kind == "frontier-fit":
            figure = jplot.frontier(fit, data).figure
        elif kind == "isoflop":
            figure = jplot.isoflop(fit, data).figure
        elif kind == "allocation":
            with pytest.warns(jscale.warnings.ExtrapolationWarning):  # the budgets go beyond the data, as asked
                curves = jscale.compute_optimal(boot, np.logspace(19, 25, 20))
            figure = jplot.allocation(curves).figure
        elif kind == "residuals":
            figure = jplot.residuals(boot, data).figure
        elif kind == "residuals-compute":
            figure = jplot.residuals(fit, data, against="compute").figure
        else:
            figure = jplot.corner(boot, params=["E", "alpha", "beta"])
        path = tmp_path / f"{kind}.png"
        figure.savefig(path, dpi=60)
    plt.close(figure)
    assert path.stat().st_size > 5_000


def test_plot_on_given_axes_and_errors(fitted):
    import matplotlib.pyplot as plt

    data, fit, _ = fitted
    fig, ax = plt.subplots()
    assert jplot.residuals(fit, data, ax=ax) is ax
    plt.close(fig)
    with pytest.raises(TypeError, match="corner needs a BootstrapResult"):
        jplot.corner(fit)
    with pytest.raises(TypeError, match="expected a FitResult or a BootstrapResult"):
        jplot.residuals("fit", data)


def test_corner_leaves_out_draws_with_an_infinite_parameter(fitted):
    """A draw can overflow (A = exp(800) far outside the data): the corner plot drops it and says so."""
    _, _, boot = fitted
    free = np.array(boot.end_params)
    free[0, :, 1] = 800.0  # log A of every start of resample 0: A = inf
    broken = boot.replace(end_params=free)
    assert np.isinf(broken.draws["A"][0]) and broken.draw_ok[0]
    figure = jplot.corner(broken, params=["E", "A"])
    kept = int(broken.draw_ok.sum()) - 1
    assert figure._suptitle.get_text() == (f"bootstrap draws: chinchilla law fitted to 240 runs ({kept} draws; 1 with "
                                           "an infinite parameter left out)")
    jplot._pyplot().close(figure)


def test_titles_name_what_is_shown_and_the_law_as_the_form_fitted(fitted):
    """The law's name alone ("chinchilla") reads like the data's: every title says what is shown,
    then the law as the form fitted to so many runs."""
    data, fit, boot = fitted
    source = f"chinchilla law fitted to {fit.n_rows} runs"
    assert fit.n_rows == 240
    with pytest.warns(jscale.warnings.ExtrapolationWarning):
        curves = jscale.compute_optimal(boot, np.logspace(19, 25, 5))
    titles = {
        "frontier": jplot.frontier(boot, data).get_title(),
        "isoflop": jplot.isoflop(fit, data).get_title(),
        "residuals": jplot.residuals(fit, data).get_title(),
        "residuals-compute": jplot.residuals(fit, data, against="compute").get_title(),
        "allocation": jplot.allocation(curves).get_title(),
        "corner": jplot.corner(boot, params=["E", "alpha"])._suptitle.get_text(),
    }
    assert titles == {
        "frontier": f"loss frontier: {source} (95% band)",
        "isoflop": f"isoFLOP slices: {source}",
        "residuals": f"observed against predicted loss: {source}",
        "residuals-compute": f"log residuals: {source}",
        "allocation": "compute-optimal allocation: chinchilla law (95% bands)",
        "corner": f"bootstrap draws: {source} ({int(boot.draw_ok.sum())} draws)",
    }
    jplot._pyplot().close("all")


def test_isoflop_slices_are_solid_over_the_runs_and_dashed_beyond(fitted):
    import matplotlib.collections

    data, fit, _ = fitted
    ax = jplot.isoflop(fit, data, n_slices=4)
    slices = [c for c in ax.collections if isinstance(c, matplotlib.collections.PathCollection)]
    assert len(slices) == 4 and len(ax.lines) == 8  # per slice: its runs, the fit over them, the fit beyond
    for k, runs in enumerate(slices):
        n = runs.get_offsets()[:, 0]
        inside, beyond = ax.lines[2 * k], ax.lines[2 * k + 1]
        assert inside.get_linestyle() == "-" and beyond.get_linestyle() == "--"
        x = inside.get_xdata()
        np.testing.assert_allclose([x.min(), x.max()], [n.min(), n.max()], rtol=1e-12)
        out = beyond.get_xdata()
        gap = np.isnan(out)
        assert gap.sum() == 1  # two ends, not joined across the runs
        out = out[~gap]
        assert np.all((out <= n.min() * (1 + 1e-12)) | (out >= n.max() * (1 - 1e-12)))
        np.testing.assert_allclose([out.min(), out.max()], [n.min() / 10**0.2, n.max() * 10**0.2], rtol=1e-12)
        # the dashed ends continue the solid curve, and both are the fitted law at the slice's compute
        ends = beyond.get_ydata()[~gap]
        np.testing.assert_allclose(ends[[8, 9]], inside.get_ydata()[[0, -1]], rtol=1e-12)
        c = float(inside.get_label().removeprefix("C = "))
        np.testing.assert_allclose(inside.get_ydata()[[0, -1]],
                                   jplot._quiet(fit.predict, n_params=x[[0, -1]], n_tokens=c / (6 * x[[0, -1]])),
                                   rtol=0.05)  # the label rounds C to 2 digits
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels.count("beyond the slice's runs") == 1
    jplot._pyplot().close("all")
