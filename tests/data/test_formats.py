"""Data files other than comma-separated CSV: `ScalingData.from_file` reads TSV, JSON and Parquet
(told from the content, then the name), `from_csv` finds a tab or ';' delimiter, and every other
format is refused in one sentence that names it."""

import gzip
import importlib.util
import json
import re

import numpy as np
import pytest

from jscale.data._data import ScalingData

N = [1e8, 2e8, 4e8]
D = [2e9, 4e9, 8e9]
LOSS = [3.0, 2.8, 2.6]
ARCH = ["dense", "moe", "dense"]
PARQUET_ENGINE = any(importlib.util.find_spec(m) is not None for m in ("pyarrow", "fastparquet"))


def _expected():
    return ScalingData.from_arrays(n_params=N, n_tokens=D, loss=LOSS, arch=np.asarray(ARCH, dtype=object))


def _rows(sep: str) -> str:
    return "N" + sep + "D" + sep + "loss" + sep + "arch\n" + "".join(
        f"{n!r}{sep}{d!r}{sep}{v!r}{sep}{a}\n" for n, d, v, a in zip(N, D, LOSS, ARCH))


def _same(data):
    expected = _expected()
    assert data.columns == expected.columns and data.categorical == ("arch",)
    assert data.fingerprint() == expected.fingerprint()


@pytest.mark.parametrize("name, sep", [("runs.tsv", "\t"), ("runs.tab", "\t"), ("runs.csv", "\t"),
                                       ("runs.txt", "\t"), ("runs.csv", ";"), ("runs.csv", ",")])
def test_delimited_text_is_read_whatever_its_delimiter(tmp_path, name, sep):
    """Before, a tab-separated file was one column ('N\\tD\\tloss') and the law found no n_params."""
    path = tmp_path / name
    path.write_text(_rows(sep))
    for read in (ScalingData.from_csv, ScalingData.from_file):
        data = read(path)
        _same(data)
        assert json.loads(data.source)["kind"] == "csv"


def test_delimiter_by_name_and_by_count(tmp_path):
    # A .tsv file is tab-separated even when a header holds a comma.
    path = tmp_path / "runs.tsv"
    path.write_text("N\tD\tloss, nats\n1e8\t2e9\t3.0\n")
    assert ScalingData.from_csv(path)["loss, nats"].tolist() == [3.0]
    # Elsewhere the delimiter the header holds most often wins, a comma on a tie.
    path = tmp_path / "runs.csv"
    path.write_text("N\tD\tloss, nats\n1e8\t2e9\t3.0\n")
    assert ScalingData.from_csv(path).columns == ("n_params", "n_tokens", "compute", "loss, nats")
    path.write_text("N;D,loss\n1e8;2e9,3.0\n")
    assert ScalingData.from_csv(path).columns == ("loss", "N;D")
    path.write_text("N|D|loss\n1e8|2e9|3.0\n")
    assert ScalingData.from_csv(path, delimiter="|").columns == ("n_params", "n_tokens", "compute", "loss")
    for bad in ("", ",,", '"', "\n", 9):
        with pytest.raises(ValueError, match=r"delimiter must be one character other than a quote or a line break"):
            ScalingData.from_csv(path, delimiter=bad)


def _pandas():
    return pytest.importorskip("pandas")


def _frame():
    return _pandas().DataFrame({"N": N, "D": D, "loss": LOSS, "arch": ARCH})


@pytest.mark.parametrize("layout", ["records", "lists", "columns", "split", "table", "lines"])
def test_json_tables_are_read(tmp_path, layout):
    """Before, a JSON file was read as CSV: 'duplicate column' or 'no rows'."""
    path = tmp_path / "runs.json"
    if layout == "records":
        path.write_text(json.dumps([{"N": n, "D": d, "loss": v, "arch": a} for n, d, v, a in zip(N, D, LOSS, ARCH)]))
    elif layout == "lists":
        path.write_text(json.dumps({"N": N, "D": D, "loss": LOSS, "arch": ARCH}))
    elif layout == "lines":
        path = tmp_path / "runs.jsonl"
        _frame().to_json(path, orient="records", lines=True)
    else:  # pandas' own layouts: {"N": {"0": ...}}, {"columns": [...], "data": [[...]]}, {"schema": ..., "data": [...]}
        _frame().to_json(path, orient=layout, **({"index": False} if layout != "columns" else {}))
    data = ScalingData.from_file(path)
    _same(data)
    source = json.loads(data.source)
    assert source["kind"] == "json" and source["path"] == str(path) and len(source["sha256"]) == 64
    # A key maps as a header does.
    path.write_text(json.dumps({"size": N, "seen": D, "val": LOSS}))
    data = ScalingData.from_file(path, columns={"n_params": "size", "n_tokens": "seen", "loss": "val"})
    assert data.loss.tolist() == LOSS and json.loads(data.source)["columns"]["loss"] == "val"


def test_json_is_told_from_its_content_and_its_name(tmp_path):
    # JSON content under a .csv name is JSON; from_csv says so instead of reading it as CSV.
    path = tmp_path / "runs.csv"
    path.write_text("\n  " + json.dumps({"N": N, "D": D, "loss": LOSS}))
    assert ScalingData.from_file(path).loss.tolist() == LOSS
    with pytest.raises(ValueError, match=r"runs.csv holds JSON, not CSV; read it with ScalingData.from_file\."):
        ScalingData.from_csv(path)
    # A .json name whose content is not JSON is a JSON error, with its line and column.
    path = tmp_path / "runs.json"
    path.write_text("N,loss\n1e8,3.0\n")
    with pytest.raises(ValueError, match=r"Could not parse .*runs.json as JSON: Expecting value \(line 1, column 1\)"):
        ScalingData.from_file(path)


@pytest.mark.parametrize("content, message", [
    ("[]", r"holds an empty JSON list, no runs; jscale reads a list of records"),
    ("{}", r"holds an empty JSON object, no runs"),
    ("3.5", r"holds a JSON number, not a table of runs; jscale reads a list of records \(\[\{\"N\": 1e8"),
    ('"runs"', r"holds a JSON string, not a table of runs"),
    ('[{"N": 1e8, "loss": 3.0}, [1e8, 2.9]]', r"JSON record 1 is a list, not an object of column values"),
    ('[{"N": 1e8, "loss": 3.0}, {"N": 2e8}]', r"JSON record 1 has no 'loss'; every record needs every column"),
    ('{"N": [1e8, 2e8], "loss": 3.0}', r"the JSON key 'loss' holds a number, not a list of values per run"),
    ('{"N": {"0": 1e8, "1": 2e8}, "loss": {"1": 3.0, "0": 2.9}}', r"the JSON column 'loss' is indexed unlike the "
                                                                  r"first column"),
    ('{"columns": ["N", "loss"], "data": [[1e8, 3.0], [2e8]]}', r"JSON row 1 of 'data' is not a list of 2 values"),
    ('{"kind": "fit", "jscale_version": "0.3.0", "params": {}}', r"is a jscale summary \(summary.json\), not data"),
    ('{"N": [1e8, 2e8], "loss": [3.0, null]}', r"runs.json: Column 'loss' has 1 value that is not a number; the "
                                               r"first is at row 1 \(None\)"),
    ('{"N": [1e8, 2e8], "loss": [3.0]}', r"runs.json: Columns have mismatched lengths"),
    ('{"N": [1e8], "D": [2e9], "L": [3.0], "l": [3.1]}', r"Columns 'L', 'l' of .*runs.json all look like loss"),
    ("[" * 100_000, r"nested too deeply|Could not parse .* as JSON"),
])
def test_json_of_another_shape_is_refused_with_the_shape_named(tmp_path, content, message):
    path = tmp_path / "runs.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        ScalingData.from_file(path)


@pytest.mark.skipif(not PARQUET_ENGINE, reason="pandas reads Parquet with pyarrow or fastparquet")
def test_parquet_is_read(tmp_path):
    """Before, a Parquet file was read as CSV: 'The data has no rows'."""
    path = tmp_path / "runs.parquet"
    _frame().to_parquet(path)
    data = ScalingData.from_file(path)
    _same(data)
    assert json.loads(data.source)["kind"] == "parquet"
    with pytest.raises(ValueError, match=r"runs.parquet is a Parquet file, not CSV; read it with "
                                         r"ScalingData.from_file \(with pandas and pyarrow installed\)\."):
        ScalingData.from_csv(path)
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"Could not parse .*damaged.parquet as Parquet: "):
        ScalingData.from_file(damaged)


@pytest.mark.skipif(PARQUET_ENGINE, reason="the message for a Parquet file without pyarrow or fastparquet")
def test_parquet_without_an_engine_names_what_to_install(tmp_path):
    path = tmp_path / "runs.parquet"
    path.write_bytes(b"PAR1" + bytes(range(256)) + b"PAR1")
    with pytest.raises(ImportError, match=r"runs.parquet is a Parquet file; reading it needs pandas and pyarrow "
                                          r"\(pip install 'jscale\[parquet\]'\), or save the runs as CSV\."):
        ScalingData.from_file(path)


@pytest.mark.parametrize("name, content, message", [
    ("runs.xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff", r"is a ZIP archive \(e.g. an Excel .xlsx"),
    ("runs.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00\xff", r"is an Excel .xls workbook"),
    ("runs.feather", b"ARROW1\x00\x00\xff\xff\xff\xff", r"is an Arrow IPC \(Feather\) file"),
    ("runs.h5", b"\x89HDF\r\n\x1a\n\x00\x00\x00\x00", r"is an HDF5 file"),
    ("runs.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '<f8'", r"is a NumPy .npy array"),
    ("runs.db", b"SQLite format 3\x00\x10\x00\x01\x01", r"is an SQLite database"),
    ("runs.csv.gz", gzip.compress(b"N,loss\n1e8,3.0\n", mtime=0), r"is gzip-compressed data, .*; decompress it first"),
    ("runs.dat", b"\x00\x01\x02\x03\xff\xfe\xfd", r"is binary data of an unknown format, not a table of runs, and "
                                                  r"jscale reads CSV, TSV, JSON or Parquet files"),
    ("runs.csv", b"\xff\xfeN\x00,\x00D\x00\n\x00", r"is UTF-16 text and jscale reads .* in UTF-8"),
    ("runs.parquet", b"N,loss\n1e8,3.0\n", r"is named like a Parquet file but holds text, not Parquet"),
])
def test_other_formats_are_refused_in_one_sentence_naming_them(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    for read in (ScalingData.from_file, ScalingData.from_csv):
        if read == ScalingData.from_csv and name.endswith(".parquet"):
            continue  # from_csv goes by content: this one is CSV
        with pytest.raises(ValueError, match=message) as caught:
            read(path)
        text = str(caught.value)
        assert not re.search(r"(?<!e\.g)\. [A-Z]", text) and text.endswith("."), text  # one sentence


def test_a_result_file_given_as_data_is_named(tmp_path):
    import jscale

    law = jscale.laws.PowerLaw()
    fit = jscale.load(jscale.save(_saved_fit(law), tmp_path / "result.jscale"))
    assert isinstance(fit, jscale.results.FitResult)
    with pytest.raises(ValueError, match=r"result.jscale is a jscale result file \(written by jscale.save or "
                                         r"`jscale fit`\), not data; jscale.load reads it"):
        ScalingData.from_file(tmp_path / "result.jscale")


def _saved_fit(law):
    import warnings

    import jscale

    compute = np.geomspace(1e18, 1e22, 8)
    data = ScalingData.from_arrays(compute=compute, loss=1.8 + 2e3 * compute**-0.15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        return jscale.fit(law, data, loss="squared", starts=law.default_starts()[::20])
