"""Times allocation curves with bands: compute_optimal over 4,000 bootstrap draws x 100 budgets.

    python benchmarks/bench_allocation.py            # appends to RESULTS.md
    python benchmarks/bench_allocation.py --no-append

Bootstraps the Chinchilla fit (240 kept runs, 4,000 row resamples from the full-data optimum),
then finds the compute-optimal allocation for every draw at 100 log-spaced budgets from 1e18
to 1e28 FLOP (400,000 allocations):

* with C = 6ND as jscale's own cost (the default): Chinchilla under it takes Hoffmann et al.'s
  closed form;
* with the same C = 6ND written as a cost function of the user's own, which the closed form does
  not recognise: 400,000 constrained optimisations by the one optimum solver (Lagrange-Newton
  under jit/vmap);
* with a training-plus-inference cost (the solver).

Reports the median of `--repeats` warm calls and the compile time (first call minus a warm one),
and checks both 6ND rows against `Chinchilla.compute_optimal` (NumPy) on every draw.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from bench_chinchilla_grid import append_results, commit  # same folder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--budgets", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    measured = commit()

    import jscale

    law = jscale.laws.Chinchilla()
    data = jscale.datasets.load("chinchilla")
    fit = jscale.fit(law, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
        boot = jscale.bootstrap(law, data, n_resamples=args.draws, key=0, starts="optimum", full_fit=fit,
                                jackknife=False)
    budgets = np.logspace(18, 28, args.budgets)
    def six_nd(n_params, n_tokens):  # C = 6ND as a user would write it: the solver, not the closed form
        return 6.0 * n_params * n_tokens

    rows = []
    costs = [("C = 6ND (jscale's, closed form)", None), ("C = 6ND (a cost function of one's own, solver)", six_nd),
             ("6ND + 2N x 1e13 inference tokens (solver)", jscale.InferenceCost(1e13))]
    for label, cost in costs:
        t0 = time.perf_counter()
        out = jscale.compute_optimal(boot, budgets, cost=cost)
        first = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            out = jscale.compute_optimal(boot, budgets, cost=cost)
            times.append(time.perf_counter() - t0)
        warm = float(np.median(times))
        ok = out.draw_ok
        check = "-"
        if cost is None or cost is six_nd:
            d = boot.draws
            n_closed = np.stack([law.compute_optimal({k: d[k][i] for k in d}, budgets)[0] for i in range(args.draws)])
            err = np.abs(out.draws["n_params"] / n_closed - 1)[ok]
            check = f"{err.max():.1e}"
        rows.append((label, args.draws * args.budgets, warm, first - warm, float(ok.mean()), check))
    lines = ["| cost | solves | time (s) | compile (s) | usable (draw and solve converged) | "
             "max rel. error of N* vs closed form |",
             "|---|---|---|---|---|---|"]
    for label, n, warm, comp, share, check in rows:
        lines.append(f"| {label} | {n:,} | {warm:.3f} | {comp:.2f} | {100 * share:.2f}% | {check} |")
    table = "\n".join(lines)
    print(table)
    if not args.no_append:
        append_results(f"Allocation curves with bands ({args.draws} draws x {args.budgets} budgets)",
                       "python benchmarks/bench_allocation.py", measured,
                       f"Time: median of {args.repeats} warm calls of `jscale.compute_optimal(boot, budgets)`, "
                       "1 CPU device.", table)


if __name__ == "__main__":
    main()
