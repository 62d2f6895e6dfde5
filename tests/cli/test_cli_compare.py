"""`jscale compare`, run in-process on two saved fits of a law of compute (fast to compare)."""

import warnings

import numpy as np
import pytest

import jscale
from jscale import cli

# Budgets beyond the runs are these tests' subject, not a finding: named, and checked in
# test_compare.py::test_budgets_beyond_the_runs_warn.
pytestmark = pytest.mark.filterwarnings("ignore::jscale.warnings.ExtrapolationWarning")

LAW = jscale.laws.PowerLaw()  # L = E + A C^-alpha: m(C) needs no inner allocation solve, so it compiles fast
RECIPES = {"a": dict(E=1.8, A=2e3, alpha=0.15, seed=0), "b": dict(E=1.6, A=4e3, alpha=0.15, seed=1)}


def main(argv):
    """`jscale compare ...` in-process, without the persistent cache (see tests/cli/test_cli.py)."""
    return cli.main([argv[0], "--no-cache", *argv[1:]])


def _runs(E, A, alpha, seed):
    compute = np.geomspace(1e18, 1e22, 12)
    noise = np.random.default_rng(seed).normal(0.0, 0.005, compute.size)
    return jscale.ScalingData.from_arrays(compute=compute, loss=(E + A * compute**-alpha) * np.exp(noise))


@pytest.fixture(scope="module")
def fits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)  # A and alpha correlate, as they do
        return {k: jscale.fit(LAW, _runs(**v), loss="squared", starts=LAW.default_starts()[::10])
                for k, v in RECIPES.items()}


@pytest.fixture(scope="module")
def files(fits, tmp_path_factory):
    folder = tmp_path_factory.mktemp("recipes")
    return {k: str(jscale.save(f, folder / f"{k}.jscale")) for k, f in fits.items()}


def _table(out: str) -> list[list[str]]:
    """The rows of the printed table (after its header line)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["compute", "multiplier"])
    return [line.split() for line in lines[start + 1:] if line.strip()]


def test_compare_prints_summary_and_table(fits, files, capsys):
    assert main(["compare", files["a"], files["b"], "--compute", "1e20", "1e23", "--level", "0.9"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "Recipe B (b) against recipe A (a)" in out  # by their files: both are power-law(compute) fits
    assert f"Recipe A: a ({files['a']}, the power-law(compute) law); recipe B: b ({files['b']}" in out
    assert "Bands from the delta method" in out and "90% band of the multiplier" in out
    rows = _table(out)
    assert [float(r[0]) for r in rows] == [1e20, 1e23]
    direct = jscale.compare(fits["a"], fits["b"], [1e20, 1e23])
    np.testing.assert_allclose([float(r[1]) for r in rows], direct.multiplier, rtol=1e-3)  # printed to 4 digits
    assert all(float(r[1]) > 1 for r in rows)  # B has the larger reducible loss: A is the better recipe
    assert "wrote" not in captured.err


def test_compare_default_budgets_and_between(files, capsys):
    assert main(["compare", files["a"], files["b"]]) == 0
    rows = _table(capsys.readouterr().out)
    # as allocate: from a decade below the runs' largest compute (1e22) to two decades beyond
    assert [float(r[0]) for r in rows] == [float(f"1e{k}") for k in range(21, 25)]
    # B's lower E makes it the better recipe eventually; searched far enough, the two cross.
    assert main(["compare", files["a"], files["b"], "--compute", "1e21", "--between", "1e15", "1e60"]) == 0
    assert "The two cross at C = " in capsys.readouterr().out


def test_compare_plot_writes_a_png(files, tmp_path, capsys):
    png = tmp_path / "multiplier.png"
    assert main(["compare", files["a"], files["b"], "--compute", "1e20", "1e24", "--plot", str(png)]) == 0
    captured = capsys.readouterr()
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {png}" in captured.err and len(_table(captured.out)) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["multiplier.png"]  # no part file left beside it
    # 1e24 lies beyond the runs (up to 1e22): said once, not again for the plot's 50 budgets (it was twice).
    said = [line for line in captured.err.splitlines() if line.startswith("warning: compare: recipe A's")]
    assert len(said) == 1 and "extrapolate beyond the fitted data" in said[0], captured.err
    assert said[0].endswith("Extrapolation error grows with distance.")  # not jscale.backtest, which the CLI lacks


def test_recipes_are_named_by_their_files_or_labels(fits, tmp_path, capsys):
    """Before, both recipes were named by their law: 'Recipe B (chinchilla) against recipe A (chinchilla)'."""
    for name in ("small/result.jscale", "large/result.jscale", "runs/v1.jscale", "other/v1.jscale", "v2.jscale"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        jscale.save(fits["a" if "small" in name or "v1" in name else "b"], tmp_path / name)
    cases = [(["small/result.jscale", "large/result.jscale"], ("small", "large")),
             (["runs/v1.jscale", "v2.jscale"], ("v1", "v2")),
             (["runs/v1.jscale", "other/v1.jscale"], ("runs", "other")),
             (["v2.jscale", "v2.jscale"], ("A", "B")),
             (["small/result.jscale", "large/result.jscale", "--label", "baseline", "new data"],
              ("baseline", "new data"))]
    for argv, (label_a, label_b) in cases:
        paths = [str(tmp_path / a) for a in argv[:2]]
        assert main(["compare", *paths, *argv[2:], "--compute", "1e21"]) == 0
        out = capsys.readouterr().out
        assert f"Recipe B ({label_b}) against recipe A ({label_a})" in out, out
        assert out.startswith(f"Recipe A: {label_a} ({paths[0]}, the power-law(compute) law); recipe B: {label_b} "
                              f"({paths[1]}, the power-law(compute) law).")
    assert main(["compare", *paths, "--label", "x", "x"]) == 2
    assert "--label names both recipes 'x'; give two names." in capsys.readouterr().err


def test_compare_user_errors_exit_2_on_one_line(files, fits, tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)  # 8 resamples: only its kind matters here
        boot = jscale.bootstrap(LAW, _runs(**RECIPES["b"]), n_resamples=8, key=0, full_fit=fits["b"],
                                loss="squared", starts="warm", jackknife=False)
    booted = str(jscale.save(boot, tmp_path / "boot.jscale"))
    not_a_result = tmp_path / "notes.txt"
    not_a_result.write_text("not a result\n")
    a, b = files["a"], files["b"]
    cases = [
        ([str(tmp_path / "missing.jscale"), b], "does not exist"),
        ([a, str(not_a_result)], "is not a jscale result file"),
        ([a, str(tmp_path)], "is a folder"),
        ([a, booted], "holds a bootstrap but"),
        ([a, b, "--compute", "1e21", "0"], "--compute takes positive finite numbers; got 0.0"),
        ([a, b, "--between", "1e25", "1e20"], "--between takes LOW HIGH"),
        ([a, b, "--level", "95"], "--level takes a number between 0 and 1"),
        ([a, b, "--plot", str(tmp_path / "no-folder" / "m.png")], "--plot"),
        ([a, b, "--plot", str(tmp_path / "m.nosuchformat")], "cannot write '.nosuchformat' images"),
    ]
    for argv, message in cases:
        assert main(["compare", *argv]) == 2, argv
        captured = capsys.readouterr()
        err = captured.err
        assert err.startswith("jscale: ") and message in err and "Traceback" not in err, (argv, err)
        assert len(err.strip().splitlines()) == 1 and captured.out == "", argv
    with pytest.raises(cli.UserError, match="--plot") as err:  # plot_path's message, about this command's flag
        cli._compare_plot_path(str(tmp_path / "no-folder" / "m.png"))
    assert "--out" not in str(err.value)
    with pytest.raises(SystemExit) as exit_:  # argparse: B is missing
        main(["compare", a])
    assert exit_.value.code == 2 and "the following arguments are required: b" in capsys.readouterr().err


def test_compare_help_names_every_argument():
    parser = cli._parser()
    command = parser._subparsers._group_actions[0].choices["compare"]
    for arg in command._actions:
        assert arg.help, arg.dest
    assert "jscale compare" in cli.__doc__
