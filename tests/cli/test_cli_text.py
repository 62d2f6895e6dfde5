"""The library's advice in command-line words: no warning or summary a command prints suggests a
Python keyword or function it lacks (`n_resamples=1000`, `starts='grid'`, `jscale.backtest`), and
each finding is printed once however many calls found it."""

import ast
import re
from pathlib import Path

import numpy as np
import pytest

import jscale
from jscale import cli
from jscale.cli import _text

PACKAGE = Path(jscale.__file__).parent
# Python left in a printed line: a keyword argument given as advice, or a call of the library.
PYTHON = re.compile(r"\b(?:n_resamples|starts|max_steps|key|level|target|columns|fixed|rtol|unit)=|"
                    r"\bjscale\.[a-z_]+(?:\.[A-Za-z_]+)*")


def _library_text() -> list[str]:
    """Every string the library's modules (outside the command line) hold, f-strings with their
    fields as 'X'."""
    texts = []
    for path in PACKAGE.rglob("*.py"):
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts.append(node.value)
            elif isinstance(node, ast.JoinedStr):
                texts.append("".join(v.value if isinstance(v, ast.Constant) else "X" for v in node.values))
    return texts


def test_every_translated_phrase_is_still_the_librarys():
    """A phrase reworded in the library would slip through untranslated: each pattern must still
    match the library's text."""
    texts = _library_text()
    stale = {pattern for pattern, _, _ in _text._ADVICE if not any(re.search(pattern, t) for t in texts)}
    assert not stale, stale


FIT = ("--starts", "--max-steps", "--resamples", "--law", "--target", "--rtol", "--columns")


@pytest.mark.parametrize("library, flags, words", [
    ("0 starts converged. Try more starts or a larger solver max_steps.", FIT,
     "0 starts converged. Try more --starts or a larger --max-steps."),
    ("0 starts converged. Try more starts or a larger solver max_steps.", ("--starts",),
     "0 starts converged. Try more --starts."),
    ("0 starts converged. Try more starts or a larger solver max_steps.", (), "0 starts converged."),
    ("the intervals are biased. Try starts='grid' or a larger solver max_steps.", FIT,
     "the intervals are biased. Try --starts grid or a larger --max-steps."),
    ("are rough; use n_resamples=1000 or more for results to report.", FIT,
     "are rough; use --resamples 1000 or more for results to report."),
    ("are rough; use n_resamples=1000 or more for results to report.", (),
     "are rough; use more resamples for results to report."),
    ("curvature intervals are undefined (NaN); use jscale.bootstrap.", FIT,
     "curvature intervals are undefined (NaN); a bootstrap (--resamples B) gives bands."),
    ("Extrapolation error grows with distance; jscale.backtest measures it on the data you have.", FIT,
     "Extrapolation error grows with distance."),
    ("fit a data-constrained law (jscale.laws.DataConstrained) or keep", FIT,
     "fit a data-constrained law (--law data-constrained) or keep"),
    ("3 runs are within rtol=0.1 of no budget: left out", FIT, "3 runs are within --rtol 0.1 of no budget: left out"),
    ("at 1 of 2 points: 1e+308 (nonfinite). Their values are not answers (`status` says which; table() marks them).",
     (), "at 1 of 2 points: 1e+308 (nonfinite). Their values are not answers (the status column marks them)."),
    ("Pass target='<column>' to fit another column, or name the loss column with columns={'loss': '<header>'}.",
     FIT, "Pass --target COLUMN to fit another column, or name the loss column with --columns loss=HEADER."),
    ("Pass target='<column>' to fit another column, or name the loss column with columns={'loss': '<header>'}.",
     ("--columns",), "Name the loss column with --columns loss=HEADER."),
    ("A fit of log residuals (residual='log') reads it in log space", FIT + ("--residual",),
     "A fit of log residuals (--residual log) reads it in log space"),
    ("A fit of log residuals (residual='log') reads it in log space", FIT,
     "A fit of log residuals reads it in log space"),
])
def test_advice_in_the_words_of_the_command(library, flags, words):
    assert _text.cli_text(library, flags) == words
    assert not PYTHON.search(words)


def _write(path: Path, data) -> Path:
    path.write_text("N,D,loss\n" + "".join(f"{n!r},{d!r},{v!r}\n" for n, d, v in
                                           zip(data.n_params.tolist(), data.n_tokens.tolist(), data.loss.tolist())))
    return path


def _runs():
    rng = np.random.default_rng(0)
    n = np.repeat(np.logspace(7.5, 9.5, 5), 4)
    d = n * np.tile([5.0, 15.0, 40.0, 100.0], 5)
    loss = (1.82 + 482 * n**-0.348 + 2085 * d**-0.366) * np.exp(rng.normal(0, 0.01, n.size))
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss)


def test_a_fit_prints_no_python_and_each_finding_once(tmp_path, capsys):
    runs = _write(tmp_path / "runs.csv", _runs())
    # Few steps: the optimiser stops early; budgets beyond the runs: the allocation extrapolates.
    assert cli.main(["fit", "--no-cache", str(runs), "--starts", "3", "--max-steps", "3", "--resamples", "0",
                     "--compute", "1e24", "--out", "none", "--quiet"]) == 0
    captured = capsys.readouterr()
    said = captured.err.splitlines()
    assert any("Try more --starts or a larger --max-steps." in line for line in said), said
    assert any(line.endswith("Extrapolation error grows with distance.") for line in said), said
    # A bootstrap of few resamples: its notes, in the summary, name --resamples.
    assert cli.main(["fit", "--no-cache", str(runs), "--starts", "3", "--resamples", "8", "--compute", "1e24",
                     "--out", "none", "--quiet"]) == 0
    second = capsys.readouterr()
    assert "use --resamples 1000 or more for results to report" in second.out
    for text in (captured.out, captured.err, second.out, second.err):
        assert not PYTHON.search(text), PYTHON.search(text)
    assert len(said) == len(set(said))


def _sweep():
    """7 sizes around the optimum at each of 5 budgets, 0.2% noise."""
    rng = np.random.default_rng(0)
    rows = []
    for c in np.geomspace(1e18, 1e21, 5):
        grid = np.geomspace(1e6, 1e12, 4000)
        best = grid[np.argmin(406.4 / grid**0.34 + 410.7 / (c / (6 * grid)) ** 0.28)]
        rows += [(n, c / (6 * n)) for n in best * np.geomspace(0.5, 2, 7)]
    n, d = map(np.array, zip(*rows))
    loss = (1.69 + 406.4 / n**0.34 + 410.7 / d**0.28) * np.exp(rng.normal(0, 0.002, n.size))
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss)


def test_the_fits_and_the_bootstraps_findings_are_said_once(tmp_path, capsys):
    """Before, `jscale plan next` (as `jscale isoflop --law`) printed the fit's and its bootstrap's
    correlation finding twice (their figures differ), and advised n_resamples=1000."""
    runs = _write(tmp_path / "runs.csv", _sweep())
    assert cli.main(["plan", "next", "--no-cache", str(runs), "--starts", "3", "--resamples", "50", "--compute",
                     "1e21", "--budget", "1e20", "--n", "1", "--quiet"]) == 0
    err = capsys.readouterr().err
    said = [line for line in err.splitlines() if "Strongly correlated parameters" in line]
    assert len(said) == 1, err
    assert "use --resamples 1000 or more" in err and not PYTHON.search(err), err


def test_library_notice_of_compilation_is_left_to_the_commands(monkeypatch):
    """The library's one-line notice names a Python call; the commands say what they do themselves."""
    import os

    seen = []
    monkeypatch.delenv("JSCALE_QUIET", raising=False)
    monkeypatch.setattr(cli, "_main", lambda argv, command: seen.append(os.environ.get("JSCALE_QUIET")) or 0)
    assert cli.main(["datasets"]) == 0 and seen == ["1"] and "JSCALE_QUIET" not in os.environ
    monkeypatch.setenv("JSCALE_QUIET", "0")  # the user's choice stands
    assert cli.main(["datasets"]) == 0 and seen[-1] == "0"
