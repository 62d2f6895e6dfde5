"""jscale.base._numerics.log: fdlibm's logarithm in array operations, against NumPy's."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jscale.base._numerics import log, x64_scope


def _ulps(got, want):
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_within_one_ulp_of_numpy_over_every_normal_float64_range():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.exp(rng.uniform(-708, 709, 200_000)), 1 + rng.uniform(-1e-3, 1e-3, 50_000),
                        rng.uniform(0.5, 2.0, 50_000), [1.0, 2.0, 0.5, np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 3),
                                                        2.2250738585072014e-308, 1.7976931348623157e308]])
    with x64_scope():
        got = np.asarray(jax.jit(log)(jnp.asarray(x)))
    assert np.max(_ulps(got, np.log(x))) <= 1.0
    with x64_scope():
        assert float(log(jnp.asarray(1.0))) == 0.0


def test_special_values_follow_jnp_log_under_xla():
    x = np.array([0.0, -0.0, 1e-310, 5e-324, np.inf, -1.0, -np.inf, np.nan])
    with x64_scope():
        got = np.asarray(jax.jit(log)(jnp.asarray(x)))
        want = np.asarray(jax.jit(jnp.log)(jnp.asarray(x)))
    np.testing.assert_array_equal(got, want)  # subnormals flushed to zero: -inf, as XLA does


def test_derivative_is_one_over_x():
    x = np.array([1e-300, 0.3, 1.0, 7.5, 1e300])
    with x64_scope():
        grad = jax.vmap(jax.grad(log))(jnp.asarray(x))
        tangent = jax.jvp(log, (jnp.asarray(x),), (jnp.ones(5, jnp.float64),))[1]
    np.testing.assert_allclose(grad, 1 / x, rtol=1e-15)
    np.testing.assert_allclose(tangent, 1 / x, rtol=1e-15)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float16])
def test_narrower_floats_use_jnp_log(dtype):
    x = jnp.asarray([0.5, 1.0, 3.0], dtype)
    np.testing.assert_array_equal(np.asarray(log(x)), np.asarray(jnp.log(x)))
    assert log(x).dtype == dtype
