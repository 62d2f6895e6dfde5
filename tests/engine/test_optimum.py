"""jscale.optimum: the one optimum solver, against closed forms, finite differences and duality."""

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import quiet

import jscale
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
