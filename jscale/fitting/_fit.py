"""The public `fit` and `fit_many`: validate eagerly in NumPy, enter float64, call the batching layer.

A single dataset is a list of one inside: both go through `fit_datasets`, which builds each
dataset's `Problem` once, runs every start on every problem (`jscale.engine._batch.fit_problems`),
picks the best start (`best_start`) and makes one `FitResult` per dataset.
"""

from __future__ import annotations

import json
import numbers
from typing import NamedTuple

import jax
import numpy as np

from jscale.base import _progress
from jscale.base._numerics import read_only, x64_scope
from jscale.base._warnings import ConvergenceError, warn_all
from jscale.data._data import ScalingData, check_column, weighted_rows
from jscale.engine import _batch, _problem
from jscale.engine._execution import Execution, execution_of
from jscale.engine._solve import NONFINITE, SUCCESS, RobustGaussNewton
from jscale.inference._diagnostics import merge, summarize
from jscale.inference._results import FitResult
from jscale.inference._uncertainty import distinct_configurations
from jscale.laws._laws import BUILT_IN, Constrained, Law
from jscale.losses._losses import resolve_loss

# The options of a `jscale.Execution` a fit of one or several datasets uses (chunk_size is a bootstrap's).
FIT_OPTIONS = ("solver", "batching", "batch_size", "n_devices", "mesh")


class Resolved(NamedTuple):
    """How the fits run, every default filled in: the solver, the batching strategy, its slots and the
    device mesh."""

    solver: object
    batching: str
    batch_size: int
    mesh: object

    def settings(self) -> dict:
        return self._asdict()


class Objective(NamedTuple):
    """What a fit minimises: the fitted column, the residual kind and the loss object."""

    target: str
    residual: str
    loss: object


def check_starts(law: Law, starts) -> np.ndarray:
    """Free-space starts (S, P) as a float64 copy: the law's default grid, or the array given."""
    if starts is None:
        return np.asarray(law.default_starts(), np.float64)
    try:
        x0s = np.array(starts, dtype=np.float64)  # a copy: the result must not alias the caller's array
    except (TypeError, ValueError):
        raise ValueError(
            f"starts must be a numeric array of shape (S, {law.n_free}); got {type(starts).__name__} {starts!r:.60}."
        ) from None
    if x0s.ndim == 1:
        x0s = x0s[None, :]
    if x0s.ndim != 2 or x0s.shape[1] != law.n_free or x0s.shape[0] == 0:
        raise ValueError(
            f"starts must have shape (S, {law.n_free}) in the free parametrisation "
            f"({', '.join(law.free_names)}); got shape {np.shape(starts)}."
        )
    bad = ~np.all(np.isfinite(x0s), axis=1)
    if bad.any():
        first = int(np.argmax(bad))
        n_bad = int(bad.sum())
        raise ValueError(
            f"starts has {n_bad} row{'s' if n_bad > 1 else ''} with NaN or infinite values; the first is row {first}."
        )
    return x0s


def starts_notes(law: Law, starts) -> tuple:
    """The law's note on its default starts (e.g. that they are a subset), where they are used."""
    note = law.starts_note() if starts is None else ""
    return (note,) if note else ()


def check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def check_objective(target, residual, loss, delta) -> Objective:
    return Objective(target, _problem.check_residual(residual), resolve_loss(loss, delta))


def check_law_and_data(law, data, objective: Objective | None = None) -> None:
    """Eager checks shared by fit and bootstrap: types, the law's columns and the target, enough rows."""
    objective = objective or Objective("loss", "log", None)
    if isinstance(law, (list, tuple)) and law and all(isinstance(x, Law) for x in law):
        raise TypeError("This takes one law; to weigh several candidate forms against each other, bootstrap them "
                        "together: jscale.bootstrap_forms([law, other, ...], data, key=0).")
    if not isinstance(law, Law):
        raise TypeError(f"law must be a jscale law object such as jscale.laws.Chinchilla(); got {type(law).__name__}.")
    if not isinstance(data, ScalingData):
        raise TypeError(
            f"data must be a jscale.ScalingData (build one with ScalingData.from_arrays or from_csv); "
            f"got {type(data).__name__}."
        )
    who = f"The {law.name} law"
    data.require(*law.columns, who=who)
    for c in law.columns:
        if c in law.log_columns or c not in data.categorical:
            check_column(data, c, positive=c in law.log_columns, who=who)
    law.check_data(data)
    if objective.target in law.columns:
        raise ValueError(f"target={objective.target!r} is a column the {law.name} law reads "
                         f"({', '.join(law.columns)}); the target is the column it predicts (e.g. 'loss').")
    _problem.check_target(data, objective.target, objective.residual)
    if not isinstance(law.base if isinstance(law, Constrained) else law, BUILT_IN):
        _problem.check_law_function(law, data, objective.residual)
    used = weighted_rows(data)
    n_used = int(used.sum())
    if n_used < law.n_free:
        weighted = "" if n_used == len(data) else f" of positive weight (of {len(data)})"
        raise ValueError(
            f"The {law.name} law has {law.n_free} parameters but the data has only {n_used} rows{weighted}; "
            f"a fit needs at least as many rows as parameters."
        )
    if not isinstance(law, Constrained):
        # A law's exponent of a column cannot be fitted where that column never varies.
        for c in law.columns:
            values = np.asarray(data[c])[used]
            if np.all(values == values[0]):
                which = " of positive weight" if n_used < len(data) else ""
                shown = f"{values[0]:.6g}" if c not in data.categorical else repr(values[0])
                raise ValueError(
                    f"The {law.name} law needs {c} to vary, but every run{which} "
                    f"has {c} = {shown}, so its terms in {c} cannot be told apart from the rest; add runs "
                    f"with other {c} values, or fix the parameters of {c} with law.fix(...)."
                )


def check_execution(solver, batching, batch_size, n_devices, mesh=None) -> Resolved:
    """Defaults and eager checks of the execution options (mesh None: one device)."""
    solver = RobustGaussNewton() if solver is None else solver
    if not (callable(getattr(solver, "init", None)) and callable(getattr(solver, "step", None))):
        raise TypeError(
            f"solver must be a jscale solver such as jscale.solvers.RobustGaussNewton() or jscale.solvers.LBFGS() "
            f"(an object with init and step, see jscale.engine._solve); got {type(solver).__name__}."
        )
    batching = "refill" if batching is None else batching
    if batching not in _batch.BATCHING:
        raise ValueError(f"batching must be one of {', '.join(_batch.BATCHING)}; got {batching!r}.")
    if mesh is not None:
        if n_devices is not None:
            raise ValueError("Pass either n_devices (the first n local devices) or mesh, not both.")
        if not isinstance(mesh, jax.sharding.Mesh):
            raise TypeError(f"mesh must be a jax.sharding.Mesh, e.g. jax.make_mesh((jax.device_count(),), "
                            f"('fits',)); got {type(mesh).__name__}.")
        backend = mesh.devices.flat[0].platform
    else:
        available = jax.local_device_count()
        n_devices = available if n_devices is None else check_positive_int("n_devices", n_devices)
        if n_devices > available:
            raise ValueError(f"n_devices={n_devices} but only {available} local devices exist.")
        mesh = _batch.device_mesh(n_devices)
        backend = jax.default_backend()
    batch_size = _batch.default_batch_size(backend) if batch_size is None else check_positive_int("batch_size",
                                                                                                  batch_size)
    return Resolved(solver, batching, batch_size, mesh if mesh.size > 1 else None)


def fit_datasets(law, datasets: list, x0s, objective: Objective, execution: Resolved,
                 notes: tuple = ()) -> list[FitResult]:
    """One FitResult per dataset (validated), from one batched run of every start on every dataset;
    `notes` go into every result."""
    target, residual, loss = objective
    problems = [_problem.build(law, loss, d, target=target, residual=residual) for d in datasets]
    with x64_scope():
        out = _batch.fit_problems(x0s, problems, **execution.settings())
        # An end point whose parameters overflow in natural units (e.g. A = exp(1000)) is no usable fit,
        # whatever its objective: it counts as non-finite.
        usable = np.all(np.isfinite(np.asarray(law.to_natural(out["x"]))), axis=-1)
        out = {**out, "f": np.where(usable, out["f"], np.inf), "status": np.where(usable, out["status"], NONFINITE)}
        best = _batch.best_start(out["f"])
        terms = _batch.curvature(_batch.take_best(out, best)["x"], problems)
    x0s = read_only(x0s)
    results = []
    for k, data in enumerate(datasets):
        if not np.isfinite(out["f"][k]).any():
            where = f"Dataset {k}: n" if len(datasets) > 1 else "N"
            raise ConvergenceError(f"{where}one of the {x0s.shape[0]} starts reached a finite objective. "
                                   + _why_not_finite(law, problems[k], x0s[0]))
        results.append(FitResult(
            law=law, loss_function=loss, target=target, residual=residual, starts=x0s,
            end_params=read_only(out["x"][k]),
            objectives=read_only(out["f"][k]), status=read_only(out["status"][k]), n_steps=read_only(out["steps"][k]),
            best_index=int(best[k]), n_rows=len(data), objective_floor=float(problems[k].floor),
            curvature=jax.tree.map(read_only, terms[k]), n_configs=distinct_configurations(law, data),
            data_summary=summarize(law, data, target), data_source=_source_of(data), notes=tuple(notes),
        ))
    return results


def _why_not_finite(law, problem, x0) -> str:
    """Where the law is not finite at the first start, for the error of a fit that found nothing."""
    with x64_scope():
        pred = np.asarray(_problem.model_at(problem, jax.numpy.asarray(x0)))
    natural = ", ".join(f"{n}={v:.3g}" for n, v in zip(law.param_names, np.asarray(law.to_natural(np.asarray(x0)))))
    bad = ~np.isfinite(pred[: len(problem.y)])
    if bad.any():
        return (f"At the first start ({natural}) the law's prediction is NaN or infinite at {int(bad.sum())} of "
                f"{bad.size} rows (first: row {int(np.argmax(bad))}): check that the law is defined there (no log, "
                "root or fractional power of a negative number, no division by zero) and that its starts are in range.")
    return (f"The law is finite at the first start ({natural}) but every fit diverged: check the starts "
            "(starts=, or the starts of its parameters) and the scale of the data.")


def _source_of(data: ScalingData) -> str:
    """The data's source (JSON) with its row count and fingerprint; "" for data from arrays."""
    if not data.source:
        return ""
    return json.dumps({**json.loads(data.source), "rows": len(data), "fingerprint": data.fingerprint()})


def _strict(results: list) -> None:
    failed = [f"{k} ({r.best_status})" for k, r in enumerate(results) if int(r.status[r.best_index]) != SUCCESS
              and any(d.kind == "convergence" for d in r.diagnostics())]
    if not failed:
        return
    if len(results) == 1:
        raise ConvergenceError(results[0].diagnostics()[0].message)
    raise ConvergenceError(
        f"The best start did not converge for {len(failed)} of {len(results)} datasets: "
        f"{', '.join(failed[:10])}{' ...' if len(failed) > 10 else ''}. Try more starts or a larger solver max_steps."
    )


def fit_list(law, datasets, *, target="loss", residual="log", starts=None, loss="huber", delta=None, solver=None,
             batching=None, batch_size=None, n_devices=None, mesh=None, strict=False,
             progress=False) -> list[FitResult]:
    """`fit_many` without its warnings: every argument checked, then one FitResult per dataset."""
    objective = check_objective(target, residual, loss, delta)
    for k, d in enumerate(datasets):
        try:
            check_law_and_data(law, d, objective)
        except (TypeError, ValueError) as err:
            raise type(err)(f"data[{k}]: {err}" if len(datasets) > 1 else str(err)) from None
    execution = check_execution(solver, batching, batch_size, n_devices, mesh)
    x0s = check_starts(law, starts)
    with _progress.status(_describe(x0s, datasets, execution), bool(progress)):
        results = fit_datasets(law, list(datasets), x0s, objective, execution, starts_notes(law, starts))
    if strict:
        _strict(results)
    return results


def _describe(x0s, datasets, execution) -> str:
    """'Fitting 4500 starts to 240 rows on 2 cpu devices', for the progress line."""
    devices = 1 if execution.mesh is None else execution.mesh.size
    platform = jax.default_backend() if execution.mesh is None else execution.mesh.devices.flat[0].platform
    rows = f"{len(datasets[0])} rows" if len(datasets) == 1 else f"{len(datasets)} datasets"
    return (f"Fitting {len(x0s):,} start{'s' if len(x0s) > 1 else ''} to {rows} on {devices} {platform} "
            f"device{'s' if devices > 1 else ''} (compiling on first use)")


def fit(law: Law, data: ScalingData, *, target: str = "loss", residual: str = "log", starts=None, loss="huber",
        delta: float | None = None, execution: Execution | None = None, strict: bool = False,
        progress: bool | None = None, **legacy) -> FitResult:
    """Fits a scaling law from many starts at once and keeps every start's end state.

    Minimises F(theta) = sum_i w_i rho(r_i) (the **sum**, as in Hoffmann et al. 2022 and Besiroglu
    et al. 2024) from every start in one jitted float64 computation, whatever the caller's JAX
    precision setting. The residual r_i is log y_i - log f(x_i; theta) (`residual="log"`) or
    y_i - f(x_i; theta) (`residual="raw"`), y the `target` column and f the law.

    Args:
        law: a law object, e.g. `jscale.laws.Chinchilla()` or a `jscale.laws.custom` law.
        data: a `ScalingData` with the columns the law reads and the target (row weights from
            `data.weight`). For several datasets at once, see `jscale.fit_many`.
        target: the fitted column (default "loss"): e.g. an accuracy or error column.
        residual: "log" (default; residuals of log values, the target must be positive) or "raw".
        starts: (S, P) free-space starts (log of positive parameters, see `law.free_names`);
            default: the law's default grid (Hoffmann's 4,500 starts for Chinchilla).
        loss: "huber" (default), "squared", "asymmetric" or a loss object from `jscale.losses`
            (or your own, following the protocol documented there).
        delta: Huber threshold in units of the residual (default 1e-3), with a loss name.
        execution: how the fits run, a `jscale.Execution` (solver, batching, batch_size,
            n_devices or mesh): e.g. `jscale.Execution(n_devices=1)` for the first device only.
            On CPU, set `JAX_NUM_CPU_DEVICES=<cores>` before JAX starts to use every core; a
            mesh such as `jax.make_mesh((jax.device_count(),), ("fits",))` after
            `jax.distributed.initialize()` spreads one call over every host (every process makes
            the same call and gets the whole result). Every fit's result is bit for bit the same
            whatever the number of devices. (The separate keywords solver=, batching=, ... still
            work, with a DeprecationWarning, until 0.4.0.)
        strict: raise `ConvergenceError` if the best start did not converge (else a
            `ConvergenceWarning` is issued).
        progress: say on stderr what is being fitted and how long it took (default: silent).

    Warns once with every finding of `FitResult.diagnostics()`, one warning class per kind, all
    subclasses of `jscale.warnings.DiagnosticWarning`.

    Returns:
        A `FitResult`.

    Raises:
        TypeError: `law` or `data` of the wrong type (a list: use `jscale.fit_many`).
        ValueError: missing columns, fewer rows than parameters, malformed starts or options.
        ConvergenceError: no start reached a finite objective (or `strict` and no convergence).

    Example:
        >>> import jscale
        >>> data = jscale.datasets.load("chinchilla")
        >>> result = jscale.fit(jscale.laws.Chinchilla(), data)  # doctest: +SKIP
        >>> round(result.params["alpha"], 3)  # doctest: +SKIP
        0.347
    """
    if isinstance(data, (list, tuple)):
        raise TypeError("fit takes one ScalingData; to fit a list of datasets in one batched call use "
                        "jscale.fit_many(law, datasets).")
    execution = execution_of(execution, legacy, "fit")
    (result,) = fit_list(law, [data], target=target, residual=residual, starts=starts, loss=loss, delta=delta,
                         strict=strict, progress=progress, **execution.keywords(*FIT_OPTIONS))
    warn_all(result.diagnostics(), stacklevel=2)
    return result


def fit_many(law: Law, datasets, *, target: str = "loss", residual: str = "log", starts=None, loss="huber",
             delta: float | None = None, execution: Execution | None = None, strict: bool = False,
             progress: bool | None = None, **legacy) -> list[FitResult]:
    """Fits one law to each of several datasets in one batched jitted call; a list of FitResults.

    Every dataset is padded to the longest with rows of weight 0, and every start runs on every
    dataset (in as many calls of one shape as memory needs). Each result equals that of
    `jscale.fit` on its dataset alone. Arguments as in `jscale.fit`; `datasets` is a list of
    `ScalingData`, e.g. `list(data.split("group").values())`. Warns once per kind of finding,
    naming the datasets.

    Example:
        >>> import jscale
        >>> groups = jscale.datasets.load("chinchilla").split("n_params")  # doctest: +SKIP
    """
    if isinstance(datasets, ScalingData) or not isinstance(datasets, (list, tuple)) or not datasets:
        raise TypeError("fit_many takes a non-empty list of ScalingData; for one dataset use jscale.fit.")
    execution = execution_of(execution, legacy, "fit_many")
    results = fit_list(law, list(datasets), target=target, residual=residual, starts=starts, loss=loss, delta=delta,
                       strict=strict, progress=progress, **execution.keywords(*FIT_OPTIONS))
    warn_all(merge([r.diagnostics() for r in results]), stacklevel=2)
    return results
