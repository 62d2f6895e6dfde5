"""Tests of the robust losses: Huber and squared error, their IRLS weights and curvatures, the
objective sum and `resolve_loss`."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import problem_of, synthetic_chinchilla

import jscale
from jscale.base._numerics import x64_scope
from jscale.losses._losses import Huber, Squared, resolve_loss

R = np.array([-1.0, -0.2, -2e-3, -1e-3, -5e-4, -1e-9, 0.0, 1e-9, 5e-4, 1e-3, 2e-3, 0.2, 1.0, 30.0])


def _huber_numpy(r, delta):
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r**2, delta * (a - 0.5 * delta))


def _eval(fn, r):
    with x64_scope():
        return np.asarray(fn(jnp.asarray(r)))


@pytest.mark.parametrize("delta", [1e-3, 0.1, 2.0])
def test_huber_rho_is_piecewise(delta):
    loss = Huber(delta)
    got = _eval(loss.rho, R)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, _huber_numpy(R, delta), rtol=1e-15, atol=0)
    # Continuous at the threshold, linear beyond with slope delta.
    at = _eval(loss.rho, np.array([delta * (1 - 1e-12), delta * (1 + 1e-12)]))
    assert at[0] == pytest.approx(at[1], rel=1e-11)
    assert at[1] == pytest.approx(0.5 * delta**2, rel=1e-11)


def _derivatives(loss, r):
    with x64_scope():
        d1 = jax.vmap(jax.grad(loss.rho))(jnp.asarray(r))
        d2 = jax.vmap(jax.grad(jax.grad(loss.rho)))(jnp.asarray(r))
        psi = loss.irls_weight(jnp.asarray(r)) * jnp.asarray(r)
        curvature = loss.curvature(jnp.asarray(r))
    return np.asarray(d1), np.asarray(d2), np.asarray(psi), np.asarray(curvature)


@pytest.mark.parametrize("loss", [Huber(1e-3), Huber(0.1), Squared()], ids=repr)
def test_irls_weight_times_residual_is_the_derivative(loss):
    d1, d2, psi, curvature = _derivatives(loss, R)
    np.testing.assert_allclose(psi, d1, rtol=1e-15, atol=1e-300)
    delta = getattr(loss, "delta", np.inf)
    away = np.abs(np.abs(R) - delta) > 1e-12
    np.testing.assert_array_equal(curvature[away], d2[away])
    if isinstance(loss, Huber):
        np.testing.assert_array_equal(curvature, (np.abs(R) <= delta).astype(float))
        with np.errstate(divide="ignore"):
            expected = np.minimum(1.0, delta / np.abs(R))
        np.testing.assert_allclose(_eval(loss.irls_weight, R), expected, rtol=1e-15)
    else:
        np.testing.assert_array_equal(curvature, np.ones_like(R))
        np.testing.assert_array_equal(_eval(loss.irls_weight, R), np.ones_like(R))
        np.testing.assert_array_equal(_eval(loss.rho, R), 0.5 * R**2)


def test_irls_weight_majorises_huber():
    # The quadratic with curvature psi(r0)/r0 touching rho at r0 lies above rho everywhere.
    loss = Huber(1e-3)
    r = np.linspace(-0.01, 0.01, 2001)
    rho = _eval(loss.rho, r)
    for r0 in (-5e-3, -1e-3, 2e-4, 3e-3):
        w = float(_eval(loss.irls_weight, np.array([r0]))[0])
        rho0 = float(_eval(loss.rho, np.array([r0]))[0])
        assert np.all(rho0 + 0.5 * w * (r**2 - r0**2) >= rho - 1e-18)


def test_objective_is_the_weighted_sum():
    data = synthetic_chinchilla(n=3)
    rng = np.random.default_rng(3)
    data = data.replace(loss=data.loss * np.exp(rng.normal(0, 0.01, 9)), weight=np.arange(9.0))
    law = jscale.laws.Chinchilla()
    theta = np.array([0.5, 6.0, 7.3, 0.33, 0.29])
    log_pred = np.log(np.exp(0.5) + np.exp(6.0) * data.n_params**-0.33 + np.exp(7.3) * data.n_tokens**-0.29)
    r = np.log(data.loss) - log_pred
    with x64_scope():
        for loss, rho in [(Huber(1e-3), _huber_numpy(r, 1e-3)), (Squared(), 0.5 * r**2)]:
            got = float(problem_of(law, data, loss).objective(jnp.asarray(theta)))
            assert got == pytest.approx(np.sum(np.arange(9.0) * rho), rel=1e-12)


def test_resolve_loss():
    assert resolve_loss("huber", None) == Huber(1e-3)
    assert resolve_loss("huber", 0.5) == Huber(0.5)
    assert resolve_loss("squared", None) == Squared()
    assert resolve_loss("mse", None) == Squared() == resolve_loss("l2", None)
    obj = Huber(0.2)
    assert resolve_loss(obj, None) is obj


@pytest.mark.parametrize(
    "loss, delta, error, match",
    [
        ("bogus", None, ValueError,
         r"loss must be 'huber', 'squared', 'asymmetric' or a loss object such as jscale.losses.Huber\(delta\)"
         r".*got 'bogus'"),
        (None, None, TypeError, r"NoneType lacks rho, irls_weight, curvature"),
        ("squared", 0.1, ValueError,
         r"delta applies to the 'huber' and 'asymmetric' losses; remove it for loss='squared'"),
        (Huber(), 0.1, ValueError, r"Pass delta only with a loss name"),
        (Squared(), 0.1, ValueError, r"Pass delta only with a loss name"),
        ("huber", -1.0, ValueError, r"Huber delta must be a positive finite number; got -1.0"),
        ("huber", 0.0, ValueError, r"Huber delta must be a positive finite number; got 0.0"),
        ("huber", float("inf"), ValueError, r"Huber delta must be a positive finite number; got inf"),
        ("huber", float("nan"), ValueError, r"Huber delta must be a positive finite number; got nan"),
        ("asymmetric", -1.0, ValueError, r"Asymmetric delta must be a positive finite number; got -1.0"),
    ],
)
def test_resolve_loss_errors(loss, delta, error, match):
    with pytest.raises(error, match=match):
        resolve_loss(loss, delta)


@pytest.mark.parametrize("delta", [-1, 0, float("inf"), "0.1", None])
def test_huber_rejects_bad_delta(delta):
    with pytest.raises(ValueError, match=r"Huber delta must be a positive finite number"):
        Huber(delta)


def test_losses_are_frozen_and_hashable():
    assert hash(Huber(1e-3)) == hash(Huber(1e-3)) and Huber(1e-3) != Huber(2e-3)
    assert hash(Squared()) == hash(Squared())
    with pytest.raises(dataclasses.FrozenInstanceError):
        Huber().delta = 1.0
    assert jscale.losses.Huber is Huber and jscale.losses.Squared is Squared


def test_asymmetric_weights_over_prediction():
    loss = jscale.losses.Asymmetric(over=10.0, under=1.0, delta=1e-3)
    r = np.array([-0.5, -1e-4, 0.0, 1e-4, 0.5])  # r < 0: the law predicts above the observation
    rho = _eval(loss.rho, r)
    huber = _huber_numpy(r, 1e-3)
    np.testing.assert_allclose(rho, np.where(r < 0, 10.0, 1.0) * huber, rtol=1e-15)
    np.testing.assert_allclose(_eval(loss.irls_weight, r) * r, np.where(r < 0, 10.0, 1.0) * np.clip(r, -1e-3, 1e-3))
    jscale.losses.check_loss(loss)
    assert resolve_loss("asymmetric", 1e-4) == jscale.losses.Asymmetric(delta=1e-4)
    assert jscale.losses.Huber is Huber and jscale.losses.Squared is Squared


@dataclasses.dataclass(frozen=True)
class _L1:
    """A plain absolute error: no curvature anywhere."""

    def rho(self, r):
        return jnp.abs(r)

    def irls_weight(self, r):
        return 1 / jnp.abs(r)

    def curvature(self, r):
        return jnp.zeros_like(r)


@dataclasses.dataclass(frozen=True)
class _WrongPsi(_L1):
    def irls_weight(self, r):
        return jnp.ones_like(r)  # psi = r, but rho' = sign(r)

    def curvature(self, r):
        return jnp.ones_like(r)


class _Unhashable(_L1):
    __hash__ = None


@pytest.mark.parametrize("loss, error, match", [
    (_L1(), ValueError, r"The loss _L1 has zero curvature .* jscale.losses.Huber\(delta\)"),
    (_WrongPsi(), ValueError, r"r \* irls_weight\(r\) must equal rho'\(r\)"),
    (_Unhashable(), TypeError, r"not hashable; make it a frozen dataclass"),
    (object(), TypeError, r"object lacks rho, irls_weight, curvature"),
])
def test_check_loss_names_the_rule_broken(loss, error, match):
    with pytest.raises(error, match=match):
        jscale.losses.check_loss(loss)
    with pytest.raises(error, match=match):
        resolve_loss(loss)  # what fit and bootstrap call
