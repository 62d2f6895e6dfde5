"""Times the decision verbs with bands: first call (compilation included) and warm calls.

    python benchmarks/bench_decisions.py            # appends to RESULTS.md
    python benchmarks/bench_decisions.py --no-append

On the bundled Chinchilla data (Epoch's 240 kept runs), fitted from Epoch's optimum, and on a
second "recipe" (the same runs with every loss 1% lower), times `compute_optimal`,
`marginal_returns`, `optimum` (the learning-rate-free N* at fixed D) and `compare` at K points,
with delta-method bands (a FitResult) and with bands from B bootstrap draws (a BootstrapResult).
Every verb solves its optimum through the one kernel (`jscale.engine._optimum`), vmapped over
points and draws; the first call includes compilation, the warm figure is the median of
`--repeats` calls. There is no outside baseline for these answers with bands; the figures say
what a user waits.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from bench_chinchilla_grid import append_results, commit  # same folder

EPOCH = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)


def _time(make, a, b, repeats):
    def call():
        return make(a, b)

    t0 = time.perf_counter()
    out = call()
    first = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        warm.append(time.perf_counter() - t0)
    return out, first, float(np.median(warm))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100, help="budgets or points per call (K)")
    parser.add_argument("--draws", type=int, default=400, help="bootstrap draws (B)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    measured = commit()

    import jscale

    warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)  # extrapolation is the point here
    law = jscale.laws.Chinchilla()
    data = jscale.datasets.load("chinchilla")
    start = law.to_free([[EPOCH[k] for k in law.param_names]])
    fit = jscale.fit(law, data, starts=start)
    lower = data.replace(loss=np.asarray(data.loss) * 0.99)
    fit_b = jscale.fit(law, lower, starts=start)
    boot = jscale.bootstrap(law, data, n_resamples=args.draws, key=0, starts="optimum", full_fit=fit)
    boot_b = jscale.bootstrap(law, lower, n_resamples=args.draws, key=0, starts="optimum", full_fit=fit_b)
    k = args.points
    budgets = np.logspace(19, 25, k)
    n, d = np.logspace(8, 11, k), np.logspace(10, 13, k)
    cases = {
        "compute_optimal": lambda r, r2: jscale.compute_optimal(r, budgets),
        "marginal_returns": lambda r, r2: jscale.marginal_returns(r, n_params=n, n_tokens=d),
        "optimum (N* at fixed D)": lambda r, r2: jscale.optimum(r, "n_params", fixed={"n_tokens": d},
                                                                bounds={"n_params": (1e6, 1e14)}),
        "compare (m(C), crossover)": lambda r, r2: jscale.compare(r, r2, budgets[:: max(1, k // 10)]),
    }
    rows = []
    for name, make in cases.items():
        for source, (a, b) in (("delta method", (fit, fit_b)), (f"{args.draws} draws", (boot, boot_b))):
            out, first, warm = _time(make, a, b, args.repeats)
            solved = getattr(out, "converged", None)
            ok = "-" if solved is None else "all" if np.all(solved) else f"{int(np.sum(solved))} of {np.size(solved)}"
            points = k if "compare" not in name else len(budgets[:: max(1, k // 10)])
            rows.append((name, source, points, first, warm, ok))
    head = "| verb | bands | points | first call (s) | warm (s) | solved |\n|---|---|---|---|---|---|"
    body = "\n".join(f"| {v} | {s} | {p} | {f:.2f} | {w:.3f} | {o} |" for v, s, p, f, w, o in rows)
    print(head + "\n" + body)
    if not args.no_append:
        append_results("Decision verbs with bands", "python benchmarks/bench_decisions.py", measured,
                       f"Chinchilla law fitted from Epoch's optimum on the bundled data and on the same runs with "
                       f"every loss 1% lower (recipe B); bootstraps of {args.draws} row resamples from the optimum; "
                       f"K = {k} budgets (1e19-1e25 FLOP) or points (N 1e8-1e11, D 1e10-1e13); compare at every "
                       f"{max(1, k // 10)}th budget. First call includes compilation; warm = median of "
                       f"{args.repeats} calls.", head + "\n" + body)


if __name__ == "__main__":
    main()
