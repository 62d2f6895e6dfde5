"""Calibration of jscale's 95% intervals: how often do they cover the true parameters?

    python benchmarks/calibrate_intervals.py                  # 200 data sets per case, appends
    python benchmarks/calibrate_intervals.py --datasets 20 --no-append    # quick look

Simulates data sets at the 240 (N, D) configurations of the kept Chinchilla runs from a known
law (Epoch AI's estimate: E 1.81686, A 482.00572, B 2085.43420, alpha 0.34781, beta 0.36585)
times log-space noise like the Chinchilla residuals, in two cases:

* "gaussian" (well specified): log noise N(0, s^2), s = 1.4826 x the median absolute log
  residual of the Chinchilla fit (its robust scale);
* "empirical" (heavy tailed, as the real data): the Chinchilla fit's log residuals, centred on
  their median and drawn with replacement.

Each data set is fitted (Huber, delta 1e-3; every 10th start of Hoffmann's grid), then
bootstrapped (`jscale.bootstrap`, row resamples, default warm starts and jackknife), and the
95% intervals of every parameter and of the allocation exponent a = beta/(alpha + beta) are
checked against the truth for the bootstrap percentile, BCa and basic methods and the
curvature-based sandwich and Hessian forms. Coverage is the share of data sets whose interval
contains the true value (Monte Carlo standard error about 1.5 points at 200 data sets).
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


def exponent(p):
    return p["beta"] / (p["alpha"] + p["beta"])


def simulate(case: str, n_datasets: int, n_resamples: int, seed: int) -> dict:
    import jscale

    law = jscale.laws.Chinchilla()
    base = jscale.datasets.load("chinchilla")
    reference = jscale.fit(law, base)
    resid = np.log(base.loss) - np.log(reference.predict(base))
    resid = resid - np.median(resid)
    scale = 1.4826 * np.median(np.abs(resid))
    clean = TRUTH["E"] + TRUTH["A"] / base.n_params ** TRUTH["alpha"] + TRUTH["B"] / base.n_tokens ** TRUTH["beta"]
    truth = {**TRUTH, "a": exponent(TRUTH)}
    starts = law.default_starts()[::10]
    rng = np.random.default_rng(seed)
    hits = {m: {q: 0 for q in QUANTITIES} for m in METHODS}
    widths = {m: {q: [] for q in QUANTITIES} for m in METHODS}
    t0 = time.perf_counter()
    for k in range(n_datasets):
        noise = rng.normal(0, scale, len(clean)) if case == "gaussian" else rng.choice(resid, len(clean))
        data = jscale.ScalingData.from_arrays(n_params=base.n_params, n_tokens=base.n_tokens,
                                              loss=clean * np.exp(noise))
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
    return {"coverage": {m: {q: hits[m][q] / n_datasets for q in QUANTITIES} for m in METHODS},
            "width": {m: {q: float(np.median(widths[m][q])) for q in QUANTITIES} for m in METHODS},
            "scale": scale, "seconds": time.perf_counter() - t0}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", type=int, default=200, help="simulated data sets per case")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples per data set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    measured = commit()  # read before the run: the tree may change while it runs

    blocks = []
    for case in ("gaussian", "empirical"):
        print(f"{case} ...", flush=True)
        out = simulate(case, args.datasets, args.resamples, args.seed)
        lines = [f"Case **{case}** (noise scale {out['scale']:.4g}; {args.datasets} data sets, "
                 f"{out['seconds']:.0f} s): coverage of the true value by 95% intervals (median width / true value)",
                 "", "| method | " + " | ".join(QUANTITIES) + " |", "|" + "---|" * (len(QUANTITIES) + 1)]
        for m in METHODS:
            cells = [f"{100 * out['coverage'][m][q]:.1f}% ({out['width'][m][q]:.3g})" for q in QUANTITIES]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        blocks.append("\n".join(lines))
        print(blocks[-1], flush=True)
    if not args.no_append:
        command = command_line("calibrate_intervals.py", argv)
        append_results("Interval calibration (Chinchilla design, known truth)", command, measured,
                       f"{args.resamples} row resamples per data set; a = beta/(alpha + beta).", "\n\n".join(blocks))


if __name__ == "__main__":
    main()
