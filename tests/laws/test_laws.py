"""Tests of the law forms: the Chinchilla formula in log space, the free parametrisation,
Hoffmann's start grid, hashability, and the kernel's gradient against finite differences."""

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import chinchilla_loss, problem_of, synthetic_chinchilla

import jscale
from jscale.base._numerics import x64_scope
from jscale.engine._solve import evaluate
from jscale.laws._laws import Law, log_sum_exp_offset

LAW = jscale.laws.Chinchilla()


def _random_params(rng, n):
    """n natural parameter sets spanning the range of fitted Chinchilla laws."""
    return dict(
        E=rng.uniform(0.5, 3.0, n), A=np.exp(rng.uniform(0, 12, n)), B=np.exp(rng.uniform(0, 12, n)),
        alpha=rng.uniform(0.05, 1.0, n), beta=rng.uniform(0.05, 1.0, n),
    )


def test_names_and_columns():
    assert LAW.name == "chinchilla"
    assert LAW.param_names == ("E", "A", "B", "alpha", "beta")
    assert LAW.free_names == ("log_E", "log_A", "log_B", "alpha", "beta")
    assert LAW.columns == ("n_params", "n_tokens")
    assert LAW.n_free == 5
    assert isinstance(LAW, Law)


def test_log_predict_matches_numpy_formula():
    rng = np.random.default_rng(0)
    n_params = np.exp(rng.uniform(np.log(1e6), np.log(1e12), 50))
    n_tokens = np.exp(rng.uniform(np.log(1e8), np.log(1e13), 50))
    params = _random_params(rng, 20)
    with x64_scope():
        log_x = {"n_params": jnp.log(jnp.asarray(n_params)), "n_tokens": jnp.log(jnp.asarray(n_tokens))}
        predict = jax.jit(LAW.log_predict)
        for i in range(20):
            p = {k: v[i] for k, v in params.items()}
            theta = jnp.asarray([np.log(p["E"]), np.log(p["A"]), np.log(p["B"]), p["alpha"], p["beta"]])
            got = np.asarray(predict(theta, log_x))
            assert got.dtype == np.float64
            np.testing.assert_allclose(got, np.log(chinchilla_loss(p, n_params, n_tokens)), rtol=1e-12)


def test_log_predict_is_stable_far_from_the_data():
    # Terms far below E (large N, D) and far above it (tiny E) stay finite and exact.
    with x64_scope():
        log_x = {"n_params": jnp.log(jnp.asarray([1e7, 1e30])), "n_tokens": jnp.log(jnp.asarray([1e8, 1e30]))}
        tiny_e = np.asarray(LAW.log_predict(jnp.asarray([-400.0, 6.0, 7.0, 0.3, 0.3]), log_x))
        big_n = np.asarray(LAW.log_predict(jnp.asarray([0.5, 6.0, 7.0, 0.3, 0.3]), log_x))
    expected = np.log(np.exp(6.0) * np.array([1e7, 1e30]) ** -0.3 + np.exp(7.0) * np.array([1e8, 1e30]) ** -0.3)
    np.testing.assert_allclose(tiny_e, expected, rtol=1e-13)
    assert big_n[1] == pytest.approx(0.5 + np.log1p(np.exp(5.5) * 1e-9 + np.exp(6.5) * 1e-9), rel=1e-14)


def test_log_sum_exp_offset():
    with x64_scope():
        got = log_sum_exp_offset(jnp.asarray(1.0), jnp.asarray([0.0, 2.0]), jnp.asarray([-3.0, 700.0]))
    np.testing.assert_allclose(np.asarray(got), np.log(np.exp(1.0) + np.exp([0.0, 2.0]) + np.exp([-3.0, 700.0])),
                               rtol=1e-15)


def test_free_natural_round_trip():
    rng = np.random.default_rng(1)
    params = _random_params(rng, 7)
    natural = np.stack([params[n] for n in LAW.param_names], axis=1)  # (7, 5)
    free = LAW.to_free(natural)
    np.testing.assert_allclose(free[:, :3], np.log(natural[:, :3]), rtol=1e-15)
    np.testing.assert_array_equal(free[:, 3:], natural[:, 3:])
    np.testing.assert_allclose(LAW.to_natural(free), natural, rtol=1e-14)
    np.testing.assert_allclose(LAW.to_free(LAW.to_natural(free)), free, rtol=1e-14, atol=1e-15)
    # The JAX path (a jax array in, under jit) agrees with the NumPy path.
    with x64_scope():
        via_jax = np.asarray(jax.jit(LAW.to_natural)(jnp.asarray(free)))
    np.testing.assert_allclose(via_jax, natural, rtol=1e-14)


def test_default_starts_are_hoffmann_grid():
    starts = LAW.default_starts()
    assert starts.shape == (4500, 5) and starts.dtype == np.float64
    exps = [0.0, 0.5, 1.0, 1.5, 2.0]
    log_e = [-1.0, -0.5, 0.0, 0.5, 1.0]
    log_ab = [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    # Columns follow free_names: log_E, log_A, log_B, alpha, beta.
    expected = {(e, a, b, al, be) for e, a, b, al, be in itertools.product(log_e, log_ab, log_ab, exps, exps)}
    assert {tuple(row) for row in starts} == expected
    for j, values in enumerate([log_e, log_ab, log_ab, exps, exps]):
        assert sorted(set(starts[:, j])) == values
    assert len({tuple(row) for row in starts}) == 4500


def test_law_is_hashable_and_a_static_jit_argument():
    assert hash(jscale.laws.Chinchilla()) == hash(LAW)
    assert jscale.laws.Chinchilla() == LAW
    assert {LAW: 1}[jscale.laws.Chinchilla()] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        LAW.name = "other"
    traces = []

    def predict(theta, log_x, law):
        traces.append(1)
        return law.log_predict(theta, log_x)

    f = jax.jit(predict, static_argnames="law")
    log_x = {"n_params": jnp.ones(3), "n_tokens": jnp.ones(3)}
    theta = jnp.zeros(5)
    f(theta, log_x, law=LAW)
    f(theta, log_x, law=jscale.laws.Chinchilla())
    assert len(traces) == 1


def test_base_law_is_abstract():
    with pytest.raises(NotImplementedError):
        Law().log_predict(None, None)
    with pytest.raises(NotImplementedError):
        Law().default_starts()


@pytest.mark.parametrize("loss", [jscale.losses.Huber(1e-3), jscale.losses.Huber(0.05), jscale.losses.Squared()])
@pytest.mark.parametrize("point", ["away", "optimum"])
def test_evaluate_gradient_matches_finite_differences(loss, point):
    data = synthetic_chinchilla(n=6)
    # Noise so that residuals fall on both sides of the Huber threshold.
    rng = np.random.default_rng(2)
    data = data.replace(loss=data.loss * np.exp(rng.normal(0, 0.01, len(data))))
    theta0 = np.array([0.6, 6.2, 7.5, 0.35, 0.3]) if point == "away" else np.array([0.53, 5.99, 7.31, 0.33, 0.29])
    with x64_scope():
        problem = problem_of(LAW, data, loss)
        f, g, h = (np.asarray(a) for a in evaluate(problem, jnp.asarray(theta0), False))
        _, _, h_newton = (np.asarray(a) for a in evaluate(problem, jnp.asarray(theta0), True))
        obj = jax.jit(problem.objective)
        assert f == pytest.approx(float(obj(jnp.asarray(theta0))), rel=1e-14)
        step = 1e-6
        fd = np.array([
            (float(obj(jnp.asarray(theta0 + step * e))) - float(obj(jnp.asarray(theta0 - step * e)))) / (2 * step)
            for e in np.eye(5)
        ])
        auto = np.asarray(jax.grad(problem.objective)(jnp.asarray(theta0)))
    assert g.shape == (5,) and h.shape == h_newton.shape == (5, 5)
    np.testing.assert_allclose(g, auto, rtol=1e-10, atol=1e-14 * np.abs(g).max())
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7 * np.abs(g).max())
    for m in (h, h_newton):
        np.testing.assert_allclose(m, m.T, rtol=1e-12, atol=1e-15)
        assert np.linalg.eigvalsh(m).min() >= -1e-10 * np.abs(m).max()
    if isinstance(loss, jscale.losses.Squared):
        np.testing.assert_allclose(h, h_newton, rtol=1e-14)
