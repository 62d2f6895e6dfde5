"""jscale.backtest: fit the smaller runs, predict the larger ones (and the example that uses it)."""

import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import SYNTHETIC_PARAMS, chinchilla_free, synthetic_chinchilla

import jscale

# The diagnostics these tests' fits raise and do not test (warnings are errors elsewhere).
pytestmark = [
    pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.FormWarning"),
]

LAW = jscale.laws.Chinchilla()
STARTS = LAW.default_starts()[::113]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_exact_data_is_predicted_exactly():
    data = synthetic_chinchilla()
    starts = np.vstack([STARTS, chinchilla_free(SYNTHETIC_PARAMS) + 0.3])
    bt = jscale.backtest(LAW, data, by="n_params", holdout=0.3, starts=starts, loss="squared")
    assert len(bt.train) + len(bt.test) == len(data)
    assert np.all(bt.train.n_params < bt.cutoff) and np.all(bt.test.n_params >= bt.cutoff)
    assert np.all(bt.decades > 0)
    np.testing.assert_allclose(bt.relative_error, 0, atol=1e-8)
    assert bt.to_dict()["n_test"] == len(bt.test)


def test_chinchilla_example_backtests_by_compute(capsys):
    sys.path.insert(0, str(EXAMPLES))
    try:
        example = __import__("backtest_chinchilla")
    finally:
        sys.path.remove(str(EXAMPLES))
    results = example.main(starts=STARTS, by=("compute",))  # by n_params too in the example itself
    out = capsys.readouterr().out
    assert "Backtest of chinchilla by compute" in out and "decades beyond" in out
    by_compute = results["compute"]
    assert len(by_compute.test) == 60 and by_compute.decades.max() > 1  # the top quarter of 240 budgets
    # Measured (grid starts): median |error| 0.95%, max 4.3% by compute; 0.69%, 3.8% by size.
    for bt in results.values():
        err = np.abs(bt.relative_error)
        assert np.all(np.isfinite(err)) and np.median(err) < 0.02 and err.max() < 0.06


@pytest.mark.parametrize("kwargs, match", [
    (dict(by="n_param"), r"by must be one of compute, n_params, n_tokens, unique_tokens; got 'n_param' "
                         r"\(did you mean 'n_params'\?\)\."),
    (dict(by="loss"), r"by must be one of"),
    (dict(holdout=1.0), r"holdout must be a share in \(0, 1\); got 1.0"),
    (dict(holdout=True), r"holdout must be a share"),
    (dict(cutoff=1e40), r"no run has compute >= 1e\+40 \(the largest is"),
    (dict(cutoff=float("nan")), r"cutoff must be a finite number"),
    (dict(cutoff=1e17), r"only 0 runs have compute < 1e\+17, but the chinchilla law has 5 parameters"),
    (dict(by="unique_tokens"), r"backtest\(by='unique_tokens'\) needs column 'unique_tokens'"),
])
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        jscale.backtest(LAW, jscale.datasets.load("chinchilla"), **kwargs)


def test_a_single_value_has_nothing_to_extrapolate_to():
    data = jscale.ScalingData.from_arrays(n_params=np.full(8, 1e9), n_tokens=np.logspace(9, 11, 8),
                                          loss=np.linspace(3, 2.5, 8))
    with pytest.raises(ValueError, match="needs n_params to vary, but every run has n_params"):
        jscale.backtest(LAW, data, by="n_params")
    n = np.logspace(8, 9, 8)  # one budget: N and D vary, 6ND does not
    one_budget = jscale.ScalingData.from_arrays(n_params=n, n_tokens=1e20 / n, compute=np.full(8, 6e20),
                                                loss=np.linspace(3, 2.5, 8))
    with pytest.raises(ValueError, match="every run has the same compute"):
        jscale.backtest(LAW, one_budget, by="compute")
