"""Experiment design by simulation: an isoFLOP grid against a pilot plus suggested batches, equal compute.

    python benchmarks/bench_design.py                    # 50 studies per cell, appends to RESULTS.md
    python benchmarks/bench_design.py --quick            # 4 studies, 100 resamples, prints only
    python benchmarks/bench_design.py --studies 20 --designs grid,designed --noise gaussian --no-append

The truth is Chinchilla with Epoch AI's estimate (E 1.82, A 482, B 2085, alpha 0.348, beta
0.366). A run at (N, D) observes L(N, D) exp(s z): z standard normal ("gaussian") or Student t
with 3 degrees of freedom scaled to unit variance ("t3"), s = 0.0075. That s is the sd of the log
residuals of `jscale.fit(Chinchilla(), load("chinchilla"))` on the 240 bundled runs (0.0075;
their MAD-based sd is 0.0049 and their kurtosis 17); the t3 variant matches both the sd and the
MAD of those residuals, the Gaussian one only their sd.

The target is N* at C_target = 1e22 FLOP, 100x the largest training budget (1e20); the error of a
study is log10 N*_hat(C_target) - log10 N*_true(C_target), N*_hat from
`jscale.compute_optimal(final_fit, C_target)` of an Approach 3 fit (`jscale.fit`, Hoffmann's 4,500
starts, Huber) on all of that study's runs. Compute is 6ND.

Designs (every one centred on the *true* N* of its budgets, a best case for fixed grids):

* grid: 5 isoFLOP budgets 1e18 to 1e20 (evenly in log C) x 9 sizes from N*/4 to 4 N*
  (`jscale.plan_isoflop(span=4)`): 45 runs, T = 1.312e21 FLOP.
* designed: a pilot isoFLOP grid of 1e18, 1e19 and 1e20 x 5 sizes (N*/4 to 4 N*): 15 runs, 5.55e20
  (42% of T). Then 3 batches: fit, `jscale.bootstrap` (R resamples, warm starts, no jackknife),
  `jscale.suggest_runs(boot, quantity="n_params", compute=C_target, budget=..., budgets=the grid's
  5 budgets, n=2000, max_repeats=2)` (13 candidates per budget along its iso-FLOP curve; n never
  binds), the picked runs simulated from the truth, refit. Fits that only plan a batch start from
  500 of Hoffmann's starts (see PLAN_STARTS). Each batch may spend a third of T - pilot; the last
  one what is left, so the totals agree to within the cheapest run (1e18, < 0.1% of T).
* Variants (extra rows; the designed ones share the pilot's noise draws with "designed"):
  - designed-rep: no cap on repeats (max_repeats=10000): the greedy may return to its best candidates.
  - designed-curv: the variance from the fit's curvature (a FitResult) instead of the bootstrap.
  - designed-small: a pilot of 1e18 and 1e19 x 5 sizes only (10 runs, 4% of T), then the same 3
    batches with max_repeats=2: the "small pilot" of the issue, and the default run.
  - designed-small-rep: the small pilot, no cap on repeats.
  - designed-top: candidates only at 1e19, 3.2e19 and 1e20 (no run cheaper than 1e19).
  - designed-1batch: one batch of all that is left after the pilot (no refit in between).
  - oracle: the same pilot, then the c-optimal allocation of what is left, computed from the truth
    (the share of compute per candidate of `suggest_runs`' kind, 13 per budget from 1/8 to 8 times
    the true optimal tokens per parameter, minimising the linearised variance of log N*), rounded to
    whole runs: the best that any design from these candidates could do, up to the linearisation.
  - grid-w8: the grid with sizes from N*/8 to 8 N* (tokens per parameter 1/64 to 64 times the
    optimum's, against 1/16 to 16 for width 4).

The linearised sd is the Cramer-Rao sd of log10 N*(C_target) of a least-squares fit to a study's
runs under Gaussian noise s, at the truth: sqrt(g^T (J^T J)^-1 g) s / ln 10, J the Jacobian of
the log loss over the runs, g the gradient of log N*. It depends only on where the runs are, so it
says how much of a design's gain is its allocation (the Huber fit with delta 1e-3 is close to
least absolute deviations at this noise, so its errors run larger by a similar factor for every
design).

Per cell: median and mean |error| with 95% intervals (the median's from order statistics, the
mean's from a bootstrap over studies), the median signed error (bias), the ratios of the median
and of the mean |error| to the grid's at the same noise (bootstrap over paired studies) and the share of studies
in which the design beats the grid (Wilson interval), the coverage of the 95% percentile interval
of the final bootstrap and of the delta-method interval of the final fit (Wilson intervals),
compute spent, runs. A second table says where the designed studies spent their compute: the share
at each budget and the range of tokens per parameter of the suggested runs. Warnings (jscale's
diagnostics and numpy's RuntimeWarning) are silenced in the loop and counted per kind (studies that
raised each kind at least once); a study that raised is counted apart and left out.
"""

from __future__ import annotations

import argparse
import collections
import time
import warnings

import numpy as np
from bench_chinchilla_grid import append_results, command_line, commit  # same folder
from bench_downstream import wilson as _wilson  # same folder

import jscale

EPOCH = dict(E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)
LAW = jscale.laws.Chinchilla()
SIGMA = 0.0075  # sd of the log residuals of the Huber fit to the bundled Chinchilla data
GRID_BUDGETS = np.geomspace(1e18, 1e20, 5)
GRID_SIZES = 9
PILOT_BUDGETS = np.array([1e18, 1e19, 1e20])
PILOT_SIZES = 5
WIDTH = 4.0
C_TARGET = 100 * GRID_BUDGETS[-1]
N_TRUE = float(LAW.compute_optimal(EPOCH, C_TARGET)[0])
LEVEL = 0.95
# Fits that only plan the next batch start from every 9th of Hoffmann's 4,500 starts (500): on 45
# simulated pilot and pilot + batch data sets they reached the full grid's optimum every time (N* the
# same to 1e-7 in log10). The final fit of every design, which the error is measured on, uses all.
PLAN_STARTS = LAW.default_starts()[::9]
PILOT_SMALL = np.array([1e18, 1e19])
NO_CAP = 10_000  # max_repeats that never binds
DESIGNS = {
    "grid": dict(kind="grid", width=WIDTH),
    "designed": dict(kind="designed", source="bootstrap", max_repeats=2, budgets=GRID_BUDGETS, batches=3),
    "designed-curv": dict(kind="designed", source="curvature", max_repeats=2, budgets=GRID_BUDGETS, batches=3),
    "designed-rep": dict(kind="designed", source="bootstrap", max_repeats=NO_CAP, budgets=GRID_BUDGETS, batches=3),
    "designed-top": dict(kind="designed", source="bootstrap", max_repeats=2, budgets=GRID_BUDGETS[2:], batches=3),
    "designed-1batch": dict(kind="designed", source="bootstrap", max_repeats=2, budgets=GRID_BUDGETS, batches=1),
    "designed-small": dict(kind="designed", source="bootstrap", max_repeats=2, budgets=GRID_BUDGETS, batches=3,
                           pilot=PILOT_SMALL),
    "designed-small-rep": dict(kind="designed", source="bootstrap", max_repeats=NO_CAP, budgets=GRID_BUDGETS,
                               batches=3, pilot=PILOT_SMALL),
    "oracle": dict(kind="oracle"),
    "grid-w8": dict(kind="grid", width=8.0),
}
NOISES = ("gaussian", "t3")
DEFAULT_DESIGNS = "grid,designed,designed-small"


def wilson(hits: int, n: int) -> tuple[float, float]:
    """Wilson 95% interval of a share, clipped to [0, 1] (rounding can put an end just outside)."""
    low, high = _wilson(hits, n)
    return max(low, 0.0), min(high, 1.0)


def true_loss(n, d):
    return EPOCH["E"] + EPOCH["A"] / n ** EPOCH["alpha"] + EPOCH["B"] / d ** EPOCH["beta"]


def isoflop(budgets, n_sizes, width=WIDTH):
    plan = jscale.plan_isoflop(budgets, LAW, params=EPOCH, n_sizes=n_sizes, span=width)
    return np.asarray(plan.n_params), np.asarray(plan.n_tokens)


GRID_N, GRID_D = isoflop(GRID_BUDGETS, GRID_SIZES)
TOTAL = float(np.sum(6 * GRID_N * GRID_D))


# --- the linearised truth: what a design could do at best ----------------------------------------------
# Free parameters (log E, log A, log B, alpha, beta) at the truth. With homoscedastic noise, a least-
# squares or Huber fit's covariance is proportional to (J^T J)^-1 (J: the log-loss Jacobian over the
# runs), so the sd of log N* is proportional to sqrt(g^T (J^T J)^-1 g), g the gradient of log N*.
THETA = np.array([np.log(EPOCH["E"]), np.log(EPOCH["A"]), np.log(EPOCH["B"]), EPOCH["alpha"], EPOCH["beta"]])


def _log_loss(theta, n, d):
    return np.log(np.exp(theta[0]) + np.exp(theta[1]) / n ** theta[3] + np.exp(theta[2]) / d ** theta[4])


def _log_n_star(theta):
    alpha, beta = theta[3], theta[4]
    g = (alpha * np.exp(theta[1]) / (beta * np.exp(theta[2]))) ** (1 / (alpha + beta))
    return np.log(g) + beta / (alpha + beta) * np.log(C_TARGET / 6)


def _jacobian(f, h=1e-6):
    cols = []
    for i in range(len(THETA)):
        step = np.zeros(len(THETA))
        step[i] = h
        cols.append((f(THETA + step) - f(THETA - step)) / (2 * h))
    return np.stack(cols, -1)


GRAD = _jacobian(lambda t: np.atleast_1d(_log_n_star(t)))[0]


def linear_sd(n, d) -> float:
    """sd of log10 N*(C_target) of a least-squares fit to runs (n, d) with Gaussian noise SIGMA,
    linearised at the truth (the Cramer-Rao bound)."""
    jac = _jacobian(lambda t: _log_loss(t, np.asarray(n), np.asarray(d)))
    return float(np.sqrt(GRAD @ np.linalg.solve(jac.T @ jac, GRAD)) * SIGMA / np.log(10))


def true_candidates(budgets):
    """suggest_runs' candidates at the truth: 13 per budget, tokens per parameter 1/8 to 8 times the
    true optimum's."""
    n, d = [], []
    for c in budgets:
        n_star = float(LAW.compute_optimal(EPOCH, c)[0])
        for r in c / (6 * n_star ** 2) * np.geomspace(1 / 8, 8, 13):
            n.append(np.sqrt(c / (6 * r)))
            d.append(r * n[-1])
    return np.array(n), np.array(d)


def oracle_runs(pilot_n, pilot_d):
    """The c-optimal allocation of what the pilot leaves of T over the true candidates (the share of
    compute per candidate minimising the linearised variance of log N*, by L-BFGS over softmax
    weights), rounded to whole runs; leftovers go to the candidates furthest below their share."""
    from scipy.optimize import minimize

    n, d = true_candidates(GRID_BUDGETS)
    cost = 6 * n * d
    left = TOTAL - float(np.sum(6 * pilot_n * pilot_d))
    jac = _jacobian(lambda t: _log_loss(t, n, d))
    pilot_jac = _jacobian(lambda t: _log_loss(t, pilot_n, pilot_d))
    base = pilot_jac.T @ pilot_jac

    def variance(z):
        share = np.exp(z - z.max())
        share /= share.sum()
        info = base + (jac * (share * left / cost)[:, None]).T @ jac
        return np.log(GRAD @ np.linalg.solve(info, GRAD))

    best = min((minimize(variance, np.random.default_rng(s).normal(size=len(n)), method="L-BFGS-B")
                for s in range(4)), key=lambda r: r.fun)
    share = np.exp(best.x - best.x.max())
    share /= share.sum()
    wanted = share * left / cost
    count = np.floor(wanted).astype(int)
    while True:
        spare = left - float(count @ cost)
        fits = cost <= spare * (1 + 1e-9)
        if not fits.any():
            break
        k = int(np.argmax(np.where(fits, wanted - count, -np.inf)))
        count[k] += 1
    return np.repeat(n, count), np.repeat(d, count)


class Runs:
    """A study's runs so far and its noise stream: each new run takes the next draw."""

    def __init__(self, rng, noise: str):
        self.rng, self.noise = rng, noise
        self.n, self.d, self.loss, self.stage = [], [], [], []

    def train(self, n, d, stage: int):
        n, d = np.asarray(n, np.float64), np.asarray(d, np.float64)
        if self.noise == "gaussian":
            z = self.rng.normal(size=n.size)
        else:
            z = self.rng.standard_t(3, size=n.size) / np.sqrt(3.0)  # unit variance
        self.n += list(n)
        self.d += list(d)
        self.loss += list(true_loss(n, d) * np.exp(SIGMA * z))
        self.stage += [stage] * n.size

    def data(self):
        return jscale.ScalingData.from_arrays(n_params=np.array(self.n), n_tokens=np.array(self.d),
                                              loss=np.array(self.loss))

    def spent(self) -> float:
        return float(np.sum(6 * np.array(self.n) * np.array(self.d)))


def final(runs: Runs, key: int, n_resamples: int) -> dict:
    data = runs.data()
    fit = jscale.fit(LAW, data)
    boot = jscale.bootstrap(LAW, data, key=key, n_resamples=n_resamples, full_fit=fit, jackknife=False)
    estimate = float(jscale.compute_optimal(fit, C_TARGET).n_params[0])
    boot_band = jscale.compute_optimal(boot, C_TARGET).interval("n_params", LEVEL)
    delta_band = jscale.compute_optimal(fit, C_TARGET).interval("n_params", LEVEL)
    n, d = np.array(runs.n), np.array(runs.d)
    return dict(error=np.log10(estimate / N_TRUE),
                boot_covers=bool(boot_band[0][0] <= N_TRUE <= boot_band[1][0]),
                delta_covers=bool(delta_band[0][0] <= N_TRUE <= delta_band[1][0]),
                compute=runs.spent(), runs=len(runs.n), n=n, d=d, stage=np.array(runs.stage),
                linear_sd=linear_sd(n, d), sd_pilot=None)


def grid_study(rng, noise, key, n_resamples, spec):
    runs = Runs(rng, noise)
    runs.train(*isoflop(GRID_BUDGETS, GRID_SIZES, spec["width"]), 0)
    return final(runs, key, n_resamples)


_ORACLE = {}


def oracle_study(rng, noise, key, n_resamples, spec):
    runs = Runs(rng, noise)
    pilot = isoflop(PILOT_BUDGETS, PILOT_SIZES)
    runs.train(*pilot, 0)
    if "runs" not in _ORACLE:
        _ORACLE["runs"] = oracle_runs(*pilot)
    runs.train(*_ORACLE["runs"], 1)
    return final(runs, key, n_resamples)


def designed_study(rng, noise, key, n_resamples, spec):
    runs = Runs(rng, noise)
    runs.train(*isoflop(spec.get("pilot", PILOT_BUDGETS), PILOT_SIZES), 0)
    per_batch = (TOTAL - runs.spent()) / spec["batches"]
    sd_pilot = None
    for b in range(spec["batches"]):
        data = runs.data()
        fit = jscale.fit(LAW, data, starts=PLAN_STARTS)
        source = fit
        if spec["source"] == "bootstrap":
            source = jscale.bootstrap(LAW, data, key=key + 1000 * (b + 1), n_resamples=n_resamples, full_fit=fit,
                                      jackknife=False)
        budget = TOTAL - runs.spent() if b == spec["batches"] - 1 else per_batch
        # n never binds: the budget (or max_repeats) stops the greedy.
        plan = jscale.suggest_runs(source, quantity="n_params", compute=C_TARGET, budget=budget, n=2000,
                                   budgets=spec["budgets"], max_repeats=spec["max_repeats"])
        if b == 0:
            sd_pilot = plan.sd_before
        runs.train(plan.n_params, plan.n_tokens, b + 1)
    out = final(runs, key, n_resamples)
    out["sd_pilot"] = sd_pilot
    return out


STUDIES = {"grid": grid_study, "designed": designed_study, "oracle": oracle_study}


class Cell:
    def __init__(self, design: str, noise: str):
        self.design, self.noise = design, noise
        self.results = {}  # study -> dict
        self.failures = []
        self.kinds = collections.Counter()
        self.seconds = []

    def run(self, study: int, seed: int, n_resamples: int):
        spec = DESIGNS[self.design]
        fn = STUDIES[spec["kind"]]
        # Every designed variant draws its noise from one stream per study (common random numbers:
        # the pilot's runs are the same in all of them); the grid from another.
        rng = np.random.default_rng([seed, NOISES.index(self.noise), study, spec["kind"] != "grid"])
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.results[study] = fn(rng, self.noise, 10_000 * seed + study, n_resamples, spec)
            except (ValueError, RuntimeError, FloatingPointError) as err:  # ConvergenceError is a RuntimeError
                self.failures.append(f"study {study}: {type(err).__name__}: {str(err)[:120]}")
        for kind in {w.category.__name__ for w in caught}:
            self.kinds[kind] += 1
        self.seconds.append(time.perf_counter() - start)

    def values(self, name):
        return np.array([r[name] for r in self.results.values()])

    def warnings_text(self):
        return ", ".join(f"{k.removesuffix('Warning')} {v}" for k, v in sorted(self.kinds.items())) or "none"


def median_interval(x, level=LEVEL):
    """Distribution-free interval of the median from order statistics (binomial ranks)."""
    from scipy.stats import binom

    x = np.sort(np.asarray(x))
    n = len(x)
    lo = int(binom.ppf((1 - level) / 2, n, 0.5))  # rank (1-based) of the lower end
    lo = max(lo, 1)
    hi = n + 1 - lo
    return x[lo - 1], x[hi - 1]


def boot_stat(rng, samples, stat, n=4000):
    """Percentile interval of stat(*samples) over paired resamples of the studies."""
    size = len(samples[0])
    idx = rng.integers(0, size, size=(n, size))
    values = np.array([stat(*(s[i] for s in samples)) for i in idx])
    return np.quantile(values, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])


def budget_of(n, d):
    """The index of the grid budget a run's 6ND is (all runs here sit on one)."""
    return np.argmin(np.abs(np.log(6 * n * d)[:, None] - np.log(GRID_BUDGETS)[None, :]), axis=1)


def rows_for(cells, rng):
    lines, where = [], []
    for cell in cells:
        if not cell.results:
            continue
        err = cell.values("error")
        abs_err = np.abs(err)
        med_lo, med_hi = median_interval(abs_err)
        mean_lo, mean_hi = boot_stat(rng, [abs_err], np.mean)
        boot_hits, delta_hits = int(cell.values("boot_covers").sum()), int(cell.values("delta_covers").sum())
        bl, bh = wilson(boot_hits, len(err))
        dl, dh = wilson(delta_hits, len(err))
        grid = next((c for c in cells if c.design == "grid" and c.noise == cell.noise), None)
        if cell.design != "grid" and grid is not None:
            common = sorted(set(cell.results) & set(grid.results))
            mine = np.abs(np.array([cell.results[s]["error"] for s in common]))
            theirs = np.abs(np.array([grid.results[s]["error"] for s in common]))
            ratio = np.median(mine) / np.median(theirs)
            r_lo, r_hi = boot_stat(rng, [mine, theirs], lambda a, b: np.median(a) / np.median(b))
            mean_ratio = np.mean(mine) / np.mean(theirs)
            m_lo, m_hi = boot_stat(rng, [mine, theirs], lambda a, b: np.mean(a) / np.mean(b))
            wins = int(np.sum(mine < theirs))
            w_lo, w_hi = wilson(wins, len(common))
            vs = (f"{ratio:.2f} ({r_lo:.2f}-{r_hi:.2f}) | {mean_ratio:.2f} ({m_lo:.2f}-{m_hi:.2f}) | "
                  f"{100 * wins / len(common):.0f}% ({100 * w_lo:.0f}-{100 * w_hi:.0f})")
        else:
            vs = "1 | 1 | -"
        compute = cell.values("compute")
        lines.append(f"| {cell.design} | {cell.noise} | {len(err)} | {np.median(cell.values('runs')):.0f} | "
                     f"{np.median(compute):.4g} ({np.min(compute) / TOTAL:.3f}-{np.max(compute) / TOTAL:.3f}) | "
                     f"{np.median(abs_err):.4f} ({med_lo:.4f}-{med_hi:.4f}) | "
                     f"{np.mean(abs_err):.4f} ({mean_lo:.4f}-{mean_hi:.4f}) | {np.median(err):+.4f} | {vs} | "
                     f"{np.median(cell.values('linear_sd')):.4f} | "
                     f"{100 * boot_hits / len(err):.0f}% ({100 * bl:.0f}-{100 * bh:.0f}) | "
                     f"{100 * delta_hits / len(err):.0f}% ({100 * dl:.0f}-{100 * dh:.0f}) | "
                     f"{len(cell.failures)} | {cell.warnings_text()} | {np.median(cell.seconds):.1f} |")
        if DESIGNS[cell.design]["kind"] != "grid":
            shares, ratios, counts, sd_pilot = [], [], [], []
            for r in cell.results.values():
                c = 6 * r["n"] * r["d"]
                k = budget_of(r["n"], r["d"])
                new = r["stage"] > 0
                shares.append([c[new & (k == j)].sum() / c[new].sum() for j in range(len(GRID_BUDGETS))])
                ratios.append(r["d"][new] / r["n"][new])
                counts.append([int(np.sum(new & (k == j))) for j in range(len(GRID_BUDGETS))])
                sd_pilot.append(r["sd_pilot"])
            shares, counts = np.mean(shares, axis=0), np.median(counts, axis=0)
            known = [v for v in sd_pilot if v is not None]
            pilot_sd = f"{np.median(known) / np.log(10):.3f}" if known else "-"
            ratios = np.concatenate(ratios)
            n_opt = np.array([LAW.compute_optimal(EPOCH, c)[0] for c in GRID_BUDGETS])
            opt_ratio = (GRID_BUDGETS / 6 / n_opt ** 2)
            # Relative to the true optimum's tokens per parameter at the run's budget.
            rel = np.concatenate([r["d"][r["stage"] > 0] / r["n"][r["stage"] > 0]
                                  / opt_ratio[budget_of(r["n"], r["d"])[r["stage"] > 0]]
                                  for r in cell.results.values()])
            where.append(f"| {cell.design} | {cell.noise} | "
                         + " | ".join(f"{100 * s:.0f}% ({c:.0f})" for s, c in zip(shares, counts))
                         + f" | {np.min(ratios):.1f} / {np.median(ratios):.1f} / {np.max(ratios):.0f} | "
                         f"{100 * np.mean(rel < 1):.0f}% / {100 * np.mean(rel > 1):.0f}% | "
                         f"{100 * np.mean((rel < 1 / 4) | (rel > 4)):.0f}% | {pilot_sd} |")
    return lines, where


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=None, help="simulated studies per cell (default 50; 4 with "
                                                                   "--quick)")
    parser.add_argument("--resamples", type=int, default=None, help="bootstrap resamples per fit (default 200; 100 "
                                                                    "with --quick)")
    parser.add_argument("--quick", action="store_true", help="4 studies, 100 resamples, print only")
    parser.add_argument("--designs", default=DEFAULT_DESIGNS,
                        help=f"comma-separated designs: {', '.join(DESIGNS)} (default {DEFAULT_DESIGNS})")
    parser.add_argument("--noise", default="gaussian,t3", help="comma-separated noises: gaussian, t3 (default both)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    studies = args.studies if args.studies is not None else (4 if args.quick else 50)
    resamples = args.resamples if args.resamples is not None else (100 if args.quick else 200)
    designs = [d.strip() for d in args.designs.split(",") if d.strip()]
    noises = [n.strip() for n in args.noise.split(",") if n.strip()]
    for name, given, known in (("design", designs, DESIGNS), ("noise", noises, NOISES)):
        unknown = [g for g in given if g not in known]
        if unknown:
            parser.error(f"unknown {name} {unknown[0]!r}; choose from {', '.join(known)}")
    measured = commit()  # read before the run: the tree may change while it runs
    pilot = isoflop(PILOT_BUDGETS, PILOT_SIZES)
    print(f"T = {TOTAL:.4g} FLOP; pilot {np.sum(6 * pilot[0] * pilot[1]):.4g}; C_target {C_TARGET:.0e}; "
          f"true N* {N_TRUE:.4g}; linearised sd of log10 N*: grid {linear_sd(GRID_N, GRID_D):.4f}, pilot "
          f"{linear_sd(*pilot):.4f}", flush=True)

    cells = [Cell(d, n) for n in noises for d in designs]
    t_all = time.perf_counter()
    for study in range(studies):
        for cell in cells:
            cell.run(study, args.seed, resamples)
            if study == 0 or (study + 1) % 10 == 0:
                r = cell.results.get(study)
                print(f"study {study + 1}/{studies} {cell.design:>16} {cell.noise:>8}: "
                      + (f"error {r['error']:+.4f}, {r['runs']} runs, {r['compute']:.4g} FLOP, "
                         if r else "failed, ") + f"{cell.seconds[-1]:.1f} s", flush=True)
    total = time.perf_counter() - t_all

    lines, where = rows_for(cells, np.random.default_rng(args.seed))
    header = ["| design | noise | studies | runs (median) | compute, FLOP (min-max / T) | median abs error of "
              "log10 N* (95%) | mean abs error (95%) | median signed error | median ratio to grid (95%) | mean "
              "ratio (95%) | beats grid (Wilson 95%) | linearised sd | bootstrap 95% coverage | delta 95% coverage | "
              "failed | warnings (studies) | s per study |", "|" + "---|" * 17]
    table = "\n".join(header + lines)
    budgets = " | ".join(f"{c:.2g}" for c in GRID_BUDGETS)
    table += ("\n\nWhere the designed studies' compute went, beyond the pilot: mean share of the compute of the "
              "suggested runs at each budget (median count of them there); their tokens per parameter "
              "(min / median / max); share of them below / above the true optimum's ratio at their budget; share "
              "more than 4x from it; the pilot's sd of log10 N*(C_target) (median).\n\n"
              f"| design | noise | {budgets} | D/N of suggested runs | below / above optimal D/N | beyond 4x | "
              "pilot sd |\n|" + "---|" * (len(GRID_BUDGETS) + 6) + "\n" + "\n".join(where))
    failures = [f"{c.design}, {c.noise}: {f}" for c in cells for f in c.failures[:3]]
    if failures:
        table += "\n\nFirst failures: " + "; ".join(failures)
    table += f"\n\nTotal time {total:.0f} s (the first study of each cell includes compilation)."
    print(table)
    if not (args.no_append or args.quick):
        command = command_line("bench_design.py", argv)
        note = (f"{studies} simulated studies per cell; truth Chinchilla (E 1.82, A 482, B 2085, alpha 0.348, beta "
                f"0.366), log-loss noise s = {SIGMA} (the Huber fit's residual sd on the bundled Chinchilla data), "
                "Gaussian or Student t3 scaled to sd s. Target N* at C = 1e22 (100x the largest training budget), "
                f"true N* {N_TRUE:.4g}. grid: 5 isoFLOP budgets 1e18-1e20 x 9 sizes N*/4-4N* (true N*), T = "
                f"{TOTAL:.4g} FLOP. designed: pilot 1e18, 1e19, 1e20 x 5 sizes (42% of T); designed-small: pilot 1e18, "
                "1e19 x 5 sizes (4% of T); then 3 batches of "
                f"jscale.suggest_runs(bootstrap of {resamples} resamples, quantity='n_params', compute=1e22, "
                "budgets = the grid's 5, max_repeats 2) each followed by a refit, the last using what is left. "
                "Error = log10 N*_hat - log10 N*_true from jscale.compute_optimal of a jscale.fit (4,500 starts) on "
                "all runs. Ratio = median |error| of the design / the grid's, over paired studies. Linearised sd: "
                "the Cramer-Rao sd of log10 N* of a least-squares fit to the study's runs at the truth. Other "
                "designs (rows): see the docstring of benchmarks/bench_design.py.")
        append_results("Experiment design: isoFLOP grid vs pilot + suggested batches (known truth)", command,
                       measured, note, table)


if __name__ == "__main__":
    main()
