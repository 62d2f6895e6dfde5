"""Tests of FitResult: immutability, parameters, prediction, summaries and the at-best mask."""

import dataclasses

import jax
import numpy as np
import pytest
from helpers import (
    CHINCHILLA_REFERENCE,
    SYNTHETIC_PARAMS,
    chinchilla_free,
    chinchilla_loss,
    subset_starts,
    synthetic_chinchilla,
    synthetic_fit,
)

import jscale

# The diagnostics these tests' fits raise and do not test (warnings are errors elsewhere).
pytestmark = [
    pytest.mark.filterwarnings("ignore::jscale.warnings.ConfigurationsWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.ExtrapolationWarning"),
]

LAW = jscale.laws.Chinchilla()


@pytest.fixture(scope="module", params=["huber", "squared"])
def exact_fit(request):
    return synthetic_fit(request.param)


def test_result_is_immutable(grid_fit):
    for name, value in [("best_index", 0), ("objectives", np.zeros(4500)), ("law", None), ("objective_floor", 1.0)]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(grid_fit, name, value)
    # Fitted arrays are read-only views.
    for name in ("end_params", "objectives", "status", "n_steps"):
        with pytest.raises(ValueError, match="read-only"):
            getattr(grid_fit, name)[0] = 0
    moved = grid_fit.replace(best_index=1)
    assert moved.best_index == 1 and grid_fit.best_index != 1
    assert isinstance(grid_fit, jscale.results.FitResult)


def test_result_is_a_pytree_with_static_settings(grid_fit):
    leaves, treedef = jax.tree.flatten(grid_fit)
    # starts, end_params, objectives, status, n_steps and the seven curvature terms (gradient included)
    assert len(leaves) == 12
    rebuilt = jax.tree.unflatten(treedef, leaves)
    assert rebuilt.law == LAW and rebuilt.loss_function == jscale.losses.Huber(1e-3)
    assert rebuilt.best_index == grid_fit.best_index and rebuilt.n_rows == 240
    assert rebuilt.params == grid_fit.params


def test_params_are_natural_values_of_the_best_free_point(grid_fit):
    assert tuple(grid_fit.params) == ("E", "A", "B", "alpha", "beta")
    assert tuple(grid_fit.free_params) == ("log_E", "log_A", "log_B", "alpha", "beta")
    x = grid_fit.end_params[grid_fit.best_index]
    np.testing.assert_array_equal(list(grid_fit.free_params.values()), x)
    for i, name in enumerate(("E", "A", "B")):
        assert grid_fit.params[name] == pytest.approx(np.exp(x[i]), rel=1e-15)
    assert grid_fit.params["alpha"] == x[3] and grid_fit.params["beta"] == x[4]
    assert all(type(v) is float for v in grid_fit.params.values())
    assert grid_fit.objective == grid_fit.objectives[grid_fit.best_index] == np.nanmin(grid_fit.objectives)


def test_predict_matches_the_formula(grid_fit):
    n_params = np.array([1e8, 7e9, 7e10, 1e12])
    n_tokens = np.array([2e9, 1.4e12, 1.4e12, 2e13])
    expected = chinchilla_loss(grid_fit.params, n_params, n_tokens)
    got = grid_fit.predict(n_params=n_params, n_tokens=n_tokens)
    assert got.shape == (4,) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    as_lists = grid_fit.predict(n_params=list(n_params), n_tokens=list(n_tokens))
    np.testing.assert_allclose(as_lists, expected, rtol=1e-13)
    data = jscale.ScalingData.from_arrays(n_params=n_params, n_tokens=n_tokens, loss=np.ones(4))
    np.testing.assert_allclose(grid_fit.predict(data), expected, rtol=1e-13)
    # Chinchilla 70B on 1.4T tokens: about 1.94 nats/token under the Epoch AI fit.
    assert got[1] == pytest.approx(chinchilla_loss(CHINCHILLA_REFERENCE, 7e9, 1.4e12), rel=1e-3)


def test_predict_reproduces_fitted_data(grid_fit):
    data = jscale.datasets.load("chinchilla")
    pred = grid_fit.predict(data)
    assert pred.shape == (240,)
    # Huber sum of log residuals recomputed from the predictions.
    r = np.log(data.loss) - np.log(pred)
    a = np.abs(r)
    huber = np.where(a <= 1e-3, 0.5 * r**2, 1e-3 * (a - 0.5e-3)).sum()
    assert huber == pytest.approx(grid_fit.objective, rel=1e-10)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((), {}, r"predict needs data: a ScalingData or the columns n_params, n_tokens as keywords"),
        ((jscale.ScalingData.from_arrays(n_params=[1e9], n_tokens=[1e10], loss=[2.0]),), dict(n_params=[1e9]),
         r"Pass either a ScalingData or keyword columns to predict, not both"),
        ((), dict(n_params=[1e9], n_tokens=[1e10], unique_tokens=[1e9]),
         r"The chinchilla law reads n_params, n_tokens; got unexpected unique_tokens"),
        ((), dict(n_params=[1e9], n_tokens=[1e10], bogus=[1.0]), r"got unexpected bogus"),
        ((), dict(n_params=[1e9]), r"chinchilla law needs column 'n_tokens'"),
        ((jscale.ScalingData.from_arrays(n_params=[1e9], loss=[2.0]),), {},
         r"chinchilla law needs column 'n_tokens'"),
        ((), dict(n_params=[-1e9], n_tokens=[1e10]),
         r"Column 'n_params' must be finite and positive for the chinchilla law"),
        ((), dict(n_params=[1e9, 2e9], n_tokens=[1e10]), r"mismatched lengths"),
    ],
    ids=["nothing", "both", "unknown-column", "bogus-column", "missing-keyword", "missing-column", "negative",
         "lengths"],
)
def test_predict_errors(grid_fit, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        grid_fit.predict(*args, **kwargs)


def test_predict_accepts_scalars_and_rejects_other_types(grid_fit):
    p = grid_fit.params
    got = grid_fit.predict(n_params=1e9, n_tokens=1e10)
    assert got.shape == (1,)
    assert got[0] == pytest.approx(p["E"] + p["A"] / 1e9 ** p["alpha"] + p["B"] / 1e10 ** p["beta"], rel=1e-13)
    with pytest.raises(TypeError, match=r"predict takes a ScalingData or keyword columns.*got dict"):
        grid_fit.predict({"n_params": [1e9], "n_tokens": [1e10]})


def test_summary_and_repr(grid_fit):
    text = grid_fit.summary()
    for name in ("E", "A", "B", "alpha", "beta", "log_E", "log_A", "log_B"):
        assert f" {name} " in text, name
    assert f"{grid_fit.objective:.10g}" in text
    assert "chinchilla law, 240 rows" in text and "Huber(delta=0.001)" in text
    assert "best of 4500 starts" in text and "success" in text
    for name, value in grid_fit.params.items():
        assert f"{value:.6g}" in text, name
    assert f"{grid_fit.n_at_best} ({100 * grid_fit.share_at_best:.1f}%)" in text
    assert repr(grid_fit).startswith("FitResult(chinchilla: E=1.817")
    assert "starts=4500" in repr(grid_fit)


def test_status_bookkeeping(grid_fit):
    counts = grid_fit.status_counts()
    assert set(counts) == {"success", "max_steps", "stalled", "nonfinite"}
    assert sum(counts.values()) == grid_fit.n_starts == 4500
    assert counts["success"] == grid_fit.n_converged == int(np.sum(grid_fit.status == 0))
    labels = {0: "success", 1: "max_steps", 2: "stalled", 3: "nonfinite"}
    assert {int(s): s.label for s in jscale.solvers.Status} == labels
    with pytest.warns(DeprecationWarning, match="jscale.STATUS moved to jscale.solvers.Status"):
        assert jscale.STATUS == {0: "success", 1: "max_steps", 2: "stalled", 3: "nonfinite"}


def test_at_best_on_grid_fit(grid_fit):
    mask = grid_fit.at_best()
    assert mask.dtype == bool and mask.shape == (4500,)
    gap = (grid_fit.objectives - grid_fit.objective) / grid_fit.objective
    np.testing.assert_array_equal(mask, gap <= 1e-8)
    assert grid_fit.n_at_best == mask.sum() and grid_fit.share_at_best == mask.mean()
    assert mask[grid_fit.best_index]
    # About 39% of Hoffmann's grid reaches the optimum; a looser test admits more starts.
    assert 0.1 < grid_fit.share_at_best < 0.9
    assert grid_fit.at_best(1e-3).sum() >= grid_fit.n_at_best
    # The starts at the optimum agree on the parameters.
    spread = np.ptp(grid_fit.end_params[mask], axis=0)
    assert np.all(spread < 1e-4), spread


def test_at_best_honours_objective_floor(exact_fit):
    # On exact data the optimum is zero; the starts that find it end anywhere between 1e-31 and
    # the rounding floor (~5e-26), so a relative test alone would keep only the single best.
    assert 0 < exact_fit.objective < exact_fit.objective_floor < 1e-24
    near_truth = np.max(np.abs(exact_fit.end_params - chinchilla_free(SYNTHETIC_PARAMS)), axis=1) < 1e-9
    np.testing.assert_array_equal(exact_fit.at_best(), near_truth)
    np.testing.assert_array_equal(exact_fit.at_best(rtol=0.0), near_truth)
    # Measured: 14 (Huber) and 26 (squared) of the 40 starts; the rest end in minima with E -> 0
    # or a stalled corner, with objectives at least 6e-4.
    assert 10 <= exact_fit.n_at_best < 40
    assert exact_fit.share_at_best == exact_fit.n_at_best / 40
    assert np.min(exact_fit.objectives[~near_truth]) > 1e-4
    assert exact_fit.replace(objective_floor=0.0).n_at_best < exact_fit.n_at_best
    assert np.all(exact_fit.status[near_truth] == 0)


def test_exact_fit_predicts_exactly(exact_fit):
    data = synthetic_chinchilla()
    np.testing.assert_allclose(exact_fit.predict(data), data.loss, rtol=1e-13)
    assert exact_fit.n_rows == 64 and exact_fit.n_starts == len(subset_starts())


def test_result_does_not_alias_caller_starts():
    starts = subset_starts()[:2].copy()
    result = jscale.fit(LAW, synthetic_chinchilla(n=3), starts=starts)
    starts[0, 0] = 123.0
    assert result.starts[0, 0] != 123.0
    assert not result.starts.flags.writeable


def test_the_loss_function_has_its_own_name(grid_fit):
    # `.loss` is a predicted or measured loss on every other result; a fit's loss of residuals is
    # `loss_function`, and the old name warns until 0.4.0
    assert grid_fit.loss_function == jscale.losses.Huber(1e-3)
    with pytest.warns(DeprecationWarning, match="loss_function"):
        assert grid_fit.loss is grid_fit.loss_function
