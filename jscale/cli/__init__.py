"""The `jscale` command (also `python -m jscale`).

    jscale fit                                   # Chinchilla law, bundled Chinchilla data, 1,000 resamples
    jscale fit runs.csv --columns N=params,D=tokens,L=loss --resamples 4000 --out results/
    jscale allocate results/result.jscale --compute 1e21 1e24 --format csv
    jscale predict results/result.jscale --n-params 7e10 --n-tokens 1.4e12 --level 0.9
    jscale plot results/result.jscale --kind corner --out corner.png
    jscale isoflop sweep.csv --columns N=params,D=tokens,L=loss --out sweep/
    jscale plan isoflop --budgets 1e19 1e20 1e21 --result results/result.jscale --format csv
    jscale plan next runs.csv --target n_params --compute 1e24 --budget 1e21 --n 8 --out next-runs.csv
    jscale compare a/result.jscale b/result.jscale --compute 1e21 1e22 1e23 --plot multiplier.png
    jscale hyperparameters sweep.csv --over learning_rate --scale n_params,n_tokens --cell 7e9,2e12
    jscale curves checkpoints.csv --run "Run ID" --step "global step" --columns L=train/loss --best-schedule
    jscale datasets

Data files are CSV, TSV, JSON or Parquet (`jscale.ScalingData.from_file`). One option name has one
meaning in every command: --compute the budgets an answer is wanted at, --budgets the budgets of
runs (a sweep's, or candidate runs'), --resamples the bootstrap resamples, --level the level of
every printed band, --n-params and --n-tokens a point. Earlier spellings (--bootstrap, fit's
--budgets, --at) still work until 0.4.0, and say so once.

User errors (a bad file, column or value) print one line on stderr and exit with status 2, before
any fitting; `--strict` makes a fit whose best start did not converge exit with status 3. An
unexpected error prints one line naming a file that holds its traceback and exits with status 1;
Ctrl-C exits with status 130 (SIGTERM with 143) at any time. An output folder is written beside
itself and swapped in whole, so it holds one complete run (this one or the previous one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import signal
import sys
import tempfile
import warnings
from pathlib import Path

from jscale.cli._process import (
    UserError,
    exit_on_signals,
    file_path,
    is_bundled,
    output_folder,
    output_folder_path,
    plot_path,
    staging,
)
from jscale.cli._results import FITS, KINDS, SWEEPS, described, first_line, saved
from jscale.cli._text import Findings, cli_text, flags_of

# What `jscale fit` draws for a fit; `jscale plot` draws these and, for other results, "forms"
# (several forms) and a sweep's "isoflop" (its parabolas) and "allocation" (its N*(C)).
PLOTS = ("frontier", "isoflop", "allocation", "residuals", "corner")
PLOT_KINDS = {"FitResult": ("frontier", "isoflop", "allocation", "residuals"),
              "BootstrapResult": ("frontier", "isoflop", "allocation", "residuals", "corner"),
              "IsoFLOPResult": ("isoflop", "allocation"), "EnvelopeResult": ("allocation",), "Ensemble": ("forms",)}
_ALIASES = {"n": "n_params", "d": "n_tokens", "c": "compute", "u": "unique_tokens", "l": "loss"}
_MAX_RANGE_POINTS = 1000  # `allocate --range`: every point is a column of B draws, so memory grows with it
_MAX_SIZES = 1000  # `plan --n-sizes`
_COMPARE_PLOT_POINTS = 50  # `compare --plot`: budgets of the multiplier curve


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"jscale: {' '.join(message.split())} (see `{self.prog} --help`).\n")


class _Renamed(argparse.Action):
    """An option's earlier spelling, hidden from --help: it still works (until 0.4.0), and the
    command says once which name to use and why (`args.renamed`: old -> the line to print).
    `store(namespace, values)` sets what it stands for, when that is not simply its dest."""

    def __init__(self, option_strings, dest, new, why, store=None, **kwargs):
        self.new, self.why, self.store = new, why, store
        super().__init__(option_strings, dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        if self.store is None:
            setattr(namespace, self.dest, values)
        else:
            self.store(namespace, values)
        line = f"{option_string} is now {self.new} ({self.why}); {option_string} goes in 0.4.0."
        namespace.renamed = {**getattr(namespace, "renamed", {}), option_string: line}


def _level_option(p, what: str = "bands") -> None:
    p.add_argument("--level", type=float, default=0.95, help=f"level of the printed {what} (default 0.95)")


def _compute_option(p, what: str) -> None:
    """--compute FLOP [FLOP ...]: the budgets an answer is wanted at (one meaning in every command)."""
    p.add_argument("--compute", type=float, nargs="+", default=None, metavar="FLOP", help=what)


def _seed_option(p, what: str) -> None:
    """--seed: the resamples' key."""
    p.add_argument("--seed", type=int, default=0, help=f"{what} (default 0)")


def _resamples_option(p, what: str) -> None:
    """--resamples B (and its earlier spelling, --bootstrap)."""
    p.add_argument("--resamples", type=int, default=1000, metavar="B", help=what)
    p.add_argument("--bootstrap", action=_Renamed, dest="resamples", new="--resamples", type=int, metavar="B",
                   why="the bootstrap's resamples, in every command")


def _law_name(text: str) -> str:
    # Importing jscale does not start a JAX backend, so `_use_all_cores` still works after parsing.
    from jscale.base._text import closest
    from jscale.laws import NAMED

    name, _, column = text.partition(":")
    if name in NAMED and (not column or "column" in NAMED[name].__dataclass_fields__):
        return text
    if name in NAMED:
        raise argparse.ArgumentTypeError(f"the {name} law reads fixed columns; drop ':{column}'")
    raise argparse.ArgumentTypeError(f"unknown law {text!r}{closest(name.lower(), NAMED)}; the laws are "
                                     f"{', '.join(sorted(NAMED))}")


def _common_options(cache_dir, below: bool = False) -> _Parser:
    """The options every command takes. `below`: for the kinds of `jscale plan`, which take them
    too (`jscale plan next --quiet`): left unset when absent, since argparse copies everything a
    subcommand's parser sets over what `jscale plan --quiet next` set before it."""
    unset = {"default": argparse.SUPPRESS} if below else {}
    common = _Parser(add_help=False)
    common.add_argument("--no-cache", action="store_true", **unset,
                        help=f"do not keep compiled programs on disk (default: kept in {cache_dir}, "
                        "or $JSCALE_CACHE_DIR, so later runs skip compilation)")
    common.add_argument("--quiet", action="store_true", **unset, help="print only the results, no progress")
    return common


def _parser() -> argparse.ArgumentParser:
    from jscale.base._cache import default_cache_dir
    from jscale.base._version import __version__

    parser = _Parser(prog="jscale", description="Fit neural scaling laws with JAX.")
    parser.add_argument("--version", action="version", version=f"jscale {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    common = _common_options(default_cache_dir())
    _fit_parser(sub, common)

    a = sub.add_parser("allocate", parents=[common], help="compute-optimal N*, D*, L* at budgets, from a saved result")
    a.add_argument("result", help="a result file: result.jscale of `jscale fit` or `jscale isoflop`, or forms.jscale "
                   "of `jscale fit --law A --law B` (the forms' mixture)")
    _compute_option(a, "budgets (default: powers of ten from a decade below the fitted data's largest compute to "
                    "two decades beyond it)")
    a.add_argument("--range", type=float, nargs=3, default=None, metavar=("LOW", "HIGH", "NUM"),
                   help="log-spaced budgets from LOW to HIGH")
    a.add_argument("--format", default="table", choices=["table", "csv", "json"], help="output format")
    _level_option(a)

    r = sub.add_parser("predict", parents=[common], help="predicted loss with its band, from a saved result")
    r.add_argument("result", help="a result file of `jscale fit`: result.jscale, or forms.jscale (the forms' mixture)")
    r.add_argument("--n-params", type=float, nargs="+", required=True, metavar="N", help="model sizes")
    r.add_argument("--n-tokens", type=float, nargs="+", required=True, metavar="D",
                   help="training tokens, one per --n-params")
    r.add_argument("--format", default="table", choices=["table", "csv", "json"], help="output format")
    _level_option(r)

    g = sub.add_parser("plot", parents=[common], help="draw a plot of a saved result")
    g.add_argument("result", help="a result file: result.jscale of `jscale fit` or `jscale isoflop`, or forms.jscale")
    g.add_argument("--kind", default=None, choices=[*PLOTS, "forms"],
                   help="which plot: of a fit frontier, isoflop, allocation (default), residuals or (bootstrapped) "
                   "corner; of an isoFLOP sweep isoflop (its parabolas) or allocation (its N*(C), default); of "
                   "several forms, forms (default)")
    g.add_argument("--data", default=None,
                   help="the fitted data, a bundled name or data file (for frontier, isoflop, residuals); default: "
                   "the data the result file records, if it is still where it was and unchanged (a sweep's runs "
                   "are not recorded: --kind isoflop of a sweep needs --data)")
    g.add_argument("--columns", action="append", default=None, metavar="N=col,D=col,...",
                   help="header names (JSON: keys) for the fields N, D, C, U, L of --data (as for `jscale fit`)")
    g.add_argument("--include-outliers", action="store_true",
                   help="bundled --data: keep the rows the source drops")
    g.add_argument("--out", required=True, help="image file, e.g. plot.png (format from the extension)")
    _level_option(g, "plot's bands")

    _sweep_parsers(sub, common)
    _hyper_parser(sub, common)
    _curves_parser(sub, common)
    _compare_parser(sub, common)
    sub.add_parser("datasets", parents=[common], help="list the bundled datasets")
    return parser


def _hyper_parser(sub, common) -> None:
    """The `hyperparameters` subcommand."""
    h = sub.add_parser("hyperparameters", parents=[common],
                       help="optimal learning rate (and batch size) per cell of a sweep, power laws of the optimum "
                       "in model and data size, and the optimum at the next scale, with bands")
    h.add_argument("data", help="a data file of the sweep's runs (CSV, TSV, JSON or Parquet)")
    h.add_argument("--over", required=True, metavar="COL[,COL]",
                   help="the hyperparameter column, or two on a grid (e.g. learning_rate,batch_size)")
    h.add_argument("--scale", default="n_params,n_tokens", metavar="COL[,COL...]",
                   help="the columns whose equal values make a cell, and the power laws' variables (default "
                   "n_params,n_tokens; e.g. compute)")
    h.add_argument("--columns", action="append", default=None, metavar="N=col,D=col,...",
                   help="header names for the fields N, D, C, L (as for `jscale fit`); other columns are named by "
                   "their headers")
    h.add_argument("--method", default="parabola", choices=["parabola", "near"],
                   help="per-cell optimum: parabola (a quadratic in log h, default) or near (the centre of the "
                   "configurations within --near of the cell's best loss)")
    h.add_argument("--near", type=float, default=0.0025, help="relative loss margin of --method near (0.0025)")
    h.add_argument("--loss", default="squared", choices=["squared", "huber"],
                   help="loss of the parabolas' log-loss residuals: squared (default) or huber")
    h.add_argument("--delta", type=float, default=None, help="Huber threshold (default 1e-3)")
    _resamples_option(h, "resamples of runs within each cell (0: none; default 1000)")
    _seed_option(h, "resampling key")
    h.add_argument("--cell", action="append", default=None, metavar="V[,V...]",
                   help="a cell to predict the optimum at: one value per --scale column, in their order (e.g. "
                   "7e9,2e12); may be repeated")
    h.add_argument("--tolerance", type=float, default=0.01,
                   help="relative loss increase that bounds the near-optimal range (default 0.01)")
    h.add_argument("--critical", default=None, metavar="COL",
                   help="also the critical value of this hyperparameter per cell (the largest within --tolerance of "
                   "the cell's best loss, e.g. the critical batch_size) and its power law, with bands")
    h.add_argument("--held-out", nargs="?", const="each", default=None, metavar="each|COL",
                   help="also compare the per-cell optima + power laws with a joint law fitted to every run, on "
                   "held-out cells: one at a time (each, the default) or every cell at the largest value of COL")
    _level_option(h)
    h.add_argument("--out", default="jscale-hyperparameters", help="directory for result.jscale, summary.json and "
                   "the two plots (default: jscale-hyperparameters; 'none' writes nothing)")


def _curves_parser(sub, common) -> None:
    """The `curves` subcommand (run by `jscale.cli._curves`)."""
    c = sub.add_parser("curves", parents=[common],
                       help="fit the multi-power law (Luo et al. 2025) to training curves under learning-rate "
                       "schedules, from a table of checkpoints; the loss under other schedules, with bands; the best "
                       "schedule")
    c.add_argument("data", help="a data file of checkpoints, one row per run and step (CSV, TSV, JSON or Parquet), or "
                   "the bundled luo2025 (its nine schedules, both model sizes as sets by size)")
    c.add_argument("--run", default="run", metavar="COL", help="the column naming each row's run (default run)")
    c.add_argument("--step", default="step", metavar="COL",
                   help="the column of the checkpoints' steps, counted from 0 as the schedules' (default step)")
    c.add_argument("--columns", action="append", default=None, metavar="L=col",
                   help="the header of the logged losses' column, L=HEADER (as for the other commands; default: a "
                   "column named loss or L); --loss means the residuals' loss in every command, never a column")
    given = c.add_mutually_exclusive_group()
    given.add_argument("--schedule", default="schedule", metavar="COL",
                       help="the column holding each row's schedule, the same in every row of a run, as spec text "
                       "such as 'cosine(steps=24000, peak=3e-4, floor=3e-5, warmup=2160)' (kinds constant, cosine, "
                       "wsd, two_stage; default column: schedule)")
    given.add_argument("--schedules", default=None, metavar="FILE",
                       help="instead, a data file of the runs' schedules: columns --run and spec (one spec per run), "
                       "or --run, --step and lr (the rate of every step 0..T-1 of each run)")
    c.add_argument("--sets", default=None, metavar="COL",
                   help="a column splitting the runs into sets fitted separately (e.g. the model size); every set is "
                   "fitted in one batched call")
    c.add_argument("--predict", action="append", default=None, metavar="SPEC",
                   help="a schedule to predict the loss under (at a quarter, half, three quarters and the end of its "
                   "steps): spec text, e.g. 'wsd(steps=72000, peak=3e-4, decay_start=57600, floor=3e-5, "
                   "warmup=2160)', or a run's name (its own schedule: the final loss of a run still training); may "
                   "be repeated, one SPEC each")
    c.add_argument("--resamples", type=int, default=0, metavar="B",
                   help="bootstrap resamples of blocks of checkpoints, for bands on the parameters, --predict and "
                   "--best-schedule (default 0: none, the fit alone in seconds; 200 for bands, a minute or more)")
    c.add_argument("--block", type=int, default=16, metavar="K",
                   help="checkpoints per resampled block: consecutive checkpoints share their noise (default 16)")
    _seed_option(c, "resampling key")
    c.add_argument("--best-schedule", action="store_true",
                   help="also the schedule that minimises the predicted final loss, by gradient descent through the "
                   "fitted law, and its gain over cosine and WSD with the same steps, peak, warmup and floor (the "
                   "longest training run's; floor: peak / 10 where it has none)")
    c.add_argument("--best-steps", type=int, default=None, metavar="N",
                   help="with --best-schedule: plan a run of N steps instead (e.g. a longer one)")
    _level_option(c)


def _fit_parser(sub, common) -> None:
    """The `fit` subcommand."""
    p = sub.add_parser("fit", parents=[common],
                       help="fit a law (with a bootstrap) and write the result, a JSON summary and plots")
    p.add_argument("data", nargs="?", default=None,
                   help="a bundled dataset name (see `jscale datasets`) or a data file: CSV, TSV, JSON or Parquet "
                   "(default: chinchilla)")
    p.add_argument("--law", action="append", default=None, type=_law_name, metavar="LAW",
                   help="law form: chinchilla (default), kaplan, data-constrained, or a one-column form with its "
                   "column: power-law:compute, pure-power-law:n_params, broken-power-law:n_tokens. Given twice or "
                   "more (--law chinchilla --law kaplan): the forms are bootstrapped together and weighed by their "
                   "skill on the held-out largest runs, and the bands carry their disagreement (forms.jscale)")
    p.add_argument("--columns", action="append", default=None, metavar="N=col,D=col,...",
                   help="header names (JSON: keys) for the fields N, D, C, U, L (or n_params=..., loss=..., or any "
                   "column a law reads); may be repeated")
    p.add_argument("--include-outliers", action="store_true", help="bundled data: keep the rows the source drops")
    p.add_argument("--target", default="loss", metavar="COLUMN", help="the column to fit (default: loss)")
    p.add_argument("--residual", default="log", choices=["log", "raw"],
                   help="residuals of log values (default) or of the values themselves")
    p.add_argument("--loss", default="huber", choices=["huber", "squared"], help="loss of the residuals")
    p.add_argument("--delta", type=float, default=None, help="Huber threshold (default 1e-3)")
    p.add_argument("--starts", default="grid", help="'grid' (the law's default starts) or a number of them")
    p.add_argument("--max-steps", type=int, default=None, help="solver steps per start (default 500)")
    _resamples_option(p, "bootstrap resamples of the rows (0: none; default 1000)")
    _seed_option(p, "bootstrap key")
    _compute_option(p, "compute budgets for the allocation table (default: powers of ten from a decade below the "
                    "data's largest compute to two decades beyond it)")
    p.add_argument("--budgets", action=_Renamed, dest="compute", new="--compute", type=float, nargs="+",
                   why="the budgets an answer is wanted at, in every command; --budgets names the budgets of runs")
    _level_option(p, "bands (bootstrap intervals, allocation table)")
    p.add_argument("--out", default="jscale-out", help="directory for result.jscale, summary.json and plots "
                   "(default: jscale-out; 'none' writes nothing)")
    p.add_argument("--strict", action="store_true", help="exit with status 3 if the best start did not converge")


def _sweep_parsers(sub, common) -> None:
    """The `isoflop` and `plan` subcommands."""
    from jscale.base._cache import default_cache_dir

    s = sub.add_parser("isoflop", parents=[common],
                       help="Approach 2 on an isoFLOP sweep: parabola minima per budget, N*(C) and D*(C) power laws")
    s.add_argument("data", help="a data file of the sweep's runs (CSV, TSV, JSON or Parquet) or a bundled dataset")
    s.add_argument("--columns", action="append", default=None, metavar="N=col,D=col,...",
                   help="header names (JSON: keys) for the fields N, D, C, L (as for `jscale fit`); may be repeated")
    s.add_argument("--budgets", type=float, nargs="+", default=None, metavar="FLOP",
                   help="the sweep's budgets (default: found from the runs' compute within --rtol)")
    s.add_argument("--rtol", type=float, default=0.1, help="relative tolerance of compute within a budget (0.1)")
    s.add_argument("--loss", default="squared", choices=["squared", "huber"],
                   help="loss of the parabolas' log-loss residuals: squared (default) or huber (robust to a stray run)")
    s.add_argument("--delta", type=float, default=None, help="Huber threshold (default 1e-3)")
    _resamples_option(s, "resamples of runs within each budget (0: none; default 1000)")
    _seed_option(s, "resampling key")
    _compute_option(s, "budgets for the N*(C), D*(C) table (default: powers of ten from a decade below the largest "
                    "budget to two decades beyond it)")
    s.add_argument("--at", action=_Renamed, dest="compute", new="--compute", type=float, nargs="+",
                   why="the budgets an answer is wanted at, in every command")
    s.add_argument("--law", default=None, type=_law_name, metavar="LAW",
                   help="also fit this law of N and D (e.g. chinchilla) to the same runs, with --resamples "
                   "resamples, and set its N*(C) (Approach 3) beside the sweep's")
    _level_option(s)
    s.add_argument("--out", default="jscale-isoflop", help="directory for result.jscale, summary.json and the two "
                   "plots (default: jscale-isoflop; 'none' writes nothing)")

    q = sub.add_parser("plan", parents=[common],
                       help="plan runs: `jscale plan isoflop` centres a sweep on N*(C); `jscale plan next` picks the "
                       "runs that pin down N*, D*, D*/N* or a loss most per unit cost")
    kinds = q.add_subparsers(dest="kind", required=True, metavar="KIND",
                             help="what to plan: isoflop (an isoFLOP sweep) or next (the next runs of a study)")
    below = [_common_options(default_cache_dir(), below=True)]
    i = kinds.add_parser("isoflop", parents=below, help="an isoFLOP sweep centred on the predicted N*(C)")
    i.add_argument("--budgets", type=float, nargs="+", required=True, metavar="FLOP", help="the sweep's budgets")
    i.add_argument("--result", default=None,
                   help="a result file of `jscale fit` or `jscale isoflop` (result.jscale) whose N*(C) centres the "
                   "sweep")
    i.add_argument("--law", default="chinchilla", type=_law_name, metavar="LAW",
                   help="without --result: the law whose --params centre the sweep (default chinchilla)")
    i.add_argument("--params", default=None, metavar="NAME=VALUE,...",
                   help="without --result: the law's parameters, e.g. E=1.82,A=482,B=2085,alpha=0.348,beta=0.366")
    i.add_argument("--n-sizes", type=int, default=7, help="model sizes per budget (default 7)")
    i.add_argument("--width", type=float, default=4.0, help="factor either side of N* the sizes reach (default 4)")
    i.add_argument("--format", default="table", choices=["table", "csv", "json"], help="output format")
    _plan_next_parser(kinds, below)


def _plan_next_parser(kinds, below) -> None:
    """`jscale plan next`: fit and bootstrap the runs so far, then `jscale.suggest_runs`."""
    import jscale

    n = kinds.add_parser("next", parents=below,
                         help="the next runs of a study: fit the runs so far, then pick, one at a time, the run "
                         "that shrinks the uncertainty of --target most per unit cost, within --budget")
    n.add_argument("data", help="the runs so far: a data file or a bundled dataset name (as for `jscale fit`)")
    n.add_argument("--columns", action="append", default=None, metavar="N=col,D=col,...",
                   help="header names (JSON: keys) for the fields N, D, C, L (as for `jscale fit`); may be repeated")
    n.add_argument("--include-outliers", action="store_true", help="bundled data: keep the rows the source drops")
    n.add_argument("--law", default="chinchilla", type=_law_name, metavar="LAW",
                   help="the law fitted to the runs, one of n_params and n_tokens: chinchilla (default) or kaplan")
    n.add_argument("--starts", default="grid", help="'grid' (the law's default starts) or a number of them")
    n.add_argument("--loss", default="huber", choices=["huber", "squared"],
                   help="loss of the fit's residuals (default huber)")
    n.add_argument("--delta", type=float, default=None, help="Huber threshold (default 1e-3)")
    n.add_argument("--resamples", type=int, default=200, metavar="B",
                   help="bootstrap resamples whose draws give the uncertainty (default 200; 0: the fit's curvature "
                   "instead, quicker)")
    _seed_option(n, "bootstrap key")
    n.add_argument("--target", dest="quantity", default="n_params", choices=jscale.results.RunPlan.TARGETS,
                   help="the quantity the runs should pin down (jscale.suggest_runs' quantity): N* (n_params, "
                   "default), D* (n_tokens), D*/N* (tokens_per_param) or L* (loss) at --compute; or, with --n-params "
                   "and --n-tokens, the loss at that point (not a column as in `jscale fit --target`: the fit is of "
                   "the loss column)")
    n.add_argument("--compute", type=float, default=None, metavar="C",
                   help="the target budget in FLOP (C = 6 N D) at which --target is wanted, e.g. 1e24")
    n.add_argument("--n-params", type=float, default=None, metavar="N",
                   help="instead of --compute, with --n-tokens and --target loss: the model size whose loss is wanted")
    n.add_argument("--n-tokens", type=float, default=None, metavar="D",
                   help="with --n-params: the training tokens of the point whose loss is wanted")
    n.add_argument("--at", action=_Renamed, dest="n_params", new="--n-params N --n-tokens D", nargs=2, type=float,
                   why="a point, as in `jscale predict`",
                   store=lambda namespace, values: vars(namespace).update(n_params=values[0], n_tokens=values[1]))
    n.add_argument("--budget", type=float, required=True, metavar="FLOP",
                   help="the total cost (6 N D summed) the proposed runs may spend")
    n.add_argument("--n", type=int, default=8, help="at most this many runs (default 8)")
    n.add_argument("--budgets", type=float, nargs="+", default=None, metavar="FLOP",
                   help="budgets of the candidate runs, 13 along each one's iso-cost curve around the fitted optimum "
                   "(default: six from --budget/64 to --budget/2)")
    n.add_argument("--max-repeats", type=int, default=2, metavar="K",
                   help="at most this many runs at one candidate (default 2)")
    n.add_argument("--level", type=float, default=0.95, help="level of the printed intervals (default 0.95)")
    n.add_argument("--out", default=None, metavar="FILE",
                   help="also write the runs to this CSV file (columns n_params, n_tokens, compute, "
                   "variance_removed, cumulative_cost)")


def _compare_parser(sub, common) -> None:
    """The `compare` subcommand."""
    import inspect

    import jscale

    low, high = inspect.signature(jscale.compare).parameters["between"].default
    c = sub.add_parser("compare", parents=[common],
                       help="compare two saved fits (two recipes): the compute multiplier m(C) and the crossover")
    c.add_argument("a", help="recipe A: a file written by `jscale fit` (result.jscale)")
    c.add_argument("b", help="recipe B: another file of `jscale fit`, with a bootstrap if A has one (bands from the "
                   "draws) or without one if A has none (delta-method bands)")
    _compute_option(c, "budgets C at which to compare (default: as allocate, every power of ten from a decade "
                    "below the recipes' largest runs to two decades beyond)")
    c.add_argument("--between", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help=f"budgets searched for the crossover (default {low:g} to {high:g})")
    _level_option(c)
    c.add_argument("--label", nargs=2, default=None, metavar=("A", "B"),
                   help="names of the two recipes in the output (default: the files' names, e.g. a/result.jscale "
                   "and b/result.jscale as a and b)")
    c.add_argument("--plot", default=None, metavar="PATH",
                   help=f"also draw m(C) with its band over {_COMPARE_PLOT_POINTS} budgets spanning --compute into "
                   "this image file, e.g. multiplier.png (format from the extension)")


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


def _columns(specs: list[str] | None) -> dict | None:
    """FIELD=HEADER pairs from every --columns given, merged; a field or header named twice with
    different partners is refused."""
    if not specs:
        return None
    out = {}
    for spec in specs:
        for part in spec.split(","):
            if "=" not in part or not all(x.strip() for x in part.split("=", 1)):
                raise UserError(f"--columns takes FIELD=HEADER pairs separated by commas, e.g. --columns "
                                f"N=params,D=tokens,L=loss; got {part!r}.")
            field, header = (x.strip() for x in part.split("=", 1))
            field = _ALIASES.get(field.lower(), field)
            if out.get(field, header) != header:
                raise UserError(f"--columns names two headers for {field}: {out[field]!r} and {header!r}; give one.")
            out[field] = header
    headers = list(out.values())
    twice = sorted({h for h in headers if headers.count(h) > 1})
    if twice:
        fields = [f for f, h in out.items() if h == twice[0]]
        raise UserError(f"--columns maps {' and '.join(fields)} to the same header {twice[0]!r}; each field needs "
                        "its own column.")
    return out


def _load_data(name: str | None, columns=None, include_outliers=False):
    """The data a bundled name or data file names (None: the bundled Chinchilla data, the default);
    a bare name that is both a bundled dataset and a file here is refused, not guessed."""
    import jscale

    if name is None or is_bundled(name):  # no data argument: the bundled default, whatever is in the folder
        name = name or "chinchilla"
        return jscale.datasets.load(name, include_outliers=include_outliers), f"bundled dataset '{name}'"
    if os.path.exists(name):
        _regular_file(name, "the data")
        return _read_file(name, columns), name
    raise UserError(f"'{name}' is neither a bundled dataset ({', '.join(jscale.datasets.list())}) nor an existing "
                    "data file (CSV, TSV, JSON or Parquet).")


def _read_file(path: str, columns):
    """The runs of a data file (CSV, TSV, JSON or Parquet); a Parquet file without pandas and
    pyarrow installed is the user's to fix (the message says what to install)."""
    import jscale

    try:
        return jscale.ScalingData.from_file(path, columns=columns)
    except ImportError as err:
        raise UserError(first_line(err)) from None


def _law(text: str, data=None):
    """The law of `--law NAME` or `--law NAME:COLUMN` (one-column forms; their default column
    otherwise); with `data`, UserError unless it holds the law's columns."""
    from jscale.laws import NAMED

    name, _, column = text.partition(":")
    law = NAMED[name](column=column) if column else NAMED[name]()
    if data is None:
        return law
    missing = [c for c in law.columns if c not in data.columns]
    if missing:
        raise UserError(f"The {name} law reads {', '.join(law.columns)} but the data has no {missing[0]} column; "
                        f"name it with --columns {missing[0]}=HEADER"
                        + (f", or pick another with --law {name}:COLUMN." if "column" in type(law).__dataclass_fields__
                           else "."))
    return law


def _regular_file(path: str, what: str) -> None:
    """UserError unless `path` is a regular file (reading a FIFO would wait for a writer forever)."""
    if not os.path.isfile(path):
        kind = "a folder" if os.path.isdir(path) else "not a regular file (a pipe, socket or device)"
        raise UserError(f"'{path}', given as {what}, is {kind}; give a file.")


def _start_count(spec: str) -> int | None:
    """The number of `--starts` (None for 'grid'), or UserError."""
    if spec == "grid":
        return None
    try:
        count = int(spec)
    except ValueError:
        raise UserError(f"--starts must be 'grid' or a positive number; got {spec!r}.") from None
    if count < 1:
        raise UserError(f"--starts must be 'grid' or a positive number; got {spec!r}.")
    return count


def _starts(spec: str, law):
    import numpy as np

    count = _start_count(spec)
    if count is None:
        return None
    grid = law.default_starts()
    return grid[np.linspace(0, len(grid) - 1, min(count, len(grid))).round().astype(int)]


def _check_args(args) -> None:
    """Every argument that can be checked without the data, checked before any work (a fit takes
    minutes; a bad --compute or --out found after it wastes them). UserError on the first bad one."""
    for name in ("budgets", "compute", "n_params", "n_tokens", "budget"):
        values = getattr(args, name, None)
        if values is not None:
            one = not isinstance(values, list)
            bad = [v for v in ([values] if one else values) if not (math.isfinite(v) and v > 0)]
            if bad:
                what = "a positive finite number" if one else "positive finite numbers"
                raise UserError(f"--{name.replace('_', '-')} takes {what}; got {bad[0]!r}.")
    seed = getattr(args, "seed", None)
    if seed is not None and not 0 <= seed < 2**63:
        raise UserError(f"--seed takes a whole number from 0 to 2**63 - 1; got {seed}.")
    if args.command in ("fit", "isoflop", "curves") and (args.resamples < 0 or args.resamples == 1):
        raise UserError(f"--resamples takes 0 (none) or at least 2 resamples; got {args.resamples}.")
    if getattr(args, "starts", None) is not None:
        _start_count(args.starts)
    if getattr(args, "max_steps", None) is not None and args.max_steps < 1:
        raise UserError(f"--max-steps takes a positive number of steps; got {args.max_steps}.")
    for name, low in (("delta", 0.0), ("rtol", 0.0), ("width", 1.0)):
        value = getattr(args, name, None)
        if value is not None and not (math.isfinite(value) and value > low):
            raise UserError(f"--{name} takes a finite number above {low:g}; got {value!r}.")
    if getattr(args, "n_sizes", None) is not None and not 3 <= args.n_sizes <= _MAX_SIZES:
        raise UserError(f"--n-sizes takes 3 to {_MAX_SIZES} model sizes per budget; got {args.n_sizes}.")
    if getattr(args, "between", None) is not None:
        low, high = args.between
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
            raise UserError(f"--between takes LOW HIGH: finite budgets 0 < LOW < HIGH; got {low:g} {high:g}.")
    level = getattr(args, "level", None)
    if level is not None and not 0 < level < 1:
        raise UserError(f"--level takes a number between 0 and 1, e.g. 0.95; got {level!r}.")
    if getattr(args, "range", None) is not None:
        low, high, num = args.range
        if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high and math.isfinite(num)
                and num == int(num) and 1 <= num <= _MAX_RANGE_POINTS):
            raise UserError(f"--range takes LOW HIGH NUM: finite budgets 0 < LOW < HIGH and a whole number of points "
                            f"1 <= NUM <= {_MAX_RANGE_POINTS}; got {low:g} {high:g} {num:g}.")
    if args.command in ("fit", "isoflop") and args.out.lower() != "none":
        output_folder_path(args.out)
    if args.command == "plot":
        plot_path(args.out)
    if args.command == "compare" and args.plot is not None:
        _compare_plot_path(args.plot)
    if args.command == "plan" and args.kind == "next":
        _check_plan_next(args)


def _check_plan_next(args) -> None:
    """The arguments of `jscale plan next` that the generic checks leave: the target, the counts,
    the law's columns, the candidates against --budget and --out."""
    point = args.n_params is not None or args.n_tokens is not None
    if args.compute is None and not point:
        raise UserError("jscale plan next needs a target: --compute C (N*, D*, D*/N* or L* at budget C), or --n-params "
                        "N --n-tokens D with --target loss (the loss at that point).")
    if args.compute is not None and point:
        raise UserError("--compute and --n-params/--n-tokens name two targets; give one: --compute C, or --n-params N "
                        "--n-tokens D with --target loss.")
    if point and (args.n_params is None or args.n_tokens is None):
        missing = "--n-tokens" if args.n_tokens is None else "--n-params"
        raise UserError(f"A point is --n-params N and --n-tokens D; give {missing} too.")
    if point and args.quantity != "loss":
        raise UserError(f"--n-params N --n-tokens D is a point whose loss the runs pin down; add --target loss (got "
                        f"--target {args.quantity}), or give --compute C for {args.quantity} at a budget.")
    if args.resamples < 0 or args.resamples in (1, 2):
        raise UserError(f"--resamples takes 0 (the fit's curvature) or at least 3 resamples; got {args.resamples}.")
    for name, value in (("n", args.n), ("max-repeats", args.max_repeats)):
        if value < 1:
            raise UserError(f"--{name} takes a positive whole number; got {value}.")
    if args.budgets is not None and min(args.budgets) > args.budget:
        # A candidate costs its budget exactly (it lies on that budget's iso-cost curve).
        raise UserError(f"Every --budgets value is above --budget {args.budget:g}, so no candidate run fits in it; "
                        f"give candidate budgets of at most {args.budget:g}.")
    law = _law(args.law)
    if not _allocating(law):
        raise UserError(f"--law {args.law} reads {', '.join(law.columns)}; jscale plan next proposes runs of "
                        "n_params and n_tokens and needs a law of those two alone (chinchilla or kaplan).")
    if args.out is not None:
        _out_file_path(args.out)


def _out_file_path(text: str) -> Path:
    """The file `jscale plan next --out text` names, if it can be written there; else UserError."""
    return file_path(text, "--out", "a file, e.g. --out next-runs.csv")


@contextlib.contextmanager
def _replaced(path: Path):
    """A file to write beside `path` (yielded), renamed over it when the block completes: `path` is
    never half written, and an error or a signal leaves no part behind."""
    part = path.with_name(f".{path.name}.part-{os.getpid()}")
    with staging(part):
        yield part
        os.replace(part, path)


def _default_budgets(top: float) -> list[float]:
    """Budgets for the allocation table from the data's largest compute `top`: every power of ten
    from a decade below it to two decades beyond it (1e21 ... 1e24 for Chinchilla's 1.3e22)."""
    import numpy as np

    first = int(np.floor(np.log10(top))) - 1
    return [float(f"1e{k}") for k in range(first, int(np.floor(np.log10(top) + 2)) + 1)]


def _allocating(law) -> bool:
    return "n_params" in law.columns and "n_tokens" in law.columns and len(law.columns) == 2


def _fit_budgets(args, data) -> list[float]:
    """`--compute`, or the default budgets around the data's largest compute."""
    return args.compute if args.compute is not None else _default_budgets(float(max(data.compute)))


def _solver(args):
    """The solver `--max-steps` asks for, or None for the default."""
    import jscale

    return None if args.max_steps is None else jscale.solvers.RobustGaussNewton(max_steps=args.max_steps)


def _fit(args) -> int:
    """Long because it is the default job's script: fit, bootstrap, allocation, outputs, each a
    short block that reports what it is doing."""
    import jscale
    from jscale.base import _progress
    data, source = _load_data(args.data, _columns(args.columns), args.include_outliers)
    names = args.law or ["chinchilla"]
    if len(names) > 1:
        return _fit_forms(args, data, source, names)
    law = _law(names[0], data)
    solver = _solver(args)
    show = not args.quiet
    findings = Findings(args.flags)  # every warning printed, once, for summary.json too
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", jscale.warnings.DiagnosticWarning)
        result = jscale.fit(law, data, target=args.target, residual=args.residual, starts=_starts(args.starts, law),
                            loss=args.loss, delta=args.delta, execution=jscale.Execution(solver=solver), progress=show)
    converged = not any(issubclass(w.category, jscale.warnings.ConvergenceWarning) for w in caught)
    print(f"Data: {source}, {len(data)} rows; {result.n_starts} starts.\n")
    print(cli_text(result.summary(), args.flags))
    findings.say(caught)
    saved = result
    if args.resamples:
        # The fit's findings are printed above and the bootstrap's notes are in its summary.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
            saved = jscale.bootstrap(law, data, n_resamples=args.resamples, key=args.seed, full_fit=result,
                                     target=args.target, residual=args.residual, loss=args.loss, delta=args.delta,
                                     execution=jscale.Execution(solver=solver), progress=show)
        print()
        print(cli_text(saved.summary(args.level), args.flags))
    allocation = None
    if _allocating(law):
        budgets = _fit_budgets(args, data)
        draws = f" x {args.resamples} draws" if args.resamples else ""
        with warnings.catch_warnings(record=True) as caught, \
                _progress.status(f"Allocating at {len(budgets)} budgets{draws}", show):
            warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
            # ... but the note that delta-method bands of N* from few runs are too narrow is for the user
            warnings.filterwarnings("always", message="Compute-optimal allocation from a fit",
                                    category=jscale.warnings.IntervalWarning)
            warnings.simplefilter("always", jscale.warnings.ExtrapolationWarning)
            allocation = jscale.compute_optimal(saved, budgets)
        print("\nCompute-optimal allocation (C = 6 N D):")
        print("\n".join("  " + line for line in allocation.table(args.level).splitlines()))
        findings.say(caught)
    if args.out.lower() != "none":
        with _progress.status(f"Writing {args.out}/ (result, summary.json, plots)", show), \
                output_folder(args.out) as folder:
            written = _write_outputs(saved, data, folder, allocation, findings.lines, args.level)
        if show:
            print(f"\nWrote {', '.join(written)} to {args.out}/", file=sys.stderr)
    if allocation is not None and (allocation.status != "success").any():
        return 3  # rows that are not solutions, marked in the table and summary.json
    return 0 if converged or not args.strict else 3


def _fit_forms(args, data, source, names) -> int:
    """`jscale fit --law A --law B ...`: every form fitted, bootstrapped on the same resamples and
    weighed by its held-out skill (`jscale.bootstrap_forms`); the forms' summary, the
    mixture's allocation with the share of each band from the forms' disagreement, and in --out
    forms.jscale, summary.json and forms.png."""
    import jscale
    from jscale.base import _progress
    from jscale.base._json import strict_json
    if len(set(names)) != len(names):
        raise UserError(f"--law names a form twice ({', '.join(names)}); give each form once.")
    if not args.resamples:
        raise UserError("Several forms are weighed on bootstrap resamples; --resamples 0 does not apply (the "
                        "default, 1000, or 200 for a quicker look).")
    laws = [_law(name, data) for name in names]
    options = dict(target=args.target, residual=args.residual, loss=args.loss, delta=args.delta,
                   execution=jscale.Execution(solver=_solver(args)))
    show = not args.quiet
    findings = Findings(args.flags)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", jscale.warnings.DiagnosticWarning)
        fits = [jscale.fit(law, data, starts=_starts(args.starts, law), progress=show, **options) for law in laws]
        # jackknife=False: the mixture's bands are percentile bands, which do not use it
        forms = jscale.bootstrap_forms(laws, data, key=args.seed, n_resamples=args.resamples, full_fits=fits,
                                       jackknife=False, progress=show, **options)
    converged = not any(issubclass(w.category, jscale.warnings.ConvergenceWarning) for w in caught)
    print(f"Data: {source}, {len(data)} rows; forms {', '.join(names)}.\n")
    print(cli_text(forms.summary(args.level), args.flags))
    findings.say(caught, (jscale.warnings.FormWarning, jscale.warnings.ConvergenceWarning))
    rows = None
    if all(_allocating(law) for law in laws):
        budgets = _fit_budgets(args, data)
        with warnings.catch_warnings(record=True) as caught, \
                _progress.status(f"Allocating at {len(budgets)} budgets x {len(laws)} forms", show):
            warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
            warnings.simplefilter("always", jscale.warnings.ExtrapolationWarning)
            mixed = forms.allocations(budgets, ("n_params", "n_tokens", "loss"))
        rows = _mixture_rows(budgets, mixed, args.level)
        _print_mixture_table(rows, args.level)
        findings.say(caught)
    if args.out.lower() != "none":
        with _progress.status(f"Writing {args.out}/ (forms.jscale, summary.json, forms.png)", show), \
                output_folder(args.out) as folder:
            jscale.save(forms, folder / "forms.jscale")
            summary = {**forms.to_dict(args.level), "jscale_version": jscale.__version__, "data_source": source,
                       "summary": forms.summary(args.level), "allocation": rows, "warnings": findings.lines}
            (folder / "summary.json").write_text(json.dumps(strict_json(summary), indent=2, allow_nan=False) + "\n")
            written = ["forms.jscale", "summary.json"]
            if rows is not None and _matplotlib():
                import jscale.plot as jplot

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
                    _save_figure(jplot.forms(forms, level=args.level).figure, folder / "forms.png")
                written.append("forms.png")
        if show:
            print(f"\nWrote {', '.join(written)} to {args.out}/", file=sys.stderr)
    return 0 if converged or not args.strict else 3


def _mixture_rows(budgets, mixed: dict, level: float) -> list[dict]:
    """One row per budget of the forms' mixture (`Ensemble.allocations`): each quantity with its
    band at `level`, and the share of N*'s variance that is the forms' disagreement."""
    bands = {q: m.interval(level) for q, m in mixed.items()}
    rows = []
    for k, c in enumerate(budgets):
        row = {"compute": float(c)}
        for q, m in mixed.items():
            row[q] = float(m.estimate[k])
            row[f"{q}_low"], row[f"{q}_high"] = float(bands[q][0][k]), float(bands[q][1][k])
        row["n_params_form_share"] = float(mixed["n_params"].form_share[k])
        rows.append(row)
    return rows


def _print_mixture_table(rows: list[dict], level: float) -> None:
    """Prints the mixture's compute-optimal N*, D*, L* with their bands per budget and the share of
    N*'s band from the forms' disagreement."""
    print(f"\nCompute-optimal allocation (C = 6 N D), the forms' mixture with {100 * level:g}% bands:")
    print(f"  {'C (FLOP)':>10} {'N*':>10} {'(band)':>23} {'D*':>10} {'(band)':>23} {'L*':>8} {'(band)':>17} "
          f"{'from forms':>10}")
    for row in rows:
        print(f"  {row['compute']:>10.3g} {row['n_params']:>10.4g} ({row['n_params_low']:>10.4g}, "
              f"{row['n_params_high']:>10.4g}) {row['n_tokens']:>10.4g} ({row['n_tokens_low']:>10.4g}, "
              f"{row['n_tokens_high']:>10.4g}) {row['loss']:>8.4f} ({row['loss_low']:>7.4f}, {row['loss_high']:>7.4f}) "
              f"{row['n_params_form_share']:>10.0%}")
    print("  'from forms': the share of N*'s variance that is the forms' disagreement.")


def _write_outputs(result, data, out: Path, allocation, notes, level: float) -> list[str]:
    import jscale

    jscale.save(result, out / "result.jscale")
    (out / "summary.json").write_text(json.dumps(_summary(result, allocation, notes, level), indent=2,
                                                 allow_nan=False) + "\n")
    written = ["result.jscale", "summary.json"]
    if _matplotlib():
        for kind in PLOTS:
            if _plot(result, data, kind, out / f"{kind}.png", level, skip_unavailable=True):
                written.append(f"{kind}.png")
    return written


def _matplotlib() -> bool:
    """Whether matplotlib is installed (then set to draw into files); says so on stderr if not."""
    try:
        import matplotlib
    except ImportError:
        print("jscale: matplotlib is not installed (pip install 'jscale[plot]'); no plots written.", file=sys.stderr)
        return False
    matplotlib.use("Agg")
    return True


def _summary(result, allocation, notes, level: float) -> dict:
    """summary.json: the result's own summary, where its data came from, the allocation table
    with its bands, the method of every band and every warning printed; strict JSON (None for
    NaN or infinite values)."""
    import jscale
    from jscale.base._json import strict_json

    boot = isinstance(result, jscale.results.BootstrapResult)
    fit = result.fit if boot else result
    own = result.to_dict(level) if boot else result.to_dict()
    summary = {**own, "jscale_version": jscale.__version__, "data_source": fit.source,
               "band_method": "bootstrap percentile" if boot else "delta method (sandwich covariance)",
               # the result's own notes and every warning printed, each once
               "warnings": list(dict.fromkeys([*own.get("warnings", []), *notes]))}
    if allocation is not None:
        banded = allocation.draws is not None or allocation.sd is not None
        rows = allocation.rows(level, names=("n_params", "n_tokens", "tokens_per_param", "loss"))
        summary["allocation"] = {"cost": "6 N D", "level": level if banded else None,
                                 "band_method": summary["band_method"] if banded else None, "rows": rows}
    return strict_json(summary)


def _plot_kinds(result) -> tuple:
    """The plots of a result: by its kind, less those of a fit that need a law of N and D alone."""
    kinds = PLOT_KINDS[type(result).__name__]
    if type(result).__name__ in FITS and not _allocating(result.law):
        kinds = tuple(k for k in kinds if k not in ("frontier", "isoflop", "allocation"))
    return kinds


def _plot(result, data, kind: str, path: Path, level: float, skip_unavailable: bool = False,
          image_format=None) -> bool:
    """Draws plot `kind` of `result` (and `data`, for the kinds that draw the runs) into `path`;
    False (or, unless `skip_unavailable`, UserError naming the kinds there are) for a kind the
    result has not."""
    import jscale
    import jscale.plot as jplot

    name = type(result).__name__
    if kind not in _plot_kinds(result):
        if skip_unavailable:
            return False
        law = f", the {result.law.name} law" if name in FITS else ""
        raise UserError(f"--kind {kind} is not available for {KINDS[name]}{law}; its plots are "
                        f"{', '.join(_plot_kinds(result)) or 'none'} (--kind).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
        warnings.simplefilter("ignore", jscale.warnings.ExtrapolationWarning)  # the plots mark where the data ends
        if kind == "corner":
            figure = jplot.corner(result)
        elif kind == "forms":
            figure = jplot.forms(result, level=level).figure
        elif name == "IsoFLOPResult":
            figure = (jplot.isoflop_parabolas(result, data, level=level) if kind == "isoflop" else
                      jplot.isoflop_optimum(result, level=level)).figure
        elif kind == "allocation":
            figure = _allocation_figure(result, data, level)
        elif kind == "residuals":
            figure = jplot.residuals(result, data).figure
        elif kind == "isoflop":
            figure = jplot.isoflop(result, data).figure
        else:
            figure = jplot.frontier(result, data, level=level).figure
    _save_figure(figure, path, image_format)
    return True


def _allocation_figure(result, data, level: float):
    """N*(C) and D*(C) with their bands from three decades below the fitted data's largest compute
    to two beyond it (a fit's, or an envelope sweep's)."""
    import numpy as np

    import jscale
    import jscale.plot as jplot

    if type(result).__name__ in SWEEPS:
        top = _top_compute(result)
    else:
        summary = (result.fit if isinstance(result, jscale.results.BootstrapResult) else result).data_summary
        top = _fitted_compute_max(summary, data)
    budgets = np.logspace(np.log10(top) - 3, np.log10(top) + 2, 50)
    return jplot.allocation(jscale.compute_optimal(result, budgets), level=level, data_max=top).figure


def _save_figure(figure, path, image_format=None) -> None:
    """Writes a plot and closes it (PNGs lightly compressed: the plots are mostly flat colour, and
    level 6 takes twice as long to write); `image_format` None: from the name's extension."""
    import matplotlib.pyplot as plt

    png = (image_format or Path(path).suffix[1:]).lower() == "png"
    try:
        figure.savefig(path, dpi=110, format=image_format, **({"pil_kwargs": {"compress_level": 1}} if png else {}))
    finally:
        plt.close(figure)


def _fitted_compute_max(summary, data) -> float:
    """The largest compute of the fitted data (from the data if at hand, else the result's summary)."""
    import numpy as np

    if data is not None:
        return float(np.max(data.compute))  # given, or derived as 6 N D by ScalingData
    found = summary.range_of("compute") if summary is not None else None
    if found is None:
        raise UserError("This result does not record its data's compute range; pass the data with --data.")
    return float(found[1])


@contextlib.contextmanager
def _printed_warnings(findings: Findings):
    """Prints the diagnostic warnings (extrapolation) the block raises on stderr, one line each and
    each finding once per command (`findings`); interval notes are left out (the tables show the
    bands)."""
    import jscale

    with warnings.catch_warnings(record=True) as caught:
        # Every finding is recorded and printed below, whatever filters the caller set.
        warnings.simplefilter("always", jscale.warnings.DiagnosticWarning)
        warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
        warnings.simplefilter("always", jscale.warnings.ExtrapolationWarning)
        yield
    findings.say(caught)


def _top_compute(result) -> float:
    """The largest compute a saved result was fitted on: its runs' (a fit, or several forms'), or
    its budgets' (a sweep)."""
    import jscale

    if isinstance(result, jscale.results.IsoFLOPResult):
        return float(result.budgets[result.included].max())
    if isinstance(result, jscale.results.EnvelopeResult):
        return float(result.compute[result.used].max())
    if isinstance(result, jscale.results.Ensemble):
        result = result.members[0]
    fit = result.fit if isinstance(result, jscale.results.BootstrapResult) else result
    return _fitted_compute_max(fit.data_summary, None)


def _emit(rows: list[dict], fmt: str):
    if fmt == "json":
        print(json.dumps(rows, indent=2, default=float))
        return
    keys = list(rows[0])
    if fmt == "csv":
        print(",".join(keys))
        for r in rows:
            print(",".join(r[k] if isinstance(r[k], str) else repr(float(r[k])) for k in keys))
        return
    print("  ".join(f"{k:>14}" for k in keys))
    for r in rows:
        print("  ".join(f"{r[k]:>14}" if isinstance(r[k], str) else f"{float(r[k]):>14.6g}" for k in keys))


def _allocate(args) -> int:
    """`jscale allocate`: N*, D*, D*/N*, L* with their bands at budgets, from a fit, a sweep's power
    laws or several forms' mixture."""
    import numpy as np

    import jscale

    result = saved(args.result, "allocate")
    if args.compute is None and args.range is None:
        budgets = _default_budgets(_top_compute(result))
    elif args.range is not None:
        low, high, num = args.range  # checked by _check_args
        budgets = np.logspace(np.log10(low), np.log10(high), int(num))
    else:
        budgets = args.compute
    names = ("n_params", "n_tokens", "tokens_per_param", "loss")
    if isinstance(result, jscale.results.Ensemble):
        _check_forms_allocate(result, args.result)
        with _printed_warnings(Findings(args.flags)):
            mixed = result.allocations(budgets, names)
        _emit(_mixture_rows(budgets, mixed, args.level), args.format)
        return 0
    with _printed_warnings(Findings(args.flags)):
        out = jscale.compute_optimal(result, budgets)
    _emit(out.rows(args.level, names=names), args.format)
    # A row that is not a solution is marked in its status column, and the exit status says so.
    return 0 if (out.status == "success").all() else 3


def _check_forms_allocate(forms, path: str) -> None:
    not_nd = [m.law.name for m in forms.members if not _allocating(m.law)]
    if not_nd:
        raise UserError(f"'{path}' holds the form {not_nd[0]}, which does not trade parameters against tokens; "
                        "`jscale allocate` needs every form to be a law of n_params and n_tokens.")


def _predict(args) -> int:
    """`jscale predict`: the loss at points with its band, from a fit or several forms' mixture."""
    import numpy as np

    import jscale

    result = saved(args.result, "predict")
    n, d = np.asarray(args.n_params), np.asarray(args.n_tokens)
    if n.shape != d.shape:
        raise UserError(f"--n-params has {n.size} values but --n-tokens has {d.size}; give as many of each.")
    extra = {}
    with _printed_warnings(Findings(args.flags)):
        if isinstance(result, jscale.results.Ensemble):
            mixed = result.predict(n_params=n, n_tokens=d)
            pred, (low, high) = mixed.estimate, mixed.interval(args.level)
            extra = {"form_share": mixed.form_share}
        else:
            low, high = result.predict_interval(n_params=n, n_tokens=d, level=args.level)
            pred = result.predict(n_params=n, n_tokens=d)
    rows = [{"n_params": n[k], "n_tokens": d[k], "loss": pred[k], "loss_low": low[k], "loss_high": high[k],
             **{name: values[k] for name, values in extra.items()}} for k in range(n.size)]
    _emit(rows, args.format)
    return 0


def _plot_command(args) -> int:
    """`jscale plot`: one plot of a saved result (a fit, a sweep or several forms), with its data
    where the plot draws the runs."""
    import jscale

    result = saved(args.result, "plot")
    name = type(result).__name__
    kind = args.kind or ("forms" if name == "Ensemble" else "allocation")
    if kind not in _plot_kinds(result):
        _plot(result, None, kind, Path(args.out), args.level)  # raises, naming the plots there are
    data = None
    if kind in ("frontier", "isoflop", "residuals"):
        if name == "IsoFLOPResult":
            if args.data is None:
                raise UserError(f"--kind isoflop of a sweep draws its runs, which '{args.result}' does not record; "
                                "pass them with --data (and --columns).")
            data, source = _load_data(args.data, _columns(args.columns), args.include_outliers)
            rows = len(result.budget_index)
        else:
            fit = result.fit if isinstance(result, jscale.results.BootstrapResult) else result
            if args.data is None:
                data, source = _recorded_data(fit, args.result)
            else:
                data, source = _load_data(args.data, _columns(args.columns), args.include_outliers)
            rows = fit.n_rows
        if len(data) != rows:
            raise UserError(f"The result was fitted to {rows} rows but --data {source} has {len(data)}; "
                            "pass the fitted data with --data (and --columns).")
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        raise UserError("jscale plot needs matplotlib: pip install 'jscale[plot]'.") from None
    path = plot_path(args.out)
    # Drawn beside the file and renamed over it, so the file is never half written.
    part = path.with_name(f".{path.name}.part-{os.getpid()}")
    with staging(part):
        _plot(result, data, kind, part, args.level,
              image_format=path.suffix[1:].lower() or matplotlib.rcParams["savefig.format"])
        os.replace(part, path)
    print(f"wrote {args.out}")
    return 0


def _compare_plot_path(text: str) -> Path:
    """The image file `jscale compare --plot text` names, if it can be written there; else UserError."""
    return plot_path(text, "--plot")


def _recipe_labels(args) -> tuple[str, str]:
    """The recipes' names: --label, else the files' paths without .jscale, shortened to the last
    parts that tell them apart (a/result.jscale and b/result.jscale are a and b)."""
    if args.label is not None:
        if args.label[0] == args.label[1]:
            raise UserError(f"--label names both recipes {args.label[0]!r}; give two names.")
        return args.label[0], args.label[1]
    paths = [Path(os.path.abspath(p)) for p in (args.a, args.b)]
    parts = [(p.with_suffix("") if p.suffix == ".jscale" else p).parts for p in paths]
    if parts[0] == parts[1]:
        return "A", "B"  # one file twice
    k = next(k for k in range(1, max(map(len, parts)) + 1) if parts[0][-k:] != parts[1][-k:])
    short = [list(p[-k:]) for p in parts]
    if k > 1 and short[0][-1] == short[1][-1]:  # a/result and b/result: a and b
        short = [s[:-1] for s in short]
    return "/".join(short[0]), "/".join(short[1])


def _compare_command(args) -> int:
    """`jscale compare`: recipe B against recipe A, the summary and table, and optionally the plot."""
    import numpy as np

    import jscale

    if args.plot is not None:
        try:
            import matplotlib
        except ImportError:
            raise UserError("jscale compare --plot needs matplotlib: pip install 'jscale[plot]'.") from None
        matplotlib.use("Agg")
    a, b = saved(args.a, "compare"), saved(args.b, "compare")
    label_a, label_b = _recipe_labels(args)
    booted = [isinstance(r, jscale.results.BootstrapResult) for r in (a, b)]
    if booted[0] != booted[1]:
        with_draws, without = (args.a, args.b) if booted[0] else (args.b, args.a)
        raise UserError(f"'{with_draws}' holds a bootstrap but '{without}' a fit without one; compare two of one "
                        "kind: two bootstraps (bands from their draws) or two fits (delta-method bands), e.g. by "
                        "fitting both with the same --resamples.")
    if args.compute is not None:
        budgets = args.compute
    else:  # as allocate: from a decade below the larger of the two recipes' largest runs to two beyond
        budgets = _default_budgets(max(_top_compute(r) for r in (a, b)))
    between = {} if args.between is None else {"between": tuple(args.between)}
    findings = Findings(args.flags)
    with _printed_warnings(findings):
        comparison = jscale.compare(a, b, budgets, **between)
    laws = comparison.law_a.name, comparison.law_b.name
    print(f"Recipe A: {label_a} ({args.a}, the {laws[0]} law); recipe B: {label_b} ({args.b}, the {laws[1]} law).")
    # The summary names each recipe by its law, the same for two recipes of one law: by its label here.
    print(comparison.summary(args.level).replace(f"Recipe B ({laws[1]}) against recipe A ({laws[0]})",
                                                 f"Recipe B ({label_b}) against recipe A ({label_a})", 1))
    if args.plot is not None:
        import jscale.plot as jplot

        low, high = min(budgets), max(budgets)
        if low == high:  # one budget: a decade either side of it
            low, high = low / 10, high * 10
        with _printed_warnings(findings):  # the table's findings again, over more budgets: said once
            curve = jscale.compare(a, b, np.geomspace(low, high, _COMPARE_PLOT_POINTS), **between)
        tops = [_recorded_compute_max(r) for r in (a, b)]
        tops = [t for t in tops if t is not None]
        path = _compare_plot_path(args.plot)
        # Drawn beside the file and renamed over it, so the file is never half written.
        part = path.with_name(f".{path.name}.part-{os.getpid()}")
        with staging(part):
            figure = jplot.multiplier(curve, level=args.level, data_max=min(tops) if len(tops) == 2 else None).figure
            _save_figure(figure, part, path.suffix[1:].lower() or matplotlib.rcParams["savefig.format"])
            os.replace(part, path)
        if not args.quiet:
            print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _recorded_compute_max(result) -> float | None:
    """The largest compute of a result's fitted data, if its summary records it."""
    import jscale

    fit = result.fit if isinstance(result, jscale.results.BootstrapResult) else result
    found = fit.data_summary.range_of("compute") if fit.data_summary is not None else None
    return None if found is None else float(found[1])


def _isoflop(args) -> int:
    """`jscale isoflop`: Approach 2 on a sweep, its table, its N*(C) table, the result and two plots."""
    import jscale
    from jscale.base import _progress
    from jscale.base._json import strict_json
    data, source = _load_data(args.data, _columns(args.columns))
    with warnings.catch_warnings(record=True) as caught, \
            _progress.status(f"Fitting isoFLOP parabolas ({args.resamples} resamples)", not args.quiet):
        warnings.simplefilter("always", jscale.warnings.DiagnosticWarning)
        result = jscale.isoflop(data, budgets=args.budgets, rtol=args.rtol, n_resamples=args.resamples,
                                key=args.seed, loss=args.loss, delta=args.delta)
    at = args.compute if args.compute is not None else _default_budgets(float(result.budgets[result.included].max()))
    approach3 = None
    if args.law is not None:
        law = _law(args.law, data)
        if not _allocating(law):
            raise UserError(f"--law {args.law} does not trade parameters against tokens; Approach 3 needs a law of "
                            "n_params and n_tokens (e.g. chinchilla).")
        with warnings.catch_warnings(record=True) as caught3, \
                _progress.status(f"Fitting the {law.name} law to the same runs (Approach 3)", not args.quiet):
            warnings.simplefilter("always", jscale.warnings.DiagnosticWarning)
            approach3 = jscale.fit(law, data)
            if args.resamples:
                approach3 = jscale.bootstrap(law, data, n_resamples=args.resamples, key=args.seed, full_fit=approach3)
        caught = [*caught, *caught3]
    print(f"Data: {source}, {len(data)} runs.\n")
    print(cli_text(result.summary(args.level, approach3=approach3, compute=at), args.flags))
    findings = Findings(args.flags)
    findings.say(caught)
    rows = jscale.compute_optimal(result, at).rows(args.level, names=("n_params", "n_tokens", "loss"))
    print("\nCompute-optimal allocation from the power laws (Approach 2):")
    _emit(rows, "table")
    if args.out.lower() != "none":
        with output_folder(args.out) as out:
            jscale.save(result, out / "result.jscale")
            summary = {**result.to_dict(args.level), "data_source": source, "allocation": rows,
                       "warnings": findings.lines}
            if approach3 is not None:
                summary["approach3"] = {"law": approach3.law.name, "comparison": result.compare(approach3, at)}
            (out / "summary.json").write_text(json.dumps(strict_json(summary), indent=2, allow_nan=False) + "\n")
            written = ["result.jscale", "summary.json"]
            if _matplotlib():
                import jscale.plot as jplot

                _save_figure(jplot.isoflop_parabolas(result, data, level=args.level).figure, out / "parabolas.png")
                _save_figure(jplot.isoflop_optimum(result, approach3=approach3, level=args.level).figure,
                             out / "optimum.png")
                written += ["parabolas.png", "optimum.png"]
        if not args.quiet:
            print(f"\nWrote {', '.join(written)} to {args.out}/", file=sys.stderr)
    return 0


def _names_option(text: str, flag: str) -> tuple:
    names = tuple(part.strip() for part in text.split(","))
    if not all(names):
        raise UserError(f"{flag} takes column names separated by commas, e.g. {flag} learning_rate; got {text!r}.")
    return names


def _cells_at(specs, scale: tuple) -> dict | None:
    """--cell V,V... (repeated): the cells to predict at, scale column -> (K,) values."""
    if not specs:
        return None
    rows = []
    for spec in specs:
        try:
            values = [float(v) for v in spec.split(",")]
        except ValueError:
            raise UserError(f"--cell takes numbers separated by commas, one per --scale column ({', '.join(scale)}); "
                            f"got {spec!r}.") from None
        if len(values) != len(scale):
            raise UserError(f"--cell {spec} has {len(values)} value{'s' if len(values) != 1 else ''}; --scale has "
                            f"{len(scale)} columns ({', '.join(scale)}): give one value per column.")
        rows.append(values)
    return {c: [r[j] for r in rows] for j, c in enumerate(scale)}


def _hyperparameters(args) -> int:
    """`jscale hyperparameters`: per-cell optima, the power laws with bands, predictions at --at cells, the result
    and two plots."""
    import jscale
    from jscale.base import _progress
    from jscale.base._json import strict_json

    over, scale = _names_option(args.over, "--over"), _names_option(args.scale, "--scale")
    at = _cells_at(args.cell, scale)
    if args.held_out not in (None, "each", *scale):
        raise ValueError(f"--held-out takes 'each' or one of the --scale columns ({', '.join(scale)}); "
                         f"got {args.held_out!r}.")
    data, source = _load_data(args.data, _columns(args.columns))
    with warnings.catch_warnings(record=True) as caught, \
            _progress.status(f"Fitting the cells' optima ({args.resamples} resamples)", not args.quiet):
        warnings.simplefilter("always", jscale.warnings.DiagnosticWarning)
        result = jscale.hyperparameters(data, over, scale, method=args.method, near=args.near, loss=args.loss,
                                        delta=args.delta, n_resamples=args.resamples, key=args.seed)
        prediction = None if at is None else result.predict(tolerance=args.tolerance, **at)
        critical = None if args.critical is None else result.critical(args.tolerance, over=args.critical)
        critical_at = None if critical is None or at is None else critical.predict(**at)
    held = None
    if args.held_out is not None:
        with _progress.status("Fitting the joint law without each held-out cell", not args.quiet):
            held = result.held_out(data, by=None if args.held_out == "each" else args.held_out)
    print(f"Data: {source}, {len(data)} runs.\n")
    print(cli_text(result.summary(args.level), args.flags))
    if critical is not None:
        print("\n" + cli_text(critical.summary(args.level), args.flags))
    if held is not None:
        print("\n" + cli_text(held.summary(args.level), args.flags))
    findings = Findings(args.flags)
    findings.say(caught)
    rows = critical_rows = None
    if prediction is not None:
        print(f"\nOptimum at the cells asked for (near-optimal range: loss within {args.tolerance:g} of the "
              "optimum's):")
        rows = prediction.rows(args.level)
        print(prediction.table(args.level))
    if critical_at is not None:
        print(f"\nCritical {args.critical} at the cells asked for:")
        critical_rows = critical_at.rows(args.level)
        print(critical_at.table(args.level))
    if args.out.lower() != "none":
        with output_folder(args.out) as out:
            jscale.save(result, out / "result.jscale")
            summary = {**result.to_dict(args.level), "data_source": source, "prediction": rows,
                       "warnings": findings.lines}
            if critical is not None:
                summary["critical"] = {**critical.to_dict(args.level), "prediction": critical_rows}
            if held is not None:
                summary["held_out"] = held.to_dict(args.level)
            (out / "summary.json").write_text(json.dumps(strict_json(summary), indent=2, allow_nan=False) + "\n")
            written = ["result.jscale", "summary.json"]
            if _matplotlib():
                import jscale.plot as jplot

                if len(over) == 1:
                    _save_figure(jplot.hyperparameter_cells(result, data, level=args.level).figure, out / "cells.png")
                    written.append("cells.png")
                for h in over:
                    name = f"optimum_{re.sub(r'[^A-Za-z0-9_.-]+', '_', h)}.png"
                    _save_figure(jplot.hyperparameter_law(result, hyperparameter=h, level=args.level).figure,
                                 out / name)
                    written.append(name)
                if critical is not None:
                    name = f"critical_{re.sub(r'[^A-Za-z0-9_.-]+', '_', args.critical)}.png"
                    _save_figure(jplot.hyperparameter_law(critical, level=args.level).figure, out / name)
                    written.append(name)
        if not args.quiet:
            print(f"\nWrote {', '.join(written)} to {args.out}/", file=sys.stderr)
    return 0


def _curves_command(args) -> int:
    """`jscale curves`: see `jscale.cli._curves`."""
    from jscale.cli._curves import command

    return command(args, _columns(args.columns))


def _plan(args) -> int:
    """`jscale plan isoflop`: the runs of a sweep centred on the predicted N*(C) (and `jscale plan
    next`, by `_plan_next`)."""
    import jscale

    if args.kind == "next":
        return _plan_next(args)
    if args.result is not None:
        centre, params = saved(args.result, "plan isoflop"), None
    elif args.params is not None:
        from jscale.laws import NAMED

        name, _, column = args.law.partition(":")
        centre = NAMED[name](column=column) if column else NAMED[name]()
        params = {}
        for part in args.params.split(","):
            key, _, value = part.partition("=")
            try:
                params[key.strip()] = float(value)
            except ValueError:
                raise UserError(f"--params takes NAME=VALUE pairs separated by commas; got {part!r}.") from None
    else:
        raise UserError("jscale plan needs the law that predicts N*(C): --result result.jscale, or --law with --params "
                        "NAME=VALUE,...")
    plan = jscale.plan_isoflop(args.budgets, centre, params=params, n_sizes=args.n_sizes, span=args.width)
    if args.format == "table":
        print(plan.summary())
    else:
        _emit(plan.rows(), args.format)
    return 0


def _plan_next(args) -> int:
    """`jscale plan next`: fit (and bootstrap) the runs so far, then the runs `jscale.suggest_runs`
    proposes within --budget, printed and optionally written to a CSV file."""
    import csv

    import jscale
    from jscale.base import _progress
    data, source = _load_data(args.data, _columns(args.columns), args.include_outliers)
    law = _law(args.law, data)
    show = not args.quiet
    settings = dict(loss=args.loss, delta=args.delta)
    target = ({"compute": args.compute} if args.compute is not None else
              {"n_params": args.n_params, "n_tokens": args.n_tokens})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", jscale.warnings.DiagnosticWarning)
        fit = jscale.fit(law, data, starts=_starts(args.starts, law), progress=show, **settings)
        result = fit
        if args.resamples:
            # No jackknife: the design reads the draws only, not BCa intervals.
            result = jscale.bootstrap(law, data, n_resamples=args.resamples, key=args.seed, full_fit=fit,
                                      jackknife=False, progress=show, **settings)
        with _progress.status(f"Choosing up to {args.n} runs", show):
            plan = jscale.suggest_runs(result, quantity=args.quantity, **target, budgets=args.budgets,
                                       budget=args.budget, n=args.n, max_repeats=args.max_repeats)
    uncertainty = f"{args.resamples} resamples" if args.resamples else "the fit's curvature"
    print(f"Data: {source}, {len(data)} runs; the {law.name} law from {fit.n_starts} starts, uncertainty from "
          f"{uncertainty}.\n")
    print(cli_text(plan.summary(args.level), args.flags))
    Findings(args.flags).say(caught)  # each finding once (the fit's and the bootstrap's are one)
    if args.out is not None:
        path = _out_file_path(args.out)
        with _replaced(path) as part:
            with open(part, "w", newline="") as file:
                writer = csv.writer(file)
                writer.writerow(["n_params", "n_tokens", "compute", "variance_removed", "cumulative_cost"])
                for row in zip(plan.n_params, plan.n_tokens, plan.cost_of_runs, plan.reduction, plan.cumulative_cost):
                    writer.writerow([repr(float(v)) for v in row])
        if show:
            print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _recorded_data(fit, path: str):
    """The data a result records (its source), reloaded and checked against its fingerprint."""
    import jscale

    source = fit.source
    if source is None:
        raise UserError(f"{path} does not record its data (fitted from arrays, or saved by an older jscale); pass "
                        "it with --data (and --columns).")
    if source["kind"] == "dataset":
        data = jscale.datasets.load(source["name"], include_outliers=source["include_outliers"])
        where = f"bundled dataset '{source['name']}'"
    else:
        where = source["path"]
        if not os.path.isfile(where):
            raise UserError(f"{path} was fitted to {where}, which is no longer there; pass the data with --data.")
        data = _read_file(where, source["columns"] or None)
    if data.fingerprint() != source["fingerprint"]:
        raise UserError(f"{where} is not the data {path} was fitted to (it changed, or the fit used a subset of it); "
                        "pass the fitted data with --data.")
    return data, where


def _is_user_error(err: Exception) -> bool:
    """A bad file, value or permission (the user's to fix), as opposed to a fault of jscale."""
    convergence = getattr(sys.modules.get("jscale.base._warnings"), "ConvergenceError", UserError)
    return isinstance(err, (UserError, ValueError, TypeError, OSError, convergence))


def _internal_error(err: Exception, argv) -> int:
    """One line naming the error and a file with its traceback (to attach to a report); status 1."""
    import platform
    import shlex
    import traceback

    try:
        from jscale.base._version import __version__ as version
    except Exception:  # noqa: BLE001 - a broken install is reported all the same
        version = "(version unknown)"
    try:
        fd, path = tempfile.mkstemp(prefix="jscale-traceback-", suffix=".txt")
        with os.fdopen(fd, "w") as file:
            file.write(f"jscale {version}, Python {platform.python_version()}, {platform.platform()}\n"
                       f"command: jscale {shlex.join(sys.argv[1:] if argv is None else map(str, argv))}\n\n")
            traceback.print_exception(type(err), err, err.__traceback__, file=file)
        where = f"the traceback is in {path}"
    except OSError as failure:
        where = f"its traceback could not be saved ({first_line(failure)})"
    print(f"jscale: internal error ({described(err)}); {where}. Please report it.", file=sys.stderr)
    return 1


@contextlib.contextmanager
def _library_notice_off():
    """Silences the library's one-line notice of a first compilation (JSCALE_QUIET=1, unless the
    user set it) while a command runs: the commands say what they are doing themselves ("Fitting
    ... (compiling on first use)"), keep compiled programs on disk unless --no-cache, and the
    notice's advice is a Python call, jscale.enable_compilation_cache(), that they make already."""
    given = os.environ.get("JSCALE_QUIET")
    if given is None:
        os.environ["JSCALE_QUIET"] = "1"
    try:
        yield
    finally:
        if given is None:
            os.environ.pop("JSCALE_QUIET", None)


def main(argv=None) -> int:
    """Runs `jscale ARGV...` and returns its exit status: 0, 2 for a user error (one line on
    stderr), 3 for `--strict` non-convergence, 1 for an internal error, 130 or 143 for a signal."""
    # Run as the program (no argv), the handlers stay until the process ends.
    command = {}  # the command's options, once parsed: its messages name them
    with exit_on_signals(keep=argv is None), _library_notice_off():
        try:
            return _main(argv, command)
        except KeyboardInterrupt:  # only where the handlers are not set (another thread, Windows)
            print("jscale: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # stdout's reader left (`jscale ... | head`): end quietly, as SIGPIPE would
            with contextlib.suppress(Exception):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            return 128 + signal.SIGPIPE
        except Exception as err:  # noqa: BLE001 - the command's boundary: every error is reported
            if not _is_user_error(err):
                return _internal_error(err, argv)
            print(f"jscale: {cli_text(first_line(err), command.get('flags', ()))}", file=sys.stderr)
            return 2


def _main(argv, command: dict) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    args.flags = command["flags"] = _command_flags(parser, args)
    for line in getattr(args, "renamed", {}).values():
        print(f"jscale: {line}", file=sys.stderr)
    _check_args(args)
    _use_all_cores()
    import jscale

    if not args.no_cache and args.command != "datasets":
        try:
            jscale.enable_compilation_cache()
        except ValueError as err:  # an unwritable folder: run without the cache
            if not args.quiet:
                print(f"jscale: {err} Running without it (set $JSCALE_CACHE_DIR or pass --no-cache).",
                      file=sys.stderr)

    if args.command == "datasets":
        for name in jscale.datasets.list():
            print(f"{name:<14} {jscale.datasets.info(name).splitlines()[0].split(': ', 1)[-1]}")
        return 0
    commands = {"fit": _fit, "allocate": _allocate, "predict": _predict, "plot": _plot_command,
                "isoflop": _isoflop, "plan": _plan, "compare": _compare_command, "hyperparameters": _hyperparameters,
                "curves": _curves_command}
    return commands[args.command](args)


def _command_flags(parser, args) -> tuple:
    """The option strings of the command `args` ran (its subcommand's parser), for its messages.
    `jscale plan next --target` names a quantity, not a column: advice to fit another column with
    --target is not for it."""
    sub = parser._subparsers._group_actions[0].choices[args.command]
    if args.command == "plan":
        sub = sub._subparsers._group_actions[0].choices[args.kind]
        return tuple(f for f in flags_of(sub) if f != "--target")
    return flags_of(sub)


if __name__ == "__main__":
    sys.exit(main())
