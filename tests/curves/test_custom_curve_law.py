"""Custom curve laws (`jscale.curves.curve_law`): a plain JAX function of the parameters, the rates
and the checkpoint steps of one curve, fitted by `fit_curves` and predicted by `predict_curves`.
Written by hand, the power law in the area under the schedule gives `AreaPowerLaw`'s fit."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import jscale
from jscale.curves import AreaPowerLaw, Schedule, bootstrap_curves, curve_data, curve_law, fit_curves, predict_curves
from jscale.laws import Param

TRUTH = {"L0": 2.9, "A": 0.55, "alpha": 0.5}
SCHEDULES = {"cosine": Schedule.cosine(steps=6000, peak=3e-4, floor=3e-5, warmup=500),
             "constant": Schedule.constant(steps=6000, peak=3e-4, warmup=500),
             "wsd": Schedule.wsd(steps=6000, peak=3e-4, decay_start=4500, floor=3e-5, decay="linear", warmup=500)}
STEPS = np.arange(600, 6000, 100)


def area(p, rates, steps):
    return p["L0"] + p["A"] * jnp.cumsum(rates)[steps] ** -p["alpha"]


AREA = curve_law(area, {"L0": "positive", "A": "positive", "alpha": "positive"}, name="area by hand")


@pytest.fixture(scope="module")
def noisy():
    clean = predict_curves(TRUTH, [(s, STEPS) for s in SCHEDULES.values()], law=AreaPowerLaw).split()
    rng = np.random.default_rng(0)
    return {n: (s, STEPS, loss * np.exp(0.003 * rng.standard_normal(loss.size)))
            for (n, s), loss in zip(SCHEDULES.items(), clean)}


@pytest.fixture(scope="module")
def both(noisy):
    with warnings.catch_warnings():  # L0 with A and alpha: correlated on three curves, as expected
        warnings.simplefilter("ignore", jscale.warnings.CorrelationWarning)
        return fit_curves(noisy, law=AreaPowerLaw), fit_curves(noisy, law=AREA)


def test_the_area_power_law_by_hand_gives_the_built_in_fit(both):
    built_in, by_hand = both
    assert by_hand.best_status == built_in.best_status == "success"
    assert by_hand.law.name == "area by hand" and by_hand.law.free_names == ("log_L0", "log_A", "log_alpha")
    for name in TRUTH:  # measured: 2e-11 apart
        assert by_hand.params[name] == pytest.approx(built_in.params[name], rel=1e-8), name
    assert by_hand.objective == pytest.approx(built_in.objective, rel=1e-10)
    longer = [(Schedule.wsd(steps=9000, peak=3e-4, decay_start=7000, floor=3e-5, warmup=500), [3000, 8999])]
    ours = predict_curves(by_hand, longer)
    np.testing.assert_allclose(ours["loss"], predict_curves(built_in, longer)["loss"], rtol=1e-8)
    np.testing.assert_allclose(ours["loss"], predict_curves(by_hand.params, longer, law=AREA)["loss"], rtol=1e-13)
    assert "area by hand" in repr(ours) and "8999" in ours.table()
    with pytest.raises(ValueError, match="a fit or a bootstrap carries its own"):
        predict_curves(by_hand, longer, law=AreaPowerLaw)


def test_a_law_of_the_log_loss_and_its_curves_kept():
    log_area = curve_law(lambda p, rates, steps: jnp.log(area(p, rates, steps)),
                         {"L0": Param("positive", (2.0, 3.0)), "A": "positive", "alpha": Param((0.0, 2.0))}, log=True)
    pairs = [(SCHEDULES["cosine"], STEPS), (SCHEDULES["wsd"].lr(), STEPS[::2])]
    law = log_area.over(pairs)
    assert law.free_names == ("log_L0", "log_A", "logit_alpha") and law.default_starts().shape == (18, 3)
    assert law.pairs[0][0] is SCHEDULES["cosine"] and not law.pairs[1][0].flags.writeable
    assert law == log_area.over(law.pairs) and law != log_area.over(pairs[:1])
    got = predict_curves(TRUTH, pairs, law=log_area)["loss"]
    np.testing.assert_allclose(got, predict_curves(TRUTH, pairs, law=AreaPowerLaw)["loss"], rtol=1e-12)
    fitted, data = curve_data({"cosine": (SCHEDULES["cosine"], STEPS, got[: STEPS.size])}, law=log_area)
    assert fitted == log_area.over(pairs[:1]) and len(data) == STEPS.size


@pytest.mark.filterwarnings("ignore::jscale.warnings.DiagnosticWarning")  # a 12-resample bootstrap: rough, as said
def test_a_bootstrap_of_a_custom_law_bands_its_predictions(noisy, both):
    _, by_hand = both
    boot = bootstrap_curves(noisy, by_hand, n_resamples=12, key=0)
    prediction = predict_curves(boot, [(SCHEDULES["cosine"], [3000, 5999])])
    low, high = prediction.interval("loss")
    assert np.all(low < prediction["loss"]) and np.all(prediction["loss"] < high)
    assert prediction.draws["loss"].shape == (boot.n_converged, 2)


def test_bad_custom_laws_get_one_clear_message(noisy):
    with pytest.raises(TypeError, match="fn must be a function"):
        curve_law("area", {"L0": "positive"})
    with pytest.raises(ValueError, match="params must map at least one parameter"):
        curve_law(area, {})
    with pytest.raises(ValueError, match="has domain 'positive' but a start of -1.0"):
        curve_law(area, {"L0": Param("positive", (-1.0,))})
    flat = curve_law(lambda p, rates, steps: p["L0"] + 0.0 * rates, {"L0": "positive"})  # one loss per step
    with pytest.raises(ValueError, match="must return one loss per checkpoint step"):
        fit_curves(noisy, law=flat)
    with pytest.raises(ValueError, match="params lacks alpha"):
        predict_curves({"L0": 1.0, "A": 1.0}, [(SCHEDULES["cosine"], [100])], law=AREA)
    with pytest.raises(ValueError, match="lies outside the area by hand law's domain"):
        predict_curves({**TRUTH, "A": -1.0}, [(SCHEDULES["cosine"], [100])], law=AREA)
    with pytest.raises(TypeError, match="must be a curve law"):
        fit_curves(noisy, law=jscale.laws.Chinchilla())
