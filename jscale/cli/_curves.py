"""`jscale curves`: the multi-power law (Luo et al. 2025, arXiv:2503.12811) fitted to training curves
read from a table of checkpoints, the loss under other schedules with bands, and the best schedule.

Everything goes through `jscale.curves`: `curves_from_table` reads the table, `fit_curves` fits
every set (e.g. one per model size) in one call, `bootstrap_curves` resamples blocks of
checkpoints for bands, `predict_curves` and `best_schedule` answer; this module reads the files,
checks the options and prints.
"""

from __future__ import annotations

import os
import re
import sys
import types
import warnings

from jscale.cli._process import UserError, is_bundled
from jscale.cli._text import Findings, cli_text

# The runs table's columns are read under the names of the options that name them, so a message
# about a column names the option ("Column 'Run' (for --run) is not in runs.csv ...").
# The loss is the standard column "loss" (found by its aliases, loss or L, or named by --columns L=HEADER).
RUN, STEP, SCHEDULE, SETS = "--run", "--step", "--schedule", "--sets"
# Where --predict prints the loss: these shares of a schedule's steps, and its last step.
SHARES = (0.25, 0.5, 0.75)
# fit_curves' warnings name a set by its index: "Dataset 0 (and 1 more of the 2 datasets: 1): ...",
# "Set 0 of curves: ...".
_SET_PREFIX = re.compile(r"^(?:Dataset|Set) (\d+)(?: of curves)?(?: \(and \d+ more of the \d+ datasets: ([^)]*)\))?: ")


def check(args) -> None:
    """The options that can be checked before reading anything (UserError on the first bad one)."""
    if args.block < 2:
        raise UserError(f"--block takes a whole number of checkpoints of at least 2; got {args.block}.")
    if args.best_steps is not None and args.best_steps < 3:
        raise UserError(f"--best-steps takes a whole number of training steps of at least 3; got {args.best_steps}.")
    if args.best_steps is not None and not args.best_schedule:
        raise UserError("--best-steps sets the length of --best-schedule's run; add --best-schedule.")


def command(args, columns: dict | None) -> int:
    """`jscale curves`: read, fit every set in one call, then per set the fit, its bands, the
    predictions asked for and the best schedule. `columns`: the parsed --columns (field -> header)."""
    import jscale
    import jscale.curves
    from jscale.base import _progress

    check(args)
    args = _bundle_defaults(args)
    sets, described = _curves(args, columns)
    labels = list(sets)
    predict = [_predictions(text, sets, args.data) for text in args.predict or ()]
    best = [_best_plan(curves, args.best_steps) for curves in sets.values()] if args.best_schedule else None
    show = not args.quiet
    n_curves = sum(len(c) for c in sets.values())
    with warnings.catch_warnings(record=True) as caught, \
            _progress.status(f"Fitting the multi-power law to {n_curves} curves", show):
        warnings.simplefilter("always", jscale.warnings.DiagnosticWarning)
        fits = jscale.curves.fit_curves(list(sets.values()))
    fitted = _by_set(caught, labels, args.sets is not None)
    print(described)
    for k, (label, curves) in enumerate(sets.items()):
        findings = Findings(args.flags)  # each set's findings once (its fit's and its bootstrap's are one)
        print()
        if args.sets is not None:
            print(f"Set {args.sets} = {label}:")
        print(_runs_table(curves))
        print()
        print(cli_text(fits[k].summary(), args.flags))
        sys.stdout.flush()
        findings.say(fitted.get(k, []) + (fitted.get(None, []) if k == 0 else []))
        source = fits[k]
        if args.resamples:
            with warnings.catch_warnings(record=True) as caught, \
                    _progress.status(f"Bootstrapping {args.resamples} resamples of blocks of {args.block} "
                                     "checkpoints", show):
                warnings.simplefilter("always", jscale.warnings.DiagnosticWarning)
                source = jscale.curves.bootstrap_curves(curves, fits[k], block=args.block,
                                                        n_resamples=args.resamples, key=args.seed)
            summary = cli_text(source.summary(args.level), args.flags)
            print()
            print(summary)
            sys.stdout.flush()
            findings.say([w for w in caught if cli_text(str(w.message), args.flags) not in summary])  # not twice
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", jscale.warnings.DiagnosticWarning)
            if predict:
                _print_predictions(source, [p[label] for p in predict], args)
            if best is not None:
                _print_best(source, best[k], args, show)
        sys.stdout.flush()
        findings.say(caught)
    return 0


# --------------------------------------------------------------------------------------------
# Reading


def _read(path: str, flag: str, columns=None):
    """The table of a data file, or UserError (no such file, a folder, a Parquet file without pandas)."""
    import jscale
    import jscale.curves
    from jscale.base._text import closest

    if not os.path.exists(path):
        folder = os.path.dirname(path) or "."
        here = [n for n in os.listdir(folder) if not n.startswith(".")] if os.path.isdir(folder) else []
        raise UserError(f"{flag} {path}: no such file{closest(os.path.basename(path), here)}.")
    if not os.path.isfile(path):
        kind = "a folder" if os.path.isdir(path) else "not a regular file (a pipe, socket or device)"
        raise UserError(f"{flag} {path} is {kind}; give a data file (CSV, TSV, JSON or Parquet).")
    try:
        return jscale.ScalingData.from_file(path, columns=columns)
    except ImportError as err:
        raise UserError(str(err).splitlines()[0]) from None


# The bundled data sets of training curves: the column splitting their runs into sets (one fit
# each) where --sets is not given, and the `jscale.curves` constant of their runs' schedules.
_BUNDLED = {"luo2025": ("size", "LUO2025_SCHEDULES")}


def _bundled(name: str) -> str | None:
    """`name` if it names a bundled data set of training curves and no file here, else None (a
    data file); UserError for a bare name that is both, or a bundled data set of final losses."""
    if not is_bundled(name):
        return None
    if name not in _BUNDLED:
        raise UserError(f"'{name}' is a bundled dataset of final losses, not of training curves; the bundled curves "
                        f"are {', '.join(_BUNDLED)} (or give a data file of checkpoints).")
    return name


def _bundle_defaults(args):
    """`args`, with a bundled data set's own --sets where none is given."""
    name = _bundled(args.data)
    if name is None or args.sets is not None:
        return args
    return types.SimpleNamespace(**{**vars(args), "sets": _BUNDLED[name][0]})


def _curves(args, given: dict | None) -> tuple[dict, str]:
    """({set label: curves}, a line saying what was read): one set, labelled "", without --sets."""
    import jscale
    import jscale.curves
    from jscale.base._text import closest

    name = _bundled(args.data)
    if name is not None:
        return _bundled_curves(args, given, name)
    columns = {RUN: args.run, STEP: args.step, **_loss_header(given)}
    if args.schedules is None:
        columns[SCHEDULE] = args.schedule
    if args.sets is not None:
        columns[SETS] = args.sets
    data = _read(args.data, "the data file", columns)
    if "loss" not in data.columns:
        headers = [c for c in data.columns if not c.startswith("--")]
        like = [h for h in headers if "loss" in h.lower()]
        hint = f" (did you mean {like[0]!r}?)" if like else closest("loss", headers)
        raise UserError(f"{args.data} has no loss column (a header loss or L); name it with --columns L=HEADER{hint}; "
                        f"its other columns are {', '.join(headers) or 'none'}.")
    schedules = None
    if args.schedules is not None:
        table = _read(args.schedules, "--schedules")
        if args.run not in table.columns:
            raise UserError(f"--schedules {args.schedules} has no column {args.run!r} naming the runs (as --run)"
                            f"{closest(args.run, table.columns)}; its columns are {', '.join(table.columns)}.")
        specs = [c for c in ("spec", "schedule") if c in table.columns]
        rates = [c for c in ("lr", "learning_rate") if c in table.columns]
        if not specs and not (rates and args.step in table.columns):
            raise UserError(f"--schedules {args.schedules} needs a column 'spec' of schedule specs, or the columns "
                            f"{args.step!r} (as --step) and 'lr' of per-step rates; its columns are "
                            f"{', '.join(table.columns)}.")
        schedules = {RUN: table[args.run], **{c: table[c] for c in specs + rates}}
        if args.step in table.columns:
            schedules[STEP] = table[args.step]
    read = jscale.curves.curves_from_table(data, run=RUN, step=STEP, target="loss", schedule=SCHEDULE,
                                           schedules=schedules, sets=SETS if args.sets is not None else None)
    return _described(read, args, args.data, len(data))


def _bundled_curves(args, given: dict | None, name: str) -> tuple[dict, str]:
    """`_curves` of a bundled data set: its columns under their own names (--run, --step, --sets
    may name others), the loss its standard column, the schedules its own unless --schedules gives them."""
    import jscale
    import jscale.curves
    from jscale.base._text import closest

    if given:
        raise UserError(f"--columns names a column of a data file; the bundled {name} has its loss column already.")
    data = jscale.datasets.load(name)
    for flag, column in (("--run", args.run), ("--step", args.step), ("--sets", args.sets)):
        if column is not None and column not in data.columns:
            raise UserError(f"The bundled {name} has no column {column!r} (for {flag}){closest(column, data.columns)}; "
                            f"its columns are {', '.join(data.columns)}.")
    if args.schedules is not None:
        raise UserError(f"--schedules gives the schedules of a data file's runs; the bundled {name} has its own "
                        f"(see jscale.datasets.info({name!r})).")
    schedules = _BUNDLED[name][1]
    read = jscale.curves.curves_from_table({"run": data[args.run], "step": data[args.step], "loss": data.loss,
                                            "sets": data[args.sets]},
                                           schedules=getattr(jscale.curves, schedules), sets="sets")
    return _described(read, args, f"bundled dataset '{name}' (its runs' schedules: jscale.curves.{schedules})",
                      len(data))


def _described(read, args, source: str, n_checkpoints: int) -> tuple[dict, str]:
    sets = read if args.sets is not None else {"": read}
    runs = sum(len(c) for c in sets.values())
    where = f" in {len(sets)} sets by {args.sets!r}" if args.sets is not None else ""
    return sets, f"Data: {source}, {runs} runs{where}, {n_checkpoints} checkpoints."


def _loss_header(given: dict | None) -> dict:
    """{"loss": header} of --columns L=HEADER (the other commands' way to name the loss column), or {}."""
    others = [field for field in given or {} if field != "loss"]
    if others:
        raise UserError(f"--columns names {others[0]}; jscale curves reads only the loss column through it (L=HEADER): "
                        "name the runs' column with --run, the steps' with --step and the schedules' with --schedule.")
    return dict(given or {})


def _runs_table(curves: dict) -> str:
    width = max(8, *(len(n) for n in curves))
    lines = [f"  {'run':<{width}} {'checkpoints':>11} {'steps':>15}  schedule"]
    for name, (schedule, steps, _) in curves.items():
        lines.append(f"  {name:<{width}} {steps.size:>11} {f'{steps[0]}..{steps[-1]}':>15}  {schedule}")
    return "\n".join(lines)


def _by_set(caught, labels: list, named: bool) -> dict:
    """The fit's findings by the set each first names (None: no set), in the sets' labels (without
    --sets, the one set's prefix dropped)."""
    out: dict = {}
    for w in caught:
        text = str(w.message)
        match = _SET_PREFIX.match(text)
        k = None
        if match:
            k = int(match.group(1))
            rest = text[match.end():]
            if not named:
                text = rest[:1].upper() + rest[1:]
            else:
                more = [labels[int(i)] for i in re.findall(r"\d+", match.group(2) or "")]
                more_text = "" if not more else " (and " + ", ".join(map(repr, more)) + (
                    " ..." if "..." in (match.group(2) or "") else "") + ")"
                text = f"Set {labels[k]!r}{more_text}: {rest}"
        out.setdefault(k, []).append(types.SimpleNamespace(message=text, category=w.category))
    return out


# --------------------------------------------------------------------------------------------
# Predictions and the best schedule


def _predictions(text: str, sets: dict, path: str) -> dict:
    """{set label: (what, Schedule)} of a --predict SPEC: schedule spec text, or the name of a run
    (its own schedule, e.g. a run still training)."""
    import jscale
    import jscale.curves
    from jscale.base._text import closest

    if "(" in text:
        try:
            schedule = jscale.curves.parse_schedule(text)
        except ValueError as err:
            raise UserError(f"--predict {text!r} does not parse: {err}") from None
        return {label: (str(schedule), schedule) for label in sets}
    out = {}
    for label, curves in sets.items():
        if text not in curves:
            where = "" if label == "" else f" of set {label!r}"
            raise UserError(f"--predict {text!r} is neither a schedule spec such as 'cosine(steps=24000, peak=3e-4, "
                            f"warmup=2160)' nor a run{where} in {path}{closest(text, curves)}.")
        out[label] = (f"{text}: {curves[text][0]}", curves[text][0])
    return out


def _steps_of(schedule) -> list[int]:
    last = schedule.steps - 1
    return sorted({min(last, max(1, round(share * schedule.steps))) for share in SHARES} | {last})


def _print_predictions(source, asked: list, args) -> None:
    import jscale
    import jscale.curves

    prediction = jscale.curves.predict_curves(source, [(schedule, _steps_of(schedule)) for _, schedule in asked])
    bands = "" if args.resamples == 0 else f", {100 * args.level:g}% bands from {args.resamples} block resamples"
    print(f"\nPredicted loss (the multi-power law{bands}); curve:")
    for k, (what, _) in enumerate(asked):
        print(f"  {k}  {what}")
    print(prediction.table(args.level))


def _best_plan(curves: dict, steps: int | None) -> dict:
    """best_schedule's constraints: the longest training schedule's steps, peak, warmup and floor
    (peak / 10 where it has none), its steps replaced by --best-steps."""
    import numpy as np

    longest = max((schedule for schedule, _, _ in curves.values()), key=lambda s: s.steps)
    rates = np.asarray(longest.lr())
    peak = float(rates.max())
    if longest.kind == "custom":
        top = int(np.argmax(rates))
        warmup = top + 1 if top > 0 else 0
    else:
        warmup = longest.warmup
    floor = longest.floor if longest.kind in ("cosine", "wsd") and longest.floor < peak else None
    steps = longest.steps if steps is None else steps
    if steps < warmup + 2:
        raise UserError(f"--best-steps {steps} leaves no steps after the training runs' warmup ({warmup} steps); "
                        f"give at least {warmup + 2}.")
    return {"steps": steps, "peak": peak, "warmup": warmup, "floor": floor}


def _print_best(source, plan: dict, args, show: bool) -> None:
    import jscale
    import jscale.curves
    from jscale.base import _progress

    boot = isinstance(source, jscale.results.BootstrapResult)
    with _progress.status(f"Optimising a {plan['steps']}-step schedule through the fitted law", show):
        best = jscale.curves.best_schedule(source.fit if boot else source, **plan, draws=source if boot else None)
    print()
    print(best.summary(args.level))
