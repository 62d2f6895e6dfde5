"""Words for messages: the closest of some names to a misspelt one."""

from __future__ import annotations

import difflib


def closest(name, names) -> str:
    """" (did you mean 'x'?)" for the closest of `names` to `name`, or "" when none is close."""
    match = difflib.get_close_matches(str(name), [str(n) for n in names], n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""
