"""Fixtures shared by the test modules (the problems themselves live in helpers.py)."""

import os
from pathlib import Path

import jax
import pytest
from helpers import chinchilla_grid_fit

# The library must not rely on implicit rank promotion: users may run with it set to "raise".
jax.config.update("jax_numpy_rank_promotion", "raise")

# The test processes (pytest-xdist's workers, and the processes tests start) share compiled
# programs through JAX's persistent compilation cache, in a folder of the clone that git ignores:
# a program two of them need is compiled once. Results do not depend on it (tests/base/
# test_cache.py checks that a program read back gives the same bits); delete the folder to time
# compilation from scratch.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".test-xla-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs",
                  float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))


@pytest.fixture(scope="session")
def grid_fit():
    """The published replication, fitted once per session (see helpers.chinchilla_grid_fit)."""
    return chinchilla_grid_fit()
