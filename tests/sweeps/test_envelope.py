"""Approach 1 (the envelope of training curves) on checkpoints simulated from a known law."""

import numpy as np
import pytest

import jscale

E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28
G = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
EXPONENT = BETA / (ALPHA + BETA)


def curves(n_sizes=30, n_checkpoints=40):
    rows = []
    for k, n in enumerate(np.geomspace(3e7, 3e10, n_sizes)):
        for d in np.geomspace(1e9, 1e13, n_checkpoints):
            if 1e17 <= 6 * n * d <= 3e23:
                rows.append((n, d, E + A / n**ALPHA + B / d**BETA, f"run{k}"))
    n, d, loss, run = map(np.array, zip(*rows))
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss, group=run)


@pytest.fixture(scope="module")
def result():
    return jscale.envelope(curves(), n_resamples=100, key=0)


def test_envelope_recovers_the_compute_optimal_law(result):
    assert abs(result.exponents["a"] - EXPONENT) < 0.005
    assert abs(result.exponents["a"] + result.exponents["b"] - 1) < 1e-9  # D* = C / 6N* on every point
    far = 1e24  # 3x beyond the last checkpoint
    assert abs(jscale.compute_optimal(result, far).n_params[0] / (G * (far / 6) ** EXPONENT) - 1) < 0.03
    low, high = result.interval("a")
    assert low <= result.exponents["a"] <= high
    # the same verb as for a fitted law, with the loss law through the envelope and bands
    alloc = jscale.compute_optimal(result, [1e21, far])
    assert list(alloc.status) == ["success"] * 2 and alloc.draw_ok.all()
    # L* ~ C^gamma through the envelope: close inside the data (not far beyond: no irreducible term)
    inside = np.interp(np.log(1e21), np.log(result.compute), result.loss)
    assert abs(alloc.loss[0] / inside - 1) < 0.05 and alloc.loss[1] < alloc.loss[0]
    low, high = alloc.interval("n_tokens")
    assert np.all(low <= alloc.n_tokens) and np.all(alloc.n_tokens <= high)
    # Along the envelope, no run has a lower loss than the one reported.
    assert np.all(np.diff(result.loss[result.used]) < 0)


def test_resamples_are_deterministic_and_results_round_trip(result, tmp_path):
    again = jscale.envelope(curves(), n_resamples=100, key=0)
    np.testing.assert_array_equal(again.draws["a"], result.draws["a"])
    back = jscale.load(jscale.save(result, tmp_path / "envelope.jscale"))
    assert isinstance(back, jscale.results.EnvelopeResult) and back.summary() == result.summary()


def test_refused_without_runs_of_several_checkpoints():
    data = curves()
    bare = jscale.ScalingData.from_arrays(n_params=data.n_params, n_tokens=data.n_tokens, loss=data.loss)
    with pytest.raises(ValueError, match="run of every checkpoint"):
        jscale.envelope(bare)
    one_each = jscale.ScalingData.from_arrays(n_params=data.n_params, n_tokens=data.n_tokens, loss=data.loss,
                                              group=np.arange(len(data)))
    with pytest.raises(ValueError, match="at least 2 checkpoints"):
        jscale.envelope(one_each, n_resamples=0)
