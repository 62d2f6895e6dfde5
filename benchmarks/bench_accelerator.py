"""Issue 7's accelerator target: the full Hoffmann grid on each of 4,000 bootstrap resamples.

    python benchmarks/bench_accelerator.py                      # 4,500 starts x 4,000 resamples
    python benchmarks/bench_accelerator.py --resamples 8 --check 2 --no-append   # a CPU dry run

In a fresh process (so compilation is included): `jscale.fit` of Chinchilla from the 4,500 grid
starts, then `jscale.bootstrap(..., starts="grid", n_resamples=4000, key=0, jackknife=False)`:
18 million fits, on every local device of the default backend. The wall time of the two calls
together, compilation included, is the figure (target on one H100: at most 30 s).

Correctness: `--check` resamples, evenly spaced, are refitted on the host CPU (`jax.devices("cpu")`)
from the same 4,500 starts with the same multiplicities (`counts=`); each resample's best
objective must match the accelerator's to 1e-9 relative.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_chinchilla_grid import append_results, command_line, commit  # same folder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resamples", type=int, default=4000)
    parser.add_argument("--check", type=int, default=16, help="resamples refitted on the CPU for the check")
    parser.add_argument("--batch-size", type=int, default=None, help="refill slots per device (default: jscale's)")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)
    measured = commit()

    t_start = time.perf_counter()
    import warnings

    import jax

    import jscale
    from jscale.engine._batch import default_batch_size

    warnings.simplefilter("ignore")
    law, data = jscale.laws.Chinchilla(), jscale.datasets.load("chinchilla")
    t0 = time.perf_counter()
    full = jscale.fit(law, data, execution=jscale.Execution(batch_size=args.batch_size))
    boot = jscale.bootstrap(law, data, n_resamples=args.resamples, key=0, starts="grid", full_fit=full,
                            jackknife=False, progress=False, execution=jscale.Execution(batch_size=args.batch_size))
    elapsed = time.perf_counter() - t0
    import_time = t0 - t_start
    devices = jax.local_devices()
    n_fits = boot.objectives.size + full.n_starts
    stats = devices[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    slots = args.batch_size or default_batch_size(devices[0].platform)
    print(f"{n_fits:,} fits in {elapsed:.2f} s ({n_fits / elapsed:,.0f} fits/s) on {len(devices)} x "
          f"{devices[0].device_kind}; import {import_time:.2f} s", flush=True)

    # The CPU reference on a sample of resamples, same starts and multiplicities.
    pick = np.unique(np.linspace(0, args.resamples - 1, args.check).round().astype(int))
    counts = np.stack([boot.resample_counts(int(i)) for i in pick])
    cpu = jax.devices("cpu")[0]
    t0 = time.perf_counter()
    with jax.default_device(cpu):
        on_cpu = jscale.Execution(mesh=jax.sharding.Mesh(np.array([cpu]), ("fits",)))
        ref_full = jscale.fit(law, data, execution=on_cpu)
        ref = jscale.bootstrap(law, data, counts=counts, starts="grid", full_fit=ref_full, jackknife=False,
                               execution=on_cpu, progress=False)
    cpu_time = time.perf_counter() - t0
    best = np.nanmin(np.where(np.isfinite(boot.objectives[pick]), boot.objectives[pick], np.nan), axis=1)
    ref_best = np.nanmin(np.where(np.isfinite(ref.objectives), ref.objectives, np.nan), axis=1)
    rel = np.abs(best / ref_best - 1)
    print(f"CPU reference on {len(pick)} resamples ({cpu_time:.1f} s): max relative difference of the best "
          f"objective {rel.max():.2e}; full-data optimum {full.objective:.15g} vs CPU {ref_full.objective:.15g}")

    table = (
        "| fits | devices | slots per device | time incl. compile (s) | fits/s | peak device memory (MiB) | "
        "resamples checked on CPU | "
        "max rel. diff of best objective | target |\n|---|---|---|---|---|---|---|---|---|\n"
        f"| {n_fits:,} | {len(devices)} x {devices[0].device_kind} | {slots:,} | {elapsed:.2f} | "
        f"{n_fits / elapsed:,.0f} | "
        f"{'-' if peak is None else f'{peak / 2**20:,.0f}'} | {len(pick)} | {rel.max():.1e} | "
        f"{'<= 30 s and <= 1e-9' if args.resamples == 4000 else 'dry run'} |"
    )
    print(table)
    if not args.no_append:
        command = command_line("bench_accelerator.py", argv)
        append_results(f"Hoffmann grid x {args.resamples:,} bootstrap resamples ({devices[0].platform})", command,
                       measured, f"Fresh process: full fit plus bootstrap, compilation included (imports "
                       f"{import_time:.1f} s apart).", table)


if __name__ == "__main__":
    main()
