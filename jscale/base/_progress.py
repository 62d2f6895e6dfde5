"""What a long call is doing, on stderr: a status line for one wait, a bar for many calls.

Library calls stay silent unless asked (`progress=True`); the `jscale` command asks unless
given `--quiet`. Nothing here touches stdout, so tables printed there stay clean.
"""

from __future__ import annotations

import contextlib
import sys
import time


@contextlib.contextmanager
def status(message: str, show: bool):
    """Says `message` on stderr while the block runs (a spinner on a terminal, one line
    otherwise), then how long it took."""
    if not show:
        yield
        return
    start = time.perf_counter()
    if sys.stderr.isatty():
        from rich.console import Console

        with Console(stderr=True).status(message):
            yield
    else:
        print(f"{message} ...", file=sys.stderr, flush=True)
        yield
    print(f"{message}: done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


def bar(label: str, show: bool):
    """A rich progress bar on stderr (rich comes with flax), or None."""
    if not show:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)
