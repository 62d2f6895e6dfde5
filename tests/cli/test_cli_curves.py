"""`jscale curves` on a CSV of checkpoints with unusual headers: three runs simulated from a known
multi-power law, the fitted parameters, --predict, --best-schedule and bands; one line with exit 2
for bad input (all of it found before any fitting)."""

import csv
import re
import types

import numpy as np
import pytest

from jscale import cli
from jscale.cli._curves import _by_set
from jscale.curves import parse_schedule, predict_curves

pytestmark = pytest.mark.filterwarnings("ignore::jscale.warnings.DiagnosticWarning")
TRUTH = {"L0": 3.0, "A": 0.5, "alpha": 0.5, "B": 400.0, "C": 2.0, "beta": 0.6, "gamma": 0.6}
SPECS = {"cosine-1": "cosine(steps=3000, peak=3e-4, floor=3e-5, warmup=300)",
         "constant-2": "constant(steps=3000, peak=3e-4, warmup=300)",
         "wsd-3": "wsd(steps=3000, peak=3e-4, decay_start=2400, floor=3e-5, warmup=300)"}
HEADERS = ["Run ID", "global step", "train/loss", "lr schedule"]
COLUMNS = ["--run", "Run ID", "--step", "global step", "--columns", "L=train/loss"]
LONGER = "cosine(steps=6000, peak=3e-4, floor=3e-5, warmup=300)"


def write_runs(path, specs=SPECS, noise=1e-4, seed=0, sizes=None):
    """Checkpoints every 100 steps of each run (rows newest first, as some loggers export them), the
    loss of TRUTH (L0 per size with `sizes`) with lognormal noise of sd `noise`."""
    steps = np.arange(100, 3000, 100)
    rng = np.random.default_rng(seed)
    sizes = sizes or {None: TRUTH["L0"]}
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADERS + (["size"] if None not in sizes else []))
        for size, L0 in sizes.items():
            clean = predict_curves({**TRUTH, "L0": L0}, [(parse_schedule(s), steps) for s in specs.values()]).split()
            for (name, spec), loss in zip(specs.items(), clean):
                noisy = loss * np.exp(noise * rng.standard_normal(loss.size))
                for step, value in list(zip(steps, noisy))[::-1]:
                    out.writerow([name, int(step), repr(float(value)), spec] + ([size] if size is not None else []))
    return path


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory):
    return write_runs(tmp_path_factory.mktemp("curves") / "runs.csv")


def fitted(printed: str) -> dict:
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^  (L0|A|alpha|B|C|beta|gamma) +(\S+) +log_",
                                                                printed, re.MULTILINE)}


def predicted(printed: str) -> dict:
    """(curve, step) -> loss of the --predict table."""
    rows = re.findall(r"^ +(\d+) +(\d+) +(\d+\.\d+)$", printed, re.MULTILINE)
    return {(int(c), int(s)): float(v) for c, s, v in rows}


def test_curves_end_to_end(runs_csv, capsys):
    code = cli.main(["curves", str(runs_csv), *COLUMNS, "--schedule", "lr schedule", "--predict", LONGER,
                     "--predict", "wsd-3", "--best-schedule", "--no-cache", "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "Data: " in printed and "3 runs, 87 checkpoints" in printed
    assert re.search(r"wsd-3 +29 +100\.\.2900  wsd\(steps=3000", printed)
    params = fitted(printed)
    assert set(params) == set(TRUTH)
    # Three 3,000-step curves pin down L0, A, alpha and B; C and gamma trade off (correlation ~ -0.99) and are
    # checked through the predictions below.
    assert params["L0"] == pytest.approx(3.0, abs=0.01)
    assert params["A"] == pytest.approx(0.5, rel=0.02)
    assert params["alpha"] == pytest.approx(0.5, abs=0.01)
    assert params["B"] == pytest.approx(400.0, rel=0.05)
    assert params["beta"] == pytest.approx(0.6, abs=0.1)
    assert "objective" in printed
    # --predict: a quarter, half, three quarters and the last step of each schedule, against the truth.
    assert "0  cosine(steps=6000, peak=0.0003, floor=3e-05, warmup=300)" in printed
    assert "1  wsd-3: wsd(steps=3000" in printed
    table = predicted(printed)
    assert sorted(table) == [(0, 1500), (0, 3000), (0, 4500), (0, 5999), (1, 750), (1, 1500), (1, 2250), (1, 2999)]
    truth = predict_curves(TRUTH, [(parse_schedule(LONGER), [1500, 3000, 4500, 5999]),
                                   (parse_schedule(SPECS["wsd-3"]), [750, 1500, 2250, 2999])])["loss"]
    assert [table[k] for k in sorted(table)] == pytest.approx(truth.tolist(), rel=1e-3)
    # --best-schedule: the longest run's 3,000 steps, peak, warmup and floor; it beats cosine and WSD.
    assert "Best schedule under the multi-power law (final loss): 3000 steps, peak 0.0003, warmup 300" in printed
    gains = re.findall(r"^  (?:cosine|wsd) to 3e-05 +\S+ +(\S+)$", printed, re.MULTILINE)
    assert len(gains) == 2 and all(float(g) > 0 for g in gains)


@pytest.mark.slow  # about 40 s with compilation: a fit of two sets and two bootstraps
def test_curves_sets_with_bands(tmp_path, capsys):
    """Two model sizes (L0 3.0 and 2.7) fitted in one call, each with its block bootstrap and bands."""
    path = write_runs(tmp_path / "sizes.csv", sizes={"25M": 3.0, "100M": 2.7})
    code = cli.main(["curves", str(path), *COLUMNS, "--schedule", "lr schedule", "--sets", "size", "--predict",
                     LONGER, "--resamples", "8", "--block", "8", "--no-cache", "--quiet"])
    captured = capsys.readouterr()
    printed = captured.out
    assert code == 0, printed
    assert "6 runs in 2 sets by 'size', 174 checkpoints" in printed
    first, second = printed.split("Set size = 25M:")[1].split("Set size = 100M:")
    assert fitted(first)["L0"] == pytest.approx(3.0, abs=0.01) and fitted(second)["L0"] == pytest.approx(2.7, abs=0.01)
    for part, L0 in ((first, 3.0), (second, 2.7)):
        assert "jscale bootstrap: multipower law, 8 resamples by block" in part
        assert "95% bands from 8 block resamples" in part and "(95% bands below, bootstrap)" in part
        bands = [(float(lo), float(hi)) for lo, hi in re.findall(r"^ +(\d\.\d+)\.\.(\d\.\d+)$", part, re.MULTILINE)]
        truth = predict_curves({**TRUTH, "L0": L0}, [(parse_schedule(LONGER), [1500, 3000, 4500, 5999])])["loss"]
        assert len(bands) == 4 and all(lo <= hi for lo, hi in bands)
        assert [predicted(part)[(0, s)] for s in (1500, 3000, 4500, 5999)] == pytest.approx(truth.tolist(), rel=2e-3)
    # Findings name the set by its label, not the index fit_curves gives it.
    assert "Dataset 0" not in captured.err and "Set 0" not in captured.err


def test_findings_name_the_sets_by_their_labels():
    """fit_curves names a set by its index ("Dataset 1 (and 1 more of the 3 datasets: 2): ..."); the command
    by its label, and without --sets not at all."""
    caught = [types.SimpleNamespace(message=text, category=UserWarning) for text in (
        "Dataset 1 (and 1 more of the 3 datasets: 2): gamma is at its bound.", "Set 0 of curves: no curve lowers its "
        "learning rate.", "The data are few.")]
    named = _by_set(caught, ["7M", "25M", "100M"], named=True)
    assert [w.message for w in named[1]] == ["Set '25M' (and '100M'): gamma is at its bound."]
    assert [w.message for w in named[0]] == ["Set '7M': no curve lowers its learning rate."]
    assert [w.message for w in named[None]] == ["The data are few."]
    alone = _by_set(caught[1:], [""], named=False)
    assert [w.message for w in alone[0]] == ["No curve lowers its learning rate."]


@pytest.fixture(scope="module")
def bad_csv(tmp_path_factory):
    """The runs with a checkpoint logged twice (row 4, cosine-1's step 2500, again at the end)."""
    path = write_runs(tmp_path_factory.mktemp("bad") / "runs.csv")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines + [lines[5]]) + "\n")
    return path


@pytest.fixture(scope="module")
def schedules_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("schedules") / "schedules.csv"
    path.write_text("Run ID,text\n" + "".join(f'{name},"{spec}"\n' for name, spec in SPECS.items()))
    return path


@pytest.mark.parametrize("args, message", [
    (["--run", "Run"], "Column 'Run' (for --run) is not in"),
    (["--columns", "L=train loss"], "Column 'train loss' (for loss) is not in"),
    (["--columns", "L=train loss"], "did you mean 'train/loss'?"),
    (["--columns", "N=train/loss"], "--columns names n_params; jscale curves reads only the loss column through it"),
    (["--predict", "cosine(steps=6000)"],
     "--predict 'cosine(steps=6000)' does not parse: The cosine schedule 'cosine(steps=6000)' lacks peak"),
    (["--predict", "cosine-2"], "--predict 'cosine-2' is neither a schedule spec such as"),
    (["--predict", "cosine-2"], "(did you mean 'cosine-1'?)"),
    (["--resamples", "1"], "--resamples takes 0 (none) or at least 2 resamples; got 1."),
    (["--block", "1"], "--block takes a whole number of checkpoints of at least 2; got 1."),
    (["--best-steps", "9000"], "--best-steps sets the length of --best-schedule's run; add --best-schedule."),
    (["--best-schedule", "--best-steps", "301"],
     "--best-steps 301 leaves no steps after the training runs' warmup (300 steps); give at least 302."),
    (["--level", "95"], "--level takes a number between 0 and 1"),
    (["--sets", "size"], "Column 'size' (for --sets) is not in"),
])
def test_bad_options_are_one_line_and_exit_2(runs_csv, capsys, args, message):
    given = dict(zip(COLUMNS[::2], COLUMNS[1::2]))
    columns = [x for flag, header in given.items() if flag not in args for x in (flag, header)]
    code = cli.main(["curves", str(runs_csv), *columns, "--schedule", "lr schedule", *args, "--no-cache", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err


def test_bad_files_are_one_line_and_exit_2(runs_csv, bad_csv, schedules_csv, tmp_path, capsys):
    def run(*args):
        code = cli.main(["curves", *map(str, args), *COLUMNS, "--no-cache", "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1, err
        return err[0]

    assert "Run 'cosine-1' has step 2500 twice (rows 4 and 87)" in run(bad_csv, "--schedule", "lr schedule")
    assert "Column 'schedule' (for --schedule) is not in" in run(runs_csv)
    code = cli.main(["curves", str(runs_csv), "--run", "Run ID", "--step", "global step", "--schedule", "lr schedule",
                     "--no-cache", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "has no loss column (a header loss or L); name it with --columns L=HEADER " \
        "(did you mean 'train/loss'?)" in err[0], err
    assert "--schedules" in run(runs_csv, "--schedules", tmp_path / "nothing.csv") and "no such file" in run(
        runs_csv, "--schedules", tmp_path / "nothing.csv")
    assert (f"--schedules {schedules_csv} needs a column 'spec' of schedule specs, or the columns 'global step' "
            "(as --step) and 'lr' of per-step rates") in run(runs_csv, "--schedules", schedules_csv)
    assert "is a folder" in run(tmp_path)


def test_schedule_and_schedules_exclude_each_other(runs_csv, schedules_csv, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["curves", str(runs_csv), "--schedule", "lr schedule", "--schedules", str(schedules_csv)])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "not allowed with argument" in err[0]


def bundled_args(**given):
    return types.SimpleNamespace(**{"data": "luo2025", "run": "run", "step": "step", "schedule": "schedule",
                                    "schedules": None, "sets": None, **given})


def test_the_bundled_luo2025_is_read_with_its_schedules_by_size():
    """`jscale curves luo2025`: both model sizes as sets, every run with its schedule from
    LUO2025_SCHEDULES (the bundle has no schedule column), read without a file."""
    from jscale.cli._curves import _bundle_defaults, _curves
    from jscale.curves import LUO2025_SCHEDULES

    args = _bundle_defaults(bundled_args())
    assert args.sets == "size" and _bundle_defaults(bundled_args(sets="run")).sets == "run"
    sets, described = _curves(args, None)
    assert sorted(sets) == ["100M", "25M"]
    for curves in sets.values():
        assert sorted(curves) == sorted(LUO2025_SCHEDULES)
        for name, (schedule, steps, loss) in curves.items():
            assert str(schedule) == str(parse_schedule(LUO2025_SCHEDULES[name])) and steps.size == loss.size > 90
    assert described == ("Data: bundled dataset 'luo2025' (its runs' schedules: jscale.curves.LUO2025_SCHEDULES), "
                         "18 runs in 2 sets by 'size', 4162 checkpoints.")


@pytest.mark.parametrize("args, message", [
    (["chinchilla"], "'chinchilla' is a bundled dataset of final losses, not of training curves; the bundled curves "
                     "are luo2025"),
    (["luo2025", "--sets", "model"], "The bundled luo2025 has no column 'model' (for --sets); its columns are"),
    (["luo2025", "--schedules", "schedules.csv"], "--schedules gives the schedules of a data file's runs; the "
                                                  "bundled luo2025 has its own"),
    (["luo2025", "--columns", "L=loss"], "--columns names a column of a data file"),
])
def test_bundled_names_refuse_what_they_cannot_be(capsys, args, message):
    code = cli.main(["curves", *args, "--no-cache", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err


def test_a_file_named_as_a_bundle_is_refused_not_guessed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "luo2025").write_text("run,step,loss\n")
    code = cli.main(["curves", "luo2025", "--no-cache", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "names both a bundled dataset and a file in this folder; write ./luo2025" in err[0], err


@pytest.mark.slow
def test_curves_of_the_bundled_luo2025_end_to_end(capsys):
    """Both sizes fitted to all nine schedules (about 25 s). The paper fitted three (L0 3.0405 and 2.6514);
    with all nine, L0 comes out 3.043 and 2.677, within 0.05 of it."""
    assert cli.main(["curves", "luo2025", "--no-cache", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "Set size = 25M:" in printed and "Set size = 100M:" in printed
    l0 = [float(v) for v in re.findall(r"^  L0 +(\S+) +log_", printed, re.MULTILINE)]
    assert l0 == pytest.approx([3.0405, 2.6514], abs=0.05)
