"""Curves as data: the helpers people need around logged training curves, and their finals as rows.

Curves are a mapping name -> (schedule, checkpoint steps, losses), as `fit_curves` takes them: the
schedule a `Schedule` (or per-step rates), the steps increasing integers, the losses positive.
`moving_average` smooths a noisy training loss the way published ladders do (a trailing mean of
the last few logged losses), `drop_before` cuts the early checkpoints (by step or by tokens seen),
and `finals` turns each curve's end into one `ScalingData` row (observed finals, or the predicted
finals of a `CurvePrediction`) with per-run columns such as `n_params` and `n_tokens`, so a ladder
of runs feeds the laws of N and D: `jscale.fit(jscale.laws.Chinchilla(), finals(curves, columns))`.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from jscale.curves._predict import CurvePrediction
from jscale.data._data import ScalingData

RESERVED = ("curve", "step", "loss")  # the columns `finals` writes itself


def _parsed(curves) -> list:
    """[(name, schedule, steps int64 (c,), losses float64 (c,))] of a curves mapping, checked."""
    if not isinstance(curves, Mapping) or not curves:
        raise TypeError("curves must be a non-empty mapping: name -> (schedule, checkpoint steps, losses); got "
                        f"{'an empty mapping' if isinstance(curves, Mapping) else type(curves).__name__}.")
    out = []
    for name, value in curves.items():
        if not isinstance(value, (tuple, list)) or len(value) != 3:
            got = f"{len(value)} items" if isinstance(value, (tuple, list)) else type(value).__name__
            raise ValueError(f"curve {name!r} must be (schedule, checkpoint steps, losses); got {got}.")
        schedule, steps, loss = value
        steps, loss = np.asarray(steps), np.asarray(loss)
        if steps.ndim != 1 or loss.shape != steps.shape or steps.size == 0:
            raise ValueError(f"curve {name!r}: steps and losses must be non-empty 1-D arrays of one length; got "
                             f"shapes {steps.shape} and {loss.shape}.")
        if not (np.issubdtype(steps.dtype, np.number) and np.issubdtype(loss.dtype, np.number)):
            raise TypeError(f"curve {name!r}: steps and losses must be numbers; got dtypes {steps.dtype} and "
                            f"{loss.dtype}.")
        steps_f = steps.astype(np.float64)
        good = np.isfinite(steps_f) & (steps_f == np.round(steps_f)) & (steps_f >= 0)
        if not np.all(good):
            first = int(np.flatnonzero(~good)[0])
            raise ValueError(f"curve {name!r}: checkpoint steps must be non-negative integers; entry {first} is "
                             f"{steps[first]!r}.")
        if np.any(np.diff(steps_f) <= 0):
            first = int(np.flatnonzero(np.diff(steps_f) <= 0)[0]) + 1
            raise ValueError(f"curve {name!r}: checkpoint steps must increase; entry {first} ({steps[first]!r}) "
                             f"follows {steps[first - 1]!r}.")
        loss = loss.astype(np.float64)
        good = np.isfinite(loss) & (loss > 0)
        if not np.all(good):
            first = int(np.flatnonzero(~good)[0])
            raise ValueError(f"curve {name!r}: losses must be positive finite numbers; entry {first} is "
                             f"{loss[first]!r}.")
        out.append((name, schedule, steps_f.astype(np.int64), loss))
    return out


def _like(curves: Mapping, items: list) -> Mapping:
    """`items` (name, schedule, steps, losses) as a mapping of the type of `curves` (else a dict)."""
    out = {name: (schedule, steps, loss) for name, schedule, steps, loss in items}
    if type(curves) is dict:
        return out
    try:
        return type(curves)(out)
    except TypeError:  # a mapping type whose constructor does not take a dict
        return out


def _count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer number of checkpoints; got {value!r}.")
    return int(value)


def _number(value, name: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{name} must be a {kind} finite number; got {value!r}.")
    return float(value)


def moving_average(curves: Mapping, window: int) -> Mapping:
    """The curves with each loss replaced by the trailing mean of the last `window` logged losses.

    Published ladders report a training loss smoothed this way (a noisy per-step loss averaged
    over the last few logs). The first `window - 1` checkpoints of each curve are dropped, so every
    value kept is the mean of exactly `window` logged losses, and each kept checkpoint keeps its
    own step (the last of its window).

    Args:
        curves: a mapping name -> (schedule, checkpoint steps (c,), losses (c,)).
        window: logged losses per mean, a positive integer (1 returns the curves unchanged); every
            curve needs at least `window` checkpoints.

    Returns:
        A mapping of the same type and keys: name -> (the same schedule, steps (c - window + 1,),
        trailing means (c - window + 1,)).

    Example:
        >>> from jscale.curves import Schedule
        >>> curves = {"a": (Schedule.constant(steps=100, peak=1e-3), [10, 20, 30, 40], [4.0, 3.0, 2.6, 2.4])}
        >>> _, steps, loss = moving_average(curves, 2)["a"]
        >>> steps.tolist(), loss.tolist()
        ([20, 30, 40], [3.5, 2.8, 2.5])
    """
    window = _count(window, "window")
    items = _parsed(curves)
    short = [(name, steps.size) for name, _, steps, _ in items if steps.size < window]
    if short:
        raise ValueError(f"window={window} needs at least {window} checkpoints per curve; curve {short[0][0]!r} has "
                         f"{short[0][1]}. Use a smaller window.")
    out = []
    for name, schedule, steps, loss in items:
        means = np.lib.stride_tricks.sliding_window_view(loss, window).mean(axis=1)
        out.append((name, schedule, steps[window - 1:].copy(), means))
    return _like(curves, out)


def _per_curve(value, names: list, what: str) -> dict:
    """name -> positive number of a number or of a mapping name -> number covering exactly `names`."""
    if not isinstance(value, Mapping):
        number = _number(value, what, positive=True)
        return dict.fromkeys(names, number)
    unknown = [k for k in value if k not in names]
    if unknown:
        raise ValueError(f"{what} names {unknown[0]!r}, which is not one of the curves "
                         f"({', '.join(map(repr, names))}).")
    missing = [n for n in names if n not in value]
    if missing:
        raise ValueError(f"{what} has no value for curve {missing[0]!r}; give one per curve, or one number for all.")
    return {n: _number(value[n], f"{what}[{n!r}]", positive=True) for n in names}


def drop_before(curves: Mapping, step=None, *, tokens=None, tokens_per_step=None) -> Mapping:
    """The curves without their checkpoints before a step, or before a number of tokens seen.

    Early checkpoints (the warmup's transient, the first noisy logs) often do not follow a law
    fitted to the rest; a checkpoint at step s has seen s * `tokens_per_step` tokens.

    Args:
        curves: a mapping name -> (schedule, checkpoint steps (c,), losses (c,)).
        step: keep the checkpoints at steps >= `step` (a non-negative number).
        tokens: keep instead the checkpoints with step * tokens_per_step >= `tokens` (positive);
            give exactly one of `step` and `tokens`.
        tokens_per_step: with `tokens` only: tokens per training step (batch size times sequence
            length), one positive number for every curve or a mapping name -> number for each.

    Returns:
        A mapping of the same type and keys with the same schedules and the checkpoints kept.

    Raises:
        ValueError: for both or neither of `step` and `tokens`, `tokens` without
            `tokens_per_step` (or the reverse), or a curve left with no checkpoint (named).

    Example:
        >>> from jscale.curves import Schedule
        >>> curves = {"a": (Schedule.constant(steps=100, peak=1e-3), [10, 20, 30, 40], [4.0, 3.0, 2.6, 2.4])}
        >>> drop_before(curves, 30)["a"][1].tolist()
        [30, 40]
        >>> drop_before(curves, tokens=4e6, tokens_per_step=2e5)["a"][2].tolist()
        [3.0, 2.6, 2.4]
    """
    if (step is None) == (tokens is None):
        raise ValueError("Give exactly one of step and tokens (the checkpoints before it are dropped); got "
                         f"{'both' if step is not None else 'neither'}.")
    if tokens is not None and tokens_per_step is None:
        raise ValueError("tokens needs tokens_per_step (tokens per training step, a number or a mapping per curve).")
    if step is not None and tokens_per_step is not None:
        raise ValueError("tokens_per_step goes with tokens only; drop by step or by tokens, not both.")
    items = _parsed(curves)
    names = [name for name, _, _, _ in items]
    if step is not None:
        first = dict.fromkeys(names, _number(step, "step", positive=False))
    else:
        tokens = _number(tokens, "tokens", positive=True)
        first = {n: tokens / r for n, r in _per_curve(tokens_per_step, names, "tokens_per_step").items()}
    out = []
    for name, schedule, steps, loss in items:
        keep = steps >= first[name] * (1 - 1e-12)  # a step at exactly tokens / tokens_per_step is kept
        if not np.any(keep):
            raise ValueError(f"Dropping the checkpoints before step {first[name]:g} leaves curve {name!r} with none "
                             f"(its last checkpoint is at step {steps[-1]}).")
        out.append((name, schedule, steps[keep], loss[keep]))
    return _like(curves, out)


def _columns_of(columns, keys: list, what: str) -> dict:
    """column -> values (one per curve, in order) of the per-curve `columns`, checked."""
    if columns is None:
        return {}
    for key in columns:
        if key not in keys:
            raise ValueError(f"columns names {key!r}, which is not one of the {what} ({', '.join(map(repr, keys))}).")
    missing = [k for k in keys if k not in columns]
    if missing:
        raise ValueError(f"columns has no entry for {what[:-1]} {missing[0]!r}; give one mapping column -> value "
                         "per row.")
    rows = [columns[k] for k in keys]
    for key, row in zip(keys, rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"columns[{key!r}] must be a mapping column -> value, e.g. {{'n_params': 25e6}}; got "
                            f"{type(row).__name__}.")
    names = list(rows[0])
    for key, row in zip(keys, rows):
        absent = [c for c in names if c not in row] or [c for c in row if c not in names]
        if absent:
            owner, other = (key, keys[0]) if absent[0] in names else (keys[0], key)
            raise ValueError(f"columns[{owner!r}] lacks column {absent[0]!r}, which columns[{other!r}] has: every "
                             "row needs the same columns.")
    clash = [c for c in names if c in RESERVED]
    if clash:
        raise ValueError(f"columns may not set {clash[0]!r}: finals writes 'curve', 'step' and 'loss' itself.")
    return {c: np.asarray([row[c] for row in rows]) for c in names}


def _sources(source, columns) -> tuple:
    """(row keys, labels, losses per row, steps per row, columns keyed by row, "curves" or "schedules")."""
    if isinstance(source, CurvePrediction):
        losses, steps = source.split(), source.split(np.asarray(source.at["step"]))
        keys = list(range(len(losses)))
        if isinstance(columns, Sequence) and not isinstance(columns, (str, bytes)):
            if len(columns) != len(keys):
                raise ValueError(f"columns must hold one mapping per schedule of the prediction ({len(keys)}); got "
                                 f"{len(columns)}.")
            columns = dict(enumerate(columns))
        what, labels = "schedules", [str(k) for k in keys]
    elif isinstance(source, Mapping):
        items = _parsed(source)
        keys, labels = [name for name, *_ in items], [str(name) for name, *_ in items]
        losses, steps = [loss for *_, loss in items], [s for _, _, s, _ in items]
        what = "curves"
    else:
        raise TypeError("source must be curves (a mapping name -> (schedule, checkpoint steps, losses)) or a "
                        f"CurvePrediction of predict_curves; got {type(source).__name__}.")
    if columns is not None and not isinstance(columns, Mapping):
        raise TypeError(f"columns must be a mapping {'index' if what == 'schedules' else 'curve name'} -> "
                        f"{{column: value}}; got {type(columns).__name__}.")
    return keys, labels, losses, steps, columns, what


def finals(source, columns=None, *, last: int = 1) -> ScalingData:
    """One `ScalingData` row per curve: its final loss, for the laws of N and D.

    Args:
        source: curves, a mapping name -> (schedule, checkpoint steps, losses) (observed finals),
            or a `CurvePrediction` of `predict_curves` (predicted finals: the last points of each
            of its schedules, rows named "0", "1", ... in the schedules' order).
        columns: per-row columns such as `n_params` and `n_tokens`: for curves a mapping name ->
            {column: value}, for a prediction a sequence of such mappings (one per schedule, in
            order) or a mapping index -> mapping. Every row needs an entry and the same columns.
        last: the loss is the mean of the last `last` logged (or predicted) losses (default 1).

    Returns:
        A ScalingData with one row per curve: "curve" (its name, categorical), "step" (its last
        step), "loss" and the given columns (with two of n_params, n_tokens and compute, the
        third is derived as C = 6 N D). `jscale.fit(jscale.laws.Chinchilla(), rows)` fits it.

    Example:
        >>> from jscale.curves import Schedule
        >>> curves = {"a": (Schedule.constant(steps=100, peak=1e-3), [10, 20, 30, 40], [4.0, 3.0, 2.6, 2.4])}
        >>> rows = finals(curves, {"a": {"n_params": 25e6, "n_tokens": 4.9e9}}, last=2)
        >>> float(rows["loss"][0]), float(rows["step"][0]), rows["curve"].tolist()
        (2.5, 40.0, ['a'])
    """
    last = _count(last, "last")
    keys, labels, losses, steps, columns, what = _sources(source, columns)
    short = [k for k, loss in zip(keys, losses) if np.size(loss) < last]
    if short:
        raise ValueError(f"last={last} needs at least {last} points per {what[:-1]}; {what[:-1]} {short[0]!r} has "
                         f"{np.size(losses[keys.index(short[0])])}. Use a smaller last.")
    extra = _columns_of(columns, keys, what)
    return ScalingData.from_arrays(curve=np.asarray(labels), step=np.array([float(s[-1]) for s in steps]),
                                   loss=np.array([np.mean(loss[-last:]) for loss in losses]), **extra)
