"""`jscale plan next` (and `jscale plan isoflop` beside it), run in-process on 30 simulated runs."""

import csv
import io
import sys
import warnings

import numpy as np
import pytest

import jscale
from jscale import cli

COLUMNS = "N=size,D=seen,L=metric"
STARTS = "8"  # a few of the grid's starts: enough for exact-law data, and quick
BUDGET = 1e21


def main(argv):
    """`jscale plan ...` in-process, without the persistent cache (see tests/cli/test_cli.py)."""
    return cli.main(["plan", argv[0], "--no-cache", *argv[1:]])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """30 runs (5 sizes x 6 token counts) of Epoch's Chinchilla law with 1% noise, as a CSV whose
    headers need --columns."""
    rng = np.random.default_rng(0)
    n, d = (a.ravel() for a in np.meshgrid(np.geomspace(2e7, 1e9, 5), np.geomspace(4e8, 4e10, 6), indexing="ij"))
    loss = (1.82 + 482 / n**0.348 + 2085 / d**0.366) * np.exp(rng.normal(0.0, 0.01, n.size))
    path = tmp_path_factory.mktemp("runs") / "runs.csv"
    path.write_text("size,seen,metric\n" + "".join(f"{a!r},{b!r},{c!r}\n" for a, b, c in
                                                   zip(n.tolist(), d.tolist(), loss.tolist())))
    return path


def _library_fit(path):
    """The fit `jscale plan next` makes of the runs, made with the library."""
    law = jscale.laws.Chinchilla()
    data = jscale.ScalingData.from_csv(path, columns=cli._columns([COLUMNS]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        return law, data, jscale.fit(law, data, starts=cli._starts(STARTS, law))


def _printed_runs(out: str) -> np.ndarray:
    """(K, 5) the rows of the printed table: n_params, n_tokens, cost, variance removed, cumulative."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:3] == ["#", "n_params", "n_tokens"])
    return np.array([[float(v) for v in line.split()[1:]] for line in lines[start + 1:] if line.strip()])


def _written_runs(path) -> tuple[list[str], np.ndarray]:
    with open(path, newline="") as file:
        rows = list(csv.reader(file))
    return rows[0], np.array([[float(v) for v in row] for row in rows[1:]])


@pytest.fixture(scope="module")
def issue_command(runs, tmp_path_factory):
    """The issue's command, with 16 resamples; (exit status, stdout, stderr, the --out file)."""
    out = tmp_path_factory.mktemp("plan") / "next.csv"
    capture = pytest.MonkeyPatch()  # capsys is per test; this output is read by two
    stdout, stderr = io.StringIO(), io.StringIO()
    capture.setattr(sys, "stdout", stdout)
    capture.setattr(sys, "stderr", stderr)
    try:
        code = main(["next", str(runs), "--columns", COLUMNS, "--starts", STARTS, "--resamples", "16",
                     "--target", "n_params", "--compute", "1e24", "--budget", str(BUDGET), "--n", "8",
                     "--out", str(out)])
    finally:
        capture.undo()
    return code, stdout.getvalue(), stderr.getvalue(), out


def test_plan_next_prints_n_runs_within_the_budget(issue_command):
    code, out, err, _ = issue_command
    assert code == 0, err
    assert "Data: " in out and "30 runs; the chinchilla law from 8 starts, uncertainty from 16 resamples" in out
    assert "n_params at C = 1e+24" in out and "bootstrap draws" in out
    assert "after 8 runs costing " in out and f"of {BUDGET:.3g}" in out
    table = _printed_runs(out)
    assert table.shape == (8, 5)
    cost, cumulative = table[:, 2], table[:, 4]
    np.testing.assert_allclose(cost, 6 * table[:, 0] * table[:, 1], rtol=5e-3)  # printed to 3 or 4 digits
    assert np.all(np.diff(cumulative) > 0) and cumulative[-1] <= BUDGET
    assert "Fitting 8 starts to 30 rows" in err and "Choosing up to 8 runs" in err  # progress on stderr
    assert "Traceback" not in err


def test_plan_next_out_writes_the_same_runs(issue_command, runs):
    code, out, err, path = issue_command
    assert code == 0, err
    header, written = _written_runs(path)
    assert header == ["n_params", "n_tokens", "compute", "variance_removed", "cumulative_cost"]
    printed = _printed_runs(out)
    np.testing.assert_allclose(written, printed, rtol=5e-3)  # the table prints 3 or 4 digits
    np.testing.assert_allclose(written[:, 2], 6 * written[:, 0] * written[:, 1], rtol=1e-9)
    np.testing.assert_allclose(written[:, 4], np.cumsum(written[:, 2]), rtol=1e-12)
    assert written[-1, 4] <= BUDGET
    assert f"wrote {path}" in err
    assert [p.name for p in path.parent.iterdir()] == ["next.csv"]  # no part file left beside it
    # The same runs as the library's, from the same fit and bootstrap (--seed 0, 16 resamples).
    law, data, fit = _library_fit(runs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        boot = jscale.bootstrap(law, data, n_resamples=16, key=0, full_fit=fit, jackknife=False)
        plan = jscale.suggest_runs(boot, quantity="n_params", compute=1e24, budget=BUDGET, n=8)
    np.testing.assert_allclose(written, np.column_stack([plan.n_params, plan.n_tokens, plan.cost_of_runs,
                                                         plan.reduction, plan.cumulative_cost]), rtol=1e-9)


def test_plan_next_curvature_loss_at_a_point(runs, tmp_path, capsys):
    """--resamples 0 (the curvature), --target loss --n-params N --n-tokens D, --budgets, --max-repeats, --n: the
    library's plan for the same options."""
    out = tmp_path / "loss.csv"
    argv = ["next", str(runs), "--columns", COLUMNS, "--starts", STARTS, "--resamples", "0", "--target", "loss",
            "--n-params", "7e10", "--n-tokens", "1.4e12", "--budget", "2e20", "--budgets", "1e19", "1e20", "--n", "5",
            "--max-repeats", "1", "--level", "0.9", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "90% interval of the loss at N = 7e+10, D = 1.4e+12" in captured.out
    assert "uncertainty from the fit's curvature" in captured.out and "curvature (Laplace)" in captured.out
    assert all(line.startswith("warning: ") for line in captured.err.splitlines()), captured.err  # --quiet
    _, written = _written_runs(out)
    _, _, fit = _library_fit(runs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        plan = jscale.suggest_runs(fit, quantity="loss", n_params=7e10, n_tokens=1.4e12, budgets=[1e19, 1e20],
                                   budget=2e20, n=5, max_repeats=1)
    assert 1 <= len(plan.n_params) <= 5 and plan.cumulative_cost[-1] <= 2e20
    np.testing.assert_allclose(written, np.column_stack([plan.n_params, plan.n_tokens, plan.cost_of_runs,
                                                         plan.reduction, plan.cumulative_cost]), rtol=1e-9)
    assert len({(n, d) for n, d in written[:, :2]}) == len(written)  # --max-repeats 1: no run twice
    assert _printed_runs(captured.out).shape == (len(written), 5)


def test_plan_next_argument_errors_exit_2_before_any_work(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "_use_all_cores", lambda: pytest.fail("the command started work"))
    base = ["next", str(runs), "--columns", COLUMNS]
    target = ["--compute", "1e24", "--budget", "1e21"]
    cases = [
        ([*base, "--budget", "1e21"], "needs a target: --compute C"),
        ([*base, *target, "--n-params", "1e9", "--n-tokens", "1e10", "--target", "loss"],
         "--compute and --n-params/--n-tokens name two targets"),
        ([*base, "--n-params", "1e9", "--n-tokens", "1e10", "--budget", "1e21"], "add --target loss (got --target n_"),
        ([*base, "--n-params", "1e9", "--target", "loss", "--budget", "1e21"], "give --n-tokens too"),
        ([*base, "--compute", "0", "--budget", "1e21"], "--compute takes a positive finite number; got 0.0"),
        ([*base, "--compute", "1e24", "--budget", "-1"], "--budget takes a positive finite number; got -1.0"),
        ([*base, "--compute", "1e24", "--budget", "inf"], "--budget takes a positive finite number; got inf"),
        ([*base, "--target", "loss", "--n-params", "1e9", "--n-tokens", "nan", "--budget", "1e21"],
         "--n-tokens takes a positive finite number"),
        ([*base, *target, "--budgets", "1e20", "0"], "--budgets takes positive finite numbers"),
        ([*base, *target, "--budgets", "1e22", "1e23"], "Every --budgets value is above --budget 1e+21"),
        ([*base, *target, "--resamples", "2"], "--resamples takes 0 (the fit's curvature) or at least 3"),
        ([*base, *target, "--resamples", "-1"], "--resamples takes 0"),
        ([*base, *target, "--n", "0"], "--n takes a positive whole number; got 0"),
        ([*base, *target, "--max-repeats", "0"], "--max-repeats takes a positive whole number; got 0"),
        ([*base, *target, "--seed", "-1"], "--seed takes a whole number"),
        ([*base, *target, "--starts", "none"], "--starts must be 'grid' or a positive number"),
        ([*base, *target, "--delta", "0"], "--delta takes a finite number above 0"),
        ([*base, *target, "--level", "95"], "--level takes a number between 0 and 1"),
        ([*base, *target, "--law", "data-constrained"], "needs a law of those two alone"),
        ([*base, *target, "--law", "power-law:compute"], "--law power-law:compute reads compute"),
        ([*base, *target, "--out", str(tmp_path)], "exists and is not a file"),
        ([*base, *target, "--out", str(tmp_path / "missing" / "next.csv")], "does not exist"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        err = captured.err
        assert err.startswith("jscale: ") and message in err and "Traceback" not in err, (argv, err)
        assert len(err.strip().splitlines()) == 1 and captured.out == "", argv
    # argparse's own errors: one line, status 2.
    for argv, message in [([*base, "--compute", "1e24"], "required: --budget"),
                          ([*base, *target, "--target", "N"], "invalid choice: 'N'"),
                          (["next", "--compute", "1e24", "--budget", "1e21"], "required: data")]:
        with pytest.raises(SystemExit) as stop:
            main(argv)
        err = capsys.readouterr().err
        assert stop.value.code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_plan_next_data_errors_exit_2_before_fitting(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(jscale, "fit", lambda *args, **kwargs: pytest.fail("the command fitted"))
    target = ["--compute", "1e24", "--budget", "1e21"]
    cases = [
        (["next", str(runs), *target], "the data has no n_params column; name it with --columns n_params=HEADER"),
        (["next", str(tmp_path / "missing.csv"), *target], "is neither a bundled dataset"),
        (["next", str(runs), "--columns", "N=size,D=seen,L=nothing", *target], "nothing"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("jscale: ") and message in err and len(err.strip().splitlines()) == 1, (argv, err)
    assert not (tmp_path / "next.csv").exists()


def test_plan_isoflop_still_works(capsys):
    params = "E=1.82,A=482,B=2085,alpha=0.348,beta=0.366"
    assert main(["isoflop", "--budgets", "1e20", "1e21", "--params", params, "--n-sizes", "3", "--format", "csv"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0] == "budget,n_params,n_tokens,compute" and len(rows) == 7
    assert main(["isoflop", "--budgets", "1e20", "--params", params]) == 0
    assert "1e+20" in capsys.readouterr().out
    assert main(["isoflop", "--budgets", "1e20"]) == 2
    assert "--result" in capsys.readouterr().err


def test_common_options_before_or_after_the_kind():
    parser = cli._parser()
    for argv, quiet, no_cache in [(["plan", "--quiet", "isoflop", "--budgets", "1e20"], True, False),
                                  (["plan", "isoflop", "--quiet", "--budgets", "1e20"], True, False),
                                  (["plan", "--no-cache", "next", "r.csv", "--budget", "1"], False, True),
                                  (["plan", "next", "r.csv", "--budget", "1", "--no-cache"], False, True),
                                  (["plan", "next", "r.csv", "--budget", "1"], False, False)]:
        args = parser.parse_args(argv)
        assert (args.quiet, args.no_cache) == (quiet, no_cache), argv


def test_plan_help_names_every_argument():
    plan = cli._parser()._subparsers._group_actions[0].choices["plan"]
    kinds = plan._subparsers._group_actions[0].choices
    assert set(kinds) == {"isoflop", "next"}
    for parser in (plan, *kinds.values()):
        for arg in parser._actions:
            assert arg.help, (parser.prog, arg.dest)
    text = " ".join(kinds["next"].format_help().split())
    assert "the quantity the runs should pin down (jscale.suggest_runs' quantity)" in text
    assert "`jscale plan next` picks the runs" in " ".join(cli._parser().format_help().split())
    assert "jscale plan next runs.csv --target n_params --compute 1e24 --budget 1e21 --n 8" in cli.__doc__
