"""jscale.laws.HyperparameterLaw: the joint law of loss over hyperparameters and scale, fitted to
every run of a sweep at once; its optimum at a new scale by jscale.optimum equals the truth."""

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import jscale
from jscale.laws import HyperparameterLaw

sys.path.insert(0, str(Path(__file__).parents[1] / "sweeps"))
from test_hyper import CURVATURE, lr_study, step_lr  # noqa: E402


@pytest.fixture(scope="module")
def joint():
    with warnings.catch_warnings():  # 2 token counts cannot separate E from B/D^beta: flat directions, by design
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        return jscale.fit(HyperparameterLaw(), lr_study())


def test_the_joint_law_recovers_the_truth_and_its_optimum(joint):
    assert joint.best_status == "success" and joint.objective < 1e-20
    params = joint.params
    assert params["log_G_learning_rate"] == pytest.approx(np.log(1.79), abs=1e-8)
    assert params["a_learning_rate_n_params"] == pytest.approx(-0.713, abs=1e-9)
    assert params["a_learning_rate_n_tokens"] == pytest.approx(0.307, abs=1e-9)
    assert params["k_learning_rate"] == pytest.approx(CURVATURE, rel=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        best = jscale.optimum(joint, "learning_rate", fixed={"n_params": [7e9, 3e8], "n_tokens": [2e12, 5e10]})
    np.testing.assert_allclose(best["learning_rate"], step_lr(np.array([7e9, 3e8]), np.array([2e12, 5e10])),
                               rtol=1e-6)


def test_the_joint_law_saves_and_names_its_parameters(joint, tmp_path):
    back = jscale.load(jscale.save(joint, tmp_path / "joint.jscale"))
    assert back.law == joint.law and back.params == joint.params
    law = HyperparameterLaw(over=("learning_rate", "batch_size"), scale="compute")
    assert law.columns == ("compute", "learning_rate", "batch_size")
    assert law.param_names == ("E", "A_compute", "alpha_compute", "log_G_learning_rate", "a_learning_rate_compute",
                               "k_learning_rate", "log_G_batch_size", "a_batch_size_compute", "k_batch_size")
    assert law.default_starts().shape == (6 * 11 * 11, law.n_free)
    with pytest.raises(ValueError, match="each once"):
        HyperparameterLaw(over=("n_params",), scale=("n_params",))
    with pytest.raises(ValueError, match="must name columns"):
        HyperparameterLaw(over=())
