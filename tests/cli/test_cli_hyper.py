"""`jscale hyperparameters` on a CSV with unusual headers: end to end, and one line with exit 2 for bad input."""

import csv
import json

import numpy as np
import pytest

import jscale
from jscale import cli

pytestmark = pytest.mark.filterwarnings("ignore::jscale.warnings.DiagnosticWarning")
HEADERS = ["Params (M)", "toks", "peak LR", "val loss"]


@pytest.fixture(scope="module")
def sweep_csv(tmp_path_factory):
    """A learning-rate sweep (Step Law's lr*, 0.5% noise) written with its own header names."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("sweep") / "sweep.csv"
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADERS)
        for n in (1e8, 3e8, 1e9, 3e9):
            for d in (2e10, 1e11):
                best = 1.79 * n ** -0.713 * d ** 0.307
                for lr in best * np.logspace(-0.8, 0.7, 7):
                    loss = (1.7 + 400 / n ** 0.34 + 410 / d ** 0.28) * np.exp(0.08 * np.log(lr / best) ** 2)
                    out.writerow([n, d, lr, loss * np.exp(0.005 * rng.standard_normal())])
    return path


COLUMNS = ["--columns", "N=Params (M),D=toks,L=val loss"]


def test_hyperparameters_end_to_end(sweep_csv, tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(["hyperparameters", str(sweep_csv), *COLUMNS, "--over", "peak LR", "--cell", "7e9,2e12",
                     "--critical", "peak LR", "--resamples", "200", "--no-cache", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "8 of 8 cells used" in printed and "peak LR* = " in printed and "peak LR:n_params" in printed
    assert "Optimum at the cells asked for" in printed and "7e+09" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["over"] == ["peak LR"] and summary["scale"] == ["n_params", "n_tokens"]
    assert summary["exponents"]["peak LR"]["n_params"] == pytest.approx(-0.713, abs=0.03)
    assert summary["prediction"][0]["n_params"] == 7e9 and "peak LR_low" in summary["prediction"][0]
    back = jscale.load(out / "result.jscale")
    assert isinstance(back, jscale.results.HyperResult) and back.n_resamples == 200
    assert {p.name for p in out.iterdir()} >= {"result.jscale", "summary.json"}
    assert "critical peak LR (the largest within 1% of each cell's best loss" in printed
    assert "Critical peak LR at the cells asked for" in printed
    critical = summary["critical"]
    assert critical["method"] == "critical" and critical["tolerance"] == 0.01
    assert critical["prediction"][0]["peak LR"] > summary["prediction"][0]["peak LR"]


def test_hyperparameters_held_out(sweep_csv, tmp_path, capsys):
    out = tmp_path / "held"
    code = cli.main(["hyperparameters", str(sweep_csv), *COLUMNS, "--over", "peak LR", "--held-out", "n_params",
                     "--resamples", "0", "--no-cache", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "2 cells held out" in printed and "Better supported:" in printed
    held = json.loads((out / "summary.json").read_text())["held_out"]
    assert held["better"] in ("per-cell", "joint") and held["cells"]["n_params"] == [3e9, 3e9]


@pytest.mark.parametrize("args, message", [
    (["--over", "peak lr"], "did you mean 'peak LR'"),
    (["--over", "peak LR", "--cell", "7e9"], "--cell 7e9 has 1 value; --scale has 2 columns"),
    (["--over", "peak LR", "--cell", "7e9,x"], "--cell takes numbers"),
    (["--over", "peak LR,"], "--over takes column names"),
    (["--over", "n_params"], "must be different columns"),
    (["--over", "peak LR", "--critical", "batch"], "over must be one of 'peak LR'"),
    (["--over", "peak LR", "--held-out", "size"],
     "--held-out takes 'each' or one of the --scale columns (n_params, n_tokens)"),
])
def test_hyperparameters_bad_input_is_one_line_and_exit_2(sweep_csv, capsys, args, message):
    code = cli.main(["hyperparameters", str(sweep_csv), *COLUMNS, *args, "--resamples", "0", "--no-cache", "--out",
                     "none", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err


def test_hyperparameters_unknown_method_is_argparses_one_line(sweep_csv, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["hyperparameters", str(sweep_csv), "--over", "peak LR", "--method", "newton"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "invalid choice: 'newton'" in err[0]
