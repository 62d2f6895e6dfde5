"""Tests of `jscale.fit`: published numbers, a scipy reference, recovery of known parameters,
float64 without global x64, one compilation per batch shape, every validation error, statuses."""

import os
import subprocess
import sys
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    CHINCHILLA_HUBER_SUM,
    CHINCHILLA_REFERENCE,
    CHINCHILLA_ROWS,
    HOFFMANN_PARAMS,
    SYNTHETIC_PARAMS,
    chinchilla_free,
    chinchilla_objective_and_grad,
    quiet,
    subset_starts,
    synthetic_chinchilla,
    synthetic_fit,
    traces,
)

import jscale
import jscale.fitting._fit

# The diagnostics these tests' fits raise and do not test (warnings are errors elsewhere).
pytestmark = [
    pytest.mark.filterwarnings("ignore::jscale.warnings.BoundWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.ConfigurationsWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.CurvatureWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.StartsWarning"),
]

LAW = jscale.laws.Chinchilla()


@pytest.fixture(scope="module")
def chinchilla():
    return jscale.datasets.load("chinchilla")


# Published replication (Besiroglu et al. 2024; shared/data/SOURCES.md section 1).


def test_replicates_published_chinchilla_fit(grid_fit):
    assert grid_fit.n_rows == CHINCHILLA_ROWS
    assert grid_fit.n_starts == 4500
    np.testing.assert_array_equal(grid_fit.starts, LAW.default_starts())
    assert grid_fit.objective <= CHINCHILLA_HUBER_SUM * (1 + 1e-6)
    for name, value in CHINCHILLA_REFERENCE.items():
        assert grid_fit.params[name] == pytest.approx(value, rel=1e-3), name


def test_grid_fit_converges_and_keeps_every_start(grid_fit):
    assert grid_fit.best_status == "success"
    assert grid_fit.n_converged > 0
    # Hoffmann's grid reaches the optimum from many starts, not by luck from one.
    assert grid_fit.share_at_best > 0.1
    assert set(np.unique(grid_fit.status)) <= {0, 1, 2, 3}
    assert sum(grid_fit.status_counts().values()) == 4500
    assert grid_fit.end_params.shape == (4500, 5)
    assert grid_fit.objectives.shape == grid_fit.status.shape == grid_fit.n_steps.shape == (4500,)
    assert grid_fit.best_index == int(np.nanargmin(grid_fit.objectives))
    assert np.all(grid_fit.n_steps >= 1) and np.all(grid_fit.n_steps <= jscale.solvers.RobustGaussNewton().max_steps)


def test_grid_fit_is_float64(grid_fit):
    for name in ("starts", "end_params", "objectives"):
        assert getattr(grid_fit, name).dtype == np.float64, name
    assert np.issubdtype(grid_fit.status.dtype, np.integer)
    assert np.issubdtype(grid_fit.n_steps.dtype, np.integer)


def test_success_means_stationary(grid_fit, chinchilla):
    # A start reported as converged must sit where the gradient vanishes, not merely where a
    # heavily damped step stopped making progress (that once labelled ~700 grid starts with
    # gradients up to 0.1 as converged). Measured: none above 1e-3, one of 4,422 above 1e-5,
    # in a flat degenerate region (log E ~ -15).
    f_and_grad = chinchilla_objective_and_grad(chinchilla)
    success = np.flatnonzero(grid_fit.status == 0)
    grad = np.array([np.abs(f_and_grad(grid_fit.end_params[i])[1]).max() for i in success])
    assert len(success) > 4000
    assert grad.max() < 1e-3
    assert np.sum(grad > 1e-5) <= 5
    # Every start that reached the optimum is stationary to the precision of the objective.
    at_best = np.array([np.abs(f_and_grad(x)[1]).max() for x in grid_fit.end_params[grid_fit.at_best()]])
    assert at_best.max() < 1e-7


def test_objective_is_the_huber_sum_of_log_residuals(grid_fit, chinchilla):
    f_and_grad = chinchilla_objective_and_grad(chinchilla)
    for i in (grid_fit.best_index, 0, 1234):
        f, _ = f_and_grad(grid_fit.end_params[i])
        assert grid_fit.objectives[i] == pytest.approx(f, rel=1e-12, abs=1e-300)


# A scipy L-BFGS-B reference on the same objective.


def test_scipy_cannot_improve_on_the_best_fit(grid_fit, chinchilla):
    optimize = pytest.importorskip("scipy.optimize")
    f_and_grad = chinchilla_objective_and_grad(chinchilla)
    f = lambda x: f_and_grad(x)[0]  # noqa: E731
    x_best = grid_fit.end_params[grid_fit.best_index]
    assert f(x_best) == pytest.approx(grid_fit.objective, rel=1e-12)
    runs = [
        optimize.minimize(f_and_grad, x_best, jac=True, method="L-BFGS-B"),
        optimize.minimize(f_and_grad, x_best, jac=True, method="L-BFGS-B",
                          options=dict(ftol=1e-15, gtol=1e-15, maxiter=10_000)),
        optimize.minimize(f, x_best, method="L-BFGS-B"),  # finite differences, as Epoch AI did
    ]
    for run in runs:
        assert run.fun >= grid_fit.objective * (1 - 1e-12), run


@pytest.mark.slow  # ~9 s of scipy; the default run checks scipy cannot improve on the optimum (above)
def test_grid_fit_beats_scipy_from_grid_starts(grid_fit, chinchilla):
    optimize = pytest.importorskip("scipy.optimize")
    f_and_grad = chinchilla_objective_and_grad(chinchilla)
    starts = LAW.default_starts()[::150]
    assert len(starts) == 30
    best = min(optimize.minimize(f_and_grad, x0, jac=True, method="L-BFGS-B").fun for x0 in starts)
    # The reference is a real optimum (published 0.00101827403), not a failed scipy run.
    assert best <= CHINCHILLA_HUBER_SUM * (1 + 1e-6)
    assert grid_fit.objective <= best * (1 + 1e-12)


# Recovery of known parameters from exact synthetic data.


@pytest.mark.parametrize("which", ["synthetic", "hoffmann"])
@pytest.mark.parametrize("loss", ["huber", "squared"])
def test_recovers_known_parameters(loss, which):
    truth = SYNTHETIC_PARAMS if which == "synthetic" else HOFFMANN_PARAMS
    result = synthetic_fit(loss, which)
    assert result.best_status == "success"
    assert result.objective <= result.objective_floor
    for name, value in truth.items():
        assert result.params[name] == pytest.approx(value, rel=1e-6), name
    np.testing.assert_allclose(result.end_params[result.best_index], chinchilla_free(truth), rtol=0, atol=1e-9)
    data = synthetic_chinchilla(truth)
    np.testing.assert_allclose(result.predict(data), data.loss, rtol=1e-12)


# float64 without the caller enabling x64.


def test_fit_is_float64_and_leaves_global_precision_alone():
    if jax.config.jax_enable_x64:
        pytest.skip("x64 is enabled globally in this session (JAX_ENABLE_X64)")
    result = synthetic_fit("huber")
    again = jscale.fit(LAW, synthetic_chinchilla(), starts=subset_starts(), loss="huber")
    assert not jax.config.jax_enable_x64
    assert jnp.ones(1).dtype == jnp.float32
    for r in (result, again):
        assert r.end_params.dtype == r.objectives.dtype == np.float64
    assert result.predict(n_params=[1e9], n_tokens=[2e10]).dtype == np.float64
    # Recovery to 1e-14 is impossible in float32 (eps 1.2e-7).
    assert abs(again.params["alpha"] / SYNTHETIC_PARAMS["alpha"] - 1) < 1e-12


def test_import_does_not_enable_x64():
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    code = (
        "import jax; before = jax.config.jax_enable_x64; import jscale, jscale.laws, jscale.datasets; "
        "import jax.numpy as jnp; print(before, jax.config.jax_enable_x64, jnp.ones(1).dtype)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["False", "False", "float32"]


# One compilation per batch shape.


def test_one_trace_per_batch_shape():
    # A solver setting no other test uses, so the jit cache starts empty for this configuration.
    solver = jscale.solvers.RobustGaussNewton(max_steps=61)
    data = synthetic_chinchilla(n=3)
    other = synthetic_chinchilla(dict(E=2.0, A=300.0, B=900.0, alpha=0.3, beta=0.3), n=3)
    starts = subset_starts()[:3]

    def fit(d, s):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jscale.warnings.ConvergenceWarning)
            return jscale.fit(LAW, d, starts=s, execution=jscale.Execution(solver=solver))

    with traces() as counted:
        first = fit(data, starts)
        assert counted["_fit_starts"] == 1
        fit(data, starts)
        moved = fit(other, starts)  # same shapes, other values: no retrace
        assert counted["_fit_starts"] == 1
        assert moved.objectives[0] != first.objectives[0] or moved.params != first.params
        fit(data, starts + 0.25)
        fit(data, subset_starts()[:4])  # another number of starts in the same bucket (8): no retrace
        assert counted["_fit_starts"] == 1
        fit(data, subset_starts()[:9])  # one in the next bucket (10): one more trace
        assert counted["_fit_starts"] == 2
        fit(other, subset_starts()[5:15])
        assert counted["_fit_starts"] == 2


def test_31_and_32_rows_share_one_program():
    solver = jscale.solvers.RobustGaussNewton(max_steps=62)  # a setting no other test uses
    data = jscale.datasets.load("chinchilla")
    with warnings.catch_warnings(), traces() as counted:
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        fits = [jscale.fit(LAW, data.subset(np.arange(n)), starts=subset_starts()[:5],
                           execution=jscale.Execution(solver=solver))
                for n in (31, 32)]
    assert counted["_fit_starts"] == 1
    # The padding rows (weight 0) change nothing: 31 rows alone give the same fit as 31 rows
    # beside a weight-0 32nd.
    weights = np.r_[np.ones(31), 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        zero = jscale.fit(LAW, data.subset(np.arange(32)).replace(weight=weights), starts=subset_starts()[:5],
                          execution=jscale.Execution(solver=solver))
    np.testing.assert_array_equal(fits[0].objectives, zero.objectives)
    np.testing.assert_array_equal(fits[0].end_params, zero.end_params)


# Validation errors: raised eagerly, before anything is fitted.


@pytest.fixture
def no_fitting(monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append(1)
        raise AssertionError("fit reached the jitted computation")

    monkeypatch.setattr(jscale.engine._batch, "_fit_starts", spy)
    yield
    assert not calls


SYN = synthetic_chinchilla(n=3)
STARTS = np.zeros((3, 5))
NAN_STARTS = np.where(np.arange(15).reshape(3, 5) == 7, np.nan, 0.0)

INVALID = [
    (dict(data=jscale.ScalingData.from_arrays(n_params=SYN.n_params, loss=SYN.loss)), ValueError,
     r"chinchilla law needs column 'n_tokens'.*has: n_params, loss"),
    (dict(data=SYN.subset(np.arange(4))), ValueError, r"5 parameters but the data has only 4 rows"),
    (dict(starts=np.zeros((3, 4))), ValueError, r"starts must have shape \(S, 5\).*got shape \(3, 4\)"),
    (dict(starts=np.zeros((2, 5, 1))), ValueError, r"starts must have shape \(S, 5\).*got shape \(2, 5, 1\)"),
    (dict(starts=np.zeros((0, 5))), ValueError, r"starts must have shape \(S, 5\).*got shape \(0, 5\)"),
    (dict(starts=NAN_STARTS), ValueError, r"starts has 1 rows? with NaN or infinite values; the first is row 1"),
    (dict(starts=np.full((2, 5), np.inf)), ValueError, r"starts has 2 rows? with NaN or infinite.*row 0"),
    (dict(execution=jscale.Execution(batching="pmap")), ValueError,
     r"batching must be one of refill, vmap, map; got 'pmap'"),
    (dict(execution=jscale.Execution(batch_size=0)), ValueError, r"batch_size must be a positive integer; got 0"),
    (dict(execution=jscale.Execution(batch_size=2.5)), ValueError, r"batch_size must be a positive integer; got 2.5"),
    (dict(execution=jscale.Execution(n_devices=jax.local_device_count() + 1)), ValueError,
     rf"n_devices={jax.local_device_count() + 1} but only {jax.local_device_count()} local devices"),
    (dict(execution=jscale.Execution(n_devices=0)), ValueError, r"n_devices must be a positive integer; got 0"),
    (dict(loss="bogus"), ValueError,
     r"loss must be 'huber', 'squared', 'asymmetric' or a loss object such as jscale.losses.Huber\(delta\)"
     r".*got 'bogus'"),
    (dict(loss="squared", delta=0.1), ValueError, r"delta applies to the 'huber' and 'asymmetric' losses"),
    (dict(loss=jscale.losses.Huber(), delta=0.1), ValueError, r"Pass delta only with a loss name"),
    (dict(residual="linear"), ValueError, r"residual must be 'log' .* or 'raw' .*; got 'linear'"),
    (dict(target="accuracy"), ValueError, r"no column 'accuracy' to fit; its columns are n_params, n_tokens, "),
    (dict(target=3), TypeError, r"target must be the name of a data column"),
    (dict(data=[SYN, SYN]), TypeError, r"fit takes one ScalingData; .* use jscale.fit_many"),
    (dict(delta=-1.0), ValueError, r"Huber delta must be a positive finite number; got -1.0"),
    (dict(law="chinchilla"), TypeError, r"law must be a jscale law object.*got str"),
    (dict(law=jscale.laws.Chinchilla), TypeError, r"law must be a jscale law object.*got type"),
    (dict(data={"n_params": [1e9], "loss": [2.0]}), TypeError, r"data must be a jscale.ScalingData.*got dict"),
    (dict(execution=jscale.Execution(solver="lm")), TypeError, r"solver must be a jscale solver.*got str"),
    (dict(starts="abc"), ValueError, r"starts must be a numeric array of shape \(S, 5\); got str"),
    (dict(delta="x"), ValueError, r"Huber delta must be a positive finite number; got 'x'"),
    (dict(delta=True), ValueError, r"Huber delta must be a positive finite number; got True"),
]


@pytest.mark.parametrize("overrides, error, match", INVALID, ids=[m[:40] for _, _, m in INVALID])
def test_fit_rejects_invalid_arguments(no_fitting, overrides, error, match):
    kwargs = dict(law=LAW, data=SYN, starts=STARTS)
    kwargs.update(overrides)
    law, data = kwargs.pop("law"), kwargs.pop("data")
    with pytest.raises(error, match=match):
        jscale.fit(law, data, **kwargs)


def test_huber_with_negative_delta_is_rejected_before_fit():
    with pytest.raises(ValueError, match=r"Huber delta must be a positive finite number; got -1"):
        jscale.fit(LAW, SYN, starts=STARTS, loss=jscale.losses.Huber(delta=-1))


def test_nan_loss_stops_at_scaling_data(no_fitting):
    with pytest.raises(ValueError, match=r"Column 'loss' has 2 non-finite values .* first is at row 1 \(nan\)"):
        data = jscale.ScalingData.from_arrays(
            n_params=SYN.n_params, n_tokens=SYN.n_tokens, loss=np.where(np.arange(9) % 4 == 1, np.nan, SYN.loss)
        )
        jscale.fit(LAW, data, starts=STARTS)


# Statuses: warning, strict and solver settings.


@pytest.fixture(scope="module")
def two_step_fit():
    solver = jscale.solvers.RobustGaussNewton(max_steps=2)
    with pytest.warns(jscale.warnings.ConvergenceWarning, match=r"best of 40 starts ended with status 'max_steps'"):
        result = jscale.fit(LAW, synthetic_chinchilla(), starts=subset_starts(),
                            execution=jscale.Execution(solver=solver))
    return result


def test_max_steps_warns(two_step_fit):
    assert two_step_fit.best_status == "max_steps"
    assert two_step_fit.n_converged == 0
    assert np.all(two_step_fit.n_steps <= 2)
    assert np.all(np.isin(two_step_fit.status, [jscale.engine._solve.MAX_STEPS, jscale.engine._solve.NONFINITE]))


def test_max_steps_strict_raises(two_step_fit):
    solver = jscale.solvers.RobustGaussNewton(max_steps=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", jscale.warnings.ConvergenceWarning)
        with pytest.raises(jscale.warnings.ConvergenceError, match=r"status 'max_steps'.*0 starts converged"):
            jscale.fit(LAW, synthetic_chinchilla(), starts=subset_starts(),
                       execution=jscale.Execution(solver=solver), strict=True)


def test_converged_fit_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", jscale.warnings.ConvergenceWarning)
        result = jscale.fit(LAW, synthetic_chinchilla(), starts=subset_starts(), loss="squared", strict=True)
    assert result.best_status == "success"


def test_no_finite_start_raises():
    # exp(800) overflows: every start's first evaluation is non-finite.
    starts = np.array([[0.0, 800.0, 0.0, 0.0, 0.0], [0.0, 0.0, 800.0, 0.0, 0.0]])
    with pytest.raises(jscale.warnings.ConvergenceError, match=r"None of the 2 starts reached a finite objective"):
        jscale.fit(LAW, SYN, starts=starts)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(max_steps=0), r"max_steps must be a positive integer; got 0"),
        (dict(max_steps=-3), r"max_steps must be a positive integer; got -3"),
        (dict(max_steps=2.0), r"max_steps must be a positive integer; got 2.0"),
        (dict(rtol=0.0), r"rtol must be a number in \(0, 1\); got 0.0"),
        (dict(rtol=1.0), r"rtol must be a number in \(0, 1\); got 1.0"),
        (dict(rtol=-1e-3), r"rtol must be a number in \(0, 1\)"),
        (dict(rtol=float("nan")), r"rtol must be a number in \(0, 1\)"),
        (dict(switch=1.5), r"switch must be a number in \(0, 1\); got 1.5"),
        (dict(max_steps=True), r"max_steps must be a positive integer; got True"),
    ],
)
def test_solver_rejects_invalid_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jscale.solvers.RobustGaussNewton(**kwargs)


def test_solver_accepts_numpy_integers():
    assert jscale.solvers.RobustGaussNewton(max_steps=np.int64(5)).max_steps == 5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(max_steps=0), r"LBFGS: max_steps must be a positive integer; got 0"),
        (dict(rtol=2.0), r"LBFGS: rtol must be a number in \(0, 1\); got 2.0"),
        (dict(memory_size=0), r"memory_size must be a positive integer; got 0"),
    ],
)
def test_lbfgs_rejects_invalid_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jscale.solvers.LBFGS(**kwargs)


def test_lbfgs_solver_reaches_the_optimum(grid_fit, chinchilla):
    # optax L-BFGS from a few grid starts plus one near the optimum: it must end on the same
    # optimum as the default solver (to the L-BFGS stopping tolerance) and report statuses.
    starts = np.vstack([LAW.default_starts()[::500], grid_fit.end_params[grid_fit.best_index] + 0.01])
    result = jscale.fit(LAW, chinchilla, starts=starts, execution=jscale.Execution(solver=jscale.solvers.LBFGS()))
    assert result.objective == pytest.approx(grid_fit.objective, rel=1e-7)
    assert result.objective >= grid_fit.objective * (1 - 1e-12)
    assert set(np.unique(result.status)) <= {0, 1, 2, 3}
    assert np.all(result.n_steps >= 1)


def _per_mixture(p, x):
    """A power law in steps with one offset per data mixture (a categorical column, read as codes)."""
    offset = jnp.where(x["mixture"] == 0, p["E_code"], p["E_web"])
    return offset + p["A"] * x["steps"] ** -p["alpha"]


def test_custom_law_over_a_numeric_and_a_categorical_column():
    steps = np.tile(np.logspace(2, 5, 8), 2)
    mixture = np.repeat(["web", "code"], 8)  # codes follow the sorted labels: code 0, web 1
    truth = dict(E_code=0.9, E_web=1.6, A=5.0, alpha=0.4)
    accuracy_like = np.where(mixture == "code", 0.9, 1.6) + 5.0 * steps**-0.4
    data = jscale.ScalingData.from_arrays(steps=steps, mixture=mixture, err=accuracy_like)
    law = jscale.laws.custom(_per_mixture, {"E_code": "free", "E_web": "free", "A": "positive", "alpha": "free"},
                             columns=("steps", "mixture"))
    result = quiet(jscale.fit, law, data, target="err", residual="raw", loss="squared",
                   execution=jscale.Execution(batching="vmap"))
    assert result.params == pytest.approx(truth, rel=1e-8)
    assert result.data_summary.levels == (("mixture", ("code", "web")),)
    with pytest.warns(jscale.warnings.ExtrapolationWarning, match="steps up to 1.00 decades"):
        predicted = result.predict(steps=[1e6, 1e6], mixture=["web", "code"])
    np.testing.assert_allclose(predicted, [1.6 + 5.0 * 1e6**-0.4, 0.9 + 5.0 * 1e6**-0.4], rtol=1e-10)
    with pytest.raises(ValueError, match=r"label 'math', which the fitted data did not have; its labels are 'code'"):
        result.predict(steps=[1e6], mixture=["math"])
    with pytest.raises(ValueError, match=r"reads column 'mixture' as numbers, but it holds text labels"):
        jscale.fit(jscale.laws.PowerLaw("mixture"), data, target="err")
