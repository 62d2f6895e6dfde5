"""JAX's persistent compilation cache, switched on by one call (the `jscale` command does it).

A first fit spends most of its time compiling; with the cache on, each program is compiled
once per machine (and per JAX version, device kind and setting) and read back from disk in
later processes. jscale never turns it on at import: that would change JAX's global
configuration for the whole program.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CACHE_ENV = "JSCALE_CACHE_DIR"
# Every program gets a file (JAX's default keeps only those compiling in over 1 s): reading
# one back takes about a tenth of compiling even the smallest, and a default job has dozens.
_MIN_COMPILE_SECONDS = 0.0


def default_cache_dir() -> Path:
    """Where `enable_compilation_cache()` keeps compiled programs by default.

    `$JSCALE_CACHE_DIR` if set; else the user's cache folder: `$XDG_CACHE_HOME/jscale/xla`
    (`~/.cache/jscale/xla`) on Linux, `~/Library/Caches/jscale/xla` on macOS,
    `%LOCALAPPDATA%\\jscale\\xla` on Windows.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "jscale" / "xla"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path:
    """Keeps compiled programs on disk, so later processes skip compilation (JAX's persistent
    compilation cache).

    Call it once, at the start of a program (before the first fit is best: JAX reads the
    setting when it first compiles, and a later call resets its cache to take the new folder).
    It changes JAX's global configuration (`jax_compilation_cache_dir` and the smallest compile
    time worth caching), which is why importing jscale never does it. The `jscale` command calls
    it unless given `--no-cache`.

    Args:
        path: the folder (created if missing); default `default_cache_dir()`.

    Returns:
        The folder used.

    Example:
        >>> import jscale
        >>> folder = jscale.enable_compilation_cache()   # doctest: +SKIP
    """
    import jax
    from jax.experimental.compilation_cache import compilation_cache

    folder = Path(path).expanduser() if path is not None else default_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"Cannot use {str(folder)!r} as the compilation cache folder: {err.strerror}.") from None
    if not os.access(folder, os.W_OK):
        raise ValueError(f"Cannot use {str(folder)!r} as the compilation cache folder: it is not writable.")
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", _MIN_COMPILE_SECONDS)
    compilation_cache.reset_cache()  # take the folder even if something compiled already
    return folder
