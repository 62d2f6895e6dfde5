"""Every command reads every result file it can use, or names the command that does; one option
name per meaning across commands (the earlier spellings still work and say so once); --level on
every command that prints bands; data files of every format on the command line."""

import json
import warnings

import numpy as np
import pytest
from helpers import curve_runs, isoflop_runs

import jscale
from jscale import cli

EPOCH = dict(E=1.81686, A=482.00572, B=2085.43420, alpha=0.34781, beta=0.36585)
LAW = jscale.laws.Chinchilla()
START = LAW.to_free([[EPOCH[k] for k in LAW.param_names]])


def main(argv):
    """`jscale ...` in-process, without the persistent cache (as in test_cli.py)."""
    if argv[0] == "plan":
        return cli.main([*argv[:2], "--no-cache", *argv[2:]])
    return cli.main([argv[0], "--no-cache", *argv[1:]])


def _loss(n, d):
    return EPOCH["E"] + EPOCH["A"] * n ** -EPOCH["alpha"] + EPOCH["B"] * d ** -EPOCH["beta"]


def _runs():
    rng = np.random.default_rng(0)
    n = np.repeat(np.logspace(7.5, 9.5, 5), 4)
    d = n * np.tile([5.0, 15.0, 40.0, 100.0], 5)
    loss = _loss(n, d) * np.exp(rng.normal(0, 0.01, n.size))
    err = 0.85 * np.exp(-2.2 * np.exp(-0.7 * np.log(loss))) + rng.normal(0, 0.002, n.size)
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss, err=err)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A result file of every kind jscale saves."""
    folder = tmp_path_factory.mktemp("results")
    data = _runs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)  # what the tiny fits find is not tested
        fit = jscale.fit(LAW, data, starts=START)
        other = jscale.laws.Chinchilla().fix(E=1.0)
        link = jscale.fit(jscale.laws.ExponentialLink(), data, target="err", residual="raw", loss="squared")
        results = {
            "FitResult": fit,
            "BootstrapResult": jscale.bootstrap(LAW, data, n_resamples=8, key=0, starts="optimum", full_fit=fit,
                                                jackknife=False),
            "IsoFLOPResult": jscale.isoflop(isoflop_runs(), n_resamples=20, key=0),
            "EnvelopeResult": jscale.envelope(curve_runs(), n_resamples=20, key=0),
            "Ensemble": jscale.bootstrap_forms([LAW, other], data, key=0, n_resamples=8,
                                               full_fits=[fit, jscale.fit(other, data)], jackknife=False),
            "TwoStage": jscale.two_stage(fit, link, data, key=0, n_resamples=8),
        }
    return {kind: str(jscale.save(result, folder / f"{kind}.jscale")) for kind, result in results.items()}


def _commands(path, tmp_path):
    return {
        "allocate": ["allocate", path, "--compute", "1e21", "--format", "csv"],
        "predict": ["predict", path, "--n-params", "1e9", "--n-tokens", "2e10", "--format", "csv"],
        "plot": ["plot", path, "--out", str(tmp_path / "plot.png")],
        "compare": ["compare", path, path, "--compute", "1e21"],
        "plan isoflop": ["plan", "isoflop", "--budgets", "1e21", "--result", path, "--n-sizes", "3", "--format", "csv"],
    }


# kind -> the commands that read it; the others name the command that does (or jscale.load).
READ = {
    "FitResult": {"allocate", "predict", "plot", "compare", "plan isoflop"},
    "BootstrapResult": {"allocate", "predict", "plot", "compare", "plan isoflop"},
    "IsoFLOPResult": {"allocate", "plot", "plan isoflop"},
    "EnvelopeResult": {"allocate", "plot", "plan isoflop"},
    "Ensemble": {"allocate", "predict", "plot"},
    "TwoStage": set(),
}


@pytest.mark.parametrize("kind", list(READ))
def test_every_command_reads_every_result_it_can_use_or_names_the_one_that_does(files, kind, tmp_path, capsys):
    """Before, the results of `jscale isoflop` and forms.jscale were refused by predict and plot (and
    forms.jscale by allocate) without a way on."""
    pytest.importorskip("matplotlib")
    path = files[kind]
    for command, argv in _commands(path, tmp_path).items():
        code = main(argv)
        captured = capsys.readouterr()
        if command in READ[kind]:
            assert code == 0, (kind, command, captured.err)
            continue
        assert code == 2, (kind, command)
        err = captured.err.strip().splitlines()
        assert len(err) == 1 and f"which `jscale {command}` does not read;" in err[0], err
        assert ("jscale.load in Python" if kind == "TwoStage" else f"`jscale allocate {path}`") in err[0], err
    if "allocate" in READ[kind]:  # the table holds N*, D*, L* with bands at the budget asked for
        assert main(_commands(path, tmp_path)["allocate"]) == 0
        rows = capsys.readouterr().out.strip().splitlines()
        head, row = rows[0].split(","), dict(zip(rows[0].split(","), rows[1].split(",")))
        assert {"compute", "n_params", "n_tokens", "loss"} <= set(head) and float(row["compute"]) == 1e21
        assert float(row["n_params_low"]) <= float(row["n_params"]) <= float(row["n_params_high"])


def test_forms_give_the_mixture_in_allocate_and_predict(files, capsys):
    forms = jscale.load(files["Ensemble"])
    assert main(["allocate", files["Ensemble"], "--compute", "1e20", "1e21", "--format", "json", "--level", "0.8"]) == 0
    rows = json.loads(capsys.readouterr().out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        mixed = forms.allocations([1e20, 1e21], ("n_params",))["n_params"]
    np.testing.assert_allclose([r["n_params"] for r in rows], mixed.estimate)
    np.testing.assert_allclose([r["n_params_low"] for r in rows], mixed.interval(0.8)[0])
    assert all(0 <= r["n_params_form_share"] <= 1 for r in rows)
    assert main(["predict", files["Ensemble"], "--n-params", "1e9", "--n-tokens", "2e10", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        expected = forms.predict(n_params=np.array([1e9]), n_tokens=np.array([2e10]))
    assert row["loss"] == pytest.approx(float(expected.estimate[0]))
    assert row["loss_low"] < row["loss"] < row["loss_high"]


def test_plot_kinds_follow_the_result(files, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = str(tmp_path / "p.png")
    sweep = tmp_path / "sweep.json"
    data = isoflop_runs()
    sweep.write_text(json.dumps({"N": data.n_params.tolist(), "D": data.n_tokens.tolist(), "loss": data.loss.tolist()}))
    for kind, argv in [("IsoFLOPResult", ["--kind", "isoflop", "--data", str(sweep)]),
                       ("IsoFLOPResult", ["--kind", "allocation", "--level", "0.5"]),
                       ("EnvelopeResult", []), ("Ensemble", []), ("Ensemble", ["--kind", "forms", "--level", "0.8"]),
                       ("BootstrapResult", ["--kind", "corner"])]:
        assert main(["plot", files[kind], *argv, "--out", png]) == 0, (kind, argv, capsys.readouterr().err)
        assert capsys.readouterr().out == f"wrote {png}\n"
    for kind, argv, message in [
        ("IsoFLOPResult", ["--kind", "isoflop"], "--kind isoflop of a sweep draws its runs, which"),
        ("IsoFLOPResult", ["--kind", "corner"], "its plots are isoflop, allocation (--kind)"),
        ("Ensemble", ["--kind", "allocation"], "its plots are forms (--kind)"),
        ("FitResult", ["--kind", "corner"], "its plots are frontier, isoflop, allocation, residuals (--kind)"),
    ]:
        assert main(["plot", files[kind], *argv, "--out", png]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err


# Each earlier spelling, the command it is given to, and its name now.
RENAMED = [
    (["fit", "--bootstrap", "0", "--budgets", "1e21"], ["--bootstrap is now --resamples",
                                                        "--budgets is now --compute"]),
    (["isoflop", "SWEEP", "--bootstrap", "0", "--at", "1e21"], ["--bootstrap is now --resamples",
                                                                "--at is now --compute"]),
    (["plan", "next", "RUNS", "--resamples", "0", "--target", "loss", "--at", "1e9", "2e10", "--budget", "1e20",
      "--n", "1"], ["--at is now --n-params N --n-tokens D"]),
]


@pytest.mark.parametrize("argv, said", RENAMED, ids=["fit", "isoflop", "plan next"])
def test_earlier_option_names_still_work_and_say_the_new_one_once(argv, said, tmp_path, capsys, monkeypatch):
    sweep, runs = tmp_path / "sweep.csv", tmp_path / "runs.csv"
    for path, data in ((sweep, isoflop_runs()), (runs, _runs())):
        path.write_text("N,D,loss\n" + "".join(f"{n!r},{d!r},{v!r}\n" for n, d, v in
                                               zip(data.n_params.tolist(), data.n_tokens.tolist(), data.loss.tolist())))
    argv = [str(sweep) if a == "SWEEP" else str(runs) if a == "RUNS" else a for a in argv]
    if argv[0] == "fit":
        argv = [argv[0], str(runs), "--starts", "3", *argv[1:]]
    if argv[0] != "plan":
        argv += ["--out", "none"]
    seen = {}
    for name in ("_fit", "_isoflop", "_plan"):  # the parsed arguments, not the (slow) work
        monkeypatch.setattr(cli, name, lambda args: seen.update(vars(args)) or 0)
    assert main([*argv, "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == len(said) and all(any(s in line and "goes in 0.4.0" in line for line in err) for s in said), err
    if argv[0] == "plan":
        assert (seen["n_params"], seen["n_tokens"], seen["resamples"]) == (1e9, 2e10, 0)
    else:
        assert seen["resamples"] == 0 and seen["compute"] == [1e21]


def test_one_name_per_meaning_in_every_command():
    parser = cli._parser()
    commands = dict(parser._subparsers._group_actions[0].choices)
    plan = commands.pop("plan")
    commands.update({f"plan {k}": v for k, v in plan._subparsers._group_actions[0].choices.items()})
    shown = {name: {s for a in p._actions if a.help != "==SUPPRESS==" for s in a.option_strings}
             for name, p in commands.items()}
    # The earlier spellings are hidden from --help (and --at means nothing any more).
    assert not any("--bootstrap" in flags or "--at" in flags for flags in shown.values())
    assert "--budgets" not in shown["fit"]
    # Bootstrap resamples are --resamples, budgets of an answer --compute, bands' level --level.
    assert {name for name, flags in shown.items() if "--resamples" in flags} == {"fit", "isoflop", "plan next",
                                                                                 "hyperparameters", "curves"}
    assert {name for name, flags in shown.items() if "--compute" in flags} == {"fit", "allocate", "isoflop",
                                                                               "compare", "plan next"}
    banded = {"fit", "allocate", "predict", "plot", "isoflop", "compare", "plan next", "hyperparameters", "curves"}
    assert {name for name, flags in shown.items() if "--level" in flags} == banded
    # --budgets is left for the budgets of runs: a sweep's, or the candidate runs'.
    assert {name for name, flags in shown.items() if "--budgets" in flags} == {"isoflop", "plan isoflop",
                                                                               "plan next"}
    for name in ("predict", "plan next"):  # a point
        assert {"--n-params", "--n-tokens"} <= shown[name]


def test_level_sets_every_printed_band(files, capsys):
    bands = {}
    for level in ("0.5", "0.95"):
        assert main(["allocate", files["BootstrapResult"], "--compute", "1e21", "--format", "json",
                     "--level", level]) == 0
        (row,) = json.loads(capsys.readouterr().out)
        assert main(["predict", files["FitResult"], "--n-params", "1e9", "--n-tokens", "2e10", "--format", "json",
                     "--level", level]) == 0
        (point,) = json.loads(capsys.readouterr().out)
        bands[level] = (row["n_params_high"] / row["n_params_low"], point["loss_high"] / point["loss_low"])
    assert bands["0.5"][0] < bands["0.95"][0] and bands["0.5"][1] < bands["0.95"][1]
    assert main(["allocate", files["FitResult"], "--level", "1.5"]) == 2
    assert "--level takes a number between 0 and 1" in capsys.readouterr().err


def test_fit_and_isoflop_print_bands_at_level(tmp_path, capsys):
    runs = tmp_path / "runs.tsv"
    data = _runs()
    runs.write_text("N\tD\tloss\n" + "".join(f"{n!r}\t{d!r}\t{v!r}\n" for n, d, v in
                                             zip(data.n_params.tolist(), data.n_tokens.tolist(), data.loss.tolist())))
    assert main(["fit", str(runs), "--starts", "3", "--resamples", "0", "--compute", "1e21", "--level", "0.8",
                 "--out", "none", "--quiet"]) == 0
    assert "80% band of N* (delta method)" in capsys.readouterr().out
    sweep = tmp_path / "sweep.json"
    data = isoflop_runs()
    sweep.write_text(json.dumps([{"N": n, "D": d, "loss": v} for n, d, v in
                                 zip(data.n_params.tolist(), data.n_tokens.tolist(), data.loss.tolist())]))
    assert main(["isoflop", str(sweep), "--resamples", "20", "--level", "0.8", "--out", "none", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Data: " + str(sweep) + ", 21 runs." in out and "80% (" in out and "95% (" not in out


def test_data_files_of_every_format_on_the_command_line(tmp_path, capsys):
    """A TSV was one column, JSON a duplicate column, Parquet 'no rows'; now they are read or named."""
    data = _runs()
    n, d, loss = data.n_params.tolist(), data.n_tokens.tolist(), data.loss.tolist()
    (tmp_path / "runs.json").write_text(json.dumps({"size": n, "seen": d, "val": loss}))
    argv = ["fit", str(tmp_path / "runs.json"), "--columns", "N=size,D=seen,L=val", "--starts", "3", "--resamples",
            "0", "--compute", "1e21", "--quiet"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    assert f"Data: {tmp_path / 'runs.json'}, 20 rows" in capsys.readouterr().out
    # The result records the JSON file, and plot reads it back from there.
    source = jscale.load(tmp_path / "out" / "result.jscale").source
    assert source["kind"] == "json" and source["columns"] == {"n_params": "size", "n_tokens": "seen", "loss": "val"}
    if pytest.importorskip("matplotlib"):
        assert main(["plot", str(tmp_path / "out" / "result.jscale"), "--kind", "residuals", "--out",
                     str(tmp_path / "r.png")]) == 0
        capsys.readouterr()
    (tmp_path / "runs.parquet").write_bytes(b"PAR1" + bytes(200) + b"PAR1")
    (tmp_path / "runs.xlsx").write_bytes(b"PK\x03\x04" + bytes(200))
    refused = {"runs.xlsx": "is a ZIP archive (e.g. an Excel .xlsx workbook, or zipped files), not a table of runs"}
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        refused["runs.parquet"] = ("is a Parquet file; reading it needs pandas and pyarrow (pip install "
                                   "'jscale[parquet]')")
    else:
        refused["runs.parquet"] = "as Parquet"
    for name, message in refused.items():
        assert main(["fit", str(tmp_path / name), "--out", "none"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("jscale: ") and message in err and len(err.strip().splitlines()) == 1, err
