"""The autoregressive residual draw of `jscale.curves.bootstrap_curves` (engine level): each series
gets AR(1) errors with its own correlation and scale, independent across series."""

import types

import jax
import jax.numpy as jnp
import numpy as np

from jscale.base._numerics import x64_scope
from jscale.engine._batch import ar_residual_problems


def _draws(rho=(0.8, 0.0), scale=(1.0, 2.0), n=(60, 40), b=4000):
    rng = np.random.default_rng(0)
    first = np.concatenate([np.full(k, sum(n[:i])) for i, k in enumerate(n)])
    series = {"first": first, "count": np.concatenate([np.full(k, k - 1) for k in n]),
              "innovation": rng.standard_normal(sum(n)), "rho": np.repeat(rho, n), "scale": np.repeat(scale, n)}
    for i, k in enumerate(n):  # a series' innovations are centred and of unit variance
        rows = slice(sum(n[:i]) + 1, sum(n[:i]) + k)
        series["innovation"][rows] = (series["innovation"][rows] - series["innovation"][rows].mean()) / \
            series["innovation"][rows].std()
    with x64_scope():
        rows = sum(n) + 4  # four padding rows keep their targets
        y = jnp.asarray(np.concatenate([np.zeros(sum(n)), np.full(4, 7.0)]))
        out = ar_residual_problems(jax.random.key(1), jnp.arange(b), types.SimpleNamespace(y=y),
                                   jnp.zeros(rows), {k: jnp.asarray(v, jnp.int32 if k in ("first", "count")
                                                                   else jnp.float64) for k, v in series.items()})
    return np.asarray(out["y"]), n


def test_each_series_gets_its_correlation_and_scale_and_padding_stays():
    y, n = _draws()
    assert np.all(y[:, sum(n):] == 7.0)
    a, c = y[:, :n[0]], y[:, n[0]:sum(n)]
    lag = np.mean(a[:, 20:-1] * a[:, 21:]) / np.mean(a[:, 20:] ** 2)
    assert abs(lag - 0.8) < 0.02
    assert abs(np.std(a[:, 0]) - 1 / np.sqrt(1 - 0.64)) < 0.1  # the first error is stationary
    assert abs(np.std(a[:, 30]) - 1 / np.sqrt(1 - 0.64)) < 0.1
    assert abs(np.std(c) - 2.0) < 0.05 and abs(np.mean(c[:, :-1] * c[:, 1:]) / np.mean(c ** 2)) < 0.02
    assert abs(np.mean(a[:, -1] * c[:, 0]) / (np.std(a[:, -1]) * np.std(c[:, 0]))) < 0.05  # series independent


def test_a_resample_depends_only_on_the_key_and_its_index():
    y, _ = _draws(b=8)
    assert np.array_equal(y[5], _draws(b=6)[0][5])
