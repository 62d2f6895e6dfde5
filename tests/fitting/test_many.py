"""Many datasets in one call: jscale.fit on a list equals separate fits."""

import numpy as np
import pytest
from helpers import noisy_chinchilla

import jscale

POWER = jscale.laws.PowerLaw("compute")


def _curves(n_curves=20):
    """Noisy power-law curves of 2 different lengths (10 and 16 points), each with its own law."""
    rng = np.random.default_rng(0)
    curves = []
    for k in range(n_curves):
        size = 10 + 6 * (k % 2)
        compute = np.logspace(17, 17 + rng.uniform(3, 6), size)
        e, a, alpha = rng.uniform(0.5, 2.5), 10 ** rng.uniform(2, 5), rng.uniform(0.05, 0.3)
        loss = (e + a * compute**-alpha) * np.exp(rng.normal(0, 0.005, size))
        curves.append(jscale.ScalingData.from_arrays(compute=compute, loss=loss))
    return curves


@pytest.mark.slow  # ~14 s: the separate fits compile per length
@pytest.mark.filterwarnings("ignore::jscale.warnings.ConvergenceWarning")  # a few curves stall at a kink
@pytest.mark.filterwarnings("ignore::jscale.warnings.IntervalWarning")
def test_twenty_datasets_in_one_call_equal_separate_fits():
    curves = _curves()
    together = jscale.fit_many(POWER, curves)
    assert isinstance(together, list) and len(together) == 20
    for data, joint in zip(curves, together):
        alone = jscale.fit(POWER, data)
        assert joint.n_rows == len(data) and joint.n_starts == alone.n_starts
        assert joint.objective == pytest.approx(alone.objective, rel=1e-9)
        # Parameters agree to the flatness of the minimum (A and alpha trade off along a valley);
        # the fitted curves agree closely.
        assert list(joint.params.values()) == pytest.approx(list(alone.params.values()), rel=1e-4)
        np.testing.assert_allclose(joint.predict(data), alone.predict(data), rtol=1e-7)
        assert joint.objective_floor == pytest.approx(alone.objective_floor, rel=1e-12)
        np.testing.assert_allclose(joint.free_covariance(), alone.free_covariance(), rtol=1e-3, atol=1e-12)


def test_split_groups_rows_by_a_column():
    parts = [noisy_chinchilla(n=n, sigma=0.01, seed=n) for n in (5, 7)]
    labels = np.repeat(["small", "large"], [len(parts[0]), len(parts[1])])
    merged = jscale.ScalingData.from_arrays(
        n_params=np.concatenate([p.n_params for p in parts]), n_tokens=np.concatenate([p.n_tokens for p in parts]),
        loss=np.concatenate([p.loss for p in parts]), group=labels,
    )
    groups = merged.split()
    assert list(groups) == ["large", "small"] and len(groups["small"]) == 25
    np.testing.assert_array_equal(groups["small"].loss, parts[0].loss)
    assert len(merged.split("n_params")) == len(np.unique(merged.n_params))  # both grids share 1e7 and 1e10


def test_many_errors():
    with pytest.raises(TypeError, match="fit_many takes a non-empty list of ScalingData"):
        jscale.fit_many(POWER, [])
    with pytest.raises(TypeError, match="fit takes one ScalingData; .* jscale.fit_many"):
        jscale.fit(POWER, _curves(2))
    with pytest.raises(TypeError, match="bootstrap takes one ScalingData; .* jscale.bootstrap_many"):
        jscale.bootstrap(POWER, _curves(2), key=0)
    with pytest.raises(TypeError, match=r"data\[1\]: data must be a jscale.ScalingData"):
        jscale.fit_many(POWER, [_curves(1)[0], "runs.csv"])
    with pytest.raises(ValueError, match="split: the data has no column 'model'"):
        _curves(1)[0].split("model")


@pytest.mark.filterwarnings("ignore::jscale.warnings.IntervalWarning")
def test_bootstrap_of_a_list_repeats_each_dataset_alone():
    import jax

    curves = _curves(4)[::3]  # two curves of the same length: one compilation
    boots = jscale.bootstrap_many(POWER, curves, n_resamples=6, key=3, starts="optimum", jackknife=False)
    assert len(boots) == 2
    fits = jscale.fit_many(POWER, curves)
    alone = jscale.bootstrap(POWER, curves[1], n_resamples=6, key=jax.random.fold_in(jax.random.key(3), 1),
                             starts="optimum", full_fit=fits[1], jackknife=False)
    np.testing.assert_array_equal(boots[1].resample_counts(5), alone.resample_counts(5))
    np.testing.assert_allclose(boots[1].free_draws, alone.free_draws, rtol=1e-7, atol=1e-10)


@pytest.mark.filterwarnings("ignore::jscale.warnings.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore::jscale.warnings.IntervalWarning")
@pytest.mark.slow  # ~12 s (three compilations); the default run fits lists in test_devices.py (same bits on
# 1 and 8 devices, and in one call or in chunks)
def test_four_datasets_in_one_call_equal_separate_fits():
    """A smaller version of the twenty-curve test: two lengths, two compilations."""
    curves = _curves(4)
    together = jscale.fit_many(POWER, curves)
    for data, joint in zip(curves, together):
        alone = jscale.fit(POWER, data)
        assert joint.objective == pytest.approx(alone.objective, rel=1e-9)
        np.testing.assert_allclose(joint.predict(data), alone.predict(data), rtol=1e-7)
