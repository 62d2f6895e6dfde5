"""jscale.plot's hyperparameter plots: per-cell parabolas with optimum bands, the power law with its band."""

import sys
from pathlib import Path

import numpy as np
import pytest

import jscale

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import jscale.plot as jplot  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "sweeps"))
from test_hyper import lr_study  # noqa: E402


@pytest.fixture(scope="module")
def sweep():
    data = lr_study(noise=0.003, seed=2)
    with pytest.warns(jscale.warnings.SweepWarning):  # wide sweeps, named with their bias
        result = jscale.hyperparameters(data, "learning_rate", ("n_params", "n_tokens"), n_resamples=100)
    return data, result


def test_cells_plot_draws_each_cells_parabola_optimum_and_band(sweep, tmp_path):
    data, result = sweep
    ax = jplot.hyperparameter_cells(result, data, max_cells=4)
    assert ax.get_title().startswith("learning_rate sweeps and their optima: 56 runs in 8 cells (4 shown)")
    lines = ax.get_lines()
    assert len(lines) == 12  # per cell shown: the parabola, the optimum, its band
    low, high = result.interval("learning_rate")
    bands = [line for line in lines if line.get_linewidth() == 3]
    np.testing.assert_allclose(sorted(b.get_xdata()[0] for b in bands), sorted(low[[0, 2, 5, 7]]))
    ax.figure.savefig(tmp_path / "cells.png")
    with pytest.raises(ValueError, match="same data"):
        jplot.hyperparameter_cells(result, data.subset(np.arange(10)))


def test_law_plot_draws_the_power_law_band_and_where_cells_end(sweep, tmp_path):
    _, result = sweep
    ax = jplot.hyperparameter_law(result, along="n_params", at={"n_tokens": 1e11})
    assert ax.get_title() == "optimal learning_rate against n_params: 8 cells (parabola) (95% band)"
    (line,) = [x for x in ax.get_lines() if x.get_label().startswith("learning_rate* ~ n_params^")]
    x, y = line.get_data()
    with pytest.warns(jscale.warnings.ExtrapolationWarning):  # the grid starts below the smallest cell
        pred = result.predict(n_params=x[:3], n_tokens=np.full(3, 1e11))
    np.testing.assert_allclose(y[:3], pred["learning_rate"], rtol=1e-12)
    assert len(ax.collections) == 2  # the cells and the band
    assert any(t.get_text().startswith("data ends") for t in ax.texts)
    ax.figure.savefig(tmp_path / "law.png")
    with pytest.raises(ValueError, match="along must be one of"):
        jplot.hyperparameter_law(result, along="compute")


def test_law_plot_of_critical_values_says_so(sweep, tmp_path):
    _, result = sweep
    critical = result.critical(0.01)
    ax = jplot.hyperparameter_law(critical, along="n_params")
    assert ax.get_title() == ("critical learning_rate against n_params: 8 cells (within 1% of the best loss) "
                              "(95% band)")
    assert ax.get_ylabel() == "critical learning_rate"
    assert any(x.get_label().startswith("learning_rate_crit ~ n_params^") for x in ax.get_lines())
    ax.figure.savefig(tmp_path / "critical.png")
