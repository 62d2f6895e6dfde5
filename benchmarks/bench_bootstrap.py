"""Epoch AI's Chinchilla bootstrap, by scipy and by jscale, in one run: time and standard errors.

    python benchmarks/bench_bootstrap.py                       # full run, appends to RESULTS.md
    python benchmarks/bench_bootstrap.py --scipy-resamples 200 --no-append   # quick look

The procedure of Besiroglu et al. 2024 (Table 1; shared/data/SOURCES.md section 1): 4,000 row
resamples of the 240 kept Chinchilla runs, drawn with replacement after `np.random.seed(42)`
(here with `np.random.choice`), each refitted once by scipy BFGS from Hoffmann's unrounded
estimate, minimising the sum of Huber (delta 1e-3) losses of log residuals. Run here as:

* scipy `minimize(method="BFGS")` with finite-difference gradients (as Epoch ran it), and the
  same with an analytic gradient, value and gradient from one fast NumPy function
  (`bench_chinchilla_grid.fast_objective`, the fastest scipy objective of that benchmark);
* `jscale.bootstrap(..., n_resamples=4000, starts="optimum", jackknife=False)`: one start per
  resample, the full-data optimum (the issue's acceptance setting), on 1 CPU device and on all
  cores;
* the same from Hoffmann's unrounded estimate (Epoch's start);
* the same on Epoch's own resamples (the numpy draws above, passed as `counts=`): the whole
  procedure repeated draw for draw;
* `jscale.bootstrap` with its defaults (warm starts: the optimum plus the next two basins, checked
  on 256 resamples, and the 240-fit jackknife for BCa), with the full-data fit passed in, and
  with everything, the full-data fit (Hoffmann's 4,500 starts) included, on 1 and on all cores.

Elsewhere jscale draws its own resamples from a JAX key (42), not numpy's: those standard errors
agree with Epoch's in distribution, not draw by draw. jscale's time is the median of `--repeats` warm calls, each
including the full-data fit passed in; compile time is the first call minus a warm one; each
configuration runs in a fresh subprocess. Ratios are against scipy in this same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from bench_chinchilla_grid import (  # same folder
    append_results,
    command_line,
    commit,
    fast_objective,
    load_problem,
    scipy_objectives,
)

N_RESAMPLES = 4000
# Hoffmann et al. 2022 Approach 3, unrounded, free order (log E, log A, log B, alpha, beta).
HOFFMANN_START = np.array([0.5267228, 6.0073404, 6.0179186, 0.33917084, 0.2849083])
NAMES = ("E", "A", "B", "alpha", "beta")
EPOCH_SE = dict(E=0.02566, A=124.52232, B=1293.28410, alpha=0.01540, beta=0.02060)
EPOCH_CI = dict(E=(1.769, 1.871), A=(285.214, 743.626), B=(1042.357, 5810.344), alpha=(0.317, 0.373),
                beta=(0.331, 0.415))


def natural(free):
    free = np.asarray(free)
    return np.concatenate([np.exp(free[..., :3]), free[..., 3:]], axis=-1)


def statistics_of(draws_natural) -> dict:
    se = np.std(draws_natural, axis=0, ddof=1)
    low, high = np.quantile(draws_natural, [0.025, 0.975], axis=0)
    return {"se": dict(zip(NAMES, se.tolist())), "ci": {n: (lo, hi) for n, lo, hi in zip(NAMES, low, high)}}


def epoch_draws(n_resamples: int, n_rows: int = 240):
    """Epoch's resamples: row indices drawn with np.random.choice after np.random.seed(42)."""
    np.random.seed(42)
    for _ in range(n_resamples):
        yield np.random.choice(n_rows, n_rows, replace=True)


def run_scipy(n_resamples: int, analytic: bool) -> dict:
    from scipy.optimize import minimize

    log_n, log_d, log_l, _ = load_problem()
    ends, ok, nfev = [], 0, 0
    t0 = time.perf_counter()
    for idx in epoch_draws(n_resamples):
        if analytic:  # value and gradient in one fast NumPy call (bench_chinchilla_grid.fast_objective)
            res = minimize(fast_objective(log_n[idx], log_d[idx], log_l[idx]), HOFFMANN_START, method="BFGS",
                           jac=True)
        else:  # Epoch's objective, its gradient by scipy's finite differences
            res = minimize(scipy_objectives(log_n[idx], log_d[idx], log_l[idx])[0], HOFFMANN_START, method="BFGS")
        ends.append(res.x)
        ok += bool(res.success)
        nfev += res.nfev
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "resamples": n_resamples, "converged": ok, "evals": nfev / n_resamples,
            **statistics_of(natural(np.array(ends)))}


def run_jscale_child(config: str, repeats: int) -> dict:
    """Runs in a subprocess: times one jscale.bootstrap configuration and prints JSON."""
    import warnings

    import jax

    import jscale

    data = jscale.datasets.load("chinchilla")
    law = jscale.laws.Chinchilla()
    full_fit = jscale.fit(law, data)
    kwargs = {
        "optimum": dict(starts="optimum", jackknife=False),
        "hoffmann": dict(starts=HOFFMANN_START, jackknife=False),
        "epoch_draws": dict(starts=HOFFMANN_START, jackknife=False, key=None, n_resamples=None,
                            counts=np.stack([np.bincount(i, minlength=len(data)) for i in epoch_draws(N_RESAMPLES)])),
        "default": {},
        "default_with_fit": {"full_fit": None},  # the acceptance: everything, the full fit included
    }[config]

    def once():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
            return jscale.bootstrap(law, data, **{"n_resamples": N_RESAMPLES, "key": 42, "full_fit": full_fit,
                                                  "progress": False, **kwargs})

    t0 = time.perf_counter()
    boot = once()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        boot = once()
        times.append(time.perf_counter() - t0)
    seconds = float(np.median(times))
    return {
        "seconds": seconds, "compile_seconds": first - seconds, "resamples": boot.n_resamples,
        "converged": boot.n_converged, "evals": float(np.mean(np.sum(boot.n_steps, axis=1))),
        "starts": boot.n_starts, "devices": jax.local_device_count(),
        **statistics_of(np.stack([boot.draws[n] for n in NAMES], axis=1)[boot.draw_ok]),
    }


def run_jscale(config: str, n_devices: int, repeats: int) -> dict:
    env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(n_devices), JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, __file__, "--child", config, "--repeats", str(repeats)],
        env=env, check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scipy-resamples", type=int, default=N_RESAMPLES,
                        help="resamples scipy fits (its time is scaled to 4,000 for the ratios)")
    parser.add_argument("--repeats", type=int, default=5, help="warm jscale calls per configuration")
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    measured = commit()  # read before the run: the tree may change while it runs
    if args.child:
        print(json.dumps(run_jscale_child(args.child, args.repeats)))
        return

    cores = os.cpu_count() or 1
    rows = {}
    print("jscale ...", flush=True)
    rows["jscale, from the full-data optimum, 1 CPU device"] = run_jscale("optimum", 1, args.repeats)
    if cores > 1:
        rows[f"jscale, from the full-data optimum, {cores} CPU devices"] = run_jscale("optimum", cores, args.repeats)
    rows["jscale, from Hoffmann's estimate (Epoch's start), 1 CPU device"] = run_jscale("hoffmann", 1, args.repeats)
    rows["jscale, Epoch's draws from Hoffmann's estimate, 1 CPU device"] = run_jscale("epoch_draws", 1, args.repeats)
    rows["jscale defaults (warm starts + jackknife), 1 CPU device"] = run_jscale("default", 1, args.repeats)
    rows["jscale defaults, the full-data fit included, 1 CPU device"] = run_jscale("default_with_fit", 1,
                                                                                  args.repeats)
    if cores > 1:
        rows[f"jscale defaults, the full-data fit included, {cores} CPU devices"] = run_jscale(
            "default_with_fit", cores, args.repeats)
    print("scipy BFGS, analytic gradient ...", flush=True)
    scipy_rows = {"scipy BFGS, analytic gradient": run_scipy(args.scipy_resamples, analytic=True)}
    print("scipy BFGS, finite differences ...", flush=True)
    scipy_rows["scipy BFGS, finite differences (Epoch)"] = run_scipy(args.scipy_resamples, analytic=False)
    rows = {**scipy_rows, **rows}

    def per_4000(r):
        return r["seconds"] * N_RESAMPLES / r["resamples"]

    fd = per_4000(rows["scipy BFGS, finite differences (Epoch)"])
    an = per_4000(rows["scipy BFGS, analytic gradient"])
    lines = ["| method | resamples | converged | starts | evals/resample | time (s) | compile (s) | "
             "time per 4,000 (s) | x scipy FD | x scipy analytic |", "|" + "---|" * 10]
    for name, r in rows.items():
        compile_s = f"{r['compile_seconds']:.2f}" if "compile_seconds" in r else "-"
        lines.append(
            f"| {name} | {r['resamples']} | {r['converged']} | {r.get('starts', 1)} | {r['evals']:.1f} | "
            f"{r['seconds']:.3f} | {compile_s} | {per_4000(r):.3f} | {fd / per_4000(r):.0f} | "
            f"{an / per_4000(r):.0f} |"
        )
    timing = "\n".join(lines)
    short = {"scipy BFGS, finite differences (Epoch)": "scipy FD", "scipy BFGS, analytic gradient": "scipy analytic",
             "jscale, from the full-data optimum, 1 CPU device": "jscale (optimum)",
             "jscale, from Hoffmann's estimate (Epoch's start), 1 CPU device": "jscale (Hoffmann start)",
             "jscale, Epoch's draws from Hoffmann's estimate, 1 CPU device": "jscale (Epoch's draws)",
             "jscale defaults (warm starts + jackknife), 1 CPU device": "jscale (defaults)"}
    cols = [k for k in short if k in rows]
    lines = ["| parameter | Epoch (published) | " + " | ".join(short[k] for k in cols)
             + " | jscale (optimum) / Epoch | jscale (Epoch's draws) / Epoch |",
             "|" + "---|" * (len(cols) + 4)]
    for n in NAMES:
        se = [rows[k]["se"][n] for k in cols]
        lines.append(f"| SE {n} | {EPOCH_SE[n]:.5g} | " + " | ".join(f"{v:.5g}" for v in se)
                     + f" | {rows[cols[2]]['se'][n] / EPOCH_SE[n]:.3f} | {rows[cols[4]]['se'][n] / EPOCH_SE[n]:.3f} |")
    for n in NAMES:
        ci = [rows[k]["ci"][n] for k in cols]
        ratios = [f"{rows[cols[c]]['ci'][n][0] / EPOCH_CI[n][0]:.3f}, {rows[cols[c]]['ci'][n][1] / EPOCH_CI[n][1]:.3f}"
                  for c in (2, 4)]
        lines.append(f"| 95% CI {n} | {EPOCH_CI[n][0]:.4g} - {EPOCH_CI[n][1]:.4g} | "
                     + " | ".join(f"{lo:.4g} - {hi:.4g}" for lo, hi in ci) + f" | {' | '.join(ratios)} |")
    stats = "\n".join(lines)
    print(timing)
    print()
    print(stats)
    if not args.no_append:
        command = command_line("bench_bootstrap.py", argv)
        append_results("Chinchilla bootstrap, Epoch's procedure (4,000 row resamples, 240 rows)", command, measured,
                       f"jscale time: median of {args.repeats} warm calls (compile reported apart); scipy time "
                       "scaled to 4,000 resamples where fewer were run.",
                       timing + "\n\nStandard errors and 95% percentile intervals (natural units):\n\n" + stats)


if __name__ == "__main__":
    main()
