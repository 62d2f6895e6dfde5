"""Many datasets in one call: jscale.fit on a list of 20 curves against a loop of 20 fit calls.

    python benchmarks/bench_many.py            # appends to RESULTS.md
    python benchmarks/bench_many.py --no-append

Twenty noisy power-law curves L = E + A C^-alpha of 10 to 29 points (20 lengths), each fitted
with `jscale.laws.PowerLaw("compute")` from its 180 default starts: once as a list (one jitted
call, datasets padded with weight-0 rows) and once as a Python loop of separate `jscale.fit`
calls. Each is timed cold (in a fresh subprocess, compilation included: a loop compiles once
per distinct length) and warm (median of `--repeats` calls).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
from bench_chinchilla_grid import append_results, commit  # same folder


def curves(n_curves: int = 20):
    import jscale

    rng = np.random.default_rng(0)
    out = []
    for k in range(n_curves):
        size = 10 + k  # 20 different lengths
        compute = np.logspace(17, 17 + rng.uniform(3, 6), size)
        e, a, alpha = rng.uniform(0.5, 2.5), 10 ** rng.uniform(2, 5), rng.uniform(0.05, 0.3)
        loss = (e + a * compute**-alpha) * np.exp(rng.normal(0, 0.005, size))
        out.append(jscale.ScalingData.from_arrays(compute=compute, loss=loss))
    return out


def child(mode: str, repeats: int) -> dict:
    import jscale

    warnings.simplefilter("ignore")
    law = jscale.laws.PowerLaw("compute")
    data = curves()

    def once():
        if mode == "batched":
            return [r.objective for r in jscale.fit_many(law, data)]
        return [jscale.fit(law, d).objective for d in data]

    t0 = time.perf_counter()
    objectives = once()
    cold = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    return {"cold": cold, "warm": float(np.median(times)), "objectives": objectives}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-append", action="store_true")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.repeats)))
        return
    measured = commit()
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    rows = {}
    for mode in ("loop", "batched"):
        out = subprocess.run([sys.executable, __file__, "--child", mode, "--repeats", str(args.repeats)], env=env,
                             check=True, capture_output=True, text=True)
        rows[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    gap = np.max(np.abs(np.array(rows["batched"]["objectives"]) / np.array(rows["loop"]["objectives"]) - 1))
    lines = ["| | cold, with compilation (s) | warm (s) |", "|---|---|---|",
             f"| loop of 20 `jscale.fit` calls | {rows['loop']['cold']:.2f} | {rows['loop']['warm']:.3f} |",
             f"| one `jscale.fit` call on the list of 20 | {rows['batched']['cold']:.2f} | "
             f"{rows['batched']['warm']:.3f} |",
             f"| speed-up | {rows['loop']['cold'] / rows['batched']['cold']:.1f}x | "
             f"{rows['loop']['warm'] / rows['batched']['warm']:.1f}x |"]
    table = "\n".join(lines) + f"\n\nLargest relative gap between the best objectives of the two: {gap:.1e}."
    print(table)
    if not args.no_append:
        append_results("Many datasets in one call (20 power-law curves, 180 starts each)",
                       "python benchmarks/bench_many.py", measured,
                       f"Warm: median of {args.repeats} calls; cold: first call in a fresh process.", table)


if __name__ == "__main__":
    main()
