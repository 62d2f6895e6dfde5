"""The multi-power law's evaluators on whole training curves (Luo et al. 2025, arXiv:2503.12811).

    python benchmarks/bench_curve_kernel.py [--size 25M] [--starts 200] [--exact-starts 10]

Every logged checkpoint of the nine curves of one size (SOURCES.md section 6; rows with step
>= T dropped), for `--starts` parameter vectors (log-normal perturbations, 10%, around the
published ones): the fast evaluator (dyadic blocks, far terms interpolated) and the exact one
(every term, chunked), each timed warm (best of 3 calls after one compile). The exact evaluator
is timed on the first `--exact-starts` vectors (it is ~10x per vector slower); the error column
is the fast evaluator's max relative error against it on those vectors. Appends to RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("JAX_NUM_CPU_DEVICES", "1")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "multipower_curves"
from bench_chinchilla_grid import append_results, command_line, commit  # noqa: E402 (same folder)

from jscale.curves._luo import LUO2025_PUBLISHED, LUO2025_SCHEDULES  # noqa: E402 (after the device count)

LUO2025, PUBLISHED = LUO2025_SCHEDULES, LUO2025_PUBLISHED


def cpu() -> str:
    """The CPU model and its widest vector extensions (a figure without its machine is not a figure)."""
    model, flags = platform.processor() or "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    vec = [f for f in ("avx512f", "avx2", "avx", "sse4_2") if f in flags][:1]
    return f"{model}, {os.cpu_count()} cores, {vec[0] if vec else 'no AVX'}"


def timed(fn, *args, repeats: int = 3) -> float:
    fn(*args).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="25M", choices=sorted(PUBLISHED))
    parser.add_argument("--starts", type=int, default=200)
    parser.add_argument("--exact-starts", type=int, default=10)
    parser.add_argument("--no-append", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args(argv)

    import jax
    import numpy as np

    from jscale.base._numerics import x64_scope
    from jscale.curves import MultiPowerCurves, parse_schedule

    curves = []
    for name, spec in LUO2025.items():
        schedule = parse_schedule(spec)
        table = np.loadtxt(DATA / f"csv_{args.size}" / f"{name}.csv", delimiter=",", skiprows=1)
        curves.append((schedule, table[table[:, 0] < schedule.steps, 0].astype(np.int64)))
    rng = np.random.default_rng(0)
    theta = np.asarray(PUBLISHED[args.size])[None, :] * np.exp(0.1 * rng.standard_normal((args.starts, 7)))
    start = time.perf_counter()
    fast = MultiPowerCurves.build(curves)
    plan_s = time.perf_counter() - start
    exact = MultiPowerCurves.build(curves, method="exact")
    call = jax.jit(lambda c, t: c(t))
    with x64_scope():
        fast_s = timed(call, fast, theta)
        few = theta[: args.exact_starts]
        exact_s = timed(call, exact, few, repeats=1)
        err = float(np.max(np.abs(np.asarray(call(fast, few)) / np.asarray(call(exact, few)) - 1)))
    lines = [f"multi-power law, {args.size}: {len(curves)} curves, {fast.n_points} checkpoints; {cpu()}; "
             f"jax {jax.__version__}; fast plan built in {plan_s:.2f} s (NumPy, once per set of curves)",
             "",
             "| evaluator | vectors | terms/vector | warm s | terms/s | losses/s | max rel err |",
             "|---|---|---|---|---|---|---|"]
    for name, built, n, seconds, error in (("fast", fast, len(theta), fast_s, f"{err:.1e}"),
                                           ("exact", exact, len(few), exact_s, "reference")):
        lines.append(f"| {name} | {n} | {built.n_terms:,} | {seconds:.3f} | {built.n_terms * n / seconds:.3g} | "
                     f"{built.n_points * n / seconds:.3g} | {error} |")
    body = "\n".join(lines)
    print(body)
    if not args.no_append:
        append_results(f"Multi-power law evaluators, {args.size}", command_line("bench_curve_kernel.py", argv),
                       commit(), "every checkpoint of the nine curves; warm, best of 3 calls after one compile", body)

if __name__ == "__main__":
    main()
