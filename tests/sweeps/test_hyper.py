"""jscale.hyperparameters: per-cell optima of learning-rate (and batch-size) sweeps, power laws of
the optimum, predictions with bands, on studies simulated from known laws.

* Step Law 2025 (arXiv:2503.04715): lr* = 1.79 N^-0.713 D^0.307, bs* = 0.58 D^0.571.
* DeepSeek LLM 2024 (arXiv:2401.02954): eta_opt = 0.3118 C^-0.125 (from configurations within
  0.25% of the minimum).
Noise-free parabolas give the closed form to 1e-8; with 0.5% noise the published coefficients
lie inside the 95% bands.
"""

import warnings

import numpy as np
import pytest

import jscale

SIZES = (1e8, 3e8, 1e9, 3e9)
TOKENS = (2e10, 1e11)
CURVATURE = 0.08  # log L rises by CURVATURE (log lr - log lr*)^2
CURVATURE_BS = 0.05


def step_lr(n, d):
    return 1.79 * n ** -0.713 * d ** 0.307


def step_bs(d):
    return 0.58 * d ** 0.571


def base_loss(n, d):
    return 1.7 + 400 / n ** 0.34 + 410 / d ** 0.28


def lr_study(noise=0.0, seed=0, n_lr=7, span=(-0.8, 0.7)):
    """Learning-rate sweeps of n_lr values at 4 sizes x 2 token counts, loss a parabola in log lr."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in SIZES:
        for d in TOKENS:
            star = step_lr(n, d)
            for lr in star * np.logspace(*span, n_lr):
                loss = base_loss(n, d) * np.exp(CURVATURE * np.log(lr / star) ** 2 + noise * rng.standard_normal())
                rows.append((n, d, lr, loss))
    a = np.array(rows)
    return jscale.ScalingData.from_arrays(n_params=a[:, 0], n_tokens=a[:, 1], learning_rate=a[:, 2], loss=a[:, 3])


def grid_study(noise=0.0, seed=0):
    """Learning rate x batch size grids (5 x 4) at 4 token counts (one model size), with a cross term."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in (1e10, 4e10, 1.6e11, 6.4e11):
        lr_star, bs_star = step_lr(1e9, d), step_bs(d)
        for lr in lr_star * np.logspace(-0.6, 0.5, 5):
            for bs in bs_star * np.logspace(-0.5, 0.4, 4):
                u, v = np.log(lr / lr_star), np.log(bs / bs_star)
                log_gap = CURVATURE * u ** 2 + 0.02 * u * v + CURVATURE_BS * v ** 2
                rows.append((d, lr, bs, base_loss(1e9, d) * np.exp(log_gap + noise * rng.standard_normal())))
    a = np.array(rows)
    return jscale.ScalingData.from_arrays(n_tokens=a[:, 0], learning_rate=a[:, 1], batch_size=a[:, 2], loss=a[:, 3])


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def exact():
    return jscale.hyperparameters(lr_study(), "learning_rate", ("n_params", "n_tokens"), n_resamples=0)


def test_noise_free_parabolas_give_the_closed_form(exact):
    n, d = exact.cells["n_params"], exact.cells["n_tokens"]
    np.testing.assert_allclose(exact.optimum["learning_rate"], step_lr(n, d), rtol=1e-8)
    np.testing.assert_allclose(exact.best_loss, base_loss(n, d), rtol=1e-8)
    assert exact.exponents["learning_rate"]["n_params"] == pytest.approx(-0.713, abs=1e-8)
    assert exact.exponents["learning_rate"]["n_tokens"] == pytest.approx(0.307, abs=1e-8)
    assert exact.prefactors["learning_rate"] == pytest.approx(1.79, rel=1e-7)
    assert exact.included.all() and exact.notes == ()


def test_predict_gives_the_law_and_the_basin_width(exact):
    with pytest.warns(jscale.warnings.ExtrapolationWarning, match=r"1\.30 decades"):
        pred = exact.predict(n_params=7e9, n_tokens=2e12, tolerance=0.01)
    star = step_lr(7e9, 2e12)
    assert pred["learning_rate"][0] == pytest.approx(star, rel=1e-7)
    half = np.sqrt(np.log1p(0.01) / CURVATURE)  # loss within 1% of the optimum's for |log(lr/lr*)| <= half
    assert pred["learning_rate_low_range"][0] == pytest.approx(star * np.exp(-half), rel=1e-7)
    assert pred["learning_rate_high_range"][0] == pytest.approx(star * np.exp(half), rel=1e-7)
    assert pred.decades[0] == pytest.approx(np.log10(2e12 / 1e11))
    inside = exact.predict(n_params=[1e9, 2e9], n_tokens=[5e10, 5e10])  # no warning inside the cells
    assert np.all(inside.decades == 0)


def test_the_penalty_of_missing_the_optimum(exact):
    pred = exact.penalty(2, n_params=[1e9, 2e9], n_tokens=[5e10, 5e10])
    np.testing.assert_allclose(pred["learning_rate_penalty"], np.expm1(CURVATURE * np.log(2) ** 2), rtol=1e-8)
    assert exact.penalty(0.5, n_params=1e9, n_tokens=5e10)["learning_rate_penalty"][0] == pytest.approx(
        pred["learning_rate_penalty"][0])
    with pytest.raises(ValueError, match="factor must be one positive number"):
        exact.penalty(-2, n_params=1e9, n_tokens=5e10)


def test_a_grid_of_two_hyperparameters():
    result = jscale.hyperparameters(grid_study(), ("learning_rate", "batch_size"), "n_tokens", n_resamples=0)
    d = result.cells["n_tokens"]
    np.testing.assert_allclose(result.optimum["learning_rate"], step_lr(1e9, d), rtol=1e-8)
    np.testing.assert_allclose(result.optimum["batch_size"], step_bs(d), rtol=1e-8)
    assert result.exponents["batch_size"]["n_tokens"] == pytest.approx(0.571, abs=1e-8)
    assert result.prefactors["batch_size"] == pytest.approx(0.58, rel=1e-7)


def test_critical_batch_size_is_the_near_optimal_range_s_upper_end():
    """Noise-free: at fixed tokens the loss rises as CURVATURE_BS (log bs - log bs*)^2 with the
    learning rate at its optimum, so bs_crit = bs* exp(sqrt(log 1.01 / CURVATURE_BS)) exactly."""
    result = jscale.hyperparameters(grid_study(), ("learning_rate", "batch_size"), "n_tokens", n_resamples=0)
    critical = result.critical(0.01, over="batch_size")
    ratio = np.exp(np.sqrt(np.log1p(0.01) / CURVATURE_BS))
    d = critical.cells["n_tokens"]
    np.testing.assert_allclose(critical.optimum["batch_size"], step_bs(d) * ratio, rtol=1e-8)
    np.testing.assert_allclose(critical.best_loss, base_loss(1e9, d) * 1.01, rtol=1e-8)
    assert critical.exponents == {"batch_size": {"n_tokens": pytest.approx(0.571, abs=1e-8)}}
    assert critical.prefactors["batch_size"] == pytest.approx(0.58 * ratio, rel=1e-7)
    assert critical.method == "critical" and critical.over == ("batch_size",)
    assert "critical batch_size (the largest within 1% of each cell's best loss" in critical.summary()
    assert "batch_size_crit = " in critical.laws_table()
    with pytest.warns(jscale.warnings.ExtrapolationWarning, match="Critical batch_size"):
        at = critical.predict(n_tokens=2e12)
    assert at.quantities == ("batch_size",)
    assert at["batch_size"][0] == pytest.approx(0.58 * ratio * 2e12 ** 0.571, rel=1e-7)
    # a larger tolerance reaches further; the learning rate's own critical value is there too
    assert np.all(result.critical(0.05, over="batch_size").optimum["batch_size"] > critical.optimum["batch_size"])
    lr = result.critical(0.01, over="learning_rate")
    np.testing.assert_allclose(lr.optimum["learning_rate"] / step_lr(1e9, d),
                               np.exp(np.sqrt(np.log1p(0.01) / CURVATURE)), rtol=1e-8)


@pytest.mark.filterwarnings("ignore::jscale.warnings.SweepWarning")
def test_critical_values_have_bands_from_the_same_resamples(tmp_path):
    result = jscale.hyperparameters(grid_study(noise=0.002, seed=1), ("learning_rate", "batch_size"), "n_tokens",
                                    n_resamples=200, key=2)
    critical = result.critical(over="batch_size")
    low, high = critical.interval("batch_size:n_tokens")
    assert low < 0.571 < high and high - low < 0.5
    cells = critical.interval("batch_size")
    assert np.all(cells.low < critical.optimum["batch_size"]) and np.all(critical.optimum["batch_size"] < cells.high)
    back = jscale.load(jscale.save(critical, tmp_path / "critical.jscale"))
    assert back.summary() == critical.summary() and back.tolerance == 0.01
    assert critical.to_dict()["tolerance"] == 0.01


def test_critical_names_values_beyond_the_sweep_and_refuses_what_it_cannot_do(exact):
    # a wide basin: the 1% range runs past the swept learning rates
    wide = jscale.hyperparameters(lr_study(span=(-0.3, 0.3)), "learning_rate", ("n_params", "n_tokens"), n_resamples=0)
    assert any("beyond its largest swept value" in n for n in wide.critical(0.05).notes)
    with pytest.raises(ValueError, match="name the hyperparameter"):
        jscale.hyperparameters(grid_study(), ("learning_rate", "batch_size"), "n_tokens", n_resamples=0).critical()
    with pytest.raises(ValueError, match="over must be one of 'learning_rate'"):
        exact.critical(over="batch_size")
    with pytest.raises(ValueError, match="tolerance must be"):
        exact.critical(0)
    near = _quiet(jscale.hyperparameters, lr_study(), "learning_rate", ("n_params", "n_tokens"), method="near",
                  n_resamples=0)
    with pytest.raises(ValueError, match="fit with method='parabola'"):
        near.critical()


def mup_study(exponent, noise=0.005, seed=0):
    """Width sweeps at fixed tokens: lr* = 0.01 (N / 1e8)^exponent (muP: 0), 7 learning rates each."""
    rng = np.random.default_rng(seed)
    rows = []
    for n in (5e7, 1e8, 2e8, 4e8, 8e8):
        star = 0.01 * (n / 1e8) ** exponent
        for lr in star * np.logspace(-0.8, 0.7, 7):
            rows.append((n, 2e10, lr, base_loss(n, 2e10) * np.exp(CURVATURE * np.log(lr / star) ** 2
                                                                  + noise * rng.standard_normal())))
    a = np.array(rows)
    return jscale.ScalingData.from_arrays(n_params=a[:, 0], n_tokens=a[:, 1], learning_rate=a[:, 2], loss=a[:, 3])


@pytest.mark.filterwarnings("ignore::jscale.warnings.SweepWarning")
def test_whether_the_optimum_moves_with_width_at_fixed_tokens():
    """The muP check: the exponent of lr* in n_params with its band; it includes 0 when the optimum
    does not move (muP), and excludes it when it does (standard parametrisation, -0.7)."""
    mup = jscale.hyperparameters(mup_study(0.0), "learning_rate", "n_params", n_resamples=300, key=1)
    low, high = mup.interval("learning_rate:n_params")
    assert low < 0 < high and high - low < 0.3
    assert "(includes 0: no evidence that learning_rate moves with n_params)" in mup.laws_table()
    standard = jscale.hyperparameters(mup_study(-0.7), "learning_rate", "n_params", n_resamples=300, key=1)
    low, high = standard.interval("learning_rate:n_params")
    assert low < -0.7 < high < 0
    assert "includes 0" not in standard.laws_table()


@pytest.mark.filterwarnings("ignore::jscale.warnings.SweepWarning")
def test_step_law_recovered_within_bands_from_noisy_sweeps():
    result = jscale.hyperparameters(lr_study(noise=0.005, seed=3), "learning_rate", ("n_params", "n_tokens"),
                                    n_resamples=400, key=0)
    for name, truth in (("learning_rate:n_params", -0.713), ("learning_rate:n_tokens", 0.307),
                        ("learning_rate:prefactor", 1.79)):
        low, high = result.interval(name)
        assert low < truth < high, name
    low, high = result.interval("learning_rate")
    assert np.all(low <= result.optimum["learning_rate"]) and np.all(result.optimum["learning_rate"] <= high)
    pred = _quiet(result.predict, n_params=7e9, n_tokens=2e12)
    low, high = pred.interval("learning_rate")
    assert low[0] < step_lr(7e9, 2e12) < high[0]
    assert pred.band_method == "bootstrap" and "learning_rate" in pred.table()


@pytest.mark.filterwarnings("ignore::jscale.warnings.SweepWarning")
def test_deepseek_compute_law_by_the_near_optimal_set():
    """DeepSeek's selection: configurations within 0.25% of each budget's best; eta_opt(C) through their centres."""
    rng = np.random.default_rng(7)
    rows = []
    for c in np.logspace(17, 20, 6):
        star = 0.3118 * c ** -0.125
        for lr in star * np.logspace(-0.6, 0.6, 13):  # symmetric in log around the optimum
            loss = 3.0 * c ** -0.05 * np.exp(CURVATURE * np.log(lr / star) ** 2)
            rows.append((c, lr, loss * np.exp(0.0005 * rng.standard_normal())))
    a = np.array(rows)
    data = jscale.ScalingData.from_arrays(compute=a[:, 0], learning_rate=a[:, 1], loss=a[:, 2])
    result = jscale.hyperparameters(data, "learning_rate", "compute", method="near", near=0.0025, n_resamples=300)
    assert result.exponents["learning_rate"]["compute"] == pytest.approx(-0.125, abs=0.01)
    low, high = result.interval("learning_rate:compute")
    assert low < -0.125 < high
    low, high = result.interval("learning_rate:prefactor")
    assert low < 0.3118 < high
    pred = _quiet(result.predict, compute=1e22)
    assert np.isnan(pred["learning_rate_low_range"]).all()  # no curvature without parabolas


def test_cells_left_out_and_why():
    data = lr_study()
    n, lr = np.asarray(data.n_params), np.asarray(data["learning_rate"])
    d = np.asarray(data.n_tokens)
    star = step_lr(n, d)
    # (1e8, 2e10): keep only the optimum's lower side, so its optimum is at the sweep's edge;
    # (3e8, 2e10): two distinct values; (1e9, 2e10): one run.
    drop = ((n == 1e8) & (d == 2e10) & (lr > star * 0.99)) | ((n == 3e8) & (d == 2e10) & (lr > star * 0.3)) \
        | ((n == 1e9) & (d == 2e10) & (np.abs(np.log(lr / star)) > 0.2))
    with pytest.warns(jscale.warnings.SweepWarning) as caught:
        result = jscale.hyperparameters(data.subset(~drop), "learning_rate", ("n_params", "n_tokens"),
                                        n_resamples=0)
    text = str(caught[0].message)
    assert "cell (1e+08, 2e+10) has its optimum at or beyond the edge of its sweep" in text
    assert "cell (3e+08, 2e+10) has 2 distinct learning_rate values" in text
    assert "cell (1e+09, 2e+10) has 1 distinct learning_rate value;" in text
    assert result.included.sum() == 5 and np.isnan(result.optimum["learning_rate"][~result.included]).all()
    np.testing.assert_allclose(result.exponents["learning_rate"]["n_params"], -0.713, atol=1e-8)


def test_a_lopsided_loss_warns_with_the_parabolas_bias():
    """A loss that rises steeply above the optimum (as learning rates near divergence do) is no
    parabola: a wide sweep's vertex is biased, and the warning gives the size of the bias."""
    rows = []
    for n in SIZES:
        for d in TOKENS:
            star = step_lr(n, d)
            for lr in star * np.logspace(-1.0, 0.8, 8):
                u = np.log(lr / star)
                rows.append((n, d, lr, base_loss(n, d) * np.exp(0.05 * u ** 2 + 0.02 * u ** 3)))
    a = np.array(rows)
    data = jscale.ScalingData.from_arrays(n_params=a[:, 0], n_tokens=a[:, 1], learning_rate=a[:, 2], loss=a[:, 3])
    with pytest.warns(jscale.warnings.SweepWarning, match=r"wide .*its parabola's learning_rate is off by about"):
        jscale.hyperparameters(data, "learning_rate", ("n_params", "n_tokens"), n_resamples=0)


def test_errors():
    data = lr_study()
    sweep = jscale.hyperparameters
    with pytest.raises(ValueError, match="over must name columns"):
        sweep(data, [], "n_params")
    with pytest.raises(ValueError, match="different columns"):
        sweep(data, "learning_rate", ("learning_rate", "n_params"))
    with pytest.raises(ValueError, match="one hyperparameter or two"):
        sweep(data, ("learning_rate", "n_tokens", "compute"), "n_params")
    with pytest.raises(ValueError, match="method must be one of"):
        sweep(data, "learning_rate", ("n_params", "n_tokens"), method="parabolic")
    with pytest.raises(ValueError, match="near must be"):
        sweep(data, "learning_rate", ("n_params", "n_tokens"), method="near", near=2)
    with pytest.raises(ValueError, match="learning_rat"):
        sweep(data, "learning_rat", "n_params")
    bad = jscale.ScalingData.from_arrays(n_params=[1e8] * 3 + [2e8] * 3, learning_rate=[1e-3, -1e-3, 2e-3] * 2,
                                         loss=[3.0] * 6)
    with pytest.raises(ValueError, match="learning_rate"):
        sweep(bad, "learning_rate", "n_params")
    one_size = lr_study().subset(np.asarray(lr_study().n_params) == 1e8)
    with pytest.raises(ValueError, match="'n_params' takes one value"):
        sweep(one_size, "learning_rate", ("n_params", "n_tokens"), n_resamples=0)
    result = sweep(data, "learning_rate", ("n_params", "n_tokens"), n_resamples=0)
    with pytest.raises(ValueError, match="missing 'n_tokens'"):
        result.predict(n_params=1e9)
    with pytest.raises(ValueError, match="tolerance"):
        result.predict(n_params=1e9, n_tokens=1e11, tolerance=0)
    with pytest.raises(ValueError, match="No bands"):
        result.interval("learning_rate")
    with pytest.raises(ValueError, match="name must be one of"):
        result.interval("lr")


def test_summary_and_json(exact):
    import json

    text = exact.summary()
    assert "8 of 8 cells used" in text and "learning_rate* = 1.79 n_params^-0.713 n_tokens^0.307" in text
    out = exact.to_dict()
    json.dumps(out, allow_nan=False)
    assert out["exponents"]["learning_rate"]["n_params"] == pytest.approx(-0.713)


@pytest.mark.filterwarnings("ignore::jscale.warnings.SweepWarning")
def test_save_and_load(tmp_path):
    result = jscale.hyperparameters(grid_study(noise=0.002), ("learning_rate", "batch_size"), "n_tokens",
                                    n_resamples=50)
    path = jscale.save(result, tmp_path / "sweep.jscale")
    back = jscale.load(path)
    assert isinstance(back, jscale.results.HyperResult) and (back.over, back.scale) == (result.over, result.scale)
    np.testing.assert_array_equal(back.laws, result.laws)
    np.testing.assert_array_equal(back.draws["optimum"], result.draws["optimum"])
    np.testing.assert_array_equal(back.span, result.span)
    assert back.summary() == result.summary()
    old = back.replace(draws={k: v for k, v in back.draws.items() if k != "curvature"}, span=None)
    older = jscale.load(jscale.save(old, tmp_path / "older.jscale"))  # written before span and curvature draws
    assert older.summary() == result.summary()
    with pytest.raises(ValueError, match="rerun jscale.hyperparameters"):
        older.critical(over="batch_size")
    broken = back.replace(laws=np.full_like(back.laws, np.nan))
    with pytest.raises(ValueError, match="laws holds NaN"):
        jscale.load(jscale.save(broken, tmp_path / "broken.jscale"))


def test_a_resample_with_too_few_distinct_values_has_no_optimum():
    """A resample of a cell's 7 runs that keeps 2 distinct learning rates has a singular parabola;
    under jit a solve can still return a finite vertex, which must not count as an optimum."""
    import functools

    import jax
    import jax.numpy as jnp

    from jscale.base._numerics import x64_scope
    from jscale.losses._losses import resolve_loss
    from jscale.sweeps._hyper import _cell

    rng = np.random.default_rng(0)
    x = np.log(1e-3 * 2.0 ** np.arange(-3, 4))[:, None]
    y = np.log(3.0) + 0.08 * (x[:, 0] - np.log(1e-3)) ** 2 + 0.005 * rng.standard_normal(7)
    weights = []
    for _ in range(200):
        a, b = rng.choice(7, 2, replace=False)
        k = rng.integers(1, 7)
        w = np.zeros(7)
        w[a], w[b] = k, 7 - k
        weights.append(w)
    weights.append(np.ones(7))  # all runs: a real optimum
    cell = functools.partial(_cell, k=1, method="parabola", log_near=float(np.log1p(0.0025)),
                             loss=resolve_loss("squared", None))
    with x64_scope():
        out = jax.jit(jax.vmap(cell, in_axes=(0, None, None, None)))(jnp.asarray(np.array(weights)), jnp.asarray(x),
                                                                      jnp.asarray(y), jnp.ones(7, bool))
    inside = np.asarray(out["inside"])
    assert not inside[:-1].any() and inside[-1]
