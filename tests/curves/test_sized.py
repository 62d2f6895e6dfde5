"""Size-aware curve laws (`jscale.curves.Sized`): one fit over the curves of a ladder of model sizes,
some parameters power laws of N, the others shared across sizes. Curves simulated from a known
sized multi-power law: recovered exactly without noise; with a little noise, an unseen size's
loss is predicted close to the truth."""

import warnings

import numpy as np
import pytest

import jscale
from jscale.curves import (
    AnnealingLaw,
    MultiPowerLaw,
    Schedule,
    Sized,
    bootstrap_curves,
    curve_data,
    fit_curves,
    predict_curves,
)

PEAK, WARMUP = 3e-4, 500
SIZES = (1e8, 2e8, 4e8)
VARY = ("L0", "A", "B")
# at N_ref = 2e8 (the geometric mean of SIZES), then the exponents of L0, A and B in N
TRUTH = dict(zip(Sized(MultiPowerLaw, vary=VARY).param_names,
                 (2.9, 0.55, 0.5, 380.0, 2.0, 0.6, 0.6, -0.05, -0.1, 0.2)))
SCHEDULES = {"cosine": Schedule.cosine(steps=6000, peak=PEAK, floor=3e-5, warmup=WARMUP),
             "constant": Schedule.constant(steps=6000, peak=PEAK, warmup=WARMUP),
             "wsd": Schedule.wsd(steps=6000, peak=PEAK, decay_start=4500, floor=3e-5, decay="linear", warmup=WARMUP)}
STEPS = np.arange(600, 6000, 150)


def simulate(noise=0.0, seed=0):
    """One mapping of curves per size, from TRUTH, with iid noise of sd `noise` in log loss."""
    law = Sized(MultiPowerLaw, vary=VARY, reference=2e8)
    rng = np.random.default_rng(seed)
    sets = []
    for n in SIZES:
        losses = predict_curves(TRUTH, [(s, STEPS, n) for s in SCHEDULES.values()], law=law).split()
        sets.append({name: (s, STEPS, loss * np.exp(noise * rng.standard_normal(loss.size)))
                     for (name, s), loss in zip(SCHEDULES.items(), losses)})
    return sets


def fit(sets, **kw):
    with warnings.catch_warnings():  # L0 with A, B with beta: correlated on three curves per size, as expected
        warnings.simplefilter("ignore", jscale.warnings.CorrelationWarning)
        return fit_curves(sets, law=Sized(MultiPowerLaw, vary=VARY), n_params=list(SIZES), loss="squared", **kw)


@pytest.fixture(scope="module")
def exact():
    return fit(simulate())


def test_a_ladder_of_sizes_is_recovered_exactly(exact):
    assert exact.law.reference == pytest.approx(2e8, rel=1e-14) and exact.law.sizes == SIZES
    assert exact.law.param_names[-3:] == ("L0:n_params", "A:n_params", "B:n_params")
    assert exact.objective < 1e-20
    for name, value in TRUTH.items():
        assert exact.params[name] == pytest.approx(value, rel=1e-5, abs=1e-7), name


def test_with_noise_an_unseen_size_is_predicted_close_to_the_truth(exact):
    noisy = fit(simulate(noise=0.002, seed=1))  # the same curves: the same law, its programs reused
    assert noisy.law == exact.law
    longer = Schedule.wsd(steps=9000, peak=PEAK, decay_start=7200, floor=3e-5, decay="linear", warmup=WARMUP)
    unseen = [(longer, [3000, 8999], 8e8), (SCHEDULES["cosine"], [5999], 5e7)]
    truth = predict_curves(TRUTH, unseen, law=exact.law)
    predicted = predict_curves(noisy, unseen)
    # measured: 0.02% and 0.32% off at 8e8 (twice the largest size; the end of a longer run), 0.05% at 5e7
    np.testing.assert_allclose(predicted["loss"], truth["loss"], rtol=5e-3)
    np.testing.assert_allclose(predict_curves(exact, unseen)["loss"], truth["loss"], rtol=1e-8)
    assert predicted.points()["n_params"].tolist() == [8e8, 8e8, 5e7] and len(predicted.split()) == 2


def test_shared_parameters_and_the_power_laws_of_n():
    """A size's curves are the base law's at p(N) = p (N / N_ref)^e; with vary=() every parameter
    is shared across sizes, and a fixed parameter stays fixed at every size."""
    pairs = [(SCHEDULES["cosine"], STEPS), (SCHEDULES["wsd"], STEPS[::3])]
    law = Sized(MultiPowerLaw, vary=VARY)
    at_n = {k: TRUTH[k] * (8e8 / 2e8) ** TRUTH.get(f"{k}:n_params", 0.0) for k in MultiPowerLaw.param_names}
    sized = predict_curves(TRUTH, [(s, steps, 8e8) for s, steps in pairs] + [(s, steps, 2e8) for s, steps in pairs],
                           law=law.over([(s, steps, n) for n in (1e8, 4e8) for s, steps in pairs]))
    alone = [predict_curves(p, pairs)["loss"] for p in (at_n, {k: TRUTH[k] for k in MultiPowerLaw.param_names})]
    np.testing.assert_allclose(sized["loss"], np.concatenate(alone), rtol=1e-12)
    shared = Sized(AnnealingLaw().fix(decay=0.995))
    assert shared.param_names == ("L0", "A", "alpha", "C") and shared.vary == ()
    params = {"L0": 2.9, "A": 0.55, "alpha": 0.5, "C": 1.5}
    both = predict_curves(params, [(s, steps, n) for n in (1e8, 1e9) for s, steps in pairs], law=shared).split()
    base = predict_curves({**params, "decay": 0.995}, pairs, law=AnnealingLaw).split()
    for got, want in zip(both, base + base):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_curve_data_of_a_ladder():
    sets = simulate()
    law, data = curve_data(sets, law=Sized(MultiPowerLaw, vary=VARY), n_params=SIZES)
    assert law.n_points == len(data) == 3 * 3 * STEPS.size
    assert sorted(set(np.asarray(data["n_params"]).tolist())) == list(SIZES)
    assert "cosine@1e+08" in set(np.asarray(data["curve"]).tolist())
    assert law == law.over(law.pairs) and type(law.pairs[0][0]) is Schedule and law.pairs[0][2] == 1e8


def test_bad_ladders_get_one_clear_message():
    sets = simulate()
    sized = Sized(MultiPowerLaw, vary=VARY)
    with pytest.raises(ValueError, match="needs n_params="):
        fit_curves(sets, law=sized)
    with pytest.raises(ValueError, match="one model size per mapping of curves: 3 mappings, 2 sizes"):
        fit_curves(sets, law=sized, n_params=SIZES[:2])
    with pytest.raises(ValueError, match="at least 2 model sizes; got 1"):
        fit_curves(sets[0], law=sized, n_params=1e8)
    with pytest.raises(ValueError, match="must be finite and > 0"):
        fit_curves(sets, law=sized, n_params=(1e8, -1.0, 4e8))
    with pytest.raises(ValueError, match="wrap the law"):
        fit_curves(sets[0], n_params=1e8)
    with pytest.raises(ValueError, match="no parameter 'L1'"):
        Sized(MultiPowerLaw, vary=("L1",))
    with pytest.raises(ValueError, match="decay of the annealing law is not fitted as its log"):
        Sized(AnnealingLaw, vary=("decay",))
    with pytest.raises(TypeError, match="must be a curve law"):
        Sized(jscale.laws.Chinchilla())
    with pytest.raises(ValueError, match=r"\(schedule, checkpoint steps, n_params\) triples"):
        sized.over([(SCHEDULES["cosine"], STEPS)])


@pytest.mark.slow  # a bootstrap of a 10-parameter law over 9 curves: about a minute on 2 cores
def test_a_bootstrap_of_a_ladder_bands_an_unseen_size():
    sets = simulate(noise=0.002, seed=2)
    fitted = fit(sets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        boot = bootstrap_curves(sets, fitted, n_params=SIZES, n_resamples=40, key=0)
    unseen = [(SCHEDULES["cosine"], [5999], 8e8)]
    low, high = predict_curves(boot, unseen).interval("loss")
    truth = predict_curves(TRUTH, unseen, law=fitted.law)["loss"]
    assert low[0] < truth[0] < high[0]
