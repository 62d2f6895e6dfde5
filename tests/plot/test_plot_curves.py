"""jscale.plot's training-curve plots: logged curves with the fitted multi-power law through them,
predicted curves of unseen schedules with their bands, and the best schedule beside cosine and WSD.

Three curves of 3,000 steps simulated from a known law (checkpoints every 100 steps, 0.03% noise in
log loss), fitted once, bootstrapped with 8 resamples of blocks and optimised at a small setting
(16 knots): seconds, all of it compiling.
"""

import warnings

import numpy as np
import pytest

import jscale
from jscale.curves import Schedule, best_schedule, bootstrap_curves, fit_curves, predict_curves

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.collections import LineCollection, PolyCollection  # noqa: E402

import jscale.plot as jplot  # noqa: E402

TRUTH = {"L0": 3.0, "A": 0.5, "alpha": 0.5, "B": 400.0, "C": 2.0, "beta": 0.6, "gamma": 0.6}
PEAK, WARMUP, STEPS = 3e-4, 300, 3000
NOISE = 3e-4  # sd of the log loss
CHECKPOINTS = np.arange(100, STEPS, 100)
SCHEDULES = {"cosine": Schedule.cosine(steps=STEPS, peak=PEAK, floor=3e-5, warmup=WARMUP),
             "wsd": Schedule.wsd(steps=STEPS, peak=PEAK, decay_start=2400, floor=3e-5, warmup=WARMUP),
             "constant": Schedule.constant(steps=STEPS, peak=PEAK, warmup=WARMUP)}


@pytest.fixture(scope="module")
def fitted():
    """The logged curves, their fit and a bootstrap of 8 resamples of blocks of 8 checkpoints."""
    clean = predict_curves(TRUTH, [(s, CHECKPOINTS) for s in SCHEDULES.values()]).split()
    rng = np.random.default_rng(1)
    logged = {name: (s, CHECKPOINTS, loss * np.exp(NOISE * rng.standard_normal(loss.size)))
              for (name, s), loss in zip(SCHEDULES.items(), clean)}
    with warnings.catch_warnings():
        # Short curves correlate A with alpha, and a resample can put gamma at its bound: notes on
        # the parameters' intervals, not what these tests are about.
        warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
        fit = fit_curves(logged)
        with pytest.warns(jscale.warnings.ResamplesWarning, match="only 8 resamples"):
            boot = bootstrap_curves(logged, fit, block=8, n_resamples=8, key=0)
    return logged, fit, boot


def _markers(line):
    return line.get_linestyle() == "None" and line.get_marker() == "o"


def test_curves_plot_draws_each_curves_checkpoints_and_the_fitted_law_through_them(fitted, tmp_path):
    logged, fit, boot = fitted
    ax = jplot.curves(fit, logged)
    assert ax.get_title() == "training curves: multipower law fitted to 87 checkpoints"
    lines = ax.get_lines()
    assert len(lines) == 2 * len(logged)  # per curve: its checkpoints, the law through them
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(logged)
    for k, (name, (s, steps, loss)) in enumerate(logged.items()):
        points, line = lines[2 * k], lines[2 * k + 1]
        assert _markers(points) and not _markers(line) and line.get_label() == name
        assert points.get_color() == line.get_color() == f"C{k}"
        np.testing.assert_array_equal(points.get_xdata(), steps)
        np.testing.assert_array_equal(points.get_ydata(), loss)
        x, y = line.get_data()
        assert x[0] == steps[0] and x[-1] == steps[-1] and np.all(np.diff(x) > 0) and len(x) > 200
        np.testing.assert_allclose(y, predict_curves(fit, [(s, x)])["loss"], rtol=1e-12)
    residual = np.concatenate([np.log(loss) - np.log(predict_curves(fit, [(s, steps)])["loss"])
                               for s, steps, loss in logged.values()])
    (note,) = ax.texts
    assert note.get_text() == f"RMS log residual {np.sqrt(np.mean(residual ** 2)):.2g} over 87 checkpoints"
    assert 0.7 * NOISE < np.sqrt(np.mean(residual ** 2)) < 1.3 * NOISE  # the noise: a fit, not an interpolation
    # The loss axis spans the checkpoints past the first tenth of the steps: the early drop runs off its top.
    later = np.concatenate([loss[steps >= 290] for _, steps, loss in logged.values()])
    bottom, top = ax.get_ylim()
    assert bottom < later.min() and later.max() < top < logged["cosine"][2][0]
    ax.figure.savefig(tmp_path / "curves.png")

    # The natural parameters draw the same lines; a bootstrap draws its full fit's.
    at_params = jplot.curves(fit.params, logged)
    assert at_params.get_title() == "training curves: multipower law at the given parameters"
    np.testing.assert_allclose(at_params.get_lines()[1].get_ydata(), lines[1].get_ydata(), rtol=1e-12)
    of_boot = jplot.curves(boot, {"wsd": logged["wsd"]})
    assert len(of_boot.get_lines()) == 2 and of_boot.get_lines()[1].get_color() == "C0"
    np.testing.assert_allclose(of_boot.get_lines()[1].get_ydata(), lines[3].get_ydata(), rtol=1e-12)


def test_curves_plot_rejects_what_is_not_a_mapping_of_curves(fitted):
    logged, fit, _ = fitted
    with pytest.raises(TypeError, match="curves must be a non-empty mapping"):
        jplot.curves(fit, list(logged.values()))
    s, steps, loss = logged["cosine"]
    with pytest.raises(ValueError, match="curve 'cosine' must be \\(schedule, checkpoint steps, losses\\)"):
        jplot.curves(fit, {"cosine": (s, steps)})
    with pytest.raises(ValueError, match="curve 'cosine' needs 1-D steps and losses of one length"):
        jplot.curves(fit, {"cosine": (s, steps, loss[:-1])})


def test_curve_prediction_bands_unseen_schedules_and_overlays_the_logged_curves(fitted, tmp_path):
    logged, _, boot = fitted
    longer = Schedule.wsd(steps=4500, peak=PEAK, decay_start=3600, floor=3e-5, warmup=WARMUP)
    grid = np.arange(100, 4500, 50)
    prediction = predict_curves(boot, [(SCHEDULES["cosine"], CHECKPOINTS), (longer, grid),
                                       (SCHEDULES["constant"], [STEPS - 1])])
    names = ["cosine", "wsd to 4,500 steps", "constant, last step"]
    observed = {"cosine": logged["cosine"], "wsd": logged["wsd"]}
    ax = jplot.curve_prediction(prediction, names=names, observed=observed, level=0.9)
    assert ax.get_title() == "predicted curves: multipower law, 8 bootstrap draws (90% bands)"
    lines = ax.get_lines()
    assert len(lines) == 3 + 2  # the predicted curves, then the observed ones
    assert [line.get_label() for line in lines] == names + ["cosine, observed", "wsd (observed)"]
    assert [line.get_color() for line in lines] == ["C0", "C1", "C2", "C0", "C3"]
    for line, part in zip(lines, prediction.split()):
        np.testing.assert_array_equal(line.get_ydata(), part)
    np.testing.assert_array_equal(lines[1].get_xdata(), grid)
    assert lines[2].get_marker() == "o" and lines[1].get_marker() == "None"  # one checkpoint: a point
    assert _markers(lines[3]) and _markers(lines[4])
    np.testing.assert_array_equal(lines[4].get_ydata(), logged["wsd"][2])

    # A shaded band per schedule of several checkpoints, an error bar at the single one.
    low, high = (prediction.split(v) for v in prediction.interval("loss", 0.9))
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    (bar,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(bands) == 2
    for band, lo, hi in zip(bands, low, high):
        y = band.get_paths()[0].vertices[:, 1]
        assert y.min() == pytest.approx(lo.min(), rel=1e-12) and y.max() == pytest.approx(hi.max(), rel=1e-12)
        assert np.all(hi > lo)
    np.testing.assert_allclose(bar.get_segments()[0][:, 1], [low[2][0], high[2][0]], rtol=1e-12)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [line.get_label() for line in lines] + ["90% band"]  # one entry for the bands
    ax.figure.savefig(tmp_path / "prediction.png")


def test_curve_prediction_without_draws_has_no_bands(fitted):
    _, fit, _ = fitted
    prediction = predict_curves(fit, [(s, CHECKPOINTS) for s in SCHEDULES.values()])
    ax = jplot.curve_prediction(prediction)
    assert ax.get_title() == "predicted curves: multipower law"
    assert [line.get_label() for line in ax.get_lines()] == ["schedule 1", "schedule 2", "schedule 3"]
    assert not ax.collections
    with pytest.raises(ValueError, match="names must be a sequence of 3 names"):
        jplot.curve_prediction(prediction, names=["a", "b"])
    with pytest.raises(ValueError, match="level must be a number in \\(0, 1\\)"):
        jplot.curve_prediction(prediction, level=95)
    with pytest.raises(TypeError, match="curve_prediction needs a CurvePrediction"):
        jplot.curve_prediction(fit)


def test_schedule_plot_draws_the_best_rates_beside_cosine_and_wsd_with_the_gains(fitted, tmp_path):
    _, fit, boot = fitted
    best = best_schedule(fit, steps=STEPS, peak=PEAK, warmup=WARMUP, knots=16, draws=boot)
    ax = jplot.schedule(best)
    assert ax.get_title() == "best schedule, cosine and WSD: multipower law (95% bands)"
    best_line, knots, cosine, wsd = ax.get_lines()
    np.testing.assert_array_equal(best_line.get_ydata(), best.rates)
    np.testing.assert_array_equal(knots.get_xdata(), best.knot_steps)
    np.testing.assert_array_equal(cosine.get_ydata(), best.cosine.lr())
    np.testing.assert_array_equal(wsd.get_ydata(), best.wsd.lr())
    assert best.cosine.kind == "cosine" and best.cosine.peak == PEAK and best.cosine.warmup == WARMUP
    assert best_line.get_xdata().tolist() == list(range(STEPS))
    assert ax.get_ylim()[1] > 1.5 * PEAK  # room for the legend above the peak
    assert ax.get_ylabel() == "learning rate (x 1e-4)"
    to_cosine, to_wsd = best.interval("gain_cosine"), best.interval("gain_wsd")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"best: {best.loss:.4f}", "its 16 knots",
        f"cosine: {best.cosine_loss:.4f}, gain {best.gain_cosine:.3g} ({to_cosine.low:.3g} to {to_cosine.high:.3g})",
        f"WSD from step 2400: {best.wsd_loss:.4f}, gain {best.gain_wsd:.3g} ({to_wsd.low:.3g} to {to_wsd.high:.3g})"]
    assert ax.get_legend().get_title().get_text() == "predicted final loss; the best's gain (8 draws)"
    assert best.gain_cosine > 0 and best.gain_wsd > 0
    ax.figure.savefig(tmp_path / "schedule.png")

    plain = jplot.schedule(best.replace(draw_losses=None))
    assert plain.get_title() == "best schedule, cosine and WSD: multipower law"
    cosine_label = plain.get_legend().get_texts()[2].get_text()
    assert cosine_label == f"cosine: {best.cosine_loss:.4f}, gain {best.gain_cosine:.3g}"
    with pytest.raises(TypeError, match="schedule needs a BestSchedule"):
        jplot.schedule(fit)
