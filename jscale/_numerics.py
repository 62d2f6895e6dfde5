"""Float64 scope and dtype-aware tolerances.

jscale never changes JAX's global configuration at import: public entry points run their
computation inside `x64_scope()`, so fits are float64 whatever the caller enabled.
"""

from __future__ import annotations

import contextlib

import jax
import numpy as np

if hasattr(jax, "enable_x64"):  # jax >= 0.4.36 exposes the context manager at top level.
    _enable_x64 = jax.enable_x64
else:  # pragma: no cover - older jax
    from jax.experimental import enable_x64 as _enable_x64


@contextlib.contextmanager
def x64_scope():
    """Runs the enclosed JAX code in float64 without touching the global config."""
    with _enable_x64(True):
        yield


def eps(dtype=np.float64) -> float:
    """Machine epsilon of `dtype` (2.2e-16 for float64)."""
    return float(np.finfo(dtype).eps)


def read_only(array) -> np.ndarray:
    """A read-only NumPy copy of an array (results are immutable)."""
    out = np.array(array)
    out.flags.writeable = False
    return out
