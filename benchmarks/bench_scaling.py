"""Fits per second, FLOP/s and peak memory as the batch grows, from 1 fit to millions.

    python benchmarks/bench_scaling.py                    # 1 ... 10^6 fits on CPU, ... 10^7 elsewhere
    python benchmarks/bench_scaling.py --max-fits 100000 --no-append      # quick look

Workload (issue 7's): Hoffmann's grid starts on bootstrap resamples of the 240 Chinchilla runs,
fitted by `jscale.bootstrap(law, data, starts=S grid starts, n_resamples=B, jackknife=False)`
with the full-data fit passed in. A batch of n fits is S = min(n, 4500) starts (an evenly
spaced subset of the grid) on B = n / S resamples; up to 4,500 fits (B = 1) it is
`jscale.fit(law, data, starts=S grid starts)`. On CPU the script gives JAX one device per
core (`JAX_NUM_CPU_DEVICES`, unless set) and jscale splits every call over all of them.

Per size: one call to compile (same shapes), then the median of `--repeats` timed calls (one
call from 10^5 fits up). Reported:

* fits/s: n / time;
* FLOPs per fit: XLA's cost analysis of one solver step (`compiled.cost_analysis()`, floating
  point operations; exp and log count once) times the mean number of steps per fit;
* achieved FLOP/s and its fraction of the devices' float64 peak (CPU: cores x clock x 2 FMA units
  x the doubles per vector its flags give (8 with AVX-512) x 2; override with `--peak-gflops`;
  GPUs from a table of datasheet figures, non-tensor-core FP64);
* calls: jitted calls the bootstrap made (chunks sized from the memory budget, which the run
  sets with `--memory-budget` so the largest batches need many calls), and the memory the
  whole batch would need in one call;
* peak memory: the process's peak resident set on CPU (`ru_maxrss`, a high-water mark over the
  run) or the device's `peak_bytes_in_use` on a GPU.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

if __name__ == "__main__":  # one JAX CPU device per core, before JAX starts
    os.environ.setdefault("JAX_NUM_CPU_DEVICES", str(os.cpu_count()))

import numpy as np
from bench_chinchilla_grid import _peak_per_core, append_results, command_line, commit  # same folder

# Float64 peak (non-tensor-core) of GPUs, TFLOP/s, from NVIDIA's datasheets.
GPU_PEAK_TFLOPS = {"H100 80GB HBM3": 34.0, "H100 PCIe": 25.6, "H100": 34.0, "H200": 34.0, "A100": 9.7, "L4": 0.49}


def peak_flops(devices, override_gflops=None) -> tuple[float, str]:
    """The devices' combined float64 peak (FLOP/s) and how it was found."""
    if override_gflops:
        return override_gflops * 1e9, "given with --peak-gflops"
    device = devices[0]
    if device.platform == "cpu":  # from the CPU's vector width, as bench_chinchilla_grid reckons it
        per_core, how = _peak_per_core()
        cores = os.cpu_count() or 1
        return cores * per_core, f"{cores} cores x ({how})"
    kind = getattr(device, "device_kind", "")
    for name, tflops in GPU_PEAK_TFLOPS.items():
        if name in kind:
            return len(devices) * tflops * 1e12, f"{len(devices)} x {kind}: {tflops} TFLOP/s FP64 (datasheet)"
    return float("nan"), f"{kind}: peak unknown (pass --peak-gflops)"


def step_flops(law, loss, problem, solver, width=256) -> float:
    """FLOPs of one solver step of one fit, from XLA's cost analysis of a vmapped step."""
    import jax
    import jax.numpy as jnp

    from jscale.base._numerics import x64_scope

    with x64_scope():
        x0 = jnp.zeros((width, law.n_free))
        states = jax.vmap(solver.init)(x0)
        step = jax.jit(jax.vmap(lambda s: solver.step(s, problem)))
        cost = step.lower(states).compile().cost_analysis()
        if isinstance(cost, list):
            cost = cost[0]
        return float(cost["flops"]) / width


def peak_memory(device) -> int:
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        return int(stats.get("peak_bytes_in_use", 0))
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-fits", type=float, default=None, help="largest batch (default 1e6 on CPU, 1e7 else)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--memory-budget", type=float, default=None,
                        help="bytes one jitted call may use (JSCALE_MEMORY_BUDGET; default 8 MiB on CPU, where "
                             "jscale's cap of 65,536 fits per call would bind first, and 1 GiB elsewhere; 0: "
                             "jscale's own default)")
    parser.add_argument("--peak-gflops", type=float, default=None)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    import warnings

    import jax

    if args.memory_budget is None:
        args.memory_budget = 8 * 2**20 if jax.default_backend() == "cpu" else 2**30
    if args.memory_budget:
        os.environ["JSCALE_MEMORY_BUDGET"] = str(int(args.memory_budget))

    import jscale
    from jscale.base._numerics import x64_scope
    from jscale.engine import _batch
    from jscale.engine._batch import default_batch_size, memory_budget, problems_per_call
    from jscale.engine._problem import build, to_device
    from jscale.losses._losses import resolve_loss

    warnings.simplefilter("ignore")
    measured = commit()
    devices = jax.local_devices()
    backend = devices[0].platform
    max_fits = int(args.max_fits or (1e6 if backend == "cpu" else 1e7))
    law, data = jscale.laws.Chinchilla(), jscale.datasets.load("chinchilla")
    grid = law.default_starts()
    loss = resolve_loss("huber", None)
    full = jscale.fit(law, data)
    with x64_scope():
        problem = to_device(build(law, loss, data))
    flops_step = step_flops(law, loss, problem, jscale.solvers.RobustGaussNewton())
    peak, peak_note = peak_flops(devices, args.peak_gflops)
    batch = default_batch_size(backend)

    calls = []

    def counting(original):
        def counted(*a, **k):
            calls.append(1)
            return original(*a, **k)
        return counted

    _batch._fit_batched = counting(_batch._fit_batched)
    _batch._fit_starts = counting(_batch._fit_starts)

    sizes = [int(10**e) for e in range(0, 8) if 10**e <= max_fits] + [4500]
    sizes = sorted(set(s for s in sizes if s <= max_fits))
    rows = []
    for n in sizes:
        n_starts = min(n, len(grid))
        n_resamples = max(1, round(n / n_starts))
        starts = grid[np.linspace(0, len(grid) - 1, n_starts).round().astype(int)]
        chunk = problems_per_call(n_starts, len(data), law.n_free, n_slots=batch)

        def run(b, starts=starts):  # one resample: a fit from the starts (a bootstrap needs two or more)
            if b == 1:
                return jscale.fit(law, data, starts=starts, progress=False)
            return jscale.bootstrap(law, data, n_resamples=b, key=0, starts=starts, full_fit=full, jackknife=False,
                                    progress=False)

        t0 = time.perf_counter()
        run(min(n_resamples, chunk))  # compiles the call shape the timed run uses
        first = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats if n < 10**5 else 1):
            calls.clear()
            t0 = time.perf_counter()
            boot = run(n_resamples)
            times.append(time.perf_counter() - t0)
        t = float(np.median(times))
        fits = n_starts * n_resamples
        steps = float(np.mean(boot.n_steps))
        flops = fits * steps * flops_step
        whole = 8 * n_resamples * (8 * len(data) + n_starts * (law.n_free + 3))
        rows.append((fits, n_starts, n_resamples, t, first, fits / t, steps, steps * flops_step, flops / t,
                     flops / t / peak, len(calls), whole, peak_memory(devices[0])))
        print(f"{fits:>10,} fits  {t:8.3f} s  {fits / t:10,.0f} fits/s  {flops / t / 1e9:7.2f} GFLOP/s  "
              f"calls {len(calls)}  peak {rows[-1][-1] / 2**20:,.0f} MiB", flush=True)

    header = ("| fits | starts x resamples | time (s) | first call (s) | fits/s | steps/fit | FLOPs/fit | GFLOP/s | "
              "of FP64 peak | calls | one call would need (MiB) | peak memory (MiB) |\n|" + "---|" * 12)
    lines = [header] + [
        f"| {f:,} | {s} x {b} | {t:.3f} | {c:.2f} | {r:,.0f} | {st:.1f} | {fp:,.0f} | {fl / 1e9:.2f} | {frac:.1%} | "
        f"{k} | {w / 2**20:,.1f} | {m / 2**20:,.0f} |"
        for f, s, b, t, c, r, st, fp, fl, frac, k, w, m in rows
    ]
    table = "\n".join(lines)
    print(table)
    device_note = f"{len(devices)} x {devices[0].device_kind} ({backend})"
    note = (f"Devices: {device_note}; every call split over all of them. Memory budget per call: "
            f"{memory_budget() / 2**20:,.0f} MiB; refill slots per device: {batch}. One solver step: "
            f"{flops_step:,.0f} FLOPs (XLA cost analysis). Peak: {peak_note}. Time: median of {args.repeats} warm "
            f"calls below 10^5 fits, one call from there.")
    if not args.no_append:
        command = command_line("bench_scaling.py", argv)
        append_results(f"Scaling: fits/s and FLOP/s from 1 to {max_fits:,} fits ({backend})", command, measured,
                       note, table)


if __name__ == "__main__":
    main()
