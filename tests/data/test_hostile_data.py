"""Hostile inputs at the data boundary (issue 17): each test is one finding, refused with a message
that names the argument, the count, the first bad row and a fix, or handled as documented."""

import builtins
import errno
import os
import stat
import threading
import warnings

import numpy as np
import pytest
from helpers import noisy_chinchilla, subset_starts

import jscale
from jscale.data import _data
from jscale.data._data import ScalingData
from jscale.inference import _diagnostics

LAW = jscale.laws.Chinchilla()


def _runs(**columns):
    return ScalingData.from_arrays(n_params=[1e8, 2e8, 4e8, 8e8], n_tokens=[2e9, 4e9, 8e9, 1.6e10], **columns)


# 1. Masked arrays.


def test_masked_entries_are_refused_and_an_unmasked_masked_array_is_its_data():
    loss = np.ma.masked_array([3.0, 2.9, 2.8, 2.7], mask=[0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"Column 'loss' is a masked array with 2 masked entries; the first is at "
                                         r"row 1\. .*drop those runs or fill them"):
        _runs(loss=loss)
    with pytest.raises(ValueError, match=r"Column 'lr' is a masked array with 1 masked entry; the first is at row 0"):
        _runs(loss=[3.0, 2.9, 2.8, 2.7], lr=np.ma.masked_array([1e-3, 2e-3, 3e-3, 4e-3], mask=[1, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"Column 'group' is a masked array with 1 masked entry; the first is at "
                                         r"row 3"):
        _runs(loss=[3.0, 2.9, 2.8, 2.7], group=np.ma.masked_array(["a", "b", "a", "b"], mask=[0, 0, 0, 1]))
    with pytest.raises(ValueError, match=r"Column 'lr' has 1 masked entry \(numpy\.ma\.masked\); the first is "
                                         r"at row 2"):
        _runs(loss=[3.0, 2.9, 2.8, 2.7], lr=[1e-3, 2e-3, np.ma.masked, 4e-3])
    plain = _runs(loss=[3.0, 2.9, 2.8, 2.7], lr=[1e-3, 2e-3, 3e-3, 4e-3])
    for mask in (np.ma.nomask, [False] * 4):
        got = _runs(loss=np.ma.masked_array([3.0, 2.9, 2.8, 2.7], mask=mask),
                    lr=np.ma.masked_array([1e-3, 2e-3, 3e-3, 4e-3], mask=mask))
        assert got == plain and type(got.loss) is np.ndarray and type(got["lr"]) is np.ndarray


# 2. Weights.


def test_weights_the_fit_cannot_use_are_refused():
    refused = [
        ([1.0, 1e-310, 1.0, 1.0], r"'weight' has 1 positive value below 1e-100; the first is at row 1 \(1e-310\)"),
        ([1e-300] * 4, r"'weight' has 4 positive values below 1e-100; the first is at row 0"),
        ([1.0, 1e308, 1e308, 1.0], r"'weight' has 2 values above 1e\+100; the first is at row 1 \(1e\+308\)"),
        ([1.0, 1e-20, 0.0, 1e-18], r"'weight' has 2 positive values below .* times its largest \(1\.0\); the first "
                                   r"is at row 1 \(1e-20\)\. .*set those weights to 0"),
    ]
    for weight, match in refused:
        with pytest.raises(ValueError, match=match):
            _runs(loss=[3.0, 2.9, 2.8, 2.7], weight=weight)
    # A wide but usable range is kept as given.
    for weight in ([1e-90, 1e-90, 0.0, 2e-90], [1e90, 3e90, 1e90, 0.0], [1.0, 1e-15, 1.0, 1.0]):
        assert _runs(loss=[3.0, 2.9, 2.8, 2.7], weight=weight).weight.tolist() == weight


# 3. CSV files.


def test_csv_comment_lines_are_skipped_before_and_after_the_header(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("# runs of the pilot sweep\nN,loss\n1e8,3.0\n  # a note between runs\n2e8,2.9\n#,\n4e8,nan\n")
    with pytest.raises(ValueError, match=r"row 2 \(nan\), on line 7 of"):  # file lines still count comments
        ScalingData.from_csv(path)
    path.write_text("# runs of the pilot sweep\nN,loss\n1e8,3.0\n  # a note between runs\n2e8,2.9\n")
    data = ScalingData.from_csv(path)
    assert data.n_params.tolist() == [1e8, 2e8] and data.loss.tolist() == [3.0, 2.9]
    # numpy.savetxt writes its header as a comment: say so rather than read the first run as the header.
    path.write_text("# N,loss\n1e8,3.0\n2e8,2.9\n")
    with pytest.raises(ValueError, match=r"line 1 \('# N,loss'\) looks like the header, but lines starting with '#' "
                                         r"are comments"):
        ScalingData.from_csv(path)
    path.write_text("# only a comment\n\n")
    with pytest.raises(ValueError, match=r"no header row: it holds only blank lines and comments"):
        ScalingData.from_csv(path)


def test_csv_whitespace_only_lines_are_skipped(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("N,loss\n1e8,3.0\n   \n\t\n2e8,2.9\n \r\n")
    data = ScalingData.from_csv(path)
    assert data.n_params.tolist() == [1e8, 2e8] and data.loss.tolist() == [3.0, 2.9]


def test_csv_path_that_is_a_directory(tmp_path):
    with pytest.raises(ValueError, match=r"is a directory, not a CSV file; pass the path of a file"):
        ScalingData.from_csv(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_csv_fifo_and_device_are_refused_without_opening(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    outcome = {}

    def read():  # in a thread: an open() of a FIFO with no writer would block the test forever
        try:
            ScalingData.from_csv(fifo)
        except Exception as err:  # noqa: BLE001 - the exception is what the test checks
            outcome["error"] = err

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(10)
    if thread.is_alive():
        with open(fifo, "w"):  # unblock the reader, then fail
            pass
        pytest.fail("from_csv blocked on a FIFO")
    assert isinstance(outcome.get("error"), ValueError), outcome
    assert "is not a regular file (a FIFO" in str(outcome["error"])
    if os.path.exists(os.devnull):
        with pytest.raises(ValueError, match=r"is not a regular file \(a character device"):
            ScalingData.from_csv(os.devnull)


def _guard_opens(monkeypatch, path, *, refuse: bool) -> list:
    """Watches (or, with `refuse`, denies as a permission error) every open of `path`; returns the opens seen."""
    seen = []

    def guard(real):
        def opener(file, *args, **kwargs):
            if not isinstance(file, int) and os.fspath(file) == os.fspath(path):
                seen.append(file)
                if refuse:
                    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(file))
            return real(file, *args, **kwargs)

        return opener

    monkeypatch.setattr(builtins, "open", guard(builtins.open))
    monkeypatch.setattr(os, "open", guard(os.open))
    return seen


def test_csv_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "runs.csv"
    path.write_text("N,loss\n1e8,3.0\n")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):  # root reads anything: simulate the refusal
            _guard_opens(monkeypatch, path, refuse=True)
        with pytest.raises(PermissionError, match=r"Cannot read .*runs\.csv: permission denied; .*chmod"):
            ScalingData.from_csv(path)
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_csv_size_and_line_length_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(_data, "MAX_CSV_BYTES", 1000)
    monkeypatch.setattr(_data, "MAX_CSV_LINE", 100)
    big = tmp_path / "big.csv"
    big.write_bytes(b"N,loss\n" + b"1" * 2000)
    opened = _guard_opens(monkeypatch, big, refuse=False)
    with pytest.raises(ValueError, match=r"big\.csv is 2007 bytes, more than the 1000 bytes from_csv reads "
                                         r"\(jscale\.data\._data\.MAX_CSV_BYTES\)"):
        ScalingData.from_csv(big)
    assert not opened  # refused from its size alone
    long = tmp_path / "long.csv"
    long.write_bytes(b"N,loss\n1e8,3.0\n" + b"9" * 500)  # one line, no newline, over the line limit
    with pytest.raises(ValueError, match=r"Could not parse .*long\.csv: line 3 is longer than 100 bytes "
                                         r"\(jscale\.data\._data\.MAX_CSV_LINE\)"):
        ScalingData.from_csv(long)
    ok = tmp_path / "ok.csv"
    ok.write_bytes(b"N,loss\r1e8,3.0\r2e8,2.9\r")  # old Mac line ends, under both limits
    assert ScalingData.from_csv(ok).loss.tolist() == [3.0, 2.9]


# 4. Column mappings.


def test_two_columns_mapped_to_one_header_are_refused(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("params,loss,size\n1e8,3.0,1\n")
    with pytest.raises(ValueError, match=r"columns maps both 'n_params' and 'loss' to the header 'params'"):
        ScalingData.from_csv(path, columns={"n_params": "params", "loss": "params"})
    with pytest.raises(ValueError, match=r"columns has keys 'N' and 'n_params', which both name the column "
                                         r"'n_params'"):
        ScalingData.from_csv(path, columns={"N": "size", "n_params": "params"})


# 5. Bootstrap resamples.


def test_bootstrap_needs_two_resamples_and_warns_below_a_few():
    data = noisy_chinchilla(n=3, sigma=0.01, seed=0)
    for bad in (dict(n_resamples=1, key=0), dict(counts=np.ones((1, len(data)), int))):
        with pytest.raises(ValueError, match=r"at least 2 .* 1000 or more are usual"):
            jscale.bootstrap(LAW, data, **bad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        fit = jscale.fit(LAW, data, starts=subset_starts()[:3])
    few = _diagnostics.FEW_RESAMPLES - 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        boot = jscale.bootstrap(LAW, data, n_resamples=few, key=0, full_fit=fit, starts="optimum", jackknife=False)
    rough = [str(w.message) for w in caught if w.category is jscale.warnings.ResamplesWarning]
    assert len(rough) == 1 and f"only {few} resamples: its standard errors and percentile intervals are rough" \
        in rough[0]
    assert any("only 99 resamples" in line for line in boot.summary().splitlines())
    assert issubclass(jscale.warnings.ResamplesWarning, jscale.warnings.IntervalWarning)
