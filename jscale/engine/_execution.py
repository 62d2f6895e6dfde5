"""How the fits of a call run, apart from what they fit: the one options object every verb that
fits accepts (`jscale.fit`, `fit_many`, `bootstrap`, `bootstrap_many`, `bootstrap_forms`,
`backtest`)."""

from __future__ import annotations

import dataclasses
import warnings

# The options, in the order the verbs once took them as separate keywords.
KEYWORDS = ("solver", "batching", "batch_size", "n_devices", "mesh", "chunk_size")


@dataclasses.dataclass(frozen=True)
class Execution:
    """How fits run: the answer is the same whatever these say (bit for bit across devices, device
    counts and chunkings; the solver aside), only the time and memory change.

    Attributes:
        solver: a solver object: `jscale.solvers.RobustGaussNewton()` (the default) or
            `jscale.solvers.LBFGS()`, with their hyperparameters (e.g. `max_steps`).
        batching: how starts share the solver's slots: "refill" (the default), "vmap" or "map".
        batch_size: solver slots per device (default: 256 on a CPU, more on an accelerator).
        n_devices: the first n local devices (default: all of them); or
        mesh: a `jax.sharding.Mesh` to split the fits over (not with `n_devices`).
        chunk_size: resamples per jitted call of a bootstrap (default: as many as fit a quarter of
            the device's free memory); a fit of one dataset does not use it.

    Example:
        >>> import jscale
        >>> jscale.Execution(n_devices=1, batch_size=256)
        Execution(batch_size=256, n_devices=1)
    """

    solver: object = None
    batching: str | None = None
    batch_size: int | None = None
    n_devices: int | None = None
    mesh: object = None
    chunk_size: int | None = None

    def keywords(self, *names: str) -> dict:
        """The options as keywords of the engine's functions (all of them, or those named)."""
        return {name: getattr(self, name) for name in (names or KEYWORDS)}

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self.keywords().items() if v is not None)
        return f"Execution({given})"


def execution_of(execution, legacy: dict, who: str) -> Execution:
    """`execution` (an `Execution` or None) with the old separate keywords in `legacy` folded in:
    they warn (DeprecationWarning; they go in 0.4.0); a keyword that is none of them raises
    TypeError as Python would."""
    unknown = sorted(set(legacy) - set(KEYWORDS))
    if unknown:
        raise TypeError(f"{who}() got an unexpected keyword argument {unknown[0]!r}")
    if execution is None:
        execution = Execution()
    elif not isinstance(execution, Execution):
        raise TypeError(f"execution must be a jscale.Execution, e.g. jscale.Execution(n_devices=1); got "
                        f"{type(execution).__name__}.")
    if legacy:
        names = ", ".join(f"{k}=..." for k in legacy)
        warnings.warn(f"{who}({names}) is now {who}(execution=jscale.Execution({names})); the separate keywords go "
                      "in 0.4.0.", DeprecationWarning, stacklevel=3)
        clash = [k for k in legacy if getattr(execution, k) is not None]
        if clash:
            raise TypeError(f"{who} got {clash[0]} both in execution= and as a keyword; give it once, in execution=.")
        execution = dataclasses.replace(execution, **legacy)
    return execution
