"""The command line and the quick-start example, run in-process on the bundled and tiny data."""

import sys
from pathlib import Path

import numpy as np
import pytest

from jscale import cli

# The diagnostics these tests' fits raise and do not test (warnings are errors elsewhere).
pytestmark = [
    pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning"),
    pytest.mark.filterwarnings("ignore::jscale.warnings.ExtrapolationWarning"),
]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def main(argv):
    """`jscale ...` in-process, without the persistent cache (which would change this test
    process's JAX configuration); tests/base/test_cache.py runs the cache in fresh processes."""
    if argv and argv[0] in ("fit", "allocate", "predict", "plot"):
        argv = [argv[0], "--no-cache", *argv[1:]]
    return cli.main(argv)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """`jscale fit` on the bundled data, every 50th start, 60 resamples, outputs in a temporary folder."""
    out = tmp_path_factory.mktemp("fit")
    code = main(["fit", "--starts", "90", "--resamples", "60", "--compute", "1e21", "5.76e23", "--out", str(out),
                     "--quiet"])
    assert code == 0
    return out


def test_fit_writes_result_summary_and_plots(saved):
    import json

    import jscale

    names = {p.name for p in saved.iterdir()}
    assert {"result.jscale", "summary.json", "frontier.png", "isoflop.png", "allocation.png", "residuals.png",
            "corner.png"} <= names
    summary = json.loads((saved / "summary.json").read_text())
    assert summary["kind"] == "bootstrap" and summary["n_resamples"] == 60
    assert abs(summary["fit"]["params"]["alpha"] - 0.3473) < 1e-3
    assert isinstance(jscale.load(saved / "result.jscale"), jscale.results.BootstrapResult)


def test_fit_prints_summary_and_allocation(capsys, tmp_path):
    assert main(["fit", "--starts", "90", "--resamples", "0", "--compute", "1e21", "5.76e23",
                     "--out", "none"]) == 0
    out = capsys.readouterr().out
    assert "bundled dataset 'chinchilla', 240 rows" in out
    for name in ("E", "A", "B", "alpha", "beta"):
        assert f"\n  {name} " in out
    assert "objective     0.00101827" in out
    assert "Compute-optimal allocation" in out and "5.76e+23" in out


def test_fit_reads_a_csv_with_named_columns(tmp_path, capsys):
    n, d = np.meshgrid(np.logspace(7, 10, 4), np.logspace(8, 11, 4))
    loss = 1.7 + 400 / n**0.33 + 1500 / d**0.29
    path = tmp_path / "runs.csv"
    rows = "".join(f"{float(a)!r},{float(b)!r},{float(c)!r}\n" for a, b, c in zip(n.ravel(), d.ravel(), loss.ravel()))
    path.write_text("size,seen,metric\n" + rows)
    args = ["fit", str(path), "--columns", "N=size,D=seen,L=metric", "--loss", "squared", "--starts", "300",
            "--resamples", "0", "--compute", "1e21", "--out", "none"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "16 rows" in out and "alpha" in out and "0.33" in out


def test_allocate_predict_and_plot_commands(saved, capsys, tmp_path):
    import json

    result = str(saved / "result.jscale")
    assert main(["allocate", result, "--compute", "1e21", "5.76e23", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and rows[1]["n_params_low"] < rows[1]["n_params"] < rows[1]["n_params_high"]
    assert main(["allocate", result, "--range", "1e20", "1e24", "5", "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 6
    assert main(["predict", result, "--n-params", "7e10", "--n-tokens", "1.4e12"]) == 0
    assert "loss_low" in capsys.readouterr().out
    png = tmp_path / "corner.png"
    assert main(["plot", result, "--kind", "corner", "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000


def test_several_forms_refuse_a_repeated_form_and_no_bootstrap(capsys):
    for argv, message in ((["--law", "kaplan", "--law", "kaplan"], "names a form twice"),
                          (["--law", "chinchilla", "--law", "kaplan", "--resamples", "0"], "--resamples 0 does not")):
        assert main(["fit", *argv, "--out", "none"]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.slow  # ~17 s, all compilation; Ensemble's pieces are tested in test_forms.py
def test_fit_of_several_forms(capsys, tmp_path):
    """`jscale fit --law chinchilla --law kaplan`: the forms' summary, the mixture's allocation with
    the share from the forms, forms.jscale (an Ensemble) and summary.json; the allocate command
    prints the same mixture from forms.jscale."""
    import json

    import jscale

    out = tmp_path / "forms"
    assert main(["fit", "--law", "chinchilla", "--law", "kaplan", "--starts", "10", "--resamples", "4", "--compute",
                 "1e22", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "forms chinchilla, kaplan" in printed and "form tests" in printed and "from forms" in printed
    forms = jscale.load(out / "forms.jscale")
    assert isinstance(forms, jscale.results.Ensemble) and forms.forms == ("chinchilla", "kaplan")
    summary = json.loads((out / "summary.json").read_text())
    row = summary["allocation"][0]
    assert row["compute"] == 1e22 and row["n_params_low"] <= row["n_params_high"]
    np.testing.assert_allclose(summary["point_weights"], forms.point_weights)
    assert summary["score"] == "held-out+trend" and np.all(np.asarray(summary["charges"]) >= 0)
    np.testing.assert_allclose(summary["charges"], forms.charges)
    # allocate reads the forms' mixture (test_cli_results.py checks it against the library's).
    assert main(["allocate", str(out / "forms.jscale"), "--compute", "1e22", "--format", "json"]) == 0
    (mixed,) = json.loads(capsys.readouterr().out)
    assert mixed["n_params"] == pytest.approx(row["n_params"]) and mixed["n_params_low"] == pytest.approx(
        row["n_params_low"])


def test_bad_input_is_one_line_on_stderr(tmp_path, capsys, saved):
    cases = [
        (["fit", "no-such-dataset"], "'no-such-dataset' is neither a bundled dataset"),
        (["fit", "--starts", "many"], "--starts must be 'grid' or a positive number"),
        (["fit", "--columns", "N", "--out", "none"], "--columns takes FIELD=HEADER pairs"),
        (["allocate", str(tmp_path / "missing.jscale")], "does not exist"),
        (["predict", str(saved / "result.jscale"), "--n-params", "1e9", "2e9", "--n-tokens", "1e10"],
         "--n-params has 2 values but --n-tokens has 1"),
        (["allocate", str(saved / "summary.json")], "not a jscale result file"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("jscale: ") and message in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1
    path = tmp_path / "bad.csv"
    path.write_text("N,D,loss\n1e9,1e10,abc\n")
    assert main(["fit", str(path), "--out", "none"]) == 2
    assert "not a number" in capsys.readouterr().err


def test_repeated_or_conflicting_columns(tmp_path, capsys):
    assert cli._columns(["N=size", "D=seen,L=metric"]) == {"n_params": "size", "n_tokens": "seen", "loss": "metric"}
    assert cli._columns(["N=size", "n_params=size"]) == {"n_params": "size"}
    for specs, message in [(["N=size", "N=other"], "two headers for n_params"),
                           (["N=params,L=params"], "to the same header 'params'"),
                           (["N="], "FIELD=HEADER pairs")]:
        with pytest.raises(cli.UserError, match=message):
            cli._columns(specs)
    path = tmp_path / "runs.csv"
    path.write_text("size,seen,metric\n1e8,2e9,3.1\n1e9,2e10,2.6\n")
    assert main(["fit", str(path), "--columns", "N=size,D=seen", "--out", "none"]) == 2
    err = capsys.readouterr().err
    # The advice is in command-line terms, never Python syntax.
    assert "--columns loss=HEADER" in err and "columns={" not in err, err


def test_version_and_help_on_every_argument(capsys):
    import jscale

    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == f"jscale {jscale.__version__}"
    parser = cli._parser()
    for action in parser._subparsers._group_actions[0].choices.values():
        for arg in action._actions:
            assert arg.help, (action.prog, arg.dest)
    fit_help = parser._subparsers._group_actions[0].choices["fit"].format_help()
    assert str(jscale.default_cache_dir()).replace(" ", "") in "".join(fit_help.split())
    for name in jscale.laws._laws.NAMED:
        assert name in "".join(fit_help.split())


def test_summary_json_is_strict_and_complete(saved):
    import json

    text = (saved / "summary.json").read_text()
    summary = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON token {c}"))
    assert summary["data_source"]["kind"] == "dataset" and summary["data_source"]["name"] == "chinchilla"
    assert summary["band_method"] == "bootstrap percentile"
    rows = summary["allocation"]["rows"]
    assert [r["compute"] for r in rows] == [1e21, 5.76e23]
    assert all(r["n_params_low"] < r["n_params"] < r["n_params_high"] for r in rows)
    assert any("extrapolate" in w for w in summary["warnings"])


def test_plot_finds_the_recorded_data(saved, tmp_path, capsys):
    result = str(saved / "result.jscale")
    png = tmp_path / "residuals.png"
    assert main(["plot", result, "--kind", "residuals", "--out", str(png)]) == 0 and png.stat().st_size > 10_000
    # A CSV fit records its path, mapping and hash; a changed file is refused.
    n, d = np.meshgrid(np.logspace(7, 10, 4), np.logspace(8, 11, 4))
    loss = 1.7 + 400 / n**0.33 + 1500 / d**0.29
    path = tmp_path / "runs.csv"
    path.write_text("size,seen,metric\n" + "".join(f"{a!r},{b!r},{c!r}\n" for a, b, c in
                                                   zip(n.ravel().tolist(), d.ravel().tolist(), loss.ravel().tolist())))
    out = tmp_path / "csvfit"
    assert main(["fit", str(path), "--columns", "N=size", "--columns", "D=seen,L=metric", "--loss", "squared",
                 "--starts", "100", "--resamples", "0", "--out", str(out), "--quiet"]) == 0
    assert main(["plot", str(out / "result.jscale"), "--kind", "frontier", "--out", str(tmp_path / "f.png")]) == 0
    path.write_text(path.read_text().replace("size,", "size,", 1) + f"{1e9!r},{1e11!r},2.5\n")
    capsys.readouterr()
    assert main(["plot", str(out / "result.jscale"), "--kind", "frontier", "--out", str(tmp_path / "g.png")]) == 2
    assert "is not the data" in capsys.readouterr().err


def test_progress_on_stderr_unless_quiet(capsys):
    argv = ["fit", "--starts", "20", "--resamples", "40", "--out", "none"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "Fitting 20 starts to 240 rows" in captured.err and "done in" in captured.err
    assert "Allocating at 4 budgets x 40 draws" in captured.err
    assert "Fitting" not in captured.out  # stdout keeps only the results
    assert main([*argv, "--quiet"]) == 0
    err = capsys.readouterr().err  # findings only (warnings stay), no progress
    assert "done in" not in err and all(line.startswith("warning: ") for line in err.splitlines())


def test_one_column_laws_by_name(tmp_path, capsys):
    compute = np.logspace(18, 22, 12)
    path = tmp_path / "runs.csv"
    path.write_text("flops,loss\n" + "".join(f"{c!r},{1.8 + 2e3 * c ** -0.15!r}\n" for c in compute.tolist()))
    assert main(["fit", str(path), "--law", "power-law:compute", "--loss", "squared", "--resamples", "0",
                 "--out", "none", "--quiet"]) == 0
    assert "power" in capsys.readouterr().out
    assert main(["fit", str(path), "--law", "power-law:n_params", "--out", "none"]) == 2
    assert "--law power-law:COLUMN" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["fit", "--law", "chinchilla:compute"])


def test_default_budgets_come_from_the_data():
    assert cli._default_budgets(1.3e22) == [1e21, 1e22, 1e23, 1e24]
    assert cli._default_budgets(3e18) == [1e17, 1e18, 1e19, 1e20]


def test_strict_non_convergence_exits_3(capsys):
    argv = ["fit", "--starts", "3", "--max-steps", "3", "--resamples", "0", "--out", "none", "--strict", "--quiet"]
    assert main(argv) == 3
    assert "warning:" in capsys.readouterr().err


def test_datasets_command(capsys):
    assert main(["datasets"]) == 0
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


@pytest.mark.slow  # ~7 s; tests/fitting/test_bootstrap.py checks the same reproduction of Epoch's table
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


@pytest.mark.slow  # 6 s; the allocation curves are covered by test_allocation and test_plot
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


@pytest.mark.slow  # ~10 s; the law and its allocation are tested in test_law_forms.py
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


@pytest.mark.slow  # ~12 s of compilation; custom laws are tested in test_law_forms.py
def test_custom_law_example_runs(capsys):
    boot = _example("custom_law").main(n_resamples=20)
    assert boot.n_resamples == 20 and "saved and reloaded" in capsys.readouterr().out
