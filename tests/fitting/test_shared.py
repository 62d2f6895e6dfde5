"""Shared parameters across data sets: `jscale.laws.shared`, `ScalingData.concat`, stratified bootstrap."""

import contextlib
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import jscale
from jscale import laws

TRUTH = {"a": dict(E=1.8, A=480.0, B=2000.0, alpha=0.34, beta=0.36),
         "b": dict(E=1.8, A=650.0, B=2600.0, alpha=0.34, beta=0.36)}
SHARED = ("E", "alpha", "beta")


def _recipe(params, seed):
    n = np.repeat(np.geomspace(1e7, 1e9, 6), 5)
    d = n * np.tile([5.0, 10.0, 20.0, 40.0, 80.0], 6)
    loss = params["E"] + params["A"] / n ** params["alpha"] + params["B"] / d ** params["beta"]
    noise = np.exp(np.random.default_rng(seed).normal(0.0, 0.01, n.size))
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss * noise)


@contextlib.contextmanager
def _quiet():
    """Silences the diagnostics of small simulated fits (few configurations and the like)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        yield


@pytest.fixture(scope="module")
def study():
    data = jscale.ScalingData.concat({"a": _recipe(TRUTH["a"], 0), "b": _recipe(TRUTH["b"], 1)}, by="recipe")
    law = laws.shared(laws.Chinchilla(), data, by="recipe", shared=SHARED)
    starts = law.default_starts()[::45]
    with _quiet():
        fit = jscale.fit(law, data, starts=starts)
    return data, law, starts, fit


def test_concat_labels_rows_and_splits_back():
    a, b = _recipe(TRUTH["a"], 0), _recipe(TRUTH["b"], 1)
    data = jscale.ScalingData.concat({"a": a, "b": b}, by="recipe")
    assert len(data) == len(a) + len(b) and "recipe" in data.categorical
    back = data.split("recipe")
    np.testing.assert_array_equal(back["b"].loss, b.loss)
    with pytest.raises(ValueError, match="same columns"):
        jscale.ScalingData.concat({"a": a, "c": a.subset(np.arange(5)).replace(extra={"x": np.ones(5)})})


def test_shared_law_layout_and_starts(study):
    _, law, _, _ = study
    assert law.param_names == ("E", "A[a]", "A[b]", "B[a]", "B[b]", "alpha", "beta")
    assert law.positive == (True, True, True, True, True, False, False)
    starts = law.default_starts()
    base = laws.Chinchilla().default_starts()
    assert starts.shape == (len(base), 7)
    np.testing.assert_array_equal(starts[:, 1], starts[:, 2])  # each start copied to every label
    np.testing.assert_array_equal(law.member(jnp.asarray(starts[7]), "b"), base[7])


def test_shared_fit_equals_the_law_written_per_group(study):
    """The shared law is the same law as a custom one with per-label parameters over the categorical
    column: same objective and parameters from the same starts."""
    data, _, starts, fit = study

    def per_group(p, x):
        first = x["recipe"] == 0
        a, b = jnp.where(first, p["A_a"], p["A_b"]), jnp.where(first, p["B_a"], p["B_b"])
        return p["E"] + a / x["n_params"] ** p["alpha"] + b / x["n_tokens"] ** p["beta"]

    spec = {"E": "positive", "A_a": "positive", "A_b": "positive", "B_a": "positive", "B_b": "positive",
            "alpha": "free", "beta": "free"}
    custom = laws.custom(per_group, spec, columns=("n_params", "n_tokens", "recipe"))
    with _quiet():
        other = jscale.fit(custom, data, starts=starts)
    assert other.objective == pytest.approx(fit.objective, rel=1e-9)
    np.testing.assert_allclose(list(other.params.values()), list(fit.params.values()), rtol=1e-6)
    # The recipes' A and B differ and are recovered; one E for both.
    assert fit.params["A[b]"] > fit.params["A[a]"]
    assert fit.params["E"] == pytest.approx(1.8, rel=0.05)


def test_stratified_bootstrap_keeps_each_data_set_size(study):
    data, law, _, fit = study
    with _quiet():
        boot = jscale.bootstrap(law, data, key=3, n_resamples=16, full_fit=fit, jackknife=False)
        again = jscale.bootstrap(law, data, key=3, n_resamples=16, full_fit=fit, jackknife=False)
        pooled = jscale.bootstrap(law, data, key=3, n_resamples=16, full_fit=fit, jackknife=False, strata="n_params")
    codes = data.codes("recipe")[1]
    per_set = np.stack([boot.counts[:, codes == k].sum(axis=1) for k in (0, 1)], axis=1)
    np.testing.assert_array_equal(per_set, 30)
    np.testing.assert_array_equal(boot.counts, again.counts)
    np.testing.assert_array_equal(boot.free_draws, again.free_draws)
    sizes = pooled.counts[:, data.n_params == data.n_params[0]].sum(axis=1)
    np.testing.assert_array_equal(sizes, np.sum(data.n_params == data.n_params[0]))


def test_shared_result_round_trip(study, tmp_path):
    data, law, _, fit = study
    path = tmp_path / "shared.jscale"
    jscale.save(fit, path)
    loaded = jscale.load(path)
    assert loaded.law == law
    np.testing.assert_array_equal(loaded.end_params, fit.end_params)


@pytest.mark.slow  # ~25 s: compare compiles its multiplier solve for the shared law and for Chinchilla
def test_compare_of_a_shared_fit_is_the_closed_form_of_its_recipes(study):
    _, _, _, fit = study
    cmp = jscale.compare((fit, "a"), (fit, "b"), [1e21])
    # Equal exponents and E: the multiplier is the closed form of the two recipes' fitted A, B.
    p = fit.params
    own = {k: p[k] for k in SHARED}
    pair = jscale.compare((laws.Chinchilla(), dict(own, A=p["A[a]"], B=p["B[a]"])),
                          (laws.Chinchilla(), dict(own, A=p["A[b]"], B=p["B[b]"])), [1e21])
    assert cmp.multiplier[0] == pytest.approx(pair.multiplier[0], rel=1e-9)
    low, high = cmp.interval("multiplier")
    assert low[0] < cmp.multiplier[0] < high[0]


def test_shared_law_errors(study):
    data, law, _, _ = study
    with pytest.raises(ValueError, match="no parameter 'F'"):
        laws.shared(laws.Chinchilla(), data, by="recipe", shared=("F",))
    with pytest.raises(ValueError, match="no column 'recipes'"):
        laws.shared(laws.Chinchilla(), data, by="recipes")
    three = jscale.ScalingData.concat({k: _recipe(TRUTH["a"], i) for i, k in enumerate("abc")}, by="recipe")
    with pytest.raises(ValueError, match="labels"):
        jscale.fit(law, three)
    with pytest.raises(ValueError, match="data set to compare"):
        jscale.compare(study[3], (study[3], "b"), [1e21])
