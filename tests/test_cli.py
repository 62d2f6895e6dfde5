"""The command line and the quick-start example, run in-process on the bundled and tiny data."""

import sys
from pathlib import Path

import numpy as np
import pytest

from jscale import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_fit_prints_summary_and_allocation(capsys):
    assert cli.main(["fit", "--budgets", "1e21", "5.76e23"]) == 0
    out = capsys.readouterr().out
    assert "bundled dataset 'chinchilla', 240 rows" in out
    for name in ("E", "A", "B", "alpha", "beta"):
        assert f"\n  {name} " in out
    assert "objective     0.00101827" in out
    assert "Compute-optimal allocation" in out and "5.76e+23" in out


def test_fit_reads_a_csv(tmp_path, capsys):
    n, d = np.meshgrid(np.logspace(7, 10, 4), np.logspace(8, 11, 4))
    loss = 1.7 + 400 / n**0.33 + 1500 / d**0.29
    path = tmp_path / "runs.csv"
    path.write_text("N,D,loss\n" + "".join(f"{float(a)!r},{float(b)!r},{float(c)!r}\n" for a, b, c in zip(n.ravel(), d.ravel(), loss.ravel())))
    assert cli.main(["fit", str(path), "--loss", "squared", "--budgets", "1e21"]) == 0
    out = capsys.readouterr().out
    assert "16 rows" in out and "alpha" in out and "0.33" in out


def test_bad_input_is_one_line_on_stderr(tmp_path, capsys):
    assert cli.main(["fit", "no-such-dataset"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jscale: 'no-such-dataset' is neither a bundled dataset") and "Traceback" not in err
    path = tmp_path / "bad.csv"
    path.write_text("N,D,loss\n1e9,1e10,abc\n")
    assert cli.main(["fit", str(path)]) == 2
    assert "not a number" in capsys.readouterr().err


def test_datasets_command(capsys):
    assert cli.main(["datasets"]) == 0
    assert "chinchilla" in capsys.readouterr().out.split()


def test_quickstart_example_runs(capsys):
    sys.path.insert(0, str(EXAMPLES))
    try:
        import quickstart
    finally:
        sys.path.remove(str(EXAMPLES))
    result = quickstart.main(every=50)
    out = capsys.readouterr().out
    assert "compute-optimal at 5.76e23 FLOP" in out
    assert result.n_starts == 90


def test_epoch_bootstrap_example_runs(capsys):
    sys.path.insert(0, str(EXAMPLES))
    try:
        import epoch_bootstrap
    finally:
        sys.path.remove(str(EXAMPLES))
    boot = epoch_bootstrap.main(n_resamples=50, every=50)
    out = capsys.readouterr().out
    assert "D*/N* at 5.76e+23" in out and "95% percentile interval" in out
    assert boot.n_resamples == 50


def test_allocation_curves_example_runs(capsys, tmp_path):
    sys.path.insert(0, str(EXAMPLES))
    try:
        import allocation_curves
    finally:
        sys.path.remove(str(EXAMPLES))
    out = tmp_path / "allocation.png"
    curves = allocation_curves.main(n_resamples=50, every=50, out=str(out))
    text = capsys.readouterr().out
    assert "5.76e+23" in text and "95% band of N*" in text
    assert curves.n_params.shape == (60,) and curves.draws_of("n_params").shape == (50, 60)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert out.stat().st_size > 10_000


def _example(name):
    sys.path.insert(0, str(EXAMPLES))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(EXAMPLES))


def test_data_constrained_example_runs(capsys):
    fit, boot, best = _example("data_constrained").main(n_resamples=30)
    out = capsys.readouterr().out
    assert "25e9 unique tokens" in out and boot.n_resamples == 30
    assert abs(best.n_params[0] / 7.022364735879969e9 - 1) < 0.01


@pytest.mark.slow
def test_many_curves_example_runs(capsys):
    from helpers import shared_data_dir

    root = shared_data_dir()
    path = None if root is None else root / "revisiting_scaling_benchmark" / "benchmark.lang.csv"
    if path is None or not path.exists():
        pytest.skip("shared/data/revisiting_scaling_benchmark is not present")
    scores = _example("many_curves").main(path)
    assert len(scores["power law"]) == 20 and "mean RMSE" in capsys.readouterr().out
