"""The protocol of curve laws, and curve laws written as plain JAX functions.

A *curve law* is a `jscale.laws` law over the checkpoints of a fixed set of training curves: its
one column, "checkpoint", indexes those checkpoints in order. What makes a law a curve law:

* `over(pairs)`, pairs = [(schedule or per-step rates, checkpoint steps), ...]: the law at those
  checkpoints (a classmethod for the laws without settings: `MultiPowerLaw`, `AnnealingLaw`,
  `AreaPowerLaw`; a method of an instance for those with settings, which it keeps: a custom
  curve law's function, a `Sized` law's reference size);
* `pairs`: the pairs it was built on, kept (not compared: a digest of the rates and steps is),
  so the law can be rebuilt or saved later;
* `default_starts()`: the free-space starts `fit_curves` screens by the objective;
* `anneals`: whether the law has a term in the schedule's decay (then `fit_curves` warns where
  the schedules cannot identify it).

`build(kind, pairs)` is the one way to get a law at other checkpoints (a prediction's, a
bootstrap's): `kind` is a class, an instance, or an instance with fixed or tied parameters
(`law.fix(decay=0.999)`), whose constraints are kept. `curve_law(fn, params)` makes a curve law
from a function of the natural parameters, the per-step rates and the checkpoint steps of one
curve.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jscale.base._numerics import bucket, pad_repeating, read_only, x64_scope
from jscale.curves._multipower import check_steps
from jscale.curves._schedules import Schedule
from jscale.laws._laws import MAX_DEFAULT_STARTS, Constrained, Law, Param


def rates_of(lr, where: str) -> np.ndarray:
    """The per-step rates (T,) float64 of a `Schedule` or an array, checked: 1-D, finite, >= 0."""
    rates = np.asarray(lr.lr() if isinstance(lr, Schedule) else lr, dtype=np.float64)
    if rates.ndim != 1 or rates.size == 0:
        raise ValueError(f"The rates of {where} must be a non-empty 1-D array; got shape {rates.shape}.")
    bad = np.flatnonzero(~np.isfinite(rates) | (rates < 0))
    if bad.size:
        raise ValueError(f"The rates of {where} must be finite and >= 0; {bad.size} are not, the first at step "
                         f"{bad[0]} ({float(rates[bad[0]])!r}).")
    return rates


def kept_pairs(pairs) -> tuple:
    """The pairs a law keeps: each schedule as it is (a `Schedule`, small and hashable) or its
    rates as a read-only float64 array, and the steps as a read-only int64 array."""
    return tuple((lr if isinstance(lr, Schedule) else read_only(np.asarray(lr, np.float64)),
                  read_only(np.asarray(steps, np.int64))) for lr, steps in pairs)


def digest(pairs, extra=None) -> str:
    """A short digest of the pairs' rates and steps (and one number per pair, e.g. its size)."""
    h = hashlib.sha256()
    for i, (lr, steps) in enumerate(pairs):
        h.update(np.asarray(lr.lr() if isinstance(lr, Schedule) else lr, np.float64).tobytes())
        h.update(np.asarray(steps, np.int64).tobytes())
        if extra is not None:
            h.update(np.float64(extra[i]).tobytes())
        h.update(b"|")
    return h.hexdigest()[:16]


def unwrap(law) -> Law:
    """The law under fixed, tied or bounded parameters (`Constrained`), or the law itself."""
    return law.base if isinstance(law, Constrained) else law


def kind_of(law, who: str = "law") -> Law:
    """A curve law instance (built or not) from a class with `over` or an instance of one."""
    if isinstance(law, type) and issubclass(law, Law) and hasattr(law, "over"):
        return law()
    if isinstance(law, Law) and hasattr(unwrap(law), "over"):
        return law
    raise TypeError(f"{who} must be a curve law: jscale.curves.MultiPowerLaw, AnnealingLaw, AreaPowerLaw, a "
                    f"jscale.curves.curve_law(...) or a Sized(...) law (or one of their results' laws); got "
                    f"{law!r:.80}.")


def build(kind: Law, pairs) -> Law:
    """The curve law `kind` at the checkpoints of `pairs` (its fixed, tied and bounded parameters kept)."""
    if isinstance(kind, Constrained):
        return dataclasses.replace(kind, base=build(kind.base, pairs))
    return kind.over(list(pairs))


def n_points(law: Law) -> int:
    """Checkpoints of a built curve law (of all its curves)."""
    return int(unwrap(law).n_points)


# Parameter vectors evaluated together in `log_losses`: a bound on the temporaries of a law whose
# evaluation holds a (T,) array per curve (a custom law), with little loss of speed for the others.
BATCH = 128


@functools.partial(jax.jit, static_argnums=0)
def _log_losses(law, thetas, index):
    return jax.lax.map(lambda theta: law.log_predict(theta, {"checkpoint": index}), thetas, batch_size=BATCH)


def log_losses(law: Law, thetas) -> np.ndarray:
    """log L at every checkpoint of a built curve law, (S, n_points), from free vectors (S, P):
    one compiled program per law and bucket of S (float64)."""
    thetas = np.asarray(thetas, np.float64).reshape(-1, law.n_free)
    with x64_scope():
        out = _log_losses(law, pad_repeating(thetas, bucket(len(thetas))), np.arange(n_points(law)))
    return np.asarray(out)[: len(thetas)]


def anneals(kind: Law) -> bool:
    """Whether the law has a term in the schedule's decay (the multi-power and annealing laws)."""
    return bool(getattr(unwrap(kind), "anneals", False))


@dataclasses.dataclass(frozen=True)
class CustomCurveLaw(Law):
    """A curve law from a plain JAX function of one curve; made by `jscale.curves.curve_law`.

    Before `over(pairs)` it has no checkpoints (a kind to pass to `fit_curves(law=...)`).
    """

    fn: object = None
    specs: tuple = ()  # (name, Param) pairs
    label: str = "custom curve"
    returns_log: bool = False
    digest: str = ""
    pairs: tuple = dataclasses.field(default=(), compare=False, hash=False, repr=False)

    columns = ("checkpoint",)
    column_space = "natural"
    anneals = False

    @property
    def name(self) -> str:
        return self.label

    @property
    def param_names(self):
        return tuple(n for n, _ in self.specs)

    @property
    def positive(self):
        return tuple(p.domain == "positive" for _, p in self.specs)

    @property
    def domain(self):
        return tuple(p.bounds for _, p in self.specs)

    @property
    def n_points(self) -> int:
        return int(sum(len(steps) for _, steps in self.pairs))

    def over(self, pairs) -> CustomCurveLaw:
        """This law at every checkpoint of `pairs`: (schedule or per-step rates, checkpoint steps)."""
        pairs = list(pairs)
        if not pairs:
            raise ValueError(f"The {self.name} law needs at least one curve (schedule, steps); got none.")
        checked = []
        for i, (lr, steps) in enumerate(pairs):
            rates = rates_of(lr, f"curve {i}")
            checked.append((lr, check_steps(steps, rates.size, f"curve {i}")))
        return dataclasses.replace(self, digest=digest(checked), pairs=kept_pairs(checked))

    def check_data(self, data) -> None:
        index = np.asarray(data["checkpoint"])
        if np.any(index != np.round(index)) or np.any((index < 0) | (index >= self.n_points)):
            raise ValueError(f"The {self.name} law's column 'checkpoint' must hold indices of its {self.n_points} "
                             "checkpoints (build the data with jscale.curves.curve_data).")

    def curve_values(self, theta) -> list:
        """What `fn` returns on every curve (one (c_i,) array each) at free parameters `theta` (P,)."""
        nat = self.to_natural(theta)
        p = {n: nat[i] for i, n in enumerate(self.param_names)}
        out = []
        for i, (lr, steps) in enumerate(self.pairs):
            # The rates and steps go in as constants (float64 and int64 in jscale's float64 scope).
            value = jnp.asarray(self.fn(p, jnp.asarray(rates_of(lr, f"curve {i}")), jnp.asarray(steps)))
            if value.shape != steps.shape:
                raise ValueError(f"The {self.name} law's function returns shape {value.shape} for curve {i} of "
                                 f"{steps.size} checkpoints; it must return one loss per checkpoint step, shape "
                                 f"({steps.size},).")
            out.append(value)
        return out

    def log_predict(self, theta, x):
        values = jnp.concatenate(self.curve_values(jnp.asarray(theta)))
        values = values if self.returns_log else jnp.log(values)
        return values[x["checkpoint"].astype(jnp.int32)]

    def default_starts(self) -> np.ndarray:
        """The grid of every parameter's start values; above `MAX_DEFAULT_STARTS` points, that many
        of them drawn without replacement by a fixed seed (see `starts_note`)."""
        values = [p.start_values() for _, p in self.specs]
        size = math.prod(len(v) for v in values)
        if size <= MAX_DEFAULT_STARTS:
            grid = np.array(list(itertools.product(*values)), dtype=np.float64)
        else:
            flat = np.sort(np.random.default_rng(0).choice(size, MAX_DEFAULT_STARTS, replace=False))
            index = np.unravel_index(flat, [len(v) for v in values])
            grid = np.stack([np.asarray(v, np.float64)[i] for v, i in zip(values, index)], axis=1)
        return np.asarray(self.to_free(grid))

    def starts_note(self) -> str:
        size = math.prod(len(p.start_values()) for _, p in self.specs)
        if size <= MAX_DEFAULT_STARTS:
            return ""
        return (f"The default starts are {MAX_DEFAULT_STARTS:,} of the {size:,} points of the {self.name} law's grid "
                "of start values (drawn with a fixed seed); pass starts= to fit others.")


def curve_law(fn, params: Mapping, *, name: str = "custom curve", log: bool = False) -> CustomCurveLaw:
    """A curve law from a function `fn(params, rates, steps) -> losses` of one curve, in jax.numpy.

    Args:
        fn: maps `params` (name -> scalar, natural units), `rates` (the curve's per-step learning
            rates, (T,) float64, steps 0..T-1) and `steps` (its checkpoint steps, (c,) int64) to the
            losses (c,) at those steps (their logs with `log=True`). It is called once per curve
            when the law is traced (curves differ in length), so a sum over steps must be written
            with array operations (`jnp.cumsum(rates)[steps]`), never a Python loop over steps.
        params: name -> `jscale.laws.Param` (or a domain string: "positive", "free"), as in
            `jscale.laws.custom`; the default starts are the grid of their start values.
        name: a label for summaries (they say "<name> law").
        log: `fn` returns the log of the losses.

    Returns:
        A `CustomCurveLaw` without checkpoints: pass it to `fit_curves(curves, law=...)`; the fit's
        law predicts other schedules with `predict_curves` and bands with `bootstrap_curves`. The law
        is hashed by `fn` (a jit static argument): define the function once and reuse it.

    Example (the power law in the area under the schedule, `AreaPowerLaw`, written by hand):
        >>> import jax.numpy as jnp
        >>> from jscale.curves import Schedule, curve_law
        >>> law = curve_law(lambda p, rates, steps: p["L0"] + p["A"] * jnp.cumsum(rates)[steps] ** -p["alpha"],
        ...                 {"L0": "positive", "A": "positive", "alpha": "positive"}, name="area")
        >>> built = law.over([(Schedule.constant(steps=100, peak=1e-3), [10, 99])])
        >>> built.free_names, built.default_starts().shape
        (('log_L0', 'log_A', 'log_alpha'), (27, 3))
    """
    if not callable(fn):
        raise TypeError(f"fn must be a function fn(params, rates, steps) -> losses; got {type(fn).__name__}.")
    if not isinstance(params, Mapping) or not params:
        raise ValueError(f"curve_law: params must map at least one parameter name to a jscale.laws.Param or a "
                         f"domain ('positive', 'free'); got {params!r:.80}.")
    named = [n for n in params if not isinstance(n, str) or not n]
    if named:
        raise ValueError(f"curve_law: parameter names must be non-empty strings (fn reads p[name]); got "
                         f"{named[0]!r}.")
    specs = tuple((n, p if isinstance(p, Param) else Param(p)) for n, p in params.items())
    for n, p in specs:
        low, high = p.bounds
        positive = p.domain == "positive"
        bounded = not positive and np.isfinite(low) and np.isfinite(high)
        for value in p.start_values():
            if not np.isfinite(value) or (positive and value <= 0) or (bounded and not low < value < high):
                raise ValueError(f"curve_law: parameter {n!r} has domain {p.domain!r} but a start of {value!r}; "
                                 "its starts must lie inside its domain.")
    return CustomCurveLaw(fn=fn, specs=specs, label=str(name), returns_log=bool(log))
