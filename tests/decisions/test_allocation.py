"""compute_optimal and marginal_returns: closed form, finite differences, published values, bands."""

import dataclasses
import warnings
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import noisy_chinchilla, quiet, subset_starts, synthetic_chinchilla

import jscale
from jscale.base._numerics import x64_scope
from jscale.decisions._allocation import (
    best_allocation,
    best_log_loss,
    chinchilla_cost,
    chinchilla_frontier,
    chinchilla_log_budget,
)
from jscale.laws._laws import log_sum_exp_offset

# The diagnostics these tests' fits raise and do not test (warnings are errors elsewhere).
pytestmark = [
    pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.ExtrapolationWarning"),
]

LAW = jscale.laws.Chinchilla()
# Besiroglu et al. 2024, Table 1 (SOURCES.md section 1).
EPOCH = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)
# Hoffmann et al. 2022 Approach 3, unrounded (Epoch AI's notebook).
HOFFMANN = dict(E=1.69337368, A=406.401018, B=410.722827, alpha=0.33917084, beta=0.2849083)
BUDGETS = np.logspace(18, 28, 21)


def six_nd(n_params, n_tokens):
    """C = 6ND as a cost of the tests' own: not `chinchilla_cost`, so the solver runs (with
    jscale's own 6ND, Chinchilla takes the closed form)."""
    return 6.0 * n_params * n_tokens


@pytest.mark.parametrize("params", [EPOCH, HOFFMANN], ids=["epoch", "hoffmann"])
def test_numeric_allocation_matches_the_closed_form(params):
    out = jscale.compute_optimal(LAW, BUDGETS, params=params, cost=six_nd)
    n, d, loss = LAW.compute_optimal(params, BUDGETS)
    assert out.converged.all()
    closed = jscale.compute_optimal(LAW, BUDGETS, params=params)  # the closed form itself
    assert closed.converged.all()
    np.testing.assert_allclose(closed.n_params, n, rtol=1e-12)
    np.testing.assert_allclose(closed.loss, loss, rtol=1e-12)
    np.testing.assert_allclose(out.n_params, n, rtol=1e-8)
    np.testing.assert_allclose(out.n_tokens, d, rtol=1e-8)
    np.testing.assert_allclose(out.loss, loss, rtol=1e-8)
    a = params["beta"] / (params["alpha"] + params["beta"])
    np.testing.assert_allclose(out.exponent_params, a, rtol=1e-8)
    np.testing.assert_allclose(out.exponent_tokens, 1 - a, rtol=1e-8)


@pytest.mark.parametrize("params", [EPOCH, HOFFMANN], ids=["epoch", "hoffmann"])
def test_closed_form_frontier_and_its_inverse(params):
    """`chinchilla_frontier` (what jscale.compare takes for Chinchilla under 6ND): N* and L*(C) =
    E + K (C/6)^-gamma as Hoffmann et al.'s closed form gives them (and the solver, in
    test_numeric_allocation_matches_the_closed_form), and its inverse `chinchilla_log_budget`
    gives back the budgets (+inf for a loss at or below E)."""
    n, _, loss = LAW.compute_optimal(params, BUDGETS)
    with x64_scope():
        theta = jnp.asarray(LAW.to_free([params[n] for n in LAW.param_names]))

        @jax.jit
        def frontier(log_cs):
            log_loss = jax.vmap(lambda c: best_log_loss(theta, c, {}, LAW, chinchilla_cost))(log_cs)
            back = jax.vmap(lambda v: chinchilla_log_budget(theta, v))(log_loss)
            return chinchilla_frontier(theta), log_loss, back

        (log_g, log_k, gamma), log_loss, back = frontier(jnp.log(BUDGETS))
        never = chinchilla_log_budget(theta, jnp.log(params["E"]) - jnp.array([0.0, 1e-3]))
    np.testing.assert_allclose(np.exp(log_loss), loss, rtol=1e-12)
    np.testing.assert_allclose(params["E"] + np.exp(log_k) * (BUDGETS / 6) ** -float(gamma), loss, rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_g) * (BUDGETS / 6) ** (params["beta"] / (params["alpha"] + params["beta"])),
                               n, rtol=1e-12)
    np.testing.assert_allclose(np.exp(back), BUDGETS, rtol=1e-9)
    assert np.all(np.isposinf(never))


def test_epoch_published_allocation():
    out = jscale.compute_optimal(LAW, [5.76e23, 1e24, 1e21], params=EPOCH)
    assert round(float(out.exponent_params[0]), 4) == 0.5126
    np.testing.assert_allclose(out.tokens_per_param, [18.34, 18.08, 21.53], atol=0.006)
    assert [round(float(x), 1) for x in out.tokens_per_param] == [18.3, 18.1, 21.5]


def test_hoffmann_unrounded_allocation():
    out = jscale.compute_optimal(LAW, [5.76e23], params=HOFFMANN)
    assert round(float(out.exponent_params[0]), 4) == 0.4565
    assert round(float(out.tokens_per_param[0]), 1) == 58.9


def test_local_exponents_match_finite_differences_of_the_solve():
    h = 1e-4
    out = jscale.compute_optimal(LAW, [1e21], params=HOFFMANN)
    up = jscale.compute_optimal(LAW, [1e21 * np.exp(h)], params=HOFFMANN)
    down = jscale.compute_optimal(LAW, [1e21 * np.exp(-h)], params=HOFFMANN)
    fd = (np.log(up.n_params) - np.log(down.n_params)) / (2 * h)
    assert out.exponent_params[0] == pytest.approx(fd[0], rel=1e-7)


def test_implicit_derivatives_match_finite_differences_of_the_solved_optimum():
    theta = jnp.asarray(LAW.to_free([EPOCH[n] for n in LAW.param_names]))
    log_c = jnp.log(5.76e23)
    cost = jscale.InferenceCost(1e12)  # not the closed-form case
    with x64_scope():

        @jax.jit
        def log_n(t):
            return best_allocation(t, log_c, {}, LAW, cost)[0]

        implicit = np.asarray(jax.jacfwd(log_n)(theta))
        h = 1e-6
        fd = np.array([(log_n(theta + h * e) - log_n(theta - h * e)) / (2 * h) for e in jnp.eye(5)])
    np.testing.assert_allclose(implicit, fd, rtol=1e-5, atol=1e-8)


def test_marginal_returns_match_central_differences():
    n, d = np.array([1e9, 7e10]), np.array([2e10, 1.4e12])
    out = jscale.marginal_returns(LAW, n_params=n, n_tokens=d, params=EPOCH)
    h = 1e-5

    def predicted(nn, dd):
        return EPOCH["E"] + EPOCH["A"] / nn ** EPOCH["alpha"] + EPOCH["B"] / dd ** EPOCH["beta"]

    fd_n = (predicted(n * np.exp(h), d) - predicted(n * np.exp(-h), d)) / (2 * h)
    fd_d = (predicted(n, d * np.exp(h)) - predicted(n, d * np.exp(-h))) / (2 * h)
    np.testing.assert_allclose(out.d_log_params, fd_n, rtol=1e-6)
    np.testing.assert_allclose(out.d_log_tokens, fd_d, rtol=1e-6)
    # Along the frontier: the slope of L*(C) at C = 6 N D, from the closed form.
    c = 6 * n * d
    fd_c = (LAW.compute_optimal(EPOCH, c * np.exp(h))[2] - LAW.compute_optimal(EPOCH, c * np.exp(-h))[2]) / (2 * h)
    np.testing.assert_allclose(out.d_log_compute, fd_c, rtol=1e-6)


def test_inference_cost_shifts_the_optimum_to_smaller_models():
    budget, served = 5.76e23, 1e13
    cost = jscale.InferenceCost(served)
    base = jscale.compute_optimal(LAW, [budget], params=EPOCH)
    out = jscale.compute_optimal(LAW, [budget], params=EPOCH, cost=cost)
    n, d = float(out.n_params[0]), float(out.n_tokens[0])
    assert n < float(base.n_params[0]) and d > float(base.n_tokens[0])
    assert 6 * n * d + 2 * n * served == pytest.approx(budget, rel=1e-12)
    # The Lagrange condition of this cost: alpha A N^-alpha / (beta B D^-beta) = (6D + 2 D_inf) / (6D).
    p = EPOCH
    lhs = p["alpha"] * p["A"] * n ** -p["alpha"] / (p["beta"] * p["B"] * d ** -p["beta"])
    assert lhs == pytest.approx((6 * d + 2 * served) / (6 * d), rel=1e-9)
    # Brute force along the constraint, a million log-spaced model sizes.
    grid = np.logspace(np.log10(n) - 1, np.log10(min(n * 10, budget / (2 * served) * 0.999)), 1_000_001)
    tokens = (budget - 2 * grid * served) / (6 * grid)
    losses = p["E"] + p["A"] / grid ** p["alpha"] + p["B"] / tokens ** p["beta"]
    best = grid[np.argmin(losses)]
    assert best == pytest.approx(n, rel=1e-5)
    assert float(out.loss[0]) == pytest.approx(losses.min(), rel=1e-12)


@dataclasses.dataclass(frozen=True)
class _Repeated(jscale.laws.Chinchilla):
    """A toy law of repeated data (for the plumbing of fixed columns only): tokens beyond the
    unique budget U count as D' = U (1 + R* (1 - exp(-(D/U - 1)/R*))), R* = 5."""

    name: ClassVar[str] = "toy-repeated"
    columns: ClassVar[tuple[str, ...]] = ("n_params", "n_tokens", "unique_tokens")

    def log_predict(self, theta, log_x):
        log_e, log_a, log_b, alpha, beta = (theta[i] for i in range(5))
        log_u = log_x["unique_tokens"]
        repeats = jnp.maximum(jnp.exp(log_x["n_tokens"] - log_u) - 1, 0.0)
        log_d = log_u + jnp.log1p(5.0 * (1 - jnp.exp(-repeats / 5.0)))
        return log_sum_exp_offset(log_e, log_a - alpha * log_x["n_params"], log_b - beta * log_d)


def test_fixed_columns_for_a_data_constrained_law():
    law = _Repeated()
    budget = 1e23
    free = jscale.compute_optimal(LAW, [budget], params=EPOCH)
    unique = float(free.n_tokens[0]) / 10  # a tenth of the data the unconstrained optimum wants
    out = jscale.compute_optimal(law, [budget], params=EPOCH, fixed={"unique_tokens": unique})
    assert out.converged.all()
    assert out.epochs[0] == pytest.approx(out.n_tokens[0] / unique)
    assert out.n_params[0] > free.n_params[0]  # scarce data: spend the budget on parameters
    assert 1 < out.epochs[0] < 10
    with pytest.raises(ValueError, match="also reads unique_tokens"):
        jscale.compute_optimal(law, [budget], params=EPOCH)
    with pytest.raises(ValueError, match="epochs needs the unique-token budget"):
        free.epochs


def test_bands_from_a_fit_and_from_a_bootstrap(grid_fit):
    data = jscale.datasets.load("chinchilla")
    boot = quiet(jscale.bootstrap, LAW, data, n_resamples=300, key=0, starts="optimum", full_fit=grid_fit,
                  jackknife=False)
    budgets = [1e21, 5.76e23]
    from_boot = jscale.compute_optimal(boot, budgets)
    from_fit = jscale.compute_optimal(grid_fit, budgets)  # 240 runs: no note on its bands (warnings are errors)
    np.testing.assert_allclose(from_boot.n_params, from_fit.n_params, rtol=1e-12)
    assert from_boot.draws_of("n_params").shape == (300, 2)
    for result in (from_boot, from_fit):
        for name in ("n_params", "tokens_per_param", "exponent_params"):
            low, high = result.interval(name)
            value = getattr(result, name)
            assert np.all(low < value) and np.all(value < high), name
    # Both bands agree on the scale of the uncertainty of the exponent (within a factor 2).
    width = [np.subtract(*r.interval("exponent_params")[::-1])[0] for r in (from_boot, from_fit)]
    assert 0.5 < width[0] / width[1] < 2
    # The per-draw exponent is the draw's beta / (alpha + beta).
    d = boot.draws
    np.testing.assert_allclose(from_boot.draws_of("exponent_params")[:, 0], d["beta"] / (d["alpha"] + d["beta"]),
                               rtol=1e-8)
    # the table says which method made its bands (issue 33, item 10)
    assert "95% band of N* (bootstrap)" in from_boot.table()
    assert "95% band of N* (delta method)" in from_fit.table() and from_fit.band_method == "delta method"
    assert "bands below, bootstrap" in jscale.marginal_returns(boot, n_params=[7e10], n_tokens=[1.4e12]).table()
    margins = jscale.marginal_returns(boot, n_params=[7e10], n_tokens=[1.4e12])
    low, high = margins.interval("d_log_compute")
    assert low[0] < margins.d_log_compute[0] < high[0] < 0


def test_delta_bands_from_few_runs_say_they_are_too_narrow():
    """Issue 33, item 10: from 25 runs, delta-method bands of N* covered the true N* far less often
    than 95% where the bootstrap's covered it; said once per call, with the measured coverage, the
    command that measured it and what to use instead. A bootstrap of the same runs says nothing."""
    data = noisy_chinchilla(n=5, sigma=0.005, seed=1)
    fit = jscale.fit(LAW, data, starts=subset_starts())
    with pytest.warns(jscale.warnings.IntervalWarning, match="fit of 25 configurations for 5 parameters") as record:
        out = jscale.compute_optimal(fit, [1e21, 5.76e23])
    notes = [w for w in record if issubclass(w.category, jscale.warnings.IntervalWarning)]
    assert len(notes) == 1 and notes[0].filename == __file__
    for part in ("delta method", "too narrow", "python benchmarks/calibrate_intervals.py", "jscale.bootstrap"):
        assert part in str(notes[0].message), part
    assert out.band_method == "delta method"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        boot = jscale.bootstrap(LAW, data, n_resamples=100, key=0, starts="optimum", full_fit=fit, jackknife=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", jscale.warnings.IntervalWarning)
        assert jscale.compute_optimal(boot, [1e21, 5.76e23]).band_method == "bootstrap"


@pytest.mark.parametrize(("change", "column"), [
    (dict(alpha=0.0), "n_params"), (dict(beta=0.0), "n_tokens"), (dict(alpha=-0.1), "n_params"),
])
def test_params_without_an_optimum_are_refused(change, column):
    """Issue 33, item 13: with alpha = 0 the loss does not fall with N and no allocation is optimal;
    the solve ran off towards N -> 0 until its gradient fell below the tolerance, and reported
    "success" with N* = 4.9e-5 at 1e21 FLOP."""
    other = "n_tokens" if column == "n_params" else "n_params"
    with pytest.raises(ValueError, match=rf"does not fall as {column} grows .*every unit of cost would go to {other}"):
        jscale.compute_optimal(LAW, [1e21, 1e24], params={**EPOCH, **change})


def test_a_tiny_exponent_keeps_its_optimum():
    """alpha = 1e-9 still has an optimum (the closed form's: N* of about one parameter at 1e26 FLOP):
    the solver reaches it where its Newton steps do, and says "max_steps" (not "success", not an
    error) where they do not; the closed form has it at both budgets."""
    params = {**EPOCH, "alpha": 1e-9}
    with pytest.warns(jscale.warnings.ConvergenceWarning, match=r"failed at 1 of 2 points: 1e\+21 \(max_steps\)"):
        out = jscale.compute_optimal(LAW, [1e21, 1e26], params=params, cost=six_nd)
    assert list(out.status) == ["max_steps", "success"]
    np.testing.assert_allclose(out.n_params[1], LAW.compute_optimal(params, 1e26)[0], rtol=1e-6)
    closed = jscale.compute_optimal(LAW, [1e21, 1e26], params=params)
    np.testing.assert_allclose(closed.n_params, LAW.compute_optimal(params, [1e21, 1e26])[0], rtol=1e-9)


def test_a_fit_without_an_optimum_says_why():
    law = LAW.fix(alpha=0.0, A=1.0)  # the loss does not depend on N at all
    data = synthetic_chinchilla(dict(E=1.8, A=1.0, B=2000.0, alpha=0.0, beta=0.35), n=5)
    fit = jscale.fit(law, data, starts=law.default_starts()[::10])
    with pytest.warns(jscale.warnings.ConvergenceWarning, match="does not fall as n_params grows") as record, \
            pytest.warns(jscale.warnings.IntervalWarning, match="delta method"):
        out = jscale.compute_optimal(fit, [1e19, 1e21])
    assert list(out.status) == ["max_steps", "max_steps"]
    assert "failed at 2 of 2 points" in str(next(w.message for w in record if w.category is
                                                jscale.warnings.ConvergenceWarning))
    assert all("not a solution" in line for line in out.table().splitlines()[1:])


def test_bad_arguments():
    with pytest.raises(ValueError, match="pass its natural parameters as params="):
        jscale.compute_optimal(LAW, [1e21])
    with pytest.raises(ValueError, match="params lacks beta"):
        jscale.compute_optimal(LAW, [1e21], params={k: v for k, v in EPOCH.items() if k != "beta"})
    with pytest.raises(ValueError, match="compute must be finite and positive; entry 1"):
        jscale.compute_optimal(LAW, [1e21, -1.0], params=EPOCH)
    with pytest.raises(TypeError, match="cost must be a function"):
        jscale.compute_optimal(LAW, [1e21], params=EPOCH, cost=6)
    with pytest.raises(TypeError, match="expected a FitResult, a BootstrapResult or a law"):
        jscale.compute_optimal("chinchilla", [1e21])
    with pytest.raises(ValueError, match="same length"):
        jscale.marginal_returns(LAW, n_params=[1e9, 2e9], n_tokens=[1e10, 2e10, 3e10], params=EPOCH)
    out = jscale.compute_optimal(LAW, [1e21], params=EPOCH)
    with pytest.raises(ValueError, match="No uncertainty to band"):
        out.interval("n_params")
    with pytest.raises(ValueError, match="name must be one of"):
        out.interval("flops")
    with pytest.raises(ValueError, match="inference_tokens must be a number >= 0"):
        jscale.InferenceCost(-1)
