"""Size-aware curve laws: one fit of a curve law to the training curves of a ladder of model sizes.

`Sized(law, vary=("L0", "A", "B"))` makes every parameter named in `vary` a power law of the
model size N (parameters),

    p(N) = p * (N / N_ref)^e_p,        N_ref the geometric mean of the fitted sizes,

and shares every other parameter across sizes (the curves of one size share all of them, as in
any curve fit). The law's parameters are the base law's, each the value at N_ref, then one
exponent "<name>:n_params" per varying parameter (the naming of `jscale.sweeps`' exponents, e.g.
"learning_rate:n_params"); an exponent is free (any sign). Only parameters fitted as their logs
(positive ones) can vary: in the base law's free space the power law is a straight line,
log p(N) = log p + e_p log(N / N_ref), so the fit stays as well conditioned as the base law's.

Its checkpoints are those of (schedule, steps, n_params) triples: `Sized.over(triples)` builds the
base law once per distinct size over that size's curves, and evaluates each at its size's
parameters (few sizes: the cost is one evaluation of every checkpoint). `fit_curves` takes a list
of mappings of curves, one per size, with `n_params=` their sizes; `predict_curves` predicts any
size's schedules with triples, e.g. a larger model's final loss before it is trained.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jscale.base._text import closest
from jscale.curves._curvelaw import anneals, build, digest, kept_pairs, kind_of, n_points, unwrap
from jscale.laws._laws import Law

EXPONENT = "{}:n_params"


def check_size(value, where: str) -> float:
    """A model size N: a finite number > 0 (ValueError naming `where` otherwise)."""
    try:
        size = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"The model size of {where} must be a number of parameters; got {value!r:.40}.") from None
    if not (np.isfinite(size) and size > 0):
        raise ValueError(f"The model size of {where} must be finite and > 0; got {value!r}.")
    return size


@dataclasses.dataclass(frozen=True)
class Sized(Law):
    """A curve law over a ladder of model sizes: the parameters in `vary` are power laws of N,
    p(N) = p (N / N_ref)^e_p, the others shared across sizes (see the module docstring).

    Args:
        base: the curve law (a class such as `MultiPowerLaw`, a `curve_law(...)`, or either with
            fixed parameters, e.g. `AnnealingLaw().fix(decay=0.999)`).
        vary: the base law's positive parameters that vary with the size (default none: every
            parameter shared across sizes).
        reference: N_ref (default: the geometric mean of the distinct sizes it is first built on;
            kept when the fitted law is rebuilt for other curves or sizes).

    Example:
        >>> from jscale.curves import MultiPowerLaw, Schedule, Sized
        >>> law = Sized(MultiPowerLaw, vary=("L0", "A"))
        >>> law.param_names[-2:]
        ('L0:n_params', 'A:n_params')
        >>> s = Schedule.cosine(steps=1000, peak=3e-4, warmup=100)
        >>> law.over([(s, [500, 999], 1e8), (s, [500, 999], 4e8)]).reference
        200000000.0
    """

    base: object = None
    vary: tuple = ()
    reference: float | None = None
    sizes: tuple = ()  # the distinct sizes, in order of first appearance (built)
    digest: str = ""
    members: tuple = dataclasses.field(default=(), compare=False, hash=False, repr=False)  # per size, the base built
    order: np.ndarray | None = dataclasses.field(default=None, compare=False, hash=False, repr=False)
    pairs: tuple = dataclasses.field(default=(), compare=False, hash=False, repr=False)  # (schedule, steps, n_params)

    columns = ("checkpoint",)
    column_space = "natural"

    def __post_init__(self):
        if isinstance(unwrap(kind_of(self.base, "Sized: base")), Sized):
            raise TypeError("Sized: base must be a curve law of one size; got a Sized law.")
        base = kind_of(self.base, "Sized: base")
        object.__setattr__(self, "base", base)
        vary = (self.vary,) if isinstance(self.vary, str) else tuple(self.vary)
        names = base.param_names
        for v in vary:
            if v not in names:
                raise ValueError(f"Sized: the {base.name} law has no parameter {v!r}{closest(v, names)}; its "
                                 f"parameters are {', '.join(names)}.")
            if not base.positive[names.index(v)]:
                logs = ", ".join(n for n, p in zip(names, base.positive) if p)
                raise ValueError(f"Sized: {v} of the {base.name} law is not fitted as its log (positive), so it cannot "
                                 f"be a power law of the size; vary only parameters among {logs}.")
        if len(set(vary)) != len(vary):
            raise ValueError(f"Sized: vary names a parameter twice: {vary!r}.")
        object.__setattr__(self, "vary", vary)
        if self.reference is not None:
            object.__setattr__(self, "reference", check_size(self.reference, "the reference"))

    @property
    def name(self) -> str:
        return f"{self.base.name} by n_params (varying: {', '.join(self.vary) or 'none'})"

    @property
    def anneals(self) -> bool:
        return anneals(self.base)

    @property
    def param_names(self):
        return tuple(self.base.param_names) + tuple(EXPONENT.format(v) for v in self.vary)

    @property
    def positive(self):
        return tuple(self.base.positive) + (False,) * len(self.vary)

    @property
    def domain(self):
        inf = float("inf")
        return tuple(self.base.bounds) + ((-inf, inf),) * len(self.vary)

    @property
    def n_points(self) -> int:
        return 0 if self.order is None else int(self.order.size)

    def over(self, triples) -> Sized:
        """This law at every checkpoint of `triples`: (schedule or per-step rates, checkpoint steps,
        model size N). The reference size is kept if set, else the sizes' geometric mean."""
        triples = list(triples)
        if not triples:
            raise ValueError("A Sized law needs at least one curve (schedule, steps, n_params); got none.")
        checked = []
        for i, triple in enumerate(triples):
            if not isinstance(triple, (tuple, list)) or len(triple) != 3:
                raise ValueError(f"The curves of a Sized law are (schedule, checkpoint steps, n_params) triples; "
                                 f"curve {i} is {type(triple).__name__} of length "
                                 f"{len(triple) if isinstance(triple, (tuple, list)) else '?'}.")
            lr, steps, n = triple
            checked.append((lr, np.asarray(steps), check_size(n, f"curve {i}")))
        sizes = tuple(dict.fromkeys(n for *_, n in checked))
        reference = self.reference or float(np.exp(np.mean(np.log(sizes))))
        members, blocks = [], []
        for n in sizes:
            mine = [i for i, t in enumerate(checked) if t[2] == n]
            members.append(build(self.base, [checked[i][:2] for i in mine]))
            blocks.append(mine)
        # The members' outputs are concatenated size by size; `order` maps each checkpoint, in the
        # triples' order, to its place there.
        counts = [len(steps) for _, steps, _ in checked]
        start = np.concatenate([[0], np.cumsum(counts)])
        concat = np.concatenate([np.arange(start[i], start[i + 1]) for block in blocks for i in block])
        order = np.empty(concat.size, np.int64)
        order[concat] = np.arange(concat.size)
        kept = kept_pairs([t[:2] for t in checked])
        return dataclasses.replace(self, reference=reference, sizes=sizes, members=tuple(members), order=order,
                                   pairs=tuple((lr, steps, t[2]) for (lr, steps), t in zip(kept, checked)),
                                   digest=digest([t[:2] for t in checked], [t[2] for t in checked]))

    def check_data(self, data) -> None:
        index = np.asarray(data["checkpoint"])
        if np.any(index != np.round(index)) or np.any((index < 0) | (index >= self.n_points)):
            raise ValueError(f"The {self.name} law's column 'checkpoint' must hold indices of its {self.n_points} "
                             "checkpoints (build the data with jscale.curves.curve_data).")

    def member_theta(self, theta, size: float):
        """The base law's free vector (P_base,) at model size `size` from this law's (P_base + E,)."""
        names = self.base.param_names
        out = theta[: len(names)]
        shift = np.log(size / self.reference)
        for j, v in enumerate(self.vary):
            out = out.at[names.index(v)].add(theta[len(names) + j] * shift)
        return out

    def log_predict(self, theta, x):
        theta = jnp.asarray(theta)
        per_size = [None] * len(self.sizes)
        # Sizes whose curves are the same (a ladder trained on one set of schedules) share one
        # evaluation, vmapped over their parameters: one program the size of one member's.
        for group in self._groups:
            member = self.members[group[0]]
            index = jnp.arange(n_points(member), dtype=jnp.int32)
            thetas = jnp.stack([self.member_theta(theta, self.sizes[j]) for j in group])
            values = jax.vmap(lambda t, m=member, i=index: m.log_predict(t, {"checkpoint": i}))(thetas)
            for row, j in enumerate(group):
                per_size[j] = values[row]
        values = jnp.concatenate(per_size)
        return values[jnp.asarray(self.order)[x["checkpoint"].astype(jnp.int32)]]

    @property
    def _groups(self) -> tuple:
        """The sizes' indices grouped by equal members (the same curves and checkpoints)."""
        groups: dict = {}
        for j, member in enumerate(self.members):
            groups.setdefault(member, []).append(j)
        return tuple(tuple(g) for g in groups.values())

    def default_starts(self) -> np.ndarray:
        """The base law's default starts (those of the size nearest the reference, where they
        depend on the curves), every exponent 0."""
        nearest = int(np.argmin(np.abs(np.log(np.asarray(self.sizes) / self.reference))))
        base = np.asarray(self.members[nearest].default_starts(), np.float64)
        return np.concatenate([base, np.zeros((base.shape[0], len(self.vary)))], axis=1)

    def starts_note(self) -> str:
        return self.base.starts_note()
