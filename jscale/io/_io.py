"""Saving and loading results: a versioned msgpack file through `flax.serialization`.

The file (format version 3) holds {"meta": header, "sha256": ..., "body": bytes}: the header
names the format, its version, the jscale version and the kind of result; `body` is the msgpack
of {"meta": ..., "state": ...} and `sha256` its checksum. The inner `meta` adds the law and the
loss (rebuilt on load) and the result's static settings; `state` holds its arrays (float64
kept). Versions 1 and 2 (no checksum, the inner dict at the top) still load. A custom law's
function cannot be stored: `load(path, law=...)` takes it back, checked against the stored
parameter names, columns and domains. Whatever is read is checked against the rules of its
container (`check`) before it is returned. Saving writes a temporary file beside the target and
renames it, so an interrupted save never leaves a broken file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import socket
import stat
import tempfile
import warnings
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from flax import serialization

from jscale.base._files import abandoned
from jscale.base._numerics import read_only, x64_scope
from jscale.base._version import __version__
from jscale.decisions._twostage import TwoStage
from jscale.engine._batch import best_start
from jscale.engine._solve import STATUS_NAMES, SUCCESS
from jscale.inference._diagnostics import DataSummary
from jscale.inference._results import BootstrapResult, FitResult
from jscale.laws import _laws
from jscale.losses._losses import LOSSES
from jscale.selection._backtest import TrendTest
from jscale.selection._forms import SCORES, Ensemble
from jscale.sweeps._envelope import EnvelopeResult
from jscale.sweeps._hyper import HyperResult
from jscale.sweeps._isoflop import IsoFLOPResult

FORMAT = "jscale-result"
VERSION = 3
# The result containers a file can hold, by class name. Their fields are saved as they are
# declared: pytree fields as arrays (nested results recursively), static fields in `meta`.
RESULTS = {cls.__name__: cls for cls in (FitResult, BootstrapResult, IsoFLOPResult, EnvelopeResult, TwoStage,
                                         HyperResult)}
_BUILT_IN = {name: cls for name, cls in _laws.LAWS.items() if name not in ("Custom", "Constrained", "Shared")}


class LawMismatch(ValueError):
    """The law passed to `load` (or its absence) does not fit the file's custom law."""


def _law_spec(law) -> dict:
    if isinstance(law, _laws.Constrained):
        return {"class": "Constrained", "base": _law_spec(law.base), "fixed": [list(p) for p in law.fixed],
                "tied": [list(p) for p in law.tied], "limits": [[k, list(b)] for k, b in law.limits]}
    if isinstance(law, _laws.Shared):
        return {"class": "Shared", "base": _law_spec(law.base), "by": law.by, "labels": list(law.labels),
                "shared": list(law.shared)}
    name = type(law).__name__
    if _BUILT_IN.get(name) is type(law):
        fields = {f.name: getattr(law, f.name) for f in dataclasses.fields(law)}
        return {"class": name, "fields": {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}}
    # A custom law, or a Law subclass of the user's: its function cannot be stored, so load takes
    # it back (law=) and checks it against what is stored here, free parametrisation included
    # (a parameter "positive" is stored as its log, one with domain (0, inf) as itself).
    return {"class": "Custom" if isinstance(law, _laws.Custom) else "Unregistered", "type": name, "name": law.name,
            "params": list(law.param_names), "columns": list(law.columns), "bounds": [list(b) for b in law.bounds],
            "free": list(law.free_names)}


def _law_from(spec: dict, law):
    if spec["class"] == "Constrained":
        base = _law_from(spec["base"], law.base if isinstance(law, _laws.Constrained) else law)
        return _laws.Constrained(base=base, fixed=tuple((k, float(v)) for k, v in spec["fixed"]),
                                 tied=tuple((k, v) for k, v in spec["tied"]),
                                 limits=tuple((k, (float(b[0]), float(b[1]))) for k, b in spec.get("limits", ())))
    if spec["class"] == "Shared":
        base = _law_from(spec["base"], law.base if isinstance(law, _laws.Shared) else law)
        return _laws.Shared(base=base, by=str(spec["by"]), labels=tuple(str(v) for v in spec["labels"]),
                            shared=tuple(str(v) for v in spec["shared"]))
    if spec["class"] in ("Custom", "Unregistered"):
        if law is None:
            raise LawMismatch(
                f"This file holds a result of the custom law {spec['name']!r}, whose function cannot be stored; "
                "pass the law again: jscale.load(path, law=my_law)."
            )
        stored = (spec.get("type", type(law).__name__), spec["params"], spec["columns"])
        given = (type(law).__name__, list(law.param_names), list(law.columns))
        bounds, free = [list(b) for b in law.bounds], list(law.free_names)
        if (stored != given or ("bounds" in spec and spec["bounds"] != bounds)
                or ("free" in spec and spec["free"] != free)):
            raise LawMismatch(
                f"law= is a {given[0]} with parameters {given[1]}, columns {given[2]} and domains {bounds} (fitted "
                f"as {free}); the file's law {spec['name']!r} is a {stored[0]} with {stored[1]}, {stored[2]} and "
                f"{spec.get('bounds')} (fitted as {spec.get('free', '?')}). Pass the law the result was fitted with."
            )
        return law
    if spec["class"] not in _BUILT_IN:
        raise ValueError(f"The file names an unknown law class {spec['class']!r}; is it from a newer jscale?")
    fields = dict(spec.get("fields", {}))
    if spec["class"] == "SigmoidLink":  # files from before metric_range existed: unbounded floor and ceiling
        fields.setdefault("metric_range", None)
    return _BUILT_IN[spec["class"]](**fields)


def _loss_spec(loss) -> dict:
    name = type(loss).__name__
    if LOSSES.get(name) is not type(loss):
        raise ValueError(f"Only results fitted with a loss of jscale.losses ({', '.join(LOSSES)}) can be saved; "
                         f"got {loss!r}.")
    return {"class": name, "fields": dataclasses.asdict(loss)}


def _loss_from(spec: dict):
    if spec["class"] not in LOSSES:
        raise ValueError(f"The file names an unknown loss {spec['class']!r}; is it from a newer jscale?")
    fields = spec.get("fields", {k: v for k, v in spec.items() if k != "class"})  # version 1: fields inline
    return LOSSES[spec["class"]](**fields)


def _encode_static(value):
    if isinstance(value, _laws.Law):
        return {"__law__": _law_spec(value)}
    if isinstance(value, DataSummary):
        return {"__data_summary__": value.to_dict()}
    if all(callable(getattr(value, m, None)) for m in ("rho", "irls_weight", "curvature")):
        return {"__loss__": _loss_spec(value)}
    if isinstance(value, tuple):  # msgpack knows lists only
        return {"__tuple__": [_encode_static(v) for v in value]}
    return value


def _decode_static(value, law):
    if isinstance(value, dict):
        if "__law__" in value:
            return _law_from(value["__law__"], law)
        if "__loss__" in value:
            return _loss_from(value["__loss__"])
        if "__data_summary__" in value:
            return DataSummary.from_dict(value["__data_summary__"])
        if "__tuple__" in value:
            return tuple(_decode_static(v, law) for v in value["__tuple__"])
    return value


def _runs_user_code(law) -> bool:
    """Whether the law (or the law it constrains or shares) is a custom law or a user's class."""
    while isinstance(law, (_laws.Constrained, _laws.Shared)):
        law = law.base
    return _BUILT_IN.get(type(law).__name__) is not type(law)


# A fit of a custom law records the law's values at its best parameters on this many points
# spanning the fitted columns: `load` recomputes them with the law it is given (a function
# cannot be stored), so a different function with the same names and domains is refused.
_PROBE_POINTS = 7


def _probe_inputs(law, summary: DataSummary) -> dict:
    """Points spanning every column the law reads (natural units; categorical ones as codes)."""
    out = {}
    for c in law.columns:
        levels, span = summary.levels_of(c), summary.range_of(c)
        if levels is not None:
            out[c] = np.arange(_PROBE_POINTS, dtype=np.int32) % max(len(levels), 1)
        elif span is not None and span[0] > 0:
            out[c] = np.geomspace(span[0], span[1], _PROBE_POINTS)
        elif span is not None:
            out[c] = np.linspace(span[0], span[1], _PROBE_POINTS)
        else:
            raise KeyError(c)
    return out


def _probe(fit: FitResult) -> list:
    """The law's values at the fit's best parameters on `_probe_inputs` (float64)."""
    with x64_scope():
        x = fit.law.inputs({c: jnp.asarray(v) for c, v in _probe_inputs(fit.law, fit.data_summary).items()})
        return [float(v) for v in np.asarray(fit.law.predict(jnp.asarray(fit.theta), x))]


def _check_probe(fit: FitResult, stored) -> None:
    """Refuses law= when it computes other values than the saved law at the same parameters."""
    values = np.asarray(_probe(fit), np.float64)
    stored = np.asarray(stored, np.float64)
    if values.shape != stored.shape or not np.allclose(values, stored, rtol=1e-7, atol=1e-12, equal_nan=True):
        raise LawMismatch(
            f"law= has the parameters, columns and domains of the file's law {fit.law.name!r} but computes other "
            f"values at the saved parameters (e.g. {values.flat[0]:.6g} where the saved law gave "
            f"{stored.flat[0]:.6g}): it is another function. Pass the law the result was fitted with."
        )


def _encode(result) -> tuple[dict, dict]:
    """(state, static) of a result container, field by field as the container declares them."""
    state, static = {}, {}
    if isinstance(result, FitResult) and _runs_user_code(result.law):
        with contextlib.suppress(Exception):  # a law that cannot be probed is saved as before, unprobed
            static["__probe__"] = _probe(result)
    for f in dataclasses.fields(result):
        value = getattr(result, f.name)
        if not f.metadata.get("pytree_node", True):
            static[f.name] = _encode_static(value)
        elif type(value).__name__ in RESULTS:
            state[f.name], nested = _encode(value)
            static[f.name] = {"__result__": type(value).__name__, "static": nested}
        elif isinstance(value, dict):
            state[f.name] = {k: np.asarray(v) for k, v in value.items()}
        elif value is not None:
            state[f.name] = np.asarray(value)
    return state, static


# Fields renamed since files were first written: (container, field) -> its name in older files.
_FORMER_NAMES = {("IsoFLOPResult", "draw_ok"): "usable", ("FitResult", "loss_function"): "loss"}


def _decode(cls, state: dict, static: dict, law):
    """A result container from (state, static); a field missing from the file takes its default."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        pytree = f.metadata.get("pytree_node", True)
        former, stored = _FORMER_NAMES.get((cls.__name__, f.name)), state if pytree else static
        if former is not None and former in stored:
            stored[f.name] = stored.pop(former)
        nested = static.get(f.name) if pytree else None
        if f.name not in (state if pytree else static) and nested is None:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise KeyError(f.name)
            continue
        if isinstance(nested, dict) and "__result__" in nested:
            kwargs[f.name] = _decode(RESULTS[nested["__result__"]], state[f.name], nested["static"], law)
        elif not pytree:
            kwargs[f.name] = _decode_static(static[f.name], law)
        elif isinstance(state[f.name], dict):
            kwargs[f.name] = {k: read_only(v) for k, v in state[f.name].items()}
        else:
            kwargs[f.name] = read_only(state[f.name])
    result = cls(**kwargs)
    if "__probe__" in static:
        _check_probe(result, static["__probe__"])
    return result


# An Ensemble of several forms: its members and training bootstraps are saved as nested results,
# one per form (each with its own law); its form tests as plain tables.
_ENSEMBLE_ARRAYS = ("held", "scores", "weights", "point_scores", "point_weights", "held_rmse", "prior", "charges")


def _encode_test(test):
    return None if test is None else {"kind": test.kind, "effect": [float(e) for e in test.effect],
                                      "statistic": float(test.statistic), "dof": int(test.dof),
                                      "p_value": float(test.p_value), "fires": bool(test.fires)}


def _decode_test(spec):
    if spec is None:
        return None
    return TrendTest(kind=str(spec["kind"]), effect=tuple(float(e) for e in spec["effect"]),
                     statistic=float(spec["statistic"]), dof=int(spec["dof"]), p_value=float(spec["p_value"]),
                     fires=bool(spec["fires"]))


def _encode_ensemble(ens: Ensemble) -> tuple[dict, dict]:
    state = {name: np.asarray(getattr(ens, name)) for name in _ENSEMBLE_ARRAYS}
    static = {"forms": list(ens.forms), "by": ens.by, "cutoff": float(ens.cutoff), "score": ens.score,
              "trends": [_encode_test(t) for t in ens.trends], "residuals": [_encode_test(t) for t in ens.residuals]}
    for group in ("members", "held_out"):
        encoded = [_encode(boot) for boot in getattr(ens, group)]
        state[group] = {str(k): s for k, (s, _) in enumerate(encoded)}
        static[group] = [nested for _, nested in encoded]
    return state, static


def _decode_ensemble(state: dict, static: dict, law) -> Ensemble:
    forms = [str(f) for f in static["forms"]]
    if law is None:
        laws = [None] * len(forms)
    elif isinstance(law, (list, tuple)) and len(law) == len(forms):
        laws = list(law)
    else:
        raise LawMismatch(f"This file holds {len(forms)} forms ({', '.join(forms)}); pass law= as a list of "
                          f"{len(forms)} entries, the law of each custom form and None for the built-in ones.")
    groups = {group: tuple(_decode(BootstrapResult, state[group][str(k)], static[group][k], laws[k])
                           for k in range(len(forms))) for group in ("members", "held_out")}
    # files written before score= existed (up to commit b3521d5) scored by the held-out runs alone
    state = {"charges": np.zeros(len(forms)), **state}
    return Ensemble(forms=tuple(forms), by=str(static["by"]), cutoff=float(static["cutoff"]),
                    score=str(static.get("score", "held-out")),
                    trends=tuple(_decode_test(t) for t in static["trends"]),
                    residuals=tuple(_decode_test(t) for t in static["residuals"]), **groups,
                    **{name: read_only(np.asarray(state[name])) for name in _ENSEMBLE_ARRAYS})


def _upgrade_v1(kind: str, static: dict) -> dict:
    """Static settings of a version-1 file (hand-written field lists) in the version-2 layout."""
    def fit(s):
        s = dict(s)
        s["law"], s["loss"] = {"__law__": s["law"]}, {"__loss__": s["loss"]}
        if "data_summary" in s:
            s["data_summary"] = {"__data_summary__": s["data_summary"]}
        return s

    if kind == "FitResult":
        return fit(static)
    return {**static, "fit": {"__result__": "FitResult", "static": fit(static["fit"])}}


# --- integrity: what a result must satisfy to be loaded ---------------------------------------------


class _Invalid(Exception):
    """A loaded result breaks one of the rules below (turned into a ValueError naming the file)."""


def _fail(what: str):
    raise _Invalid(what)


def _array(result, name: str, shape: tuple, kinds: str = "f", *, finite: bool = False):
    """The field `name` as an array of `shape` (None: any length) and dtype kind in `kinds`."""
    value = getattr(result, name)
    arr = np.asarray(value)
    if arr.dtype.kind not in kinds:
        _fail(f"{name} has dtype {arr.dtype}, expected {'floats' if kinds == 'f' else 'integers'}")
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        _fail(f"{name} has shape {arr.shape}, expected {tuple('?' if s is None else s for s in shape)}")
    if finite and not np.all(np.isfinite(arr)):
        _fail(f"{name} holds NaN or infinite values")
    return arr


def _check_statuses(name: str, arr) -> None:
    if not np.all(np.isin(arr, list(STATUS_NAMES))):
        _fail(f"{name} holds status codes outside {sorted(STATUS_NAMES)}")


def _check_int(name: str, value, low: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        _fail(f"{name} is {value!r}, expected an integer >= {low}")


def _check_fit(fit: FitResult) -> None:
    if not isinstance(fit.law, _laws.Law):
        _fail("its law is not a jscale law")
    p = fit.law.n_free
    _check_int("n_rows", fit.n_rows, 1)
    _check_int("n_configs", fit.n_configs)
    if fit.residual not in ("log", "raw") or not isinstance(fit.target, str):
        _fail(f"residual {fit.residual!r} / target {fit.target!r} are not valid")
    if not isinstance(fit.notes, tuple) or not all(isinstance(n, str) for n in fit.notes):
        _fail("notes are not a list of texts")
    starts = _array(fit, "starts", (None, p), finite=True)
    end = _array(fit, "end_params", (None, p))
    s = end.shape[0]
    if s < 1 or len(starts) != s:
        _fail(f"starts ({len(starts)}) and end_params ({s}) differ in length")
    objectives = _array(fit, "objectives", (s,))
    _check_statuses("status", _array(fit, "status", (s,), "iu"))
    if np.any(_array(fit, "n_steps", (s,), "iu") < 0):
        _fail("n_steps holds negative counts")
    _check_int("best_index", fit.best_index)
    if fit.best_index >= s:
        _fail(f"best_index {fit.best_index} is outside its {s} starts")
    if not (np.isfinite(objectives[fit.best_index]) and np.all(np.isfinite(end[fit.best_index]))):
        _fail("the best start's objective or parameters are not finite")
    if fit.best_index != int(best_start(objectives)):
        _fail(f"best_index {fit.best_index} is not the start of lowest objective ({int(best_start(objectives))})")
    if not np.all(np.isfinite(np.asarray(fit.law.to_natural(end[fit.best_index])))):
        _fail("the best fit's parameters overflow in natural units")
    if not (np.isfinite(fit.objective_floor) and fit.objective_floor >= 0):
        _fail(f"objective_floor is {fit.objective_floor!r}")
    if fit.curvature is not None:
        if not isinstance(fit.curvature, dict):
            _fail("curvature is not a table of arrays")
        for key, value in fit.curvature.items():
            arr = np.asarray(value)
            if arr.dtype.kind != "f" or arr.ndim > 2 or any(n != p for n in arr.shape):
                _fail(f"curvature[{key!r}] has shape {arr.shape}, expected ({p},) or ({p}, {p})")
            if int(fit.status[fit.best_index]) == SUCCESS and not np.all(np.isfinite(arr)):
                _fail(f"curvature[{key!r}] of a converged fit is not finite")


def _check_bootstrap(boot: BootstrapResult) -> None:
    _check_fit(boot.fit)
    p = boot.law.n_free
    _check_int("n_units", boot.n_units, 1)
    _check_int("n_configs", boot.n_configs)
    _check_int("basins_checked", boot.basins_checked)
    if not isinstance(boot.unit, str):
        _fail("unit is not a name")
    starts = _array(boot, "starts", (None, p), finite=True)
    end = _array(boot, "end_params", (None, len(starts), p))
    b = end.shape[0]
    if b < 1 or len(starts) < 1:
        _fail("it holds no resamples or no starts")
    _array(boot, "objectives", (b, len(starts)))
    _check_statuses("start_status", _array(boot, "start_status", (b, len(starts)), "iu"))
    if np.any(_array(boot, "n_steps", (b, len(starts)), "iu") < 0):
        _fail("n_steps holds negative counts")
    jack = _array(boot, "jackknife_params", (None, p))
    _check_statuses("jackknife_status", _array(boot, "jackknife_status", (len(jack),), "iu"))
    if boot.key is None and boot.counts is None:
        _fail("it holds neither the key nor the counts its resamples were drawn from")
    if boot.key is not None:
        _array(boot, "key", (None,), "u")
    if boot.counts is not None and np.any(_array(boot, "counts", (b, boot.n_units), "iu") < 0):
        _fail("counts holds negative multiplicities")
    ok = np.asarray(boot.draw_ok)
    if not np.all(np.isfinite(boot.free_draws[ok])):
        _fail("a draw whose fit converged holds parameters that are not finite")


def _check_two_stage(result) -> None:
    """A TwoStage: both fits valid; both bootstraps, or neither, valid and of as many resamples."""
    for fit in (result.loss_fit, result.link_fit):
        if not isinstance(fit, FitResult):
            _fail("a stage's fit is not a fit")
        _check_fit(fit)
    boots = (result.loss_boot, result.link_boot)
    if (boots[0] is None) != (boots[1] is None):
        _fail("it holds the joint bootstrap of one stage only")
    if boots[0] is not None:
        for boot in boots:
            if not isinstance(boot, BootstrapResult):
                _fail("a stage's bootstrap is not a bootstrap")
            _check_bootstrap(boot)
        if boots[0].n_resamples != boots[1].n_resamples:
            _fail("its two stages hold different numbers of joint resamples")
    if not isinstance(result.n_dropped, int) or result.n_dropped < 0:
        _fail("n_dropped is not a count")


def _check_sweep(result) -> None:
    """IsoFLOPResult and EnvelopeResult: per-point arrays of one length, numbers throughout."""
    per_point = ("budgets", "n_runs", "included", "n_params", "n_tokens", "loss", "center_params",
                 "center_tokens") if isinstance(result, IsoFLOPResult) else ("compute", "loss", "n_params",
                                                                             "n_tokens", "used")
    k = len(np.atleast_1d(getattr(result, per_point[0])))
    for name in per_point:
        _array(result, name, (k,), "fiub")
    if isinstance(result, IsoFLOPResult):
        _array(result, "coef_params", (k, 3))
        _array(result, "coef_tokens", (k, 3))
        index = _array(result, "budget_index", (None,), "iu")
        if np.any((index < -1) | (index >= k)):
            _fail("budget_index points outside its budgets")
    for name in ("exponents", "prefactors"):
        table = getattr(result, name)
        if not isinstance(table, dict) or any(np.asarray(v).dtype.kind != "f" or np.ndim(v) != 0
                                              for v in table.values()):
            _fail(f"{name} is not a table of numbers")
        if not all(np.isfinite(v) for v in table.values()):  # a sweep that had no power law would not exist
            _fail(f"{name} hold a value that is not finite")
    if result.draws is not None:
        if not isinstance(result.draws, dict) or not result.draws:
            _fail("draws is not a table of arrays")
        lengths = {np.shape(v)[0] if np.ndim(v) else -1 for v in result.draws.values()}
        if len(lengths) != 1 or -1 in lengths or any(np.asarray(v).dtype.kind not in "fb"
                                                     for v in result.draws.values()):
            _fail("draws hold arrays of different numbers of resamples")


def _check_hyper(result: HyperResult) -> None:
    """HyperResult: per-cell arrays of one length, power laws that fit the columns, finite where used."""
    k, t = len(result.over), len(result.scale) + 1
    if not 1 <= k <= 2 or not all(isinstance(n, str) for n in (*result.over, *result.scale)):
        _fail("its hyperparameter and scale columns are not one or two names and some names")
    if not isinstance(result.cells, dict) or set(result.cells) != set(result.scale) or \
            not isinstance(result.optimum, dict) or set(result.optimum) != set(result.over):
        _fail("its cells or optima do not name its columns")
    g = len(np.atleast_1d(result.n_runs))
    for name in ("n_runs", "included", "best_loss"):
        _array(result, name, (g,), "fiub")
    for table in (result.cells, result.optimum):
        if any(np.shape(v) != (g,) or np.asarray(v).dtype.kind != "f" for v in table.values()):
            _fail("a per-cell table is not one number per cell")
    _array(result, "laws", (k, t), finite=True)
    _array(result, "curvature_laws", (k, t))
    if result.span is not None:
        _array(result, "span", (g, k, 2))
    used = np.asarray(result.included, bool)
    if not used.any() or not all(np.all(np.isfinite(np.asarray(v)[used])) for v in result.optimum.values()):
        _fail("a cell the power laws use has no finite optimum")
    index = _array(result, "cell_index", (None,), "iu")
    if np.any((index < 0) | (index >= g)):
        _fail("cell_index points outside its cells")
    if result.draws is not None:
        b = len(np.atleast_1d(result.draw_ok))
        _array(result, "draw_ok", (b,), "b")
        shapes = {"optimum": (b, g, k), "laws": (b, k, t), "curvature_laws": (b, k, t), "curvature": (b, g, k)}
        if isinstance(result.draws, dict) and "curvature" not in result.draws:  # saved before jscale 0.3.1
            del shapes["curvature"]
        if not isinstance(result.draws, dict) or set(result.draws) != set(shapes) or any(
                np.shape(result.draws[n]) != shape for n, shape in shapes.items()):
            _fail("draws do not hold the optima and power laws of every resample")
        if not np.all(np.isfinite(np.asarray(result.draws["laws"])[np.asarray(result.draw_ok, bool)])):
            _fail("a usable resample holds a power law that is not finite")


def _check_ensemble(ens: Ensemble) -> None:
    """An Ensemble: K valid bootstraps of one number of resamples (full data and training runs),
    (B, K) scores and weights, (K,) point scores, weights, errors and priors, K form tests each."""
    k = len(ens.forms)
    if k < 1 or len(set(ens.forms)) != k or len(ens.members) != k or len(ens.held_out) != k:
        _fail("its forms, members and training bootstraps differ in number (or the forms' names repeat)")
    for boot in ens.members + ens.held_out:
        _check_bootstrap(boot)
    b = ens.members[0].n_resamples
    if any(boot.n_resamples != b for boot in ens.members + ens.held_out):
        _fail("its forms hold different numbers of resamples")
    _array(ens, "held", (ens.members[0].fit.n_rows,), "b")
    for name in ("scores", "weights"):
        _array(ens, name, (b, k))
    for name in ("point_scores", "point_weights", "held_rmse"):
        _array(ens, name, (k,))
    for name, weights in (("point_weights", np.asarray(ens.point_weights)[None]), ("weights", np.asarray(ens.weights))):
        rows = weights[np.all(np.isfinite(weights), axis=1)]
        if np.any((rows < 0) | (rows > 1)) or not np.allclose(rows.sum(axis=1), 1.0, rtol=0, atol=1e-9):
            _fail(f"{name} are not weights in [0, 1] summing to 1")
    prior = _array(ens, "prior", (k,), finite=True)
    if np.any(prior <= 0):
        _fail("prior holds a probability that is not positive")
    if ens.score not in SCORES:
        _fail(f"score {ens.score!r} is not one of {', '.join(SCORES)}")
    charges = _array(ens, "charges", (k,), finite=True)
    if np.any(charges < 0) or (ens.score == "held-out" and np.any(charges != 0)):
        _fail("charges hold a negative charge, or a charge under score 'held-out'")
    if len(ens.trends) != k or len(ens.residuals) != k:
        _fail("it holds a number of form tests other than one per form")
    if not isinstance(ens.by, str) or not np.isfinite(ens.cutoff):
        _fail(f"by {ens.by!r} / cutoff {ens.cutoff!r} are not valid")


def check(result) -> None:
    """Raises `_Invalid` where a result breaks the rules its container promises (indices in range,
    shapes that fit the law, valid statuses, finite best fit)."""
    if isinstance(result, Ensemble):
        _check_ensemble(result)
    elif isinstance(result, TwoStage):
        _check_two_stage(result)
    elif isinstance(result, BootstrapResult):
        _check_bootstrap(result)
    elif isinstance(result, FitResult):
        _check_fit(result)
    elif isinstance(result, HyperResult):
        _check_hyper(result)
    else:
        _check_sweep(result)


# --- files --------------------------------------------------------------------------------------------

# Files larger than this are refused by `load` unless `max_bytes=` says otherwise (a bootstrap of
# 4,000 resamples x 4,500 starts of a 5-parameter law is about 1 GB).
MAX_BYTES = 2 << 30
_TMP_TAG = ".jscale-tmp-"
# A temporary name holds at most this many bytes of the file's name: with the tag, host, process
# and random part it stays within the 255 bytes a file name may have, as the final name does.
_TMP_NAME_BYTES = 120


def _tmp_prefix(path: Path) -> str:
    """The start of every temporary file name of saves to `path` on this host."""
    name = path.name.encode()[:_TMP_NAME_BYTES].decode(errors="ignore")
    return f".{name}{_TMP_TAG}{_host_tag()}-"


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files of earlier saves to `path` whose process is gone (killed mid-save)."""
    for stale in abandoned(path.parent, _tmp_prefix(path)):
        with contextlib.suppress(OSError):
            os.unlink(stale)


def _target(path: Path) -> tuple[Path, int | None]:
    """The file a save writes (a symlink's target) and the permissions to keep (None: new file)."""
    real = Path(os.path.realpath(path))
    if not real.parent.is_dir():
        raise FileNotFoundError(f"Cannot save to {path}: the folder {real.parent} does not exist; create it first.")
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real, None
    if stat.S_ISDIR(st.st_mode):
        raise ValueError(f"Cannot save to {path}: it is a directory; give a file path such as {path}/result.jscale.")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"Cannot save to {path}: it is not a regular file (a device, FIFO or socket); jscale "
                         "saves only to regular files.")
    return real, stat.S_IMODE(st.st_mode)


def save(result, path) -> Path:
    """Saves a `FitResult`, `BootstrapResult`, `IsoFLOPResult`, `EnvelopeResult`, `TwoStage` or
    `Ensemble` (`jscale.bootstrap` of several forms) to `path` (msgpack; `.jscale` is a good suffix).

    The write goes to a temporary file beside the target that replaces it only when complete,
    so an interrupted save leaves the old file or the new one, never half of one; temporary
    files that earlier saves to the same path left behind when killed are removed. Only regular
    files are written: a directory, device, FIFO or socket at `path` is refused. A symlink is
    followed: its target is replaced and the link keeps pointing at it. An existing file keeps
    its permissions; a new one gets the default (0666 less the umask). The file carries a
    SHA-256 checksum of its content, checked by `load`.

    Returns:
        The path written (as given).
    """
    ensemble = isinstance(result, Ensemble)
    if type(result).__name__ not in RESULTS and not ensemble:
        raise TypeError(f"save takes a FitResult, a BootstrapResult, an IsoFLOPResult, an EnvelopeResult, a "
                        f"TwoStage or an Ensemble; got {type(result).__name__}.")
    state, static = _encode_ensemble(result) if ensemble else _encode(result)
    meta = {"format": FORMAT, "version": VERSION, "jscale": __version__, "kind": type(result).__name__,
            "static": static}
    body = serialization.msgpack_serialize({"meta": meta, "state": state})
    header = {"format": FORMAT, "version": VERSION, "jscale": __version__, "kind": meta["kind"]}
    payload = serialization.msgpack_serialize({"meta": header, "sha256": hashlib.sha256(body).hexdigest(),
                                               "body": body})
    path = Path(path)
    target, mode = _target(path)
    _remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(prefix=f"{_tmp_prefix(target)}{os.getpid()}-", dir=target.parent)
    try:
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # mkstemp makes the file private; a saved result is not
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def _read(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most `max_bytes`, opened without blocking (a FIFO)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise ValueError(f"Cannot read {path}: {err.strerror or err}.") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_size > max_bytes:
        os.close(fd)
        if st.st_size > max_bytes and stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path} is {st.st_size:,} bytes, more than the {max_bytes:,} that load reads; pass "
                             "max_bytes= if it really is a jscale result.")
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, FIFO or socket)"
        raise ValueError(f"Cannot load {path}: it is {kind}.")
    with os.fdopen(fd, "rb") as fh:
        # read(n) reserves n bytes up front: ask for the file's size (+1 to see it grow), not the limit
        raw = fh.read(min(st.st_size, max_bytes) + 1)
    if len(raw) > max_bytes:
        raise ValueError(f"{path} grew past {max_bytes:,} bytes while being read.")
    return raw


def _restore(raw: bytes, path: Path):
    try:
        return serialization.msgpack_restore(raw)
    except Exception:  # msgpack raises several types on bad input
        raise ValueError(f"{path} is not a jscale result file (it does not parse as msgpack; truncated or "
                         "another file type?).") from None


def load(path, *, law=None, max_bytes: int = MAX_BYTES):
    """Loads a result saved by `jscale.save`.

    The file's checksum is verified (files of jscale before format version 3 have none) and
    what was read is checked against the rules its container promises: shapes that fit the
    law, the best-start index in range and pointing at the lowest objective, valid statuses,
    a finite best fit, the law's parameter domains as saved.

    Args:
        path: the file (a regular file; devices, FIFOs and directories are refused unread).
        law: the law object, needed (and checked) only for results of a custom law (of a
            `TwoStage`, only one of its stages' laws can be custom). For an `Ensemble` of custom
            forms, a list with an entry per form: its law, or None for a built-in one.
        max_bytes: larger files are refused before reading (default 2 GiB).

    Raises:
        ValueError: the file is not a jscale result, fails its checksum, is corrupted or
            truncated, holds values its container cannot hold, or comes from a newer format
            version; the message says which.
    """
    path = Path(path)
    content = _restore(_read(path, int(max_bytes)), path)
    meta = content.get("meta") if isinstance(content, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a jscale result file (no jscale header).")
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{path} is a damaged jscale result file (format version {version!r}).")
    if version > VERSION:
        raise ValueError(
            f"{path} was written in format version {version} by jscale {meta.get('jscale')}; this jscale "
            f"reads up to version {VERSION}. Upgrade jscale to load it."
        )
    if version >= 3:
        body, digest = content.get("body"), content.get("sha256")
        if not isinstance(body, bytes) or not isinstance(digest, str):
            raise ValueError(f"{path} is a damaged jscale result file (no checksummed content).")
        if hashlib.sha256(body).hexdigest() != digest:
            raise ValueError(f"{path} is a damaged jscale result file: its content does not match its SHA-256 "
                             "checksum (corrupted on disk or in transfer, or edited).")
        content = _restore(body, path)
        inner = content.get("meta") if isinstance(content, dict) else None
        if not isinstance(inner, dict) or any(inner.get(k) != meta.get(k) for k in ("format", "version", "kind")):
            raise ValueError(f"{path} is a damaged jscale result file (its header and content disagree).")
        meta = inner
    else:
        warnings.warn(f"{path} is in format version {version} (jscale {meta.get('jscale', '?')}), which has no "
                      "checksum: only the rules its container promises could be checked, not that its values are "
                      "the ones saved. Save it again to add one.", UserWarning, stacklevel=2)
    state, static, kind = content.get("state"), meta.get("static"), meta.get("kind")
    if kind not in RESULTS and kind != "Ensemble":
        raise ValueError(f"{path} holds an unknown kind of result {kind!r}.")
    try:
        if version < 2:
            static = _upgrade_v1(kind, static)
        if kind == "Ensemble":
            result = _decode_ensemble(state, static, law)
        else:
            result = _decode(RESULTS[kind], state, static, law)
        check(result)
    except _Invalid as err:
        raise ValueError(f"{path} is a damaged jscale result file: {err}.") from None
    except LawMismatch:
        raise  # the law the caller passed (or did not) is at fault, not the file
    except ValueError as err:
        raise ValueError(f"{path} is a damaged jscale result file ({err}).") from None
    except KeyError as err:
        raise ValueError(f"{path} is a damaged jscale result file (missing {err}).") from None
    except Exception as err:  # noqa: BLE001 - whatever a crafted file makes the decoder trip on
        raise ValueError(f"{path} is a damaged jscale result file ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else 'no details'}).") from None
    return result
