"""jscale.bootstrap and BootstrapResult: resampling, determinism, intervals, warnings, errors."""


import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    EPOCH_BOOTSTRAP_CI,
    EPOCH_BOOTSTRAP_SE,
    noisy_chinchilla,
    problem_of,
    quiet,
    subset_starts,
    traces,
)

import jscale
from jscale.fitting import _bootstrap
from jscale.inference._uncertainty import bootstrap_interval

# The diagnostics these tests' fits raise and do not test (warnings are errors elsewhere).
pytestmark = [
    pytest.mark.filterwarnings("ignore::jscale.warnings.ConfigurationsWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.ExtrapolationWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.ResamplesWarning"),
]

LAW = jscale.laws.Chinchilla()




@pytest.fixture(scope="module")
def small():
    """36 noisy runs, a Huber fit and 8 row resamples from the optimum."""
    data = noisy_chinchilla(n=6, sigma=0.01, seed=3)
    fit = jscale.fit(LAW, data, starts=subset_starts())
    boot = quiet(jscale.bootstrap, LAW, data, n_resamples=8, key=7, starts="optimum", full_fit=fit)
    return data, fit, boot


@pytest.fixture(scope="module")
def well_conditioned():
    """256 runs with 0.5% log-normal noise, least squares: curvature and bootstrap should agree."""
    data = noisy_chinchilla(n=16, sigma=0.005, seed=1)
    fit = jscale.fit(LAW, data, starts=subset_starts(), loss="squared")
    boot = quiet(jscale.bootstrap, LAW, data, n_resamples=1000, key=0, starts="optimum", full_fit=fit,
                  loss="squared")
    return data, fit, boot


# --- the published replication ------------------------------------------------------------------


def test_reproduces_epoch_bootstrap(grid_fit):
    """Besiroglu et al. 2024, Table 1: 4,000 resamples; here 2,000, SEs within 20% and the ends
    of the 95% percentile intervals within 12% (the full run is in benchmarks/bench_bootstrap.py)."""
    data = jscale.datasets.load("chinchilla")
    boot = jscale.bootstrap(LAW, data, n_resamples=2000, key=0, starts="optimum", full_fit=grid_fit,
                            jackknife=False)
    assert boot.n_converged == 2000
    for name, se in EPOCH_BOOTSTRAP_SE.items():
        assert boot.se[name] == pytest.approx(se, rel=0.20), name
        low, high = boot.interval(name)
        assert low == pytest.approx(EPOCH_BOOTSTRAP_CI[name][0], rel=0.12), name
        assert high == pytest.approx(EPOCH_BOOTSTRAP_CI[name][1], rel=0.12), name


def test_reproduces_epoch_table_on_their_own_draws(grid_fit):
    """Epoch's resamples (np.random.seed(42), np.random.choice of 240 rows, 4,000 times) refitted
    from Hoffmann's unrounded estimate, as in their notebook: the published standard errors and
    interval ends to within 0.5%."""
    data = jscale.datasets.load("chinchilla")
    np.random.seed(42)
    counts = np.stack([np.bincount(np.random.choice(240, 240, replace=True), minlength=240) for _ in range(4000)])
    hoffmann = LAW.to_free([1.69337368, 406.401018, 410.722827, 0.33917084, 0.2849083])
    boot = jscale.bootstrap(LAW, data, counts=counts, starts=hoffmann, full_fit=grid_fit, jackknife=False)
    assert boot.n_converged == 4000
    for name, se in EPOCH_BOOTSTRAP_SE.items():
        assert boot.se[name] == pytest.approx(se, rel=0.005), name
        assert boot.interval(name) == pytest.approx(EPOCH_BOOTSTRAP_CI[name], rel=0.005), name


# --- resampling ------------------------------------------------------------------------------------


def test_weights_equal_explicit_row_resampling(small):
    data, fit, boot = small
    for i in range(boot.n_resamples):
        counts = boot.resample_counts(i)
        assert counts.sum() == len(data) and counts.dtype.kind == "i"
        rows = np.repeat(np.arange(len(data)), counts)
        explicit = jscale.fit(LAW, data.subset(rows), starts=boot.starts)
        np.testing.assert_allclose(boot.free_draws[i], explicit.end_params[0], rtol=1e-6, atol=1e-7)
        assert boot.objective[i] == pytest.approx(explicit.objective, rel=1e-9)


def test_group_resampling_keeps_groups_whole():
    data = noisy_chinchilla(n=6, sigma=0.01, seed=3)
    grouped = jscale.ScalingData.from_arrays(
        n_params=data.n_params, n_tokens=data.n_tokens, loss=data.loss, group=np.repeat(list("abcdef"), 6)
    )
    kind, unit_of_row, n_units = _bootstrap.resample_units("group", grouped)
    assert kind == "group" and n_units == 6
    problem = problem_of(LAW, grouped)
    weights = np.asarray(_bootstrap._draw(
        jnp.asarray(_bootstrap.as_key_data(0)), jnp.arange(50), problem, jnp.asarray(unit_of_row), None,
        unit="weights", n_units=n_units,
    )["weight"])
    assert weights.shape == (50, 36)
    per_group = weights.reshape(50, 6, 6)
    assert np.all(per_group == per_group[:, :, :1])  # every row of a group has its group's count
    np.testing.assert_array_equal(per_group[:, :, 0].sum(axis=1), 6)  # 6 groups drawn per resample
    # Grouping by a column is the same as a group label holding that column.
    assert _bootstrap.resample_units("n_params", data)[2] == 6
    np.testing.assert_array_equal(_bootstrap.resample_units("n_params", data)[1], unit_of_row)


def test_group_bootstrap_end_to_end(small):
    data, fit, _ = small
    boot = quiet(jscale.bootstrap, LAW, data, n_resamples=8, key=1, unit="n_params", starts="optimum",
                  full_fit=fit, jackknife=False)
    assert boot.unit == "n_params" and boot.n_units == 6
    assert boot.resample_counts(0).shape == (6,) and boot.resample_counts(0).sum() == 6


def test_same_key_same_draws_whatever_the_chunk_size(small):
    data, fit, boot = small
    for chunk_size in (3, 5):
        other = quiet(jscale.bootstrap, LAW, data, n_resamples=8, key=7, starts="optimum", full_fit=fit,
                       execution=jscale.Execution(chunk_size=chunk_size), jackknife=False)
        for i in range(8):
            np.testing.assert_array_equal(other.resample_counts(i), boot.resample_counts(i))
        np.testing.assert_allclose(other.free_draws, boot.free_draws, rtol=1e-9, atol=1e-12)
    different = quiet(jscale.bootstrap, LAW, data, n_resamples=8, key=8, starts="optimum", full_fit=fit,
                       jackknife=False)
    assert not np.array_equal(different.resample_counts(0), boot.resample_counts(0))


def test_explicit_counts_repeat_the_keyed_resamples(small):
    data, fit, boot = small
    counts = np.stack([boot.resample_counts(i) for i in range(8)])
    given = quiet(jscale.bootstrap, LAW, data, counts=counts, starts="optimum", full_fit=fit, jackknife=False)
    assert given.key is None and given.n_resamples == 8
    np.testing.assert_array_equal(given.resample_counts(5), counts[5])
    np.testing.assert_allclose(given.free_draws, boot.free_draws, rtol=1e-9, atol=1e-12)


def test_key_forms_are_equivalent(small):
    import jax

    data, fit, boot = small
    typed = quiet(jscale.bootstrap, LAW, data, n_resamples=8, key=jax.random.key(7), starts="optimum",
                   full_fit=fit, jackknife=False)
    np.testing.assert_array_equal(typed.key, boot.key)
    np.testing.assert_array_equal(typed.resample_counts(3), boot.resample_counts(3))


def test_residual_bootstrap_matches_row_bootstrap_on_homoscedastic_noise(well_conditioned):
    data, fit, boot = well_conditioned
    resid = quiet(jscale.bootstrap, LAW, data, n_resamples=1000, key=0, unit="residual", starts="optimum",
                   full_fit=fit, loss="squared", jackknife=False)
    assert resid.unit == "residual" and resid.n_converged == 1000
    for name in LAW.param_names:
        assert resid.se[name] == pytest.approx(boot.se[name], rel=0.2), name


def test_warm_starts_are_the_optimum_and_other_basins(grid_fit):
    warm = _bootstrap.warm_starts(grid_fit)
    np.testing.assert_array_equal(warm[0], grid_fit.end_params[grid_fit.best_index])
    assert 1 < len(warm) <= _bootstrap.N_WARM_STARTS
    objectives = [grid_fit.objectives[np.flatnonzero(np.all(grid_fit.end_params == x, axis=1))[0]] for x in warm]
    assert np.all(np.diff(objectives) > 1e-6 * objectives[0])  # one end point per basin, best first


def test_other_basins_checked_on_a_sample_then_skipped(grid_fit, monkeypatch):
    data = jscale.datasets.load("chinchilla")
    monkeypatch.setattr(_bootstrap, "BASIN_CHECK", 16)
    kw = dict(n_resamples=40, key=5, full_fit=grid_fit)
    with traces() as counted:
        boot = quiet(jscale.bootstrap, LAW, data, **kw)
    # The probe, the rest and the jackknife run on one program: the optimum alone with the
    # probe's, its other starts padding.
    assert counted["_fit_batched"] <= 1
    # On Chinchilla the other basins never end lower: the result is that of the optimum alone,
    # bit for bit, and says it checked them.
    alone = quiet(jscale.bootstrap, LAW, data, starts="optimum", **kw)
    assert boot.basins_checked == 16 and boot.n_starts == 1
    np.testing.assert_array_equal(boot.end_params, alone.end_params)
    assert "other basins, fitted on 16 resamples" in boot.summary()


def test_other_basins_run_everywhere_when_one_ends_lower(grid_fit, monkeypatch):
    data = jscale.datasets.load("chinchilla")
    monkeypatch.setattr(_bootstrap, "BASIN_CHECK", 16)
    real = _bootstrap.fit_in_chunks
    calls = []

    def lower_in_the_probe(x0s, *args, **kwargs):  # the probe finds a lower basin in one resample
        out = real(x0s, *args, **kwargs)
        calls.append(len(x0s))
        if len(calls) == 1:
            out["f"][3, 1] = out["f"][3, 0] * 0.5
        return out

    monkeypatch.setattr(_bootstrap, "fit_in_chunks", lower_in_the_probe)
    boot = quiet(jscale.bootstrap, LAW, data, n_resamples=40, key=5, full_fit=grid_fit, jackknife=False)
    warm = _bootstrap.warm_starts(grid_fit)
    assert calls == [len(warm), len(warm)] and boot.basins_checked == 0 and boot.n_starts == len(warm)


def test_one_compile_per_shape(small):
    data, fit, _ = small
    quiet(jscale.bootstrap, LAW, data, n_resamples=8, key=2, starts="optimum", full_fit=fit)
    with traces() as counted:
        quiet(jscale.bootstrap, LAW, data, n_resamples=8, key=3, starts="optimum", full_fit=fit)
    assert counted["_fit_batched"] == 0 and sum(counted.values()) == 0


# --- intervals -------------------------------------------------------------------------------------


def test_curvature_covariances_agree_with_the_bootstrap(well_conditioned):
    _, fit, boot = well_conditioned
    for method in ("hessian", "sandwich"):
        se = np.sqrt(np.diag(quiet(fit.covariance, method)))
        for k, name in enumerate(LAW.param_names):
            assert se[k] == pytest.approx(boot.se[name], rel=0.15), (method, name)


def test_interval_methods_agree_on_a_symmetric_case(well_conditioned):
    _, fit, boot = well_conditioned
    low, high = boot.interval("alpha")
    width = high - low
    for method in ("basic", "bca"):
        other = boot.interval("alpha", method=method)
        assert other == pytest.approx((low, high), abs=0.1 * width), method
    assert quiet(fit.interval, "alpha") == pytest.approx((low, high), abs=0.1 * width)


def test_interval_methods_on_normal_draws():
    rng = np.random.default_rng(0)
    draws = rng.normal(0.0, 1.0, (200_000, 1))
    jack = np.linspace(-1, 1, 101)[:, None]  # symmetric: no acceleration
    for method in ("percentile", "basic", "bca"):
        low, high = bootstrap_interval(draws, np.zeros(1), jack, 0.95, method)
        assert low[0] == pytest.approx(-1.96, abs=0.03) and high[0] == pytest.approx(1.96, abs=0.03), method


def test_bca_corrects_a_biased_bootstrap():
    # Draws centred 0.5 above the estimate: z0 = -0.5, so BCa (no acceleration) takes the
    # quantiles at Phi(2 z0 -+ 1.96) of N(0.5, 1): the interval 0.5 + (-2.96, 0.96).
    draws = np.random.default_rng(1).normal(0.5, 1.0, (400_000, 1))
    jack = np.linspace(-1, 1, 101)[:, None]
    low, high = bootstrap_interval(draws, np.zeros(1), jack, 0.95, "bca")
    assert low[0] == pytest.approx(0.5 - 2.96, abs=0.03) and high[0] == pytest.approx(0.5 + 0.96, abs=0.03)


def test_derived_quantities(well_conditioned):
    _, _, boot = well_conditioned

    def exponent(p):
        return p["beta"] / (p["alpha"] + p["beta"])

    a = boot.derive(exponent)
    d = boot.draws
    np.testing.assert_allclose(a, d["beta"] / (d["alpha"] + d["beta"]), rtol=1e-14)
    low, high = boot.interval(exponent)
    assert (low, high) == pytest.approx(tuple(np.quantile(a[boot.draw_ok], [0.025, 0.975])), rel=1e-12)
    assert boot.interval(lambda p: jnp.stack([p["alpha"], p["beta"]]))[0].shape == (2,)
    # Percentile intervals follow monotone maps (up to the interpolation between two draws).
    assert boot.interval("log_A")[0] == pytest.approx(np.log(boot.interval("A")[0]), rel=1e-6)


def test_prediction_interval(well_conditioned):
    _, fit, boot = well_conditioned
    kw = dict(n_params=[1e8, 1e11], n_tokens=[1e9, 1e12])
    pred = fit.predict(**kw)
    low, high = boot.predict_interval(**kw)
    assert low.shape == (2,) and np.all(low < pred) and np.all(pred < high)
    mean_low, mean_high = quiet(fit.predict_interval, **kw)
    obs_low, obs_high = quiet(fit.predict_interval, observation=True, **kw)
    assert np.all(obs_low < mean_low) and np.all(mean_high < obs_high)
    # Extrapolating three decades beyond the data widens the band.
    assert (high[1] - low[1]) / pred[1] > (high[0] - low[0]) / pred[0]


def test_predictions_on_draws_are_one_program_per_bucket(well_conditioned):
    """The law on every draw and point is one compiled program per bucket of draws and points
    (9 and 10 points share one), with the values of the law evaluated draw by draw."""
    from jscale.base._numerics import x64_scope
    from jscale.inference import _uncertainty

    _, fit, boot = well_conditioned
    n = np.geomspace(1e8, 1e11, 10)
    x = LAW.inputs({"n_params": n, "n_tokens": 20 * n})
    free = boot.free_draws[boot.draw_ok][:5]
    values = _uncertainty.model_on_draws(LAW.log_predict, x)
    with x64_scope():  # float64, as every fit
        direct = np.stack([np.asarray(LAW.log_predict(t, x)) for t in free])
        at_fit = np.asarray(LAW.log_predict(fit.theta, x))
    np.testing.assert_allclose(values(free), direct, rtol=1e-13)
    programs = _uncertainty._model_draws._cache_size()
    nine = _uncertainty.model_on_draws(LAW.log_predict, {k: v[:9] for k, v in x.items()})(free)
    np.testing.assert_allclose(nine, direct[:, :9], rtol=1e-13)
    assert _uncertainty._model_draws._cache_size() == programs
    assert values(free[:0]).shape == (0, 10)
    value, jac = _uncertainty.model_value_and_jacobian(LAW.log_predict, fit.theta, x)
    np.testing.assert_allclose(value, at_fit, rtol=1e-13)
    assert jac.shape == (10, LAW.n_free)


def test_statistics_use_converged_draws_and_are_read_only(small):
    _, _, boot = small
    assert boot.n_resamples == 8 and boot.n_starts == 1 and boot.status.shape == (8,)
    assert set(boot.draws) == set(LAW.param_names) and boot.draws["E"].shape == (8,)
    assert boot.cov.shape == (5, 5) and np.allclose(np.diag(boot.corr), 1)
    with pytest.raises(ValueError):
        boot.draws["E"][0] = 0
    with pytest.raises(ValueError):
        boot.end_params[0, 0, 0] = 0
    text = boot.summary()
    # 7 or 8 draws converge (one may stall within rounding of its optimum); the summary says which.
    assert boot.n_converged >= 7 and boot.se["E"] == pytest.approx(np.std(boot.draws["E"][boot.draw_ok], ddof=1))
    assert "alpha" in text and "95% percentile interval" in text and f"{boot.n_converged} of 8" in text


def test_a_parameter_with_an_infinite_draw_has_infinite_variance(small):
    _, _, boot = small
    free = np.array(boot.end_params)
    free[:, :, 1] = np.where(np.arange(8)[:, None] == int(np.argmax(boot.draw_ok)), 800.0, free[:, :, 1])
    broken = boot.replace(end_params=free)  # one converged draw with log A = 800: A = inf
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy noise
        cov, se = broken.cov, broken.se
    assert se["A"] == np.inf and np.isnan(cov[1, 0]) and np.isnan(cov[0, 1])
    keep = [0, 2, 3, 4]
    np.testing.assert_allclose(cov[np.ix_(keep, keep)], boot.cov[np.ix_(keep, keep)], rtol=1e-12)
    assert "BootstrapResult(chinchilla" in repr(boot)


# --- warnings --------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Strongly correlated")
def test_warns_when_too_few_configurations():
    base = noisy_chinchilla(n=3, sigma=0.01, seed=0)  # 9 configurations < 2 x 5 parameters
    data = base.subset(np.tile(np.arange(9), 3))
    fit = jscale.fit(LAW, data, starts=subset_starts(), loss="squared")
    with pytest.warns(jscale.warnings.IntervalWarning, match="9 distinct configurations"):
        jscale.bootstrap(LAW, data, n_resamples=4, key=0, starts="optimum", full_fit=fit, loss="squared",
                         jackknife=False)
    assert [d.kind for d in fit.diagnostics()].count("configurations") == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit.covariance()  # findings are warned by the call that made the result, not again here


def test_warns_when_draws_do_not_converge(small):
    data, fit, _ = small
    with pytest.warns(jscale.warnings.IntervalWarning, match="did not converge"):
        boot = jscale.bootstrap(LAW, data, n_resamples=8, key=0, starts=subset_starts()[:2], full_fit=fit,
                                execution=jscale.Execution(solver=jscale.solvers.RobustGaussNewton(max_steps=2)),
                                jackknife=False)
    assert boot.n_converged < 8


def test_warns_about_strong_correlation(grid_fit):
    (found,) = [d for d in grid_fit.diagnostics() if d.kind == "correlation"]
    assert issubclass(found.category, jscale.warnings.IntervalWarning) and "A and alpha (+0.99" in found.message


def test_warns_about_a_parameter_at_its_bound():
    from jscale.inference._uncertainty import bound_messages

    messages = bound_messages(LAW, [1e-9, 400.0, 1500.0, 0.3, 0.3])
    assert len(messages) == 1 and messages[0].startswith("E = 1e-09 is at its bound")
    draws = np.array([[1.7, 400.0, 1500.0, 0.3, 0.3], [1.7, 400.0, 1500.0, 0.3, 0.0]])
    assert bound_messages(LAW, draws[0], draws) == ["beta is at its bound (0.0, inf) in 50.0% of the bootstrap draws."]


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(key="seed"), TypeError, "key must be an integer seed"),
        (dict(key=np.zeros(3, np.uint32)), TypeError, "key must be"),
        (dict(n_resamples=0), ValueError, "n_resamples must be a positive integer"),
        (dict(unit="runs"), ValueError, "unit must be one of 'row', 'group', 'residual'"),
        (dict(unit="group"), ValueError, "no group column"),
        (dict(starts="best"), ValueError, "starts must be 'warm', 'optimum', 'grid'"),
        (dict(loss="squared"), ValueError, "Pass the fit of the same law and objective"),
        (dict(execution=jscale.Execution(chunk_size=0)), ValueError, "chunk_size must be a positive integer"),
        (dict(full_fit="fit"), TypeError, "full_fit must be the FitResult"),
        (dict(key=None), TypeError, "bootstrap needs key="),
        (dict(key=None, n_resamples=None, counts=np.ones((2, 35))), ValueError, r"shape \(B, 36\)"),
        (dict(key=None, n_resamples=None, counts=-np.ones((2, 36))), ValueError, "non-negative integers"),
        (dict(key=None, n_resamples=None, counts=np.zeros((2, 36))), ValueError, "row 0 is all zero"),
        (dict(key=None, counts=np.ones((2, 36))), ValueError, "n_resamples=4 but counts has 2 rows"),
        (dict(counts=np.ones((2, 36))), ValueError, "either key= .* or counts="),
        (dict(key=None, n_resamples=None, counts=np.ones((2, 36)), unit="residual"), ValueError, "residual"),
    ],
)
def test_bad_arguments(small, kwargs, error, match):
    data, fit, _ = small
    args = dict(n_resamples=4, key=0, full_fit=fit) | kwargs
    with pytest.raises(error, match=match):
        jscale.bootstrap(LAW, data, **args)


def test_full_fit_of_other_data_is_rejected(small, grid_fit):
    data, _, _ = small
    with pytest.raises(ValueError, match="full_fit was fitted to 240 rows but data has 36"):
        jscale.bootstrap(LAW, data, n_resamples=4, key=0, full_fit=grid_fit)


def test_bad_interval_requests(small):
    _, _, boot = small
    with pytest.raises(ValueError, match="method must be one of percentile, bca, basic"):
        boot.interval("E", method="normal")
    with pytest.raises(ValueError, match="level must be a number in"):
        boot.interval("E", level=95)
    with pytest.raises(ValueError, match="has parameters E, A, B, alpha, beta"):
        boot.interval("gamma")
    with pytest.raises(TypeError, match="function of the parameters"):
        boot.interval(3)
    with pytest.raises(ValueError, match="index must be an integer"):
        boot.resample_counts(8)
    no_jack = boot.replace(jackknife_params=boot.jackknife_params[:0], jackknife_status=boot.jackknife_status[:0])
    with pytest.raises(ValueError, match="jackknife=True"):
        no_jack.interval("E", method="bca")


def test_progress_bar_over_chunks(small, capsys):
    data, fit, boot = small
    shown = quiet(jscale.bootstrap, LAW, data, n_resamples=8, key=7, starts="optimum", full_fit=fit,
                   execution=jscale.Execution(chunk_size=4), progress=True, jackknife=False)
    np.testing.assert_allclose(shown.free_draws, boot.free_draws, rtol=1e-9, atol=1e-12)


def test_prediction_interval_for_a_bounded_law_and_no_jackknife():
    power = jscale.laws.custom(lambda p, x: p["E"] + p["A"] * x["compute"] ** -p["alpha"],
                               {"E": "positive", "A": "positive", "alpha": jscale.laws.Param((0.0, 1.0))},
                               columns=("compute",))
    compute = np.logspace(18, 22, 12)
    rng = np.random.default_rng(0)
    data = jscale.ScalingData.from_arrays(compute=compute, loss=(1.7 + 1e3 * compute**-0.15) * np.exp(
        rng.normal(0, 0.01, 12)))
    fit = jscale.fit(power, data, starts=power.to_free([1.5, 800.0, 0.2]))
    boot = quiet(jscale.bootstrap, power, data, n_resamples=40, key=0, full_fit=fit, starts="optimum",
                  jackknife=False)
    low, high = boot.predict_interval(compute=[1e23])
    direct = boot.interval(lambda p: p["E"] + p["A"] * 1e23 ** -p["alpha"])
    # Equal up to the interpolation between two draws (log loss there, loss here).
    assert (low[0], high[0]) == pytest.approx(direct, rel=1e-4)
    assert low[0] < fit.predict(compute=[1e23])[0] < high[0]


def test_large_integer_seeds_do_not_collide():
    assert not np.array_equal(_bootstrap.as_key_data(1), _bootstrap.as_key_data(2**32 + 1))
    np.testing.assert_array_equal(_bootstrap.as_key_data(np.int64(7)), _bootstrap.as_key_data(7))


def test_the_usable_draw_mask_has_one_name(small):
    """`draw_ok`, as on every container with draws; `converged` is its old name until 0.4.0."""
    _, _, boot = small
    np.testing.assert_array_equal(boot.draw_ok, boot.status == jscale.solvers.Status.SUCCESS)
    assert jscale.Estimate._fields[3] == "draw_ok"
    with pytest.warns(DeprecationWarning, match="BootstrapResult.converged is now draw_ok"):
        np.testing.assert_array_equal(boot.converged, boot.draw_ok)
