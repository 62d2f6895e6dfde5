"""Curvature-based intervals on FitResult: covariances, the delta method, prediction intervals."""


import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import noisy_chinchilla, quiet, subset_starts

import jscale
from jscale.inference._uncertainty import normal_quantile

# The diagnostics these tests' fits raise and do not test (warnings are errors elsewhere).
pytestmark = [
    pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.StartsWarning"),
]

LAW = jscale.laws.Chinchilla()
Z95 = normal_quantile(0.975)


@pytest.fixture(scope="module")
def fit():
    data = noisy_chinchilla(n=10, sigma=0.01, seed=2)
    return data, jscale.fit(LAW, data, starts=subset_starts(), loss="huber", delta=0.02)




def test_covariances_are_positive_definite_and_natural(fit):
    _, result = fit
    for method in ("sandwich", "hessian"):
        free = result.free_covariance(method)
        assert np.all(np.linalg.eigvalsh(free) > 0)
        nat = quiet(result.covariance, method)
        x = result.end_params[result.best_index]
        scale = np.where(LAW.positive, np.exp(x), 1.0)
        np.testing.assert_allclose(nat, free * np.outer(scale, scale), rtol=1e-12)
    se = quiet(lambda: result.se)
    assert tuple(se) == LAW.param_names and all(v > 0 for v in se.values())
    np.testing.assert_allclose(np.diag(quiet(lambda: result.corr)), 1.0)


def test_parameter_intervals(fit):
    _, result = fit
    free = result.free_covariance()
    x = result.end_params[result.best_index]
    low, high = quiet(result.interval, "alpha")
    assert (low + high) / 2 == pytest.approx(x[3], rel=1e-12)
    assert (high - low) / 2 == pytest.approx(Z95 * np.sqrt(free[3, 3]), rel=1e-12)
    # A positive parameter's interval is symmetric in its logarithm.
    low, high = quiet(result.interval, "A")
    assert np.log(low) + np.log(high) == pytest.approx(2 * x[1], rel=1e-12)
    assert quiet(result.interval, "log_A") == pytest.approx((np.log(low), np.log(high)), rel=1e-12)
    # The delta method on the identity gives the Wald interval.
    assert quiet(result.interval, lambda p: p["alpha"]) == pytest.approx(quiet(result.interval, "alpha"), rel=1e-12)
    narrow = quiet(result.interval, "alpha", level=0.5)
    assert narrow[1] - narrow[0] < high - low


def test_delta_method_matches_finite_differences(fit):
    _, result = fit
    free = result.free_covariance()
    x = np.asarray(result.end_params[result.best_index])

    def exponent(theta):
        return theta[4] / (theta[3] + theta[4])

    h = 1e-6
    grad = np.array([(exponent(x + h * e) - exponent(x - h * e)) / (2 * h) for e in np.eye(5)])
    se = np.sqrt(grad @ free @ grad)
    low, high = quiet(result.interval, lambda p: p["beta"] / (p["alpha"] + p["beta"]))
    assert (high - low) / (2 * Z95) == pytest.approx(se, rel=1e-6)
    assert (high + low) / 2 == pytest.approx(exponent(x), rel=1e-12)


def test_prediction_intervals(fit):
    data, result = fit
    kw = dict(n_params=[1e8, 3e9], n_tokens=[1e9, 1e11])
    pred = result.predict(**kw)
    low, high = result.predict_interval(**kw)
    assert np.all(low < pred) and np.all(pred < high)
    np.testing.assert_allclose(np.log(low) + np.log(high), 2 * np.log(pred), rtol=1e-12)
    r = np.log(data.loss) - np.log(result.predict(data))
    assert result.residual_variance == pytest.approx(np.sum(r**2) / (len(data) - 5), rel=1e-10)
    obs_low, obs_high = result.predict_interval(observation=True, **kw)
    var = ((np.log(high) - np.log(pred)) / Z95) ** 2 + result.residual_variance
    np.testing.assert_allclose(np.log(obs_high) - np.log(pred), Z95 * np.sqrt(var), rtol=1e-10)
    with pytest.raises(ValueError, match="mismatched lengths"):
        result.predict_interval(n_params=[1e8], n_tokens=[1e9, 1e10])


def test_singular_hessian_warns_and_gives_nan():
    # With delta far below the noise only the few rows the fit interpolates are inside the
    # quadratic zone, fewer than the parameters: the curvature is singular.
    data = noisy_chinchilla(n=6, sigma=0.01, seed=4)
    with pytest.warns(jscale.warnings.CurvatureWarning, match="not positive definite"):
        result = jscale.fit(LAW, data, starts=subset_starts(), delta=1e-9)
    assert float(result.curvature["sum_dpsi"]) < LAW.n_free
    assert issubclass(jscale.warnings.CurvatureWarning, jscale.warnings.IntervalWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once, by fit; not again on each covariance
        cov = result.covariance()
    assert np.all(np.isnan(cov))


def test_bad_requests(fit):
    _, result = fit
    with pytest.raises(ValueError, match="covariance must be one of sandwich, hessian"):
        result.covariance("bootstrap")
    with pytest.raises(ValueError, match="level must be a number in"):
        result.interval("E", level=1.5)
    with pytest.raises(ValueError, match="got 'gamma'"):
        quiet(result.interval, "gamma")
    with pytest.raises(ValueError, match="holds no curvature"):
        result.replace(curvature=None).covariance()


def test_log_scale_delta_method_for_positive_quantities(fit):
    _, result = fit

    def ratio(p):
        return p["B"] / p["A"]

    low, high = quiet(result.interval, ratio, log=True)
    log_low, log_high = quiet(result.interval, lambda p: jnp.log(ratio(p)))
    assert (low, high) == pytest.approx((np.exp(log_low), np.exp(log_high)), rel=1e-12)
    assert 0 < low < float(ratio(result.params)) < high
