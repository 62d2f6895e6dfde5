"""Saving and loading results: a versioned msgpack file through `flax.serialization`.

The file holds {"meta": ..., "state": ...}: `meta` names the format and its version, the jscale
version, the kind of result, the law and the loss (rebuilt on load) and the result's static
settings; `state` holds its arrays (float64 kept). A custom law's function cannot be stored:
`load(path, law=...)` takes it back, checked against the stored parameter names and columns.
Saving writes a temporary file beside the target and renames it, so an interrupted save never
leaves a broken file.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import numpy as np
from flax import serialization

from jscale import _laws
from jscale._diagnostics import DataSummary
from jscale._numerics import read_only
from jscale._objective import Huber, Squared
from jscale._results import BootstrapResult, FitResult

FORMAT = "jscale-result"
VERSION = 1

_FIT_ARRAYS = ("starts", "end_params", "objectives", "status", "n_steps")
_FIT_STATIC = ("best_index", "n_rows", "objective_floor", "n_configs")
_BOOT_ARRAYS = ("key", "counts", "starts", "end_params", "objectives", "start_status", "n_steps",
                "jackknife_params", "jackknife_status")
_BOOT_STATIC = ("unit", "n_units", "n_configs")
_LAWS = {cls.__name__: cls for cls in (_laws.Chinchilla, _laws.DataConstrained, _laws.Kaplan, _laws.PowerLaw,
                                       _laws.PurePowerLaw, _laws.BrokenPowerLaw)}


def _law_spec(law) -> dict:
    if isinstance(law, _laws.Constrained):
        return {"class": "Constrained", "base": _law_spec(law.base), "fixed": [list(p) for p in law.fixed],
                "tied": [list(p) for p in law.tied]}
    if isinstance(law, _laws.Custom):
        return {"class": "Custom", "name": law.name, "params": list(law.param_names), "columns": list(law.columns)}
    name = type(law).__name__
    if name not in _LAWS:
        return {"class": "Custom", "name": law.name, "params": list(law.param_names), "columns": list(law.columns)}
    return {"class": name, "fields": {f.name: getattr(law, f.name) for f in dataclasses.fields(law)}}


def _law_from(spec: dict, law):
    if spec["class"] == "Constrained":
        base = _law_from(spec["base"], law.base if isinstance(law, _laws.Constrained) else law)
        return _laws.Constrained(base=base, fixed=tuple((k, float(v)) for k, v in spec["fixed"]),
                                 tied=tuple((k, v) for k, v in spec["tied"]))
    if spec["class"] == "Custom":
        if law is None:
            raise ValueError(
                f"This file holds a result of the custom law {spec['name']!r}, whose function cannot be stored; "
                "pass the law again: jscale.load(path, law=my_law)."
            )
        if list(law.param_names) != spec["params"] or list(law.columns) != spec["columns"]:
            raise ValueError(
                f"law= has parameters {list(law.param_names)} and columns {list(law.columns)}; the file's law "
                f"{spec['name']!r} has {spec['params']} and {spec['columns']}."
            )
        return law
    if spec["class"] not in _LAWS:
        raise ValueError(f"The file names an unknown law class {spec['class']!r}; is it from a newer jscale?")
    return _LAWS[spec["class"]](**spec.get("fields", {}))


def _loss_spec(loss) -> dict:
    if isinstance(loss, Huber):
        return {"class": "Huber", "delta": float(loss.delta)}
    if isinstance(loss, Squared):
        return {"class": "Squared"}
    raise ValueError(f"Only results fitted with jscale.Huber or jscale.Squared can be saved; got {loss!r}.")


def _loss_from(spec: dict):
    if spec["class"] == "Huber":
        return Huber(spec["delta"])
    if spec["class"] == "Squared":
        return Squared()
    raise ValueError(f"The file names an unknown loss {spec['class']!r}; is it from a newer jscale?")


def _fit_state(result: FitResult) -> tuple[dict, dict]:
    arrays = {k: np.asarray(getattr(result, k)) for k in _FIT_ARRAYS}
    if result.curvature is not None:
        arrays["curvature"] = {k: np.asarray(v) for k, v in result.curvature.items()}
    static = {k: getattr(result, k) for k in _FIT_STATIC}
    if result.data_summary is not None:
        static["data_summary"] = result.data_summary.to_dict()
    return arrays, {**static, "law": _law_spec(result.law), "loss": _loss_spec(result.loss)}


def _fit_from(arrays: dict, static: dict, law) -> FitResult:
    curvature = arrays.get("curvature")
    return FitResult(
        law=_law_from(static["law"], law), loss=_loss_from(static["loss"]),
        **{k: read_only(arrays[k]) for k in _FIT_ARRAYS},
        curvature=None if curvature is None else {k: read_only(v) for k, v in curvature.items()},
        best_index=int(static["best_index"]), n_rows=int(static["n_rows"]),
        objective_floor=float(static["objective_floor"]), n_configs=int(static["n_configs"]),
        data_summary=DataSummary.from_dict(static["data_summary"]) if "data_summary" in static else None,
    )


def save(result, path) -> Path:
    """Saves a `FitResult` or `BootstrapResult` to `path` (msgpack; `.jscale` is a good suffix).

    The write goes to a temporary file that replaces `path` only when complete.

    Returns:
        The path written.
    """
    from jscale import __version__

    if isinstance(result, BootstrapResult):
        fit_arrays, fit_static = _fit_state(result.fit)
        arrays = {k: np.asarray(getattr(result, k)) for k in _BOOT_ARRAYS if getattr(result, k) is not None}
        state = {"fit": fit_arrays, **arrays}
        static = {"fit": fit_static, **{k: getattr(result, k) for k in _BOOT_STATIC}}
        kind = "BootstrapResult"
    elif isinstance(result, FitResult):
        state, static = _fit_state(result)
        kind = "FitResult"
    else:
        raise TypeError(f"save takes a FitResult or a BootstrapResult; got {type(result).__name__}.")
    meta = {"format": FORMAT, "version": VERSION, "jscale": __version__, "kind": kind, "static": static}
    payload = serialization.msgpack_serialize({"meta": meta, "state": state})
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; a saved result is not
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load(path, *, law=None):
    """Loads a result saved by `jscale.save`.

    Args:
        path: the file.
        law: the law object, needed (and checked) only for results of a custom law.

    Raises:
        ValueError: the file is not a jscale result, is corrupted or truncated, or comes from a
            newer format version.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ValueError(f"Cannot read {path}: {err.strerror or err}.") from None
    try:
        content = serialization.msgpack_restore(raw)
    except Exception:  # msgpack raises several types on bad input
        raise ValueError(f"{path} is not a jscale result file (it does not parse as msgpack; truncated or "
                         "another file type?).") from None
    meta = content.get("meta") if isinstance(content, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a jscale result file (no jscale header).")
    if int(meta.get("version", 0)) > VERSION:
        raise ValueError(
            f"{path} was written in format version {meta['version']} by jscale {meta.get('jscale')}; this jscale "
            f"reads up to version {VERSION}. Upgrade jscale to load it."
        )
    state, static = content.get("state"), meta.get("static")
    try:
        if meta["kind"] == "FitResult":
            return _fit_from(state, static, law)
        if meta["kind"] == "BootstrapResult":
            fit = _fit_from(state["fit"], static["fit"], law)
            arrays = {k: (read_only(state[k]) if k in state else None) for k in _BOOT_ARRAYS}
            return BootstrapResult(law=fit.law, loss=fit.loss, fit=fit, unit=static["unit"],
                                   n_units=int(static["n_units"]), n_configs=int(static["n_configs"]), **arrays)
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path} is a damaged jscale result file (missing {err}).") from None
    raise ValueError(f"{path} holds an unknown kind of result {meta.get('kind')!r}.")
