"""Learning-rate schedules: small hashable specs that give the rate of every training step.

A schedule is a linear warmup from 0 to `peak` over the first `warmup` steps (exactly
`np.linspace(0, peak, warmup)`, as in the code of Luo et al. 2025, arXiv:2503.12811), then one of

* ``constant``: `peak` to the end;
* ``cosine``: `floor + (peak - floor) * (1 + cos(pi * (s - warmup) / (steps - warmup))) / 2`;
* ``wsd`` (warmup-stable-decay): `peak` until `decay_start`, then a ``linear`` decay
  `peak + (floor - peak) * (s - decay_start) / (steps - decay_start)` or a ``geometric`` one
  `peak ** ((steps - s) / (steps - decay_start)) * floor ** ((s - decay_start) / (steps - decay_start))`
  (the floor is reached at `steps`, one past the last step);
* ``two_stage``: `peak` until `switch`, then `value` from step `switch` on;
* ``custom``: the given per-step rates (no warmup is added).

Steps are counted from 0 to `steps - 1`. A spec also parses from text such as
``"cosine(steps=24000, peak=3e-4, floor=3e-5, warmup=2160)"``; `str(schedule)` gives that text back.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np

KINDS = ("constant", "cosine", "wsd", "two_stage", "custom")
DECAYS = ("linear", "geometric")

# The keywords each kind takes in text, the required ones first (custom schedules do not parse).
_KEYWORDS = {
    "constant": (("steps", "peak"), ("warmup",)),
    "cosine": (("steps", "peak"), ("floor", "warmup")),
    "wsd": (("steps", "peak", "decay_start"), ("floor", "decay", "warmup")),
    "two_stage": (("steps", "peak", "switch", "value"), ("warmup",)),
}
_INTEGERS = ("steps", "warmup", "decay_start", "switch")
_SPEC = re.compile(r"^\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A learning-rate schedule (hashable, immutable); `lr()` gives its per-step rates.

    Build one with the class methods (`constant`, `cosine`, `wsd`, `two_stage`, `custom`) or
    `parse_schedule`; they validate every field. Fields a kind does not use stay at their defaults.

    Example:
        >>> s = Schedule.cosine(steps=10, peak=1.0, floor=0.1, warmup=3)
        >>> s.lr().round(3).tolist()
        [0.0, 0.5, 1.0, 1.0, 0.955, 0.831, 0.65, 0.45, 0.269, 0.145]
        >>> parse_schedule(str(s)) == s
        True
    """

    kind: str
    steps: int
    peak: float = 0.0
    warmup: int = 0
    floor: float = 0.0
    decay_start: int = 0
    decay: str = "linear"
    switch: int = 0
    value: float = 0.0
    values: tuple = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Unknown schedule kind {self.kind!r}; expected one of {', '.join(KINDS)}.")
        if self.kind != "custom":
            _checked(self)

    @classmethod
    def constant(cls, *, steps: int, peak: float, warmup: int = 0) -> Schedule:
        """`peak` after the warmup."""
        return cls(kind="constant", steps=steps, peak=peak, warmup=warmup)

    @classmethod
    def cosine(cls, *, steps: int, peak: float, floor: float = 0.0, warmup: int = 0) -> Schedule:
        """Half a cosine from `peak` (at the end of the warmup) to `floor` (at `steps`)."""
        return cls(kind="cosine", steps=steps, peak=peak, floor=floor, warmup=warmup)

    @classmethod
    def wsd(cls, *, steps: int, peak: float, decay_start: int, floor: float = 0.0, decay: str = "linear",
            warmup: int = 0) -> Schedule:
        """Warmup-stable-decay: `peak` until `decay_start`, then a linear or geometric decay to `floor`."""
        return cls(kind="wsd", steps=steps, peak=peak, decay_start=decay_start, floor=floor, decay=decay,
                   warmup=warmup)

    @classmethod
    def two_stage(cls, *, steps: int, peak: float, switch: int, value: float, warmup: int = 0) -> Schedule:
        """`peak` until step `switch`, then `value`."""
        return cls(kind="two_stage", steps=steps, peak=peak, switch=switch, value=value, warmup=warmup)

    @classmethod
    def custom(cls, values) -> Schedule:
        """The given per-step rates (a 1-D sequence of finite non-negative numbers)."""
        lr = np.asarray(values, dtype=np.float64) if _numeric(values) else None
        if lr is None or lr.ndim != 1 or lr.size == 0:
            raise ValueError(f"A custom schedule needs a non-empty 1-D sequence of numbers; got "
                             f"{_describe(values)}.")
        bad = np.flatnonzero(~np.isfinite(lr) | (lr < 0))
        if bad.size:
            raise ValueError(f"A custom schedule's rates must be finite and >= 0; {bad.size} are not, the first "
                             f"at step {bad[0]} ({lr[bad[0]]!r}).")
        return cls(kind="custom", steps=int(lr.size), values=tuple(lr.tolist()))

    def lr(self) -> np.ndarray:
        """The learning rate of steps 0..steps-1, shape (steps,), float64 (a read-only array)."""
        out = _rates(self)
        out.flags.writeable = False
        return out

    def __str__(self) -> str:
        if self.kind == "custom":
            return f"custom(<{self.steps} steps>)"
        required, optional = _KEYWORDS[self.kind]
        parts = [f"{k}={getattr(self, k)!r}" for k in required + optional]
        return f"{self.kind}(" + ", ".join(p.replace("'", "") for p in parts) + ")"


def parse_schedule(text: str) -> Schedule:
    """A schedule from text ``kind(key=value, ...)``; ``kind`` is constant, cosine, wsd or two_stage.

    Keywords (the first ones required): constant(steps, peak, warmup=0); cosine(steps, peak,
    floor=0, warmup=0); wsd(steps, peak, decay_start, floor=0, decay=linear|geometric, warmup=0);
    two_stage(steps, peak, switch, value, warmup=0). Numbers are Python literals (``3e-4``,
    ``24000``, ``24_000``).

    Raises:
        ValueError: naming what did not parse, or which value is out of range.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_schedule takes a string such as 'cosine(steps=24000, peak=3e-4)'; got "
                        f"{type(text).__name__}.")
    match = _SPEC.match(text)
    if not match:
        raise ValueError(f"Cannot parse the schedule {text!r}: expected kind(key=value, ...), e.g. "
                         "'cosine(steps=24000, peak=3e-4, floor=3e-5, warmup=2160)'.")
    kind, body = match.group(1), match.group(2).strip()
    if kind not in _KEYWORDS:
        raise ValueError(f"Unknown schedule kind {kind!r} in {text!r}; expected one of {', '.join(_KEYWORDS)}.")
    required, optional = _KEYWORDS[kind]
    fields = {}
    for item in ([] if not body else body.split(",")):
        key, sep, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key or not raw:
            raise ValueError(f"Cannot parse {item.strip()!r} in the schedule {text!r}: expected key=value.")
        if key not in required + optional:
            raise ValueError(f"The {kind} schedule takes {', '.join(required + optional)}; got an unknown key "
                             f"{key!r} in {text!r}.")
        if key in fields:
            raise ValueError(f"The key {key!r} appears twice in the schedule {text!r}.")
        fields[key] = raw if key == "decay" else _number(key, raw, text)
    missing = [k for k in required if k not in fields]
    if missing:
        raise ValueError(f"The {kind} schedule {text!r} lacks {', '.join(missing)} (required: "
                         f"{', '.join(required)}).")
    return getattr(Schedule, kind)(**fields)


def _number(key: str, raw: str, text: str):
    try:
        value = float(raw.replace("_", ""))
    except ValueError:
        raise ValueError(f"The value of {key!r} in the schedule {text!r} is not a number: {raw!r}.") from None
    if key in _INTEGERS:
        if not (math.isfinite(value) and value == int(value)):
            raise ValueError(f"{key} must be a whole number of steps; got {raw!r} in {text!r}.")
        return int(value)
    return value


def _numeric(values) -> bool:
    try:
        return np.asarray(values).dtype.kind in "biuf"
    except (TypeError, ValueError):
        return False


def _describe(values) -> str:
    shape = getattr(np.asarray(values, dtype=object), "shape", None)
    return f"{type(values).__name__} of shape {shape}"


def _checked(s: Schedule) -> Schedule:
    """`s`, after checking every field its kind uses (ValueError/TypeError naming the field)."""
    for key in _INTEGERS:
        v = getattr(s, key)
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"The {s.kind} schedule's {key} must be an integer number of steps; got {v!r}.")
        object.__setattr__(s, key, int(v))
    for key in ("peak", "floor", "value"):
        v = getattr(s, key)
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"The {s.kind} schedule's {key} must be a number; got {v!r}.")
        object.__setattr__(s, key, float(v))
    if s.steps < 1:
        raise ValueError(f"The {s.kind} schedule's steps must be >= 1; got {s.steps}.")
    if not (math.isfinite(s.peak) and s.peak > 0):
        raise ValueError(f"The {s.kind} schedule's peak must be finite and > 0; got {s.peak!r}.")
    if not 0 <= s.warmup <= s.steps:
        raise ValueError(f"The {s.kind} schedule's warmup must be in [0, steps={s.steps}]; got {s.warmup}.")
    if s.kind in ("cosine", "wsd"):
        if not (math.isfinite(s.floor) and 0 <= s.floor <= s.peak):
            raise ValueError(f"The {s.kind} schedule's floor must be finite and in [0, peak={s.peak!r}]; got "
                             f"{s.floor!r}.")
    if s.kind == "wsd":
        if s.decay not in DECAYS:
            raise ValueError(f"The wsd schedule's decay must be one of {', '.join(DECAYS)}; got {s.decay!r}.")
        if not s.warmup <= s.decay_start < s.steps:
            raise ValueError(f"The wsd schedule's decay_start must be in [warmup={s.warmup}, steps={s.steps}); got "
                             f"{s.decay_start}.")
        if s.decay == "geometric" and s.floor <= 0:
            raise ValueError("A geometric decay needs floor > 0 (it decays to floor in ratio); got floor=0.0.")
    if s.kind == "two_stage":
        if not s.warmup <= s.switch < s.steps:
            raise ValueError(f"The two_stage schedule's switch must be in [warmup={s.warmup}, steps={s.steps}); "
                             f"got {s.switch}.")
        if not (math.isfinite(s.value) and s.value >= 0):
            raise ValueError(f"The two_stage schedule's value must be finite and >= 0; got {s.value!r}.")
    return s


def _rates(s: Schedule) -> np.ndarray:
    if s.kind == "custom":
        return np.array(s.values, dtype=np.float64)
    T, w, peak = s.steps, s.warmup, s.peak
    step = np.arange(w, T, dtype=np.float64)
    if s.kind == "constant":
        after = np.full(step.shape, peak)
    elif s.kind == "cosine":
        after = s.floor + 0.5 * (peak - s.floor) * (1.0 + np.cos(np.pi * (step - w) / (T - w)))
    elif s.kind == "wsd":
        d = s.decay_start
        frac = (step - d) / (T - d)
        if s.decay == "linear":
            decayed = peak + (s.floor - peak) * frac
        else:
            decayed = peak ** ((T - step) / (T - d)) * s.floor ** frac
        after = np.where(step < d, peak, decayed)
    else:  # two_stage
        after = np.where(step < s.switch, peak, s.value)
    return np.concatenate([np.linspace(0.0, peak, w), after])
