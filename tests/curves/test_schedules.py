"""jscale.curves schedules: the nine schedules of Luo et al. 2025 (arXiv:2503.12811) regenerated
to the CSVs' `lr` column, text round trips, and one clear error per bad spec."""

import numpy as np
import pytest

from jscale.curves import Schedule, parse_schedule

LUO2025_NAMES = ("cosine_24000", "cosine_72000", "constant_24000", "constant_72000", "wsdcon_3", "wsdcon_9",
                 "wsdcon_18", "wsd_20000_24000", "wsdld_20000_24000")

@pytest.mark.parametrize("size", ["25M", "100M"])
@pytest.mark.parametrize("name", sorted(LUO2025_NAMES))
def test_the_nine_schedules_regenerate_the_logged_rates(luo_csv, luo_schedule, size, name):
    steps, lr, _ = luo_csv(size, name)
    rates = luo_schedule(name).lr()
    np.testing.assert_allclose(rates[steps], lr, rtol=1e-12, atol=0)


def test_shapes_warmup_and_kinds():
    s = Schedule.cosine(steps=100, peak=1.0, floor=0.1, warmup=10)
    lr = s.lr()
    assert lr.shape == (100,) and lr.dtype == np.float64 and not lr.flags.writeable
    np.testing.assert_array_equal(lr[:10], np.linspace(0, 1.0, 10))
    assert lr[10] == 1.0 and np.all(np.diff(lr[10:]) < 0) and lr[-1] > 0.1
    two = Schedule.two_stage(steps=50, peak=2.0, switch=20, value=0.5).lr()
    assert np.all(two[:20] == 2.0) and np.all(two[20:] == 0.5)
    geo = Schedule.wsd(steps=40, peak=1.0, decay_start=20, floor=0.01, decay="geometric").lr()
    np.testing.assert_allclose(geo[20:], 0.01 ** (np.arange(20) / 20), rtol=1e-14)
    lin = Schedule.wsd(steps=40, peak=1.0, decay_start=20).lr()
    np.testing.assert_allclose(lin[20:], 1.0 - np.arange(20) / 20, rtol=1e-14)
    np.testing.assert_array_equal(Schedule.constant(steps=5, peak=3.0).lr(), np.full(5, 3.0))
    np.testing.assert_array_equal(Schedule.custom([0.0, 1.0, 0.5]).lr(), [0.0, 1.0, 0.5])


def test_specs_are_hashable_and_round_trip_through_text(luo_schedule):
    specs = [luo_schedule(n) for n in LUO2025_NAMES] + [Schedule.constant(steps=7, peak=1e-3)]
    assert len({hash(s) for s in specs}) == len(specs)
    for s in specs:
        assert parse_schedule(str(s)) == s
    assert parse_schedule(" cosine( steps = 24_000 , peak=3e-4 ) ") == Schedule.cosine(steps=24000, peak=3e-4)
    assert hash(Schedule.custom([1.0, 2.0])) == hash(Schedule.custom(np.array([1.0, 2.0])))


@pytest.mark.parametrize("text, match", [
    ("cosine", "expected kind\\(key=value"),
    ("sine(steps=10, peak=1)", "Unknown schedule kind 'sine'"),
    ("cosine(steps=10)", "lacks peak"),
    ("cosine(steps=10, peak=1, peek=2)", "unknown key 'peek'"),
    ("cosine(steps=10, peak=1, peak=2)", "appears twice"),
    ("cosine(steps=10, peak=abc)", "'peak' .* is not a number"),
    ("cosine(steps=10.5, peak=1)", "steps must be a whole number"),
    ("cosine(steps=10, peak)", "expected key=value"),
    ("cosine(steps=10, peak=-1)", "peak must be finite and > 0"),
    ("cosine(steps=10, peak=inf)", "peak must be finite and > 0"),
    ("cosine(steps=10, peak=1, floor=2)", "floor must be finite and in \\[0, peak"),
    ("cosine(steps=10, peak=1, warmup=11)", "warmup must be in \\[0, steps=10\\]"),
    ("constant(steps=0, peak=1)", "steps must be >= 1"),
    ("wsd(steps=10, peak=1, decay_start=10)", "decay_start must be in \\[warmup=0, steps=10\\)"),
    ("wsd(steps=10, peak=1, decay_start=2, warmup=3)", "decay_start must be in"),
    ("wsd(steps=10, peak=1, decay_start=5, decay=cubic)", "decay must be one of linear, geometric"),
    ("wsd(steps=10, peak=1, decay_start=5, decay=geometric)", "geometric decay needs floor > 0"),
    ("two_stage(steps=10, peak=1, switch=12, value=0.1)", "switch must be in"),
    ("two_stage(steps=10, peak=1, switch=5, value=nan)", "value must be finite and >= 0"),
])
def test_bad_specs_raise_one_clear_error(text, match):
    with pytest.raises(ValueError, match=match):
        parse_schedule(text)


def test_bad_constructor_arguments_raise():
    with pytest.raises(TypeError, match="steps must be an integer"):
        Schedule.constant(steps=10.0, peak=1.0)
    with pytest.raises(TypeError, match="peak must be a number"):
        Schedule.constant(steps=10, peak="1")
    with pytest.raises(TypeError, match="takes a string"):
        parse_schedule(3)
    with pytest.raises(ValueError, match="finite and >= 0; 1 are not, the first at step 1"):
        Schedule.custom([1.0, -1.0])
    with pytest.raises(ValueError, match="non-empty 1-D sequence"):
        Schedule.custom([[1.0]])
    with pytest.raises(ValueError, match="Unknown schedule kind"):
        Schedule(kind="step", steps=3)
