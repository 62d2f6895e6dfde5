"""Experiment design: `jscale.suggest_runs` (greedy variance reduction per unit cost)."""

import contextlib
import json
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import jscale
from jscale import laws
from jscale.base._numerics import x64_scope
from jscale.decisions import _design

# The diagnostics these tests' fits raise and do not test (warnings are errors elsewhere).
pytestmark = [
    pytest.mark.filterwarnings("ignore::jscale.warnings.ExtrapolationWarning"),
]


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        yield


def _linear(p, x):
    return p["a"] + p["b"] * jnp.log(x["n_params"]) + p["c"] * jnp.log(x["n_tokens"])


LINEAR = laws.custom(_linear, {"a": "free", "b": "free", "c": "free"}, columns=("n_params", "n_tokens"),
                     name="linear")
POINT = dict(n_params=3e9, n_tokens=6e10)
CANDIDATES = {"n_params": np.array([2e8, 5e8, 1e9, 2e9, 4e8]), "n_tokens": np.array([4e9, 1e10, 2e10, 4e10, 4e10])}


@pytest.fixture(scope="module")
def linear_study():
    """A law linear in its parameters, raw residuals, squared loss: the linear-Gaussian case."""
    rng = np.random.default_rng(0)
    n = np.repeat(np.geomspace(1e7, 3e8, 4), 3)
    d = n * np.tile([10.0, 20.0, 40.0], 4)
    loss = 9.0 - 0.2 * np.log(n) - 0.1 * np.log(d) + rng.normal(0, 0.01, n.size)
    data = jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss)
    with _quiet():
        fit = jscale.fit(LINEAR, data, residual="raw", loss="squared")
    return data, fit


def _refit_variance(data, fit, added):
    """Variance of log L at POINT after adding runs at `added` (indices of CANDIDATES) observed at
    their predicted values: refit, its Hessian covariance rescaled to the first fit's noise (the
    new runs add no residual, so the refit's s^2 = SSR / (n + m - P) is the first's times
    (n - P) / (n + m - P)), and the delta method."""
    idx = np.asarray(added, int)
    n = np.concatenate([data.n_params, CANDIDATES["n_params"][idx]])
    d = np.concatenate([data.n_tokens, CANDIDATES["n_tokens"][idx]])
    with warnings.catch_warnings():  # the candidates lie beyond the data on purpose
        warnings.simplefilter("ignore", jscale.warnings.ExtrapolationWarning)
        new = fit.predict(**{c: v[idx] for c, v in CANDIDATES.items()}) if idx.size else []
    y = np.concatenate([data.loss, new])
    more = jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=y)
    with _quiet():
        refit = jscale.fit(LINEAR, more, residual="raw", loss="squared", starts=fit.theta[None])
    rows, p = len(data), 3
    cov = refit.free_covariance("hessian") * (rows + len(idx) - p) / (rows - p)
    value = float(refit.predict(**POINT)[0])
    grad = np.array([1.0, np.log(POINT["n_params"]), np.log(POINT["n_tokens"])]) / value
    return float(grad @ cov @ grad)


def test_greedy_equals_brute_force_refits(linear_study):
    """Each pick is the candidate whose refit (with the run at its expected value) lowers the
    variance of the target most per unit cost, and the predicted variance equals the refit's."""
    data, fit = linear_study
    costs = 6 * CANDIDATES["n_params"] * CANDIDATES["n_tokens"]
    plan = jscale.suggest_runs(fit, quantity="loss", **POINT, candidates=CANDIDATES, budget=1e30, n=2,
                               max_repeats=1, covariance="hessian")
    before = _refit_variance(data, fit, [])
    assert plan.sd_before ** 2 == pytest.approx(before, rel=1e-6)
    chosen = []
    for step in range(2):
        left = [k for k in range(5) if k not in chosen]
        current = _refit_variance(data, fit, chosen)
        gains = {k: current - _refit_variance(data, fit, chosen + [k]) for k in left}
        best = max(left, key=lambda k: gains[k] / costs[k])
        assert (plan.n_params[step], plan.n_tokens[step]) == (CANDIDATES["n_params"][best],
                                                              CANDIDATES["n_tokens"][best])
        assert plan.reduction[step] == pytest.approx(gains[best], rel=1e-5)
        chosen.append(best)
    assert plan.sd_after ** 2 == pytest.approx(_refit_variance(data, fit, chosen), rel=1e-5)


def test_budget_cap_and_determinism(linear_study):
    _, fit = linear_study
    costs = 6 * CANDIDATES["n_params"] * CANDIDATES["n_tokens"]
    budget = 3.5 * costs.max()
    plan = jscale.suggest_runs(fit, quantity="loss", **POINT, candidates=CANDIDATES, budget=budget, n=20,
                               max_repeats=2)
    assert plan.cumulative_cost[-1] <= budget
    np.testing.assert_allclose(plan.cumulative_cost, np.cumsum(plan.cost_of_runs))
    runs = list(zip(plan.n_params.tolist(), plan.n_tokens.tolist()))
    assert max(runs.count(r) for r in runs) <= 2
    # Stopped because nothing else fits: every candidate is capped or too dear for what is left.
    left = budget - plan.cumulative_cost[-1]
    for k in range(5):
        key = (CANDIDATES["n_params"][k], CANDIDATES["n_tokens"][k])
        assert runs.count(key) == 2 or costs[k] > left
    again = jscale.suggest_runs(fit, quantity="loss", **POINT, candidates=CANDIDATES, budget=budget, n=20,
                                max_repeats=2)
    np.testing.assert_array_equal(again.n_params, plan.n_params)
    np.testing.assert_array_equal(again.reduction, plan.reduction)
    assert np.all(plan.reduction > 0) and plan.sd_after < plan.sd_before
    assert plan.sd_after ** 2 == pytest.approx(plan.sd_before ** 2 - plan.reduction.sum(), rel=1e-9)


@pytest.fixture(scope="module")
def chinchilla_boot():
    law = laws.Chinchilla()
    data = jscale.datasets.load("chinchilla")
    with _quiet():
        fit = jscale.fit(law, data, starts=law.default_starts()[::50])
        boot = jscale.bootstrap(law, data, key=0, n_resamples=64, full_fit=fit, jackknife=False)
    return fit, boot


def test_iso_cost_candidates_and_both_sources(chinchilla_boot):
    fit, boot = chinchilla_boot
    budgets = [1e20, 1e21]
    plan = jscale.suggest_runs(boot, compute=1e24, budgets=budgets, budget=4e21, n=6)
    spent = 6 * plan.n_params * plan.n_tokens
    assert all(any(np.isclose(c, b, rtol=1e-9) for b in budgets) for c in spent)  # on the iso-cost curves
    assert plan.source == "bootstrap draws" and 0 < plan.sd_after < plan.sd_before
    with _quiet():
        estimate = jscale.compute_optimal(fit, 1e24).n_params[0]
    assert plan.estimate == pytest.approx(estimate, rel=1e-9)
    laplace = jscale.suggest_runs(fit, compute=1e24, budgets=budgets, budget=4e21, n=6)
    assert laplace.source.startswith("curvature") and 0 < laplace.sd_after < laplace.sd_before
    assert "n_params at C = 1e+24" in plan.summary()


def test_errors(linear_study):
    _, fit = linear_study
    with pytest.raises(ValueError, match="quantity must be one of"):
        jscale.suggest_runs(fit, quantity="N", compute=1e24, budget=1e21)
    with pytest.raises(ValueError, match="one of them"):
        jscale.suggest_runs(fit, compute=1e24, n_params=1e9, n_tokens=1e10, budget=1e21)
    with pytest.raises(ValueError, match="one of them"):
        jscale.suggest_runs(fit, compute=1e24, region=POINT, budget=1e21)
    with pytest.raises(ValueError, match="quantity='n_tokens' is a quantity at a compute budget"):
        jscale.suggest_runs(fit, quantity="n_tokens", n_params=1e9, n_tokens=1e10, budget=1e21)
    with pytest.raises(ValueError, match="pass both"):
        jscale.suggest_runs(fit, n_params=1e9, budget=1e21)
    with pytest.raises(ValueError, match="candidates= or budgets="):
        jscale.suggest_runs(fit, quantity="loss", **POINT, candidates=CANDIDATES, budgets=[1e20], budget=1e21)
    with pytest.raises(ValueError, match="n must be"):
        jscale.suggest_runs(fit, quantity="loss", **POINT, candidates=CANDIDATES, budget=1e21, n=0)
    with pytest.raises(TypeError, match="FitResult or a BootstrapResult"):
        jscale.suggest_runs(laws.Chinchilla(), compute=1e24, budget=1e21)
    options = dict(region=POINT, budget=1e21)
    with pytest.raises(ValueError, match="candidates lacks column 'n_tokens'"):
        jscale.suggest_runs(fit, candidates={"n_params": [1e9]}, **options)
    with pytest.raises(TypeError, match="candidates must be a ScalingData or a mapping"):
        jscale.suggest_runs(fit, candidates=[(1e9, 1e10)], **options)
    with pytest.raises(ValueError, match=r"candidates\['n_tokens'\] must be finite for the linear law; row 1 is nan"):
        jscale.suggest_runs(fit, candidates={"n_params": [1e9, 1e9], "n_tokens": [1e10, np.nan]}, **options)
    with pytest.raises(ValueError, match="candidate 1 costs -6000000000.0"):
        jscale.suggest_runs(fit, candidates={"n_params": [1e9, 1e9], "n_tokens": [1e10, -1.0]}, **options)
    with pytest.raises(ValueError, match="differ in length: n_params has 2, n_tokens has 1"):
        jscale.suggest_runs(fit, candidates={"n_params": [1e9, 2e9], "n_tokens": [1e10]}, **options)
    with pytest.raises(ValueError, match="cost gives 2 costs for 5 candidates"):
        jscale.suggest_runs(fit, candidates=CANDIDATES, cost=[1.0, 2.0], **options)
    with pytest.raises(ValueError, match="candidate 3 costs 0.0"):
        jscale.suggest_runs(fit, candidates=CANDIDATES, cost=[1.0, 2.0, 3.0, 0.0, 1.0], **options)
    with pytest.raises(ValueError, match="cost='flops' names no column of the candidates"):
        jscale.suggest_runs(fit, candidates=CANDIDATES, cost="flops", **options)
    with pytest.raises(ValueError, match="cost_exponent must be a finite number >= 0"):
        jscale.suggest_runs(fit, candidates=CANDIDATES, cost_exponent=-0.5, **options)
    with pytest.raises(ValueError, match="covariance must be one of"):
        jscale.suggest_runs(fit, candidates=CANDIDATES, covariance="fisher", **options)


def test_runs_needed_replicating_the_study(linear_study):
    """Replicating the fitted design m times divides the (Hessian, squared-loss) variance by 1 + m:
    a width whose variance is between var/3 and var/4 needs exactly 3 replicates."""
    data, fit = linear_study
    now = jscale.runs_needed(fit, width=10.0, design=data, quantity="loss", **POINT, covariance="hessian")
    assert now.replicates == 0
    z = 1.959963984540054
    width = 2 * np.sinh(z * now.sd_now / np.sqrt(3.9))
    need = jscale.runs_needed(fit, width=width, design=data, quantity="loss", **POINT, covariance="hessian")
    assert need.replicates == 3 and need.n_runs == 3 * len(data)
    assert need.total_cost == pytest.approx(3 * float(np.sum(6 * data.n_params * data.n_tokens)))
    # One configuration far from the point cannot pin its loss down: the variance along the
    # other directions remains.
    one = {"n_params": [1e7], "n_tokens": [1e8]}
    never = jscale.runs_needed(fit, width=width, design=one, quantity="loss", **POINT, covariance="hessian")
    assert never.replicates == float("inf") and never.sd_limit > need.sd_target
    assert "cannot get there" in never.summary()


def test_disagreeing_basins_add_their_spread(linear_study):
    """A second minimum as good as the best (here planted: another start ends elsewhere at the
    same objective) adds the spread of the target between the two to the curvature variance."""
    data, fit = linear_study
    other = fit.theta + np.array([0.05, -0.004, 0.002])
    ends = np.array(fit.end_params, copy=True)
    objectives = np.array(fit.objectives, copy=True)
    status = np.array(fit.status, copy=True)
    second = (fit.best_index + 1) % len(ends)
    ends[second], objectives[second], status[second] = other, fit.objective, 0
    planted = fit.replace(end_params=ends, objectives=objectives, status=status)
    options = dict(quantity="loss", **POINT, candidates=CANDIDATES, budget=1e30, n=1, covariance="hessian")
    one, two = jscale.suggest_runs(fit, **options), jscale.suggest_runs(planted, **options)
    assert one.n_basins == 1 and two.n_basins == 2
    # Equal weights: the spread is the variance of the two values of log L, (difference / 2)^2.
    values = [float(np.log(r.predict(**POINT)[0])) for r in (fit, fit.replace(best_index=second, end_params=ends))]
    assert two.sd_before ** 2 == pytest.approx(one.sd_before ** 2 + ((values[0] - values[1]) / 2) ** 2, rel=1e-6)


# --- candidate pools, regions of configurations, any law ------------------------------------------------

REGION = {"n_params": np.array([3e9, 1e9, 5e9]), "n_tokens": np.array([6e10, 1e11, 2e10])}


def _refit_variances(data, fit, added, region):
    """(T,) variance of log L at every configuration of `region` after adding runs at `added`
    (indices of CANDIDATES) observed at their predicted values, as in `_refit_variance`."""
    idx = np.asarray(added, int)
    n = np.concatenate([data.n_params, CANDIDATES["n_params"][idx]])
    d = np.concatenate([data.n_tokens, CANDIDATES["n_tokens"][idx]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.ExtrapolationWarning)
        new = fit.predict(**{c: v[idx] for c, v in CANDIDATES.items()}) if idx.size else []
    more = jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=np.concatenate([data.loss, new]))
    with _quiet():
        refit = jscale.fit(LINEAR, more, residual="raw", loss="squared", starts=fit.theta[None])
    cov = refit.free_covariance("hessian") * (len(data) + len(idx) - 3) / (len(data) - 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.ExtrapolationWarning)
        value = np.asarray(refit.predict(**region))
    grad = np.stack([np.ones_like(value), np.log(region["n_params"]), np.log(region["n_tokens"])], axis=1)
    grad = grad / value[:, None]
    return np.einsum("tp,pq,tq->t", grad, cov, grad)


def test_pool_over_a_region_equals_brute_force_refits(linear_study):
    """Candidates as rows of a table (extra columns ignored), the target a set of configurations:
    each pick is the row whose refit lowers the region's mean variance most per unit cost^e (costs
    given per row), the plan names its rows, and its variances equal the refits'."""
    data, fit = linear_study
    costs = np.array([1.0, 2.0, 3.0, 5.0, 2.5])
    pool = jscale.ScalingData.from_arrays(**CANDIDATES, loss=np.full(5, 2.5), group=list("abcde"))
    plan = jscale.suggest_runs(fit, candidates=pool, region=REGION, cost=costs, cost_exponent=0.5, budget=100.0,
                               n=3, max_repeats=1)
    assert plan.quantity == "loss" and plan.region is not None and plan.sd_before.shape == (3,)
    np.testing.assert_allclose(plan.sd_before ** 2, _refit_variances(data, fit, [], REGION), rtol=1e-6)
    chosen = []
    for step in range(3):
        left = [k for k in range(5) if k not in chosen]
        now = _refit_variances(data, fit, chosen, REGION).mean()
        gains = {k: now - _refit_variances(data, fit, chosen + [k], REGION).mean() for k in left}
        best = max(left, key=lambda k: gains[k] / costs[k] ** 0.5)
        assert plan.indices[step] == best
        assert plan.reduction[step] == pytest.approx(gains[best], rel=1e-5)
        chosen.append(best)
    np.testing.assert_allclose(plan.sd_after ** 2, _refit_variances(data, fit, chosen, REGION), rtol=1e-5)
    np.testing.assert_array_equal(plan.n_params, CANDIDATES["n_params"][plan.indices])
    np.testing.assert_array_equal(plan.runs["n_tokens"], CANDIDATES["n_tokens"][plan.indices])
    np.testing.assert_array_equal(plan.cost_of_runs, costs[plan.indices])
    assert plan.cost == "given per candidate" and plan.notes == ()


def test_one_point_is_a_region_of_one(linear_study):
    _, fit = linear_study
    options = dict(candidates=CANDIDATES, budget=3e21, n=4)
    point = jscale.suggest_runs(fit, **POINT, **options)  # the quantity is the loss there by default
    region = jscale.suggest_runs(fit, region={c: [v] for c, v in POINT.items()}, **options)
    assert point.quantity == region.quantity == "loss" and point.point == (3e9, 6e10) and region.point is None
    np.testing.assert_array_equal(point.indices, region.indices)
    assert point.sd_before == pytest.approx(region.sd_before[0], rel=1e-12)
    assert point.sd_after == pytest.approx(region.sd_after[0], rel=1e-12)
    np.testing.assert_allclose(point.cost_of_runs, 6 * point.n_params * point.n_tokens)  # the default 6ND


def test_cost_exponent_and_an_uncapped_count():
    """The greedy's score is the variance removed / cost^e: two independent candidates, one removing
    1 for cost 1, the other 3 for cost 10; the budget binds for every exponent."""
    cov = np.array([[8.0, np.sqrt(2.0), np.sqrt(12.0)], [np.sqrt(2.0), 1.0, 0.0], [np.sqrt(12.0), 0.0, 3.0]])
    costs = np.array([1.0, 10.0])
    picks, removed, _, after = _design.greedy(cov, 1.0, costs, budget=100.0, n=1, max_repeats=1)
    assert picks.tolist() == [0] and removed[0] == pytest.approx(1.0)  # 2 / (1 + 1), per cost 1 > 3 / 10
    picks, removed, _, _ = _design.greedy(cov, 1.0, costs, budget=100.0, n=1, max_repeats=1, cost_exponent=0.4)
    assert picks.tolist() == [1] and removed[0] == pytest.approx(3.0)  # 12 / (3 + 1), per 10^0.4: 1.19 > 1
    picks, *_ = _design.greedy(cov, 1.0, costs, budget=5.0, n=None, max_repeats=1, cost_exponent=0.0)
    assert picks.tolist() == [0]  # the better run does not fit the budget
    picks, _, left, after = _design.greedy(cov, 1.0, costs, budget=100.0, n=None, max_repeats=5)
    assert len(picks) > 2 and np.all(np.diff(left) < 0) and after[0] == pytest.approx(left[-1])


def test_several_cost_exponents_keep_the_plan_that_removes_most(linear_study):
    _, fit = linear_study
    costs = 6 * CANDIDATES["n_params"] * CANDIDATES["n_tokens"]
    options = dict(candidates=CANDIDATES, region=REGION, budget=2.5 * costs.max(), n=None, max_repeats=1)
    single = {e: jscale.suggest_runs(fit, cost_exponent=e, **options) for e in (1.0, 0.0)}
    assert single[1.0].indices.tolist() != single[0.0].indices.tolist()  # the two greedies differ here
    both = jscale.suggest_runs(fit, cost_exponent=(1.0, 0.0), **options)
    best = max(single, key=lambda e: single[e].reduction.sum())
    assert both.cost_exponent == best and both.indices.tolist() == single[best].indices.tolist()
    assert both.reduction.sum() == pytest.approx(max(p.reduction.sum() for p in single.values()), rel=1e-12)
    assert f"of the cost exponents 1, 0, {best:g} removes the most variance" in both.notes[-1]
    with pytest.raises(ValueError, match="empty sequence"):
        jscale.suggest_runs(fit, cost_exponent=[], **options)
    with pytest.raises(ValueError, match="or a sequence of them"):
        jscale.suggest_runs(fit, cost_exponent=(1.0, "soft"), **options)


def test_singular_seed_curvature_falls_back_to_a_stated_prior():
    """Seed runs all at 20 tokens per parameter cannot tell b from c (log D = log 20 + log N): the
    Hessian is singular. The plan completes it with a weak prior and says so, its variance is the
    posterior of Bayesian linear regression with that prior, and its first run is off that ratio
    (the one that separates b from c)."""
    rng = np.random.default_rng(1)
    n = np.geomspace(1e7, 1e8, 6)
    d = 20 * n
    loss = 9.0 - 0.2 * np.log(n) - 0.1 * np.log(d) + rng.normal(0, 0.01, n.size)
    seeds = jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss)
    with _quiet():
        fit = jscale.fit(LINEAR, seeds, residual="raw", loss="squared", starts=np.zeros((1, 3)))
    assert not np.all(np.isfinite(fit.free_covariance("hessian")))
    pool = {"n_params": np.array([2e8, 4e8, 1e8]), "n_tokens": np.array([4e9, 8e9, 1e10])}
    noise = 1e-4
    plan = jscale.suggest_runs(fit, candidates=pool, region=REGION, noise=noise, budget=1e22, n=2, max_repeats=1)
    assert len(plan.notes) == 1 and "singular (rank 2 of 3)" in plan.notes[0] and "prior (sd 10" in plan.notes[0]
    assert "Note: the fit's curvature is singular" in plan.summary()
    assert plan.indices[0] == 2 and plan.n_tokens[0] / plan.n_params[0] == 100
    design = np.stack([np.ones_like(n), np.log(n), np.log(d)], axis=1)
    posterior = np.linalg.inv(design.T @ design / noise + np.eye(3) / _design.PRIOR_SD ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.ExtrapolationWarning)
        value = np.asarray(fit.predict(**REGION))
    grad = np.stack([np.ones(3), np.log(REGION["n_params"]), np.log(REGION["n_tokens"])], axis=1) / value[:, None]
    np.testing.assert_allclose(plan.sd_before ** 2, np.einsum("tp,pq,tq->t", grad, posterior, grad), rtol=1e-6)
    # The first configuration lies on the seeds' ratio (determined already); the others off it.
    assert plan.sd_after[0] < plan.sd_before[0] and np.all(plan.sd_after[1:] < plan.sd_before[1:] / 100)
    # No more rows than parameters: the scatter is not estimable, so noise= is needed, then it plans.
    three = seeds.subset([0, 2, 5])
    with _quiet():
        tiny = jscale.fit(LINEAR, three, residual="raw", loss="squared", starts=np.zeros((1, 3)))
    with pytest.raises(ValueError, match="3 rows for 3 parameters.*pass noise="):
        jscale.suggest_runs(tiny, candidates=pool, region=REGION, budget=1e22)
    plan = jscale.suggest_runs(tiny, candidates=pool, region=REGION, noise=noise, budget=1e22)
    assert "3 rows for 3 parameters" in plan.notes[0] and len(plan.indices) >= 1
    # runs_needed's absolute figures would rest on the prior: it still asks for a bootstrap.
    with pytest.raises(ValueError, match="bootstrap the fit"):
        jscale.runs_needed(fit, width=0.1, design=pool, **POINT, noise=noise)


def test_a_target_beyond_any_run_is_refused(chinchilla_boot):
    """Issue 33, item 13: compute=1e300 lies ~280 decades beyond the runs; it is refused with the
    reason, as is a region that far out, rather than planned for."""
    fit, _ = chinchilla_boot
    with pytest.raises(ValueError, match=r"compute=1e\+300 lies 278 decades beyond the fitted runs.*at most 20"):
        jscale.suggest_runs(fit, compute=1e300, budget=1e21)
    with pytest.raises(ValueError, match="region lies 40 decades beyond the fitted runs"):
        jscale.suggest_runs(fit, region={"n_params": [1e9, 1e50], "n_tokens": [1e10, 1e10]}, candidates=CANDIDATES,
                            budget=1e21)
    far = jscale.suggest_runs(fit, compute=1e32, budgets=[1e20, 1e21], budget=4e21, n=1)  # 10 decades out
    assert far.sd_before > 0


def test_region_from_bootstrap_draws_and_the_contract(chinchilla_boot):
    """The region's variances from the draws are the variances of the log predictions over the
    converged draws; to_dict is strict JSON and the table names the rows."""
    fit, boot = chinchilla_boot
    region = {"n_params": np.array([7e10, 2e11]), "n_tokens": np.array([1.4e12, 4e12])}
    pool = jscale.datasets.load("chinchilla")
    budget = 1e21
    plan = jscale.suggest_runs(boot, candidates=pool, region=region, budget=budget, n=None, max_repeats=1)
    law = fit.law
    with x64_scope():
        x = law.inputs({c: jnp.asarray(v) for c, v in region.items()})
        logs = np.stack([np.asarray(law.log_predict(jnp.asarray(t), x))
                         for t in np.asarray(boot.free_draws)[boot.draw_ok]])
    np.testing.assert_allclose(plan.sd_before ** 2, logs.var(axis=0, ddof=1), rtol=1e-9)
    assert plan.source == "bootstrap draws" and np.all(plan.sd_after < plan.sd_before)
    assert plan.cumulative_cost[-1] <= budget and len(set(plan.indices.tolist())) == len(plan.indices)
    np.testing.assert_allclose(plan.cost_of_runs, 6 * pool.n_params[plan.indices] * pool.n_tokens[plan.indices])
    low, high = plan.interval(0.9)
    assert low.shape == (2,) and np.all(low < plan.estimate) and np.all(plan.estimate < high)
    text = json.dumps(plan.to_dict(), allow_nan=False)
    assert '"row"' in text and '"region"' in text
    assert plan.table().splitlines()[0].split()[:4] == ["#", "row", "n_params", "n_tokens"]
    assert "over 2 configurations" in plan.summary() and "array(" not in repr(plan)


DC_TRUTH = dict(E=1.87, A=520.8, B=1487.7, alpha=0.3527, beta=0.3527, R_D=15.4, R_N=5.3)
DC_LAW = laws.DataConstrained().fix(**{k: DC_TRUTH[k] for k in ("E", "A", "B", "alpha", "beta")})


def _dc_runs(n, d, u, rng, sigma=0.01):
    theta = jnp.asarray(laws.DataConstrained().to_free([DC_TRUTH[k] for k in laws.DataConstrained().param_names]))
    with x64_scope():
        x = laws.DataConstrained().inputs({"n_params": n, "n_tokens": d, "unique_tokens": u})
        loss = np.asarray(laws.DataConstrained().predict(theta, x))
    return loss * np.exp(rng.normal(0, sigma, n.size))


def test_data_constrained_pool():
    """A law that also reads unique tokens plans over a pool of repeated-data runs (it was refused),
    its picks rows of the pool costing 6ND; a compute target still needs the two columns alone."""
    rng = np.random.default_rng(2)
    n = np.repeat([3e7, 1e8], 4)
    u = np.full(8, 1e9)
    d = u * np.tile([1.0, 4.0, 16.0, 40.0], 2)
    data = jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, unique_tokens=u, loss=_dc_runs(n, d, u, rng))
    with _quiet():
        fit = jscale.fit(DC_LAW, data, starts=DC_LAW.default_starts()[::4])
    pool = {"n_params": np.array([3e8, 3e8, 3e8, 1e8, 3e7]), "n_tokens": np.array([2e9, 2e10, 6e10, 8e10, 1e11]),
            "unique_tokens": np.array([2e9, 2e9, 2e9, 2e9, 1e9]), "note": ["x"] * 5}
    region = {"n_params": [1e9], "n_tokens": [1e11], "unique_tokens": [5e9]}
    plan = jscale.suggest_runs(fit, candidates=pool, region=region, budget=2e20, n=None, max_repeats=1)
    assert 1 <= len(plan.indices) <= 5 and plan.cumulative_cost[-1] <= 2e20
    assert set(plan.runs) == {"n_params", "n_tokens", "unique_tokens"}
    np.testing.assert_array_equal(plan.runs["unique_tokens"], pool["unique_tokens"][plan.indices])
    np.testing.assert_allclose(plan.cost_of_runs, 6 * plan.n_params * plan.n_tokens)
    assert np.all(plan.reduction > 0) and plan.sd_after[0] < plan.sd_before[0]
    with pytest.raises(ValueError, match="also reads unique_tokens. Give the configurations to predict as region="):
        jscale.suggest_runs(fit, compute=1e21, budget=1e19)
    with pytest.raises(ValueError, match="give the point as region= with every one of them"):
        jscale.suggest_runs(fit, n_params=1e9, n_tokens=1e11, candidates=pool, budget=1e19)
    with pytest.raises(ValueError, match="region lacks column 'unique_tokens'"):
        jscale.suggest_runs(fit, region=POINT, candidates=pool, budget=1e19)
    with pytest.raises(ValueError, match="generates candidates along iso-cost curves.*pass candidates="):
        jscale.suggest_runs(fit, region=region, budget=1e19)


def _routed(p, x):
    log_n, log_e = jnp.log(x["n_params"]), jnp.log(x["n_experts"])
    return p["d"] + p["a"] * log_n + p["b"] * log_e + p["c"] * log_n * log_e + p["s"] * x["router"]


ROUTED = laws.custom(_routed, {k: "free" for k in "abcds"}, columns=("n_params", "n_experts", "router"),
                     name="routed", log=True)


def test_custom_law_over_other_columns_with_a_cost_column():
    """A custom law over n_params, n_experts and a categorical router (as in Clark et al. 2022):
    candidates without n_tokens, costs read from a column, labels kept in the plan."""
    rng = np.random.default_rng(3)
    n = np.repeat([1.5e7, 2.5e7, 5.5e7], 6)
    e = np.tile([1.0, 4.0, 16.0], 6)
    router = np.tile(["hash", "hash", "hash", "s-base", "s-base", "s-base"], 3)
    truth = dict(a=-0.08, b=-0.1, c=0.008, d=2.5, s=-0.01)
    log_loss = np.asarray(_routed(truth, {"n_params": n, "n_experts": e, "router": (router == "s-base") * 1.0}))
    data = jscale.ScalingData.from_arrays(n_params=n, n_experts=e, router=router,
                                          loss=np.exp(log_loss + rng.normal(0, 0.003, n.size)))
    with _quiet():
        fit = jscale.fit(ROUTED, data, loss="squared", starts=np.zeros((1, 5)))
    pool = {"n_params": np.array([1.3e8, 1.3e8, 3.7e8, 5.5e7]), "n_experts": np.array([8.0, 64.0, 8.0, 64.0]),
            "router": np.array(["s-base", "hash", "hash", "s-base"]), "flops": np.array([3e19, 5e19, 9e19, 2e19])}
    region = {"n_params": [1.3e9, 1.3e9], "n_experts": [1.0, 128.0], "router": ["hash", "s-base"]}
    plan = jscale.suggest_runs(fit, candidates=pool, region=region, cost="flops", budget=1.2e20, n=None,
                               max_repeats=1)
    assert plan.cost == "flops" and plan.n_tokens is None and len(plan.indices) >= 1
    np.testing.assert_array_equal(plan.cost_of_runs, pool["flops"][plan.indices])
    np.testing.assert_array_equal(plan.runs["router"], pool["router"][plan.indices])
    assert plan.cumulative_cost[-1] <= 1.2e20 and np.all(plan.sd_after < plan.sd_before)
    with pytest.raises(ValueError, match="neither n_params and n_tokens .* nor a compute column"):
        jscale.suggest_runs(fit, candidates={k: v for k, v in pool.items() if k != "flops"}, region=region,
                            budget=1e20)
    with pytest.raises(ValueError, match="cost is a function of n_params and n_tokens, which the candidates lack"):
        jscale.suggest_runs(fit, candidates=pool, region=region, cost=lambda n, d: 6 * n * d, budget=1e20)
    with pytest.raises(ValueError, match="label 'rl-r', which the fitted data did not have"):
        jscale.suggest_runs(fit, candidates=dict(pool, router=["rl-r"] * 4), region=region, cost="flops",
                            budget=1e20)
