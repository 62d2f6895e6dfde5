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
from jscale._envelope import EnvelopeResult
from jscale._isoflop import IsoFLOPResult
from jscale._losses import LOSSES
from jscale._numerics import read_only
from jscale._results import BootstrapResult, FitResult
from jscale._version import __version__

FORMAT = "jscale-result"
VERSION = 2
# The result containers a file can hold, by class name. Their fields are saved as they are
# declared: pytree fields as arrays (nested results recursively), static fields in `meta`.
RESULTS = {cls.__name__: cls for cls in (FitResult, BootstrapResult, IsoFLOPResult, EnvelopeResult)}
_BUILT_IN = {name: cls for name, cls in _laws.LAWS.items() if name not in ("Custom", "Constrained")}


def _law_spec(law) -> dict:
    if isinstance(law, _laws.Constrained):
        return {"class": "Constrained", "base": _law_spec(law.base), "fixed": [list(p) for p in law.fixed],
                "tied": [list(p) for p in law.tied]}
    name = type(law).__name__
    if _BUILT_IN.get(name) is type(law):
        return {"class": name, "fields": {f.name: getattr(law, f.name) for f in dataclasses.fields(law)}}
    # A custom law, or a Law subclass of the user's: its function cannot be stored, so load takes
    # it back (law=) and checks it against what is stored here.
    return {"class": "Custom" if isinstance(law, _laws.Custom) else "Unregistered", "type": name, "name": law.name,
            "params": list(law.param_names), "columns": list(law.columns), "bounds": [list(b) for b in law.bounds]}


def _law_from(spec: dict, law):
    if spec["class"] == "Constrained":
        base = _law_from(spec["base"], law.base if isinstance(law, _laws.Constrained) else law)
        return _laws.Constrained(base=base, fixed=tuple((k, float(v)) for k, v in spec["fixed"]),
                                 tied=tuple((k, v) for k, v in spec["tied"]))
    if spec["class"] in ("Custom", "Unregistered"):
        if law is None:
            raise ValueError(
                f"This file holds a result of the custom law {spec['name']!r}, whose function cannot be stored; "
                "pass the law again: jscale.load(path, law=my_law)."
            )
        stored = (spec.get("type", type(law).__name__), spec["params"], spec["columns"])
        given = (type(law).__name__, list(law.param_names), list(law.columns))
        bounds = [list(b) for b in law.bounds]
        if stored != given or ("bounds" in spec and spec["bounds"] != bounds):
            raise ValueError(
                f"law= is a {given[0]} with parameters {given[1]}, columns {given[2]} and domains {bounds}; the file's "
                f"law {spec['name']!r} is a {stored[0]} with {stored[1]}, {stored[2]} and {spec.get('bounds')}."
            )
        return law
    if spec["class"] not in _BUILT_IN:
        raise ValueError(f"The file names an unknown law class {spec['class']!r}; is it from a newer jscale?")
    return _BUILT_IN[spec["class"]](**spec.get("fields", {}))


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


def _encode(result) -> tuple[dict, dict]:
    """(state, static) of a result container, field by field as the container declares them."""
    state, static = {}, {}
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


def _decode(cls, state: dict, static: dict, law):
    """A result container from (state, static); a field missing from the file takes its default."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        pytree = f.metadata.get("pytree_node", True)
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
    return cls(**kwargs)


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


def save(result, path) -> Path:
    """Saves a `FitResult`, `BootstrapResult`, `IsoFLOPResult` or `EnvelopeResult` to `path`
    (msgpack; `.jscale` is a good suffix).

    The write goes to a temporary file that replaces `path` only when complete.

    Returns:
        The path written.
    """
    if type(result).__name__ not in RESULTS:
        raise TypeError(f"save takes a FitResult, a BootstrapResult, an IsoFLOPResult or an EnvelopeResult; got "
                        f"{type(result).__name__}.")
    state, static = _encode(result)
    meta = {"format": FORMAT, "version": VERSION, "jscale": __version__, "kind": type(result).__name__,
            "static": static}
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
    state, static, kind = content.get("state"), meta.get("static"), meta.get("kind")
    if kind not in RESULTS:
        raise ValueError(f"{path} holds an unknown kind of result {kind!r}.")
    try:
        if int(meta.get("version", 0)) < 2:
            static = _upgrade_v1(kind, static)
        return _decode(RESULTS[kind], state, static, law)
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path} is a damaged jscale result file (missing {err}).") from None
