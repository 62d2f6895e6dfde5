"""jscale.curves.curves_from_table: a long table of checkpoints (one row per run and step) as the curves
fit_curves takes, with the schedules from a column of spec text, a mapping or a second table; one
clear message per kind of bad input."""

import numpy as np
import pytest

from jscale import ScalingData
from jscale.curves import Schedule, curve_data, curves_from_table, parse_schedule

COSINE = "cosine(steps=1000, peak=3e-4, floor=3e-5, warmup=100)"
CONSTANT = "constant(steps=1000, peak=3e-4, warmup=100)"
STEPS = [100, 200, 300, 400, 500, 600, 700, 800]


def table(runs=(("a", COSINE), ("b", CONSTANT)), steps=STEPS, **extra):
    """Columns run, step, loss, schedule: every run at `steps`, a falling loss."""
    rows = [(name, s, 4.0 - s / 1000, spec) for name, spec in runs for s in steps]
    out = {"run": [r[0] for r in rows], "step": [r[1] for r in rows], "loss": [r[2] for r in rows],
           "schedule": [r[3] for r in rows]}
    return {**out, **extra}


def test_a_table_becomes_curves_in_order_with_steps_sorted():
    data = table()
    order = np.random.default_rng(0).permutation(len(data["run"]))
    shuffled = {k: [v[i] for i in order] for k, v in data.items()}
    curves = curves_from_table(shuffled)
    assert list(curves) == list(dict.fromkeys(shuffled["run"]))
    for name, spec in (("a", COSINE), ("b", CONSTANT)):
        schedule, steps, losses = curves[name]
        assert schedule == parse_schedule(spec)
        assert steps.dtype == np.int64 and steps.tolist() == STEPS
        assert losses == pytest.approx([4.0 - s / 1000 for s in STEPS])
    law, rows = curve_data(curves)  # what the fits take
    assert len(rows) == 2 * len(STEPS)


def test_one_schedule_written_two_ways_is_one_schedule():
    data = table(runs=(("a", COSINE),))
    data["schedule"][3] = "cosine( warmup=100, floor=3e-5, peak=0.0003, steps=1_000 )"
    assert curves_from_table(data)["a"][0] == parse_schedule(COSINE)


def test_unusual_headers_from_a_csv_file(tmp_path):
    path = tmp_path / "runs.csv"
    lines = ["Run ID,global step,train/loss,lr schedule,size"]
    for size in (7, 13):
        lines += [f'{name},{s},{4.0 - s / 1000 + size / 100},"{spec}",{size}'
                  for name, spec in (("a", COSINE), ("b", CONSTANT)) for s in STEPS[::-1]]
    path.write_text("\n".join(lines) + "\n")
    data = ScalingData.from_file(path)
    sets = curves_from_table(data, run="Run ID", step="global step", target="train/loss", schedule="lr schedule",
                             sets="size")
    assert list(sets) == ["7", "13"] and list(sets["13"]) == ["a", "b"]
    schedule, steps, losses = sets["13"]["b"]
    assert schedule.kind == "constant" and steps.tolist() == STEPS
    assert losses[0] == pytest.approx(4.0 - 0.1 + 0.13)


def test_schedules_from_a_mapping_of_schedules_specs_and_rates():
    data = table()
    del data["schedule"]
    rates = parse_schedule(CONSTANT).lr()
    curves = curves_from_table(data, schedules={"a": parse_schedule(COSINE), "b": CONSTANT, "unused": COSINE})
    assert curves["a"][0] == parse_schedule(COSINE) and curves["b"][0] == parse_schedule(CONSTANT)
    curves = curves_from_table(data, schedules={"a": COSINE, "b": rates})
    assert curves["b"][0].kind == "custom" and np.array_equal(curves["b"][0].lr(), rates)


def test_schedules_from_a_table_of_specs_or_of_per_step_rates():
    data = table()
    del data["schedule"]
    specs = {"run": ["b", "a"], "spec": [CONSTANT, COSINE]}
    assert curves_from_table(data, schedules=specs)["a"][0] == parse_schedule(COSINE)
    rows = [(name, k, float(lr)) for name, spec in (("a", COSINE), ("b", CONSTANT))
            for k, lr in enumerate(parse_schedule(spec).lr())]
    rows = [rows[i] for i in np.random.default_rng(1).permutation(len(rows))]  # any order
    rates = ScalingData.from_arrays(run=np.array([r[0] for r in rows], dtype=object), step=[r[1] for r in rows],
                                    lr=[r[2] for r in rows])
    curves = curves_from_table(data, schedules=rates)
    assert np.allclose(curves["a"][0].lr(), parse_schedule(COSINE).lr(), rtol=0, atol=0)


def test_numeric_run_and_set_labels_read_as_text():
    data = table(runs=((7.0, COSINE), (8.0, CONSTANT)), group=[1.0] * 8 + [2.0] * 8)
    sets = curves_from_table(data, sets="group")
    assert list(sets) == ["1", "2"] and list(sets["1"]) == ["7"] and list(sets["2"]) == ["8"]


def _bad(runs=(("a", COSINE), ("b", CONSTANT)), steps=STEPS, edit=None, **kwargs):
    data = table(runs, steps)
    if edit is not None:
        edit(data)
    return lambda: curves_from_table(data, **kwargs)


def _set(column, row, value):
    def edit(data):
        data[column][row] = value
    return edit


@pytest.mark.parametrize("call, message", [
    (_bad(runs=(("a", "cosine(steps=700, peak=3e-4, warmup=100)"),)),
     "Run 'a' has 2 checkpoints past the end of its schedule cosine(steps=700, peak=0.0003, floor=0.0, warmup=100) "
     "(steps 0 to 699), the first at step 700; drop the rows from step 700 on"),
    (_bad(edit=_set("step", 2, 200)), r"Run 'a' has step 200 twice (rows 1 and 2)"),
    (_bad(steps=STEPS[:6]), "Run 'a' has 6 checkpoints, fewer than the multi-power law's 7 parameters"),
    (_bad(runs=(("a", "cosine(steps=1000)"),)),
     "Run 'a': its schedule does not parse: The cosine schedule 'cosine(steps=1000)' lacks peak"),
    (_bad(runs=(("a", "cosine(steps=1000, peak=-3e-4)"),)),
     "Run 'a': its schedule does not parse: The cosine schedule's peak must be finite and > 0; got -0.0003."),
    (_bad(runs=(("a", "cosine(steps=1000, peak=3e-4"),)), "Run 'a': its schedule does not parse: Cannot parse"),
    (_bad(edit=_set("schedule", 3, "")), "Run 'a' has no schedule: row 3 of column 'schedule' is empty"),
    (_bad(edit=_set("schedule", 3, CONSTANT)), "Run 'a' names two schedules in column 'schedule'"),
    (_bad(schedules={"a": COSINE}), "Run 'b' has no schedule in schedules=; it names 'a'."),
    (_bad(schedules={"a": COSINE, "bb": CONSTANT}), "Run 'b' has no schedule in schedules= (did you mean 'bb'?)"),
    (_bad(schedules={"a": COSINE, "b": [0.0, 1e-4, -1e-4, 1e-4]}),
     "The schedule of run 'b' in schedules= has 1 negative or non-finite rate, the first at step 2 (-0.0001)"),
    (_bad(schedules={"a": COSINE, "b": [0.0, np.nan, 1e-4]}), "negative or non-finite rate, the first at step 1 (nan)"),
    (_bad(schedules={"a": COSINE, "b": "two_stage(steps=1000)"}),
     "Run 'b' in schedules=: its schedule does not parse: The two_stage schedule"),
    (_bad(schedules={"a": COSINE, "b": [1e-4] * 500}),
     "Run 'b' has 4 checkpoints past the end of its schedule custom(<500 steps>)"),
    (_bad(run="Run"), "The table has no column 'Run' (run=) (did you mean 'run'?); its columns are 'run', 'step'"),
    (_bad(target="los"), "no column 'los' (target=) (did you mean 'loss'?)"),
    (_bad(sets="size"), "no column 'size' (sets=)"),
    (_bad(schedule="schedules"), "The table has no column 'schedules' of schedules (schedule=) (did you mean "
     "'schedule'?)"),
    (_bad(edit=_set("step", 4, 450.5)), "Column 'step' must hold whole step numbers >= 0 (counted from 0, as "
     "schedules are); 1 row does not, the first is row 4 (run 'a'): 450.5."),
    (_bad(edit=_set("step", 4, -1)), "the first is row 4 (run 'a'): -1.0"),
    (_bad(edit=_set("step", 4, "x")), "Column 'step' (the checkpoints' steps) must hold numbers; row 4 holds 'x'."),
    (_bad(edit=_set("loss", 9, 0.0)), "Column 'loss' must hold positive finite losses; 1 row does not, the first is "
     "row 9 (run 'b', step 200): 0.0."),
    (_bad(edit=_set("run", 9, "")), "Column 'run' has an empty cell at row 9"),
    (_bad(edit=lambda d: d.update(schedule=[1e-4] * 16)), "Column 'schedule' holds numbers, not schedules"),
    (_bad(edit=lambda d: d.update(step=d["step"][:-1])), "have different lengths"),
])
def test_every_bad_table_gets_one_clear_message(call, message):
    with pytest.raises(ValueError) as err:
        call()
    assert message in str(err.value), str(err.value)
    assert "\n" not in str(err.value)


def test_bad_schedules_tables():
    data = table()
    del data["schedule"]
    with pytest.raises(ValueError, match="needs, beside 'run', a column 'spec' of spec text .* it has neither"):
        curves_from_table(data, schedules={"run": ["a", "b"], "text": [COSINE, CONSTANT]})
    with pytest.raises(ValueError, match="Run 'b' in the schedules table names two schedules in column 'spec'"):
        curves_from_table(data, schedules={"run": ["a", "b", "b"], "spec": [COSINE, CONSTANT, COSINE]})
    with pytest.raises(ValueError, match="Run 'a' in the schedules table lacks the rate of step 2: per-step rates "
                                         "must cover every step 0..T-1"):
        curves_from_table(data, schedules={"run": ["a"] * 3 + ["b"], "step": [0, 1, 3, 0], "lr": [0, 1e-4, 1e-4, 0]})
    with pytest.raises(ValueError, match="Run 'a' in the schedules table has step 1 twice"):
        curves_from_table(data, schedules={"run": ["a"] * 3, "step": [0, 1, 1], "lr": [0, 1e-4, 1e-4]})
    with pytest.raises(ValueError, match="The schedule of run 'a' in the schedules table has 1 negative"):
        curves_from_table(data, schedules={"run": ["a"] * 3, "step": [0, 1, 2], "lr": [0, -1e-4, 1e-4]})
    with pytest.raises(ValueError, match="The schedules table has no column 'step' \\(step=\\)"):
        curves_from_table(data, schedules={"run": ["a"] * 3, "lr": [0, 1e-4, 1e-4]})


def test_wrong_types():
    with pytest.raises(TypeError, match="data must be a ScalingData, a data frame or a mapping"):
        curves_from_table([("a", 1, 3.0)])
    with pytest.raises(TypeError, match="schedules must be a mapping run -> Schedule"):
        curves_from_table(table(), schedules=[COSINE])
    with pytest.raises(ValueError, match="must be 1-D"):
        curves_from_table({**table(), "loss": np.ones((16, 2))})


def test_a_schedule_object_is_checked_too():
    """A custom Schedule built field by field skips Schedule.custom's checks: its rates are checked here."""
    data = table(runs=(("a", COSINE),))
    raw = Schedule(kind="custom", steps=1000, values=tuple([1e-4] * 999 + [np.inf]))
    with pytest.raises(ValueError, match="The schedule of run 'a' has 1 negative or non-finite rate, the first at "
                                         "step 999 \\(inf\\)"):
        curves_from_table(data, schedules={"a": raw})
