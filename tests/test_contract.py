"""The one contract every public result type keeps, walked on a real instance of each.

`summary(level=)` is text; `to_dict(level=)` is strict JSON (no NaN, no arrays); `interval(...)`,
where a type has bands, returns a `jscale.Interval` with low <= estimate <= high where finite;
`table(level=)`, where a type has points, is text; `repr` is short and prints no array; statuses
are labels of `jscale.solvers.Status`; and `Bands` containers name their usable-draw mask `draw_ok`.
Every name in `jscale.results` has a case here (`test_every_result_type_is_walked`).
"""

import json
import warnings

import numpy as np
import pytest
from helpers import curve_runs, isoflop_runs

import jscale

EPOCH = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)
LAW = jscale.laws.Chinchilla()
START = LAW.to_free([[EPOCH[k] for k in LAW.param_names]])


def _loss(n, d):
    return EPOCH["E"] + EPOCH["A"] * n ** -EPOCH["alpha"] + EPOCH["B"] * d ** -EPOCH["beta"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n = np.repeat(np.logspace(7.5, 9.5, 5), 4)
    d = n * np.tile([5.0, 15.0, 40.0, 100.0], 5)
    loss = _loss(n, d) * np.exp(rng.normal(0, 0.01, n.size))
    err = 0.85 * np.exp(-2.2 * np.exp(-0.7 * np.log(loss))) + rng.normal(0, 0.002, n.size)
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss, err=err)


@pytest.fixture(scope="module")
def fitted(data):
    with pytest.warns(jscale.warnings.DiagnosticWarning):
        return jscale.fit(LAW, data, starts=START)


def _sweep():
    """A learning-rate sweep: 3 sizes x 5 learning rates, loss a parabola in log lr around N^-0.7."""
    rows = [(n, lr) for n in (1e8, 1e9, 1e10) for lr in 0.5 * n ** -0.3 * np.geomspace(0.3, 3, 5)]
    n, lr = map(np.array, zip(*rows))
    loss = _loss(n, 20 * n) * np.exp(0.1 * np.log(lr / (0.5 * n ** -0.3)) ** 2)
    return jscale.ScalingData.from_arrays(n_params=n, learning_rate=lr, loss=loss)


def _hyper():
    return jscale.hyperparameters(_sweep(), "learning_rate", "n_params", n_resamples=20, key=0)


def _two_stage(fit, data):
    link = jscale.fit(jscale.laws.ExponentialLink(), data, target="err", residual="raw", loss="squared")
    return jscale.two_stage(fit, link, data, key=0, n_resamples=16)


def _ensemble(fit, data):
    other = jscale.laws.Chinchilla().fix(E=1.0)
    return jscale.bootstrap_forms([LAW, other], data, key=0, n_resamples=8, full_fits=[fit, jscale.fit(other, data)],
                                  jackknife=False)


CASES = {
    "FitResult": lambda fit, data: fit,
    "BootstrapResult": lambda fit, data: jscale.bootstrap(LAW, data, n_resamples=8, key=0, starts="optimum",
                                                          full_fit=fit, jackknife=False),
    "Allocation": lambda fit, data: jscale.compute_optimal(fit, [1e19, 1e20]),
    "MarginalReturns": lambda fit, data: jscale.marginal_returns(fit, n_params=[1e9], n_tokens=[2e10]),
    "Optimum": lambda fit, data: jscale.optimum(fit, "n_params", fixed={"n_tokens": [2e10]},
                                                bounds={"n_params": (1e7, 1e12)}),
    "Optimum at a budget": lambda fit, data: jscale.optimum(fit, ("n_params", "n_tokens"),
                                                            cost=lambda n, d: 6 * n * d, budget=[1e19]),
    "RunPlan": lambda fit, data: jscale.suggest_runs(fit, compute=1e21, budget=1e19, n=2),
    "SampleSize": lambda fit, data: jscale.runs_needed(fit, width=0.5, design=data, compute=1e20),
    "Backtest": lambda fit, data: jscale.backtest(LAW, data, starts=START),
    "SweepPlan": lambda fit, data: jscale.plan_isoflop([1e19, 1e20], fit),
    "IsoFLOPResult": lambda fit, data: jscale.isoflop(isoflop_runs(), n_resamples=20, key=0),
    "EnvelopeResult": lambda fit, data: jscale.envelope(curve_runs(), n_resamples=20, key=0),
    "HyperResult": lambda fit, data: _hyper(),
    "HyperOptimum": lambda fit, data: _hyper().predict(n_params=[3e9, 3e10]),
    "HyperHeldOut": lambda fit, data: _hyper().held_out(_sweep(), by="n_params"),
    "TwoStage": _two_stage,
    "Prediction": lambda fit, data: _two_stage(fit, data).predict(n_params=[1e9], n_tokens=[2e10]),
    # 27 s of compilation (the multiplier's roots through the delta method): in the slow run.
    "Comparison": pytest.param(lambda fit, data: jscale.compare(fit, fit, [1e19, 1e20]), marks=pytest.mark.slow),
    "Ensemble": pytest.param(_ensemble, marks=pytest.mark.slow),
    "Mixture": pytest.param(lambda fit, data: _ensemble(fit, data).predict(n_params=[1e9], n_tokens=[2e10]),
                            marks=pytest.mark.slow),
}


def test_every_result_type_is_walked():
    types = {name for name in jscale.results.__all__ if isinstance(getattr(jscale.results, name), type)}
    walked = {name.split(" ")[0] for name in CASES}
    assert types == walked


def _bands(result):
    """name -> (Interval, estimate) for every banded quantity the result names."""
    if hasattr(result, "value_of"):
        return {n: (result.interval(n, level=0.9), result.value_of(n)) for n in result.quantities}
    if isinstance(result, jscale.results.FitResult):
        return {n: (result.interval(n, 0.9), v) for n, v in result.params.items()}
    if isinstance(result, jscale.results.BootstrapResult):
        return {n: (result.interval(n, 0.9), v) for n, v in result.estimate.items()}
    if isinstance(result, jscale.results.HyperResult):
        names = ("learning_rate", "learning_rate:n_params")
        return {n: (result.interval(n, 0.9), result._names()[n][1]) for n in names}
    if isinstance(result, (jscale.results.IsoFLOPResult, jscale.results.EnvelopeResult)):
        return {n: (result.interval(n, 0.9), result.exponents[n]) for n in ("a", "b")}
    if isinstance(result, jscale.results.Prediction):
        return {n: (result.interval(n, 0.9), getattr(result, n)) for n in ("loss", "metric")}
    if isinstance(result, jscale.results.SampleSize):
        return {"now": (result.interval(0.9), result.estimate)}
    if isinstance(result, jscale.results.Mixture):
        return {"mixture": (result.interval(0.9), result.estimate)}
    if isinstance(result, jscale.results.Backtest):
        return {"held-out": (result.prediction_band(0.9), result.predicted)}
    return {}


@pytest.mark.parametrize("make", [v if isinstance(v, type(pytest.param(0))) else pytest.param(v) for v in
                                  CASES.values()], ids=list(CASES))
def test_result_keeps_the_contract(fitted, data, make):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)  # not what this test is about
        result = make(fitted, data)
        assert isinstance(result.summary(), str) and isinstance(result.summary(level=0.9), str)
        json.dumps(result.to_dict(level=0.9), allow_nan=False)  # strict JSON: raises on NaN or inf
        json.dumps(result.to_dict(), allow_nan=False)
        if hasattr(result, "table"):
            assert isinstance(result.table(level=0.9), str)
        bands = _bands(result)
    assert len(repr(result).splitlines()) < 20 and "array(" not in repr(result)
    for band, estimate in bands.values():
        assert isinstance(band, jscale.Interval)
        low, high = (np.asarray(b, float) for b in band)
        estimate = np.asarray(estimate, float)
        finite = np.isfinite(low) & np.isfinite(high)
        assert np.all(low[finite] <= estimate[finite] + 1e-12 * np.abs(estimate[finite])), band
        assert np.all(estimate[finite] <= high[finite] + 1e-12 * np.abs(estimate[finite])), band
    if hasattr(result, "solve_status"):
        assert set(np.unique(result.status)) <= {s.label for s in jscale.solvers.Status}
        assert result.draws is None or result.draw_ok is not None
