"""Bounded parameters on built-in laws (`Law.bound`) and the sigmoid link's metric range.

* An OLMo-style chained prediction (a loss law, then a sigmoid link from the loss to an
  accuracy whose floor and ceiling are bounded) written with the built-in link plus bounds
  reproduces the same prediction written as a bounded custom law, to 1e-6, with the ceiling
  inside the interval and on its edge.
* The link's ceiling defaults to at most 1: unbounded, the same data put it above 100%.
* Starts stay inside bounds; a bootstrap of a fit on a bound starts its draws inside.
* `bound` errors, its interplay with `fix`/`tie`, and save/load round trips.
"""

import warnings

import jax
import numpy as np
import pytest

import jscale
from jscale.laws import Param, SigmoidLink, custom

SIZES = np.repeat([2e7, 6e7, 1.5e8, 4e8, 1e9], 4)
TOKENS = SIZES * np.tile([5.0, 10.0, 20.0, 40.0], 5)
TARGETS = dict(n_params=[7e9, 1.3e10], n_tokens=[2e12, 4e12])


def _sigmoid(p, loss):
    return p["floor"] + (p["ceiling"] - p["floor"]) / (1 + np.exp(p["s"] * (loss - p["L0"])))


def _study(ceiling: float, seed: int = 0) -> jscale.ScalingData:
    """Losses from a Chinchilla law and accuracies from a sigmoid link with the given ceiling, both noisy."""
    rng = np.random.default_rng(seed)
    loss = (1.7 + 400 / SIZES ** 0.34 + 410 / TOKENS ** 0.28) * np.exp(0.004 * rng.standard_normal(len(SIZES)))
    acc = _sigmoid(dict(floor=0.25, ceiling=ceiling, s=3.0, L0=3.0), loss) + 0.01 * rng.standard_normal(len(SIZES))
    return jscale.ScalingData.from_arrays(n_params=SIZES, n_tokens=TOKENS, loss=loss, acc=acc)


def _link_fn(p, x):
    return p["floor"] + (p["ceiling"] - p["floor"]) * jax.nn.sigmoid(-p["s"] * (x["loss"] - p["L0"]))


CUSTOM_LINK = custom(_link_fn, {"floor": Param((0.2, 0.3)), "ceiling": Param((0.0, 1.0)), "s": Param("positive"),
                                "L0": Param("free")}, columns=("loss",), name="olmo-sigmoid")
BUILT_IN_LINK = SigmoidLink().bound(floor=(0.2, 0.3))


def _fit(law, data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        return jscale.fit(law, data, **kwargs)


@pytest.fixture(scope="module", params=[0.93, 1.0], ids=["interior", "on-bound"])
def chained(request):
    data = _study(request.param)
    loss_fit = _fit(jscale.laws.Chinchilla(), data)
    links = [_fit(law, data, target="acc", residual="raw", loss="squared") for law in (BUILT_IN_LINK, CUSTOM_LINK)]
    return request.param, data, loss_fit, links


@pytest.mark.filterwarnings("ignore::jscale.warnings.ExtrapolationWarning")
def test_built_in_link_with_bounds_reproduces_a_bounded_custom_law(chained):
    ceiling, data, loss_fit, (built, made) = chained
    assert built.law.free_names == made.law.free_names == ("logit_floor", "logit_ceiling", "log_s", "L0")
    for name in ("floor", "ceiling", "s", "L0"):
        assert built.params[name] == pytest.approx(made.params[name], rel=1e-6, abs=1e-9), name
    predictions = [jscale.two_stage(loss_fit, link, data).predict(**TARGETS).metric for link in (built, made)]
    np.testing.assert_allclose(predictions[0], predictions[1], rtol=0, atol=1e-6)
    assert 0.2 < built.params["floor"] < 0.3 and built.params["ceiling"] <= 1.0
    if ceiling == 1.0:  # the optimum sits on the edge of the interval
        assert built.params["ceiling"] == pytest.approx(1.0, abs=1e-6)


def test_an_unbounded_ceiling_goes_above_one_where_the_default_does_not(chained):
    ceiling, data, _, (built, _) = chained
    if ceiling < 1.0:
        pytest.skip("the interior optimum is the same with and without the range")
    free = _fit(SigmoidLink(metric_range=None), data, target="acc", residual="raw", loss="squared")
    default = _fit(SigmoidLink(), data, target="acc", residual="raw", loss="squared")
    assert free.params["ceiling"] > 1.01
    assert default.params["ceiling"] <= 1.0
    assert SigmoidLink().bounds[:2] == ((0.0, 1.0), (0.0, 1.0))


@pytest.mark.filterwarnings("ignore::jscale.warnings.DiagnosticWarning")
def test_a_bootstrap_of_a_fit_on_a_bound_starts_its_draws_inside(chained):
    ceiling, data, loss_fit, (built, _) = chained
    if ceiling < 1.0:
        pytest.skip("only an optimum on a bound starts draws there")
    assert abs(built.theta[1]) > 10  # logit of a ceiling on its bound
    boot = jscale.two_stage(loss_fit, built, data, key=0, n_resamples=64).link_boot
    assert np.abs(np.asarray(boot.starts)[:, 1]).max() <= 6.0
    on_bound = np.asarray(boot.draws["ceiling"])[boot.draw_ok] > 1 - 1e-6
    assert 0 < on_bound.mean() < 1  # draws leave the bound where their data pull them inside


def test_default_starts_stay_inside_the_bounds():
    for law in (SigmoidLink(), SigmoidLink(metric_range=(0, 100)), BUILT_IN_LINK,
                jscale.laws.Chinchilla().bound(alpha=(0.2, 0.5))):
        natural = law.to_natural(law.default_starts())
        assert np.all(np.isfinite(law.default_starts()))
        for k, (low, high) in enumerate(law.bounds):
            if np.isfinite(low) and np.isfinite(high):
                margin = 0.01 * (high - low)
                assert np.all((natural[:, k] > low + margin) & (natural[:, k] < high - margin)), (law.name, k)
    percent = SigmoidLink(metric_range=(0, 100))
    assert percent.to_natural(percent.default_starts())[:, 1].max() > 90


def test_bound_errors_and_its_interplay_with_fix_and_tie():
    law = jscale.laws.Chinchilla()
    with pytest.raises(ValueError, match="no|not a parameter.*alpha"):
        law.bound(alpah=(0, 1))
    with pytest.raises(ValueError, match="finite"):
        law.bound(alpha=(0, float("inf")))
    with pytest.raises(ValueError, match="low < high"):
        law.bound(alpha=(0.5, 0.5))
    with pytest.raises(ValueError, match="two numbers"):
        law.bound(alpha=0.5)
    with pytest.raises(ValueError, match="leaves its domain"):
        law.bound(alpha=(-0.1, 0.5))
    with pytest.raises(ValueError, match="fixed or tied"):
        law.fix(E=1.7).bound(E=(1, 2))
    bounded = law.bound(alpha=(0.2, 0.5))
    assert bounded.name == "chinchilla(alpha in (0.2, 0.5))"
    assert bounded.free_names == ("log_E", "log_A", "log_B", "logit_alpha", "beta")
    with pytest.raises(ValueError, match="bounded to"):
        bounded.fix(alpha=0.6)
    fixed = bounded.fix(alpha=0.3)
    assert fixed.limits == () and dict(fixed.fixed) == {"alpha": 0.3}
    with pytest.raises(ValueError, match="different bounds"):
        bounded.tie(beta="alpha")
    tied = law.tie(beta="alpha").bound(alpha=(0.2, 0.5))  # the fitted one of a tied pair takes the bound
    theta = tied.to_free(np.array([1.7, 400.0, 1500.0, 0.3]))
    assert tied.to_natural(theta)[3] == pytest.approx(0.3)
    full = np.asarray(tied.full(theta))
    assert full[3] == pytest.approx(0.3) and full[4] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="metric_range"):
        SigmoidLink(metric_range=(1, 0))


def test_bounded_laws_save_and_load(tmp_path, chained):
    _, data, _, (built, _) = chained
    path = tmp_path / "link.jscale"
    jscale.save(built, path)
    back = jscale.load(path)
    assert back.law == built.law and back.law.limits == (("floor", (0.2, 0.3)),)
    np.testing.assert_array_equal(back.theta, built.theta)
    unbounded = _fit(SigmoidLink(metric_range=None), data, target="acc", residual="raw", loss="squared")
    jscale.save(unbounded, tmp_path / "free.jscale")
    assert jscale.load(tmp_path / "free.jscale").law.metric_range is None
