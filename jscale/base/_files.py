"""Files that writers killed mid-write left behind (shared by saving and the command line)."""

from __future__ import annotations

import os
from pathlib import Path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def abandoned(folder: Path, prefix: str) -> list[Path]:
    """What writers killed mid-write (SIGKILL, a power cut) left in `folder`: the entries named
    `prefix`, a process id and "-..." whose process is gone, sorted by name."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    pids = [name[len(prefix):].split("-", 1)[0] if name.startswith(prefix) else "" for name in names]
    return [Path(folder) / name for name, pid in zip(names, pids) if pid.isdigit() and not _alive(int(pid))]
