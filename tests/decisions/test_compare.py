"""jscale.compare and Comparison: the effective compute multiplier m(C) and the crossover.

For Chinchilla under C = 6ND the compute-optimal loss is L*(C) = E + K C^-gamma with
gamma = alpha beta / (alpha + beta) (Hoffmann et al. 2022, eq. 4), so L_B*(m C) = L_A*(C) has the
closed form m(C) = (K_B / (L_A*(C) - E_B))^(1/gamma_B) / C. The tests compare jscale's root
finding with it, with a bisection on the closed-form losses for the crossover, with finite
differences for the delta-method bands, and with the draws themselves for bootstrap bands.
"""

import warnings

import numpy as np
import pytest
from helpers import HOFFMANN_PARAMS, noisy_chinchilla, quiet, subset_starts, traces

import jscale

# Budgets beyond the runs are these tests' subject, not a finding: named, and checked in
# test_compare.py::test_budgets_beyond_the_runs_warn.
pytestmark = pytest.mark.filterwarnings("ignore::jscale.warnings.ExtrapolationWarning")

LAW = jscale.laws.Chinchilla()
POWER = jscale.laws.PowerLaw("compute")
# At most 8 budgets per call: every call of one pair of laws shares one compiled program.
BUDGETS = np.array([1e17, 1e19, 1e21, 1e23, 1e25, 1e27])
A_PARAMS = dict(E=1.8, A=400.0, B=1500.0, alpha=0.33, beta=0.29)


def best_loss(p, compute):
    """L*(C) by Hoffmann et al.'s closed form (`Chinchilla.compute_optimal`)."""
    return jscale.laws.Chinchilla.compute_optimal(p, compute)[2]


def gamma(p):
    return p["alpha"] * p["beta"] / (p["alpha"] + p["beta"])


def k_coefficient(p):
    """K of L*(C) = E + K C^-gamma (the same at every C; read at C = 1e20)."""
    return (best_loss(p, 1e20) - p["E"]) * 1e20 ** gamma(p)


def closed_multiplier(pa, pb, compute):
    """m(C) = (K_B / (L_A*(C) - E_B))^(1/gamma_B) / C."""
    compute = np.asarray(compute, np.float64)
    return (k_coefficient(pb) / (best_loss(pa, compute) - pb["E"])) ** (1 / gamma(pb)) / compute


def bisect_crossover(pa, pb, low=1e15, high=1e28, n_grid=2000, steps=200):
    """The first budget from below where L_A*(C) = L_B*(C): a fine log grid, then bisection."""
    def diff(log_c):
        return best_loss(pa, np.exp(log_c)) - best_loss(pb, np.exp(log_c))

    grid = np.linspace(np.log(low), np.log(high), n_grid)
    values = diff(grid)
    k = int(np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))[0])
    a, b = grid[k], grid[k + 1]
    for _ in range(steps):
        mid = 0.5 * (a + b)
        if np.sign(diff(mid)) == np.sign(diff(a)):
            a = mid
        else:
            b = mid
    return float(np.exp(0.5 * (a + b)))


def cmp(pa, pb, compute=BUDGETS, **kwargs):
    return quiet(jscale.compare, (LAW, pa), (LAW, pb), compute, **kwargs)


# --- identities ------------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [2.0, 0.3])
def test_same_factor_on_a_and_b_gives_f_to_the_one_over_gamma(factor):
    pb = dict(A_PARAMS, A=factor * A_PARAMS["A"], B=factor * A_PARAMS["B"])
    out = cmp(A_PARAMS, pb)
    np.testing.assert_allclose(out.multiplier, factor ** (1 / gamma(A_PARAMS)), rtol=1e-8)
    np.testing.assert_allclose(out.loss_a, best_loss(A_PARAMS, BUDGETS), rtol=1e-10)
    np.testing.assert_allclose(out.loss_b, best_loss(pb, BUDGETS), rtol=1e-10)
    assert np.isnan(out.crossover)  # B is worse (or better) at every budget
    assert out.sd is None and out.draws is None and not out.paired


def test_different_factors_match_the_closed_form():
    """A and B scaled by different factors: m = (K_B/K_A)^(1/gamma), the same at every budget."""
    pb = dict(A_PARAMS, A=3.0 * A_PARAMS["A"], B=0.5 * A_PARAMS["B"])
    out = cmp(A_PARAMS, pb)
    expected = (k_coefficient(pb) / k_coefficient(A_PARAMS)) ** (1 / gamma(A_PARAMS))
    np.testing.assert_allclose(out.multiplier, expected, rtol=1e-8)
    np.testing.assert_allclose(out.multiplier, closed_multiplier(A_PARAMS, pb, BUDGETS), rtol=1e-8)
    assert expected != pytest.approx(3.0 ** (1 / gamma(A_PARAMS)), rel=1e-3)  # not the trivial case


@pytest.mark.parametrize("pb", [
    dict(E=1.75, A=300.0, B=2500.0, alpha=0.30, beta=0.32),  # other exponents, E lower
    dict(HOFFMANN_PARAMS),
])
def test_general_multiplier_matches_the_closed_form(pb):
    """Different E and exponents: m varies with C and still solves L_B*(mC) = L_A*(C)."""
    out = cmp(A_PARAMS, pb)
    expected = closed_multiplier(A_PARAMS, pb, BUDGETS)
    np.testing.assert_allclose(out.multiplier, expected, rtol=1e-8)
    np.testing.assert_allclose(best_loss(pb, out.multiplier * BUDGETS), best_loss(A_PARAMS, BUDGETS), rtol=1e-10)
    assert np.ptp(np.log(expected)) > 0.1  # the multiplier does move with the budget here


def test_a_law_against_itself():
    out = cmp(A_PARAMS, A_PARAMS)
    np.testing.assert_allclose(out.multiplier, 1.0, rtol=1e-10)
    np.testing.assert_array_equal(out.loss_a, out.loss_b)
    assert np.isnan(out.crossover)
    assert out.to_dict()["crossover"] is None


# --- the crossover -----------------------------------------------------------------------------------

# B: lower irreducible loss, larger reducible terms: worse at small budgets, better at large ones.
CROSSING = [
    dict(E=1.5, A=500.0, B=1875.0, alpha=0.33, beta=0.29),  # A's exponents: they cross near 1.1e21
    dict(E=1.5, A=600.0, B=2000.0, alpha=0.31, beta=0.28),  # other exponents: near 1.7e25
]


@pytest.mark.parametrize("pb", CROSSING)
def test_crossover_matches_bisection(pb):
    out = cmp(A_PARAMS, pb)
    expected = bisect_crossover(A_PARAMS, pb)
    assert 1e15 < expected < 1e28
    assert out.crossover == pytest.approx(expected, rel=1e-6)
    # B needs more compute below the crossover, less above it.
    below, above = BUDGETS < expected, BUDGETS > expected
    assert below.any() and above.any()
    assert np.all(out.multiplier[below] > 1) and np.all(out.multiplier[above] < 1)
    np.testing.assert_allclose(out.multiplier, closed_multiplier(A_PARAMS, pb, BUDGETS), rtol=1e-8)
    at = cmp(A_PARAMS, pb, [out.crossover])
    assert at.multiplier[0] == pytest.approx(1.0, rel=1e-6)
    assert at.loss_a[0] == pytest.approx(at.loss_b[0], rel=1e-9)


def test_crossover_beyond_the_searched_range_is_nan():
    """They do cross, but above the default range's 1e28 FLOP: no crossover reported."""
    pb = dict(A_PARAMS, E=1.6, A=10 * A_PARAMS["A"], B=10 * A_PARAMS["B"])
    assert bisect_crossover(A_PARAMS, pb, high=1e40) > 1e30
    out = cmp(A_PARAMS, pb)
    assert np.isnan(out.crossover)
    assert np.all(out.multiplier > 1)


def test_crossover_searched_only_between():  # the range is an argument of the program, not a constant
    pb = CROSSING[0]
    c = bisect_crossover(A_PARAMS, pb)
    assert np.isnan(cmp(A_PARAMS, pb, between=(c * 10, c * 1e4)).crossover)
    assert cmp(A_PARAMS, pb, between=(c / 10, c * 10)).crossover == pytest.approx(c, rel=1e-6)


def test_exact_crossover_in_closed_form():
    """Same exponents: E_A - E_B = (K_B - K_A) C^-gamma at the crossover."""
    pb = CROSSING[0]
    c = ((k_coefficient(pb) - k_coefficient(A_PARAMS)) / (A_PARAMS["E"] - pb["E"])) ** (1 / gamma(A_PARAMS))
    assert cmp(A_PARAMS, pb).crossover == pytest.approx(c, rel=1e-6)


# --- laws of compute alone -------------------------------------------------------------------------


def test_power_laws_of_compute_closed_form():
    pa = dict(E=1.7, A=300.0, alpha=0.15)
    pb = dict(pa, A=900.0)
    out = quiet(jscale.compare, (POWER, pa), (POWER, pb), BUDGETS)
    np.testing.assert_allclose(out.multiplier, (pb["A"] / pa["A"]) ** (1 / pa["alpha"]), rtol=1e-8)
    np.testing.assert_allclose(out.loss_a, pa["E"] + pa["A"] * BUDGETS ** -pa["alpha"], rtol=1e-12)
    assert np.isnan(out.crossover)


def test_chinchilla_against_its_compute_power_law():
    """L*(C) of Chinchilla is the power law E + K C^-gamma: the two agree (m = 1), and a power law
    with f K needs f^(1/gamma) times the compute."""
    same = dict(E=A_PARAMS["E"], A=k_coefficient(A_PARAMS), alpha=gamma(A_PARAMS))
    out = quiet(jscale.compare, (LAW, A_PARAMS), (POWER, same), BUDGETS)
    np.testing.assert_allclose(out.multiplier, 1.0, rtol=1e-8)
    np.testing.assert_allclose(out.loss_b, out.loss_a, rtol=1e-10)
    worse = dict(same, A=2.5 * same["A"])
    out = quiet(jscale.compare, (LAW, A_PARAMS), (POWER, worse), BUDGETS)
    np.testing.assert_allclose(out.multiplier, 2.5 ** (1 / gamma(A_PARAMS)), rtol=1e-8)


# --- the ends of the range -------------------------------------------------------------------------


def test_multiplier_inf_when_b_cannot_reach_a():
    """E_B above L_A*(C): no budget lets B match A."""
    pb = dict(A_PARAMS, E=best_loss(A_PARAMS, 1e21) + 0.05)
    out = cmp(A_PARAMS, pb, [1e21, 1e23])
    assert np.all(np.isposinf(out.multiplier))
    out = cmp(A_PARAMS, pb, [1e15])  # A's loss is still above E_B at a small budget: finite
    assert np.isfinite(out.multiplier[0]) and out.multiplier[0] > 1
    assert out.multiplier[0] == pytest.approx(closed_multiplier(A_PARAMS, pb, 1e15), rel=1e-8)


def test_multiplier_zero_when_b_beats_a_with_no_compute():
    """B's loss at 1e-10 C is already below A's at C: m = 0."""
    pb = dict(E=1.0, A=1e-3, B=1e-3, alpha=0.33, beta=0.29)
    out = cmp(A_PARAMS, pb, [1e21, 1e23])
    np.testing.assert_array_equal(out.multiplier, 0.0)
    assert np.all(out.loss_b < out.loss_a)


# --- fits and bootstraps ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fits():
    """Two recipes that cross: 36 noisy runs each, fitted from the 40-start subset of the grid."""
    data_a = noisy_chinchilla(A_PARAMS, n=6, sigma=0.01, seed=3)
    data_b = noisy_chinchilla(CROSSING[0], n=6, sigma=0.01, seed=4)  # the fitted laws cross near 3e21
    fit_a = quiet(jscale.fit, LAW, data_a, starts=subset_starts())
    fit_b = quiet(jscale.fit, LAW, data_b, starts=subset_starts())
    return data_a, data_b, fit_a, fit_b


def _natural(x):
    return dict(E=np.exp(x[0]), A=np.exp(x[1]), B=np.exp(x[2]), alpha=x[3], beta=x[4])


def _log_multiplier(free_a, free_b, compute):
    return np.log(closed_multiplier(_natural(free_a), _natural(free_b), compute))


def _log_crossover(free_a, free_b):
    return np.log(bisect_crossover(_natural(free_a), _natural(free_b), steps=100))


def _delta_sd(fn, fit_a, fit_b, h=1e-6):
    """sd of fn(theta_a, theta_b) by the delta method, gradients by central differences."""
    ta, tb = fit_a.theta, fit_b.theta

    def grad(f, x):
        return np.stack([(np.asarray(f(x + h * e)) - np.asarray(f(x - h * e))) / (2 * h) for e in np.eye(len(x))],
                        axis=-1)

    ga, gb = np.atleast_2d(grad(lambda x: fn(x, tb), ta)), np.atleast_2d(grad(lambda x: fn(ta, x), tb))
    var = (np.einsum("kp,pq,kq->k", ga, fit_a.free_covariance(), ga)
           + np.einsum("kp,pq,kq->k", gb, fit_b.free_covariance(), gb))
    return np.sqrt(var)


def test_fits_give_delta_method_bands(fits):
    _, _, fit_a, fit_b = fits
    out = quiet(jscale.compare, fit_a, fit_b, BUDGETS)
    np.testing.assert_allclose(out.multiplier, closed_multiplier(fit_a.params, fit_b.params, BUDGETS), rtol=1e-8)
    assert out.sd is not None and out.draws is None
    low, high = out.interval("multiplier")
    assert np.all(low < out.multiplier) and np.all(out.multiplier < high)
    # The sds of log m and of the log crossover: gradients by central differences in each fit's
    # free parameters (the crossover's by bisection), the two fits independent.
    sd = _delta_sd(lambda a, b: _log_multiplier(a, b, BUDGETS), fit_a, fit_b)
    np.testing.assert_allclose(out.sd["multiplier"], sd, rtol=1e-4)
    z = 1.959963984540054
    np.testing.assert_allclose(low, out.multiplier * np.exp(-z * sd), rtol=1e-4)
    np.testing.assert_allclose(high, out.multiplier * np.exp(z * sd), rtol=1e-4)
    assert out.crossover == pytest.approx(bisect_crossover(fit_a.params, fit_b.params), rel=1e-6)
    sd_cross = _delta_sd(_log_crossover, fit_a, fit_b)[0]
    assert out.sd["crossover"] == pytest.approx(sd_cross, rel=1e-4)
    c_low, c_high = out.interval("crossover")
    assert c_low == pytest.approx(out.crossover * np.exp(-z * sd_cross), rel=1e-4)
    assert c_low < out.crossover < c_high
    # One fit against itself: m = 1 with no uncertainty (the errors cancel).
    same = quiet(jscale.compare, fit_a, fit_a, BUDGETS)
    np.testing.assert_allclose(same.multiplier, 1.0, rtol=1e-10)
    np.testing.assert_allclose(same.sd["multiplier"], 0.0, atol=1e-8)


@pytest.fixture(scope="module")
def boots(fits):
    data_a, data_b, fit_a, fit_b = fits

    def boot(data, fit, key):
        return quiet(jscale.bootstrap, LAW, data, n_resamples=24, key=key, starts="optimum", full_fit=fit,
                     jackknife=False)

    return boot(data_a, fit_a, 5), boot(data_b, fit_b, 5), boot(data_b, fit_b, 6)


@pytest.mark.slow  # 8-10 s; bands from draws are also checked by tests/plot/test_plot_compare.py
def test_bootstraps_give_bands_from_draws(fits, boots):
    boot_a, boot_b, _ = boots
    out = quiet(jscale.compare, boot_a, boot_b, BUDGETS)
    assert out.draws is not None and out.sd is None
    assert out.draws["multiplier"].shape == (24, BUDGETS.size)
    np.testing.assert_array_equal(out.draw_ok, boot_a.draw_ok & boot_b.draw_ok)
    # Draw b pairs draw b of A with draw b of B.
    for b in (0, 11, 23):
        pa = {k: v[b] for k, v in boot_a.draws.items()}
        pb = {k: v[b] for k, v in boot_b.draws.items()}
        np.testing.assert_allclose(out.draws["multiplier"][b], closed_multiplier(pa, pb, BUDGETS), rtol=1e-8)
    # The band: order statistics of the usable draws (draws of m may be infinite).
    low, high = out.interval("multiplier")
    values = np.sort(out.draws["multiplier"][out.draw_ok], axis=0)
    n = len(values)
    np.testing.assert_array_equal(low, values[int(np.floor(0.025 * (n - 1)))])
    np.testing.assert_array_equal(high, values[int(np.ceil(0.975 * (n - 1)))])
    assert np.all(low < out.multiplier) and np.all(out.multiplier < high)
    # The estimate is the full fits', not a summary of the draws.
    np.testing.assert_allclose(out.multiplier, quiet(jscale.compare, fits[2], fits[3], BUDGETS).multiplier,
                               rtol=1e-12)


def test_draws_budgets_and_ranges_of_any_size_share_two_programs(fits, boots, monkeypatch):
    """Every call evaluates `_CHUNK` parameter pairs at `_BUDGETS` budgets (padded with repeats):
    bootstraps of any size, any number of budgets and any crossover range share two compiled
    programs per pair of laws, the budgets' and the crossover's; a pair of fits two more, which
    give the estimate and its Jacobians in one program each."""
    from jscale.decisions import _compare
    calls = []
    evaluate, with_jacobians = _compare._on_pairs, _compare._with_jacobians

    def counted(terms, thetas_a, thetas_b, args):
        calls.append((type(terms).__name__, thetas_a.shape[0], args[0].shape[0] if type(terms) is _compare._AtBudgets
                      else None))
        return evaluate(terms, thetas_a, thetas_b, args)

    def counted_fit(terms, theta_a, theta_b, args):
        calls.append((type(terms).__name__, "fit"))
        return with_jacobians(terms, theta_a, theta_b, args)

    monkeypatch.setattr(_compare, "_on_pairs", counted)
    monkeypatch.setattr(_compare, "_with_jacobians", counted_fit)
    from_fits = quiet(jscale.compare, fits[2], fits[3], BUDGETS)
    assert calls == [("_AtBudgets", "fit"), ("_Crossover", "fit")]
    calls.clear()
    from_boots = quiet(jscale.compare, boots[0], boots[1], BUDGETS)  # 25 pairs (24 draws and the estimate): one call
    assert calls == [("_AtBudgets", _compare._CHUNK, _compare._BUDGETS), ("_Crossover", _compare._CHUNK, None)]
    np.testing.assert_allclose(from_boots.multiplier, from_fits.multiplier, rtol=1e-12)
    assert from_boots.crossover == pytest.approx(from_fits.crossover, rel=1e-12)
    assert from_boots.draws["multiplier"].shape == (24, BUDGETS.size)
    assert from_boots.draws["crossover"].shape == (24,)
    # Nothing compiles again: 11 budgets (two calls of 8), another range, given parameters, fits.
    with traces() as counts:
        more = quiet(jscale.compare, boots[0], boots[1], np.geomspace(1e17, 1e27, 11), between=(1e16, 1e27))
        quiet(jscale.compare, (LAW, A_PARAMS), (LAW, CROSSING[1]), BUDGETS)
        quiet(jscale.compare, fits[2], fits[3], np.geomspace(1e17, 1e27, 11))
    assert sum(counts.values()) == 0, counts
    np.testing.assert_allclose(more.multiplier[[0, 2, 4, 6, 8, 10]], from_boots.multiplier, rtol=1e-12)
    assert more.crossover == pytest.approx(from_boots.crossover, rel=1e-12)


@pytest.mark.slow  # ~15 s: compiles the root searches around the allocation solver (any other law's path)
@pytest.mark.parametrize("pb", [CROSSING[1], dict(A_PARAMS, E=best_loss(A_PARAMS, 1e21) + 0.05)])
def test_closed_form_matches_the_solver(pb):
    """Chinchilla under 6ND takes Hoffmann et al.'s closed form (`chinchilla_frontier`); the same
    cost written as another function takes the allocation solver and root searches of any law."""
    solver_cost = lambda n_params, n_tokens: 6.0 * n_params * n_tokens  # noqa: E731 - another function object
    closed, solved = cmp(A_PARAMS, pb), cmp(A_PARAMS, pb, cost=solver_cost)
    np.testing.assert_allclose(closed.loss_a, solved.loss_a, rtol=1e-10)
    np.testing.assert_allclose(closed.loss_b, solved.loss_b, rtol=1e-10)
    np.testing.assert_allclose(closed.multiplier, solved.multiplier, rtol=1e-8)
    assert closed.crossover == pytest.approx(solved.crossover, rel=1e-8, nan_ok=True)


def test_no_optimum_gives_nan_and_says_why():
    """alpha <= 0: the loss does not fall with n_params, no allocation is optimal (the solver would
    run off along the budget and report a loss from wherever it stopped)."""
    with pytest.warns(jscale.warnings.ConvergenceWarning, match="alpha <= 0"):
        out = cmp(A_PARAMS, dict(A_PARAMS, alpha=-0.1), [1e21, 1e23])
    assert np.all(np.isnan(out.multiplier)) and np.all(np.isnan(out.loss_b)) and np.isnan(out.crossover)


def test_bootstraps_paired_only_with_the_same_key_and_configurations(fits, boots):
    boot_a, boot_b, boot_b_other = boots
    paired = quiet(jscale.compare, boot_a, boot_b, BUDGETS)
    unpaired = quiet(jscale.compare, boot_a, boot_b_other, BUDGETS)
    assert paired.paired and not unpaired.paired
    assert quiet(jscale.compare, boot_a, boot_a, BUDGETS).paired
    assert "independent bootstrap draws" in unpaired.summary()
    assert "independent" not in paired.summary()
    assert paired.to_dict()["paired"] is True and unpaired.to_dict()["paired"] is False
    # The same key over as many rows, but B's rows in another order: row k of A and of B are other
    # configurations, so draw b of A and draw b of B are not a pair (issue 33, item 11).
    data_b = fits[1]
    order = np.random.default_rng(0).permutation(len(data_b))
    shuffled = data_b.subset(order)
    refit = quiet(jscale.fit, LAW, shuffled, starts=subset_starts())
    boot_shuffled = quiet(jscale.bootstrap, LAW, shuffled, n_resamples=24, key=5, starts="optimum", full_fit=refit,
                          jackknife=False)
    assert not quiet(jscale.compare, boot_a, boot_shuffled, BUDGETS).paired
    assert boot_b.configurations != boot_shuffled.configurations


def test_bootstrap_many_paired_draws_configurations_together(fits):
    """paired=True: one draw of the configurations shared by both datasets per resample, whatever
    the row order (B's rows reversed here); compare reports the pair as paired."""
    data_a, data_b, fit_a, fit_b = fits
    reverse = np.arange(len(data_b))[::-1]
    flipped = data_b.subset(reverse)
    options = dict(key=7, n_resamples=8, paired=True, full_fit=[fit_a, fit_b], starts="optimum", jackknife=False)
    boot_a, boot_b = quiet(jscale.bootstrap_many, LAW, [data_a, flipped], **options)
    assert boot_a.unit == boot_b.unit == "configuration"
    # A configuration's multiplicity is the same in both datasets, in every resample.
    of_a = {(n, d): k for k, (n, d) in enumerate(zip(data_a.n_params, data_a.n_tokens))}
    rows_a = [of_a[(n, d)] for n, d in zip(flipped.n_params, flipped.n_tokens)]
    np.testing.assert_array_equal(boot_b.counts, boot_a.counts[:, rows_a])
    assert quiet(jscale.compare, boot_a, boot_b, BUDGETS).paired
    again = quiet(jscale.bootstrap_many, LAW, [data_a, flipped], **options)
    np.testing.assert_array_equal(again[1].free_draws, boot_b.free_draws)
    with pytest.raises(ValueError, match="no unit="):
        jscale.bootstrap_many(LAW, [data_a, data_b], key=7, paired=True, unit="n_params")


def test_fit_against_bootstrap_raises(fits, boots):
    with pytest.raises(ValueError, match="two bootstraps"):
        jscale.compare(fits[2], boots[1], BUDGETS)
    with pytest.raises(ValueError, match="two bootstraps"):
        jscale.compare(boots[0], fits[3], BUDGETS)
    with pytest.raises(ValueError, match="two bootstraps"):
        jscale.compare(fits[2], (LAW, A_PARAMS), BUDGETS)


# --- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("between", [(1e20, 1e15), (0, 1e20), (-1e15, 1e20), (1e15, np.inf), (1e15, np.nan),
                                     (1e15,), "wide", None, (1e15, 1e15)])
def test_bad_between(between):
    with pytest.raises(ValueError, match="between"):
        jscale.compare((LAW, A_PARAMS), (LAW, A_PARAMS), BUDGETS, between=between)


@pytest.mark.parametrize("compute", [0.0, -1e20, [1e20, 0.0], [1e20, np.nan], [np.inf], [], [[1e20]]])
def test_bad_compute(compute):
    with pytest.raises(ValueError, match="compute"):
        jscale.compare((LAW, A_PARAMS), (LAW, A_PARAMS), compute)


def test_bad_sides():
    with pytest.raises(TypeError, match="FitResult"):
        jscale.compare(A_PARAMS, (LAW, A_PARAMS), BUDGETS)
    with pytest.raises(ValueError, match="params lacks"):
        jscale.compare((LAW, dict(E=1.8, A=400.0)), (LAW, A_PARAMS), BUDGETS)
    # A law of parameters alone has no compute-optimal loss.
    with pytest.raises(ValueError, match="does not read n_tokens"):
        jscale.compare((jscale.laws.PowerLaw("n_params"), dict(E=1.8, A=400.0, alpha=0.3)), (LAW, A_PARAMS), BUDGETS)


def test_no_bands_from_given_parameters():
    out = cmp(A_PARAMS, A_PARAMS)
    with pytest.raises(ValueError, match="No uncertainty"):
        out.interval("multiplier")
    with pytest.raises(ValueError, match="name must be one of"):
        out.interval("multiplyer")


def test_budgets_beyond_the_runs_warn(fits):
    """As compute_optimal: budgets outside a recipe's runs are named with how far (issue 33, item 9)."""
    data_a = fits[0]
    top = float(np.max(data_a.compute))
    said = r"compare: recipe A's multipliers at 1 of 2 points extrapolate beyond the fitted data: compute up to 2.00"
    with pytest.warns(jscale.warnings.ExtrapolationWarning, match=said + " decades beyond"):
        quiet(jscale.compare, fits[2], fits[3], [top / 10, top * 100])
    with warnings.catch_warnings():
        warnings.simplefilter("error", jscale.warnings.ExtrapolationWarning)
        quiet(jscale.compare, fits[2], fits[3], [top / 10, top])
