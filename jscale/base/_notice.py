"""One line on stderr when a jscale call first compiles: the wait users do not expect.

A first call of a kind (a fit, a bootstrap, an allocation) spends seconds compiling its programs;
later calls with the same shapes reuse them. The first time a jscale call in this process starts
an XLA compilation, it says so once on stderr (stdout stays clean), with how to keep the
programs across processes. JAX reports the start of every compilation to its monitoring
listeners; jscale's listener speaks only inside its own calls (`inside_call`), so other JAX code
of the user's stays silent. Set the environment variable JSCALE_QUIET=1 to silence it.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys

import jax

# Reported by JAX (`jax._src.dispatch.BACKEND_COMPILE_EVENT`) as each XLA compilation starts.
COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"
MESSAGE = ("jscale: compiling this call's programs (a first call of its kind and shape takes seconds; later calls "
           "reuse them; jscale.enable_compilation_cache() keeps them for later processes; JSCALE_QUIET=1 silences "
           "this line)")

_inside = contextvars.ContextVar("jscale_inside_call", default=False)
_state = {"registered": False, "said": False}


def _listener(event: str, value: float, **kwargs) -> None:
    if event != COMPILE_EVENT or _state["said"] or not _inside.get():
        return
    _state["said"] = True
    if os.environ.get("JSCALE_QUIET", "") not in ("", "0"):
        return
    print(MESSAGE, file=sys.stderr, flush=True)


@contextlib.contextmanager
def inside_call():
    """Marks the enclosed code as a jscale call (the compile notice may speak there)."""
    if not _state["registered"]:
        _state["registered"] = True
        jax.monitoring.register_scalar_listener(_listener)
    token = _inside.set(True)
    try:
        yield
    finally:
        _inside.reset(token)
