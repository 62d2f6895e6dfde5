"""The `jscale` command (also `python -m jscale`).

    jscale fit                                   # Chinchilla law, bundled Chinchilla data, 1,000 resamples
    jscale fit runs.csv --columns N=params,D=tokens,L=loss --bootstrap 4000 --out results/
    jscale allocate results/result.jscale --compute 1e21 1e24 --format csv
    jscale predict results/result.jscale --n-params 7e10 --n-tokens 1.4e12
    jscale plot results/result.jscale --kind corner --out corner.png
    jscale datasets

User errors (a bad file, column or value) print one line on stderr and exit with status 2;
`--strict` makes a fit whose best start did not converge exit with status 3.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import warnings
from pathlib import Path

DEFAULT_BUDGETS = (1e21, 1e22, 1e23, 5.76e23, 1e24, 1e25)
PLOTS = ("frontier", "isoflop", "allocation", "residuals", "corner")
_ALIASES = {"n": "n_params", "d": "n_tokens", "c": "compute", "u": "unique_tokens", "l": "loss"}


class UserError(Exception):
    """A problem with the user's input: reported on one line, exit status 2."""


def _law_name(text: str) -> str:
    # Importing jscale does not start a JAX backend, so `_use_all_cores` still works after parsing.
    from jscale._data import closest
    from jscale._laws import NAMED

    if text in NAMED:
        return text
    raise argparse.ArgumentTypeError(f"unknown law {text!r}{closest(text.lower(), NAMED)}; the laws are "
                                     f"{', '.join(sorted(NAMED))}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jscale", description="Fit neural scaling laws with JAX.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fit", help="fit a law (with a bootstrap) and write the result, a JSON summary and plots")
    p.add_argument("data", nargs="?", default="chinchilla",
                   help="a bundled dataset name (see `jscale datasets`) or a CSV path (default: chinchilla)")
    p.add_argument("--law", default="chinchilla", type=_law_name,
                   metavar="{chinchilla,data-constrained,kaplan}", help="law form (default: chinchilla)")
    p.add_argument("--columns", default=None, metavar="N=col,D=col,...",
                   help="CSV header names for the fields N, D, C, U, L (or n_params=..., loss=...)")
    p.add_argument("--include-outliers", action="store_true", help="bundled data: keep the rows the source drops")
    p.add_argument("--target", default="loss", metavar="COLUMN", help="the column to fit (default: loss)")
    p.add_argument("--residual", default="log", choices=["log", "raw"],
                   help="residuals of log values (default) or of the values themselves")
    p.add_argument("--loss", default="huber", choices=["huber", "squared"], help="loss of the residuals")
    p.add_argument("--delta", type=float, default=None, help="Huber threshold (default 1e-3)")
    p.add_argument("--starts", default="grid", help="'grid' (the law's default starts) or a number of them")
    p.add_argument("--max-steps", type=int, default=None, help="solver steps per start (default 500)")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="B", help="row resamples (0: none; default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap key (default 0)")
    p.add_argument("--budgets", type=float, nargs="+", default=list(DEFAULT_BUDGETS), metavar="FLOP",
                   help="compute budgets for the allocation table")
    p.add_argument("--out", default="jscale-out", help="directory for result.jscale, summary.json and plots "
                   "(default: jscale-out; 'none' writes nothing)")
    p.add_argument("--strict", action="store_true", help="exit with status 3 if the best start did not converge")
    p.add_argument("--quiet", action="store_true", help="print only the tables, no progress")

    a = sub.add_parser("allocate", help="compute-optimal N*, D*, L* at budgets, from a saved result")
    a.add_argument("result", help="a file written by `jscale fit` (result.jscale)")
    a.add_argument("--compute", type=float, nargs="+", default=None, metavar="FLOP", help="budgets")
    a.add_argument("--range", type=float, nargs=3, default=None, metavar=("LOW", "HIGH", "NUM"),
                   help="log-spaced budgets from LOW to HIGH")
    a.add_argument("--format", default="table", choices=["table", "csv", "json"])

    r = sub.add_parser("predict", help="predicted loss with a 95%% interval, from a saved result")
    r.add_argument("result")
    r.add_argument("--n-params", type=float, nargs="+", required=True)
    r.add_argument("--n-tokens", type=float, nargs="+", required=True)
    r.add_argument("--format", default="table", choices=["table", "csv", "json"])

    g = sub.add_parser("plot", help="draw a plot of a saved result")
    g.add_argument("result")
    g.add_argument("--kind", default="allocation", choices=PLOTS)
    g.add_argument("--data", default="chinchilla",
                   help="the fitted data, a bundled name or CSV path (for frontier, isoflop, residuals; "
                   "default chinchilla)")
    g.add_argument("--out", required=True, help="image file, e.g. plot.png")

    sub.add_parser("datasets", help="list the bundled datasets")
    return parser


def _use_all_cores():
    """Expose every core as a JAX CPU device (fits split their work over them).

    Done only here, at program start and before JAX creates its backend; the library itself
    never changes JAX's configuration.
    """
    import jax

    if "JAX_NUM_CPU_DEVICES" not in os.environ:
        try:
            jax.config.update("jax_num_cpu_devices", os.cpu_count() or 1)
        except Exception:  # noqa: BLE001 - backend already initialised (e.g. called in-process)
            pass


def _columns(spec: str | None) -> dict | None:
    if not spec:
        return None
    out = {}
    for part in spec.split(","):
        if "=" not in part:
            raise UserError(f"--columns takes FIELD=HEADER pairs separated by commas; got {part!r}.")
        field, header = (x.strip() for x in part.split("=", 1))
        field = _ALIASES.get(field.lower(), field)
        out[field] = header
    return out


def _load_data(name: str, columns=None, include_outliers=False):
    import jscale

    if name in jscale.datasets.list():
        return jscale.datasets.load(name, include_outliers=include_outliers), f"bundled dataset '{name}'"
    if os.path.exists(name):
        return jscale.ScalingData.from_csv(name, columns=columns), name
    raise UserError(f"'{name}' is neither a bundled dataset ({', '.join(jscale.datasets.list())}) nor an existing "
                    "CSV file.")


def _law(name: str, data):
    from jscale._laws import NAMED

    return NAMED[name]()


def _starts(spec: str, law):
    import numpy as np

    grid = law.default_starts()
    if spec == "grid":
        return None
    try:
        count = int(spec)
    except ValueError:
        raise UserError(f"--starts must be 'grid' or a positive number; got {spec!r}.") from None
    if count < 1:
        raise UserError(f"--starts must be 'grid' or a positive number; got {spec!r}.")
    return grid[np.linspace(0, len(grid) - 1, min(count, len(grid))).round().astype(int)]


def _fit(args) -> int:
    import jscale

    data, source = _load_data(args.data, _columns(args.columns), args.include_outliers)
    law = _law(args.law, data)
    if args.bootstrap < 0:
        raise UserError(f"--bootstrap must be >= 0; got {args.bootstrap}.")
    solver = None if args.max_steps is None else jscale.RobustGaussNewton(max_steps=args.max_steps)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", jscale.DiagnosticWarning)
        result = jscale.fit(law, data, target=args.target, residual=args.residual, starts=_starts(args.starts, law),
                            loss=args.loss, delta=args.delta, solver=solver)
    converged = not any(issubclass(w.category, jscale.ConvergenceWarning) for w in caught)
    seconds = time.perf_counter() - t0
    if not args.quiet:
        print(f"Data: {source}, {len(data)} rows. Fitted {result.n_starts} starts in {seconds:.2f} s "
              "(including compilation).\n")
    print(result.summary())
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    saved = result
    if args.bootstrap:
        t0 = time.perf_counter()
        # The fit's findings are printed above and the bootstrap's notes are in its summary.
        with warnings.catch_warnings(record=True) as notes:
            warnings.simplefilter("always", jscale.DiagnosticWarning)
            saved = jscale.bootstrap(law, data, n_resamples=args.bootstrap, key=args.seed, full_fit=result,
                                     target=args.target, residual=args.residual, loss=args.loss, delta=args.delta,
                                     solver=solver, progress=False if args.quiet else None)
        if not args.quiet:
            print(f"\nBootstrap: {args.bootstrap} row resamples in {time.perf_counter() - t0:.2f} s.")
        print()
        print(saved.summary())
        del notes  # their messages are in the summary's notes
    if "n_params" in law.columns and "n_tokens" in law.columns and len(law.columns) == 2:
        with _printed_warnings():
            allocation = jscale.compute_optimal(saved, args.budgets)
        print("\nCompute-optimal allocation (C = 6 N D):")
        print("\n".join("  " + line for line in allocation.table().splitlines()))
    if args.out.lower() != "none":
        _write_outputs(saved, data, Path(args.out), args.quiet)
    return 0 if converged or not args.strict else 3


def _write_outputs(result, data, out: Path, quiet: bool):
    import jscale

    out.mkdir(parents=True, exist_ok=True)
    jscale.save(result, out / "result.jscale")
    (out / "summary.json").write_text(json.dumps(result.to_dict(), indent=2, default=float) + "\n")
    written = ["result.jscale", "summary.json"]
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        print("jscale: matplotlib is not installed (pip install 'jscale[plot]'); no plots written.", file=sys.stderr)
    else:
        for kind in PLOTS:
            if _plot(result, data, kind, out / f"{kind}.png", skip_unavailable=True):
                written.append(f"{kind}.png")
    if not quiet:
        print(f"\nWrote {', '.join(written)} to {out}/")


def _plot(result, data, kind: str, path: Path, skip_unavailable: bool = False) -> bool:
    import matplotlib.pyplot as plt
    import numpy as np

    import jscale
    import jscale.plot as jplot

    boot = result if isinstance(result, jscale.BootstrapResult) else None
    law = result.law
    allocating = "n_params" in law.columns and "n_tokens" in law.columns and len(law.columns) == 2
    if (kind == "corner" and boot is None) or (kind in ("frontier", "isoflop", "allocation") and not allocating):
        if skip_unavailable:
            return False
        raise UserError(f"--kind {kind} is not available for this result (law {law.name}"
                        f"{', no bootstrap' if boot is None else ''}).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.IntervalWarning)
        warnings.simplefilter("ignore", jscale.ExtrapolationWarning)  # the plots show the data's range
        if kind == "corner":
            figure = jplot.corner(boot)
        elif kind == "allocation":
            figure = jplot.allocation(jscale.compute_optimal(result, np.logspace(19, 26, 50))).figure
        else:
            figure = getattr(jplot, kind)(result, data).figure
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


@contextlib.contextmanager
def _printed_warnings():
    """Prints diagnostic warnings (extrapolation) to stderr as one line each; interval notes are
    left out (the tables show the bands)."""
    import jscale

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", jscale.IntervalWarning)
        warnings.simplefilter("always", jscale.ExtrapolationWarning)
        yield
    for w in caught:
        if issubclass(w.category, jscale.DiagnosticWarning):
            print(f"warning: {w.message}", file=sys.stderr)


def _saved(path: str):
    import jscale

    if not os.path.exists(path):
        raise UserError(f"'{path}' does not exist; write one with `jscale fit --out DIR` (DIR/result.jscale).")
    return jscale.load(path)


def _emit(rows: list[dict], fmt: str):
    if fmt == "json":
        print(json.dumps(rows, indent=2, default=float))
        return
    keys = list(rows[0])
    if fmt == "csv":
        print(",".join(keys))
        for r in rows:
            print(",".join(repr(float(r[k])) for k in keys))
        return
    print("  ".join(f"{k:>14}" for k in keys))
    for r in rows:
        print("  ".join(f"{float(r[k]):>14.6g}" for k in keys))


def _allocate(args) -> int:
    import numpy as np

    import jscale

    result = _saved(args.result)
    if args.compute is None and args.range is None:
        budgets = list(DEFAULT_BUDGETS)
    elif args.range is not None:
        low, high, num = args.range
        if not (low > 0 and high > low and num >= 1):
            raise UserError("--range takes LOW HIGH NUM with 0 < LOW < HIGH and NUM >= 1.")
        budgets = np.logspace(np.log10(low), np.log10(high), int(num))
    else:
        budgets = args.compute
    with _printed_warnings():
        out = jscale.compute_optimal(result, budgets)
    banded = out.draws is not None or out.sd is not None
    rows = []
    for k, c in enumerate(out.compute):
        row = {"compute": c, "n_params": out.n_params[k], "n_tokens": out.n_tokens[k],
               "tokens_per_param": out.tokens_per_param[k], "loss": out.loss[k]}
        if banded:
            for name in ("n_params", "n_tokens", "tokens_per_param"):
                low, high = out.interval(name)
                row[f"{name}_low"], row[f"{name}_high"] = low[k], high[k]
        rows.append(row)
    _emit(rows, args.format)
    return 0


def _predict(args) -> int:
    import numpy as np

    import jscale

    result = _saved(args.result)
    n, d = np.asarray(args.n_params), np.asarray(args.n_tokens)
    if n.shape != d.shape:
        raise UserError(f"--n-params has {n.size} values but --n-tokens has {d.size}; give as many of each.")
    with _printed_warnings():
        if isinstance(result, jscale.BootstrapResult):
            low, high = result.predict_interval(n_params=n, n_tokens=d)
            pred = result.fit.predict(n_params=n, n_tokens=d)
        else:
            low, high = result.predict_interval(n_params=n, n_tokens=d)
            pred = result.predict(n_params=n, n_tokens=d)
    rows = [{"n_params": n[k], "n_tokens": d[k], "loss": pred[k], "loss_low": low[k], "loss_high": high[k]}
            for k in range(n.size)]
    _emit(rows, args.format)
    return 0


def _plot_command(args) -> int:
    import jscale

    result = _saved(args.result)
    data = None
    if args.kind in ("frontier", "isoflop", "residuals"):
        data, source = _load_data(args.data)
        fit = result.fit if isinstance(result, jscale.BootstrapResult) else result
        if len(data) != fit.n_rows:
            raise UserError(f"The result was fitted to {fit.n_rows} rows but --data {source} has {len(data)}; "
                            "pass the fitted data with --data.")
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        raise UserError("jscale plot needs matplotlib: pip install 'jscale[plot]'.") from None
    _plot(result, data, args.kind, Path(args.out))
    print(f"wrote {args.out}")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    _use_all_cores()
    import jscale

    if args.command == "datasets":
        for name in jscale.datasets.list():
            print(f"{name:<14} {jscale.datasets.info(name).splitlines()[0].split(': ', 1)[-1]}")
        return 0
    commands = {"fit": _fit, "allocate": _allocate, "predict": _predict, "plot": _plot_command}
    try:
        return commands[args.command](args)
    except (UserError, ValueError, TypeError, FileNotFoundError, jscale.ConvergenceError) as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"jscale: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
