"""Tests of the bundled data sets."""

import csv
from pathlib import Path

import numpy as np
import pytest

from jscale import datasets
from jscale.data._data import ScalingData

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_list_and_all():
    assert datasets.list() == ["chinchilla", "datablations", "gadre2024", "luo2025"]
    assert datasets.__all__ == ["load", "list", "info"]


def test_chinchilla_counts_and_columns():
    kept = datasets.load("chinchilla")
    full = datasets.load("chinchilla", include_outliers=True)
    assert isinstance(kept, ScalingData)
    assert (len(kept), len(full)) == (240, 245)
    assert kept.columns == full.columns == ("n_params", "n_tokens", "compute", "loss")
    assert kept.loss.dtype == np.float64


def test_chinchilla_drops_the_five_highest_losses():
    kept = datasets.load("chinchilla")
    full = datasets.load("chinchilla", include_outliers=True)
    threshold = np.sort(full.loss)[-5]
    assert np.all(kept.loss < threshold)  # Epoch's rule: keep loss < 5th-largest loss
    np.testing.assert_array_equal(
        np.sort(full.loss)[-5:], np.sort(np.setdiff1d(full.loss, kept.loss))
    )
    assert kept == full.subset(full.loss < threshold)


def test_chinchilla_ranges_and_six_n_d():
    full = datasets.load("chinchilla", include_outliers=True)
    np.testing.assert_allclose(full.compute, 6 * full.n_params * full.n_tokens, rtol=1e-12)
    assert 5.7e7 < full.n_params.min() and full.n_params.max() < 1.62e10
    assert 2.07 < full.loss.min() and full.loss.max() < 5.01


def test_chinchilla_matches_shared_tidy_csv():
    path = SHARED / "epoch_chinchilla" / "epoch_chinchilla_tidy.csv"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    full = datasets.load("chinchilla", include_outliers=True)
    kept = datasets.load("chinchilla")
    for name, column in [
        ("n_params", "N_params"),
        ("n_tokens", "D_tokens"),
        ("compute", "C_flops"),
        ("loss", "loss"),
    ]:
        expected = np.array([float(r[column]) for r in rows])
        np.testing.assert_array_equal(getattr(full, name), expected, err_msg=name)
        excluded = np.array([r["excluded_by_epoch"] == "1" for r in rows])
        np.testing.assert_array_equal(getattr(kept, name), expected[~excluded], err_msg=name)


def test_unknown_name():
    with pytest.raises(
        ValueError,
        match=r"Unknown data set 'chinchila' \(did you mean 'chinchilla'\?\); "
        r"the bundled data sets are: chinchilla.",
    ):
        datasets.load("chinchila")
    with pytest.raises(ValueError, match="Unknown data set"):
        datasets.info("nope")


def test_info():
    text = datasets.info("chinchilla")
    for needle in (
        "arXiv:2203.15556",
        "arXiv:2404.10102",
        "92258837425e1b5f2851d624287f0120583a3d0e",
        "240",
        "245",
    ):
        assert needle in text


def test_gadre2024_rows_roles_and_copy_of_shared():
    data = datasets.load("gadre2024")
    assert len(data) == 104 and {"dataset", "fit_role"} <= set(data.categorical)
    assert sorted(data.split("dataset")) == ["c4_original", "rpj", "rw_original"]
    roles = np.asarray(data["fit_role"])
    assert [int(np.sum(roles == r)) for r in ("loss_and_error_fit", "error_fit_only")] == [15, 3]
    np.testing.assert_array_equal(data.n_tokens, data.n_params * np.asarray(data["tokens_per_param"]))
    source = SHARED / "gadre2024_downstream" / "gadre2024_downstream_104_models.csv"
    if not source.exists():
        pytest.skip("shared/data/gadre2024_downstream is not present")
    full = ScalingData.from_csv(source, columns={"n_params": "N_params", "n_tokens": "D_tokens",
                                                 "loss": "loss_c4_val"})
    for name in ("n_params", "n_tokens", "loss", "err_avg_subset17", "err_avg_46"):
        np.testing.assert_array_equal(data[name], full[name])
