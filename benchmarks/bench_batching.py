"""Compares the batching strategies on the full Chinchilla grid (4,500 starts, 240 rows), 1 device.

    python benchmarks/bench_batching.py             # appends a table to RESULTS.md
    python benchmarks/bench_batching.py --no-append

A batched `while_loop` runs until its slowest member stops. This measures how much that costs
for `method="vmap"` (one batch of all starts), `method="map"` (`lax.map` over chunks, vmap inside
each), and `method="refill"` (slots handed to the next start as fits finish, tail compacted),
over chunk/slot counts, and so justifies the defaults in `jscale/engine/_batch.py`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax

import jscale

CONFIGS = [("vmap", None)] + [("map", b) for b in (64, 256, 1024)] + [("refill", b) for b in (64, 128, 256, 512, 1024)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args(argv)

    from bench_chinchilla_grid import append_results, commit  # same folder

    data = jscale.datasets.load("chinchilla")
    law = jscale.laws.Chinchilla()
    lines = ["| method | batch size | compile (s) | time (s) | fits/s | evals/start | best objective | "
             "starts at best |",
             "|" + "---|" * 8]
    for method, batch in CONFIGS:
        kwargs = dict(batching=method, n_devices=1)
        if batch:
            kwargs["batch_size"] = batch
        t0 = time.perf_counter()
        result = jscale.fit(law, data, **kwargs)
        first = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            result = jscale.fit(law, data, **kwargs)
            times.append(time.perf_counter() - t0)
        seconds = statistics.median(times)
        line = (f"| {method} | {batch or result.n_starts} | {first - seconds:.2f} | {seconds:.3f} | "
                f"{result.n_starts / seconds:.0f} | {result.n_steps.mean():.1f} | {result.objective:.13g} | "
                f"{result.n_at_best} |")
        print(line, flush=True)
        lines.append(line)
    table = "\n".join(lines)
    if not args.no_append:
        append_results(f"Batching strategies, Chinchilla grid, {jax.default_backend()}",
                       "python benchmarks/bench_batching.py", commit(),
                       f"Time: median of {args.repeats} warm calls, 1 device.", table)


if __name__ == "__main__":
    main()
