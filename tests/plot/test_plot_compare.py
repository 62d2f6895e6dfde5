"""jscale.plot.link (two-stage predictions) and jscale.plot.multiplier (comparisons): what they draw."""

import warnings

import numpy as np
import pytest
from helpers import noisy_chinchilla

import jscale

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection, PolyCollection  # noqa: E402

import jscale.plot as jplot  # noqa: E402

# Budgets beyond the runs are these tests' subject, not a finding: named, and checked in
# test_compare.py::test_budgets_beyond_the_runs_warn.
pytestmark = pytest.mark.filterwarnings("ignore::jscale.warnings.ExtrapolationWarning")

# A law of compute alone for both the loss stage and the comparisons: fast to fit and to compare.
POWER = jscale.laws.PowerLaw()
LINK = jscale.laws.ExponentialLink()


def _of(ax, kind):
    return [c for c in ax.collections if isinstance(c, kind)]


def _renders(ax, tmp_path):
    """Saves the figure (warnings are errors) and closes it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax.figure.savefig(tmp_path / "plot.png", dpi=50)
    plt.close(ax.figure)
    assert (tmp_path / "plot.png").stat().st_size > 5_000


@pytest.fixture(scope="module")
def stages():
    """Runs with a loss and an error metric; the loss law on all of them, the link on the 12 smallest."""
    runs = noisy_chinchilla(n=4, sigma=0.01, seed=3)
    loss = np.asarray(runs.loss)
    err = 0.9 - 2.0 * np.exp(-0.8 * loss) + np.random.default_rng(3).normal(0.0, 0.004, loss.size)
    data = jscale.ScalingData.from_arrays(n_params=runs.n_params, n_tokens=runs.n_tokens, loss=loss, err=err)
    link_rows = np.argsort(np.asarray(data.compute))[:12]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        loss_fit = jscale.fit(POWER, data, loss="squared", starts=POWER.default_starts()[::10])
        link_fit = jscale.fit(LINK, data.subset(link_rows), target="err", residual="raw",
                              starts=LINK.default_starts()[::4])
    return data, link_rows, loss_fit, link_fit


@pytest.fixture(scope="module")
def joint(stages):
    data, link_rows, loss_fit, link_fit = stages
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        return jscale.two_stage(loss_fit, link_fit, data, link_rows=link_rows, key=0, n_resamples=24)


def test_link_without_bootstrap_draws_runs_and_curve_only(stages, tmp_path):
    data, link_rows, loss_fit, link_fit = stages
    two = jscale.two_stage(loss_fit, link_fit, data, link_rows=link_rows)
    with pytest.warns(jscale.warnings.ExtrapolationWarning):
        prediction = two.predict(compute=[1e23])
    ax = jplot.link(two, data, link_rows=link_rows, prediction=prediction)
    runs, predicted = _of(ax, PathCollection)
    assert len(runs.get_offsets()) == 12 and len(predicted.get_offsets()) == 1
    np.testing.assert_allclose(runs.get_offsets()[:, 1], np.asarray(data["err"])[link_rows])
    assert not _of(ax, PolyCollection) and not _of(ax, LineCollection)  # no band, no error bars without draws
    curve = ax.lines[0]
    grid, metric = curve.get_data()
    p = link_fit.params
    np.testing.assert_allclose(metric, p["eps"] - p["k"] * np.exp(-p["gamma"] * grid), rtol=1e-12)
    assert grid.min() < np.asarray(data.loss)[link_rows].min() and grid.max() > prediction.loss.max() - 1e-12
    assert ax.get_xlabel() == "loss (nats/token)" and ax.get_ylabel() == "err"
    _renders(ax, tmp_path)


def test_link_with_joint_bootstrap_draws_the_band_and_error_bars(stages, joint, tmp_path):
    data, link_rows, _, _ = stages
    with pytest.warns(jscale.warnings.ExtrapolationWarning):
        prediction = joint.predict(compute=[3e21, 1e23])
    fig, ax = plt.subplots()
    assert jplot.link(joint, data, link_rows=link_rows, prediction=prediction, ax=ax, level=0.9) is ax
    (band,) = _of(ax, PolyCollection)
    grid = ax.lines[0].get_xdata()
    low, high = jscale.plot._quiet(joint.link_boot.predict_interval, loss=grid, level=0.9)
    p = {k: v[joint.link_boot.draw_ok, None] for k, v in joint.link_boot.draws.items()}
    draws = p["eps"] - p["k"] * np.exp(-p["gamma"] * grid)  # Gadre et al.'s link on every converged draw
    np.testing.assert_allclose(np.quantile(draws, [0.05, 0.95], axis=0), [low, high], rtol=1e-10)
    # The band's outline runs along both edges of the percentile band over the grid.
    edges = band.get_paths()[0].vertices
    assert np.isclose(edges[:, 1].min(), low.min()) and np.isclose(edges[:, 1].max(), high.max())
    metric_bars, loss_bars = _of(ax, LineCollection)  # vlines, then hlines: one per predicted point
    assert len(metric_bars.get_segments()) == 2 and len(loss_bars.get_segments()) == 2
    m_low, m_high = prediction.interval("metric", 0.9)
    np.testing.assert_allclose([s[:, 1] for s in metric_bars.get_segments()], np.stack([m_low, m_high], axis=1))
    assert "90%" in ax.get_title()
    _renders(ax, tmp_path)


def test_link_errors(stages, joint):
    data, link_rows, _, _ = stages
    with pytest.raises(TypeError, match="link needs a TwoStage"):
        jplot.link(joint.link_fit, data)
    with pytest.raises(TypeError, match="data must be the ScalingData"):
        jplot.link(joint, "runs.csv")
    with pytest.raises(ValueError, match="fitted to 12 rows but the rows of data are 16"):
        jplot.link(joint, data)
    with pytest.raises(TypeError, match="prediction must be a Prediction"):
        jplot.link(joint, data, link_rows=link_rows, prediction={"loss": [2.0]})
    with pytest.raises(ValueError, match="level must be a number in"):
        jplot.link(joint, data, link_rows=link_rows, level=95)
    plt.close("all")


A = dict(E=1.8, A=2e3, alpha=0.15)
B = dict(E=1.5, A=4e3, alpha=0.15)  # worse at small budgets, better beyond 0.3 = 2e3 C^-0.15: C = 3.4e25
BUDGETS = np.geomspace(1e20, 1e27, 30)


@pytest.fixture(scope="module")
def given():
    """A comparison of given parameters: no uncertainty, so no band."""
    return jscale.compare((POWER, A), (POWER, B), BUDGETS)


def test_multiplier_of_given_parameters_has_no_band(given, tmp_path):
    assert given.crossover == pytest.approx((2e3 / 0.3) ** (1 / 0.15), rel=1e-6)
    ax = jplot.multiplier(given)
    assert not ax.collections and not ax.patches  # no band without draws or sds
    curve, unity, crossing = ax.lines
    np.testing.assert_allclose(curve.get_xdata(), BUDGETS)
    np.testing.assert_allclose(curve.get_ydata(), given.multiplier)
    assert list(unity.get_ydata()) == [1.0, 1.0] and crossing.get_xdata()[0] == pytest.approx(given.crossover)
    assert ax.get_xscale() == ax.get_yscale() == "log" and curve.get_marker() == "None"  # many budgets: a curve
    assert "band" not in ax.get_title()
    _renders(ax, tmp_path)


def test_multiplier_without_crossover_and_at_few_budgets(tmp_path):
    cmp = jscale.compare((POWER, A), (POWER, dict(B, E=1.9)), [1e21, 1e23])  # B never catches up
    assert np.isnan(cmp.crossover)
    ax = jplot.multiplier(cmp, data_max=1e22)
    curve, unity, data_ends = ax.lines
    assert curve.get_marker() == "o" and data_ends.get_xdata()[0] == 1e22
    _renders(ax, tmp_path)


def test_multiplier_band_from_the_delta_method(tmp_path):
    compute = np.geomspace(1e18, 1e22, 12)
    fits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        for params, seed in ((A, 0), (B, 1)):
            noise = np.random.default_rng(seed).normal(0.0, 0.005, compute.size)
            loss = (params["E"] + params["A"] * compute ** -params["alpha"]) * np.exp(noise)
            fits.append(jscale.fit(POWER, jscale.ScalingData.from_arrays(compute=compute, loss=loss), loss="squared",
                                   starts=POWER.default_starts()[::10]))
    cmp = jscale.compare(*fits, BUDGETS)
    assert cmp.sd is not None and cmp.draws is None
    ax = jplot.multiplier(cmp, level=0.8)
    (band,) = _of(ax, PolyCollection)
    low, high = cmp.interval("multiplier", 0.8)
    edges = band.get_paths()[0].vertices
    assert np.isclose(edges[:, 1].min(), low.min()) and np.isclose(edges[:, 1].max(), high.max())
    assert "80% band" in ax.get_title()
    assert np.isfinite(cmp.crossover)  # about 1.5e26: marked, with its band as a shaded span
    (span,) = ax.patches
    assert span.get_x() == pytest.approx(cmp.interval("crossover", 0.8)[0])
    _renders(ax, tmp_path)


def _labelled(ax, text):
    """The lines whose legend label starts with `text`."""
    return [line for line in ax.lines if line.get_label().startswith(text)]


def _upper_edge(band, x):
    """The highest point of the band's outline at each budget in `x`."""
    vertices = band.get_paths()[0].vertices
    return np.array([vertices[np.isclose(vertices[:, 0], c, rtol=1e-12), 1].max() for c in x])


def test_multiplier_band_unbounded_above_runs_to_the_top_edge(given, tmp_path):
    rng = np.random.default_rng(0)
    spread = np.exp(rng.normal(0.0, 0.3, (40, 1)))
    draws = {"multiplier": given.multiplier * spread, "loss_a": np.tile(given.loss_a, (40, 1)),
             "loss_b": np.tile(given.loss_b, (40, 1)), "crossover": given.crossover * spread[:, 0]}
    draws["multiplier"][:30, :5] = np.inf  # B out of reach at the smallest budgets, in most draws
    cmp = given.replace(draws=draws, draw_ok=np.ones(40, bool))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = jplot.multiplier(cmp)
    (band,) = _of(ax, PolyCollection)
    low, high = cmp.interval("multiplier")
    assert np.isfinite(low).all() and not np.isfinite(high[:5]).any() and np.isfinite(high[5:]).all()
    bottom, top = ax.get_ylim()
    assert top > high[5:].max() and bottom < low.min()  # the limits hold every finite end
    # the band runs to the top edge where it is unbounded, and along its upper end elsewhere
    np.testing.assert_allclose(_upper_edge(band, BUDGETS), np.where(np.isfinite(high), high, top), rtol=1e-12)
    # ... with an arrow at the top edge over each such budget, named in the legend
    (arrows,) = _labelled(ax, "band unbounded above (B out of reach in some draws)")
    assert arrows.get_marker() == "^" and arrows.get_transform() == ax.get_xaxis_transform()
    np.testing.assert_array_equal(arrows.get_xdata(), BUDGETS[:5])
    assert np.all(arrows.get_ydata() > 0.9)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "band unbounded above (B out of reach in some draws)" in legend and "95% band" in legend
    # the line runs on at every budget (m is finite there), and nothing is marked infinite or 0
    np.testing.assert_allclose(ax.lines[0].get_ydata(), given.multiplier)
    assert not _labelled(ax, "m = inf") and not _labelled(ax, "m = 0") and not _labelled(ax, "band unbounded below")
    (span,) = ax.patches
    assert span.get_x() == pytest.approx(cmp.interval("crossover")[0])
    _renders(ax, tmp_path)


def test_multiplier_marks_infinite_and_zero_multipliers_at_the_edges(given, tmp_path):
    """m = inf (B never reaches A's loss) and m = 0 cannot sit on a log axis: the line is cut there and
    each such budget is marked at the edge; a band with an end at 0 runs to the bottom edge."""
    m = np.array(given.multiplier)
    m[:3], m[-2:] = np.inf, 0.0
    multiplier = np.tile(m, (40, 1)) * np.exp(np.random.default_rng(1).normal(0.0, 0.3, (40, 1)))
    multiplier[:5, -2:] = 1e-3  # 5 of 40 draws reach A's loss at the largest budgets: the band is (0, 1e-3)
    draws = {"multiplier": multiplier, "loss_a": np.tile(given.loss_a, (40, 1)),
             "loss_b": np.tile(given.loss_b, (40, 1)), "crossover": np.full(40, given.crossover)}
    cmp = given.replace(multiplier=m, draws=draws, draw_ok=np.ones(40, bool))
    low, high = cmp.interval("multiplier")
    assert np.all(low[:3] == np.inf) and np.all(low[-2:] == 0) and np.all(high[-2:] == 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax = jplot.multiplier(cmp)
    curve = ax.lines[0].get_ydata()
    assert np.isnan(curve[:3]).all() and np.isnan(curve[-2:]).all() and np.isfinite(curve[3:-2]).all()
    (infinite,) = _labelled(ax, "m = inf: B never reaches A's loss")
    (zero,) = _labelled(ax, "m = 0: B reaches A's loss")
    np.testing.assert_array_equal(infinite.get_xdata(), BUDGETS[:3])
    np.testing.assert_array_equal(zero.get_xdata(), BUDGETS[-2:])
    assert np.all(infinite.get_ydata() > 0.5) and np.all(zero.get_ydata() < 0.5)
    # no finite end at the first three budgets: no band there; at the last two, down to the bottom edge
    (band,) = _of(ax, PolyCollection)
    xs = band.get_paths()[0].vertices[:, 0]
    assert xs.min() >= BUDGETS[3] * (1 - 1e-12)
    (arrows,) = _labelled(ax, "band unbounded below (m = 0 in some draws)")
    assert arrows.get_marker() == "v" and np.all(arrows.get_ydata() < 0.1)
    np.testing.assert_array_equal(arrows.get_xdata(), BUDGETS[-2:])
    bottom, _ = ax.get_ylim()
    lowest = band.get_paths()[0].vertices
    assert np.isclose(lowest[np.isclose(lowest[:, 0], BUDGETS[-1], rtol=1e-12), 1].min(), bottom, rtol=1e-12)
    assert bottom < 1e-3
    _renders(ax, tmp_path)


def test_multiplier_needs_a_comparison(stages):
    with pytest.raises(TypeError, match="multiplier needs a Comparison"):
        jplot.multiplier(stages[2])
