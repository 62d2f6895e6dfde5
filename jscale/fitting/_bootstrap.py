"""The public `bootstrap`: every resample refitted from a few starts in batched, jitted calls."""

from __future__ import annotations

import contextlib
import functools
import numbers
import sys

import jax
import jax.numpy as jnp
import numpy as np

from jscale.base import _progress
from jscale.base._numerics import bucket, read_only, x64_scope
from jscale.base._text import closest
from jscale.base._warnings import ConvergenceError, warn_all
from jscale.data._data import ScalingData
from jscale.engine import _problem
from jscale.engine._batch import (
    ar_residual_problems,
    best_start,
    counts_table,
    fit_in_chunks,
    padded_problem,
    problems_per_call,
    resampled_problems,
    take_best,
)
from jscale.engine._execution import Execution, execution_of
from jscale.engine._solve import NONFINITE
from jscale.fitting._fit import (
    check_execution,
    check_law_and_data,
    check_objective,
    check_positive_int,
    check_starts,
    fit_datasets,
    fit_list,
    starts_notes,
)
from jscale.inference._diagnostics import merge
from jscale.inference._results import BootstrapResult, FitResult
from jscale.inference._uncertainty import configurations_fingerprint, distinct_configurations
from jscale.laws._laws import Law, Shared

UNITS = ("row", "group", "residual")
# Starts taken from the full-data fit for the default "warm" starts: its optimum plus up to
# this many minus one other basins it found.
N_WARM_STARTS = 3
# A bootstrap needs at least MIN_RESAMPLES draws (one gives no spread at all); below
# `jscale.inference._diagnostics.FEW_RESAMPLES` its diagnostics say that its intervals are rough.
MIN_RESAMPLES = 2
# Resamples drawn unless told otherwise, by the bootstrap and the sweeps alike.
DEFAULT_RESAMPLES = 1000


@functools.partial(jax.jit, static_argnames=("unit", "n_units"))
def _draw(key_data, indices, problem, unit_of_row, fitted, *, unit, n_units):
    key = jax.random.wrap_key_data(key_data)
    return resampled_problems(key, indices, problem, unit=unit, unit_of_row=unit_of_row, n_units=n_units,
                              fitted=fitted)


@jax.jit
def _draw_series(key_data, indices, problem, fitted, series):
    return ar_residual_problems(jax.random.wrap_key_data(key_data), indices, problem, fitted, series)


@jax.jit
def _given_counts(counts, weight, unit_of_row):
    return {"weight": weight[None, :] * counts[:, unit_of_row]}


@jax.jit
def _leave_one_out(indices, weight, unit_of_row):
    return {"weight": weight[None, :] * (unit_of_row[None, :] != indices[:, None])}


def as_key_data(key) -> np.ndarray:
    """A JAX PRNG key (typed or raw uint32 (2,)) or an integer seed, as raw uint32 (2,) key data."""
    dtype = getattr(key, "dtype", None)
    typed = dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    if (isinstance(key, numbers.Integral) and not isinstance(key, bool)) or (
        not typed and dtype is not None and np.ndim(key) == 0 and np.issubdtype(np.dtype(dtype), np.integer)
    ):
        seed = int(key)
        if not 0 <= seed < 2**63:
            raise ValueError(f"An integer key must be a seed in [0, 2**63); got {seed}.")
        with x64_scope():  # 64-bit seeds: without x64, seeds of 2**32 and more would collide
            return np.asarray(jax.random.key_data(jax.random.key(seed)))
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        data = np.asarray(jax.random.key_data(key))
    else:
        data = np.asarray(key) if dtype is not None else None
    if data is None or data.dtype != np.uint32 or data.shape != (2,):
        raise TypeError(
            f"key must be an integer seed or a JAX PRNG key of the default implementation, e.g. "
            f"jax.random.key(0); got {type(key).__name__} {key!r:.60}."
        )
    return data


def _check_counts(counts, n_units: int, unit) -> np.ndarray:
    """Explicit resample multiplicities as a float64 (B, n_units) array, or ValueError."""
    try:
        array = np.array(counts, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"counts must be a numeric (B, {n_units}) array; got {type(counts).__name__}.") from None
    if array.ndim != 2 or array.shape[1] != n_units or array.shape[0] == 0:
        raise ValueError(
            f"counts must have shape (B, {n_units}): one multiplicity per {'row' if unit == 'row' else 'group'} "
            f"and resample; got shape {array.shape}."
        )
    bad = ~np.all(np.isfinite(array) & (array >= 0) & (array == np.round(array)), axis=1)
    if bad.any():
        raise ValueError(
            f"counts must be non-negative integers; {int(bad.sum())} rows are not, the first is row "
            f"{int(np.argmax(bad))}."
        )
    empty = array.sum(axis=1) == 0
    if empty.any():
        raise ValueError(f"counts row {int(np.argmax(empty))} is all zero: a resample must hold some data.")
    return array


def resample_units(unit, data: ScalingData):
    """(kind, unit_of_row (R,), n_units) for the `unit` argument."""
    n = len(data)
    if unit in ("row", "residual"):
        return unit, np.arange(n), n
    if unit == "group" or (isinstance(unit, str) and unit in data.columns):
        column = "group" if unit == "group" else unit
        if column not in data.columns:
            raise ValueError(
                "unit='group' resamples whole groups but the data has no group column; pass group=... to "
                "ScalingData.from_arrays (or a 'group' column in the CSV), or name a column to group by, e.g. "
                "unit='n_params'."
            )
        _, unit_of_row = data.codes(column)
        n_units = int(unit_of_row.max()) + 1
        if n_units < 2:
            raise ValueError(f"unit={unit!r} gives a single group; a bootstrap needs at least two.")
        return "group", unit_of_row.ravel(), n_units
    raise ValueError(
        f"unit must be one of {', '.join(map(repr, UNITS))} or the name of a data column to group by "
        f"({', '.join(data.columns)}); got {unit!r}."
    )


def warm_starts(full_fit: FitResult, n: int = N_WARM_STARTS) -> np.ndarray:
    """The full-data optimum, then the best end points of up to n - 1 other basins of that fit.

    End points are taken in order of objective; one joins when its objective exceeds that of
    the last one taken by more than 1e-6 (relative): a different basin. (Comparing objectives
    rather than parameters makes fits that run off along a flat direction, e.g. log E -> -inf,
    count as one basin.) A resample's optimum is usually near the full-data one; the others
    guard against a resample whose best basin is another one.
    """
    finite = np.isfinite(full_fit.objectives)
    objectives = np.where(finite, full_fit.objectives, np.inf)
    order = np.argsort(objectives, kind="stable")
    chosen = [full_fit.best_index]
    for i in order:
        if len(chosen) == n or not finite[i]:
            break
        last = objectives[chosen[-1]]
        if objectives[i] > last + max(1e-6 * abs(last), full_fit.objective_floor):
            chosen.append(int(i))
    return inside_bounds(full_fit.law, np.asarray(full_fit.end_params)[chosen])


# A warm start's logistic coordinates are kept within this of 0: an optimum on a bound (logit -> inf)
# would start every resample where the map's gradient vanishes, and no draw could leave the bound.
MAX_WARM_LOGIT = 6.0


def inside_bounds(law: Law, starts: np.ndarray) -> np.ndarray:
    """`starts` with the free coordinates of parameters bounded on both sides clipped to
    +-`MAX_WARM_LOGIT` (within 0.25% of the interval of its edges)."""
    bounded = np.asarray(law._bounded)
    return np.where(bounded, np.clip(starts, -MAX_WARM_LOGIT, MAX_WARM_LOGIT), starts)


def _resolve_starts(starts, law: Law, full_fit: FitResult) -> np.ndarray:
    if isinstance(starts, str):
        if starts == "warm":
            return warm_starts(full_fit)
        if starts == "optimum":
            return np.asarray(full_fit.end_params[full_fit.best_index])[None, :]
        if starts == "grid":
            return np.asarray(law.default_starts(), np.float64)
        raise ValueError(f"starts must be 'warm', 'optimum', 'grid' or an (S, {law.n_free}) array; got {starts!r}.")
    return check_starts(law, starts)


def bootstrap(
    law: Law,
    data: ScalingData,
    *,
    n_resamples: int | None = None,
    key=None,
    counts=None,
    unit: str = "row",
    strata: str | None = None,
    starts="warm",
    full_fit: FitResult | None = None,
    target: str = "loss",
    residual: str = "log",
    loss="huber",
    delta: float | None = None,
    execution: Execution | None = None,
    progress: bool | None = None,
    jackknife: bool = True,
    **legacy,
) -> BootstrapResult:
    """Refits a law to `n_resamples` bootstrap resamples of the data, all in batched jitted calls.

    Resamples are weights (multiplicities), so every resample has the data's shape and all of
    them, times every start, run through the batching layer together (in chunks of
    `chunk_size` resamples). Resample b depends only on `key` and b, so the draws are the same
    whatever the chunking or the number of devices.

    For several datasets, see `jscale.bootstrap_many`; for several candidate forms of a law mixed by
    their held-out skill, `jscale.bootstrap_forms`.

    Units:
        * "row" (default): each run is drawn with replacement (Efron's nonparametric bootstrap;
          Besiroglu et al. 2024 used it for the Chinchilla replication).
        * "group": whole groups of rows sharing a `group` label (e.g. one model's checkpoints)
          are drawn with replacement; any column name (e.g. "n_params" or "compute", one isoFLOP
          budget) groups by that column's values.
        * "residual": the residuals of the full-data fit (in its residual space) are drawn with
          replacement and added to its fitted values (keeps the design fixed; assumes
          exchangeable errors).

    Starts per resample:
        * "warm" (default): the full-data optimum plus the best end points of the next two
          basins the full-data fit found (`warm_starts`). The optimum converges in a few steps;
          the others catch a resample whose best basin has moved. They are first fitted on 256
          resamples; if none of them ends lower than the optimum's start there, the other
          resamples (and the jackknife) start from the optimum alone (`basins_checked` says
          so), else every resample gets them all.
        * "optimum": the full-data optimum only (one start, e.g. to repeat Besiroglu et al.).
        * "grid": the law's default grid (Hoffmann's 4,500 starts for Chinchilla), per resample.
        * an (S, P) array of free-space starts, used for every resample.

    Besides the resamples, the law is refitted once per unit with that unit left out (the
    jackknife, from the warm starts) for BCa intervals, unless `jackknife=False`.

    Args:
        law: a law object, e.g. `jscale.laws.Chinchilla()`.
        data: a `ScalingData`; row weights in `data.weight` multiply the resample counts.
        n_resamples: number of bootstrap resamples B (default 1000, or the rows of `counts`); at
            least 2, and 1000 or more for intervals to report (below 100, a `ResamplesWarning`
            says the intervals are rough).
        key: an integer seed or a JAX PRNG key; required unless `counts` is given.
        counts: instead of a key, explicit resamples: a (B, n_units) array of non-negative integer
            multiplicities, one row per resample (e.g. to repeat another tool's draws exactly;
            not for unit="residual").
        unit: "row", "group", "residual" or a column name (see above).
        strata: a categorical column: units are drawn with replacement within each of its values,
            so every resample keeps each value's number of units (a stratified bootstrap, e.g.
            each data set's runs). Default: none, except for a `jscale.laws.Shared` law, whose
            data sets (its `by` column) are the strata. The resamples are then drawn from the key
            up front and kept as `counts`.
        starts: "warm", "optimum", "grid" or an (S, P) array (see above).
        full_fit: the `jscale.fit` result of this law on this data, if already computed (else
            it is fitted here from the law's default starts).
        target, residual, loss, delta: as in `jscale.fit`.
        execution: how the fits run, a `jscale.Execution` (as in `jscale.fit`, plus chunk_size:
            resamples per jitted call; default: as many as fit a quarter of the device's free
            memory, or `JSCALE_MEMORY_BUDGET` bytes, at most 65,536 fits per call on CPU and
            8,388,608 on an accelerator). The resamples are bit for bit the same whatever the
            devices or the chunking.
        progress: say what is happening on stderr: a progress bar over the resamples (in calls of
            at least 4 fits per solver slot) and a line for the jackknife. Default: a bar only
            when the resamples need more than one call and stderr is a terminal; False: silent.
        jackknife: also fit the leave-one-unit-out jackknife (needed by BCa intervals).

    Returns:
        A `BootstrapResult`. Warns once with every finding of `BootstrapResult.diagnostics()`
        (all `jscale.warnings.DiagnosticWarning`s): the full fit's, draws that did not converge,
        parameters at a bound, strongly correlated parameters, too few configurations.

    Raises:
        TypeError, ValueError: bad arguments (as `jscale.fit`, plus bad key, unit or full_fit).
        ConvergenceError: no resample produced a finite fit.

    Example:
        >>> import jscale
        >>> data = jscale.datasets.load("chinchilla")
        >>> boot = jscale.bootstrap(jscale.laws.Chinchilla(), data, n_resamples=1000, key=0)  # doctest: +SKIP
        >>> boot.interval("alpha")  # doctest: +SKIP
        (0.31..., 0.37...)
    """
    if isinstance(data, (list, tuple)):
        raise TypeError("bootstrap takes one ScalingData; for a list of datasets use jscale.bootstrap_many.")
    if isinstance(law, (list, tuple)):
        raise TypeError("bootstrap takes one law; several candidate forms have their own verb: "
                        "jscale.bootstrap_forms([law, other, ...], data, key=0).")
    execution = execution_of(execution, legacy, "bootstrap")
    result = resample_fits(law, data, n_resamples=n_resamples, key=key, counts=counts, unit=unit, strata=strata,
                           starts=starts, full_fit=full_fit, target=target, residual=residual, loss=loss, delta=delta,
                           progress=progress, jackknife=jackknife, **execution.keywords())
    warn_all(result.diagnostics(), stacklevel=2)
    return result


def _resamples(key, counts, n_resamples, kind, n_units, unit):
    """(n_resamples, key data or None, counts or None), checked."""
    if counts is None:
        if key is None:
            raise TypeError("bootstrap needs key= (an integer seed or a JAX PRNG key), or explicit counts=.")
        return check_n_resamples(n_resamples), as_key_data(key), None
    if key is not None:
        raise ValueError("Pass either key= (random resamples) or counts= (explicit resamples), not both.")
    if kind == "residual":
        raise ValueError("counts= gives multiplicities of rows or groups; it does not apply to unit='residual'.")
    counts = _check_counts(counts, n_units, unit)
    if n_resamples is not None and n_resamples != len(counts):
        raise ValueError(f"n_resamples={n_resamples!r} but counts has {len(counts)} rows; omit n_resamples.")
    if len(counts) < MIN_RESAMPLES:
        raise ValueError(
            f"counts has {len(counts)} row, one resample, but a bootstrap needs at least {MIN_RESAMPLES} for a "
            f"standard error or an interval, and 1000 or more are usual; give one row per resample."
        )
    return len(counts), None, counts


def check_n_resamples(n_resamples):
    """n_resamples (None: DEFAULT_RESAMPLES) as a checked int of at least MIN_RESAMPLES."""
    if n_resamples is None:
        return DEFAULT_RESAMPLES
    n_resamples = check_positive_int("n_resamples", n_resamples)
    if n_resamples < MIN_RESAMPLES:
        raise ValueError(
            f"n_resamples must be at least {MIN_RESAMPLES} (one resample gives no standard error and a zero-width "
            f"interval), and 1000 or more are usual; got {n_resamples}, so pass e.g. n_resamples=1000."
        )
    return n_resamples


# With the default warm starts, the full fit's other basins are first fitted on this many
# resamples; only if one of them ends lower than the optimum's start somewhere do they run on
# every resample. (On Chinchilla they never do, and they cost 95% of the time: from the optimum a
# resample takes ~14 steps, from the other basins ~120.) A lower basin in 1% of resamples is
# caught with probability 1 - 0.99^256 = 92%.
BASIN_CHECK = 256


def _warm(x0s, problem, resamples, n_resamples, chunk_size, settings):
    """Outcomes of the warm starts and the number of resamples the other basins were checked on
    (0 when they ran everywhere). `settings` as `fit_in_chunks` takes them (width included)."""
    if len(x0s) == 1 or n_resamples <= BASIN_CHECK:
        return fit_in_chunks(x0s, problem, resamples, n_resamples, chunk_size, **settings), 0
    probe = fit_in_chunks(x0s, problem, resamples, BASIN_CHECK, chunk_size, **settings)
    f = np.where(np.isfinite(probe["f"]), probe["f"], np.inf)
    lower = f.min(axis=1) < f[:, 0] - np.maximum(1e-9 * np.abs(f[:, 0]), 64 * np.finfo(float).eps)
    checked = 0 if lower.any() else BASIN_CHECK
    # The optimum alone, with the probe's program (its other starts padding that never runs).
    rest = fit_in_chunks(x0s, problem, lambda idx: resamples(idx + BASIN_CHECK), n_resamples - BASIN_CHECK,
                         chunk_size, n_run_starts=None if lower.any() else 1, **settings)
    head = probe if lower.any() else {k: v[:, :1] for k, v in probe.items()}
    return {k: np.concatenate([head[k], rest[k]]) for k in rest}, checked


def _full_fit(law, data, full_fit, objective, execution) -> FitResult:
    """The full-data fit: the one given (checked against this bootstrap), or a new one."""
    if full_fit is None:
        return fit_datasets(law, [data], check_starts(law, None), objective, execution, starts_notes(law, None))[0]
    if not isinstance(full_fit, FitResult):
        raise TypeError(f"full_fit must be the FitResult of jscale.fit; got {type(full_fit).__name__}.")
    asked = (law, objective.loss, objective.target, objective.residual)
    if (full_fit.law, full_fit.loss_function, full_fit.target, full_fit.residual) != asked:
        raise ValueError(
            f"full_fit was fitted with law {full_fit.law}, loss {full_fit.loss_function}, target "
            f"{full_fit.target!r} and residual {full_fit.residual!r}; this bootstrap asks for {law}, "
            f"{objective.loss}, {objective.target!r} and {objective.residual!r}. Pass the fit of the same law and "
            "objective."
        )
    if full_fit.n_rows != len(data):
        raise ValueError(
            f"full_fit was fitted to {full_fit.n_rows} rows but data has {len(data)}; pass the fit of this data."
        )
    return full_fit


def _stratified(strata, law, data, kind, unit_of_row, n_units, key, counts, n_resamples):
    """(key, counts) with the resamples drawn within strata (`strata` a column, or the `by` column of
    a shared law when None), or the arguments unchanged when there are no strata."""
    if strata is None and isinstance(law, Shared):
        strata = law.by
    if strata is None:
        return key, counts
    if strata not in data.columns:
        raise ValueError(f"strata must name a data column{closest(str(strata), data.columns)}; the data has "
                         f"{', '.join(data.columns)}.")
    if kind == "residual" or counts is not None:
        raise ValueError("strata= draws units within strata from a key; it does not apply to unit='residual' or "
                         "to explicit counts=.")
    if key is None:
        raise TypeError("bootstrap needs key= (an integer seed or a JAX PRNG key).")
    _, codes = data.codes(strata)
    of_unit = np.full(n_units, -1)
    of_unit[unit_of_row] = codes
    if np.any(of_unit[unit_of_row] != codes):
        raise ValueError(f"strata={strata!r}: a unit spans several strata; each group of unit={kind!r} must lie in "
                         f"one value of {strata!r}.")
    return None, counts_table(as_key_data(key), check_n_resamples(n_resamples), n_units, of_unit)


def resample_fits(law, data, *, n_resamples, key, counts, unit, starts, full_fit, target, residual, loss, delta,
               solver, batching, batch_size, n_devices, mesh, chunk_size, progress, jackknife,
               strata=None, units=None, series=None) -> BootstrapResult:
    """`bootstrap` without its warnings. Long because it runs the three stages of a bootstrap
    (checks, resamples, jackknife) with one set of settings; each stage is a short block.
    `units`: (unit_of_row (R,), n_units) made by the caller, for `counts` by the groups of the
    column `unit` (e.g. runs shared with another data set), instead of the column's own codes.
    `series`: with unit "residual", an autoregressive residual bootstrap along series of rows
    (`ar_residual_problems`: a dict of (R,) arrays "first", "count", "innovation", "rho",
    "scale") instead of residuals drawn one row at a time."""
    objective = check_objective(target, residual, loss, delta)
    check_law_and_data(law, data, objective)
    kind, unit_of_row, n_units = resample_units(unit, data) if units is None else ("group", *units)
    drawn = _stratified(strata, law, data, kind, unit_of_row, n_units, key, counts, n_resamples)
    if drawn != (key, counts):  # the strata's resamples, drawn from the key: n_resamples is their count
        key, counts, n_resamples = drawn[0], drawn[1], None
    n_resamples, key_data, counts = _resamples(key, counts, n_resamples, kind, n_units, unit)
    execution = check_execution(solver, batching, batch_size, n_devices, mesh)
    if chunk_size is not None:
        chunk_size = check_positive_int("chunk_size", chunk_size)
    full_fit = _full_fit(law, data, full_fit, objective, execution)
    x0s = _resolve_starts(starts, law, full_fit)
    warm = warm_starts(full_fit)
    if chunk_size is None:
        chunk_size = problems_per_call(len(x0s), len(data), law.n_free, n_slots=execution.batch_size,
                                       mesh=execution.mesh)
    chunk_size = min(chunk_size, n_resamples)
    n_chunks = -(-n_resamples // chunk_size)
    show = (n_chunks > 1 and sys.stderr.isatty()) if progress is None else bool(progress)
    if show:  # calls small enough for a moving bar, large enough to keep every slot busy
        n_slots = execution.batch_size * (1 if execution.mesh is None else execution.mesh.size)
        chunk_size = min(chunk_size, max(-(-n_resamples // 8), -(-4 * n_slots // len(x0s))))

    with x64_scope():
        # Rows padded to their bucket with weight 0 (unit 0: their weight stays 0 in every resample).
        problem = _problem.to_device(padded_problem(_problem.build(law, objective.loss, data, target=target,
                                                                   residual=residual)))
        fitted = _problem.model_at(problem, jnp.asarray(full_fit.theta))
        rows = jnp.asarray(np.concatenate([unit_of_row, np.zeros(len(problem.y) - len(data), unit_of_row.dtype)]))
        along = None if series is None or kind != "residual" else {  # on the device once, for every chunk
            k: jnp.asarray(v, jnp.int32 if k in ("first", "count") else fitted.dtype) for k, v in series.items()}

        def resamples(indices):
            if key_data is None:
                return _given_counts(jnp.asarray(counts)[indices], problem.weight, rows)
            if along is not None:
                return _draw_series(jnp.asarray(key_data), indices, problem, fitted, along)
            return _draw(jnp.asarray(key_data), indices, problem, rows, fitted,
                         unit="residual" if kind == "residual" else "weights", n_units=n_units)

        bar = _progress.bar(f"bootstrap ({len(x0s)} start{'s' if len(x0s) > 1 else ''} each)", show)
        with bar if bar is not None else contextlib.nullcontext():
            task = bar.add_task("bootstrap", total=n_resamples) if bar is not None else None
            # Every call takes `width` problems, so the resamples and the jackknife share one program.
            settings = dict(execution.settings(), width=bucket(chunk_size))
            advance = None if bar is None else (lambda n: bar.advance(task, n))
            if isinstance(starts, str) and starts == "warm":
                out, checked = _warm(x0s, problem, resamples, n_resamples, chunk_size, dict(settings, advance=advance))
            else:
                out, checked = fit_in_chunks(x0s, problem, resamples, n_resamples, chunk_size, **settings,
                                             advance=advance), 0
        jk_units = n_units if jackknife else 0
        if jackknife:  # from the warm starts the resamples needed (all, or the optimum's alone)
            same = len(warm) == len(x0s)  # then with the resamples' program
            jk_size = chunk_size if same else min(jk_units, problems_per_call(
                len(warm), len(data), law.n_free, n_slots=execution.batch_size, mesh=execution.mesh))
            with _progress.status(f"Jackknife: {jk_units} leave-one-out fits", show):
                jack = fit_in_chunks(warm, problem, lambda idx: _leave_one_out(idx, problem.weight, rows), jk_units,
                                     jk_size, n_run_starts=1 if checked else None,
                                     **(settings if same else execution.settings()))
        else:
            jack = {"x": np.zeros((0, 1, law.n_free)), "f": np.zeros((0, 1)), "status": np.zeros((0, 1), np.int32)}
        x0s = x0s[:out["x"].shape[1]]

    jk = take_best(jack, best_start(jack["f"]) if jk_units else np.zeros(0, np.int64))
    result = BootstrapResult(
        fit=full_fit, unit=unit if kind == "group" else kind, n_units=n_units,
        n_configs=distinct_configurations(law, data),
        key=None if key_data is None else read_only(key_data),
        counts=None if counts is None else read_only(counts.astype(np.int64)),
        starts=read_only(x0s), end_params=read_only(out["x"]), objectives=read_only(out["f"]),
        start_status=read_only(out["status"]), n_steps=read_only(out["steps"]),
        jackknife_params=read_only(jk["x"]),
        jackknife_status=read_only(np.where(np.isfinite(jk["f"]), jk["status"], NONFINITE)),
        basins_checked=checked, configurations=configurations_fingerprint(law, data, unit_of_row),
    )
    if result.n_finite == 0:
        raise ConvergenceError(f"None of the {n_resamples} resamples produced a finite fit; check the data and starts.")
    return result


def bootstrap_many(law: Law, datasets, *, n_resamples: int | None = None, key=None, full_fit=None,
                   paired: bool = False, unit: str = "row", strata: str | None = None, starts="warm",
                   target: str = "loss", residual: str = "log", loss="huber", delta: float | None = None,
                   execution: Execution | None = None, progress: bool | None = None, jackknife: bool = True,
                   **legacy) -> list[BootstrapResult]:
    """`jscale.bootstrap` of each of several datasets; a list of BootstrapResults.

    The datasets are fitted together (as `jscale.fit_many`), unless `full_fit` gives their fits,
    and each is bootstrapped with its own key, `jax.random.fold_in(key, k)` for dataset k, so
    `bootstrap(law, datasets[k], key=jax.random.fold_in(key, k))` repeats it alone. (Each
    dataset's resamples form one batched run; the datasets run one after another.) Other
    arguments as in `jscale.bootstrap`, except `counts`. Warns once per kind of finding.

    With `paired=True` (recipes trained on the same configurations), the units are the
    configurations, the distinct values of the law's columns over all datasets: resample b
    draws configurations once, and every dataset's runs of a drawn configuration get its
    multiplicity. Draw b of one dataset then goes with draw b of another (`jscale.compare`
    reports such bootstraps as paired); the results keep the key and their row counts, with
    unit "configuration".
    """
    if isinstance(datasets, ScalingData) or not isinstance(datasets, (list, tuple)) or not datasets:
        raise TypeError("bootstrap_many takes a non-empty list of ScalingData; for one dataset use jscale.bootstrap.")
    if "counts" in legacy:
        raise ValueError("counts= applies to one dataset; bootstrap the datasets one by one to pass explicit counts.")
    if key is None:
        raise TypeError("bootstrap needs key= (an integer seed or a JAX PRNG key).")
    check_n_resamples(n_resamples)  # before the full fits
    base = jax.random.wrap_key_data(jnp.asarray(as_key_data(key)))
    execution = execution_of(execution, legacy, "bootstrap_many")
    options = dict(unit=unit, strata=strata, starts=starts, target=target, residual=residual, loss=loss, delta=delta,
                   progress=progress, jackknife=jackknife, **execution.keywords())
    if paired and (options["unit"] != "row" or options["strata"] is not None):
        raise ValueError("paired=True resamples configurations shared by the datasets; it takes no unit= or strata=.")
    if full_fit is None:
        fitting = ("target", "residual", "loss", "delta", "solver", "batching", "batch_size", "n_devices", "mesh")
        full_fit = fit_list(law, list(datasets), **{k: options[k] for k in fitting})
    if not isinstance(full_fit, (list, tuple)) or len(full_fit) != len(datasets):
        raise ValueError(f"With a list of {len(datasets)} datasets, full_fit must be a list of as many FitResults.")
    if paired:
        results = _paired(law, list(datasets), list(full_fit), check_n_resamples(n_resamples), as_key_data(key),
                          options)
    else:
        results = [resample_fits(law, d, n_resamples=n_resamples, key=jax.random.fold_in(base, k), counts=None,
                                 full_fit=f, **options)
                   for k, (d, f) in enumerate(zip(datasets, full_fit))]
    warn_all(merge([r.diagnostics() for r in results]), stacklevel=2)
    return results


def _configurations(law: Law, datasets: list) -> list[np.ndarray]:
    """Per dataset, the index of every row's configuration (its values of the law's columns) among
    the configurations of all datasets."""
    keys = [list(zip(*(np.asarray(d[c]).tolist() for c in law.columns))) for d in datasets]
    index = {k: i for i, k in enumerate(sorted(set().union(*map(set, keys)), key=repr))}
    return [np.array([index[k] for k in rows], np.int64) for rows in keys]


def _paired(law: Law, datasets: list, fits: list, n_resamples: int, key_data, options: dict) -> list:
    """Bootstraps of several datasets whose resamples draw shared configurations (`paired=True`)."""
    of_row = _configurations(law, datasets)
    n_units = int(max(int(o.max()) for o in of_row) + 1)
    counts = counts_table(key_data, n_resamples, n_units)
    per_set = [counts[:, o] for o in of_row]
    empty = [k for k, c in enumerate(per_set) if np.any(c.sum(axis=1) == 0)]
    if empty:
        raise ValueError(f"paired=True: some resamples draw none of dataset {empty[0]}'s configurations; the datasets "
                         "must share most of their configurations (and have several each) to be paired.")
    results = [resample_fits(law, d, **{**options, "n_resamples": None, "key": None, "counts": c, "full_fit": f})
               for d, c, f in zip(datasets, per_set, fits)]
    return [r.replace(key=read_only(np.asarray(key_data)), unit="configuration") for r in results]
