"""Calibration of jscale's 95% intervals: how often do they cover the true parameters, and the true
compute-optimal model size N*(C)?

    python benchmarks/calibrate_intervals.py           # 100 data sets of 500 resamples per case and study
    python benchmarks/calibrate_intervals.py --quick   # 40 data sets of 300 resamples, 240 and 25 runs, prints

Simulates data sets from a known law (Epoch AI's estimate: E 1.81686, A 482.00572, B 2085.43420,
alpha 0.34781, beta 0.36585) times log-space noise like the Chinchilla residuals, for studies of
240 runs (the (N, D) configurations of the kept Chinchilla runs) and of 100, 50 and 25 of them
(evenly spaced ranks of compute, 1.4e18 to 1.3e22 FLOP: the 25-run study is the size of issue
33's), in two noise cases:

* "gaussian" (well specified): log noise N(0, s^2), s = 1.4826 x the median absolute log
  residual of the Chinchilla fit (its robust scale);
* "empirical" (heavy tailed, as the real data): the Chinchilla fit's log residuals, centred on
  their median and drawn with replacement.

Each data set is fitted (Huber, delta 1e-3; every 10th start of Hoffmann's grid), then
bootstrapped (`jscale.bootstrap`, row resamples, default warm starts and jackknife). Two tables
per case and study:

* parameters: the 95% intervals of every parameter and of the allocation exponent
  a = beta/(alpha + beta) against the truth, for the bootstrap percentile, BCa and basic
  methods and the curvature-based sandwich and Hessian forms;
* N*(C): the 95% bands of the compute-optimal model size at four budgets (1e21 and 1e22 FLOP,
  inside the data's range; 5.76e23, Chinchilla's, and 1e25, beyond it) from
  `jscale.compute_optimal(fit, ...)` (delta method on the fit's curvature, the sandwich
  covariance) and from `jscale.compute_optimal(boot, ...)` (bootstrap percentiles), against the
  true N*(C) (`Chinchilla.compute_optimal` of the truth).

Coverage is the share of data sets whose interval contains the true value (Monte Carlo standard
error about 1.5 points at 200 data sets, 2.2 at 100, 3.5 at 40); widths are medians of
(high - low) / truth. The default run takes about 15 minutes on 2 cores (1 s to 2.5 s a data set),
--quick about 5. Its N* tables set `compute_optimal`'s note on delta-method bands
from fits of fewer than 40 configurations per parameter (`FEW_CONFIGS_PER_PARAM`).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from bench_chinchilla_grid import append_results, command_line, commit  # same folder

TRUTH = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)
METHODS = ("percentile", "bca", "basic", "sandwich", "hessian")
QUANTITIES = ("E", "A", "B", "alpha", "beta", "a")
# Budgets of N*(C) (FLOP): two inside the Chinchilla runs' compute (1.4e18 to 1.3e22), two beyond.
BUDGETS = (1e21, 1e22, 5.76e23, 1e25)
BANDS = ("delta method", "bootstrap")
STUDIES = (240, 100, 50, 25)


def exponent(p):
    return p["beta"] / (p["alpha"] + p["beta"])


def design(base, n_runs: int):
    """(N, D) of `n_runs` of the Chinchilla configurations, at evenly spaced ranks of compute."""
    order = np.argsort(base.n_params * base.n_tokens, kind="stable")
    pick = order[np.round(np.linspace(0, len(order) - 1, n_runs)).astype(int)]
    return base.n_params[pick], base.n_tokens[pick]


def simulate(case: str, n_runs: int, n_datasets: int, n_resamples: int, seed: int) -> dict:
    import jscale

    law = jscale.laws.Chinchilla()
    base = jscale.datasets.load("chinchilla")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.CorrelationWarning)  # known: A-alpha, B-beta
        reference = jscale.fit(law, base)
    resid = np.log(base.loss) - np.log(reference.predict(base))
    resid = resid - np.median(resid)
    scale = 1.4826 * np.median(np.abs(resid))
    n_params, n_tokens = design(base, n_runs)
    clean = TRUTH["E"] + TRUTH["A"] / n_params ** TRUTH["alpha"] + TRUTH["B"] / n_tokens ** TRUTH["beta"]
    truth = {**TRUTH, "a": exponent(TRUTH)}
    budgets = np.asarray(BUDGETS)
    true_n = law.compute_optimal(TRUTH, budgets)[0]
    starts = law.default_starts()[::10]
    rng = np.random.default_rng(seed)
    hits = {m: {q: 0 for q in QUANTITIES} for m in METHODS}
    widths = {m: {q: [] for q in QUANTITIES} for m in METHODS}
    n_hits = {b: np.zeros(len(budgets)) for b in BANDS}
    n_widths = {b: [] for b in BANDS}
    undefined = dict.fromkeys(BANDS, 0)
    t0 = time.perf_counter()
    for k in range(n_datasets):
        noise = rng.normal(0, scale, len(clean)) if case == "gaussian" else rng.choice(resid, len(clean))
        data = jscale.ScalingData.from_arrays(n_params=n_params, n_tokens=n_tokens, loss=clean * np.exp(noise))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = jscale.fit(law, data, starts=starts)
            boot = jscale.bootstrap(law, data, n_resamples=n_resamples, key=k, full_fit=fit)
            for m in METHODS:
                for q in QUANTITIES:
                    target = exponent if q == "a" else q
                    if m in ("sandwich", "hessian"):
                        low, high = fit.interval(target, covariance=m)
                    else:
                        low, high = boot.interval(target, method=m)
                    hits[m][q] += int(low <= truth[q] <= high)
                    widths[m][q].append((high - low) / truth[q])
            for band, source in zip(BANDS, (fit, boot)):
                low, high = jscale.compute_optimal(source, budgets).interval("n_params")
                if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
                    undefined[band] += 1  # no band (a singular curvature): counted as a miss
                n_hits[band] += (low <= true_n) & (true_n <= high)
                n_widths[band].append((high - low) / true_n)
    return {"coverage": {m: {q: hits[m][q] / n_datasets for q in QUANTITIES} for m in METHODS},
            "width": {m: {q: float(np.median(widths[m][q])) for q in QUANTITIES} for m in METHODS},
            "n_coverage": {b: n_hits[b] / n_datasets for b in BANDS},
            "n_width": {b: np.nanmedian(np.array(n_widths[b]), axis=0) for b in BANDS},
            "undefined": undefined, "true_n": true_n, "scale": scale, "seconds": time.perf_counter() - t0}


def parameter_table(out: dict) -> list[str]:
    lines = ["| method | " + " | ".join(QUANTITIES) + " |", "|" + "---|" * (len(QUANTITIES) + 1)]
    for m in METHODS:
        cells = [f"{100 * out['coverage'][m][q]:.1f}% ({out['width'][m][q]:.3g})" for q in QUANTITIES]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def allocation_table(out: dict) -> list[str]:
    head = [f"C = {c:.3g} (N* {n:.3g})" for c, n in zip(BUDGETS, out["true_n"])]
    lines = ["| band of N* | " + " | ".join(head) + " |", "|" + "---|" * (len(BUDGETS) + 1)]
    for b in BANDS:
        cells = [f"{100 * cov:.1f}% ({w:.3g})" for cov, w in zip(out["n_coverage"][b], out["n_width"][b])]
        note = f" ({out['undefined'][b]} undefined)" if out["undefined"][b] else ""
        lines.append(f"| {b}{note} | " + " | ".join(cells) + " |")
    ratio = out["n_width"]["bootstrap"] / out["n_width"]["delta method"]
    lines.append("| width ratio, bootstrap / delta | " + " | ".join(f"{r:.2f}" for r in ratio) + " |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=None, help="simulated data sets per case and study "
                        "(default 100; 40 with --quick)")
    parser.add_argument("--resamples", type=int, default=None, help="bootstrap resamples per data set "
                        "(default 500; 300 with --quick)")
    parser.add_argument("--studies", type=int, nargs="+", default=None, help="runs per study: 240 (all the "
                        "Chinchilla configurations) and/or fewer (a subset evenly spaced in compute); default "
                        "240 100 50 25 (240 25 with --quick)")
    parser.add_argument("--cases", nargs="+", default=["gaussian", "empirical"], choices=["gaussian", "empirical"])
    parser.add_argument("--quick", action="store_true", help="40 data sets of 300 resamples, 240 and 25 runs; "
                        "print only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    n_datasets = args.datasets or (40 if args.quick else 100)
    n_resamples = args.resamples or (300 if args.quick else 500)
    studies = args.studies or ([240, 25] if args.quick else list(STUDIES))
    if not all(10 <= s <= 240 for s in studies):
        parser.error("--studies takes run counts from 10 to 240.")
    measured = commit()  # read before the run: the tree may change while it runs

    blocks = []
    for case in args.cases:
        for n_runs in studies:
            print(f"{case}, {n_runs} runs ...", flush=True)
            out = simulate(case, n_runs, n_datasets, n_resamples, args.seed)
            lines = [f"Case **{case}**, **{n_runs} runs** (noise scale {out['scale']:.4g}; {n_datasets} data sets, "
                     f"{out['seconds']:.0f} s): coverage of the true value by 95% intervals (median width / true "
                     "value)", "", *parameter_table(out), "",
                     "Compute-optimal N*(C), `compute_optimal(fit)` (delta method) and `compute_optimal(boot)` "
                     "(bootstrap percentile): coverage of the true N* (median width / true N*)", "",
                     *allocation_table(out)]
            blocks.append("\n".join(lines))
            print(blocks[-1], flush=True)
    if not (args.no_append or args.quick):
        command = command_line("calibrate_intervals.py", argv)
        append_results("Interval calibration (Chinchilla design, known truth)", command, measured,
                       f"{n_resamples} row resamples per data set; a = beta/(alpha + beta); N*(C) under C = 6ND.",
                       "\n\n".join(blocks))


if __name__ == "__main__":
    main()
