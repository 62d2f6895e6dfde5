"""Loud failure and bounded memory (issue 17): allocation solves that fail say so, custom laws
that cannot work are refused before compiling, and calls stay within the memory budget."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import noisy_chinchilla

import jscale
from jscale.engine import _batch
from jscale.laws import Param, custom

EPOCH = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)
LAW = jscale.laws.Chinchilla()


def HOLED_COST(n, d):  # noqa: N802 - a constant function
    return jnp.where((n > 3e8) & (n < 3e9), jnp.nan, 6 * n * d)


@pytest.mark.parametrize("name, value", [("alpha", np.nan), ("A", 0.0), ("A", -5.0), ("beta", np.inf),
                                         ("E", "x")])
def test_allocation_refuses_parameters_outside_the_domain(name, value):
    # Before: NaN, zero or negative parameters gave a plausible N* (1.29e13 at 1e22 FLOP).
    with pytest.raises(ValueError, match=rf"params\['{name}'\]"):
        jscale.compute_optimal(LAW, [1e22], params={**EPOCH, name: value})
    with pytest.raises(ValueError, match=rf"params\['{name}'\]"):
        jscale.marginal_returns(LAW, n_params=1e9, n_tokens=2e10, params={**EPOCH, name: value})


def SIX_ND(n, d):  # noqa: N802 - a constant function
    """C = 6ND as a cost of the tests' own, so that the solver runs (Chinchilla under jscale's own
    6ND takes the closed form)."""
    return 6.0 * n * d


def test_allocation_reports_failed_solves_per_budget():
    with pytest.warns(jscale.warnings.ConvergenceWarning, match=r"failed at 1 of 2 points: 1e\+308 \(nonfinite\)"):
        best = jscale.compute_optimal(LAW, [1e22, 1e308], params=EPOCH, cost=SIX_ND)
    assert list(best.status) == ["success", "nonfinite"]
    table = best.table().splitlines()
    assert "not a solution" in table[2] and "not a solution" not in table[1]
    # a cost that is fine where it is tried first (N = 1e8 and 1e10) and NaN around N = 1e9
    with pytest.warns(jscale.warnings.ConvergenceWarning, match="nonfinite"):
        nan_cost = jscale.compute_optimal(LAW, [1e20], params=EPOCH, cost=HOLED_COST)
    assert list(nan_cost.status) == ["nonfinite"]


def test_allocation_is_quiet_where_every_solve_succeeds():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        best = jscale.compute_optimal(LAW, np.logspace(19, 26, 8), params=EPOCH)
        returns = jscale.marginal_returns(LAW, n_params=[1e8, 1e10], n_tokens=[1e9, 2e11], params=EPOCH)
    assert set(best.status) == {"success"} and set(returns.status) == {"success"}


def test_marginal_returns_report_failed_solves():
    with pytest.warns(jscale.warnings.ConvergenceWarning, match="Marginal returns"):
        returns = jscale.marginal_returns(LAW, n_params=[1e9, 1e9], n_tokens=[2e10, 2e10], params=EPOCH,
                                          cost=HOLED_COST)
    assert list(returns.status) == ["nonfinite", "nonfinite"]


def test_allocation_splits_points_over_calls_within_the_memory_budget(monkeypatch):
    budgets = np.logspace(19, 26, 300)
    whole = jscale.compute_optimal(LAW, budgets, params=EPOCH)
    # 64 solves of 4 KB per call: 300 budgets take 5 calls of 64 points.
    monkeypatch.setenv(_batch.MEMORY_ENV, str(64 * 4096))
    parts = jscale.compute_optimal(LAW, budgets, params=EPOCH)
    for name in ("n_params", "n_tokens", "loss", "exponent_params"):
        np.testing.assert_array_equal(getattr(parts, name), getattr(whole, name))


def test_fit_slots_stay_within_the_memory_budget(monkeypatch):
    # Before: a 1e6-row CSV with the default starts asked for 34 GB in one call (256 slots).
    monkeypatch.setenv(_batch.MEMORY_ENV, str(2 << 30))
    assert _batch.slots_within_budget(256, 1_000_000, 5) == 14
    assert _batch.slots_within_budget(256, 240, 5) == 256
    monkeypatch.setenv(_batch.MEMORY_ENV, str(1 << 20))
    with pytest.raises(ValueError, match=r"1,000,000 rows needs about 288 MiB at once.*1 MiB memory budget; set "
                                         r"JSCALE_MEMORY_BUDGET"):
        _batch.slots_within_budget(256, 1_000_000, 5)


@pytest.mark.slow  # ~8 s; the default run checks the same split for equal bits in engine/test_devices.py
def test_a_fit_under_a_small_memory_budget_finds_the_same_optimum(monkeypatch):
    data = noisy_chinchilla(n=5, sigma=0.01, seed=4)
    starts = LAW.default_starts()[::300]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        wide = jscale.fit(LAW, data, starts=starts)
        # 32 rows x 9 x 16 bytes per slot (and 648 for the curvature): 12 KB holds 2 slots, not 256.
        monkeypatch.setenv(_batch.MEMORY_ENV, str(12 << 10))
        assert _batch.slots_within_budget(256, len(data), LAW.n_free) == 2
        narrow = jscale.fit(LAW, data, starts=starts)
    # Two slots step the same fits in another order of batches: the same optima to rounding.
    np.testing.assert_allclose(narrow.objectives, wide.objectives, rtol=1e-9)
    np.testing.assert_allclose(narrow.theta, wide.theta, rtol=0, atol=1e-5)  # starts may tie for the best


def _law(fn, n=3):
    return custom(fn, {"E": "positive", "A": "positive", "alpha": "positive"}, columns=("n_params",))


@pytest.mark.parametrize("fn, message", [
    (lambda p, x: p["E"] + p["A"] * x["n_params"][:, None] ** -p["alpha"], r"returns shape \(25, 1\) for 25 rows"),
    (lambda p, x: p["E"] + p["Q"] * x["n_params"], r"fails on 25 rows .*KeyError: 'Q'"),
    (lambda p, x: p["E"] + p["A"] + p["alpha"], r"returns shape \(\) for 25 rows"),
    (lambda p, x: p["E"] + x["n_tokens"], r"fails on 25 rows .*KeyError: 'n_tokens'"),
])
def test_malformed_custom_laws_are_refused_before_compiling(fn, message):
    # Before: "operands could not be broadcast", "dot_general requires ..." from inside the solver.
    data = noisy_chinchilla(n=5, sigma=0.01, seed=4)
    with pytest.raises(ValueError, match=message):
        jscale.fit(_law(fn), data)


def test_a_law_undefined_at_its_starts_says_where():
    # Before: "none of the starts reached a finite objective; check the data and the starts".
    data = noisy_chinchilla(n=5, sigma=0.01, seed=4)
    law = custom(lambda p, x: p["E"] + p["A"] * jnp.log(x["n_params"] * p["s"]),
                 {"E": "positive", "A": "positive", "s": Param("free", (-1.0, -2.0))}, columns=("n_params",))
    with pytest.raises(jscale.warnings.ConvergenceError, match=r"At the first start \(E=0.1, A=0.1, s=-1\) the law's "
                                                      r"prediction is NaN or infinite at 25 of 25 rows"):
        jscale.fit(law, data)


def test_default_starts_of_many_parameters_are_a_capped_subset(tmp_path):
    # Before: 14 parameters gave 3^14 = 4.8 million default starts; 16 ran out of memory.
    names = [f"c{i}" for i in range(14)]
    law = custom(lambda p, x: p["E"] + sum(p[n] for n in names) * x["n_params"] ** -0.3,
                 {"E": "positive", **dict.fromkeys(names, "positive")}, columns=("n_params",), name="wide")
    starts = law.default_starts()
    assert starts.shape == (4096, 15) and len(np.unique(starts, axis=0)) == 4096
    np.testing.assert_array_equal(starts, law.default_starts())  # deterministic
    # Every parameter takes each of its three values about equally often.
    for column in starts.T:
        _, counts = np.unique(column, return_counts=True)
        assert len(counts) == 3 and counts.min() > 0.3 * 4096
    assert "4,096 of the 14,348,907 points" in law.starts_note()
    small = custom(lambda p, x: p["E"] + p["A"] * x["n_params"] ** -p["alpha"],
                   {"E": "positive", "A": "positive", "alpha": "positive"}, columns=("n_params",))
    assert small.starts_note() == "" and small.default_starts().shape == (27, 3)

    data = noisy_chinchilla(n=5, sigma=0.01, seed=4)
    three = [f"c{i}" for i in range(8)]  # 3^9 = 19,683 grid points: the subset and its note
    wide = custom(lambda p, x: p["E"] + sum(p[n] for n in three) * x["n_params"] ** -0.3,
                  {"E": "positive", **dict.fromkeys(three, "positive")}, columns=("n_params",), name="wide")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        fit = jscale.fit(wide, data, execution=jscale.Execution(solver=jscale.solvers.RobustGaussNewton(max_steps=2)))
    assert fit.n_starts == 4096 and "Halton subset" in fit.notes[0]
    assert "Halton subset" in fit.summary() and fit.to_dict()["notes"] == list(fit.notes)
    assert jscale.load(jscale.save(fit, tmp_path / "wide.jscale"), law=wide).notes == fit.notes


def test_allocation_takes_the_values_fix_takes():
    """One rule for hand-given values (`Law.in_domain`): a one-sided bound only warns, so a value
    beyond it that `fix` accepts (and a fit can reach) is accepted by the allocation too."""
    law = custom(lambda p, x: p["E"] + p["A"] * x["n_params"] ** -p["alpha"] + p["B"] * x["n_tokens"] ** -p["beta"]
                 + p["c"] * 0.0,
                 {"E": "positive", "A": "positive", "B": "positive", "alpha": "positive", "beta": "positive",
                  "c": Param((0.0, np.inf))}, columns=("n_params", "n_tokens"))
    law.fix(c=-0.5)
    best = jscale.compute_optimal(law, [1e22], params={**EPOCH, "c": -0.5})
    assert list(best.status) == ["success"]
    with pytest.raises(ValueError, match=r"params\['A'\]"):
        jscale.compute_optimal(law, [1e22], params={**EPOCH, "c": 0.5, "A": 0.0})


@pytest.mark.filterwarnings("ignore::jscale.warnings.IntervalWarning")
def test_a_custom_law_closing_over_a_float32_table_is_refused():
    # A table made with jax.numpy while float64 is off (JAX's default) is float32; a law reading it
    # computes below the fit's float64 and stops far from the optimum. Refused, saying how to fix it;
    # the same table as a NumPy array fits.
    n = np.geomspace(1e8, 1e10, 12)
    data = jscale.ScalingData.from_arrays(n_params=n, loss=2 + 30 * n ** -0.2)
    params = {"E": Param("positive"), "A": Param("positive"), "alpha": Param("positive")}

    def law_over(table):
        return custom(lambda p, x: p["E"] + p["A"] * jnp.interp(jnp.log(x["n_params"]), jnp.linspace(18.0, 24.0, 5),
                                                                table) * x["n_params"] ** -p["alpha"],
                      params, columns=("n_params",))

    table = np.linspace(1.0, 2.0, 5)
    assert jnp.asarray(table).dtype == jnp.float32  # the tests run with float64 off, as users do
    with pytest.raises(ValueError, match=r"below float64: a float32 array of shape \(5,\).*NumPy"):
        jscale.fit(law_over(jnp.asarray(table)), data)
    assert np.isfinite(jscale.fit(law_over(table), data).objective)


# Valid-looking calls that gave silent nonsense or a bare exception (issue 33, items 13 and 15).


def test_a_cost_that_is_not_a_positive_number_is_refused():
    for cost, says in ((lambda n, d: 6 * n * d * jnp.nan, "nan and nan"), (lambda n, d: -6 * n * d, "positive"),
                       (lambda n, d: n["x"], "fails at N = 1e8")):
        with pytest.raises(ValueError, match=says):
            jscale.compute_optimal(LAW, [1e21], params=EPOCH, cost=cost)
        with pytest.raises(ValueError, match=says):
            jscale.compare((LAW, EPOCH), (LAW, dict(EPOCH, A=600.0)), [1e21], cost=cost)


def test_compare_warns_where_it_has_no_multiplier():
    with pytest.warns(jscale.warnings.ConvergenceWarning, match=r"no multiplier at 1 of 2 budgets \(1e\+300\)"):
        out = jscale.compare((LAW, EPOCH), (LAW, dict(EPOCH, A=600.0)), [1e21, 1e300], cost=SIX_ND)
    assert np.isfinite(out.multiplier[0]) and np.isnan(out.multiplier[1])


def test_planned_sweeps_are_capped_and_finite():
    with pytest.raises(ValueError, match="at most 1000"):
        jscale.plan_isoflop([1e20], LAW, params=EPOCH, span=1e300)
    with pytest.raises(ValueError, match="to 1000"):
        jscale.plan_isoflop([1e20], LAW, params=EPOCH, n_sizes=10**8)


@pytest.mark.filterwarnings("ignore::jscale.warnings.IntervalWarning")
def test_a_log_interval_of_a_negative_quantity_says_why(tmp_path):
    fit = jscale.fit(LAW, noisy_chinchilla(n=5, sigma=0.01, seed=4), starts=LAW.default_starts()[::300])
    with pytest.raises(ValueError, match="needs fn > 0 at the estimate; fn is -"):
        fit.interval(lambda p: -p["E"], log=True)
    low, high = fit.interval(lambda p: p["E"], log=True)
    assert 0 < low < fit.params["E"] < high
    with pytest.raises(FileNotFoundError, match="the folder .*missing does not exist"):
        jscale.save(fit, tmp_path / "missing" / "r.jscale")
    assert not list(tmp_path.iterdir())


def test_an_integer_beyond_float64_is_a_clear_error():
    with pytest.raises(ValueError, match="too large for a float64"):
        jscale.ScalingData.from_arrays(n_params=[10**400, 1e9], loss=[2.0, 2.1])


def test_inputs_that_should_not_be_accepted():
    """Issue 33, item 14: accepted before, now refused with what to change."""
    n = np.geomspace(1e8, 1e10, 8)
    for values, says in ((n.astype(complex), "complex numbers"), (np.arange(8).astype("datetime64[D]"), "dates"),
                         (np.arange(1, 9).astype("timedelta64[s]"), "durations")):
        with pytest.raises(ValueError, match=f"holds {says}"):
            jscale.ScalingData.from_arrays(z=values, loss=2 + 30 * n ** -0.2)
    dated = jscale.ScalingData.from_arrays(n_params=n, loss=2 + 30 * n ** -0.2,
                                           group=np.arange(8).astype("datetime64[D]"))
    assert "group" in dated.categorical  # dates are fine as labels
    with pytest.raises(ValueError, match="target='n_params' is a column the chinchilla law reads"):
        jscale.fit(LAW, noisy_chinchilla(n=3, sigma=0.01, seed=1), target="n_params")
    with pytest.raises(ValueError, match="parameter names must be non-empty strings"):
        custom(lambda p, x: p["1"] * x["z"], {1: "positive", "1": "positive"}, columns=("z",))
