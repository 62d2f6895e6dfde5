"""Experiment design: `jscale.suggest_runs` (greedy variance reduction per unit cost)."""

import contextlib
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import jscale
from jscale import laws

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
    estimate = jscale.compute_optimal(fit, 1e24).n_params[0]
    assert plan.estimate == pytest.approx(estimate, rel=1e-9)
    laplace = jscale.suggest_runs(fit, compute=1e24, budgets=budgets, budget=4e21, n=6)
    assert laplace.source.startswith("curvature") and 0 < laplace.sd_after < laplace.sd_before
    assert "n_params at C = 1e+24" in plan.summary()


def test_errors(linear_study):
    _, fit = linear_study
    with pytest.raises(ValueError, match="quantity must be one of"):
        jscale.suggest_runs(fit, quantity="N", compute=1e24, budget=1e21)
    with pytest.raises(ValueError, match="not both or neither"):
        jscale.suggest_runs(fit, compute=1e24, n_params=1e9, n_tokens=1e10, budget=1e21)
    with pytest.raises(ValueError, match="quantity='loss'"):
        jscale.suggest_runs(fit, n_params=1e9, n_tokens=1e10, budget=1e21)
    with pytest.raises(ValueError, match="candidates= or budgets="):
        jscale.suggest_runs(fit, quantity="loss", **POINT, candidates=CANDIDATES, budgets=[1e20], budget=1e21)
    with pytest.raises(ValueError, match="n must be"):
        jscale.suggest_runs(fit, quantity="loss", **POINT, candidates=CANDIDATES, budget=1e21, n=0)
    with pytest.raises(TypeError, match="FitResult or a BootstrapResult"):
        jscale.suggest_runs(laws.Chinchilla(), compute=1e24, budget=1e21)


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
