"""HyperResult.held_out: per-cell optima with power laws against a joint law, on held-out cells.

Noise-free sweeps from a known law: both approaches predict every held-out cell's optimum exactly
(the per-cell power laws are exact, the joint law is the true form), so both penalties vanish.
A joint law of the wrong form is the worse supported; the per-cell approach cannot predict a
cell without which its power laws have no fit. (With the right forms and noise, which one wins
varies from study to study: both are consistent.)
"""

import numpy as np
import pytest
from test_hyper import _quiet, lr_study, step_lr

import jscale


@pytest.fixture(scope="module")
def exact():
    data = lr_study()
    return data, jscale.hyperparameters(data, "learning_rate", ("n_params", "n_tokens"), n_resamples=0)


def test_noise_free_both_approaches_predict_each_held_out_cell_exactly(exact):
    data, result = exact
    held = result.held_out(data)
    assert len(held.decades) == 8 and np.all(held.decades == 0)  # a full grid: every cell inside the others
    truth = step_lr(held.cells["n_params"], held.cells["n_tokens"])
    np.testing.assert_allclose(held.observed["learning_rate"], truth, rtol=1e-8)
    np.testing.assert_allclose(held.per_cell["learning_rate"], truth, rtol=1e-8)
    np.testing.assert_allclose(held.joint["learning_rate"], truth, rtol=1e-6)
    assert np.all(np.abs(held.penalty["per-cell"]) < 1e-14) and np.all(np.abs(held.penalty["joint"]) < 1e-12)
    assert held.joint_status == ("success",) * 8


def test_holding_out_the_largest_cells_tests_extrapolation(exact):
    data, result = exact
    held = result.held_out(data, by="n_params")
    np.testing.assert_array_equal(held.cells["n_params"], [3e9, 3e9])
    np.testing.assert_allclose(held.decades, np.log10(3), rtol=1e-12)  # 3e9 beyond the largest other, 1e9
    np.testing.assert_allclose(held.per_cell["learning_rate"], step_lr(3e9, held.cells["n_tokens"]), rtol=1e-8)
    text = held.summary()
    assert "2 cells held out" in text and "edge cells" not in text  # every held-out cell is an edge cell
    assert held.to_dict()["score_at_edge"]["per-cell"] == pytest.approx(held.score("per-cell"))


def test_a_joint_law_that_leaves_out_the_tokens_is_the_worse_supported(exact):
    """Step Law's optimum grows as D^0.307; a joint law with that exponent fixed at 0 misses every
    held-out cell by a factor of about (1e11 / 2e10)^0.15 = 1.27 (the fit splits the difference),
    while the per-cell power laws are exact."""
    data, result = exact
    law = jscale.laws.HyperparameterLaw().fix(a_learning_rate_n_tokens=0.0)
    held = _quiet(result.held_out, data, law)
    assert held.better == "per-cell" and held.score("per-cell") < 1e-14
    assert np.all(held.penalty["joint"] > 1e-3)
    errors = held.log_error("joint")
    assert errors.shape == (8, 1) and np.all(np.abs(errors) > 0.1)
    assert "Better supported: per-cell optima + power laws (lower in 8 of 8 cells)." in held.summary()
    with pytest.raises(ValueError, match="approach must be"):
        held.log_error("both")


def test_a_cell_the_power_laws_cannot_do_without_and_bad_calls(exact):
    data, result = exact
    keep = (np.asarray(data["n_tokens"]) == 2e10) | (np.asarray(data["n_params"]) == 1e8)
    data = data.subset(keep)  # one cell has 1e11 tokens: without it, the tokens' exponent has no fit
    result = jscale.hyperparameters(data, "learning_rate", ("n_params", "n_tokens"), n_resamples=0)
    held = result.held_out(data)
    assert any("without (1e+08, 1e+11) the other cells do not vary in every scale column" in n for n in held.notes)
    assert len(held.decades) == 4 and not np.any(held.cells["n_tokens"] == 1e11)
    assert "cannot be fitted: not held out" in held.summary()
    with pytest.raises(ValueError, match="same rows in the same order"):
        result.held_out(data.subset(np.arange(20)))
    with pytest.raises(ValueError, match="by must be None \\(each cell in turn\\) or a scale column"):
        result.held_out(data, by="n_param")
    with pytest.raises(ValueError, match="it must read exactly the sweep's columns"):
        result.held_out(data, jscale.laws.Chinchilla())
    with pytest.raises(ValueError, match="not on its critical values"):
        result.critical().held_out(data)
