"""Law forms beyond Chinchilla: data-constrained (Muennighoff et al. 2023), fixed and tied parameters."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    SYNTHETIC_PARAMS,
    chinchilla_free,
    noisy_chinchilla,
    synthetic_chinchilla,
)

import jscale
from jscale.base._numerics import x64_scope
from jscale.engine._problem import Problem
from jscale.losses._losses import Huber

# The diagnostics these tests' fits raise and do not test (warnings are errors elsewhere).
pytestmark = [
    pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.StartsWarning"),
]

DC = jscale.laws.DataConstrained()
# The C4 base law of Muennighoff et al. (SOURCES.md section 2): log A, log B, log E, alpha = beta.
C4 = dict(E=np.exp(0.6254804), A=np.exp(6.255414), B=np.exp(7.3049974), alpha=0.3526596, beta=0.3526596)
PUBLISHED = dict(R_D=15.387756, R_N=5.309743)
PUBLISHED_HUBER = 0.015825936570763588


@pytest.fixture(scope="module")
def datablations():
    return jscale.datasets.load("datablations")


def test_datablations_dataset(datablations):
    assert len(datablations) == 182
    assert len(jscale.datasets.load("datablations", include_outliers=True)) == 296
    assert {"n_params", "n_tokens", "unique_tokens", "loss", "group"} <= set(datablations.columns)
    assert "arXiv:2305.16264" in jscale.datasets.info("datablations")


def test_data_constrained_reproduces_the_published_decay_constants(datablations):
    law = DC.fix(**C4)
    assert law.param_names == ("R_D", "R_N") and law.free_names == ("log_R_D", "log_R_N")
    result = jscale.fit(law, datablations)  # the paper's 4 x 4 start grid
    assert result.objective <= 0.0158260
    # The published optimum is a local minimum that most starts reach: the objective there
    # matches the notebook's Huber sum. (Lower minima exist at larger R_D*: the objective is flat
    # along a valley trading R_D* against R_N*.)
    reached = np.abs(result.objectives - PUBLISHED_HUBER) < 1e-6 * PUBLISHED_HUBER
    assert reached.sum() >= 8
    params = law.to_natural(result.end_params[np.flatnonzero(reached)[0]])
    assert params == pytest.approx([PUBLISHED["R_D"], PUBLISHED["R_N"]], rel=5e-3)
    at_published = jscale.fit(law, datablations, starts=law.to_free([PUBLISHED["R_D"], PUBLISHED["R_N"]]))
    assert at_published.objective == pytest.approx(PUBLISHED_HUBER, rel=1e-6)


def test_data_constrained_allocation_of_the_paper_readme():
    """1e22 FLOP with 25e9 unique tokens: 7.022e9 parameters, 2.373e11 tokens, 9.49 epochs."""
    out = jscale.compute_optimal(DC, [1e22], params={**C4, **PUBLISHED}, fixed={"unique_tokens": 25e9})
    assert out.converged.all()
    assert out.n_params[0] == pytest.approx(7.022364735879969e9, rel=0.01)
    assert out.n_tokens[0] == pytest.approx(2.3733695547755075e11, rel=0.01)
    assert out.epochs[0] == pytest.approx(9.49347821910203, rel=0.01)


def _synthetic_dc(params):
    n, d, u = np.meshgrid(np.logspace(7, 9.5, 6), np.logspace(9, 11.5, 6), np.logspace(8.5, 10.5, 4), indexing="ij")
    keep = d >= u
    n, d, u = n[keep], d[keep], u[keep]
    theta = DC.to_free([params[k] for k in DC.param_names])
    with x64_scope():
        loss = np.exp(np.asarray(DC.log_predict(jnp.asarray(theta), {
            "n_params": jnp.log(n), "n_tokens": jnp.log(d), "unique_tokens": jnp.log(u)})))
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, unique_tokens=u, loss=loss), theta


def test_data_constrained_recovers_exact_synthetic_parameters():
    truth = dict(E=1.8, A=500.0, B=1500.0, alpha=0.34, beta=0.36, R_D=12.0, R_N=4.0)
    data, theta = _synthetic_dc(truth)
    starts = np.vstack([theta + 0.3 * np.random.default_rng(0).normal(size=(8, 7)), DC.default_starts()[::400]])
    result = jscale.fit(DC, data, starts=starts, loss="squared")
    assert result.best_status == "success"
    assert list(result.params.values()) == pytest.approx([truth[k] for k in DC.param_names], rel=1e-5)


def test_data_constrained_gradient_matches_finite_differences():
    truth = dict(E=1.8, A=500.0, B=1500.0, alpha=0.34, beta=0.36, R_D=12.0, R_N=4.0)
    data, theta = _synthetic_dc(truth)
    noisy = data.subset(np.arange(len(data)))
    x = jnp.asarray(theta) + 0.05
    with x64_scope():
        problem = Problem(x={c: jnp.log(getattr(noisy, c)) for c in DC.columns},
                          y=jnp.log(noisy.loss) + 0.01 * jnp.sin(jnp.arange(len(noisy))),
                          weight=jnp.ones(len(noisy)), floor=0.0, law=DC, loss=Huber(0.05))
        f = jax.jit(problem.objective)
        g = np.asarray(jax.grad(f)(x))
        h = 1e-6
        fd = np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in jnp.eye(7)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-9)


def test_fixed_and_tied_parameters_recover_the_truth():
    law = jscale.laws.Chinchilla()
    tied_truth = dict(SYNTHETIC_PARAMS, beta=SYNTHETIC_PARAMS["alpha"])
    data = synthetic_chinchilla(tied_truth)
    tied = law.tie(beta="alpha")
    assert tied.param_names == ("E", "A", "B", "alpha") and tied.name == "chinchilla(beta=alpha)"
    result = jscale.fit(tied, data, starts=tied.default_starts()[::20])
    assert result.params == pytest.approx({k: tied_truth[k] for k in tied.param_names}, rel=1e-6)
    fixed = law.fix(E=SYNTHETIC_PARAMS["E"])
    data = synthetic_chinchilla()
    result = jscale.fit(fixed, data, starts=fixed.default_starts()[::20])
    assert result.params == pytest.approx({k: SYNTHETIC_PARAMS[k] for k in fixed.param_names}, rel=1e-6)
    # Fixing every parameter at its fitted value reproduces the full law's prediction.
    both = law.fix(E=1.7).tie(beta="alpha")
    assert both.param_names == ("A", "B", "alpha") and hash(both) == hash(law.fix(E=1.7).tie(beta="alpha"))
    free = both.to_free([400.0, 1500.0, 0.3])
    full = chinchilla_free(dict(E=1.7, A=400.0, B=1500.0, alpha=0.3, beta=0.3))
    with x64_scope():
        np.testing.assert_allclose(np.asarray(both.full(jnp.asarray(free))), full, rtol=1e-15)


def test_fix_and_tie_errors():
    law = jscale.laws.Chinchilla()
    with pytest.raises(ValueError, match="no free parameter 'alhpa' \\(did you mean 'alpha'\\?\\)"):
        law.fix(alhpa=0.3)
    with pytest.raises(ValueError, match="E must be a finite positive number"):
        law.fix(E=-1.0)
    with pytest.raises(ValueError, match="different domains"):
        law.tie(beta="E")
    with pytest.raises(ValueError, match="no free parameter 'E'"):
        law.fix(E=1.7).tie(beta="E")


# --- one-variable, Kaplan, broken and custom laws ------------------------------------------------

Param = jscale.laws.Param


def _custom_power(p, x):
    return p["E"] + p["A"] * x["compute"] ** -p["alpha"]


CUSTOM = jscale.laws.custom(
    _custom_power, {"E": Param("positive"), "A": Param("positive", (1e2, 1e4)), "alpha": Param((0.0, 1.0))},
    columns=("compute",), name="custom-power",
)
LOG_GRID = np.logspace(0, 1, 5)
CASES = {
    "power-law": (jscale.laws.PowerLaw("compute"), dict(E=1.7, A=1e3, alpha=0.15),
                  dict(compute=np.logspace(17, 23, 30))),
    "pure-power-law": (jscale.laws.PurePowerLaw("n_params"), dict(X_c=8.8e13, alpha=0.076),
                       dict(n_params=np.logspace(6, 10, 20))),
    "kaplan": (jscale.laws.Kaplan(), dict(N_c=8.8e13, D_c=5.4e13, alpha_N=0.076, alpha_D=0.095),
               dict(zip(("n_params", "n_tokens"), (a.ravel() for a in np.meshgrid(
                   np.logspace(6, 10, 8), np.logspace(8, 11, 8), indexing="ij"))))),
    "broken-power-law": (jscale.laws.BrokenPowerLaw(1, "n_tokens"), dict(a=0.5, b=20.0, c0=0.1, c1=0.4, d1=1e7, f1=0.5),
                         dict(n_tokens=np.logspace(4, 10, 40))),
    "custom": (CUSTOM, dict(E=1.7, A=1e3, alpha=0.15), dict(compute=np.logspace(17, 23, 30))),
}


def _exact(law, truth, columns):
    theta = law.to_free([truth[n] for n in law.param_names])
    with x64_scope():
        x = law.inputs({c: jnp.asarray(v) for c, v in columns.items()})
        loss = np.asarray(law.predict(jnp.asarray(theta), x))
    return jscale.ScalingData.from_arrays(**columns, loss=loss), theta


@pytest.mark.parametrize("case", list(CASES))
def test_law_recovers_exact_synthetic_parameters(case):
    law, truth, columns = CASES[case]
    data, theta = _exact(law, truth, columns)
    rng = np.random.default_rng(1)
    starts = np.vstack([theta + 0.2 * rng.normal(size=(16, law.n_free)), law.default_starts()[::7]])
    result = jscale.fit(law, data, starts=starts, loss="squared")
    assert result.best_status == "success"
    assert list(result.params.values()) == pytest.approx([truth[n] for n in law.param_names], rel=1e-5)


@pytest.mark.parametrize("case", list(CASES))
def test_law_gradient_matches_finite_differences(case):
    law, truth, columns = CASES[case]
    data, theta = _exact(law, truth, columns)
    with x64_scope():
        problem = Problem(x=law.inputs({c: jnp.asarray(v) for c, v in columns.items()}),
                          y=jnp.log(jnp.asarray(data.loss)) + 0.02 * jnp.sin(jnp.arange(len(data))),
                          weight=jnp.ones(len(data)), floor=0.0, law=law, loss=Huber(0.05))
        f = jax.jit(problem.objective)
        x = jnp.asarray(theta) + 0.01
        g = np.asarray(jax.grad(f)(x))
        h = 1e-6
        fd = np.array([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in jnp.eye(law.n_free)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-9)


@pytest.mark.slow  # ~9 s; custom laws also run in test_io and test_law_recovers_exact_synthetic_parameters
@pytest.mark.filterwarnings("ignore::jscale.warnings.IntervalWarning")
def test_custom_law_goes_through_fit_bootstrap_allocation_and_save(tmp_path):
    def chinchilla_like(p, x):  # a user's law, written in a few lines
        return p["E"] + p["A"] / x["n_params"] ** p["alpha"] + p["B"] / x["n_tokens"] ** p["beta"]

    law = jscale.laws.custom(chinchilla_like, {"E": "positive", "A": "positive", "B": "positive",
                                               "alpha": Param((0.0, 1.0)), "beta": Param((0.0, 1.0))},
                             columns=("n_params", "n_tokens"), name="mine")
    data = noisy_chinchilla(n=8, sigma=0.01, seed=5)
    starts = [[1.5, 300.0, 1000.0, 0.3, 0.3], [2.0, 600.0, 2000.0, 0.4, 0.25]]
    result = jscale.fit(law, data, starts=law.to_free(starts))
    reference = jscale.fit(jscale.laws.Chinchilla(), data, starts=jscale.laws.Chinchilla().to_free(starts))
    assert result.params == pytest.approx(reference.params, rel=1e-5)
    boot = jscale.bootstrap(law, data, n_resamples=20, key=0, full_fit=result, starts="optimum", jackknife=False)
    assert boot.n_converged == 20 and all(np.isfinite(v) and v > 0 for v in boot.se.values())
    best = jscale.compute_optimal(result, [1e21])
    closed = jscale.laws.Chinchilla.compute_optimal(result.params, 1e21)
    assert best.n_params[0] == pytest.approx(float(closed[0]), rel=1e-6)
    loaded = jscale.load(jscale.save(boot, tmp_path / "mine.jscale"), law=law)
    assert loaded.se == boot.se and loaded.fit.params == result.params


def test_law_constructor_errors():
    with pytest.raises(ValueError, match="column must be the name of a data column"):
        jscale.laws.PowerLaw("")
    with pytest.raises(ValueError, match="n_breaks must be an integer from 1 to 32"):
        jscale.laws.BrokenPowerLaw(0)
    with pytest.raises(ValueError, match="Param domain must be"):
        Param((1.0, 0.0))
    with pytest.raises(TypeError, match="fn must be a function"):
        jscale.laws.custom(3, {"E": "positive"}, columns=("compute",))
    with pytest.raises(ValueError, match="columns must name the data columns"):
        jscale.laws.custom(_custom_power, {"E": "positive"}, columns=())
    with pytest.raises(ValueError, match="lists a column twice"):
        jscale.laws.custom(_custom_power, {"E": "positive"}, columns=("compute", "compute"))
    # A start outside a parameter's domain would be an infinite free value (item 6 of issue 14).
    with pytest.raises(ValueError, match="parameter 'E' has domain 'positive' but a start of 0.0"):
        jscale.laws.custom(_custom_power, {"E": Param("positive", (0.0, 1.0))}, columns=("compute",))
    with pytest.raises(ValueError, match=r"parameter 'a' .* start of 2.0; its starts must be inside \(0, 1\)"):
        jscale.laws.custom(_custom_power, {"a": Param((0.0, 1.0), (0.5, 2.0))}, columns=("compute",))
    assert len(jscale.laws.BrokenPowerLaw(2).default_starts()) <= 2000


def test_constraint_edge_cases():
    law = jscale.laws.Chinchilla()
    # Fixing the leader of a tie fixes its followers too.
    both = law.tie(beta="alpha").fix(alpha=0.3)
    assert both.param_names == ("E", "A", "B") and dict(both.fixed)["beta"] == 0.3 and not both.tied
    # The order of the arguments does not change the law (nor its compilations).
    assert law.fix(E=1.7, A=400.0) == law.fix(A=400.0, E=1.7)
    bounded = jscale.laws.custom(lambda p, x: p["a"] + p["b"] * x["compute"], {"a": Param((0.0, 1.0)),
                                 "b": Param((0.0, 2.0))}, columns=("compute",))
    with pytest.raises(ValueError, match="must lie inside its domain"):
        bounded.fix(a=1.5)
    with pytest.raises(ValueError, match="different domains"):
        bounded.tie(b="a")
