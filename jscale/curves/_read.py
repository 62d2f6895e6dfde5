"""Training curves from a long table of checkpoints: one row per (run, step), as loggers export them.

`curves_from_table` turns such a table (a `ScalingData`, a data frame or a mapping of column
arrays) into the mapping name -> (schedule, checkpoint steps, losses) that `fit_curves`,
`bootstrap_curves` and `curve_data` take; with `sets=`, one such mapping per value of a column
(e.g. one per model size, for `fit_curves` on a list of them).

Each run's schedule comes from a column of spec text (``"cosine(steps=24000, peak=3e-4,
warmup=2160)"``, see `parse_schedule`), the same in every row of the run, or from `schedules=`:
a mapping run -> `Schedule`, spec text or per-step rates, or a second table of run + spec, or of
run + step + lr (the rate of every step 0..T-1).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import numpy as np

from jscale.base._text import closest
from jscale.curves._luo import LUO2025_SCHEDULES
from jscale.curves._multipower import MULTIPOWER_PARAMS
from jscale.curves._schedules import Schedule, parse_schedule
from jscale.data._data import ScalingData

SPEC_COLUMN = "spec"  # a schedules table's column of spec text (or the `schedule=` name)
RATE_COLUMNS = ("lr", "learning_rate")  # a schedules table's column of per-step rates
_EXAMPLE = "'cosine(steps=24000, peak=3e-4, floor=3e-5, warmup=2160)'"


def curves_from_table(data, *, run: str = "run", step: str = "step", target: str = "loss",
                      schedule: str = "schedule", schedules=None, sets: str | None = None) -> dict:
    """The training curves of a long table of checkpoints, for `fit_curves`.

    Args:
        data: the checkpoints, one row per (run, step): a `ScalingData` (e.g. from
            `ScalingData.from_file`), a data frame, or a mapping column name -> (R,) array.
        run: the column naming each row's run (any labels; names become text, 7.0 as "7").
        step: the column of the checkpoints' steps: whole numbers >= 0, counted from 0 as in
            `Schedule` (a run's rows may come in any order; a step twice is an error).
        target: the column of the losses logged there (positive, finite).
        schedule: the column holding each row's schedule as spec text (see `parse_schedule`),
            the same schedule in every row of a run; read only when `schedules` is None. The
            bundled data set "luo2025" needs neither: its runs are named by their schedules
            (`LUO2025_SCHEDULES`). In a schedules table (below), the column of spec text may
            also carry this name.
        schedules: the runs' schedules instead of a column: a mapping run -> `Schedule`, spec
            text or per-step rates (steps 0..T-1); or a table (`ScalingData`, data frame or
            mapping of columns) with the column `run` and either a column of spec text
            ('spec', or named as `schedule`) or the columns `step` and 'lr' (or
            'learning_rate'), one row per step 0..T-1 of each run. Runs it names that the
            table lacks are ignored; with `sets`, a run's name picks its schedule in every set.
        sets: a column splitting the table into sets of curves fitted separately (e.g. the
            model size); None: one set.

    Returns:
        A dict run name -> (`Schedule`, steps int64 (c,) increasing, losses float64 (c,)), runs
        in the order they first appear; with `sets`, a dict set label (text, in order of first
        appearance) -> such a dict.

    Raises:
        ValueError: one message each, naming the run (and set), step or row: a column the
            table lacks (with the closest name), steps that are not whole numbers >= 0, a step
            twice in a run, losses that are not positive finite numbers, a run with fewer
            checkpoints than the multi-power law's 7 parameters, a run without a schedule, spec
            text that does not parse (with `parse_schedule`'s reason), a run whose rows name
            two schedules, rates that are negative or not finite, or a checkpoint at or past
            the end of its run's schedule.
        TypeError: `data` or `schedules` of another type.

    Example:
        >>> table = {"run": ["a"] * 8, "step": [100 * k for k in range(1, 9)], "loss": [4.0 - 0.1 * k for k in
        ...          range(8)], "schedule": ["constant(steps=1000, peak=3e-4, warmup=100)"] * 8}
        >>> schedule, steps, losses = curves_from_table(table)["a"]
        >>> schedule.kind, steps.tolist()[-1], float(losses[0])
        ('constant', 800, 4.0)
    """
    table, rows = _columns(data, "data")
    if schedules is None and schedule not in table and _bundled(data) == "luo2025":
        schedules = LUO2025_SCHEDULES  # the bundled curves carry their schedules by run name
    names = {"run": run, "step": step, "target": target}
    if sets is not None:
        names["sets"] = sets
    for keyword, name in names.items():
        _require(table, name, f"{keyword}=", "table")
    if schedules is None and schedule not in table:
        raise ValueError(f"The table has no column {schedule!r} of schedules (schedule=){closest(schedule, table)}; "
                         f"its columns are {_listed(table)}. Name the column of spec text with schedule=, or give the "
                         "runs' schedules with schedules= (run -> spec, or a table of run, spec).")
    runs = _labels(table[run], run)
    steps = _steps(table[step], step, runs)
    losses = _losses(table[target], target, runs, steps)
    given = None if schedules is None else _given(schedules, run=run, step=step, schedule=schedule)
    texts = None if schedules is not None else _texts(table[schedule], schedule)
    groups = _labels(table[sets], sets) if sets is not None else np.full(rows, "", dtype=object)
    out: dict = {}
    for group in dict.fromkeys(groups.tolist()):
        in_group = np.flatnonzero(groups == group)
        where = "" if sets is None else f" (set {group!r})"
        curves = {}
        for name in dict.fromkeys(runs[in_group].tolist()):
            at = in_group[runs[in_group] == name]
            order = at[np.argsort(steps[at], kind="stable")]
            own = _run_steps(steps[order], order, f"Run {name!r}{where}")
            if own.size < len(MULTIPOWER_PARAMS):
                raise ValueError(f"Run {name!r}{where} has {own.size} checkpoint{'s' if own.size != 1 else ''}, fewer "
                                 f"than the multi-power law's {len(MULTIPOWER_PARAMS)} parameters; give each run at "
                                 "least 7 checkpoints, or leave this one out.")
            if given is not None:
                found = given.get(name)
                if found is None:
                    raise ValueError(f"Run {name!r}{where} has no schedule in schedules={closest(name, given)}; it "
                                     f"names {_listed(given)}. Give every run of the table a schedule.")
            else:
                found = _one_schedule(texts, order, f"Run {name!r}{where}", schedule)
            curves[name] = (_within(found, own, f"Run {name!r}{where}"), own, losses[order])
        out[group] = curves
    return out[""] if sets is None else out


# --------------------------------------------------------------------------------------------
# Columns


def _bundled(data) -> str:
    """The name of the bundled data set `data` was loaded from (`jscale.datasets.load`), or ""."""
    try:
        source = json.loads(data.source) if isinstance(data, ScalingData) and data.source else {}
    except ValueError:
        return ""
    return source.get("name", "") if isinstance(source, dict) and source.get("kind") == "dataset" else ""


def _columns(data, what: str) -> tuple[dict, int]:
    """(name -> 1-D array, rows) of a ScalingData, a data frame or a mapping of columns."""
    if isinstance(data, ScalingData):
        return {c: np.asarray(data[c]) for c in data.columns}, len(data)
    if isinstance(data, Mapping):
        columns = dict(data)
    elif hasattr(data, "columns") and hasattr(data, "__getitem__"):  # a data frame
        columns = {c: data[c] for c in data.columns}
    else:
        raise TypeError(f"{what} must be a ScalingData, a data frame or a mapping column name -> array; got "
                        f"{type(data).__name__}.")
    if not columns:
        raise ValueError(f"{what} has no columns; give the checkpoints as columns (run, step, loss, ...).")
    table, lengths = {}, {}
    for name, values in columns.items():
        array = np.asarray(values)
        if array.ndim != 1:
            raise ValueError(f"Column {name!r} of {what} must be 1-D, one value per row; got shape {array.shape}.")
        table[str(name)], lengths[str(name)] = array, array.size
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{n} has {k}" for n, k in lengths.items())
        raise ValueError(f"The columns of {what} have different lengths ({listed}); give one value per row in each.")
    rows = next(iter(lengths.values()))
    if rows == 0:
        raise ValueError(f"{what} has no rows; give at least one checkpoint.")
    return table, rows


def _rows(count: int) -> str:
    return "1 row does" if count == 1 else f"{count} rows do"


def _listed(names) -> str:
    return ", ".join(repr(str(n)) for n in names)


def _require(table: dict, name: str, keyword: str, what: str) -> None:
    if name not in table:
        raise ValueError(f"The {what} has no column {name!r} ({keyword})"
                         f"{closest(name, table)}; its columns are {_listed(table)}.")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def _label(value) -> str:
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _labels(values: np.ndarray, name: str) -> np.ndarray:
    """(R,) text labels of a column of names (runs, sets); an empty cell is an error."""
    out = np.empty(values.size, dtype=object)
    for i, v in enumerate(values.tolist()):
        if _missing(v):
            raise ValueError(f"Column {name!r} has an empty cell at row {i}; every checkpoint needs a value there.")
        out[i] = _label(v)
    return out


def _numbers(values: np.ndarray, name: str, what: str) -> np.ndarray:
    """(R,) float64 of a numeric column, or ValueError naming the first cell that is not a number."""
    if values.dtype.kind in "iuf":
        return values.astype(np.float64)
    out = np.empty(values.size)
    for i, v in enumerate(values.tolist()):
        try:
            if isinstance(v, bool):
                raise TypeError
            out[i] = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"Column {name!r} ({what}) must hold numbers; row {i} holds {v!r}.") from None
    return out


def _steps(values: np.ndarray, name: str, runs: np.ndarray) -> np.ndarray:
    steps = _numbers(values, name, "the checkpoints' steps")
    bad = np.flatnonzero(~np.isfinite(steps) | (steps < 0) | (steps != np.round(steps)))
    if bad.size:
        i = bad[0]
        raise ValueError(f"Column {name!r} must hold whole step numbers >= 0 (counted from 0, as schedules are); "
                         f"{_rows(bad.size)} not, the first is row {i} (run {runs[i]!r}): {float(steps[i])!r}.")
    return steps.astype(np.int64)


def _losses(values: np.ndarray, name: str, runs: np.ndarray, steps: np.ndarray) -> np.ndarray:
    losses = _numbers(values, name, "the losses")
    bad = np.flatnonzero(~(np.isfinite(losses) & (losses > 0)))
    if bad.size:
        i = bad[0]
        raise ValueError(f"Column {name!r} must hold positive finite losses; {_rows(bad.size)} not, the first is "
                         f"row {i} (run {runs[i]!r}, step {steps[i]}): {float(losses[i])!r}.")
    return losses


def _run_steps(steps: np.ndarray, rows: np.ndarray, who: str) -> np.ndarray:
    """A run's sorted steps, or ValueError for a step logged twice."""
    twice = np.flatnonzero(np.diff(steps) == 0)
    if twice.size:
        k = twice[0]
        raise ValueError(f"{who} has step {steps[k]} twice (rows {min(rows[k], rows[k + 1])} and "
                         f"{max(rows[k], rows[k + 1])}); keep one checkpoint per step (e.g. the mean of the two).")
    return steps


# --------------------------------------------------------------------------------------------
# Schedules


def _texts(values: np.ndarray, name: str) -> np.ndarray:
    """A column of spec text; a numeric one is an error (rates go in schedules=)."""
    if values.dtype.kind in "iufb":
        raise ValueError(f"Column {name!r} holds numbers, not schedules; it needs a spec per row such as {_EXAMPLE} "
                         "(per-step rates go in schedules=, a table of run, step, lr).")
    return values


def _parsed(text, who: str, cache: dict) -> Schedule:
    text = str(text)  # numpy's text scalars print as np.str_('...')
    if text not in cache:
        try:
            cache[text] = parse_schedule(text)
        except ValueError as err:
            raise ValueError(f"{who}: its schedule does not parse: {err}") from None
    return cache[text]


def _one_schedule(texts: np.ndarray, rows: np.ndarray, who: str, name: str, cache=None) -> Schedule:
    """The one schedule the rows' spec text names, or ValueError (empty cell, bad spec, two schedules)."""
    cache = {} if cache is None else cache
    first = None
    for i in rows:
        text = texts[i]
        if _missing(text):
            raise ValueError(f"{who} has no schedule: row {i} of column {name!r} is empty; give every row of the run "
                             f"its schedule, e.g. {_EXAMPLE}.")
        if not isinstance(text, str):
            raise ValueError(f"{who}: row {i} of column {name!r} holds {text!r}, not a schedule spec such as "
                             f"{_EXAMPLE}.")
        parsed = _parsed(text, who, cache)
        if first is None:
            first = (i, text, parsed)
        elif parsed != first[2]:
            raise ValueError(f"{who} names two schedules in column {name!r}: {first[1]!r} (row {first[0]}) and "
                             f"{text!r} (row {i}); every checkpoint of a run follows one schedule.")
    return first[2]


def _rates(values, who: str) -> Schedule:
    """A custom schedule of per-step rates, or ValueError naming the first negative or non-finite one."""
    try:
        lr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{who}: per-step rates must be numbers; got {type(values).__name__}.") from None
    if lr.ndim != 1 or lr.size == 0:
        raise ValueError(f"{who}: per-step rates must be a non-empty 1-D array (steps 0..T-1); got shape {lr.shape}.")
    _check_rates(lr, who)
    return Schedule.custom(lr)


def _check_rates(lr: np.ndarray, who: str) -> None:
    bad = np.flatnonzero(~np.isfinite(lr) | (lr < 0))
    if bad.size:
        raise ValueError(f"The schedule of {who[0].lower() + who[1:]} has {bad.size} negative or non-finite "
                         f"rate{'s' if bad.size != 1 else ''}, the first at step {bad[0]} ({float(lr[bad[0]])!r}); "
                         "learning rates must be finite and >= 0.")


def _within(schedule: Schedule, steps: np.ndarray, who: str) -> Schedule:
    """`schedule`, after checking its rates and that every checkpoint lies within it."""
    _check_rates(np.asarray(schedule.lr()), who)
    past = np.flatnonzero(steps >= schedule.steps)
    if past.size:
        raise ValueError(f"{who} has {past.size} checkpoint{'s' if past.size != 1 else ''} past the end of its "
                         f"schedule {schedule} (steps 0 to {schedule.steps - 1}), the first at step {steps[past[0]]}; "
                         f"drop the rows from step {schedule.steps} on, or give the schedule's full length.")
    return schedule


def _is_table(schedules, run: str, schedule: str) -> bool:
    if isinstance(schedules, ScalingData):
        return True
    if not isinstance(schedules, Mapping):
        return hasattr(schedules, "columns")
    if run not in schedules or isinstance(schedules[run], (str, Schedule)):
        return False
    # A column of run names (labels), or beside it a column of specs or rates; not a run named like the column.
    labels = np.asarray(schedules[run]).dtype.kind not in "iufb"
    return labels or any(c in schedules for c in (schedule, SPEC_COLUMN, *RATE_COLUMNS))


def _given(schedules, *, run: str, step: str, schedule: str) -> dict:
    """run name -> Schedule, from `schedules=` (a mapping of runs or a table)."""
    if _is_table(schedules, run, schedule):
        return _from_table(schedules, run=run, step=step, schedule=schedule)
    if not isinstance(schedules, Mapping):
        raise TypeError("schedules must be a mapping run -> Schedule, spec text or per-step rates, or a table of "
                        f"run, spec (or run, step, lr); got {type(schedules).__name__}.")
    out, cache = {}, {}
    for key, value in schedules.items():
        name = _label(key)
        who = f"Run {name!r} in schedules="
        if isinstance(value, Schedule):
            out[name] = value
        elif isinstance(value, str):
            out[name] = _parsed(value, who, cache)
        else:
            out[name] = _rates(value, who)
    return out


def _from_table(schedules, *, run: str, step: str, schedule: str) -> dict:
    """run name -> Schedule from a table of run + spec, or of run + step + lr."""
    table, _ = _columns(schedules, "schedules")
    _require(table, run, "run=", "schedules table")
    specs = [c for c in dict.fromkeys((schedule, SPEC_COLUMN)) if c in table]
    rates = [c for c in RATE_COLUMNS if c in table]
    if bool(specs) == bool(rates):
        has = "both a column of specs and one of rates" if specs else "neither"
        raise ValueError(f"The schedules table needs, beside {run!r}, a column {SPEC_COLUMN!r} of spec text (or "
                         f"{schedule!r}) or the columns {step!r} and 'lr' of per-step rates; it has {has} (its columns "
                         f"are {_listed(table)}).")
    runs = _labels(table[run], run)
    out = {}
    if specs:
        texts, cache = _texts(table[specs[0]], specs[0]), {}
        for name in dict.fromkeys(runs.tolist()):
            out[name] = _one_schedule(texts, np.flatnonzero(runs == name), f"Run {name!r} in the schedules table",
                                      specs[0], cache)
        return out
    _require(table, step, "step=", "schedules table")
    steps = _steps(table[step], step, runs)
    lr = _numbers(table[rates[0]], rates[0], "the per-step learning rates")
    for name in dict.fromkeys(runs.tolist()):
        who = f"Run {name!r} in the schedules table"
        at = np.flatnonzero(runs == name)
        order = at[np.argsort(steps[at], kind="stable")]
        own = _run_steps(steps[order], order, who)
        gap = np.flatnonzero(own != np.arange(own.size))
        if gap.size:
            raise ValueError(f"{who} lacks the rate of step {gap[0]}: per-step rates must cover every step 0..T-1, "
                             f"one row each (its steps run from {own[0]} to {own[-1]} in {own.size} rows).")
        out[name] = _rates(lr[order], who)
    return out
