"""The result files the commands read: which command reads which kind of result, and for a kind a
command cannot use, which command (or Python call) does.

`jscale fit` writes a fit or a bootstrap of one law (result.jscale) or several forms of a law
(forms.jscale, an Ensemble); `jscale isoflop` writes an isoFLOP sweep (result.jscale); Python's
`jscale.save` also writes envelope sweeps and two-stage predictions.
"""

from __future__ import annotations

import os

from jscale.cli._process import UserError

# What each kind of result file holds, and what writes it.
KINDS = {
    "FitResult": "a fit of one law (`jscale fit --resamples 0`)",
    "BootstrapResult": "a bootstrapped fit of one law (`jscale fit`)",
    "IsoFLOPResult": "an isoFLOP sweep's power laws N*(C), D*(C), L*(C) (`jscale isoflop`)",
    "EnvelopeResult": "an envelope sweep's power laws N*(C), D*(C), L*(C) (jscale.envelope)",
    "Ensemble": "several forms of a law and their mixture (`jscale fit --law A --law B`)",
    "TwoStage": "a two-stage prediction of a metric (jscale.two_stage)",
}
FITS = ("FitResult", "BootstrapResult")
SWEEPS = ("IsoFLOPResult", "EnvelopeResult")
# The kinds each command reads.
READS = {
    "allocate": (*FITS, *SWEEPS, "Ensemble"),
    "predict": (*FITS, "Ensemble"),
    "plot": (*FITS, *SWEEPS, "Ensemble"),
    "compare": FITS,
    "plan isoflop": (*FITS, *SWEEPS),
}


def _instead(command: str, kind: str, path: str) -> str:
    """What to do with a result of `kind` that `jscale command` does not read."""
    if kind == "TwoStage":
        return "no command reads it: jscale.load in Python does (its predict and summary)"
    if kind in SWEEPS and command == "predict":
        return (f"a sweep gives N*, D* and L* at compute budgets, not the loss of a given N and D: `jscale allocate "
                f"{path}` prints them")
    if kind in SWEEPS:
        return (f"`jscale {command}` takes fits of a law: `jscale allocate {path}` prints this sweep's N*, D* and L*, "
                "and `jscale fit` on its runs gives a fit")
    if command == "compare":
        return (f"`jscale compare` takes two fits of one law each: `jscale allocate {path}` prints the forms' "
                "mixture, and `jscale fit --law NAME` gives one form's fit to compare")
    return (f"`jscale allocate {path}` prints the forms' mixture of N*(C); centre the sweep on one form's fit "
            "(`jscale fit --law NAME`, then --result), or on --law with --params")


def saved(path: str, command: str | None = None):
    """The result in a file that `jscale fit`, `jscale isoflop` or `jscale.save` wrote; any failure
    to read it (a damaged or crafted file) is the user's error, reported on one line. With
    `command`, a kind the command does not read is refused, naming the command that does."""
    import jscale

    if not os.path.exists(path):
        raise UserError(f"'{path}' does not exist; write one with `jscale fit --out DIR` (DIR/result.jscale).")
    if not os.path.isfile(path):
        kind = "a folder" if os.path.isdir(path) else "not a regular file (a pipe, socket or device)"
        raise UserError(f"'{path}', given as a result file, is {kind}; give a file.")
    try:
        result = jscale.load(path)
    except (UserError, ValueError, OSError):
        raise
    except Exception as err:  # noqa: BLE001 - whatever a damaged file makes the reader raise
        raise UserError(f"'{path}' is not a readable jscale result file ({described(err)}); write it again with "
                        "`jscale fit --out DIR`.") from err
    kind = type(result).__name__
    if command is not None and kind not in READS[command]:
        raise UserError(f"'{path}' holds {KINDS.get(kind, kind)}, which `jscale {command}` does not read; "
                        f"{_instead(command, kind, path)}.")
    return result


def first_line(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        return f"{err.strerror}: '{err.filename}'."
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def described(err: BaseException) -> str:
    line = first_line(err)
    line = line if len(line) <= 200 else line[:199] + "…"
    return type(err).__name__ if line == type(err).__name__ else f"{type(err).__name__}: {line}"
