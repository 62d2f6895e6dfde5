"""Approach 1's memory: linear in the runs, capped grids, and resamples that are the envelope of
the runs they draw."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jscale
from jscale.base._numerics import x64_scope
from jscale.engine._batch import MEMORY_ENV
from jscale.sweeps import _envelope

E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28


def curves(n_runs, n_checkpoints=10, noise=0.0, seed=0):
    """`n_runs` runs of sizes log-spaced from 3e7 to 3e10, with checkpoints from 1e9 to 1e13
    tokens kept between 1e17 and 3e23 FLOP."""
    rng = np.random.default_rng(seed)
    n, d = np.meshgrid(np.geomspace(3e7, 3e10, n_runs), np.geomspace(1e9, 1e13, n_checkpoints), indexing="ij")
    run = np.broadcast_to(np.arange(n_runs)[:, None], n.shape)
    keep = (6 * n * d >= 1e17) & (6 * n * d <= 3e23)
    n, d, run = n[keep], d[keep], run[keep]
    loss = (E + A / n**ALPHA + B / d**BETA) * np.exp(noise * rng.standard_normal(n.shape))
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss, group=run)


def _resample_bytes(n_runs, n_points=200, n_resamples=1000):
    """What XLA allocates for one call of the resamples (arguments, temporaries, outputs), compiled
    without running it."""
    with x64_scope():
        args = (jnp.zeros(2, jnp.uint32), jnp.zeros((n_runs, n_points)), jnp.zeros((n_runs, n_points)),
                jnp.zeros(n_runs), jnp.zeros(n_points))
        stats = _envelope._resampled.lower(*args, n_resamples=n_resamples).compile().memory_analysis()
    return stats.argument_size_in_bytes + stats.temp_size_in_bytes + stats.output_size_in_bytes


def test_memory_of_the_resamples_grows_linearly_with_the_runs():
    # 1,000 resamples of 3,000 runs used to mask a (resamples, runs, runs) cube: 9 GB.
    small, large = _resample_bytes(750), _resample_bytes(3000)
    assert large < 4.5 * small, (small, large)  # 4x the runs: 16x if it grew with their square
    assert large < 128 << 20, large
    # the budget check's estimate is not below what XLA allocates
    assert large <= _envelope._bytes(3000, 200, 1000), (large, _envelope._bytes(3000, 200, 1000))


def test_lowest_is_the_masked_minimum_and_its_first_run():
    rng = np.random.default_rng(0)
    loss = rng.integers(0, 4, (40, 30)).astype(float)  # many ties
    loss[rng.random(loss.shape) < 0.3] = np.inf  # runs outside their checkpoints
    loss[:, 0] = np.inf  # a point no run reaches
    present = rng.random((25, 40)) < 0.3
    present[0] = False  # a resample without runs
    present[1] = True
    with x64_scope():
        low, best = map(np.asarray, jax.jit(_envelope._lowest)(jnp.asarray(present), jnp.asarray(loss)))
    masked = np.where(present[:, :, None], loss[None], np.inf)
    np.testing.assert_array_equal(low, masked.min(axis=1))
    np.testing.assert_array_equal(best, masked.argmin(axis=1))


def test_each_resample_is_the_envelope_of_the_runs_it_draws():
    data = curves(40, n_checkpoints=12, noise=0.01, seed=1)
    result = jscale.envelope(data, n_points=60, n_resamples=8, key=3)
    with x64_scope():
        picks = np.asarray(jax.random.randint(jax.random.wrap_key_data(jnp.asarray(result.key)), (8, 40), 0, 40))
    checked = 0
    for b in range(8):
        drawn = np.isin(np.unique(data["group"]), picks[b])
        rows = np.isin(data["group"], np.flatnonzero(drawn))
        sub = jscale.ScalingData.from_arrays(n_params=data.n_params[rows], n_tokens=data.n_tokens[rows],
                                             loss=data.loss[rows], group=data["group"][rows])
        # the same grid: the subset's compute span differs, so pin it through the full result's grid
        alone = _envelope_on_grid(sub, np.log(result.compute))
        if alone is None:
            continue
        for name in ("a", "b", "loss_exponent"):
            assert abs(result.draws[name][b] - alone[name]) < 1e-12, (b, name)
        checked += 1
    assert checked >= 6


def _envelope_on_grid(data, grid):
    """Approach 1 in NumPy on a given log-compute grid: exponents through the lowest loss of any run,
    without the points reached by the smallest or the largest run (None below 2 such points)."""
    groups = np.unique(data["group"])
    log_n = np.array([np.log(data.n_params[data["group"] == g][0]) for g in groups])
    loss = np.full((len(groups), len(grid)), np.inf)
    log_d = np.full((len(groups), len(grid)), np.nan)
    for k, g in enumerate(groups):
        rows = data["group"] == g
        c = np.log(data.compute[rows])
        order = np.argsort(c)
        inside = (grid >= c[order][0]) & (grid <= c[order][-1])
        loss[k, inside] = np.interp(grid[inside], c[order], np.log(data.loss[rows])[order])
        log_d[k, inside] = np.interp(grid[inside], c[order], np.log(data.n_tokens[rows])[order])
    best = loss.argmin(axis=0)
    use = np.isfinite(loss.min(axis=0)) & (log_n[best] > log_n.min()) & (log_n[best] < log_n.max())
    if use.sum() < 2:
        return None
    x = grid[use]
    return {"a": np.polyfit(x, log_n[best][use], 1)[0],
            "b": np.polyfit(x, log_d[best, np.arange(len(grid))][use], 1)[0],
            "loss_exponent": np.polyfit(x, loss.min(axis=0)[use], 1)[0]}


def test_three_thousand_runs_with_the_default_resamples():
    result = jscale.envelope(curves(3000), n_points=50, key=0)
    assert result.n_runs == 3000 and result.n_resamples == 1000 and result.draw_ok.all()
    low, high = result.interval("a")
    assert low <= result.exponents["a"] <= high


@pytest.mark.parametrize("n_points", [9, 100_001, 10**7, 50.0, True])
def test_n_points_is_capped_with_the_limit_named(n_points):
    with pytest.raises(ValueError, match=r"n_points must be an integer from 10 to 100,000 .*; got"):
        jscale.envelope(curves(5), n_points=n_points)


def test_a_grid_beyond_the_memory_budget_is_refused(monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, str(64 << 20))
    with pytest.raises(ValueError, match=r"Approach 1 with 3,000 runs, n_points=5,000 and n_resamples=1,000 needs "
                                         rf"about [\d,]+ MiB, more than the 64 MiB memory budget; .*{MEMORY_ENV}"):
        jscale.envelope(curves(3000), n_points=5000)
    # within the budget it runs
    assert jscale.envelope(curves(30), n_points=100, n_resamples=0).n_runs == 30
