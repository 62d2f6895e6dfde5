"""jscale.optimum: the one optimum solver, against closed forms, finite differences and duality."""

import dataclasses
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import quiet

import jscale
from jscale.base._numerics import x64_scope
from jscale.base._status import Status
from jscale.engine._optimum import _small_solve, pins, residual, solve, status
from jscale.laws import Param, custom

LAW = jscale.laws.Chinchilla()
# Besiroglu et al. 2024, Table 1 (SOURCES.md section 1).
EPOCH = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)
BUDGETS = np.logspace(19, 27, 9)


def six_nd(n_params, n_tokens):
    return 6.0 * n_params * n_tokens


def _lr_fn(p, x):
    """L = E + A / N^alpha + C (log lr - log lr*(N))^2 with log lr*(N) = c0 - g log N."""
    log_best = p["c0"] - p["g"] * jnp.log(x["n_params"])
    return p["E"] + p["A"] * x["n_params"] ** -p["alpha"] + p["C"] * (jnp.log(x["learning_rate"]) - log_best) ** 2


LR_LAW = custom(_lr_fn, {"E": Param("positive", (1.5, 2.5)), "A": Param("positive", (100.0, 400.0)),
                         "alpha": Param("positive", (0.3,)), "C": Param("positive", (0.02, 0.1)),
                         "c0": Param("free", (-2.0, 0.0)), "g": Param("free", (0.2, 0.4))},
                columns=("n_params", "learning_rate"), name="lr-law")
LR_TRUTH = dict(E=1.9, A=250.0, alpha=0.32, C=0.05, c0=-1.4, g=0.3)


def lr_star(params, n):
    return np.exp(params["c0"] - params["g"] * np.log(n))


def lr_data():
    rng = np.random.default_rng(3)
    n = np.repeat(np.logspace(7, 9, 6), 7)
    lr = lr_star(LR_TRUTH, n) * np.tile(np.exp(np.linspace(-1.5, 1.5, 7)), 6)
    loss = np.asarray(_lr_fn(LR_TRUTH, {"n_params": n, "learning_rate": lr})) * np.exp(rng.normal(0, 3e-3, n.size))
    return jscale.ScalingData.from_arrays(n_params=n, learning_rate=lr, loss=loss)


@pytest.fixture(scope="module")
def lr_fit():
    """42 runs of the learning-rate law with 0.3% noise, fitted once."""
    return quiet(jscale.fit, LR_LAW, lr_data())


def test_compute_optimal_allocation_equals_the_closed_form():
    best = jscale.optimum(LAW, ("n_params", "n_tokens"), cost=six_nd, budget=BUDGETS, params=EPOCH)
    n, d, loss = LAW.compute_optimal(EPOCH, BUDGETS)
    assert best.converged.all()
    np.testing.assert_allclose(best["n_params"], n, rtol=1e-8)
    np.testing.assert_allclose(best["n_tokens"], d, rtol=1e-8)
    np.testing.assert_allclose(best.value, loss, rtol=1e-8)
    np.testing.assert_allclose(best.total_cost, BUDGETS, rtol=1e-12)
    a = EPOCH["beta"] / (EPOCH["alpha"] + EPOCH["beta"])
    np.testing.assert_allclose(best.exponents["n_params"], a, rtol=1e-8)
    np.testing.assert_allclose(best.exponents["n_tokens"], 1 - a, rtol=1e-8)
    # compute_optimal is the same problem of the same solver.
    alloc = jscale.compute_optimal(LAW, BUDGETS, params=EPOCH)
    np.testing.assert_allclose(alloc.n_params, best["n_params"], rtol=1e-12)


def test_the_cheapest_way_to_reach_the_optimal_loss_costs_the_budget():
    """Duality: min cost s.t. L = L*(C) is C, at the same (N*, D*)."""
    at_budget = jscale.optimum(LAW, ("n_params", "n_tokens"), cost=six_nd, budget=BUDGETS, params=EPOCH)
    reach = jscale.optimum(LAW, ("n_params", "n_tokens"), cost=six_nd, reach=at_budget.value, params=EPOCH)
    assert reach.mode == "reach" and reach.converged.all()
    np.testing.assert_allclose(reach.total_cost, BUDGETS, rtol=1e-8)
    np.testing.assert_allclose(reach["n_params"], at_budget["n_params"], rtol=1e-7)
    # d log C / d log L along the frontier is the reciprocal of d log L*/d log C.
    h = 1e-5
    up, down = (jscale.optimum(LAW, ("n_params", "n_tokens"), cost=six_nd, budget=BUDGETS * np.exp(s), params=EPOCH)
                for s in (h, -h))
    slope = (np.log(up.value) - np.log(down.value)) / (2 * h)
    np.testing.assert_allclose(reach.exponents["n_params"] * slope, at_budget.exponents["n_params"], rtol=1e-6)


def test_the_learning_rate_optimum_of_a_known_law():
    n = np.logspace(6, 11, 6)
    best = jscale.optimum(LR_LAW, "learning_rate", fixed={"n_params": n}, params=LR_TRUTH)
    assert best.converged.all() and best.mode == "minimize"
    np.testing.assert_allclose(best["learning_rate"], lr_star(LR_TRUTH, n), rtol=1e-8)
    expected = LR_TRUTH["E"] + LR_TRUTH["A"] * n ** -LR_TRUTH["alpha"]
    np.testing.assert_allclose(best.value, expected, rtol=1e-12)
    np.testing.assert_array_equal(best.fixed["n_params"], n)
    assert not best.at_bound["learning_rate"].any()


def test_delta_band_of_the_optimal_learning_rate_matches_finite_differences(lr_fit):
    n = np.array([3e7, 1e10])
    with pytest.warns(jscale.warnings.ExtrapolationWarning):  # 1e10 is beyond the fitted 1e7-1e9
        best = jscale.optimum(lr_fit, "learning_rate", fixed={"n_params": n})
    np.testing.assert_allclose(best["learning_rate"], lr_star(lr_fit.params, n), rtol=1e-8)
    # Finite differences of the solved optimum over the free parameters, through the covariance.
    theta, cov, h = lr_fit.theta, lr_fit.free_covariance(), 1e-5
    rows = []
    for k in range(theta.size):
        step = np.eye(theta.size)[k] * h
        up, down = (dict(zip(LR_LAW.param_names, np.asarray(LR_LAW.to_natural(theta + s)))) for s in (step, -step))
        rows.append((np.log(jscale.optimum(LR_LAW, "learning_rate", fixed={"n_params": n}, params=up)["learning_rate"])
                     - np.log(jscale.optimum(LR_LAW, "learning_rate", fixed={"n_params": n},
                                             params=down)["learning_rate"])) / (2 * h))
    jac = np.array(rows).T
    sd_fd = np.sqrt(np.einsum("kp,pq,kq->k", jac, cov, jac))
    np.testing.assert_allclose(best.sd["learning_rate"], sd_fd, rtol=1e-5)
    band = best.interval("learning_rate")
    assert isinstance(band, jscale.Interval)
    assert np.all(band.low < best["learning_rate"]) and np.all(best["learning_rate"] < band.high)
    np.testing.assert_allclose(np.log(band.high / best["learning_rate"]), 1.959963984540054 * sd_fd, rtol=1e-5)
    assert best.sd["learning_rate"][1] > best.sd["learning_rate"][0]  # wider when extrapolating


def test_a_bound_holds_the_optimum_and_pins_its_band(lr_fit):
    n = np.array([1e8])
    free = jscale.optimum(lr_fit, "learning_rate", fixed={"n_params": n})
    cap = float(free["learning_rate"][0]) / 2
    held = jscale.optimum(lr_fit, "learning_rate", fixed={"n_params": n}, bounds={"learning_rate": (None, cap)})
    assert held.converged.all() and held.at_bound["learning_rate"].all()
    assert held["learning_rate"][0] == pytest.approx(cap, rel=1e-14)
    assert held.sd["learning_rate"][0] == 0.0
    assert held.value[0] > free.value[0]
    assert "at the bound of learning_rate" in held.table()
    # A bound the optimum does not reach changes nothing.
    loose = jscale.optimum(lr_fit, "learning_rate", fixed={"n_params": n}, bounds={"learning_rate": (cap / 100, None)})
    np.testing.assert_allclose(loose["learning_rate"], free["learning_rate"], rtol=1e-12)
    assert not loose.at_bound["learning_rate"].any()


def test_a_monotone_law_runs_to_its_bound():
    """Chinchilla's loss falls forever in N: within bounds, the optimum is the upper bound."""
    best = jscale.optimum(LAW, "n_params", fixed={"n_tokens": 1e12}, bounds={"n_params": (1e6, 1e11)}, params=EPOCH)
    assert best.converged.all() and best.at_bound["n_params"].all()
    assert best["n_params"][0] == pytest.approx(1e11, rel=1e-14)


def test_maximize_finds_the_peak():
    law = custom(lambda p, x: p["a"] * jnp.exp(-p["w"] * (jnp.log(x["batch_size"]) - p["m"]) ** 2),
                 {"a": Param("positive"), "w": Param("positive"), "m": Param("free")}, columns=("batch_size",))
    best = jscale.optimum(law, "batch_size", maximize=True, params={"a": 0.7, "w": 0.3, "m": np.log(512.0)})
    assert best.mode == "maximize" and best.converged.all()
    assert best["batch_size"][0] == pytest.approx(512.0, rel=1e-8)
    assert best.value[0] == pytest.approx(0.7, rel=1e-12)


def test_bands_over_bootstrap_draws(lr_fit):
    boot = quiet(jscale.bootstrap, LR_LAW, lr_data(), n_resamples=16, key=0, starts="optimum",
                 full_fit=lr_fit, jackknife=False)
    best = jscale.optimum(boot, "learning_rate", fixed={"n_params": [1e8]})
    assert best.draws["learning_rate"].shape == (16, 1) and best.draw_ok.shape == (16, 1)
    low, high = best.interval("learning_rate")
    assert low[0] <= best["learning_rate"][0] <= high[0]
    basic = best.interval("learning_rate", method="basic")
    np.testing.assert_allclose(basic.low + high, 2 * best["learning_rate"])


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(over="lr"), "over names 'lr'"),
    (dict(over="learning_rate"), "also reads n_params"),
    (dict(over="learning_rate", fixed={"n_params": 1e8, "learning_rate": 1e-3}), "is one of the optimised columns"),
    (dict(over="learning_rate", fixed={"n_params": 1e8}, budget=1e20), "pass cost= too"),
    (dict(over="learning_rate", fixed={"n_params": 1e8}, cost=lambda lr: lr), "needs budget="),
    (dict(over="learning_rate", fixed={"n_params": 1e8}, bounds={"learning_rate": (1e-2, 1e-3)}), "low < high"),
    (dict(over="learning_rate", fixed={"n_params": 1e8}, bounds={"n_params": (1, 2)}), "not optimised"),
    (dict(over="learning_rate", fixed={"n_params": [1e8, 1e9]}, cost=lambda lr: lr, budget=[1, 2, 3]),
     "broadcast"),
])
def test_errors_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        jscale.optimum(LR_LAW, params=LR_TRUTH, **kwargs)


@dataclasses.dataclass(frozen=True)
class _Valley:
    """min theta0 exp(-w1) + theta1 exp(w1) subject to w0 + w1 = 0. With theta1 = 0 the objective
    falls forever along the constraint and does not depend on w0 (an allocation with alpha = 0):
    no optimum, and each Newton step is exactly one e-fold."""

    n_vars: ClassVar[int] = 2
    n_constraints: ClassVar[int] = 1

    def objective(self, w, theta, args):
        return theta[0] * jnp.exp(-w[1]) + theta[1] * jnp.exp(w[1])

    def constraint(self, w, theta, args):
        return (w[0] + w[1])[None]


@pytest.mark.parametrize(("theta", "expected"), [((1.0, 1.0), Status.SUCCESS), ((1.0, 0.0), Status.MAX_STEPS)])
def test_a_solve_running_off_a_flat_objective_is_not_a_success(theta, expected):
    """The KKT residual alone is small far out in a valley without a minimum (24 steps out, e^-24);
    the Newton step from there (an e-fold) says the solve has not converged."""
    problem, starts = _Valley(), jnp.zeros((1, 2))
    with x64_scope():
        theta = jnp.asarray(theta)
        z = solve(problem, theta, None, starts, None, None)
        res = residual(problem, z, theta, None, *pins(problem, z, None, None))
        assert float(jnp.max(jnp.abs(res))) < 1e-9
        assert int(status(problem, z, theta, None, None, None)) == expected
    if expected == Status.SUCCESS:
        np.testing.assert_allclose(np.asarray(z[:2]), 0.0, atol=1e-12)
    else:
        assert float(z[1]) > 10  # ran off, an e-fold a step, until the step limit


def test_an_allocation_without_an_optimum_is_not_converged():
    with pytest.warns(jscale.warnings.ConvergenceWarning, match="failed at 2 of 2"):
        best = jscale.optimum(LAW, ("n_params", "n_tokens"), cost=six_nd, budget=[1e21, 1e24],
                              params={**EPOCH, "alpha": 0.0})
    assert not best.converged.any()


@pytest.mark.parametrize("n", [1, 2, 3, 6])
def test_the_status_step_solve_matches_lapack_and_fails_loudly_when_singular(n):
    rng = np.random.default_rng(n)
    a, b = rng.normal(size=(n, n)), rng.normal(size=n)
    a[0], a[-1] = a[-1], a[0].copy()  # a pivot that must move
    with x64_scope():
        np.testing.assert_allclose(np.asarray(_small_solve(jnp.asarray(a), jnp.asarray(b))), np.linalg.solve(a, b),
                                   rtol=1e-10, atol=1e-12)
        singular = np.ones((n, n)) if n > 1 else np.zeros((1, 1))
        assert not np.all(np.isfinite(np.asarray(_small_solve(jnp.asarray(singular), jnp.asarray(b)))))
