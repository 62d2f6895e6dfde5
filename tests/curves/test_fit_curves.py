"""jscale.curves.fit_curves on Luo et al.'s curves (../shared/data, skipped where absent), on
curves simulated from a known multi-power law (exact recovery), and with the other curve laws
(`law=`: the annealing law, fixed or not, and its baseline)."""

import warnings

import numpy as np
import pytest

import jscale
from jscale.curves import (
    MULTIPOWER_PARAMS,
    AnnealingLaw,
    AreaPowerLaw,
    MultiPowerLaw,
    Schedule,
    Sized,
    curve_data,
    fit_curves,
    predict_curves,
)
from jscale.curves._curvelaw import anneals


def _pred_e(params, curves):
    predicted = predict_curves(params, [(s, steps) for s, steps, _ in curves.values()]).split()
    return float(np.mean([np.mean(np.abs(p - loss) / loss) for p, (_, _, loss) in zip(predicted, curves.values())]))


def _objective(params, curves):
    predicted = predict_curves(params, [(s, steps) for s, steps, _ in curves.values()])["loss"]
    r = np.log(np.concatenate([loss for *_, loss in curves.values()])) - np.log(predicted)
    return float(np.sum(np.where(np.abs(r) <= 1e-3, 0.5 * r ** 2, 1e-3 * (np.abs(r) - 5e-4))))


@pytest.fixture(scope="module")
def luo_fits(luo_csv, luo_schedule, luo_published):
    published, train, names = luo_published
    sets = {size: {n: (luo_schedule(n), *luo_csv(size, n)[::2]) for n in names} for size in published}
    with warnings.catch_warnings():  # L0 with A and B with beta are strongly correlated on 3 curves, as expected
        warnings.simplefilter("ignore", jscale.warnings.CorrelationWarning)
        fits = fit_curves([{n: sets[size][n] for n in train} for size in published])  # both sizes in one call
    return dict(zip(published, fits)), sets


@pytest.mark.slow  # about 50 s: two sizes' 1,080-start screening and Gauss-Newton from the best 8
def test_both_sizes_fit_below_the_published_objective(luo_fits, luo_published):
    """The minimum of Luo et al.'s objective on the three training curves lies below the published
    parameters' (their AdamW run stopped after 200 steps). Its PredE on the six test curves is
    reported, not asserted: the minimum extrapolates worse than the published point (0.00137
    against 0.00110 at 25M, 0.00165 against 0.00142 at 100M; see the module's note)."""
    fits, sets = luo_fits
    published, train, names = luo_published
    for size, (params, pred_e) in published.items():
        fit = fits[size]
        assert fit.best_status == "success"
        training = {n: sets[size][n] for n in train}
        ours = _objective(fit.params, training)
        assert fit.objective == pytest.approx(ours, rel=1e-6)  # the engine minimised this very objective
        assert ours < 0.6 * _objective(dict(zip(MULTIPOWER_PARAMS, params)), training)
        test = {n: sets[size][n] for n in names if n not in train}
        assert _pred_e(dict(zip(MULTIPOWER_PARAMS, params)), test) == pytest.approx(pred_e, abs=1e-6)
        assert _pred_e(fit.params, test) < 0.0018


@pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning")  # short curves: correlated, as they are
def test_a_simulated_curve_set_is_recovered_exactly():
    truth = dict(zip(MULTIPOWER_PARAMS, (2.9, 0.55, 0.5, 380.0, 2.0, 0.6, 0.6)))
    schedules = {"cosine": Schedule.cosine(steps=6000, peak=3e-4, floor=3e-5, warmup=500),
                 "constant": Schedule.constant(steps=6000, peak=3e-4, warmup=500),
                 "wsd": Schedule.wsd(steps=6000, peak=3e-4, decay_start=4500, floor=3e-5, decay="linear", warmup=500)}
    steps = np.arange(600, 6000, 100)
    losses = predict_curves(truth, [(s, steps) for s in schedules.values()]).split()
    curves = {n: (s, steps, loss) for (n, s), loss in zip(schedules.items(), losses)}
    fit = fit_curves(curves, loss="squared")
    assert fit.objective < 1e-20
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-5), name
    law, data = curve_data(curves)
    assert law == fit.law and len(data) == 3 * len(steps) and set(data.categorical) == {"curve"}


def test_bad_curves_get_one_clear_message():
    s = Schedule.constant(steps=100, peak=1e-3, warmup=10)
    good = np.arange(20, 90, 5)
    with pytest.raises(ValueError, match="must increase"):
        fit_curves({"a": (s, good[::-1], np.ones(good.size))})
    with pytest.raises(ValueError, match="fewer than the law's 7 parameters"):
        fit_curves({"a": (s, good[:3], np.ones(3))})
    with pytest.raises(ValueError, match="steps outside|must lie in"):
        curve_data({"a": (s, np.arange(50, 150, 10), np.ones(10))})
    with pytest.raises(ValueError, match="positive finite"):
        fit_curves({"a": (s, good, -np.ones(good.size))})
    with pytest.raises(TypeError, match="non-empty mapping"):
        fit_curves({})
    with pytest.raises(ValueError, match="must be \\(schedule, checkpoint steps, losses\\)"):
        fit_curves({"a": (s, good)})
    assert isinstance(jscale.curves.MultiPowerLaw.over([(s, good)]).default_starts(), np.ndarray)


def test_schedules_that_cannot_identify_the_law_warn():
    steps = np.arange(600, 6000, 60)
    constant = Schedule.constant(steps=6000, peak=3e-4, warmup=500)
    truth = dict(zip(MULTIPOWER_PARAMS, (2.9, 0.55, 0.5, 380.0, 2.0, 0.6, 0.6)))
    loss = predict_curves(truth, [(constant, steps)])["loss"]
    with pytest.warns(jscale.warnings.ScheduleWarning, match="no curve lowers its learning rate"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
        warnings.simplefilter("ignore", jscale.warnings.ConvergenceWarning)
        warnings.simplefilter("ignore", jscale.warnings.StartsWarning)
        fit_curves({"constant": (constant, steps, loss), "again": (constant, steps[::2], loss[::2])})


@pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning")  # short curves: correlated, as they are
def test_the_annealing_law_and_its_baseline_through_fit_curves():
    """`law=` fits the annealing law from its screened default starts (exactly, on curves it
    simulates), with its decay fixed too; the area power law has no annealing term, so constant
    schedules raise no ScheduleWarning for it."""
    truth = dict(zip(AnnealingLaw.param_names, (2.9, 0.55, 0.5, 1.5, 0.995)))
    schedules = {"cosine": Schedule.cosine(steps=6000, peak=3e-4, floor=3e-5, warmup=500),
                 "constant": Schedule.constant(steps=6000, peak=3e-4, warmup=500),
                 "wsd": Schedule.wsd(steps=6000, peak=3e-4, decay_start=4500, floor=3e-5, decay="linear", warmup=500)}
    steps = np.arange(600, 6000, 100)
    losses = predict_curves(truth, [(s, steps) for s in schedules.values()], law=AnnealingLaw).split()
    curves = {n: (s, steps, loss) for (n, s), loss in zip(schedules.items(), losses)}
    fit = fit_curves(curves, law=AnnealingLaw, loss="squared")
    assert fit.objective < 1e-20 and isinstance(fit.law, AnnealingLaw)
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-5), name
    fixed = fit_curves(curves, law=AnnealingLaw().fix(decay=0.995), loss="squared")
    assert fixed.law.param_names == ("L0", "A", "alpha", "C") and fixed.params["C"] == pytest.approx(1.5, rel=1e-5)
    later = [(schedules["wsd"], [5999])]
    assert predict_curves(fixed, later)["loss"] == pytest.approx(predict_curves(fit, later)["loss"], rel=1e-8)
    constant = {"constant": curves["constant"], "again": (schedules["constant"], steps[::2], losses[1][::2])}
    with warnings.catch_warnings():
        warnings.simplefilter("error", jscale.warnings.ScheduleWarning)
        assert fit_curves(constant, law=AreaPowerLaw).law.name == "area_power"


def test_a_curve_law_keeps_its_curves_and_is_rebuilt_from_them():
    s = Schedule.cosine(steps=1000, peak=1e-3, warmup=100)
    rates = Schedule.constant(steps=800, peak=1e-3, warmup=100).lr()
    pairs = [(s, np.arange(150, 1000, 50)), (rates, [200, 799])]
    for law_class in (MultiPowerLaw, AnnealingLaw, AreaPowerLaw):
        law = law_class.over(pairs)
        assert law.pairs[0][0] is s and law.pairs[1][1].dtype == np.int64 and not law.pairs[1][0].flags.writeable
        assert law_class.over(law.pairs) == law and law.n_points == 19
        assert law.anneals == (law_class is not AreaPowerLaw)
    # the warning of schedules that cannot identify an annealing term follows the law under its constraints
    assert anneals(AnnealingLaw().fix(decay=0.99)) and anneals(Sized(MultiPowerLaw)) and not anneals(AreaPowerLaw())
