"""How the `jscale` process writes its outputs and ends: output folders written beside `--out`
and swapped in whole, and Ctrl-C or SIGTERM ending the command at once with nothing half-written.

Kept apart from `jscale.cli` (which parses and runs the commands): this is process state
(signal handlers, a watcher thread, the part being written), not command logic.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from jscale.base._files import abandoned

# What `jscale fit` and `jscale isoflop` write in an output folder: a folder holding anything
# else is not replaced (it may be the user's own).
OUTPUT_NAMES = ("result.jscale", "summary.json")
# The signals that end the command at once, their exit statuses and what is said.
_EXITS = {signal.SIGINT: (130, "interrupted"), signal.SIGTERM: (143, "terminated")}


class UserError(Exception):
    """A problem with the user's input: reported on one line, exit status 2."""


def is_bundled(name: str) -> bool:
    """Whether a data argument names a bundled dataset (not a file); UserError for a bare name
    that is both a bundled dataset and a file in this folder: refused, not guessed."""
    import jscale

    if name not in jscale.datasets.list():
        return False
    if os.path.lexists(name) and not os.path.isdir(name):
        raise UserError(f"'{name}' names both a bundled dataset and a file in this folder; write ./{name} for the "
                        "file, or rename the file to use the bundled dataset.")
    return True


def output_folder_path(text: str) -> Path:
    """The folder `--out text` names, absolute, if jscale may write it: a new folder whose nearest
    existing parent is a writable folder, or a folder of an earlier run (or an empty one), which
    is replaced whole; else UserError."""
    out = Path(os.path.abspath(text))
    if out.is_symlink():
        out = Path(os.path.realpath(out))
    cwd = Path.cwd()
    if not out.name or out == cwd or out in cwd.parents:
        raise UserError(f"--out {text} is the current folder or one above it, which jscale would replace; name a "
                        "folder of its own, e.g. --out jscale-out.")
    if out.exists():
        if not out.is_dir():
            raise UserError(f"--out {text} exists and is not a folder; choose another --out.")
        with os.scandir(out) as found:
            entries = list(found)
        foreign = [e.name for e in entries if not (e.is_file(follow_symlinks=False)
                                                   and (e.name in OUTPUT_NAMES or e.name.endswith(".png")))]
        if not foreign and entries and not any(e.name in OUTPUT_NAMES for e in entries):
            foreign = [entries[0].name]  # only images: perhaps the user's, not an earlier run's
        if foreign:
            raise UserError(f"--out {text} is a folder that jscale did not write (it holds '{sorted(foreign)[0]}'), "
                            "and jscale replaces the whole folder; choose another --out.")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"--out {text}: {parent} is not a folder; choose another --out.")
    for folder in (parent, out) if out.exists() else (parent,):
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UserError(f"--out {text}: no permission to write in {folder}; choose another --out.")
    return out


def file_path(text: str, flag: str = "--out", example: str = "an image file, e.g. --out plot.png") -> Path:
    """The file `flag text` names, if it can be written there (it is replaced whole); else UserError
    (`example` completes "name ...")."""
    path = Path(os.path.abspath(text))
    if os.path.exists(path) and not os.path.isfile(path):
        raise UserError(f"{flag} {text} exists and is not a file (a folder, pipe or device); name {example}.")
    if not path.parent.is_dir():
        raise UserError(f"{flag} {text}: the folder {path.parent} does not exist; create it or choose another {flag}.")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {text}: no permission to write in {path.parent}; choose another {flag}.")
    return path


def plot_path(text: str, flag: str = "--out") -> Path:
    """The image file `flag text` names (`jscale plot --out`, `jscale compare --plot`), if it can be
    written there in a format matplotlib writes; else UserError."""
    path = file_path(text, flag, f"an image file, e.g. {flag} plot.png")
    if path.suffix:
        try:
            from matplotlib.backend_bases import FigureCanvasBase
        except ImportError:
            return path  # said when the plot is drawn
        if path.suffix[1:].lower() not in FigureCanvasBase.get_supported_filetypes():
            raise UserError(f"{flag} {text}: cannot write '{path.suffix}' images; use one of "
                            f"{', '.join(sorted(FigureCanvasBase.get_supported_filetypes()))}.")
    return path


# What is being written and must not outlive an error or a signal: "part" (a file or folder
# written beside its final name), and while an output folder is swapped in, "aside" (the
# previous run, renamed away from "out"). The lock keeps the swap's two renames together.
_PENDING: dict = {}
_PENDING_LOCK = threading.RLock()
_EXITING = threading.Lock()


def remove_stale_parts(out: Path) -> None:
    """Folders that runs killed without a chance to clean up (SIGKILL, a power cut) left beside
    `out`: those whose process (named in the folder's name) is gone. A previous run set aside by
    a swap that was cut between its two renames goes back to `out`."""
    for entry in abandoned(out.parent, f".{out.name}.part-"):
        if entry.name.endswith("-previous") and not os.path.lexists(out):
            os.rename(entry, out)
        else:
            _remove(entry)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _discard_pending() -> None:
    """Removes the part being written, and puts back a previous run that a cut swap left aside."""
    locked = _PENDING_LOCK.acquire(timeout=5)
    try:
        part, aside, out = _PENDING.get("part"), _PENDING.get("aside"), _PENDING.get("out")
        if part is not None and os.path.lexists(part):
            _remove(part)
        if aside is not None and os.path.lexists(aside):
            if os.path.lexists(out):
                _remove(aside)
            else:
                os.rename(aside, out)
        _PENDING.clear()
    finally:
        if locked:
            _PENDING_LOCK.release()


@contextlib.contextmanager
def staging(part: Path):
    """Registers `part`, written beside its final name, to be removed if the block fails or a signal
    ends the command (the block renames it into place when it is complete)."""
    with _PENDING_LOCK:
        _PENDING.clear()
        _PENDING["part"] = part
    try:
        yield part
    finally:
        _discard_pending()


@contextlib.contextmanager
def output_folder(text: str):
    """An empty folder to write the outputs in, beside `--out text`; when the block completes it
    replaces `--out` whole (the previous run is renamed aside, this one renamed in, then the
    previous one removed), so the folder holds one complete run, never a mix of two."""
    out = output_folder_path(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(out)
    with staging(Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.part-{os.getpid()}-"))) as part:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(part, 0o777 & ~mask)  # mkdtemp's folder is private; the outputs are not
        yield part
        output_folder_path(text)  # nothing else appeared at --out while the command ran
        aside = None
        with _PENDING_LOCK:
            if os.path.lexists(out):
                aside = part.with_name(f"{part.name}-previous")
                os.rename(out, aside)
                _PENDING.update(aside=aside, out=out)
            os.rename(part, out)
        if aside is not None:
            _remove(aside)
            if os.path.lexists(aside):
                print(f"jscale: could not remove the previous run, renamed {aside}.", file=sys.stderr)


@contextlib.contextmanager
def exit_on_signals(keep: bool = False):
    """Ctrl-C (SIGINT) or SIGTERM, at any moment, ends the command at once with status 130 or 143,
    after removing a half-written output.

    Not through KeyboardInterrupt: raised while XLA compiles on its own threads, it unwinds into
    an interpreter shutdown that those threads crash (a segmentation fault), and Python runs a
    signal handler only between the main thread's bytecodes, which can sit in one compilation for
    seconds. So the signal also wakes a watcher thread (through `signal.set_wakeup_fd`), and
    whichever runs first ends the process with `os._exit`, skipping the shutdown. The previous
    handlers come back when the block ends, unless `keep` (the process is about to exit: a signal
    during its shutdown ends it the same way). Outside the main thread (where handlers cannot be
    set) nothing changes."""
    if threading.current_thread() is not threading.main_thread() or sys.platform == "win32":
        yield  # (Windows: no signal wakes a pipe there; Ctrl-C stays a KeyboardInterrupt)
        return
    read, write = os.pipe()
    os.set_blocking(write, False)
    wakeup = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    watcher = threading.Thread(target=_watch_signals, args=(read,), name="jscale-signals", daemon=True)
    watcher.start()
    previous = {}
    try:
        for signum in _EXITS:
            previous[signum] = signal.signal(signum, _on_signal)
        yield
    finally:
        if not keep:
            _restore_signals(previous, wakeup, watcher, read, write)


def _restore_signals(previous, wakeup, watcher, read, write) -> None:
    signal.set_wakeup_fd(wakeup)
    for signum, handler in previous.items():
        signal.signal(signum, signal.SIG_DFL if handler is None else handler)
    os.write(write, b"\0")  # no signal has number 0: tells the watcher to stop
    watcher.join()
    os.close(read)
    os.close(write)


def _watch_signals(read: int) -> None:
    while True:
        try:
            received = os.read(read, 64)
        except OSError:
            return
        for signum in received:
            if signum == 0:
                return
            if signum in _EXITS:
                _exit_now(signum)


def _on_signal(signum, frame):
    _exit_now(signum)


def _exit_now(signum: int) -> None:
    """Removes a half-written output, says why on stderr and ends the process (128 + signal)."""
    _EXITING.acquire()  # the second of the handler and the watcher waits here for the first to end it
    code, word = _EXITS[signum]
    with contextlib.suppress(Exception):
        _discard_pending()
    # In a thread: the main thread may hold a stream's lock (or be inside its write) when the signal comes.
    flush = threading.Thread(target=lambda: [s.flush() for s in (sys.stdout, sys.stderr) if s is not None],
                             daemon=True)
    flush.start()
    flush.join(1.0)
    with contextlib.suppress(OSError):
        # On a terminal: clear a spinner's line and show the cursor it hid.
        os.write(2, (("\r\x1b[2K\x1b[?25h" if os.isatty(2) else "") + f"jscale: {word}\n").encode())
    os._exit(code)
