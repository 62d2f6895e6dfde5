"""Every input rule, in one table: the input, the error type and the words of its message.

Rules (issue 8): NaN/inf, zero or negative values where logs are taken, strings in numeric
columns, mismatched lengths, empty data, fewer rows than free parameters, a single distinct value
of a variable the law needs, duplicated column names, unknown law or column names (with the
closest name suggested), wrong types; float32 and integer input is accepted and promoted.
None of these cases reaches a compile, so the table is cheap.
"""

from __future__ import annotations

import numpy as np
import pytest

import jscale

N = [1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9]
D = [2e9, 4e9, 8e9, 1.6e10, 3.2e10, 6.4e10]
L = [3.2, 3.0, 2.8, 2.7, 2.6, 2.5]


def arrays(**changes):
    cols = dict(n_params=N, n_tokens=D, loss=L)
    cols.update(changes)
    return jscale.ScalingData.from_arrays(**{k: v for k, v in cols.items() if v is not None})


def fit(data, law=None, **kwargs):
    return jscale.fit(law or jscale.laws.Chinchilla(), data, **kwargs)


CASES = {
    "nan": (lambda: arrays(loss=L[:5] + [np.nan]), ValueError,
            r"Column 'loss' has 1 non-finite value \(NaN or infinite\); the first is at row 5"),
    "inf": (lambda: arrays(n_params=[np.inf] + N[1:]), ValueError, r"Column 'n_params' has 1 non-finite value"),
    "zero": (lambda: arrays(n_tokens=[0.0] + D[1:]), ValueError,
             r"Column 'n_tokens' has 1 value that is zero or negative; the first is at row 0"),
    "negative": (lambda: arrays(loss=[-1.0] + L[1:]), ValueError, r"need positive N, D, C, U and loss"),
    "string": (lambda: arrays(loss=L[:5] + ["2.4x"]), ValueError,
               r"Column 'loss' has 1 value that is not a number; the first is at row 5 \('2.4x'\)"),
    "mismatched lengths": (lambda: arrays(loss=L[:4]), ValueError,
                           r"mismatched lengths: n_params has 6 rows, n_tokens has 6 rows, loss has 4 rows"),
    "empty": (lambda: arrays(n_params=[], n_tokens=[], loss=[]), ValueError, r"The data has no rows"),
    "fewer rows than parameters": (lambda: fit(arrays(n_params=N[:3], n_tokens=D[:3], loss=L[:3])), ValueError,
                                   r"The chinchilla law has 5 parameters but the data has only 3 rows"),
    "fewer weighted rows than parameters": (
        lambda: fit(arrays(weight=[1, 1, 1, 0, 0, 0])), ValueError,
        r"has 5 parameters but the data has only 3 rows of positive weight \(of 6\)"),
    "single distinct value": (lambda: fit(arrays(n_tokens=[2e10] * 6)), ValueError,
                              r"The chinchilla law needs n_tokens to vary, but every run has n_tokens = 2e\+10"),
    "duplicated CSV column": ("csv", ValueError, r"Column 'loss' \(for loss\) appears more than once"),
    "duplicated data frame column": ("frame", ValueError, r"Column 'loss' \(for loss\) appears more than once"),
    "unknown column field": (lambda: jscale.ScalingData.from_dataframe(_frame(), columns={"n_param": "N"}),
                             ValueError, r"columns has key 'n_param', very close to the standard column 'n_params'"),
    "unknown header": (lambda: jscale.ScalingData.from_dataframe(_frame(), columns={"n_params": "NN"}),
                       ValueError, r"Column 'NN' \(for n_params\) is not in the data frame \(did you mean 'N'\?\)"),
    "unknown data set": (lambda: jscale.datasets.load("chinchila"), ValueError,
                         r"Unknown data set 'chinchila' \(did you mean 'chinchilla'\?\)"),
    "unknown split column": (lambda: arrays().split("n_param"), ValueError,
                             r"no column 'n_param' \(did you mean 'n_params'\?\)"),
    "unknown law column": (lambda: fit(arrays(), law=jscale.laws.PowerLaw(column="n_token")), ValueError,
                           r"needs column 'n_token' \(did you mean 'n_tokens'\?\), which this data does not have"),
    "unknown parameter": (lambda: jscale.laws.Chinchilla().fix(alfa=0.3), ValueError,
                          r"no free parameter 'alfa' \(did you mean 'alpha'\?\)"),
    "unknown allocation quantity": (
        lambda: jscale.compute_optimal(jscale.laws.Chinchilla(), [1e21], params=dict(
            E=1.8, A=480.0, B=2000.0, alpha=0.35, beta=0.37)).interval("n_param"), ValueError,
        r"got 'n_param' \(did you mean 'n_params'\?\)"),
    "law of the wrong type": (lambda: fit(arrays(), law="chinchilla"), TypeError,
                              r"law must be a jscale law object such as jscale.laws.Chinchilla\(\); got str"),
    "data of the wrong type": (lambda: jscale.fit(jscale.laws.Chinchilla(), {"loss": L}), TypeError,
                               r"data must be a jscale.ScalingData"),
    "boolean column": (lambda: arrays(loss=[True] * 6), ValueError, r"not a number"),
    "2-D column": (lambda: arrays(loss=[L, L]), ValueError, r"must be 1-D"),
}


def _frame(duplicate: bool = False):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"N": N, "D": D, "loss": L})
    if duplicate:
        frame = pd.concat([frame, frame[["loss"]]], axis=1)
    return frame


@pytest.mark.parametrize("rule", CASES)
def test_rule_message(rule, tmp_path):
    make, error, message = CASES[rule]
    if make == "csv":
        path = tmp_path / "runs.csv"
        path.write_text("N,D,loss,loss\n" + "".join(f"{n},{d},{v},{v}\n" for n, d, v in zip(N, D, L)))
        make = lambda: jscale.ScalingData.from_csv(path)  # noqa: E731
    elif make == "frame":
        make = lambda: jscale.ScalingData.from_dataframe(_frame(duplicate=True))  # noqa: E731
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32, np.float16])
def test_float32_and_integers_are_promoted_to_float64(dtype):
    data = jscale.ScalingData.from_arrays(n_params=np.array([100, 200, 400], dtype),
                                          n_tokens=np.array([1000, 3000, 9000], dtype),
                                          loss=np.array([3, 2, 1], dtype))
    for name in data.columns:
        assert getattr(data, name).dtype == np.float64
    np.testing.assert_array_equal(data.n_params, [100.0, 200.0, 400.0])
    np.testing.assert_allclose(data.compute, 6 * data.n_params * data.n_tokens)


def test_constrained_law_may_hold_a_column_fixed():
    # With the token term's parameters fixed, a constant n_tokens is no longer an error.
    law = jscale.laws.Chinchilla().fix(B=400.0, beta=0.3)
    from jscale.fitting._fit import check_law_and_data

    check_law_and_data(law, arrays(n_tokens=[2e10] * 6))


def test_cli_suggests_the_closest_law(capsys):
    from jscale import cli
    with pytest.raises(SystemExit) as exc:
        cli.main(["fit", "--no-cache", "--law", "chinchila"])
    assert exc.value.code == 2
    assert "unknown law 'chinchila' (did you mean 'chinchilla'?)" in capsys.readouterr().err
