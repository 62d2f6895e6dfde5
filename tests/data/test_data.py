"""Tests of ScalingData: construction, derivation, validation messages, CSV and data frames."""

import csv
import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jscale.data._data import ScalingData

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _data(**overrides):
    cols = dict(n_params=[1e8, 2e8, 4e8], n_tokens=[2e9, 4e9, 8e9], loss=[3.0, 2.8, 2.6])
    cols.update(overrides)
    return ScalingData.from_arrays(**cols)


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# Construction, derivation, immutability.


def test_derives_compute_from_n_and_d():
    data = _data()
    np.testing.assert_array_equal(data.compute, 6.0 * data.n_params * data.n_tokens)
    assert data.derived == ("compute",)
    assert data.columns == ("n_params", "n_tokens", "compute", "loss")
    assert len(data) == 3


@pytest.mark.parametrize("missing", ["n_params", "n_tokens"])
def test_derives_n_or_d_from_compute(missing):
    full = _data()
    given_cols = {k: getattr(full, k) for k in ("n_params", "n_tokens", "compute", "loss")}
    del given_cols[missing]
    data = ScalingData.from_arrays(**given_cols)
    assert data.derived == (missing,)
    np.testing.assert_allclose(getattr(data, missing), getattr(full, missing), rtol=1e-15)


def test_all_three_given_are_kept_without_derivation():
    data = _data(compute=[1.0, 2.0, 3.0])
    assert data.derived == ()
    np.testing.assert_array_equal(data.compute, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("cols", [dict(n_params=[1e8, 2e8]), dict(n_tokens=[1e9, 2e9]), {}])
def test_one_or_none_of_n_d_c_is_allowed(cols):
    data = ScalingData.from_arrays(loss=[3.0, 2.5], **cols)
    assert data.derived == ()
    assert data.columns == (*cols, "loss")


def test_float64_and_copies():
    n = np.array([1e8, 2e8, 4e8], dtype=np.float32)
    loss = np.array([3.0, 2.8, 2.6])
    data = ScalingData.from_arrays(n_params=n, n_tokens=[2, 4, 8], loss=loss, weight=[1, 0, 1])
    for name in ("n_params", "n_tokens", "compute", "loss", "weight"):
        assert getattr(data, name).dtype == np.float64, name
    np.testing.assert_array_equal(data.loss, loss)
    loss[0] = 99.0
    assert data.loss[0] == 3.0  # copied, not a view


def test_immutable():
    data = _data(group=["a", "b", "a"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.loss = np.ones(3)
    for name in data.columns:
        assert not getattr(data, name).flags.writeable, name
        with pytest.raises(ValueError, match="read-only"):
            getattr(data, name)[0] = getattr(data, name)[1]


def test_replace_and_pytree():
    jax = pytest.importorskip("jax")
    data = _data()
    new = data.replace(loss=data.loss * 2)
    np.testing.assert_array_equal(new.loss, data.loss * 2)
    assert new.derived == ("compute",)
    leaves, treedef = jax.tree.flatten(data)
    assert len(leaves) == 4  # absent columns (None) are not leaves; `derived` is static
    assert jax.tree.unflatten(treedef, leaves) == data


def test_equality():
    assert _data() == _data()
    assert _data() != _data(loss=[3.0, 2.8, 2.5])
    assert _data() != _data(group=[0, 0, 1])


def test_group_keeps_its_dtype():
    data = _data(group=["a", "b", "a"])
    assert data.group.dtype.kind == "U"
    assert data.columns[-1] == "group"


def test_repr_is_short_and_mentions_rows_and_ranges():
    text = repr(_data(group=["a", "b", "a"]))
    assert "3 rows" in text and "1e+08 .. 4e+08" in text and "2 distinct labels" in text
    assert "derived" in text
    assert len(text.splitlines()) == 6


def test_subset_mask_and_indices():
    data = _data(group=["a", "b", "c"])
    by_mask = data.subset([True, False, True])
    by_index = data.subset([0, 2])
    assert by_mask == by_index
    assert len(by_mask) == 2 and by_mask.derived == ("compute",)
    np.testing.assert_array_equal(by_mask.group, ["a", "c"])
    np.testing.assert_array_equal(by_mask.compute, data.compute[[0, 2]])


def test_subset_errors():
    data = _data()
    with pytest.raises(ValueError, match=r"shape \(2,\).*3 rows"):
        data.subset([True, False])
    with pytest.raises(ValueError, match="no rows"):
        data.subset([False, False, False])
    with pytest.raises(ValueError, match="integer row indices"):
        data.subset([0.5])


def test_require():
    data = ScalingData.from_arrays(n_params=[1e8], loss=[3.0])
    data.require("n_params", "loss", who="fit")
    with pytest.raises(ValueError) as info:
        data.require("n_tokens", who="The Chinchilla law")
    assert str(info.value) == (
        "The Chinchilla law needs column 'n_tokens', which this data does not have (it has: "
        "n_params, loss). Pass it to ScalingData.from_arrays / from_csv (any column by name; "
        "columns={'n_tokens': 'header'} maps a header), or give two of n_params, n_tokens, compute."
    )
    with pytest.raises(ValueError, match="needs columns 'n_tokens' and 'unique_tokens'"):
        data.require("n_tokens", "unique_tokens", who="fit")
    with pytest.raises(ValueError, match=r"fit needs column 'tokens', which this data does not have"):
        data.require("tokens", who="fit")


# Validation messages.


def test_mismatched_lengths():
    with pytest.raises(ValueError) as info:
        ScalingData.from_arrays(n_params=np.ones(10), loss=np.ones(9))
    assert str(info.value) == (
        "Columns have mismatched lengths: n_params has 10 rows, loss has 9 rows; every column "
        "must have one value per run."
    )


@pytest.mark.parametrize("loss", [[[1.0, 2.0]], 3.0])
def test_not_1d(loss):
    with pytest.raises(ValueError, match=r"'loss' must be 1-D.*shape"):
        ScalingData.from_arrays(loss=loss)


def test_ragged_input():
    with pytest.raises(ValueError, match="'loss' could not be read as an array"):
        ScalingData.from_arrays(loss=[1.0, [2.0, 3.0]])


def test_empty():
    with pytest.raises(ValueError, match="no rows"):
        ScalingData.from_arrays(n_params=[], loss=[])


def test_no_columns():
    with pytest.raises(ValueError, match="The data has no columns"):
        ScalingData.from_arrays(loss=None)
    # A loss column is not required: a fit names its target.
    assert ScalingData.from_arrays(n_params=[1.0], accuracy=[0.5]).columns == ("n_params", "accuracy")


def test_any_numeric_and_categorical_column():
    data = _data(n_experts=[1, 8, 64], router=["dense", "hash", "hash"], lr=np.array([3e-4, 1e-3, -1.0]))
    assert data.columns == ("n_params", "n_tokens", "compute", "loss", "n_experts", "router", "lr")
    assert data.categorical == ("router",)
    assert data["n_experts"].dtype == np.float64 and not data["n_experts"].flags.writeable
    np.testing.assert_array_equal(data["lr"], [3e-4, 1e-3, -1.0])  # other columns may be negative
    levels, codes = data.codes("router")
    assert levels.tolist() == ["dense", "hash"] and codes.tolist() == [0, 1, 1] and codes.dtype == np.int32
    assert "router" in data and "nope" not in data
    with pytest.raises(KeyError, match=r"no column 'n_expert' \(did you mean 'n_experts'\?\)"):
        data["n_expert"]
    sub = data.subset([0, 2])
    assert sub.categorical == ("router",) and sub["router"].tolist() == ["dense", "hash"]
    assert list(data.split("router")) == ["dense", "hash"] and len(data.split("router")["hash"]) == 2
    assert "2 distinct labels" in repr(data)


def test_non_finite():
    loss = np.full(20, 2.0)
    loss[[17, 18]] = np.nan
    loss[19] = np.inf
    with pytest.raises(ValueError) as info:
        ScalingData.from_arrays(loss=loss)
    assert str(info.value) == (
        "Column 'loss' has 3 non-finite values (NaN or infinite); the first is at row 17 (nan). "
        "Remove or fix those rows before fitting."
    )


@pytest.mark.parametrize("name", ["n_params", "n_tokens", "compute", "unique_tokens", "loss"])
def test_non_positive(name):
    values = np.arange(1.0, 7.0)
    values[4] = -1.0
    values[5] = 0.0
    with pytest.raises(ValueError) as info:
        ScalingData.from_arrays(**{"loss": np.ones(6), name: values})
    assert str(info.value) == (
        f"Column {name!r} has 2 values that are zero or negative; the first is at row 4 (-1.0). "
        "Scaling laws need positive N, D, C, U and loss."
    )


def test_derived_column_is_checked():
    with pytest.raises(ValueError, match=r"'compute' \(derived with C = 6·N·D\) has 1 non-fin"):
        ScalingData.from_arrays(n_params=[1e300, 1.0], n_tokens=[1e300, 1.0], loss=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"'n_tokens' \(derived.*zero or negative.*row 0"):
        ScalingData.from_arrays(n_params=[1e300], compute=[1e-300], loss=[1.0])


@pytest.mark.parametrize(
    "weight, match",
    [
        ([1.0, np.nan, 1.0], r"'weight' has 1 non-finite value .*row 1 \(nan\)"),
        ([1.0, -0.5, -2.0], r"'weight' has 2 negative values; the first is at row 1 \(-0.5\)"),
        ([0.0, 0.0, 0.0], "'weight' is zero in every row"),
    ],
)
def test_bad_weights(weight, match):
    with pytest.raises(ValueError, match=match):
        _data(weight=weight)


def test_zero_weights_allowed_when_some_positive():
    assert _data(weight=[0.0, 1.0, 0.0]).weight.tolist() == [0.0, 1.0, 0.0]


@pytest.mark.parametrize(
    "loss, count, row, shown",
    [
        (["abc", "2.0"], "2 values that are", 0, "'abc'"),  # a text array: every cell is text
        ([1.0, "x"], "1 value that is", 1, "'x'"),  # a mixed list: only the text is reported
        (np.array([1.0, None, 2.0], dtype=object), "1 value that is", 1, "None"),
        ([True, False], "2 values that are", 0, "True"),
        ([1 + 2j, 1.0], "1 value that is", 0, r"\(1\+2j\)"),
    ],
)
def test_non_numeric(loss, count, row, shown):
    with pytest.raises(
        ValueError, match=rf"'loss' has {count} not a number; the first is at row {row} \({shown}\)"
    ):
        ScalingData.from_arrays(loss=loss)


# CSV.


def test_csv_round_trip(tmp_path):
    data = _data(group=["a", "b", "a"], weight=[1.0, 0.5, 2.0], unique_tokens=[1e9, 1e9, 2e9])
    rows = zip(*(getattr(data, name).tolist() for name in data.columns))
    path = _write_csv(
        tmp_path / "runs.csv",
        data.columns,
        [[repr(v) if isinstance(v, float) else v for v in r] for r in rows],
    )
    back = ScalingData.from_csv(path)
    assert back.columns == data.columns
    assert back.derived == ()  # all three of N, D, C were in the file
    assert back.replace(derived=data.derived) == data


def test_csv_aliases_and_derivation(tmp_path):
    path = _write_csv(tmp_path / "r.csv", ["Params", " D ", "L", "notes", "lr"], [[1e8, 2e9, 3.0, "x", "1e-3"]])
    data = ScalingData.from_csv(path)
    assert data.columns == ("n_params", "n_tokens", "compute", "loss", "notes", "lr")  # others kept by name
    assert data.categorical == ("notes",) and data["lr"].tolist() == [1e-3]
    assert data.derived == ("compute",)
    assert data.compute.tolist() == [1.2e18]


def test_csv_columns_mapping(tmp_path):
    path = _write_csv(tmp_path / "r.csv", ["size", "flop", "val"], [[1e8, 1.2e18, 3.0]])
    data = ScalingData.from_csv(
        path, columns={"n_params": "size", "compute": "flop", "loss": "val"}
    )
    assert data.derived == ("n_tokens",)
    np.testing.assert_allclose(data.n_tokens, [2e9], rtol=1e-15)


def test_csv_canonical_name_wins_and_ambiguity(tmp_path):
    path = _write_csv(tmp_path / "a.csv", ["N", "n_params", "loss"], [[1.0, 2.0, 3.0]])
    assert ScalingData.from_csv(path).n_params.tolist() == [2.0]
    path = _write_csv(tmp_path / "b.csv", ["N", "params", "loss"], [[1.0, 2.0, 3.0]])
    with pytest.raises(
        ValueError, match=r"'N', 'params' of .*b.csv all look like n_params.*columns="
    ):
        ScalingData.from_csv(path)
    assert ScalingData.from_csv(path, columns={"n_params": "params"}).n_params.tolist() == [2.0]


def test_csv_missing_mapped_column(tmp_path):
    path = _write_csv(tmp_path / "r.csv", ["a", "b", "c"], [[1, 2, 3]])
    with pytest.raises(ValueError) as info:
        ScalingData.from_csv(path, columns={"n_params": "Model Size"})
    assert str(info.value) == (
        f"Column 'Model Size' (for n_params) is not in {path}; its columns are: a, b, c."
    )


def test_csv_unknown_field_in_columns(tmp_path):
    path = _write_csv(tmp_path / "r.csv", ["loss"], [[1.0]])
    with pytest.raises(ValueError, match=r"key 'n_param', very close to the standard column 'n_params': a typo\?"):
        ScalingData.from_csv(path, columns={"n_param": "loss"})
    # An alias of a standard column names it; any other name is a column of one's own.
    assert ScalingData.from_csv(path, columns={"N": "loss"}).columns == ("n_params",)
    assert ScalingData.from_csv(path, columns={"val_loss": "loss"}).columns == ("val_loss",)
    with pytest.raises(TypeError, match="columns must be a dict"):
        ScalingData.from_csv(path, columns=["loss"])


def test_csv_no_loss_column(tmp_path):
    path = _write_csv(tmp_path / "r.csv", ["N", "val"], [[1.0, 2.0]])
    assert ScalingData.from_csv(path).columns == ("n_params", "val")


def test_csv_not_a_number(tmp_path):
    rows = [[1.0, 3.0]] * 5 + [[1.0, "abc"], [1.0, "x"]]
    path = _write_csv(tmp_path / "r.csv", ["N", "loss"], rows)
    with pytest.raises(ValueError) as info:
        ScalingData.from_csv(path)
    assert str(info.value) == (
        f"Could not parse {path}: column 'loss' has 2 values that are not a number; the first is "
        "at row 5 (line 7): 'abc'."
    )
    path = _write_csv(tmp_path / "s.csv", ["Model Size", "loss"], [["", 1.0]])
    with pytest.raises(
        ValueError, match=r"column 'Model Size' \(for n_params\) .* row 0 \(line 2\): ''"
    ):
        ScalingData.from_csv(path)


def test_csv_non_finite_gives_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("N,loss\n1,2\n\n1,nan\n")  # the blank line still counts
    with pytest.raises(
        ValueError, match=r"1 non-finite value .*row 1 \(nan\), on line 4 of .*r.csv"
    ):
        ScalingData.from_csv(path)


def test_csv_ragged(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("N,loss\n1,2\n1,2,3\n")
    with pytest.raises(ValueError, match="line 3 has 3 fields but the header has 2"):
        ScalingData.from_csv(path)


def test_csv_empty_and_missing(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ValueError, match="the file is empty"):
        ScalingData.from_csv(path)
    path.write_text("N,loss\n")
    with pytest.raises(ValueError, match="no rows"):
        ScalingData.from_csv(path)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        ScalingData.from_csv(tmp_path / "nope.csv")


def test_csv_duplicate_header(tmp_path):
    path = _write_csv(tmp_path / "r.csv", ["loss", "loss"], [[1.0, 2.0]])
    with pytest.raises(ValueError, match="appears more than once"):
        ScalingData.from_csv(path)


def test_csv_shared_svg_file():
    path = SHARED / "epoch_chinchilla" / "svg_extracted_data.csv"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    data = ScalingData.from_csv(path)  # 'Model Size' and 'Training FLOP' are aliases
    assert len(data) == 245
    assert data.columns == ("n_params", "n_tokens", "compute", "loss", "x", "y", "color", "hex_color")
    assert data.derived == ("n_tokens",) and data.categorical == ("color", "hex_color")
    tidy = ScalingData.from_csv(SHARED / "epoch_chinchilla" / "epoch_chinchilla_tidy.csv")
    np.testing.assert_array_equal(data.n_params, tidy.n_params)
    np.testing.assert_allclose(data.n_tokens, tidy.n_tokens, rtol=1e-15)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            # N and D within 1e+-150 keep C = 6ND finite and normal, so no input is rejected.
            st.floats(min_value=1e-150, max_value=1e150),
            st.floats(min_value=1e-150, max_value=1e150),
            st.floats(min_value=1e-300, max_value=1e300),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_csv_round_trip_is_exact(rows):
    data = ScalingData.from_arrays(
        n_params=[r[0] for r in rows], n_tokens=[r[1] for r in rows], loss=[r[2] for r in rows]
    )
    with tempfile.TemporaryDirectory() as tmp:
        values = [
            [repr(float(getattr(data, c)[i])) for c in data.columns] for i in range(len(data))
        ]
        back = ScalingData.from_csv(_write_csv(Path(tmp) / "r.csv", data.columns, values))
    assert back.replace(derived=data.derived) == data


# Data frames.


def test_from_dataframe():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {"Model Size": [1e8, 2e8], "tokens": [2e9, 4e9], "loss": [3.0, 2.5], "group": ["a", "b"]},
        index=[10, 20],
    )
    data = ScalingData.from_dataframe(df)
    assert data.columns == ("n_params", "n_tokens", "compute", "loss", "group")
    assert data.derived == ("compute",)
    assert data == ScalingData.from_arrays(
        n_params=[1e8, 2e8], n_tokens=[2e9, 4e9], loss=[3.0, 2.5], group=["a", "b"]
    )
    df.loc[20, "loss"] = math.nan
    with pytest.raises(ValueError, match=r"'loss' has 1 non-finite value .*row 1 \(nan\)\."):
        ScalingData.from_dataframe(df)


def test_from_dataframe_mapping_errors():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"size": [1e8], "val": [3.0]})
    data = ScalingData.from_dataframe(df, columns={"n_params": "size", "loss": "val"})
    assert data.columns == ("n_params", "loss")
    with pytest.raises(ValueError, match=r"'Model Size' \(for n_params\) is not in the data frame"):
        ScalingData.from_dataframe(df, columns={"n_params": "Model Size"})
    df = pd.DataFrame({"loss": ["3.0", "x"]})
    with pytest.raises(ValueError, match=r"'loss' has 2 values that are not a number; the first is at row 0"):
        ScalingData.from_dataframe(df)


def test_csv_that_is_not_utf8_is_a_value_error(tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes(b"\xff\xfeN,D\n")
    with pytest.raises(ValueError, match=r"is UTF-16 text and jscale reads .* in UTF-8; save it as UTF-8"):
        ScalingData.from_csv(path)
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"N,D\n\xe9,1\n")
    with pytest.raises(ValueError, match=r"Could not parse .*not UTF-8 text \(byte 4 cannot be decoded, on line 2\)"):
        ScalingData.from_csv(path)
