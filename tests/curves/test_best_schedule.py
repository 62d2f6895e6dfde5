"""The best schedule through the fitted multi-power law (`jscale.curves._best`, issue 35 item 5).

With the 25M parameters of Luo et al. (published, and a fit of ours) at their setting (24,000
steps, peak 3e-4, warmup 2,160, floor 3e-5): the best schedule predicts a lower final loss than
cosine and WSD, keeps its constraints, reports the law's own values, and its gain's band over
parameter draws contains the point gain. The size of the gains is the benchmark's
(benchmarks/bench_best_schedule.py).
"""

import dataclasses
import json
import types
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

from jscale.base._numerics import x64_scope
from jscale.curves import MULTIPOWER_PARAMS, Schedule, multipower_exact
from jscale.curves._best import BestSchedule, _final_loss, best_schedule
from jscale.curves._luo import LUO2025_PUBLISHED
from jscale.warnings import ConvergenceWarning

FITTED_25M = dict(zip(MULTIPOWER_PARAMS, (2.988, 0.5627, 0.4911, 747.0, 0.3785, 0.1129, 0.8952)))
PARAMS = {"fitted": FITTED_25M, "published": dict(zip(MULTIPOWER_PARAMS, LUO2025_PUBLISHED["25M"]))}
LUO = dict(steps=24000, peak=3e-4, warmup=2160, floor=3e-5)
SMALL = dict(steps=3000, peak=3e-4, warmup=300, knots=16)


def _draws(params, n=40, spread=0.02, seed=0):
    """Parameter draws around `params` (a stand-in for bootstrap refits): log-normal, `spread` wide."""
    theta = np.array([params[k] for k in MULTIPOWER_PARAMS])
    noise = np.random.default_rng(seed).standard_normal((n, len(theta)))
    return theta[None, :] * np.exp(spread * noise)


@pytest.fixture(scope="module", params=sorted(PARAMS))
def luo(request):
    params = PARAMS[request.param]
    return params, best_schedule(params, draws=_draws(params), **LUO)


@pytest.fixture(scope="module")
def small():
    return best_schedule(PARAMS["published"], **SMALL)


def _exact(params, lr, last=1):
    with x64_scope():  # float64 arrays: made inside the scope
        theta = jnp.asarray([params[k] for k in MULTIPOWER_PARAMS])
        return float(np.mean(multipower_exact(theta, jnp.asarray(lr), np.arange(len(lr) - last, len(lr)))))


def test_the_best_schedule_beats_cosine_and_wsd_at_24000_steps(luo):
    _, best = luo
    assert best.converged
    assert best.loss < best.wsd_loss < best.cosine_loss
    assert best.gain_cosine > 0 and best.gain_wsd > 0
    assert best.gain_cosine == best.cosine_loss - best.loss


def test_the_best_schedule_keeps_its_constraints(luo):
    _, best = luo
    lr, w = best.rates, LUO["warmup"]
    assert lr.shape == (LUO["steps"],) and lr.dtype == np.float64 and not lr.flags.writeable
    np.testing.assert_array_equal(lr[:w], np.linspace(0.0, LUO["peak"], w))
    after = lr[w:]
    assert np.all(np.diff(after) <= 0.0)
    assert after.min() >= LUO["floor"] and after.max() <= LUO["peak"]
    assert after[0] == pytest.approx(LUO["peak"], rel=1e-12)  # no jump after the warmup
    assert np.all(np.diff(best.knot_rates) <= 0.0) and best.knot_steps[[0, -1]].tolist() == [w, LUO["steps"] - 1]


def test_the_reported_losses_are_the_laws_on_the_returned_rates(luo):
    params, best = luo
    assert abs(best.loss - _exact(params, best.rates)) < 1e-10
    assert abs(best.cosine_loss - _exact(params, Schedule.cosine(**LUO).lr())) < 1e-10
    wsd = Schedule.wsd(steps=24000, peak=3e-4, decay_start=24000 - 4800, floor=3e-5, warmup=2160)
    assert best.wsd == wsd
    assert abs(best.wsd_loss - _exact(params, wsd.lr())) < 1e-10
    draw = dict(zip(MULTIPOWER_PARAMS, _draws(params)[3]))
    assert abs(best.draws("best")[3] - _exact(draw, best.rates)) < 1e-10
    assert abs(best.draws("gain_wsd")[3] - (_exact(draw, wsd.lr()) - _exact(draw, best.rates))) < 1e-10


def test_the_bands_over_the_draws_contain_the_point_gains(luo):
    _, best = luo
    assert best.n_draws == 40
    for name, gain in (("gain_cosine", best.gain_cosine), ("gain_wsd", best.gain_wsd)):
        low, high = best.interval(name, level=0.95)
        assert low <= gain <= high and low < high
        narrow = best.interval(name, level=0.5)
        assert low <= narrow.low <= narrow.high <= high


def test_the_final_loss_in_closed_form_equals_the_law():
    lr = Schedule.wsd(steps=5000, peak=3e-4, decay_start=3000, floor=3e-5, warmup=500, decay="geometric").lr()
    for params in PARAMS.values():
        with x64_scope():
            theta = jnp.asarray([params[k] for k in MULTIPOWER_PARAMS])
            direct = float(_final_loss(theta, jnp.asarray(lr)))
        assert abs(direct - _exact(params, lr)) < 1e-12


def test_an_averaged_objective_and_the_default_floor(small):
    assert small.floor == pytest.approx(3e-5) and small.cosine.floor == small.floor == small.wsd.floor
    averaged = best_schedule(PARAMS["published"], objective=50, **SMALL)
    assert averaged.objective == 50
    assert abs(averaged.loss - _exact(PARAMS["published"], averaged.rates, last=50)) < 1e-10
    assert averaged.loss < averaged.wsd_loss < averaged.cosine_loss
    # The final loss is lowest for the schedule chosen for it.
    assert small.loss <= _exact(PARAMS["published"], averaged.rates) + 1e-9


def test_a_floor_of_zero_keeps_every_rate_positive():
    best = best_schedule(PARAMS["published"], floor=0.0, **SMALL)
    assert best.rates[1:].min() > 0 and np.isfinite(best.loss) and best.gain_cosine > 0


def test_every_source_of_draws_gives_the_same_bands(small):
    params = PARAMS["published"]
    array = _draws(params, n=7)  # with the point, 8: the bucket of no draws (one compile)
    a = best_schedule(params, draws=array, **SMALL)
    as_dicts = best_schedule(params, draws=[dict(zip(MULTIPOWER_PARAMS, row)) for row in array], **SMALL)
    boot = types.SimpleNamespace(draws={k: np.append(array[:, i], np.nan) for i, k in enumerate(MULTIPOWER_PARAMS)},
                                 draw_ok=np.append(np.ones(7, bool), False))
    as_boot = best_schedule(types.SimpleNamespace(params=params), draws=boot, **SMALL)
    for other in (as_dicts, as_boot):
        np.testing.assert_array_equal(other.draws("gain_cosine"), a.draws("gain_cosine"))
    np.testing.assert_array_equal(a.rates, small.rates)  # draws do not move the schedule


def test_reports_are_text_strict_json_and_a_short_repr(luo, small):
    _, best = luo
    for level in (0.9, 0.95):
        text = best.summary(level=level)
        assert "cosine" in text and "wsd" in text and f"{100 * level:g}% band" in text
        out = json.loads(json.dumps(best.to_dict(level=level), allow_nan=False))
        assert out["kind"] == "best_schedule" and out["interval"]["gain_wsd"][0] <= out["gain_wsd"]
        assert len(out["knot_rates"]) == 128
    assert "band" not in small.summary() and "interval" not in small.to_dict()
    for r in (best, small):
        assert len(repr(r).splitlines()) == 1 and "array(" not in repr(r)
    assert isinstance(small.schedule, Schedule) and small.schedule.steps == SMALL["steps"]


def test_the_result_is_immutable(small):
    assert isinstance(small, BestSchedule)
    with pytest.raises(dataclasses.FrozenInstanceError):
        small.loss = 0.0
    with pytest.raises(ValueError):
        small.rates[5] = 1.0


def test_stopping_early_warns():
    with pytest.warns(ConvergenceWarning, match="max_steps=2"):
        best_schedule(PARAMS["published"], max_steps=2, **SMALL)


@pytest.mark.parametrize("change, match", [
    (dict(warmup=3000), "warmup must be in"),
    (dict(steps=300), "warmup must be in"),
    (dict(peak=0.0), "peak must be finite and > 0"),
    (dict(peak=-1e-3), "peak must be finite and > 0"),
    (dict(floor=3e-4), r"floor must be in \[0, peak"),
    (dict(floor=-1e-6), r"floor must be in \[0, peak"),
    (dict(objective="mean"), "objective must be 'final'"),
    (dict(objective=0), "objective must be in"),
    (dict(objective=2701), "objective must be in"),
    (dict(objective=True), "objective must be 'final'"),
    (dict(knots=1), "knots must be in"),
    (dict(knots=2701), "knots must be in"),
    (dict(wsd_fraction=0.0), "wsd_fraction"),
    (dict(draws=np.ones((4, 6))), r"draws must be a \(B, 7\) array"),
    (dict(draws=np.ones((0, 7))), r"draws must be a \(B, 7\) array"),
    (dict(draws=np.full((3, 7), np.nan)), "first is row 0"),
    (dict(draws={"L0": [1.0]}), "draws lacks A, alpha"),
    (dict(draws=[{"L0": 1.0}]), r"draws\[0\] lacks A"),
])
def test_bad_inputs_raise(change, match):
    with pytest.raises(ValueError, match=match):
        best_schedule(PARAMS["published"], **{**SMALL, **change})


def test_bad_params_and_bad_requests_raise(small):
    with pytest.raises(ValueError, match="params lacks gamma"):
        best_schedule({k: v for k, v in FITTED_25M.items() if k != "gamma"}, **SMALL)
    with pytest.raises(ValueError, match="7 parameters"):
        best_schedule([1.0, 2.0], **SMALL)
    with pytest.raises(ValueError, match="finite and > 0; B is"):
        best_schedule({**FITTED_25M, "B": -1.0}, **SMALL)
    with pytest.raises(TypeError, match="steps must be an integer"):
        best_schedule(FITTED_25M, **{**SMALL, "steps": 3000.0})
    with pytest.raises(ValueError, match="No draws"):
        small.interval("gain_wsd")
    with pytest.raises(ValueError, match="name must be one of"):
        small.draws("gain")
    with pytest.raises(ValueError, match="level must be"):
        small.summary(level=95)
    with warnings.catch_warnings():  # nothing to say on a converged run
        warnings.simplefilter("error")
        best_schedule(PARAMS["fitted"], **SMALL)
