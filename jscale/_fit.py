"""The public `fit`: validate eagerly in NumPy, enter float64, call one jitted function."""

from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from jscale._batch import (
    METHODS,
    default_batch_size,
    device_mesh,
    problems_per_call,
    run_starts,
)
from jscale._data import ScalingData, closest, weighted_rows
from jscale._diagnostics import (
    diagnose,
    extrapolation,
    summarize,
    warn_many,
)
from jscale._laws import Constrained, Law
from jscale._numerics import read_only, x64_scope
from jscale._objective import resolve_loss
from jscale._results import FitResult
from jscale._solve import SUCCESS, RobustGaussNewton, objective_floor, with_floor
from jscale._uncertainty import curvature_terms, distinct_configurations


class ConvergenceError(RuntimeError):
    """No start produced a finite objective, or `strict=True` and the best start did not converge."""


# Incremented each time a fitting function is traced: one trace per batch shape and setting.
_TRACES = {"fit": 0, "batched": 0}


@functools.partial(jax.jit, static_argnames=("law", "loss", "solver", "method", "batch_size", "mesh"))
def _fit_starts(x0s, problem, *, law, loss, solver, method, batch_size, mesh):
    _TRACES["fit"] += 1
    return run_starts(solver, law, loss, x0s, problem, method=method, batch_size=batch_size, mesh=mesh)


@functools.partial(jax.jit, static_argnames=("law", "loss", "solver", "method", "batch_size", "mesh"))
def _fit_batched(x0s, problem, batched, *, law, loss, solver, method, batch_size, mesh):
    """Every start on every problem of `batched` (leading axis B): outcomes with (B, S) axes."""
    _TRACES["batched"] += 1
    return run_starts(solver, law, loss, x0s, problem, batched=batched, method=method, batch_size=batch_size,
                      mesh=mesh)


@functools.partial(jax.jit, static_argnames=("law", "loss"))
def _curvature_many(thetas, batched, *, law, loss):
    return jax.vmap(lambda t, b: curvature_terms(t, b, law=law, loss=loss))(thetas, batched)


def fit_in_chunks(x0s, problem, batch_of, total: int, size: int, *, advance=None, **settings) -> dict:
    """Outcomes (NumPy, leading (total, S) axes) of `total` batched problems, `size` per jitted
    `_fit_batched` call; the last call is padded by repeating the last problem, so every call has
    one shape. `batch_of(indices)` gives the per-problem arrays of problems `indices` (size,);
    `advance(n)`, if given, is told of every n problems done (a progress bar)."""
    parts = []
    for lo in range(0, total, size):
        hi = min(lo + size, total)
        indices = jnp.asarray(np.minimum(np.arange(lo, lo + size), total - 1))
        out = _fit_batched(jnp.asarray(x0s), problem, batch_of(indices), **settings)
        parts.append(jax.tree.map(lambda a, n=hi - lo: np.asarray(a)[:n], out))
        if advance is not None:
            advance(hi - lo)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _padded_problems(law: Law, datasets: list) -> dict:
    """The datasets' problems stacked along a leading axis, each padded to the longest with rows of
    weight 0 (copies of its first row, so every log stays finite)."""
    size = max(len(d) for d in datasets)

    def pad(a):
        return np.concatenate([a, np.repeat(a[:1], size - len(a))])

    problems = [_problem(law, d) for d in datasets]
    return {
        "log_x": {c: np.stack([pad(p["log_x"][c]) for p in problems]) for c in law.columns},
        "log_loss": np.stack([pad(p["log_loss"]) for p in problems]),
        "weight": np.stack([np.concatenate([p["weight"], np.zeros(size - len(p["weight"]))]) for p in problems]),
    }


def _fit_many(law, datasets, x0s, loss_obj, solver, method, batch_size, mesh, strict):
    """`fit` on a list of datasets: one FitResult each, from one jitted call for all of them (or
    as many calls of equal shape as memory needs, see `problems_per_call`)."""
    padded = _padded_problems(law, datasets)
    n = len(datasets)
    size = min(n, problems_per_call(x0s.shape[0], padded["weight"].shape[1], law.n_free, n_slots=batch_size,
                                    mesh=mesh))
    with x64_scope():
        batched = jax.tree.map(jnp.asarray, padded)
        batched["f_floor"] = jax.vmap(lambda b: objective_floor(loss_obj, b))(batched)
        out = fit_in_chunks(x0s, {}, lambda take: jax.tree.map(lambda a: a[take], batched), n, size, law=law,
                            loss=loss_obj, solver=solver, method=method, batch_size=batch_size, mesh=mesh)
        objectives = np.where(np.isfinite(out["f"]), out["f"], np.inf)
        best = np.argmin(objectives, axis=1)
        thetas = out["x"][np.arange(len(datasets)), best]
        terms = jax.tree.map(np.asarray, _curvature_many(jnp.asarray(thetas), batched, law=law, loss=loss_obj))
        floors = np.asarray(batched["f_floor"])
    x0s.flags.writeable = False
    results, failed = [], []
    for k, data in enumerate(datasets):
        if not np.isfinite(objectives[k]).any():
            raise ConvergenceError(
                f"Dataset {k}: none of the {x0s.shape[0]} starts reached a finite objective; check its data."
            )
        pick = jax.tree.map(lambda a, k=k: read_only(a[k]), out)
        result = FitResult(
            law=law, loss=loss_obj, starts=x0s, end_params=pick["x"], objectives=pick["f"], status=pick["status"],
            n_steps=pick["steps"], best_index=int(best[k]), n_rows=len(data), objective_floor=float(floors[k]),
            curvature=jax.tree.map(lambda a, k=k: read_only(a[k]), terms), n_configs=distinct_configurations(law, data),
            data_summary=summarize(law, data),
        )
        if int(pick["status"][best[k]]) != SUCCESS:
            failed.append(f"{k} ({result.best_status})")
        results.append(result)
    if failed and strict:
        raise ConvergenceError(
            f"The best start did not converge for {len(failed)} of {len(datasets)} datasets: "
            f"{', '.join(failed[:10])}{' ...' if len(failed) > 10 else ''}. Try more starts or a larger solver max_steps."
        )
    warn_many([diagnose(r) for r in results], stacklevel=4)
    return results


def _log_columns(law: Law, data: ScalingData) -> dict:
    """Logs of the columns the law reads, name -> (R,)."""
    return {c: np.log(getattr(data, c)) for c in law.columns}


def _problem(law: Law, data: ScalingData) -> dict:
    """The arrays the kernel reads: logs of the law's columns, log loss and row weights."""
    weight = data.weight if data.weight is not None else np.ones(len(data))
    return {"log_x": _log_columns(law, data), "log_loss": np.log(data.loss), "weight": np.asarray(weight, np.float64)}


def _check_starts(law: Law, starts) -> np.ndarray:
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


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def check_law_and_data(law, data) -> None:
    """Eager checks shared by fit and bootstrap: types, the law's columns, enough rows."""
    if not isinstance(law, Law):
        raise TypeError(f"law must be a jscale law object such as jscale.laws.Chinchilla(); got {type(law).__name__}.")
    if not isinstance(data, ScalingData):
        raise TypeError(
            f"data must be a jscale.ScalingData (build one with ScalingData.from_arrays or from_csv); "
            f"got {type(data).__name__}."
        )
    data.require(*law.columns, who=f"The {law.name} law")
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
            values = np.asarray(getattr(data, c))[used]
            if np.all(values == values[0]):
                which = " of positive weight" if n_used < len(data) else ""
                raise ValueError(
                    f"The {law.name} law needs {c} to vary, but every run{which} "
                    f"has {c} = {values[0]:.6g}, so its terms in {c} cannot be told apart from the rest; add runs "
                    f"with other {c} values, or fix the parameters of {c} with law.fix(...)."
                )


def check_execution(solver, method, batch_size, n_devices, mesh=None):
    """Defaults and eager checks of the execution options; returns solver, method, batch size and
    the device mesh to split the fits over (None: one device)."""
    solver = RobustGaussNewton() if solver is None else solver
    if not (callable(getattr(solver, "init", None)) and callable(getattr(solver, "step", None))):
        raise TypeError(
            f"solver must be a jscale solver such as jscale.RobustGaussNewton() or jscale.LBFGS() (an object "
            f"with init and step, see jscale._solve); got {type(solver).__name__}."
        )
    method = "refill" if method is None else method
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}.")
    if mesh is not None:
        if n_devices is not None:
            raise ValueError("Pass either n_devices (the first n local devices) or mesh, not both.")
        if not isinstance(mesh, jax.sharding.Mesh):
            raise TypeError(f"mesh must be a jax.sharding.Mesh, e.g. jax.make_mesh((jax.device_count(),), "
                            f"('fits',)); got {type(mesh).__name__}.")
        backend = mesh.devices.flat[0].platform
    else:
        available = jax.local_device_count()
        n_devices = available if n_devices is None else _check_positive_int("n_devices", n_devices)
        if n_devices > available:
            raise ValueError(f"n_devices={n_devices} but only {available} local devices exist.")
        mesh = device_mesh(n_devices)
        backend = jax.default_backend()
    batch_size = default_batch_size(backend) if batch_size is None else _check_positive_int("batch_size", batch_size)
    return solver, method, batch_size, mesh if mesh.size > 1 else None


def fit(
    law: Law,
    data: ScalingData,
    *,
    starts=None,
    loss="huber",
    delta: float | None = None,
    solver=None,
    method: str | None = None,
    batch_size: int | None = None,
    n_devices: int | None = None,
    mesh=None,
    strict: bool = False,
) -> FitResult:
    """Fits a scaling law from many starts at once and keeps every start's end state.

    Minimises F(theta) = sum_i w_i rho(log L_i - log_predict_i(theta)) (the **sum**, as in
    Hoffmann et al. 2022 and Besiroglu et al. 2024) from every start in one jitted float64
    computation, whatever the caller's JAX precision setting.

    Args:
        law: a law object, e.g. `jscale.laws.Chinchilla()`.
        data: a `ScalingData` with the columns the law needs (row weights from `data.weight`),
            or a list of them (e.g. `list(data.split("group").values())`): all are then fitted
            in one batched jitted call, each padded to the longest with rows of weight 0, and a
            list of FitResults is returned, one per dataset.
        starts: (S, P) free-space starts (log of positive parameters, see `law.free_names`);
            default: the law's default grid (Hoffmann's 4,500 starts for Chinchilla).
        loss: "huber" (default) or "squared", or a `jscale.Huber` / `jscale.Squared` object.
        delta: Huber threshold on log residuals (default 1e-3).
        solver: the single-fit solver; default `jscale.RobustGaussNewton()`.
        method: how starts are batched: "refill" (default), "vmap" or "map".
        batch_size: slots (refill) or chunk size (map); default per backend (256 on CPU).
        n_devices: local devices to split the fits over; default all local devices. On CPU,
            set `JAX_NUM_CPU_DEVICES=<cores>` before JAX starts to use every core.
        mesh: instead of n_devices, a `jax.sharding.Mesh` whose devices (all axes together)
            split the fits, e.g. `jax.make_mesh((jax.device_count(),), ("fits",))` after
            `jax.distributed.initialize()` to spread one call over every host; every process
            makes the same call and gets the whole result. Each device runs its share on its own
            and every fit's result is bit for bit the same whatever the number of devices.
        strict: raise `ConvergenceError` if the best start did not converge (else a
            `ConvergenceWarning` is issued).

    Warns with every finding of `FitResult.diagnostics()`, one warning class per kind
    (`jscale.ConvergenceWarning`, `StartsWarning`, `BoundWarning`, `CorrelationWarning`,
    `ConfigurationsWarning`, `IrreducibleLossWarning`, `ComputeWarning`, `RepetitionWarning`;
    all subclasses of `jscale.DiagnosticWarning`); for a list of datasets, one warning per kind.

    Returns:
        A `FitResult` (a list of them for a list of datasets).

    Raises:
        TypeError: `law` or `data` of the wrong type.
        ValueError: missing columns, fewer rows than parameters, malformed starts or options.
        ConvergenceError: no start reached a finite objective (or `strict` and no convergence).

    Example:
        >>> import jscale
        >>> data = jscale.datasets.load("chinchilla")
        >>> result = jscale.fit(jscale.laws.Chinchilla(), data)  # doctest: +SKIP
        >>> round(result.params["alpha"], 3)  # doctest: +SKIP
        0.347
    """
    many = isinstance(data, (list, tuple))
    if many:
        if not data:
            raise ValueError("data is an empty list; pass one ScalingData or a list of them.")
        for k, d in enumerate(data):
            try:
                check_law_and_data(law, d)
            except (TypeError, ValueError) as err:
                raise type(err)(f"data[{k}]: {err}") from None
    else:
        check_law_and_data(law, data)
    loss_obj = resolve_loss(loss, delta)
    x0s = _check_starts(law, starts)
    solver, method, batch_size, mesh = check_execution(solver, method, batch_size, n_devices, mesh)
    if many:
        return _fit_many(law, list(data), x0s, loss_obj, solver, method, batch_size, mesh, strict)

    with x64_scope():
        problem = with_floor(loss_obj, jax.tree.map(jnp.asarray, _problem(law, data)))
        out = _fit_starts(
            jnp.asarray(x0s), problem, law=law, loss=loss_obj, solver=solver, method=method,
            batch_size=batch_size, mesh=mesh,
        )
        out = jax.tree.map(read_only, out)
        floor = float(problem["f_floor"])

    x0s.flags.writeable = False
    objectives = np.where(np.isfinite(out["f"]), out["f"], np.inf)
    if not np.isfinite(objectives).any():
        raise ConvergenceError(
            f"None of the {len(objectives)} starts reached a finite objective; check the data and the starts."
        )
    best = int(np.argmin(objectives))
    with x64_scope():
        terms = curvature_terms(jnp.asarray(out["x"][best]), problem, law=law, loss=loss_obj)
        terms = jax.tree.map(read_only, terms)
    result = FitResult(
        law=law, loss=loss_obj, starts=x0s, end_params=out["x"], objectives=out["f"], status=out["status"],
        n_steps=out["steps"], best_index=best, n_rows=len(data), objective_floor=floor, curvature=terms,
        n_configs=distinct_configurations(law, data), data_summary=summarize(law, data),
    )
    found = diagnose(result)
    if strict and found and found[0].kind == "convergence":
        raise ConvergenceError(found[0].message)
    for d in found:
        d.warn(stacklevel=2)
    return result


def prediction_columns(law: Law, data=None, *, summary=None, stacklevel: int = 2, **columns) -> dict:
    """Logs of the law's columns (name -> (R,)) from a ScalingData or keyword arrays, validated.

    With the fitted data's `summary` (a `DataSummary`), points outside it warn with
    `ExtrapolationWarning` (`stacklevel` as in `warnings.warn`, counted from this function)."""
    if data is not None and columns:
        raise ValueError("Pass either a ScalingData or keyword columns to predict, not both.")
    if data is None:
        if not columns:
            raise ValueError(f"predict needs data: a ScalingData or the columns {', '.join(law.columns)} as keywords.")
        unknown = sorted(set(columns) - set(law.columns))
        if unknown:
            raise ValueError(f"The {law.name} law reads {', '.join(law.columns)}; got unexpected {', '.join(unknown)}"
                             f"{closest(unknown[0], law.columns)}.")
        arrays = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in columns.items()}
        lengths = {k: len(v) for k, v in arrays.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(
                "predict columns have mismatched lengths: " + ", ".join(f"{k} has {n}" for k, n in lengths.items()) + "."
            )
        data = ScalingData.from_arrays(**arrays, loss=np.ones(next(iter(lengths.values()))))
    elif not isinstance(data, ScalingData):
        raise TypeError(
            f"predict takes a ScalingData or keyword columns (e.g. n_params=..., n_tokens=...); got {type(data).__name__}."
        )
    data.require(*law.columns, who=f"The {law.name} law")
    found = extrapolation(summary, law, {c: getattr(data, c) for c in law.columns})
    if found is not None:
        found.warn(stacklevel=stacklevel)
    return _log_columns(law, data)


def predict(law: Law, free_params, data=None, *, summary=None, **columns) -> np.ndarray:
    """Loss predicted by `law` at free parameters `free_params` (P,), for data or keyword columns."""
    log_x = prediction_columns(law, data, summary=summary, stacklevel=4, **columns)
    with x64_scope():
        out = law.log_predict(jnp.asarray(free_params, jnp.float64), jax.tree.map(jnp.asarray, log_x))
        return np.exp(np.asarray(out))
