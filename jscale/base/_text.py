"""Words for messages: the closest of some names to a misspelt one."""

from __future__ import annotations

import difflib


def closest(name, names) -> str:
    """" (did you mean 'x'?)" for the closest of `names` to `name`, or "" when none is close."""
    match = difflib.get_close_matches(str(name), [str(n) for n in names], n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def values_text(values) -> str:
    """"(1e+08, 2e+10)": a cell of a sweep (or any few numbers) by its values, 3 significant digits."""
    return "(" + ", ".join(f"{v:.3g}" for v in values) + ")"
