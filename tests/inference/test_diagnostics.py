"""Diagnostics: every warning kind is triggered by the failure it names and quiet on clean data.

Most cases fit `PowerLaw(column="n_params")` to 20 rows of a noisy curve L = 1 + 2 x^-0.5 on
x in [0.1, 10] (centred in log x, so its parameters are not strongly correlated): one compile
serves them all.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import quiet

import jscale
from jscale import warnings as W

X = np.logspace(-1, 1, 20)
NOISE = np.exp(0.01 * np.random.default_rng(0).standard_normal(20))
LAW = jscale.laws.PowerLaw(column="n_params")


def curve(x=X, loss=None, **columns) -> jscale.ScalingData:
    loss = (1.0 + 2.0 * x**-0.5) * NOISE if loss is None else loss
    return jscale.ScalingData.from_arrays(n_params=x, loss=loss, **columns)


def fit_recorded(data, law=LAW, **kwargs):
    """The fit and the categories of the diagnostic warnings it issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = jscale.fit(law, data, **kwargs)
    return result, [w for w in caught if issubclass(w.category, W.DiagnosticWarning)]


@pytest.fixture(scope="module")
def clean():
    return fit_recorded(curve())


def test_clean_curve_has_no_findings(clean):
    result, caught = clean
    assert caught == []
    assert result.diagnostics() == []
    assert result.best_status == "success" and result.n_at_best >= 3


def test_every_kind_has_its_own_class():
    classes = [W.ConvergenceWarning, W.StartsWarning, W.BoundWarning, W.CorrelationWarning,
               W.ConfigurationsWarning, W.IrreducibleLossWarning, W.ComputeWarning,
               W.RepetitionWarning, W.ExtrapolationWarning]
    assert len(set(classes)) == len(classes)
    assert all(issubclass(c, W.DiagnosticWarning) for c in classes)
    # The interval kinds stay IntervalWarnings, so older filters keep working.
    assert all(issubclass(c, W.IntervalWarning)
               for c in (W.BoundWarning, W.CorrelationWarning, W.ConfigurationsWarning))


def kinds(result):
    return [d.kind for d in result.diagnostics()]


def test_stopped_early_reports_the_gradient_norm():
    result, caught = fit_recorded(curve(), solver=jscale.solvers.RobustGaussNewton(max_steps=2))
    (found,) = [d for d in result.diagnostics() if d.kind == "convergence"]
    assert found.category is W.ConvergenceWarning
    assert found.values["gradient_norm"] > 0
    assert f"gradient norm of the objective there is {found.values['gradient_norm']:.3g}" in found.message
    assert "status 'max_steps' after 2 objective evaluations" in found.message
    assert W.ConvergenceWarning in [w.category for w in caught]
    with pytest.raises(W.ConvergenceError, match="gradient norm"):
        jscale.fit(LAW, curve(),
                   execution=jscale.Execution(solver=jscale.solvers.RobustGaussNewton(max_steps=2)), strict=True)


def test_a_stall_at_the_converged_optimum_is_not_a_convergence_problem(clean):
    """Seen on the Gadre fits and on power-law curves: the best start ends 'stalled' within
    rounding of starts that converged, at the same stationary point; that is no reason to warn."""
    result = clean[0]
    best = result.best_index
    stalled = result.replace(status=np.where(np.arange(result.n_starts) == best, 2, result.status))
    assert stalled.best_status == "stalled" and np.sum(stalled.at_best() & (stalled.status == 0)) >= 1
    assert "convergence" not in kinds(stalled)
    # Alone at the optimum, it is still reported.
    alone = stalled.replace(status=np.where(stalled.at_best(), 2, stalled.status))
    assert "convergence" in kinds(alone)


def test_huge_free_values_give_infinite_natural_ones_without_numpy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nat = jscale.laws.Chinchilla().to_natural(np.array([1e3, 800.0, 5.0, 0.3, 0.3]))
    assert np.isinf(nat[0]) and np.isinf(nat[1]) and nat[3] == 0.3


def test_few_starts_at_best(clean):
    good = clean[0].end_params[clean[0].best_index]
    result, caught = fit_recorded(curve(), starts=[good, good + 5, good - 5],
                                  solver=jscale.solvers.RobustGaussNewton(max_steps=3))
    assert "starts" in kinds(result)
    message = [str(w.message) for w in caught if w.category is W.StartsWarning]
    assert message and message[0].startswith("Only 1 of 3 starts reached the best objective")
    # One start alone cannot disagree with itself.
    assert "starts" not in kinds(jscale.fit(LAW, curve(), starts=[good + 0.1]))


def test_parameter_at_a_bound():
    # Loss flat in x far from 1: the fit sends A to 0.
    result, caught = fit_recorded(curve(x=X * 1e9))
    assert "bound" in kinds(result)
    assert any(w.category is W.BoundWarning and "is at its bound (0.0, inf)" in str(w.message) for w in caught)


def test_strong_correlation():
    # The same curve on x around 1e9: log A and alpha trade off.
    x = X * 1e9
    result, caught = fit_recorded(curve(x=x, loss=(1.0 + 2.0 * (x / 1e9) ** -0.5) * NOISE))
    (found,) = [d for d in result.diagnostics() if d.kind == "correlation"]
    assert abs(found.values["corr"][1, 2]) > 0.99
    assert any(w.category is W.CorrelationWarning and "A and alpha (" in str(w.message) for w in caught)


def test_few_configurations():
    x = np.repeat(np.logspace(-1, 1, 5), 4)
    result, caught = fit_recorded(curve(x=x, loss=(1.0 + 2.0 * x**-0.5) * NOISE))
    assert kinds(result) == ["configurations"]
    assert "5 distinct configurations of n_params, fewer than twice the 3 parameters" in str(caught[0].message)


def test_irreducible_loss_above_the_lowest_observed():
    loss = (1.0 + 2.0 * X**-0.5) * NOISE
    loss[-1] = 0.9  # an outlier the Huber loss discounts, below E
    result, caught = fit_recorded(curve(loss=loss))
    (found,) = [d for d in result.diagnostics() if d.kind == "irreducible_loss"]
    assert found.values["min_loss"] == 0.9 and found.values["E"] > 0.9
    assert any(w.category is W.IrreducibleLossWarning and "above the lowest observed loss 0.9:" in str(w.message)
               for w in caught)


def test_compute_not_6nd():
    result, caught = fit_recorded(curve(n_tokens=X * 20, compute=2 * 6 * X * X * 20))
    assert kinds(result) == ["compute"]
    assert "The compute column is 2 to 2 times 6·N·D, outside 0.8-1.25" in str(caught[0].message)
    for ratio in (0.8, 1.25):  # the ends are accepted
        assert kinds(jscale.fit(LAW, curve(n_tokens=X * 20, compute=ratio * 6 * X * X * 20))) == []


def test_repetition_under_a_law_that_ignores_it():
    result, caught = fit_recorded(curve(n_tokens=X * 20, unique_tokens=X * 5))
    assert kinds(result) == ["repetition"]
    assert "up to 4 epochs" in str(caught[0].message)
    assert kinds(jscale.fit(LAW, curve(n_tokens=X * 20, unique_tokens=X * 20))) == []  # one epoch: quiet


def test_prediction_outside_the_fitted_range(clean):
    result = clean[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", W.ExtrapolationWarning)
        result.predict(n_params=X)  # the fitted points themselves
        result.predict_interval(n_params=[0.5, 5.0])
    with pytest.warns(W.ExtrapolationWarning,
                      match=r"at 1 of 2 points .* n_params up to 2.00 decades beyond its fitted range 0.1-10"):
        result.predict(n_params=[1.0, 1000.0])
    with pytest.warns(W.ExtrapolationWarning, match="up to 1.00 decades"):
        result.predict_interval(n_params=[0.01])


def test_allocation_outside_the_fitted_range_reports_decades_of_compute(grid_fit):
    # Chinchilla's 240 runs: 6ND from 1.4e18 to 1.3e22 FLOP.
    with warnings.catch_warnings():
        warnings.simplefilter("error", W.ExtrapolationWarning)
        warnings.simplefilter("ignore", W.IntervalWarning)
        jscale.compute_optimal(grid_fit, [1e20, 1e21])
        jscale.marginal_returns(grid_fit, n_params=[1e9], n_tokens=[2e10])
    with pytest.warns(W.ExtrapolationWarning, match=r"Compute-optimal allocations at 1 of 2 points .*"
                                                         r"compute up to 1.89 decades beyond its fitted range"):
        quiet(jscale.compute_optimal, grid_fit, [1e21, 1e24])
    with pytest.warns(W.ExtrapolationWarning, match="Marginal returns at 1 of 1 points"):
        quiet(jscale.marginal_returns, grid_fit, n_params=[1e12], n_tokens=[2e10])


def test_published_chinchilla_fit_finds_only_the_known_correlations(grid_fit):
    found = grid_fit.diagnostics()
    assert [d.kind for d in found] == ["correlation"]
    assert "A and alpha (+0.9997), B and beta (+0.9998)" in found[0].message


def test_list_fits_warn_once_per_kind():
    flat = curve(loss=2.0 * NOISE)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = jscale.fit_many(LAW, [curve(), flat, flat])
    assert [kinds(r) for r in results][0] == []
    categories = [w.category for w in caught if issubclass(w.category, W.DiagnosticWarning)]
    assert len(categories) == len(set(categories)) > 0
    assert all("Dataset 1 (and 1 more of the 3 datasets: 2)" in str(w.message) for w in caught
               if issubclass(w.category, W.DiagnosticWarning))


def test_diagnostics_survive_save_and_load(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", W.DiagnosticWarning)
        result = jscale.fit(LAW, curve(n_tokens=X * 20, unique_tokens=X * 5))
    loaded = jscale.load(jscale.save(result, tmp_path / "r.jscale"))
    assert loaded.data_summary == result.data_summary
    assert kinds(loaded) == ["repetition"]
    with pytest.warns(W.ExtrapolationWarning):
        loaded.predict(n_params=[100.0])
