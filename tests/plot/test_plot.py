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
    assert "(1 with an infinite parameter left out)" in figure._suptitle.get_text()
    jplot._pyplot().close(figure)
