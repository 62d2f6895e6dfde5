"""Approach 2's bias against sweep width and offset, beside Approach 3, on simulated isoFLOP studies.

    python benchmarks/bench_isoflop.py                 # 40 studies per design, appends to RESULTS.md
    python benchmarks/bench_isoflop.py --studies 10 --no-append

Each simulated study sweeps 5 budgets (1e18 to 1e21 FLOP) with 7 model sizes spread evenly in
log N from N*/width to N* width around `offset` times the true N* (a Chinchilla law, Epoch AI's
fit of Hoffmann et al.'s data), D = C / 6N, and log-normal noise of 0.0075 on the loss (about the
RMS log residual of the Chinchilla fit). Approach 2 (`jscale.isoflop`) and Approach 3 (the
Chinchilla law fitted to the same runs, 225 starts, squared error; `jscale.compute_optimal`) then
predict N* at 10x and 100x the largest budget. The table gives the median relative error of N*
and the 5%-95% range over the studies, for each design and both approaches. A second table
times `jscale.isoflop` on 9 budgets x 1,000 resamples, warm.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from bench_chinchilla_grid import append_results, commit

import jscale

EPOCH = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)
BUDGETS = np.geomspace(1e18, 1e21, 5)
SIGMA = 0.0075
DESIGNS = [(2.0, 1.0), (4.0, 1.0), (8.0, 1.0), (16.0, 1.0), (4.0, 2.0), (4.0, 0.5)]
AHEAD = (10.0, 100.0)


def loss(n, d):
    return EPOCH["E"] + EPOCH["A"] / n ** EPOCH["alpha"] + EPOCH["B"] / d ** EPOCH["beta"]


def true_n_star(c):
    law = jscale.laws.Chinchilla()
    return np.asarray(jscale.compute_optimal(law, c, params=EPOCH).n_params)


def study(width, offset, rng, center):
    n = (offset * center[:, None] * np.geomspace(1 / width, width, 7)[None, :]).ravel()
    c = np.repeat(BUDGETS, 7)
    d = c / (6 * n)
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d,
                                          loss=loss(n, d) * np.exp(SIGMA * rng.normal(size=n.size)))


def errors(width, offset, n_studies, seed):
    rng = np.random.default_rng(seed)
    center = true_n_star(BUDGETS)
    far = BUDGETS[-1] * np.asarray(AHEAD)
    truth = true_n_star(far)
    law = jscale.laws.Chinchilla()
    datasets = [study(width, offset, rng, center) for _ in range(n_studies)]
    two, left_out = [], 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        for data in datasets:
            try:
                sweep = jscale.isoflop(data, n_resamples=0)
            except ValueError:  # fewer than 2 budgets with a minimum inside the sweep
                two.append(np.full(len(far), np.nan))
                left_out += len(BUDGETS)
                continue
            left_out += int((~sweep.included).sum())
            two.append(sweep.predict(far)["n_params"] / truth - 1)
        fits = jscale.fit_many(law, datasets, starts=law.default_starts()[::20], loss="squared")
        three = [np.asarray(jscale.compute_optimal(f, far).n_params) / truth - 1 for f in fits]
    return np.array(two), np.array(three), left_out


def describe(err):
    err = err[np.isfinite(err)]
    if not len(err):
        return "-"
    low, mid, high = np.percentile(100 * err, [5, 50, 95])
    return f"{mid:+.1f}% ({low:+.1f}, {high:+.1f})"


def speed(repeats: int) -> float:
    rng = np.random.default_rng(0)
    budgets = np.geomspace(1e18, 1e22, 9)
    center = true_n_star(budgets)
    n = (center[:, None] * np.geomspace(1 / 3, 3, 7)[None, :]).ravel()
    c = np.repeat(budgets, 7)
    data = jscale.ScalingData.from_arrays(n_params=n, n_tokens=c / (6 * n),
                                          loss=loss(n, c / (6 * n)) * np.exp(SIGMA * rng.normal(size=n.size)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        jscale.isoflop(data, n_resamples=1000, key=0)
        times = []
        for k in range(repeats):
            start = time.perf_counter()
            jscale.isoflop(data, n_resamples=1000, key=k)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--studies", type=int, default=40, help="simulated studies per design (default 40)")
    parser.add_argument("--repeats", type=int, default=5, help="warm calls timed (default 5)")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)
    measured = commit()
    lines = ["| width (x either side) | offset (x true N*) | budgets left out | "
             + " | ".join(f"Approach {a}, N* at {int(k)}x" for a in (2, 3) for k in AHEAD) + " |",
             "|---|---|---|" + "---|" * 4]
    for k, (width, offset) in enumerate(DESIGNS):
        two, three, left_out = errors(width, offset, args.studies, seed=k)
        cells = [describe(two[:, j]) for j in range(len(AHEAD))] + [describe(three[:, j]) for j in range(len(AHEAD))]
        lines.append(f"| {width:g} | {offset:g} | {left_out} of {args.studies * len(BUDGETS)} | " + " | ".join(cells)
                     + " |")
        print(lines[-1], flush=True)
    table = "\n".join(lines)
    warm = speed(args.repeats)
    table += (f"\n\n| `jscale.isoflop`, 9 budgets x 7 sizes, 1,000 resamples | warm, median of {args.repeats} (s) |\n"
              f"|---|---|\n| 1 CPU device | {warm:.3f} |")
    print(table)
    if not args.no_append:
        append_results("isoFLOP sweeps: Approach 2's bias against width and offset, beside Approach 3",
                       "python benchmarks/bench_isoflop.py", measured,
                       f"{args.studies} simulated studies per design: 5 budgets (1e18-1e21 FLOP) x 7 sizes from a "
                       f"Chinchilla law (Epoch's fit), log-normal noise {SIGMA}; relative error of N* at 10x and 100x "
                       "the largest budget, median (5%, 95%) over the studies.", table)


if __name__ == "__main__":
    main()
