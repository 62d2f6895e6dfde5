"""Inputs of predictions: the law's columns at new points, validated, checked for extrapolation."""

from __future__ import annotations

import numpy as np

from jscale.base._text import closest
from jscale.data._data import ScalingData
from jscale.engine._problem import natural_columns
from jscale.inference._diagnostics import extrapolation


def codes_for(column: str, values, labels) -> np.ndarray:
    """int32 codes of categorical `values` among the fitted `labels`, or ValueError naming an unknown one."""
    index = {label: k for k, label in enumerate(labels)}
    codes = []
    for v in np.asarray(values).tolist():
        if v not in index:
            raise ValueError(f"Column {column!r} has label {v!r}, which the fitted data did not have; its labels "
                             f"are {', '.join(map(repr, labels))}.")
        codes.append(index[v])
    return np.asarray(codes, np.int32)


def _keyword_columns(law, summary, columns: dict) -> dict:
    if not columns:
        raise ValueError(f"predict needs data: a ScalingData or the columns {', '.join(law.columns)} as keywords.")
    unknown = sorted(set(columns) - set(law.columns))
    if unknown:
        raise ValueError(f"The {law.name} law reads {', '.join(law.columns)}; got unexpected {', '.join(unknown)}"
                         f"{closest(unknown[0], law.columns)}.")
    missing = [c for c in law.columns if c not in columns]
    if missing:
        raise ValueError(f"The {law.name} law needs column {missing[0]!r} as well; pass {', '.join(missing)}=...")
    out = {}
    for c, v in columns.items():
        labels = summary.levels_of(c) if summary is not None else None
        if labels is not None:
            out[c] = codes_for(c, np.atleast_1d(np.asarray(v)), labels)
            continue
        arr = np.atleast_1d(np.asarray(v, dtype=np.float64))
        if arr.ndim != 1:
            raise ValueError(f"Column {c!r} must be a number or a 1-D array; got shape {arr.shape}.")
        out[c] = arr
    lengths = {k: len(v) for k, v in out.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        raise ValueError(f"predict columns have mismatched lengths: {listed}.")
    return out


def _check_positive(law, values: dict) -> dict:
    """A law that reads logs needs positive, finite columns."""
    for c, v in values.items():
        if c in law.log_columns:
            bad = ~(np.isfinite(v) & (v > 0))
            if bad.any():
                raise ValueError(f"Column {c!r} must be finite and positive for the {law.name} law; got "
                                 f"{v[bad][0]!r}.")
    return values


def natural(law, summary, data=None, **columns) -> dict:
    """The law's columns at the points to predict (natural units; categorical as fitted codes)."""
    if data is not None and columns:
        raise ValueError("Pass either a ScalingData or keyword columns to predict, not both.")
    if data is None:
        out = _keyword_columns(law, summary, columns)
        if not len(next(iter(out.values()))):
            raise ValueError(f"predict got empty columns; pass at least one point ({', '.join(law.columns)}).")
        return _check_positive(law, out)
    if not isinstance(data, ScalingData):
        raise TypeError(
            "predict takes a ScalingData or keyword columns (e.g. n_params=..., n_tokens=...); got "
            f"{type(data).__name__}."
        )
    data.require(*law.columns, who=f"The {law.name} law")
    out = natural_columns(law, data)
    for c in law.columns:
        labels = summary.levels_of(c) if summary is not None else None
        if labels is not None:
            out[c] = codes_for(c, data[c], labels)
    return _check_positive(law, out)


def inputs(law, summary, data=None, *, stacklevel: int = 2, **columns) -> dict:
    """The law's inputs `x` at the points to predict; points outside the fitted data (`summary`)
    warn with `ExtrapolationWarning` (`stacklevel` counted from the caller)."""
    values = natural(law, summary, data, **columns)
    numeric = {c: v for c, v in values.items() if summary is None or summary.levels_of(c) is None}
    found = extrapolation(summary, law, numeric)
    if found is not None:
        found.warn(stacklevel=stacklevel + 1)
    return law.inputs(values)
