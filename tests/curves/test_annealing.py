"""jscale.curves: the learning-rate annealing law of Tissue et al. 2024 (arXiv:2408.11029) and its
baseline, a power law in the area under the schedule.

* S1 and S2 match a direct long-double recurrence (m_i = lambda m_{i-1} + eta_{i-1} - eta_i) on
  cosine, wsd, two-stage and rising custom schedules, to 1e-12 relative, at decay factors from
  0.5 to 0.99999; the law's derivative in lambda matches finite differences.
* A curve set simulated from known parameters is recovered by `jscale.fit`.
* On Luo et al.'s 25M curves (skipped without ../shared/data) both laws fit the three training
  curves, and their PredE on the six test curves is sane (measured: annealing 0.00136, area power
  0.0073; the multi-power law's is 0.00137).
"""

import jax
import numpy as np
import pytest

import jscale
from jscale.base._numerics import x64_scope
from jscale.curves import Schedule
from jscale.curves._annealing import ANNEALING_PARAMS, AnnealingLaw, AreaPowerLaw, annealing_areas
from jscale.data._data import ScalingData

SCHEDULES = {
    "cosine": Schedule.cosine(steps=72000, peak=3e-4, floor=3e-5, warmup=2160),
    "wsd": Schedule.wsd(steps=24000, peak=3e-4, decay_start=20000, floor=3e-5, decay="geometric", warmup=2160),
    "two_stage": Schedule.two_stage(steps=16000, peak=3e-4, switch=8000, value=3e-5, warmup=2160),
    # a rise after a decay (a warm restart): S2 falls again
    "custom": Schedule.custom(np.concatenate([np.linspace(0.0, 1e-3, 300), np.linspace(1e-3, 1e-4, 3000),
                                              np.linspace(1e-4, 5e-4, 500), np.full(1200, 5e-4)])),
}


def _reference(lr, steps, decay):
    """S1 and S2 at `steps` by the recurrence itself, step by step in long double."""
    lr = np.asarray(lr, np.longdouble)
    decay = np.longdouble(decay)
    s1, m, s2 = lr[0], np.longdouble(0), np.longdouble(0)
    out1, out2 = np.zeros(lr.size, np.longdouble), np.zeros(lr.size, np.longdouble)
    out1[0] = s1
    for i in range(1, lr.size):
        m = decay * m + (lr[i - 1] - lr[i])
        s2 += m
        s1 += lr[i]
        out1[i], out2[i] = s1, s2
    return out1[steps].astype(np.float64), out2[steps].astype(np.float64)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_areas_match_the_recurrence(name):
    lr = SCHEDULES[name].lr()
    rng = np.random.default_rng(0)
    # checkpoints in no particular order, one repeated, the last step included
    steps = np.concatenate([rng.choice(np.arange(10, lr.size), 150, replace=False), [lr.size - 1, 500]])
    for decay in (0.5, 0.99, 0.999, 0.99999):
        ref1, ref2 = _reference(lr, steps, decay)
        s1, s2 = annealing_areas([(SCHEDULES[name], steps)], decay)
        np.testing.assert_allclose(s1, ref1, rtol=1e-12, atol=0)
        # relative to the curve's scale: S2 crosses zero where a rise meets a decay
        assert np.max(np.abs(s2 - ref2)) <= 1e-12 * np.max(np.abs(ref2)), (name, decay)
        far = np.abs(ref2) > 1e-3 * np.max(np.abs(ref2))
        np.testing.assert_allclose(s2[far], ref2[far], rtol=1e-12, atol=0)


def test_curves_are_independent_and_the_derivative_is_exact():
    pairs = [(SCHEDULES["two_stage"], np.arange(2200, 16000, 700)), (SCHEDULES["custom"], np.arange(100, 5000, 300))]
    together = annealing_areas(pairs, 0.995)
    alone = [annealing_areas([p], 0.995) for p in pairs]
    for k in range(2):
        np.testing.assert_allclose(together[k], np.concatenate([a[k] for a in alone]), rtol=1e-14, atol=0)
    law = AnnealingLaw.over(pairs)
    theta = np.log(np.array([2.5, 0.5, 0.5, 0.8, 0.995 / 0.005]))
    with x64_scope():
        jac = np.asarray(jax.jit(jax.jacfwd(law.log_loss))(theta))
        h = 1e-6
        up, down = (np.asarray(law.log_loss(theta + s * h * np.eye(5)[4])) for s in (1.0, -1.0))
    np.testing.assert_allclose(jac[:, 4], (up - down) / (2 * h), rtol=1e-6, atol=1e-12)


@pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning")  # short curves: correlated, as they are
def test_a_simulated_curve_set_is_recovered():
    truth = dict(zip(ANNEALING_PARAMS, (2.9, 0.55, 0.5, 1.5, 0.995)))
    schedules = [Schedule.cosine(steps=6000, peak=3e-4, floor=3e-5, warmup=500),
                 Schedule.constant(steps=6000, peak=3e-4, warmup=500),
                 Schedule.wsd(steps=6000, peak=3e-4, decay_start=4500, floor=3e-5, decay="linear", warmup=500)]
    steps = np.arange(600, 6000, 100)
    law = AnnealingLaw.over([(s, steps) for s in schedules])
    loss = np.concatenate(law.curve_loss(truth))
    data = ScalingData.from_arrays(checkpoint=np.arange(loss.size, dtype=np.float64), loss=loss)
    starts = law.default_starts()[[39, 47]]  # lambda 0.999, L0 2.5 and 3.5
    fit = jscale.fit(law, data, starts=starts, loss="squared")
    assert fit.objective < 1e-20
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-5), name
    assert law == AnnealingLaw.over([(s, steps) for s in schedules]) and law != AreaPowerLaw.over(
        [(s, steps) for s in schedules])


def _pred_e(law_class, params, curves):
    law = law_class.over([(s, steps) for s, steps, _ in curves])
    return float(np.mean([np.mean(np.abs(p - loss) / loss) for p, (*_, loss) in zip(law.curve_loss(params), curves)]))


@pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning")  # L0 with A on three curves, as expected
def test_both_laws_on_luo_25m(luo_csv, luo_schedule, luo_published):
    _, train, names = luo_published
    curves = {n: (luo_schedule(n), *luo_csv("25M", n)[::2]) for n in names}
    fitted = [curves[n] for n in train]
    test = [curves[n] for n in names if n not in train]
    loss = np.concatenate([c[2] for c in fitted])
    data = ScalingData.from_arrays(checkpoint=np.arange(loss.size, dtype=np.float64), loss=loss)
    pred_e = {}
    for law_class, rows in ((AreaPowerLaw, [3]), (AnnealingLaw, [39, 47])):
        law = law_class.over([(s, steps) for s, steps, _ in fitted])
        fit = jscale.fit(law, data, starts=law.default_starts()[rows])
        assert fit.best_status == "success"
        pred_e[law.name] = _pred_e(law_class, fit.params, test)
    # measured: 0.00136 and 0.0073 (the multi-power law's: 0.00137 with our fit, 0.00110 published)
    assert pred_e["annealing"] < 0.002
    assert pred_e["area_power"] < 0.01
    assert pred_e["annealing"] < 0.5 * pred_e["area_power"]  # the annealing term earns its parameters


def test_bad_curves_get_one_clear_message():
    s = Schedule.constant(steps=100, peak=1e-3, warmup=10)
    with pytest.raises(ValueError, match="area under the schedule .* must be > 0"):
        AreaPowerLaw.over([(s, np.array([0, 50]))])
    with pytest.raises(ValueError, match="must lie in"):
        AnnealingLaw.over([(s, np.array([50, 150]))])
    with pytest.raises(ValueError, match="finite and >= 0"):
        AnnealingLaw.over([(np.array([1.0, -1.0, 1.0]), np.array([1, 2]))])
    with pytest.raises(ValueError, match="at least one curve"):
        AnnealingLaw.over([])
    with pytest.raises(ValueError, match="decay must be a number in"):
        annealing_areas([(s, np.array([50]))], 1.0)
    law = AnnealingLaw.over([(s, np.arange(20, 90, 5))])
    with pytest.raises(ValueError, match="indices of its 14 checkpoints"):
        jscale.fit(law, ScalingData.from_arrays(checkpoint=np.arange(14.0) + 1, loss=np.ones(14)))
    assert law.default_starts().shape == (72, 5)
    assert AreaPowerLaw.over([(s, [20, 50])]).default_starts().shape == (12, 3)


def test_predict_curves_evaluates_both_laws_as_their_curve_loss():
    pairs = [(SCHEDULES["two_stage"], np.arange(2200, 16000, 700)), (SCHEDULES["custom"], np.arange(100, 5000, 300))]
    for law_class, params in ((AnnealingLaw, (2.5, 0.5, 0.5, 0.8, 0.995)), (AreaPowerLaw, (2.5, 0.5, 0.5))):
        law = law_class.over(pairs)
        named = dict(zip(law.param_names, params))
        predicted = jscale.curves.predict_curves(named, pairs, law=law_class).split()
        for got, want in zip(predicted, law.curve_loss(named)):
            np.testing.assert_allclose(got, want, rtol=1e-13)
