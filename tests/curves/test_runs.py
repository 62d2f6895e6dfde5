"""Curves as data (jscale.curves._runs): smoothing, cutting, and finals as rows for the laws of N and D."""

import collections

import numpy as np
import pytest
from helpers import chinchilla_loss, subset_starts

import jscale
from jscale.curves import Schedule, predict_curves
from jscale.curves._runs import drop_before, finals, moving_average

PEAK = 1e-3
MULTIPOWER = {"L0": 3.0, "A": 0.5, "alpha": 0.5, "B": 400.0, "C": 2.0, "beta": 0.6, "gamma": 0.6}
CHINCHILLA = dict(E=1.7, A=400.0, B=1500.0, alpha=0.33, beta=0.29)


def small_curves():
    """Two short curves with known losses (a cosine and a constant schedule)."""
    cosine = Schedule.cosine(steps=100, peak=PEAK, floor=1e-4, warmup=10)
    constant = Schedule.constant(steps=200, peak=PEAK)
    return {"a": (cosine, [10, 20, 30, 40, 50], [5.0, 4.0, 3.0, 2.0, 1.0]),
            "b": (constant, np.array([0, 50, 100, 150]), np.array([6.0, 4.5, 4.0, 3.5]))}


def test_moving_average_gives_trailing_means_and_drops_the_first_window_minus_one():
    curves = small_curves()
    smooth = moving_average(curves, 3)
    assert list(smooth) == ["a", "b"] and type(smooth) is dict
    schedule, steps, loss = smooth["a"]
    assert schedule is curves["a"][0]
    assert steps.tolist() == [30, 40, 50] and loss == pytest.approx([4.0, 3.0, 2.0], abs=1e-15)
    _, steps, loss = smooth["b"]
    assert steps.tolist() == [100, 150] and loss == pytest.approx([14.5 / 3, 12.0 / 3], abs=1e-15)
    _, steps, loss = moving_average(curves, 1)["b"]
    assert steps.tolist() == [0, 50, 100, 150] and loss.tolist() == [6.0, 4.5, 4.0, 3.5]
    ordered = moving_average(collections.OrderedDict(curves), 2)
    assert isinstance(ordered, collections.OrderedDict) and ordered["a"][2].tolist() == [4.5, 3.5, 2.5, 1.5]


def test_drop_before_a_step_or_a_token_count():
    curves = small_curves()
    cut = drop_before(curves, 40)
    assert cut["a"][1].tolist() == [40, 50] and cut["a"][2].tolist() == [2.0, 1.0]
    assert cut["b"][1].tolist() == [50, 100, 150] and cut["a"][0] is curves["a"][0]
    assert drop_before(curves, 0)["b"][1].tolist() == [0, 50, 100, 150]
    # 1e6 tokens per step: 3e7 tokens is step 30 (kept, exactly on the line) for both curves.
    by_tokens = drop_before(curves, tokens=3e7, tokens_per_step=1e6)
    assert by_tokens["a"][1].tolist() == [30, 40, 50] and by_tokens["b"][1].tolist() == [50, 100, 150]
    # Per curve: "b" sees 1e5 tokens per step, so 3e7 tokens is its step 300, past its end;
    # 1.2e7 tokens is "a"'s step 12 and "b"'s step 120.
    per = drop_before(curves, tokens=1.2e7, tokens_per_step={"a": 1e6, "b": 1e5})
    assert per["a"][1].tolist() == [20, 30, 40, 50] and per["b"][1].tolist() == [150]
    assert per["b"][2].tolist() == [3.5]


def test_finals_of_observed_curves():
    curves = small_curves()
    columns = {"a": {"n_params": 25e6, "n_tokens": 4.9e9, "recipe": "x"},
               "b": {"n_params": 50e6, "n_tokens": 9.8e9, "recipe": "y"}}
    rows = finals(curves, columns)
    assert len(rows) == 2 and rows["curve"].tolist() == ["a", "b"]
    assert rows["loss"].tolist() == [1.0, 3.5] and rows["step"].tolist() == [50.0, 150.0]
    assert rows["n_params"].tolist() == [25e6, 50e6] and rows["n_tokens"].tolist() == [4.9e9, 9.8e9]
    assert rows["recipe"].tolist() == ["x", "y"] and "curve" in rows.categorical
    assert rows["compute"] == pytest.approx(6 * rows["n_params"] * rows["n_tokens"], rel=1e-15)
    three = finals(curves, last=3)
    assert three["loss"] == pytest.approx([2.0, 4.0], abs=1e-15) and set(three.columns) == {"curve", "step", "loss"}
    assert three["step"].tolist() == [50.0, 150.0]


def test_finals_of_a_prediction_are_its_last_points():
    pairs = [(Schedule.cosine(steps=2000, peak=3e-4, floor=3e-5, warmup=100), [500, 1000, 1999]),
             (Schedule.wsd(steps=3000, peak=3e-4, decay_start=2400, floor=3e-5, warmup=100), [1000, 2999])]
    prediction = predict_curves(MULTIPOWER, pairs)
    first, second = prediction.split()
    rows = finals(prediction, [{"n_tokens": 2e9}, {"n_tokens": 3e9}])
    assert rows["loss"].tolist() == [first[-1], second[-1]]
    assert rows["step"].tolist() == [1999.0, 2999.0] and rows["curve"].tolist() == ["0", "1"]
    assert rows["n_tokens"].tolist() == [2e9, 3e9]
    two = finals(prediction, {1: {"n_tokens": 3e9}, 0: {"n_tokens": 2e9}}, last=2)
    assert two["loss"] == pytest.approx([np.mean(first[-2:]), np.mean(second[-2:])], rel=1e-15)
    assert two["n_tokens"].tolist() == [2e9, 3e9]
    assert finals(prediction)["loss"].tolist() == rows["loss"].tolist()


@pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning")  # A with alpha, B with beta
def test_predicted_finals_feed_a_law_of_n_and_d():
    """A ladder of 4 sizes x 3 lengths: each run's curve is the multi-power law under a constant
    rate (no warmup, so no annealing term and S(T-1) = peak T), its L0 = E + A/N^alpha and its
    A, alpha chosen so that A_mp (peak T)^-alpha_mp = B / D^beta with D = T tokens_per_step. The
    predicted finals are then exact Chinchilla losses, and a Chinchilla fit of the rows `finals`
    builds must recover the truth; so must the observed curves, smoothed and cut first."""
    tokens_per_step = 2.0 ** 20
    sizes, lengths = np.logspace(7, 10, 4), (500, 2000, 8000)
    pairs = [(Schedule.constant(steps=t, peak=PEAK), np.arange(t // 10 - 1, t, t // 10)) for t in lengths]
    parts, observed, columns = {}, {}, {}
    for i, n in enumerate(sizes):
        params = {**MULTIPOWER, "L0": CHINCHILLA["E"] + CHINCHILLA["A"] * n ** -CHINCHILLA["alpha"],
                  "A": CHINCHILLA["B"] * (PEAK / tokens_per_step) ** CHINCHILLA["beta"], "alpha": CHINCHILLA["beta"]}
        prediction = predict_curves(params, pairs)
        run = [{"n_params": n, "n_tokens": t * tokens_per_step} for t in lengths]
        parts[str(i)] = finals(prediction, run)
        for j, ((schedule, steps), loss) in enumerate(zip(pairs, prediction.split())):
            observed[f"{i}/{j}"], columns[f"{i}/{j}"] = (schedule, steps, loss), run[j]
    rows = jscale.ScalingData.concat(parts, by="size")
    truth = chinchilla_loss(CHINCHILLA, rows["n_params"], rows["n_tokens"])
    assert rows["loss"] == pytest.approx(truth, rel=1e-12)
    seen = finals(drop_before(moving_average(observed, 1), tokens=1e8, tokens_per_step=tokens_per_step), columns)
    assert seen["loss"] == pytest.approx(rows["loss"], rel=1e-15)
    fit = jscale.fit(jscale.laws.Chinchilla(), rows, starts=subset_starts())
    for name in CHINCHILLA:
        assert fit.params[name] == pytest.approx(CHINCHILLA[name], rel=1e-6), name


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda c: moving_average(c, 0), ValueError, "window must be a positive integer"),
    (lambda c: moving_average(c, True), ValueError, "window must be a positive integer"),
    (lambda c: moving_average(c, 2.0), ValueError, "window must be a positive integer"),
    (lambda c: moving_average(c, 5), ValueError, "curve 'b' has 4"),
    (lambda c: moving_average([], 2), TypeError, "curves must be a non-empty mapping"),
    (lambda c: moving_average({}, 2), TypeError, "got an empty mapping"),
    (lambda c: moving_average({"x": (None, [1, 2])}, 1), ValueError, "curve 'x' must be .* got 2 items"),
    (lambda c: moving_average({"x": (None, [2, 1], [3.0, 2.0])}, 1), ValueError, "steps must increase; entry 1"),
    (lambda c: moving_average({"x": (None, [1, 2.5], [3.0, 2.0])}, 1), ValueError, "non-negative integers; entry 1"),
    (lambda c: moving_average({"x": (None, [1, 2], [3.0, -2.0])}, 1), ValueError, "positive finite numbers; entry 1"),
    (lambda c: moving_average({"x": (None, [1, 2], [3.0])}, 1), ValueError, "one length"),
    (lambda c: drop_before(c), ValueError, "exactly one of step and tokens.*got neither"),
    (lambda c: drop_before(c, 10, tokens=5.0), ValueError, "got both"),
    (lambda c: drop_before(c, tokens=5.0), ValueError, "tokens needs tokens_per_step"),
    (lambda c: drop_before(c, 10, tokens_per_step=2.0), ValueError, "tokens_per_step goes with tokens only"),
    (lambda c: drop_before(c, -1), ValueError, "step must be a non-negative finite number"),
    (lambda c: drop_before(c, tokens=0.0, tokens_per_step=1.0), ValueError, "tokens must be a positive"),
    (lambda c: drop_before(c, tokens=1.0, tokens_per_step=0), ValueError, "tokens_per_step must be a positive"),
    (lambda c: drop_before(c, tokens=1.0, tokens_per_step={"a": 1.0}), ValueError, "no value for curve 'b'"),
    (lambda c: drop_before(c, tokens=1.0, tokens_per_step={"a": 1.0, "b": 1.0, "z": 1.0}), ValueError,
     "names 'z', which is not one of the curves"),
    (lambda c: drop_before(c, 60), ValueError, "leaves curve 'a' with none"),
    (lambda c: finals(c, last=0), ValueError, "last must be a positive integer"),
    (lambda c: finals(c, last=5), ValueError, "curve 'b' has 4"),
    (lambda c: finals([1, 2]), TypeError, "source must be curves"),
    (lambda c: finals(c, [{"n_params": 1.0}] * 2), TypeError, "columns must be a mapping curve name"),
    (lambda c: finals(c, {"a": {"n_params": 1.0}}), ValueError, "no entry for curve 'b'"),
    (lambda c: finals(c, {"a": {}, "b": {}, "z": {}}), ValueError, "names 'z', which is not one of the curves"),
    (lambda c: finals(c, {"a": {"n_params": 1.0}, "b": {"n_tokens": 1.0}}), ValueError,
     r"columns\['b'\] lacks column 'n_params'"),
    (lambda c: finals(c, {"a": {"n_params": 1.0}, "b": {"n_params": 1.0, "n_tokens": 1.0}}), ValueError,
     r"columns\['a'\] lacks column 'n_tokens'"),
    (lambda c: finals(c, {"a": {"loss": 1.0}, "b": {"loss": 1.0}}), ValueError, "may not set 'loss'"),
    (lambda c: finals(c, {"a": 1.0, "b": 1.0}), TypeError, r"columns\['a'\] must be a mapping"),
])
def test_bad_calls(call, error, match):
    with pytest.raises(error, match=match):
        call(small_curves())


def test_bad_columns_for_a_prediction():
    prediction = predict_curves(MULTIPOWER, [(Schedule.constant(steps=100, peak=PEAK), [50, 99])])
    with pytest.raises(ValueError, match=r"one mapping per schedule of the prediction \(1\); got 2"):
        finals(prediction, [{}, {}])
    with pytest.raises(ValueError, match="names 1, which is not one of the schedules"):
        finals(prediction, {1: {}})
    with pytest.raises(ValueError, match="last=3 needs at least 3 points per schedule; schedule 0 has 2"):
        finals(prediction, last=3)
