"""Command line: `jscale fit [DATA]` fits a law and prints its summary and compute-optimal allocation.

    jscale fit                          # Chinchilla law on the bundled Chinchilla data
    jscale fit runs.csv --budgets 1e21 1e23
"""

from __future__ import annotations

import argparse
import os
import sys
import time

DEFAULT_BUDGETS = (1e21, 1e22, 1e23, 5.76e23, 1e24, 1e25)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jscale", description="Fit neural scaling laws with JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fit", help="fit a law and print its summary and compute-optimal allocation")
    p.add_argument("data", nargs="?", default="chinchilla",
                   help="a bundled dataset name (see `jscale datasets`) or a CSV path (default: chinchilla)")
    p.add_argument("--law", default="chinchilla", choices=["chinchilla"], help="law form (default: chinchilla)")
    p.add_argument("--include-outliers", action="store_true", help="bundled data: keep the rows the source drops")
    p.add_argument("--loss", default="huber", choices=["huber", "squared"], help="loss on log residuals")
    p.add_argument("--delta", type=float, default=None, help="Huber threshold (default 1e-3)")
    p.add_argument("--budgets", type=float, nargs="+", default=list(DEFAULT_BUDGETS), metavar="FLOP",
                   help="compute budgets for the allocation table (default: %(default)s)")
    sub.add_parser("datasets", help="list the bundled datasets")
    return parser


def _use_all_cores():
    """Expose every core as a JAX CPU device (the fit splits its starts over them).

    Done only here, at program start and before JAX creates its backend; the library itself
    never changes JAX's configuration.
    """
    import jax

    if "JAX_NUM_CPU_DEVICES" not in os.environ:
        try:
            jax.config.update("jax_num_cpu_devices", os.cpu_count() or 1)
        except Exception:  # noqa: BLE001 - backend already initialised (e.g. called in-process)
            pass


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    _use_all_cores()
    import jscale

    if args.command == "datasets":
        for name in jscale.datasets.list():
            print(name)
        return 0

    try:
        if args.data in jscale.datasets.list():
            data = jscale.datasets.load(args.data, include_outliers=args.include_outliers)
            source = f"bundled dataset '{args.data}'"
        elif os.path.exists(args.data):
            data = jscale.ScalingData.from_csv(args.data)
            source = args.data
        else:
            raise ValueError(f"'{args.data}' is neither a bundled dataset ({', '.join(jscale.datasets.list())}) "
                             "nor an existing CSV file.")
        law = jscale.laws.Chinchilla()
        t0 = time.perf_counter()
        result = jscale.fit(law, data, loss=args.loss, delta=args.delta)
        seconds = time.perf_counter() - t0
    except (ValueError, TypeError, jscale.ConvergenceError) as err:
        print(f"jscale: {err}", file=sys.stderr)
        return 2
    print(f"Data: {source}, {len(data)} rows. Fitted {result.n_starts} starts in {seconds:.2f} s "
          "(including compilation).\n")
    print(result.summary())
    allocation = jscale.compute_optimal(law, args.budgets, params=result.params)
    print("\nCompute-optimal allocation (C = 6 N D):")
    print("\n".join("  " + line for line in allocation.table().splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
