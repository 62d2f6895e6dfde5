"""Calibration of form-robust intervals: a mixture of candidate forms against the default bands, known truth.

    python benchmarks/bench_forms.py                     # 100 studies per cell, all ten cells, appends to RESULTS.md
    python benchmarks/bench_forms.py --quick             # 4 studies, 100 resamples, prints only
    python benchmarks/bench_forms.py --studies 12 --resamples 100 --chinchilla-starts 113 --no-append \
        --cells interaction-0,drift-N,break-D,break-N,coupled,drift-D
                                                         # the small misspecifications of issue 33, item 6
    python benchmarks/bench_forms.py --studies 10 --cells coupled --forms CIK --no-append
                                                         # Kaplan's law (no irreducible term) among the forms
    python benchmarks/bench_forms.py --studies 20 --cells interaction-0,break-N --no-append
    python benchmarks/bench_forms.py --studies 30 --cells interaction-0,break-N --prior 1,1,30
                                                         # a prior leaning 30:1 towards the break form
    python benchmarks/bench_forms.py --studies 30 --cells interaction-0,interaction-2.5 --holdout 0.5 --no-append
                                                         # forms scored on the top half of 6ND, not the top quarter
    python benchmarks/bench_forms.py --studies 50 --cells interaction-0,interaction-2.5 --score held-out
                                                         # held-out skill alone, no residual-test charge

Every simulated study observes the 240 configurations (n_params, n_tokens) of the bundled Chinchilla
data (`jscale.datasets.load("chinchilla")`: N 5.7e7 to 1.6e10, D 8.2e8 to 3.2e11, 6ND 1.4e18 to
1.3e22). The truth is Chinchilla with Epoch AI's estimate (E 1.82, A 482, B 2085, alpha 0.348,
beta 0.366) plus a misspecification term; a run observes L(N, D) exp(s z), z standard normal,
s = 0.0075 (the sd of the log residuals of `jscale.fit(Chinchilla(), load("chinchilla"))`).

Cells (the misspecification of the truth):

* interaction-0, interaction-0.25, interaction-1, interaction-2.5: L = E + A/N^alpha + B/D^beta
  + G/(N D)^0.25, with G such that the term's share of the true loss, term / L (L including the
  term), has a median over the 240 runs of 0%, 0.25%, 1% and 2.5% (G solved by brentq; printed).
  interaction-0 is the plain Chinchilla truth: the default form is right there. The term is
  constant along an iso-FLOP curve (N D = C/6), so it leaves N* unchanged; it shifts the losses.
* break-N: a smooth break in the N exponent, A/N^alpha replaced by A/N^alpha (1 + N/N_b)^(-d),
  N_b = 1e9 and d = 0.1: the local exponent of the N term, alpha + d N/(N + N_b), runs from alpha
  well below 1e9 parameters to alpha + 0.1 well above (alpha + 0.05 at 1e9). About a third of the
  bundled runs lie above 1e9 parameters.
* offset-N: parameters the law counts but the data do not (embedding parameters left out of N, as
  Kaplan et al. 2020 did and Pearce & Song 2024 found behind the Kaplan-Chinchilla disagreement):
  A/N^alpha replaced by A/(N + N_e)^alpha, with N_e such that the median share |L - L_plain| / L
  over the runs is 1% (N_e solved by brentq; printed). Its effect is largest at the smallest
  runs and fades beyond the data, where N >> N_e.

Small misspecifications that the data cannot reject (issue 33, item 6). Each is sized so that the
true loss of the largest-compute run (N 6.8e9, D 3.2e11, 6ND 1.3e22) lies 1.5%
above the plain law's, L / L_plain - 1 = 1.5% (its strength solved by brentq; printed). Refitted,
the Chinchilla form follows each to a fraction of the noise inside the data; what is left shows
only beyond it. `refit_gap` prints, per cell, the rms of the log residuals of the Chinchilla form's
least-squares fit to the exact true losses at the 240 runs and its errors at the quantities:

* drift-N (a slowly varying exponent): A/N^alpha replaced by A/N^alpha exp(-(k/2) ln^2(N/N_0)),
  N_0 = 5e7, so the N term's local exponent is alpha + k ln(N/N_0); k = -0.0134 (the exponent
  flattens by 0.031 per decade of N). Refitted: rms 0.024% inside the data; errors +0.33% and
  +0.60% at the two losses, -16.7% at N*(1e24).
* break-D (a broken power law in D): B/D^beta replaced by B/D^beta (1 + D/D_b)^(-d), D_b = 1e10
  (inside the data), d = -0.064: the D term's local exponent falls from beta to beta - 0.064
  above 1e10 tokens (data that helps less at scale). Refitted: rms 0.032%; +0.65%, +1.09%, +38.5%.
* coupled (terms that do not add): E + ((A/N^alpha)^(1/c) + (B/D^beta)^(1/c))^c, c = 1.144 (c = 1
  is Chinchilla; Kaplan et al.'s joint law combines its terms this way). Refitted: rms 0.118%;
  -0.71%, -0.99%, -2.6%.
* drift-D: as drift-N for the D term, D_0 = 5e8; k = -0.0107. Refitted: rms 0.023%; +0.35%,
  +0.60%, +19.8%.

(break-N, for comparison: rms 0.041%; -0.80%, -1.38%, +46%.)

The coverage of coupled and drift-D (`NOT_TUNED`) was first measured after the method's settings
were fixed on the others: the forms' rejection (`REJECT_BIC`) and the stated form error
(`jscale.selection._forms.FORM_ERROR`, set by the width where the form is right; lowered once
afterwards, from 0.7 to 0.6, when that width exceeded 1.5x at 100 resamples).

Each study: simulate, then `ens = jscale.bootstrap_forms([Chinchilla(), INTERACTION, BREAK_N], data,
key=study, n_resamples=R, full_fits=..., jackknife=False)` (R = 200 by default; `--forms` picks other
candidate forms): every form fitted (4,500 Hoffmann starts for Chinchilla, or every STEP-th with
`--chinchilla-starts STEP`; 48 starts for each custom form, 32 for the drift form, 400 for Kaplan's),
bootstrapped on the same row resamples, and scored on
the held-out largest runs (the top quarter of the distinct 6ND values, fitted on the rest), each
form's scores charged max(0, chi2/2 - dof) of its residual test (jscale's default score,
"held-out+trend"; `--score held-out` leaves the charge out; see `jscale.selection._forms`).
`ens.members[0]` is exactly `jscale.bootstrap(Chinchilla(), data, key=study, n_resamples=R)`,
so the default bands come from it. The candidate forms are generic, not the
truth's:

* chinchilla: `jscale.laws.Chinchilla()`.
* chinchilla+interaction: Chinchilla + G/(N D)^gamma with G > 0 and gamma in (0, 1) free (a custom
  law; starts E 1, 2; A 100, 1000; B 300, 3000; alpha, beta 0.3; G 1e-2, 10, 1e3; gamma 0.15, 0.3).
* chinchilla+break-N: Chinchilla with A/N^alpha (1 + N/N_b)^(-d), d in (-0.5, 0.5) and log10 N_b
  in (7, 12) free (starts as above for the Chinchilla part; d 0, 0.1; log10 N_b 8, 9, 10). Written
  in log space: exp(log A - alpha log N - d softplus(log N - log N_b)).

With `--forms` (letters, Chinchilla first; default CIB, the three above), also:

* D, chinchilla+break-D: the same break in the D term, d in (-0.5, 0.5), log10 D_b in (8, 13)
  (starts d 0, 0.1; log10 D_b 9, 10, 11).
* V, chinchilla+drift: both exponents drift, E + A exp(-alpha u - k_N u^2/2) + B exp(-beta v -
  k_D v^2/2), u = ln(N/1e9), v = ln(D/2e10), k_N and k_D in (-0.1, 0.1) (starts E 1, 2; A, B 0.1,
  1; alpha, beta 0.3; k -0.01, 0.01). It nests drift-N and drift-D.
* K, `jscale.laws.Kaplan()`: no irreducible term; the data reject it (`Ensemble.rejected`).

Quantities (truth from the true law): the loss at (N, D) = (7e10, 1.4e12) (Chinchilla itself) and
at (3e11, 6e12), and N* at C = 1e24 FLOP under 6ND cost. N* of the plain truth comes from
`jscale.compute_optimal(Chinchilla(), [1e24], params=EPOCH)`; of a misspecified truth, from the
true loss along 6ND = 1e24: a grid of 20,001 points in log10 N over (8, 14), then a bounded
Brent refinement (xatol 1e-12 in ln N) around the best grid point. On the plain truth the two
agree (printed).

Bands, all 95%: default, the percentile bands of `ens.members[0]`
(`predict_interval(n_params=..., n_tokens=...)` and `jscale.compute_optimal(ens.members[0],
[1e24]).interval("n_params")`); form-robust, the mixture's (`ens.predict(...).interval(0.95)`
and `ens.compute_optimal([1e24], quantity="n_params").interval(0.95)`), widened for jscale's
default stated form error (`form_error=FORM_ERROR`).

Per cell and quantity: the coverage of the truth by each band with a Wilson 95% interval for the
share, and the misses (low: the band lay below the truth; high: above it); the median width
(high - low) / truth of each band and the ratio robust / default of the medians; the median share
of the mixture's variance from the forms' disagreement (`Mixture.form_share`). Per cell: the mean
point weights of the forms (`ens.point_weights`) and the mean of their resampled weights
(`np.nanmean(ens.weights, axis=0)`); the median over the studies of each flexible form's point
score less the Chinchilla form's (`ens.point_scores`: how far the held-out runs tell the forms
apart; about -(2/2) log 60 = -4.1, the Occam factor of two more parameters, where they cannot;
with --prior, the log prior ratio is included, and the residual-test charges are);
the share of studies in which the form diagnostic fired for
the Chinchilla form (`ens.trends[0]` held-out or `ens.residuals[0]` residuals `.fires`; either,
and each separately), and for the other forms (either); the share of studies in which each form
was rejected by the data (`ens.rejected`); the studies that raised a
`jscale.warnings.FormWarning`; the lowest share of converged draws of each form over the studies (the
full-data `members`); the studies whose full-data fit of a form ended with a status other than
success (`FitResult.best_status`); failed studies and seconds per study (median; the first study of a cell
includes compilation).

Goals (issues 20 and 33), printed beside the table: form-robust bands cover at least 90% in every
cell and quantity, reported apart for the cells tuned on and those not (`NOT_TUNED`); where the
form is right (interaction-0) they are at most 1.5x as wide as the default bands (ratio of median
widths); the diagnostic (either test of the Chinchilla form) fires in the 2.5% cell (read here as:
in more than half of its studies) and stays quiet in interaction-0 in at least 95% of its studies.

Warnings (jscale's diagnostics and numpy's RuntimeWarning) are recorded, not shown, inside the
loop and counted per kind (studies that raised each kind at least once); a study that raised is
counted apart and left out. Study s of cell k draws its noise from
`np.random.default_rng([seed, k, s])` (k the cell's index in the list of all ten cells, so a
cell's draws do not depend on --cells) and bootstraps with key 10,000 seed + s.
"""

from __future__ import annotations

import argparse
import collections
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from bench_chinchilla_grid import append_results, command_line, commit  # same folder
from bench_downstream import wilson as _wilson  # same folder

import jscale
from jscale.laws import Param, custom
from jscale.selection._backtest import TREND_P
from jscale.selection._forms import FORM_ERROR, SCORES

EPOCH = dict(E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)
SIGMA = 0.0075  # sd of the log residuals of the Huber fit to the bundled Chinchilla data
LEVEL = 0.95
GAMMA_TRUE = 0.25  # exponent of the true interaction term G/(N D)^0.25
N_BREAK, D_BREAK = 1e9, 0.1  # the true break in the N exponent
POINTS = ((7e10, 1.4e12), (3e11, 6e12))
C_STAR = 1e24
QUANTITIES = ("loss at (7e10, 1.4e12)", "loss at (3e11, 6e12)", "N* at 1e24")
N_0, D_0 = 5e7, 5e8  # below the smallest run's N (5.7e7) and D (8.2e8): where the drifts start
D_BREAK_TRUE = 1e10  # the true break in the D exponent (break-D)
# cell: (kind, size). interaction and offset: the median share of the term over the runs; break-N: its
# fixed break; the later kinds: the departure from the plain law at the largest-compute run, L / L_plain - 1.
CELLS = {"interaction-0": ("interaction", 0.0), "interaction-0.25": ("interaction", 0.0025),
         "interaction-1": ("interaction", 0.01), "interaction-2.5": ("interaction", 0.025),
         "break-N": ("break", None), "offset-N": ("offset", 0.01),
         "drift-N": ("drift-N", 0.015), "break-D": ("break-D", 0.015),
         "coupled": ("coupled", 0.015), "drift-D": ("drift-D", 0.015)}
# Kinds of misspecification the method's settings were not chosen on (issue 33, item 6): measured once,
# after the settings were fixed on the others.
NOT_TUNED = ("coupled", "drift-D")
# The strength of each of the later kinds: its bracket for brentq (the plain law at one end).
STRENGTH = {"drift-N": (-0.2, 0.0), "drift-D": (-0.2, 0.0), "break-D": (-1.0, 0.0), "coupled": (1.0, 3.0)}
DEFAULT_STUDIES, DEFAULT_RESAMPLES = 100, 200
LN10 = float(np.log(10.0))


def wilson(hits: int, n: int) -> tuple[float, float]:
    """Wilson 95% interval of a share, clipped to [0, 1]."""
    low, high = _wilson(hits, n)
    return max(low, 0.0), min(high, 1.0)


# --- the candidate forms (module-level functions: a custom law compiles once per function) ------------
def interaction(p, x):
    n, d = x["n_params"], x["n_tokens"]
    return p["E"] + p["A"] * n ** -p["alpha"] + p["B"] * d ** -p["beta"] + p["G"] * (n * d) ** -p["gamma"]


def broken_n(p, x):
    log_n, log_d = jnp.log(x["n_params"]), jnp.log(x["n_tokens"])
    bend = jax.nn.softplus(log_n - LN10 * p["log10_Nb"])  # log(1 + N/N_b), safe for any N/N_b
    return (p["E"] + jnp.exp(jnp.log(p["A"]) - p["alpha"] * log_n - p["d"] * bend)
            + jnp.exp(jnp.log(p["B"]) - p["beta"] * log_d))


def broken_d(p, x):
    log_n, log_d = jnp.log(x["n_params"]), jnp.log(x["n_tokens"])
    bend = jax.nn.softplus(log_d - LN10 * p["log10_Db"])
    return (p["E"] + jnp.exp(jnp.log(p["A"]) - p["alpha"] * log_n)
            + jnp.exp(jnp.log(p["B"]) - p["beta"] * log_d - p["d"] * bend))


def drifting(p, x):
    # the local exponents drift linearly in log scale: alpha + k_N ln(N / N_M), beta + k_D ln(D / D_M)
    u, v = jnp.log(x["n_params"]) - LN_N_M, jnp.log(x["n_tokens"]) - LN_D_M
    return (p["E"] + jnp.exp(jnp.log(p["A"]) - p["alpha"] * u - 0.5 * p["k_N"] * u**2)
            + jnp.exp(jnp.log(p["B"]) - p["beta"] * v - 0.5 * p["k_D"] * v**2))


LN_N_M, LN_D_M = float(np.log(1e9)), float(np.log(2e10))  # about the middle of the runs' log N and log D
CHINCHILLA_PARAMS = {"E": Param("positive", (1.0, 2.0)), "A": Param("positive", (100.0, 1000.0)),
                     "B": Param("positive", (300.0, 3000.0)), "alpha": Param((0, 1), (0.3,)),
                     "beta": Param((0, 1), (0.3,))}
CHINCHILLA = jscale.laws.Chinchilla()
INTERACTION = custom(interaction, {**CHINCHILLA_PARAMS, "G": Param("positive", (1e-2, 10.0, 1e3)),
                                   "gamma": Param((0, 1), (0.15, 0.3))},
                     columns=("n_params", "n_tokens"), name="chinchilla+interaction")
BREAK_N = custom(broken_n, {**CHINCHILLA_PARAMS, "d": Param((-0.5, 0.5), (0.0, 0.1)),
                            "log10_Nb": Param((7, 12), (8.0, 9.0, 10.0))},
                 columns=("n_params", "n_tokens"), name="chinchilla+break-N")
BREAK_D = custom(broken_d, {**CHINCHILLA_PARAMS, "d": Param((-0.5, 0.5), (0.0, 0.1)),
                            "log10_Db": Param((8, 13), (9.0, 10.0, 11.0))},
                 columns=("n_params", "n_tokens"), name="chinchilla+break-D")
# A and B of the drifting form are the terms' values at N_M and D_M (about 0.34 and 0.45 for Epoch's law).
DRIFT = custom(drifting, {"E": Param("positive", (1.0, 2.0)), "A": Param("positive", (0.1, 1.0)),
                          "B": Param("positive", (0.1, 1.0)), "alpha": Param((0, 1), (0.3,)),
                          "beta": Param((0, 1), (0.3,)), "k_N": Param((-0.1, 0.1), (-0.01, 0.01)),
                          "k_D": Param((-0.1, 0.1), (-0.01, 0.01))},
               columns=("n_params", "n_tokens"), name="chinchilla+drift")
# the candidate forms by letter (--forms); K, Kaplan's law without an irreducible term, for the guard
ALL_FORMS = {"C": CHINCHILLA, "I": INTERACTION, "B": BREAK_N, "D": BREAK_D, "V": DRIFT, "K": jscale.laws.Kaplan()}
DEFAULT_FORMS = "CIB"


# --- the truths ---------------------------------------------------------------------------------------
def base_loss(n, d):
    return EPOCH["E"] + EPOCH["A"] / n ** EPOCH["alpha"] + EPOCH["B"] / d ** EPOCH["beta"]


class Truth:
    """A cell's true loss law and the true values of the quantities."""

    def __init__(self, name: str, configs):
        from scipy.optimize import brentq

        self.name = name
        self.kind, share = CELLS[name]
        self.g = 0.0
        self.n_e = 0.0
        self.strength = 0.0
        n, d = configs
        if self.kind == "offset":
            def offset_share(log_ne):
                shifted = base_loss(n + np.exp(log_ne), d)  # the plain law at N + N_e
                return np.median(np.abs(shifted - base_loss(n, d)) / shifted) - share

            self.n_e = float(np.exp(brentq(offset_share, 0.0, 40.0, xtol=1e-12)))
        if self.kind == "interaction" and share > 0:
            def median_share(log_g):
                term = np.exp(log_g) / (n * d) ** GAMMA_TRUE
                return np.median(term / (base_loss(n, d) + term)) - share

            self.g = float(np.exp(brentq(median_share, -10.0, 40.0, xtol=1e-12)))
        if self.kind in STRENGTH:
            big = int(np.argmax(n * d))  # the largest-compute run

            def departure(strength):
                self.strength = strength
                return self.loss(n[big], d[big]) / base_loss(n[big], d[big]) - 1 - share

            self.strength = float(brentq(departure, *STRENGTH[self.kind], xtol=1e-14))
        if self.kind == "interaction" and self.g == 0.0:
            n_star = float(jscale.compute_optimal(CHINCHILLA, [C_STAR], params=EPOCH).n_params[0])
        else:
            n_star = optimal_n(self.loss, C_STAR)
        self.values = np.array([*(self.loss(np.float64(pn), np.float64(pd)) for pn, pd in POINTS), n_star])
        term = self.loss(n, d) - base_loss(n, d)
        self.share_median = float(np.median(np.abs(term) / self.loss(n, d)))
        self.gap = None  # `refit_gap`, filled in by main

    def loss(self, n, d):
        k = self.strength
        if self.kind == "interaction":
            return base_loss(n, d) + self.g / (n * d) ** GAMMA_TRUE
        if self.kind == "offset":
            return base_loss(n + self.n_e, d)
        if self.kind == "break":
            return (EPOCH["E"] + EPOCH["A"] / n ** EPOCH["alpha"] * (1 + n / N_BREAK) ** -D_BREAK
                    + EPOCH["B"] / d ** EPOCH["beta"])
        a, b = EPOCH["A"] / n ** EPOCH["alpha"], EPOCH["B"] / d ** EPOCH["beta"]
        if self.kind == "drift-N":  # local exponent of the N term: alpha + k ln(N / N_0)
            return EPOCH["E"] + a * np.exp(-0.5 * k * np.log(n / N_0) ** 2) + b
        if self.kind == "drift-D":
            return EPOCH["E"] + a + b * np.exp(-0.5 * k * np.log(d / D_0) ** 2)
        if self.kind == "break-D":  # local exponent of the D term: beta + k D / (D + D_b)
            return EPOCH["E"] + a + b * (1 + d / D_BREAK_TRUE) ** -k
        return EPOCH["E"] + (a ** (1 / k) + b ** (1 / k)) ** k  # coupled: the terms add as a k-norm

    def describe(self) -> str:
        if self.kind == "interaction":
            return f"G = {self.g:.4g}" if self.g else "G = 0"
        if self.kind == "offset":
            return f"N_e = {self.n_e:.4g}"
        if self.kind == "break":
            return f"N_b = {N_BREAK:.0e}, d = {D_BREAK}"
        symbol = {"drift-N": "k_N", "drift-D": "k_D", "break-D": "d_D", "coupled": "c"}[self.kind]
        return f"{symbol} = {self.strength:.4g}"

    def gap_text(self) -> str:
        if self.gap is None:
            return ""
        rms, errors = self.gap
        return (f"refitted (Chinchilla, squared log residuals, exact losses): rms {100 * rms:.3f}% inside the data; "
                "error " + ", ".join(f"{q} {100 * e:+.2f}%" for q, e in zip(QUANTITIES, errors)))


def refit_gap(truth: Truth, configs) -> tuple[float, np.ndarray]:
    """How far the Chinchilla form can follow the truth: its least-squares fit (log residuals, the
    4,500 Hoffmann starts) to the exact true losses at the runs; (rms of its log residuals, (3,) its
    relative errors fitted / true - 1 at the quantities)."""
    n, d = configs
    exact = jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=truth.loss(n, d))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = jscale.fit(CHINCHILLA, exact, loss="squared")
        values = np.array([*(float(np.ravel(fitted.predict(n_params=[pn], n_tokens=[pd]))[0]) for pn, pd in POINTS),
                           float(jscale.compute_optimal(fitted, [C_STAR]).n_params[0])])
    residual = np.log(truth.loss(n, d)) - np.log(np.asarray(fitted.predict(exact)))
    return float(np.sqrt(np.mean(residual**2))), values / truth.values - 1


def optimal_n(loss, compute: float) -> float:
    """argmin over N of loss(N, compute / (6 N)): a grid in log10 N, then a bounded Brent step."""
    from scipy.optimize import minimize_scalar

    grid = np.linspace(8.0, 14.0, 20_001) * LN10
    values = loss(np.exp(grid), compute / (6 * np.exp(grid)))
    k = int(np.argmin(values))
    if k in (0, len(grid) - 1):
        raise RuntimeError("optimal_n: the minimum lies at the edge of the grid.")
    best = minimize_scalar(lambda t: loss(np.exp(t), compute / (6 * np.exp(t))), bounds=(grid[k - 1], grid[k + 1]),
                           method="bounded", options={"xatol": 1e-12})
    return float(np.exp(best.x))


# --- one study ----------------------------------------------------------------------------------------
def study(truth: Truth, configs, rng, key: int, n_resamples: int, forms: str, step: int, **scoring) -> dict:
    n, d = configs
    observed = truth.loss(n, d) * np.exp(SIGMA * rng.normal(size=n.size))
    data = jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=observed)
    laws = [ALL_FORMS[f] for f in forms]
    # every step-th start of the Chinchilla grid (1: all 4,500); the other forms' own default starts
    full = [jscale.fit(law, data, starts=CHINCHILLA.default_starts()[::step] if law is CHINCHILLA else None)
            for law in laws]
    # no jackknife: percentile bands do not use it, and the draws are the same without it
    ens = jscale.bootstrap_forms(laws, data, key=key, n_resamples=n_resamples, full_fits=full, jackknife=False,
                                 **scoring)
    point_n = [p[0] for p in POINTS]
    point_d = [p[1] for p in POINTS]
    default = ens.members[0]
    d_lo, d_hi = default.predict_interval(n_params=point_n, n_tokens=point_d, level=LEVEL)
    a_lo, a_hi = jscale.compute_optimal(default, [C_STAR]).interval("n_params", LEVEL)
    loss_mix = ens.predict(n_params=point_n, n_tokens=point_d)
    n_mix = ens.compute_optimal([C_STAR], quantity="n_params")
    r_lo, r_hi = loss_mix.interval(LEVEL)
    m_lo, m_hi = n_mix.interval(LEVEL)
    trend, resid = ens.trends[0], ens.residuals[0]
    return dict(
        default=np.array([[*np.ravel(d_lo), *np.ravel(a_lo)], [*np.ravel(d_hi), *np.ravel(a_hi)]], np.float64),
        robust=np.array([[*np.ravel(r_lo), *np.ravel(m_lo)], [*np.ravel(r_hi), *np.ravel(m_hi)]], np.float64),
        form_share=np.array([*np.ravel(loss_mix.form_share), *np.ravel(n_mix.form_share)], np.float64),
        point_weights=np.asarray(ens.point_weights, np.float64),
        score_gap=np.asarray(ens.point_scores[1:] - ens.point_scores[0], np.float64),
        weights=np.nanmean(np.asarray(ens.weights, np.float64), axis=0),
        held_fires=bool(trend is not None and trend.fires), resid_fires=bool(resid is not None and resid.fires),
        form_fires=np.array([any(t is not None and t.fires for t in tests)
                             for tests in zip(ens.trends, ens.residuals)]),
        rejected=np.asarray(ens.rejected),
        converged=np.array([m.n_converged / m.n_resamples for m in ens.members]),
        fit_converged=np.array([m.fit.best_status == "success" for m in ens.members]))


class Cell:
    def __init__(self, name: str, configs):
        self.name, self.configs = name, configs
        self.index = list(CELLS).index(name)
        self.truth = Truth(name, configs)
        self.results = {}
        self.failures = []
        self.kinds = collections.Counter()
        self.form_warned = 0
        self.seconds = []

    def run(self, s: int, seed: int, n_resamples: int, forms: str, step: int, **scoring):
        rng = np.random.default_rng([seed, self.index, s])
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # recorded, not shown; counted below
            try:
                self.results[s] = study(self.truth, self.configs, rng, 10_000 * seed + s, n_resamples, forms, step,
                                        **scoring)
            except (ValueError, RuntimeError, FloatingPointError) as err:  # ConvergenceError is a RuntimeError
                self.failures.append(f"study {s}: {type(err).__name__}: {str(err)[:160]}")
        kinds = {w.category.__name__ for w in caught}
        for kind in kinds:
            self.kinds[kind] += 1
        self.form_warned += any(issubclass(w.category, jscale.warnings.FormWarning) for w in caught)
        self.seconds.append(time.perf_counter() - start)

    def stack(self, name):
        return np.array([r[name] for r in self.results.values()])

    def warnings_text(self):
        return ", ".join(f"{k.removesuffix('Warning')} {v}" for k, v in sorted(self.kinds.items())) or "none"

    def coverage(self, band: str, q: int):
        """hits, studies, misses low (band below the truth), misses high."""
        b = self.stack(band)[:, :, q]
        truth = self.truth.values[q]
        hits = int(np.sum((b[:, 0] <= truth) & (truth <= b[:, 1])))  # a NaN end covers nothing
        return hits, len(b), int(np.sum(b[:, 1] < truth)), int(np.sum(b[:, 0] > truth))

    def width(self, band: str, q: int) -> float:
        b = self.stack(band)[:, :, q]
        return float(np.median(np.nan_to_num((b[:, 1] - b[:, 0]) / self.truth.values[q], nan=np.inf)))


def share_text(hits: int, n: int) -> str:
    lo, hi = wilson(hits, n)
    return f"{100 * hits / n:.0f}% ({100 * lo:.0f}-{100 * hi:.0f})"


def tables(cells, forms: str) -> tuple[str, list]:
    slash = " / ".join(forms)
    head = ["| cell | quantity | truth | studies | default coverage (Wilson 95%) | misses low / high | robust coverage "
            "(Wilson 95%) | misses low / high | default width / truth | robust width / truth | width ratio robust / "
            "default | form share of variance (median) |", "|" + "---|" * 12]
    per_cell = [f"| cell | truth term | studies | point weights {slash} | resampled weights {slash} | Chinchilla "
                f"diagnostic fires: either (held-out / residuals) | {' / '.join(forms[1:])} fire | point score "
                f"{' / '.join(f'{f} - C' for f in forms[1:])} (median) | rejected {slash} | FormWarning studies | "
                f"lowest converged share {slash} | full fits not at success {slash} | failed | warnings (studies) | "
                "s per study (median) |", "|" + "---|" * 15]
    goals = {"coverage": [], "held out": [], "width": [], "fires": [], "quiet": []}
    for cell in cells:
        if not cell.results:
            per_cell.append(f"| {cell.name} | {cell.truth.describe()} | 0 | - | - | - | - | - | - | - | - | - | "
                            f"{len(cell.failures)} | {cell.warnings_text()} | - |")
            continue
        share = np.median(cell.stack("form_share"), axis=0)
        for q, quantity in enumerate(QUANTITIES):
            dh, n, dl_low, dl_high = cell.coverage("default", q)
            rh, _, rl_low, rl_high = cell.coverage("robust", q)
            dw, rw = cell.width("default", q), cell.width("robust", q)
            head.append(f"| {cell.name} | {quantity} | {cell.truth.values[q]:.5g} | {n} | {share_text(dh, n)} | "
                        f"{dl_low} / {dl_high} | {share_text(rh, n)} | {rl_low} / {rl_high} | {dw:.4g} | {rw:.4g} | "
                        f"{rw / dw:.2f} | {share[q]:.2f} |")
            goals["held out" if cell.name in NOT_TUNED else "coverage"].append((cell.name, quantity, rh / n))
            if cell.name == "interaction-0":
                goals["width"].append((quantity, rw / dw))
        n = len(cell.results)
        held, resid = cell.stack("held_fires"), cell.stack("resid_fires")
        either = held | resid
        form_fires = cell.stack("form_fires").mean(axis=0)
        fmt = " / ".join
        per_cell.append(
            f"| {cell.name} | {cell.truth.describe()} (median share {100 * cell.truth.share_median:.2f}%) | {n} | "
            f"{fmt(f'{w:.2f}' for w in cell.stack('point_weights').mean(axis=0))} | "
            f"{fmt(f'{w:.2f}' for w in np.nanmean(cell.stack('weights'), axis=0))} | "
            f"{share_text(int(either.sum()), n)} ({100 * held.mean():.0f}% / {100 * resid.mean():.0f}%) | "
            f"{fmt(f'{100 * f:.0f}%' for f in form_fires[1:])} | "
            f"{fmt(f'{g:.1f}' for g in np.median(cell.stack('score_gap'), axis=0))} | "
            f"{fmt(f'{100 * r:.0f}%' for r in cell.stack('rejected').mean(axis=0))} | {cell.form_warned} | "
            f"{fmt(f'{c:.2f}' for c in cell.stack('converged').min(axis=0))} | "
            f"{fmt(str(int(u)) for u in (~cell.stack('fit_converged')).sum(axis=0))} | {len(cell.failures)} | "
            f"{cell.warnings_text()} | {np.median(cell.seconds):.1f} |")
        if cell.name == "interaction-2.5":
            goals["fires"].append(either.mean())
        if cell.name == "interaction-0":
            goals["quiet"].append(1 - either.mean())
    lines = []
    for key, what in (("coverage", "in every cell tuned on"), ("held out", f"in the cells not tuned on "
                                                                          f"({', '.join(NOT_TUNED)})")):
        if goals[key]:
            worst = min(goals[key], key=lambda g: g[2])
            lines.append(f"- form-robust coverage >= 90% {what}: lowest {100 * worst[2]:.0f}% ({worst[0]}, "
                         f"{worst[1]}): {'met' if worst[2] >= 0.9 else 'NOT met'}")
    if goals["width"]:
        widest = max(goals["width"], key=lambda g: g[1])
        lines.append(f"- robust at most 1.5x the default's width where the form is right (interaction-0): widest "
                     f"{widest[1]:.2f}x ({widest[0]}): {'met' if widest[1] <= 1.5 else 'NOT met'}")
    if goals["fires"]:
        fired = goals["fires"][0]
        lines.append(f"- diagnostic fires in interaction-2.5 (more than half the studies): {100 * fired:.0f}%: "
                     f"{'met' if fired > 0.5 else 'NOT met'}")
    if goals["quiet"]:
        lines.append(f"- diagnostic quiet in interaction-0 in >= 95% of studies: {100 * goals['quiet'][0]:.0f}%: "
                     f"{'met' if goals['quiet'][0] >= 0.95 else 'NOT met'}")
    names = {"C": "chinchilla", "I": "chinchilla+interaction", "B": "chinchilla+break-N", "D": "chinchilla+break-D",
             "V": "chinchilla+drift", "K": "kaplan"}
    body = ("\n".join(head) + f"\n\nPer cell: {', '.join(f'{f} {names[f]}' for f in forms)}; weights are means over "
            "the studies; 'fires' and 'rejected' are shares of studies.\n\n" + "\n".join(per_cell))
    return body, lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=None, help=f"simulated studies per cell (default "
                                                                   f"{DEFAULT_STUDIES}; 4 with --quick)")
    parser.add_argument("--resamples", type=int, default=None, help=f"bootstrap resamples per study (default "
                                                                    f"{DEFAULT_RESAMPLES}; 100 with --quick)")
    parser.add_argument("--quick", action="store_true", help="4 studies, 100 resamples, print only")
    parser.add_argument("--cells", default=",".join(CELLS),
                        help=f"comma-separated cells: {', '.join(CELLS)} (default all {len(CELLS)})")
    parser.add_argument("--forms", default=DEFAULT_FORMS,
                        help=f"the candidate forms by letter, Chinchilla first (default {DEFAULT_FORMS}): C "
                             "chinchilla, I +interaction, B +break-N, D +break-D, V +drift, K kaplan")
    parser.add_argument("--chinchilla-starts", type=int, default=1, metavar="STEP",
                        help="fit the Chinchilla form from every STEP-th start of its 4,500-start grid (default 1: "
                             "all; 113 gives 40 starts, which reached the 4,500 starts' optimum, objective within "
                             "4e-15 relative, in the 6 simulated studies checked)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prior", default=None, help="prior probabilities of the forms, in --forms order (e.g. "
                                                      "1,1,30; default equal): jscale.bootstrap_forms(..., prior=...)")
    parser.add_argument("--holdout", type=float, default=0.25,
                        help="share of the distinct 6ND values held out to score the forms (default 0.25): "
                             "jscale.bootstrap(..., holdout=...)")
    parser.add_argument("--score", choices=SCORES, default=SCORES[0],
                        help="jscale.bootstrap(..., score=...): held-out+trend (jscale's default: held-out skill, "
                             "each form's scores charged max(0, chi2/2 - dof) of its residual test) or held-out "
                             "(the skill alone; jscale's rule before 707e16b)")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    studies = args.studies if args.studies is not None else (4 if args.quick else DEFAULT_STUDIES)
    resamples = args.resamples if args.resamples is not None else (100 if args.quick else DEFAULT_RESAMPLES)
    names = [c.strip() for c in args.cells.split(",") if c.strip()]
    unknown = [c for c in names if c not in CELLS]
    if unknown:
        parser.error(f"unknown cell {unknown[0]!r}; choose from {', '.join(CELLS)}")
    forms = args.forms
    if not forms.startswith("C") or len(set(forms)) != len(forms) or not set(forms) <= set(ALL_FORMS):
        parser.error(f"--forms takes distinct letters of {''.join(ALL_FORMS)}, C first; got {forms!r}")
    prior = None
    if args.prior is not None:
        try:
            prior = [float(p) for p in args.prior.split(",")]
        except ValueError:
            parser.error(f"--prior takes {len(forms)} numbers, e.g. 1,1,30; got {args.prior!r}")
        if len(prior) != len(forms) or min(prior) <= 0:
            parser.error(f"--prior takes {len(forms)} positive numbers ({', '.join(forms)}), e.g. 1,1,30; got "
                         f"{args.prior!r}")
    if args.chinchilla_starts < 1:
        parser.error(f"--chinchilla-starts takes a step >= 1; got {args.chinchilla_starts}")
    if not 0 < args.holdout < 1:
        parser.error(f"--holdout takes a share in (0, 1); got {args.holdout}")
    scoring = dict(prior=prior, holdout=args.holdout, score=args.score)
    measured = commit()  # read before the run: the tree may change while it runs

    chinchilla = jscale.datasets.load("chinchilla")
    configs = (np.asarray(chinchilla.n_params, np.float64), np.asarray(chinchilla.n_tokens, np.float64))
    cells = [Cell(name, configs) for name in names]
    plain = optimal_n(base_loss, C_STAR)
    exact = float(jscale.compute_optimal(CHINCHILLA, [C_STAR], params=EPOCH).n_params[0])
    print(f"{len(configs[0])} configurations; N* at {C_STAR:.0e} of the plain truth: compute_optimal {exact:.6g}, "
          f"grid + Brent {plain:.6g} (ratio - 1 = {plain / exact - 1:.1e})", flush=True)
    for cell in cells:
        if cell.name != "interaction-0":
            cell.truth.gap = refit_gap(cell.truth, configs)
        print(f"{cell.name}: {cell.truth.describe()}, median share of the term {100 * cell.truth.share_median:.3f}%; "
              "truths " + ", ".join(f"{q} {v:.6g}" for q, v in zip(QUANTITIES, cell.truth.values))
              + (f"; {cell.truth.gap_text()}" if cell.truth.gap else ""), flush=True)

    t_all = time.perf_counter()
    for s in range(studies):
        for cell in cells:
            cell.run(s, args.seed, resamples, forms, args.chinchilla_starts, **scoring)
            if s == 0 or (s + 1) % 10 == 0 or args.quick:
                r = cell.results.get(s)
                text = "failed" if r is None else (
                    f"weights {' / '.join(f'{w:.2f}' for w in r['point_weights'])}, robust N* "
                    f"({r['robust'][0, 2]:.3g}, {r['robust'][1, 2]:.3g}), default ({r['default'][0, 2]:.3g}, "
                    f"{r['default'][1, 2]:.3g}), converged {' / '.join(f'{c:.2f}' for c in r['converged'])}, fires "
                    f"{int(r['held_fires'])}/{int(r['resid_fires'])}")
                print(f"study {s + 1}/{studies} {cell.name:>16}: {text}, {cell.seconds[-1]:.1f} s", flush=True)
    total = time.perf_counter() - t_all

    body, goals = tables(cells, forms)
    failures = [f"{c.name}: {f}" for c in cells for f in c.failures[:3]]
    table = body
    if failures:
        table += "\n\nFirst failures: " + "; ".join(failures)
    table += "\n\nGoals (issues 20 and 33):\n\n" + "\n".join(goals)
    table += f"\n\nTotal time {total:.0f} s (the first study of each cell includes compilation)."
    print(table)
    if not (args.no_append or args.quick):
        command = command_line("bench_forms.py", argv)
        gs = ", ".join(f"{c.name} G = {c.truth.g:.4g}" for c in cells if c.truth.kind == "interaction")
        offset = "; ".join(f"N_e = {c.truth.n_e:.4g}" for c in cells if c.truth.kind == "offset") or "not run"
        note = (f"{studies} simulated studies per cell, {resamples} row resamples each, on the 240 (N, D) of the "
                "bundled Chinchilla data. Truth: Chinchilla (E 1.82, A 482, B 2085, alpha 0.348, beta 0.366) plus, "
                "in interaction-x, G/(N D)^0.25 with G such that the median over the runs of term / true loss is x% "
                f"({gs or 'none run'}), or, in break-N, A/N^alpha replaced by A/N^alpha (1 + N/1e9)^(-0.1), or, in "
                f"offset-N, by A/(N + N_e)^alpha, median share 1% ({offset}); or, in drift-N, drift-D, break-D and "
                "coupled, a drifting N or D exponent, a break in the D exponent above 1e10 tokens, or terms that add "
                "as a c-norm, each 1.5% above the plain law at the largest-compute run (strengths: "
                + ("; ".join(f"{c.name} {c.truth.describe()}" for c in cells if c.truth.kind in STRENGTH) or "not run")
                + f"); observed loss = truth x exp({SIGMA} z), z ~ N(0, 1). Each study: jscale.bootstrap_forms(["
                + ", ".join(ALL_FORMS[f].name for f in forms) + "] (the custom forms: see the docstring), data, "
                f"key=study, n_resamples=R, jackknife=False, Chinchilla fitted from every {args.chinchilla_starts}-th "
                "start of its grid"
                + (f", prior={prior}" if prior else "") + (f", holdout={args.holdout}" if args.holdout != 0.25 else "")
                + (f", score={args.score!r}" + (": each form's scores charged max(0, chi2/2 - dof) of its residual "
                                                 "test" if args.score == "held-out+trend" else ""))
                + f") (forms scored on the top {args.holdout:.0%} of the distinct 6ND values); default bands: 95% "
                "percentile bands of ens.members[0] "
                "(= jscale.bootstrap(Chinchilla(), ...) with the same key); form-robust: the mixture's 95% bands "
                f"(ens.predict, ens.compute_optimal), widened for the stated form error (form_error={FORM_ERROR}). "
                "Quantities: loss at (7e10, 1.4e12) and (3e11, 6e12), N* at "
                "1e24 FLOP (6ND; truth by compute_optimal for the plain truth, else a grid + Brent search along "
                "6ND = 1e24). Width = (high - low) / truth, median over studies. Diagnostic = the Chinchilla form's "
                f"held-out or residual TrendTest fires (p < {TREND_P} each). Noise rng (seed, cell index, study). See "
                "the docstring of benchmarks/bench_forms.py for the starts and the rest.")
        append_results("Form-robust intervals: a mixture of forms against the default bands (known truth)", command,
                       measured, note, table)


if __name__ == "__main__":
    main()
