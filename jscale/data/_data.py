"""The `ScalingData` container: training runs of a scaling study, validated once at the boundary.

Symbols used in docstrings: N = `n_params` (parameters), D = `n_tokens` (training tokens),
C = `compute` (training FLOP), U = `unique_tokens`, L = `loss` (nats/token).

Besides these standard columns a ScalingData keeps every other named column it is given: numeric
ones (learning rate, batch size, experts, steps, tokens per parameter, accuracy, ...) as float64,
and categorical ones (text labels, e.g. a router or a data mixture) as their labels, which laws
read as integer codes (`codes`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import numbers
import os
import re
import stat
from collections.abc import Mapping
from typing import Any

import numpy as np
from flax import struct

from jscale.base._text import closest

_NUMERIC = ("n_params", "n_tokens", "compute", "unique_tokens", "loss", "weight")
FIELDS = ("n_params", "n_tokens", "compute", "unique_tokens", "loss", "group", "weight")
# A `columns=` key this close to a standard field (difflib ratio) is taken for a typo of it.
_TYPO_CUTOFF = 0.88
_NDC = ("n_params", "n_tokens", "compute")

# Positive weights must lie in [WEIGHT_MIN, WEIGHT_MAX]. Only their ratios move the optimum, but
# their scale is that of the objective sum_i w_i rho(r_i), its gradient and its curvature, which
# under- or overflow float64 far from 1: with every weight 1e-300 each start stalls, with subnormal
# weights (below 2.2e-308) each one "converges" where it began. Within these bounds every term
# stays far from both ends of float64.
WEIGHT_MIN, WEIGHT_MAX = 1e-100, 1e100
# A positive weight below WEIGHT_SPAN times the largest one is lost in the rounding of the
# objective's sum: its run would be left out silently, so it must be 0 (left out openly) or larger.
WEIGHT_SPAN = float(np.finfo(np.float64).eps)
# `from_csv` refuses a file of more than MAX_CSV_BYTES bytes (from its size, before reading) and
# a line of more than MAX_CSV_LINE bytes (after reading that many: files are read in blocks,
# never whole, so a file without line breaks costs no more memory than one line).
MAX_CSV_BYTES = 1 << 30  # 1 GiB
MAX_CSV_LINE = 1 << 20  # 1 MiB
_BLOCK = 1 << 16
_LINE_END = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"
_MAYBE_SKIPPED = frozenset("# \t\r\n\f\v")

# Header names recognised without `columns=`, compared after `.strip().lower()`.
ALIASES = {
    "n_params": ("n_params", "params", "parameters", "n", "model_size", "model size"),
    "n_tokens": ("n_tokens", "tokens", "d", "d_tokens"),
    "compute": ("compute", "flops", "c", "c_flops", "training flop"),
    "unique_tokens": ("unique_tokens", "unique", "u", "u_unique_tokens"),
    "loss": ("loss", "l"),
    "group": ("group",),
    "weight": ("weight",),
}


class ScalingData(struct.PyTreeNode, kw_only=True, eq=False):
    """Training runs of a scaling study: one row per run, every column a 1-D array of shape (R,).

    Build it with `from_arrays`, `from_csv`, `from_file` (CSV, TSV, JSON or Parquet) or
    `from_dataframe`, which copy, convert to float64,
    validate and freeze the columns. The plain constructor does none of that (JAX uses it to
    rebuild the pytree), and neither does `.replace(...)`.

    Attributes:
        n_params: N, model parameters, float64 (R,), or None.
        n_tokens: D, training tokens, float64 (R,), or None.
        compute: C, training FLOP, float64 (R,), or None.
        unique_tokens: U, unique training tokens (data-constrained laws), float64 (R,), or None.
        loss: L, final loss in nats/token, float64 (R,), or None.
        group: labels of any dtype (R,), e.g. a data set or architecture per run, or None.
        weight: per-run weights >= 0, float64 (R,), or None.
        extra: every other column, name -> (R,): float64 for numeric columns, the labels as given
            for categorical ones. Read any column with `data[name]`.
        categorical: static; names of the categorical columns (`group` among them when present).
        derived: static; names of the columns computed with C = 6·N·D rather than given.
        source: static; where the data came from, as JSON text ("" when built from arrays):
            a file's format ("csv", "json" or "parquet" as its kind), absolute path, column
            mapping and SHA-256, or a bundled dataset's name.
            Fits record it with the data's `fingerprint()`, so `jscale plot result.jscale`
            can reload the data.

    Example:
        >>> data = ScalingData.from_arrays(n_params=[1e8, 1e9], n_tokens=[2e9, 2e10],
        ...                                loss=[3.1, 2.6])
        >>> data.columns, data.derived, float(data.compute[0])
        (('n_params', 'n_tokens', 'compute', 'loss'), ('compute',), 1.2e+18)
    """

    n_params: np.ndarray | None = None
    n_tokens: np.ndarray | None = None
    compute: np.ndarray | None = None
    unique_tokens: np.ndarray | None = None
    loss: np.ndarray | None = None
    group: np.ndarray | None = None
    weight: np.ndarray | None = None
    extra: dict = struct.field(default_factory=dict)
    categorical: tuple[str, ...] = struct.field(pytree_node=False, default=())
    derived: tuple[str, ...] = struct.field(pytree_node=False, default=())
    source: str = struct.field(pytree_node=False, default="")

    @classmethod
    def from_arrays(
        cls,
        *,
        n_params=None,
        n_tokens=None,
        compute=None,
        unique_tokens=None,
        loss=None,
        group=None,
        weight=None,
        **columns,
    ) -> ScalingData:
        """Builds validated data from array-likes of shape (R,), copied to read-only float64.

        When exactly two of N, D and C are given, the third is derived with C = 6·N·D (so
        D = C/(6N) and N = C/(6D)), the standard approximation of Kaplan et al. 2020 / Hoffmann et
        al. 2022, and its name is recorded in `derived`. All three given are kept as they are (no
        consistency check, as some studies count FLOP differently); one or none is allowed too,
        since some laws need only N or only D.

        Args:
            n_params: N, parameters per run, shape (R,).
            n_tokens: D, training tokens per run, shape (R,).
            compute: C, training FLOP per run, shape (R,).
            unique_tokens: U, unique training tokens per run, shape (R,).
            loss: L, final loss in nats/token, shape (R,).
            group: optional labels of any dtype, shape (R,).
            weight: optional weights >= 0, not all zero, shape (R,); a run of weight 0 is left
                out. Every positive weight must lie in [1e-100, 1e100] (`WEIGHT_MIN`,
                `WEIGHT_MAX`) and be at least float64's epsilon (2.2e-16, `WEIGHT_SPAN`) times
                the largest: only their ratios matter to the fit, and weights outside these
                bounds under- or overflow the objective or vanish in its rounding (rescale them,
                e.g. divide by their mean, or set a weight to 0 to leave its run out).
            **columns: any other columns by name, e.g. `n_experts=...`, `accuracy=...` or
                `router=[...]`: numeric ones become float64, others are categorical labels.

            N, D, C, U and loss must be positive and finite; every column may be absent, but at
            least one must be given. A numpy masked array is read as its data when nothing is
            masked; a masked entry (or `numpy.ma.masked` in a list) is refused, as it stands for
            a missing value.

        Returns:
            A ScalingData with R rows.

        Raises:
            ValueError: for a column that is not 1-D or not numeric, masked entries, mismatched
                lengths, no rows, NaN or infinite values, zero or negative N, D, C, U or loss
                (derived columns included), or negative, all-zero or out-of-bounds weights (see
                `weight`). The message names the column, the count and the first bad row.
        """
        raw = dict(n_params=n_params, n_tokens=n_tokens, compute=compute, unique_tokens=unique_tokens, loss=loss,
                   group=group, weight=weight)
        return _build({**raw, **columns}, derive=True)

    @classmethod
    def from_file(cls, path: str | os.PathLike, columns: Mapping[str, str] | None = None) -> ScalingData:
        """Reads runs from a data file, CSV, TSV, JSON or Parquet, told from its content (then its
        extension), and validates them as `from_arrays` does.

        Text is JSON when it starts with '[' or '{' (or the file is named .json, .jsonl or
        .ndjson), else delimited text read by `from_csv` (commas, or tabs as its `delimiter`
        rule finds them). JSON holds a list of records (`[{"N": 1e8, "loss": 3.1}, ...]`, as
        `DataFrame.to_json(orient="records")` writes), an object of columns (`{"N": [...],
        "loss": [...]}`, or pandas' default `{"N": {"0": ...}, ...}`), pandas' "split" or "table"
        layout, or one record per line (JSON Lines). Parquet needs pandas with pyarrow (or
        fastparquet). Columns are found and kept as in `from_csv`; rows in messages count records
        from 0.

        Args:
            path: the data file.
            columns: optional map from column name to header (or JSON key) name, as in `from_csv`.

        Returns:
            A ScalingData with one row per run; `source` records the format, path and SHA-256.

        Raises:
            FileNotFoundError, PermissionError: as `from_csv`.
            ImportError: for a Parquet file when pandas or a Parquet engine is not installed.
            ValueError: for a file of another format (Excel, Feather, HDF5, a compressed or
                binary file, a jscale result), JSON of another shape, or any check of `from_csv`
                or `from_arrays`.

        Example:
            >>> import json, os, tempfile
            >>> path = os.path.join(tempfile.mkdtemp(), "runs.json")
            >>> with open(path, "w") as f:
            ...     json.dump([{"N": 1e8, "D": 2e9, "loss": 3.1}, {"N": 1e9, "D": 2e10, "loss": 2.6}], f)
            >>> ScalingData.from_file(path).columns
            ('n_params', 'n_tokens', 'compute', 'loss')
        """
        path = os.fspath(path)
        with _open_regular(path, "from_file") as f:
            head = f.read(_HEAD)
            kind = _format_of(path, head)
            raw = b"" if kind == "text" else head + f.read()  # within MAX_CSV_BYTES, from its size
        if kind == "text":
            return cls.from_csv(path, columns=columns)
        if kind == "json":
            header, values = _json_table(path, raw)
        else:
            header, values = _parquet_table(path, raw)
        return _build_table(path, kind, header, values, columns, hashlib.sha256(raw).hexdigest())

    @classmethod
    def from_csv(
        cls, path: str | os.PathLike, columns: Mapping[str, str] | None = None, *, delimiter: str | None = None
    ) -> ScalingData:
        """Reads runs from a CSV file with a header row, then validates them as `from_arrays` does.

        Standard columns are found by case-insensitive header aliases (n_params: n_params, params,
        parameters, N, model_size, "Model Size"; n_tokens: n_tokens, tokens, D, D_tokens; compute:
        compute, flops, C, C_flops, "Training FLOP"; unique_tokens: unique_tokens, unique, U,
        U_unique_tokens; loss: loss, L; group; weight). Every other column is kept under its
        header: as numbers when every cell is a number, else as categorical text labels.

        Blank and whitespace-only lines are skipped, and so are comment lines, whose first
        non-blank character is '#', before or after the header (a cell that starts with '#'
        inside a line is data). Line numbers in messages are those of the file, skipped lines
        included. The file must be a regular file of at most `MAX_CSV_BYTES` (1 GiB) with lines
        of at most `MAX_CSV_LINE` bytes (1 MiB); it is read in blocks, never whole.

        Args:
            path: the CSV file (UTF-8, with or without a byte order mark).
            columns: optional map from column name to header name, e.g.
                `{"n_params": "Model Size", "lr": "learning_rate"}`; it overrides the aliases
                for standard fields and names any other column as you like. Each header feeds
                one column.
            delimiter: the one character between cells. None (default): a tab for a file named
                .tsv or .tab, else a tab or ';' when the header line holds it and no comma
                (tab-separated files exported under a .csv or .txt name), else a comma.

        Returns:
            A ScalingData with one row per data line; error messages give rows and file lines.

        Raises:
            FileNotFoundError: if `path` does not exist.
            PermissionError: if the file cannot be read.
            ValueError: for a directory, a FIFO, device or other file that is not a regular one
                (refused from its metadata, never opened), a file or line over the limits, a
                file in another format (JSON, Parquet, Excel, compressed or binary: named, and
                `from_file` reads JSON and Parquet), an empty file, a ragged line, a cell of a
                standard column that is not a number, a missing or ambiguous column, two
                columns mapped to one header, or any check of `from_arrays`.
        """
        path = os.fspath(path)
        delimiter = _check_delimiter(delimiter)
        digest = hashlib.sha256()  # of the bytes as read, for `source`
        with _open_regular(path) as f:
            kind = _format_of(path, f.read(_HEAD), named=False)
            if kind != "text":
                raise ValueError(f"{path} {_FORMAT_NAMES[kind]}, not CSV; read it with ScalingData.from_file"
                                 + (" (with pandas and pyarrow installed)." if kind == "parquet" else "."))
            f.seek(0)
            if delimiter is None and os.path.splitext(path)[1].lower() in (".tsv", ".tab"):
                delimiter = "\t"
            records, comments, delimiter = _records(path, _lines(path, f, digest), delimiter)
        if not records:
            raise ValueError(
                f"Could not parse {path}: it has no header row: it holds only blank lines and comments "
                f"(lines starting with '#'); it needs a header row naming the columns, then one line per run."
                if comments else
                f"Could not parse {path}: the file is empty; it needs a header row "
                f"naming the columns, then one line per run."
            )
        _check_commented_header(path, records[0], comments, delimiter)
        header = [h.strip() for h in records[0][1]]
        body = records[1:]
        for line, row in body:
            if len(row) != len(header):
                raise ValueError(
                    f"Could not parse {path}: line {line} has {len(row)} fields but the "
                    f"header has {len(header)}; every line needs one value per column."
                )
        raw = {}
        for field, name in _resolve_columns(header, columns, path).items():
            j = header.index(name)
            cells = [row[j] for _, row in body]
            raw[field] = _parse_cells(field, name, cells, path, [line for line, _ in body])
        data = _build(raw, derive=True, lines=[line for line, _ in body], source=path)
        origin = {"kind": "csv", "path": os.path.abspath(path), "columns": dict(columns or {}),
                  "sha256": digest.hexdigest()}
        return data.replace(source=json.dumps(origin))

    @classmethod
    def from_dataframe(cls, df: Any, columns: Mapping[str, Any] | None = None) -> ScalingData:
        """Reads runs from a data frame (anything with `.columns` and `df[name]`, e.g. pandas).

        Columns are found and kept as in `from_csv`; rows in error messages are positions, not
        index labels.

        Args:
            df: the data frame, one row per run.
            columns: optional map from column name to data frame column, overriding the aliases.

        Returns:
            A ScalingData with one row per data frame row.

        Raises:
            ValueError: for a missing or ambiguous column, or any check of `from_arrays`.
        """
        resolved = _resolve_columns(list(df.columns), columns, "the data frame")
        return _build({field: np.asarray(df[name]) for field, name in resolved.items()}, derive=True)

    def __len__(self) -> int:
        for name in FIELDS:
            if getattr(self, name) is not None:
                return len(getattr(self, name))
        return len(next(iter(self.extra.values())))

    def __getitem__(self, name: str) -> np.ndarray:
        """The column `name` (standard or not): float64 for numeric columns, labels for categorical ones."""
        value = getattr(self, name) if name in FIELDS else self.extra.get(name)
        if value is None:
            raise KeyError(f"The data has no column {name!r}{closest(name, self.columns)}; its columns are "
                           f"{', '.join(self.columns)}.")
        return value

    def __contains__(self, name) -> bool:
        return name in self.columns

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the present columns: the standard ones in the order of `FIELDS`, then the others."""
        return tuple(name for name in FIELDS if getattr(self, name) is not None) + tuple(self.extra)

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(levels, codes) of a column: its sorted distinct values and, per row, the int32 index of
        the row's value among them. Laws read categorical columns as these codes."""
        return _codes(self[name])

    def require(self, *names: str, who: str) -> None:
        """Checks that every column in `names` is present; laws call this before fitting.

        Args:
            *names: column names, e.g. "n_params", "n_tokens", "n_experts".
            who: what needs them, used as the subject of the error, e.g. "The Chinchilla law".

        Raises:
            ValueError: naming `who`, the missing columns, the closest present names and the
                columns this data has.
        """
        missing = [n for n in names if n not in self.columns]
        if missing:
            listed = " and ".join(repr(n) for n in missing)
            hint = (
                ", or give two of n_params, n_tokens, compute" if set(missing) <= set(_NDC) else ""
            )
            raise ValueError(
                f"{who} needs {'column' if len(missing) == 1 else 'columns'} {listed}"
                f"{closest(missing[0], self.columns)}, which this data does not have (it has: "
                f"{', '.join(self.columns)}). Pass {'it' if len(missing) == 1 else 'them'} to "
                f"ScalingData.from_arrays / from_csv (any column by name; columns={{{missing[0]!r}: 'header'}} "
                f"maps a header){hint}."
            )

    def fingerprint(self) -> str:
        """SHA-256 of the columns' names and values: equal for equal data, whatever its source."""
        digest = hashlib.sha256()
        for name in self.columns:
            value = self[name]
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(value).tobytes() if name not in self.categorical
                          else "\x1f".join(map(str, value)).encode())
        return digest.hexdigest()

    def subset(self, index) -> ScalingData:
        """Returns the rows picked by a boolean mask of shape (R,) or by integer indices.

        The result keeps every column, `categorical` and `derived`; an empty selection raises.
        """
        index = np.asarray(index)
        if index.size == 0:
            index = index.astype(int)  # [] is float64; let it through to the "no rows" error
        if index.dtype == bool and index.shape != (len(self),):
            raise ValueError(
                f"subset() got a boolean mask of shape {index.shape}, but the data has "
                f"{len(self)} rows; pass a mask of shape ({len(self)},) or row indices."
            )
        if index.dtype != bool and index.dtype.kind not in "iu":
            raise ValueError(
                f"subset() needs a boolean mask or integer row indices, but got dtype "
                f"{index.dtype}; convert it with np.asarray(index, dtype=int)."
            )
        if not np.any(index) if index.dtype == bool else index.size == 0:
            raise ValueError("subset() selects no rows; pick at least one run.")

        def take(a):
            out = a[index]
            out.flags.writeable = False
            return out

        standard = {name: take(getattr(self, name)) for name in FIELDS if getattr(self, name) is not None}
        return self.replace(**standard, extra={k: take(v) for k, v in self.extra.items()})

    @classmethod
    def concat(cls, datasets: Mapping[str, ScalingData], *, by: str = "dataset") -> ScalingData:
        """Several data sets as one, each row labelled with its data set's name in the categorical
        column `by`; the inverse of `split`. Every data set must have the same columns (derived
        ones, such as C = 6ND, are derived again). E.g. recipes fitted together with some
        parameters shared: `jscale.laws.shared(law, ScalingData.concat({"a": a, "b": b}), ...)`.
        """
        if not isinstance(datasets, Mapping) or len(datasets) < 1:
            raise TypeError("concat takes a mapping of names to ScalingData, e.g. {'recipe_a': a, 'recipe_b': b}.")
        parts = list(datasets.items())
        for name, d in parts:
            if not isinstance(d, ScalingData):
                raise TypeError(f"concat: datasets[{name!r}] is a {type(d).__name__}, not a ScalingData.")
        first = parts[0][1]
        for name, d in parts[1:]:
            if d.columns != first.columns or d.derived != first.derived:
                raise ValueError(f"concat: datasets[{name!r}] has columns {d.columns} but datasets[{parts[0][0]!r}] "
                                 f"has {first.columns}; give every data set the same columns.")
        if by in first.columns:
            raise ValueError(f"concat: the data sets already have a column {by!r}; name the new column with by=.")
        values = {c: np.concatenate([np.asarray(d[c]) for _, d in parts]) for c in first.columns
                  if c not in first.derived}
        labels = np.concatenate([np.full(len(d), str(name), dtype=object) for name, d in parts])
        return cls.from_arrays(**values, **{by: labels})

    def split(self, by: str = "group") -> dict:
        """The rows grouped by the values of a column, label -> ScalingData (labels sorted).

        Pass the values to `jscale.fit_many` to fit every group in one batched call:
        `results = jscale.fit_many(law, list(data.split("router").values()))`.
        """
        if by not in self.columns:
            raise ValueError(f"split: the data has no column {by!r}{closest(by, self.columns)}; its columns are "
                             f"{', '.join(self.columns)}.")
        levels, codes = self.codes(by)
        return {label: self.subset(np.flatnonzero(codes == k)) for k, label in enumerate(levels.tolist())}

    def final(self, run: str = "group", *, k: int = 1, along: str = "n_tokens", mean=("loss",)) -> ScalingData:
        """One row per run from its checkpoints: the last one (largest `along`), with the `mean`
        columns averaged over the run's last `k` checkpoints.

        Published ladders define a run's final loss as such a mean (e.g. of the last 5
        evaluations), which damps the noise of a single evaluation; `k=1` takes the last
        checkpoint as it is. Runs come in the order of their labels (as `split`).

        Args:
            run: the column naming each checkpoint's run.
            k: checkpoints averaged, at least 1; every run needs at least `k`.
            along: the numeric column that orders a run's checkpoints (tokens seen, steps, compute).
            mean: the numeric columns averaged (the loss; also task metrics, e.g. ("loss", "err")).

        Example:
            >>> data = ScalingData.from_arrays(n_params=[1e8] * 3 + [1e9] * 3, n_tokens=[1e9, 2e9, 3e9] * 2,
            ...                                loss=[3.3, 3.1, 3.0, 3.0, 2.8, 2.7], group=["s"] * 3 + ["m"] * 3)
            >>> ends = data.final(k=2)
            >>> ends.group.tolist(), ends.loss.round(6).tolist(), ends.n_tokens.tolist()
            (['m', 's'], [2.75, 3.05], [3000000000.0, 3000000000.0])
        """
        for name, what in ((run, "run"), (along, "along")):
            if name not in self.columns:
                raise ValueError(f"final: the data has no column {name!r} (its {what} column)"
                                 f"{closest(name, self.columns)}; its columns are {', '.join(self.columns)}.")
        mean = (mean,) if isinstance(mean, str) else tuple(mean)
        wrong = [c for c in (along, *mean) if c not in self.columns or c in self.categorical]
        if wrong:
            raise ValueError(f"final: {wrong[0]!r} must be a numeric column of the data (along= orders the "
                             "checkpoints, mean= names the columns averaged).")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"final: k must be a whole number of checkpoints, at least 1; got {k!r}.")
        labels, codes = self.codes(run)
        order = np.lexsort((np.asarray(self[along]), codes))  # by run, then along its checkpoints
        ends = np.flatnonzero(np.r_[codes[order][1:] != codes[order][:-1], True])
        starts = np.r_[0, ends[:-1] + 1]
        short = np.flatnonzero(ends - starts + 1 < k)
        if short.size:
            raise ValueError(f"final: run {labels[short[0]]!r} has {ends[short[0]] - starts[short[0]] + 1} "
                             f"checkpoint(s), fewer than k={k}; lower k or drop the run.")
        last = self.subset(order[ends])
        averaged = {c: np.array([np.mean(np.asarray(self[c])[order[e - k + 1:e + 1]]) for e in ends]) for c in mean}
        for values in averaged.values():
            values.flags.writeable = False
        standard = {c: v for c, v in averaged.items() if c in FIELDS}
        return last.replace(**standard, extra={**last.extra, **{c: v for c, v in averaged.items() if c not in FIELDS}})

    def __eq__(self, other) -> bool:
        if not isinstance(other, ScalingData) or self.columns != other.columns:
            return False
        return (self.derived, self.categorical) == (other.derived, other.categorical) and all(
            np.array_equal(self[n], other[n]) for n in self.columns
        )

    def __repr__(self) -> str:
        lines = [f"ScalingData({_plural(len(self), 'row')},"]
        for name in self.columns:
            col = self[name]
            if name in self.categorical:
                text = f"{len(_codes(col)[0])} distinct labels"
            else:
                text = f"{col.min():.4g} .. {col.max():.4g}"
            lines.append(
                f"  {name:<14}{text}" + ("  (derived, C = 6ND)" if name in self.derived else "")
            )
        return "\n".join(lines) + ")"


def _codes(labels) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels)
    try:
        levels, codes = np.unique(labels, return_inverse=True)
    except TypeError:  # labels of mixed types do not sort: compare them as text
        levels, codes = np.unique(labels.astype(str), return_inverse=True)
    return levels, codes.ravel().astype(np.int32)


def _field_name(field) -> str:
    """A `columns=` key as a column name: a standard field's alias names that field, and a near
    miss of one (a typo such as 'n_param') is an error."""
    import difflib

    key = str(field)
    for name, aliases in ALIASES.items():
        if key == name or key.strip().lower() in aliases:
            return name
    near = difflib.get_close_matches(key, FIELDS, n=1, cutoff=_TYPO_CUTOFF)
    if near:
        raise ValueError(
            f"columns has key {key!r}, very close to the standard column {near[0]!r}: a typo? Use {near[0]!r} for "
            f"the standard column, or another name for a column of your own. Standard columns: {', '.join(FIELDS)}."
        )
    return key


def _resolve_columns(header: list, columns: Mapping | None, source: str) -> dict:
    """Maps column names to header names: explicit `columns` first, then the aliases of the standard
    fields, then every other header under its own name (unless that name is taken)."""
    if columns is None:
        columns = {}
    if not isinstance(columns, Mapping):
        raise TypeError(
            f"columns must be a dict from column name to header name, but got "
            f"{type(columns).__name__}; e.g. columns={{'n_params': 'Model Size'}}."
        )
    resolved, keys = {}, {}
    for key, name in columns.items():
        field = _field_name(key)
        if field in keys:
            raise ValueError(
                f"columns has keys {keys[field]!r} and {key!r}, which both name the column {field!r}; keep one of them."
            )
        keys[field] = key
        if name not in header:
            raise ValueError(
                f"Column {name!r} (for {field}) is not in {source}{closest(name, header)}; its columns are: "
                f"{', '.join(map(str, header))}."
            )
        other = next((f for f, n in resolved.items() if n == name), None)
        if other is not None:
            raise ValueError(
                f"columns maps both {other!r} and {field!r} to the header {name!r} of {source}; a header feeds one "
                f"column, so map {field!r} to another header (its columns are: {', '.join(map(str, header))})."
            )
        resolved[field] = name
    taken = set(resolved.values())
    for field in FIELDS:
        if field in resolved:
            continue
        # dict.fromkeys drops repeated names, which the duplicate check below reports instead.
        found = list(dict.fromkeys(h for h in header if str(h).strip().lower() in ALIASES[field]))
        found = [h for h in found if h not in taken]
        exact = [h for h in found if h == field]
        if len(found) > 1 and len(exact) != 1:
            raise ValueError(
                f"Columns {', '.join(repr(h) for h in found)} of {source} all look like "
                f"{field}, so it is ambiguous; pass columns={{{field!r}: ...}} to choose."
            )
        if found:
            resolved[field] = exact[0] if exact else found[0]
            taken.add(resolved[field])
    for h in header:
        name = str(h).strip()
        if name and h not in taken and name not in resolved:
            resolved[name] = h
    for field, name in resolved.items():
        if sum(h == name for h in header) > 1:
            raise ValueError(
                f"Column {name!r} (for {field}) appears more than once in {source}; "
                f"rename the copies so each column name is unique."
            )
    return resolved


def _parse_cells(field: str, name: str, cells: list, path: str, lines: list):
    """A CSV column's cells as floats; a standard numeric column with a cell that is not a number
    is an error, any other such column is kept as text labels."""
    if field == "group":
        return cells
    values, bad = [], []
    for i, cell in enumerate(cells):
        try:
            values.append(float(cell))
        except ValueError:
            bad.append(i)
    if not bad:
        return values
    if field not in _NUMERIC:
        return np.asarray(cells, dtype=object)
    i = bad[0]
    label = f"{name!r}" + ("" if name == field else f" (for {field})")
    count = f"{len(bad)} value{'s' if len(bad) > 1 else ''} that {'are' if len(bad) > 1 else 'is'}"
    raise ValueError(
        f"Could not parse {path}: column {label} has {count} not a number; the first is "
        f"at row {i} (line {lines[i]}): {cells[i]!r}."
    )


def _kind_of(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "neither a file nor a directory"


def _open_regular(path: str, reader: str = "from_csv"):
    """`path` opened for binary reading, after checks on its metadata: it exists, is a regular file
    (a FIFO or device is refused before any open, which could block) and is at most MAX_CSV_BYTES
    (`reader`, the method reading it, is named in messages)."""
    what = "CSV file" if reader == "from_csv" else "data file"
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(
            f"No {what} at {path!r}; check the path (relative paths start at {os.getcwd()})."
        ) from None
    except PermissionError:
        raise PermissionError(
            f"Cannot read {path}: permission denied on a folder of its path; make the folders readable "
            f"(e.g. chmod u+rx) or copy the file somewhere you can read."
        ) from None
    except OSError as err:  # e.g. a symbolic link loop or a name too long
        raise ValueError(f"Cannot read {path}: {err.strerror}; check the path.") from None

    def check(mode: int) -> None:
        if stat.S_ISDIR(mode):
            raise ValueError(f"{path!r} is a directory, not a {what}; pass the path of a file inside it.")
        if not stat.S_ISREG(mode):
            raise ValueError(
                f"{path!r} is not a regular file ({_kind_of(mode)}); {reader} reads a {what} on disk, so save "
                f"the data to a file first."
            )

    check(info.st_mode)
    if info.st_size > MAX_CSV_BYTES:
        raise ValueError(
            f"{path} is {info.st_size} bytes, more than the {MAX_CSV_BYTES} bytes {reader} reads "
            f"(jscale.data._data.MAX_CSV_BYTES); keep only the runs and columns to fit, or read it with pandas and "
            f"pass the frame to ScalingData.from_dataframe."
        )
    # O_NONBLOCK: should the path have become a FIFO since the stat, the open returns at once and the
    # check of the open file below refuses it.
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except PermissionError:
        raise PermissionError(
            f"Cannot read {path}: permission denied; make it readable (e.g. chmod u+r {path}) or copy it "
            f"somewhere you can read."
        ) from None
    try:
        check(os.fstat(fd).st_mode)
    except ValueError:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _lines(path: str, f, digest):
    """Yields the text lines of the binary file `f`, each with its line end (\\n, \\r\\n or \\r, as
    csv expects of a file opened with newline=""), reading blocks and adding them to `digest`.

    A line longer than MAX_CSV_LINE bytes, or a file that grows past MAX_CSV_BYTES, is refused
    once that much is read: memory stays within about a line and a block. Each block's complete
    lines are decoded and split at once (per-line work in Python would double the time).
    """
    number, offset, size, pending = 0, 0, 0, b""
    while True:
        block = f.read(_BLOCK)
        size += len(block)
        if size > MAX_CSV_BYTES:
            raise ValueError(
                f"{path} holds more than the {MAX_CSV_BYTES} bytes from_csv reads (jscale.data._data.MAX_CSV_BYTES); "
                f"keep only the runs and columns to fit, or read it with pandas and use ScalingData.from_dataframe."
            )
        digest.update(block)
        pending += block
        # Complete lines end at the last line end, except a final "\r", maybe the first half of "\r\n".
        cut = len(pending) if not block else max(pending.rfind(b"\n"), pending.rfind(b"\r", 0, len(pending) - 1)) + 1
        done, pending = pending[:cut], pending[cut:]
        if offset == 0 and done.startswith(_BOM):
            done, offset = done[len(_BOM):], len(_BOM)
        if len(pending) > MAX_CSV_LINE:
            raise _too_long(path, number + done.count(b"\n") + done.count(b"\r") - done.count(b"\r\n") + 1)
        if len(done) > MAX_CSV_LINE:
            lengths = [len(line) for line in _LINE_END.split(done)]
            if max(lengths) > MAX_CSV_LINE:
                raise _too_long(path, number + 1 + next(i for i, n in enumerate(lengths) if n > MAX_CSV_LINE))
        try:
            text = done.decode("utf-8")
        except UnicodeDecodeError as err:
            line = number + 1 + len(_LINE_END.findall(done, 0, err.start))
            raise ValueError(
                f"Could not parse {path}: it is not UTF-8 text (byte {offset + err.start} cannot be decoded, on line "
                f"{line}); save it as a UTF-8 CSV."
            ) from None
        offset += len(done)
        for line in io.StringIO(text, newline=""):
            number += 1
            yield line
        if not block:
            return


# `from_file` and `from_csv` tell a file's format from its first _HEAD bytes.
_HEAD = 4096
# Formats recognised from their first bytes (a binary head), to name them when refusing them.
_MAGIC = (
    (b"PAR1", "parquet"),
    (b"PK\x03\x04", "a ZIP archive (e.g. an Excel .xlsx workbook, or zipped files)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel .xls workbook"),
    (b"ARROW1", "an Arrow IPC (Feather) file"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file"),
    (b"\x93NUMPY", "a NumPy .npy array"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"ORC", "an ORC file"),
    (b"Obj\x01", "an Avro file"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"BZh", "bzip2-compressed data"),
    (b"\xfd7zXZ\x00", "xz-compressed data"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed data"),
    (b"%PDF", "a PDF document"),
)
_FORMAT_NAMES = {"json": "holds JSON", "parquet": "is a Parquet file"}
_READS = "jscale reads CSV, TSV, JSON or Parquet files"


def _format_of(path: str, head: bytes, named: bool = True) -> str:
    """"text" (CSV or TSV), "json" or "parquet", from a file's first bytes `head` and then, if
    `named`, its extension; ValueError naming any other format (one sentence: what it is, what
    jscale reads)."""
    ext = os.path.splitext(path)[1].lower() if named else ""
    if b"jscale-result" in head[:64]:
        raise ValueError(f"{path} is a jscale result file (written by jscale.save or `jscale fit`), not data; "
                         "jscale.load reads it (`jscale allocate`, `predict` and `plot` on the command line).")
    body = head[len(_BOM):] if head.startswith(_BOM) else head
    try:
        body.decode("utf-8")
        text = b"\x00" not in body
    except UnicodeDecodeError as err:  # a character cut at the end of the head is still text
        text = err.start >= len(body) - 3 and err.reason == "unexpected end of data" and b"\x00" not in body
    if not text:
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise ValueError(f"{path} is UTF-16 text and {_READS} in UTF-8; save it as UTF-8 (a spreadsheet's "
                             "'CSV UTF-8').")
        kind = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
        if kind == "parquet":
            return "parquet"
        if kind is not None:
            fix = ("decompress it first (e.g. gunzip)" if "compressed" in kind else
                   "export the runs as CSV (e.g. DataFrame.to_csv) and read that")
            raise ValueError(f"{path} is {kind}, not a table of runs, and {_READS}; {fix}.")
        if b"\x00" in body:  # text in another encoding has no NUL bytes; from_csv says where it is not UTF-8
            raise ValueError(f"{path} is binary data of an unknown format, not a table of runs, and {_READS}; "
                             "export the runs as CSV and read that.")
        return "text"
    if ext == ".parquet":
        raise ValueError(f"{path} is named like a Parquet file but holds text, not Parquet; rename it for its "
                         "content (.csv, .tsv or .json).")
    if ext in (".json", ".jsonl", ".ndjson") or body.lstrip()[:1] in (b"[", b"{"):
        return "json"
    return "text"


def _json_table(path: str, raw: bytes) -> tuple[list, dict]:
    """(keys, {key: [value per run]}) of a JSON file: records, columns, pandas' split or table
    layouts, or JSON Lines; ValueError naming the shape otherwise."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"Could not parse {path} as JSON: it is not UTF-8 text (byte {err.start}); save it as "
                         "UTF-8.") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        lines = [line for line in text.splitlines() if line.strip()]
        value = None
        if err.msg == "Extra data" and lines and lines[0].lstrip().startswith("{"):
            value = _json_lines(path, lines)
        if value is None:
            raise ValueError(f"Could not parse {path} as JSON: {err.msg} (line {err.lineno}, column {err.colno})."
                             ) from None
    except RecursionError:
        raise ValueError(f"Could not parse {path} as JSON: it is nested too deeply to be a table of runs.") from None
    shape = ("; jscale reads a list of records ([{\"N\": 1e8, \"loss\": 3.1}, ...]) or an object of columns "
             "({\"N\": [...], \"loss\": [...]})")
    if isinstance(value, dict) and isinstance(value.get("data"), list) and (
            "columns" in value or "schema" in value):
        if "columns" in value:  # pandas' orient="split"
            return _json_rows(path, value["columns"], value["data"], shape)
        value = value["data"]  # pandas' orient="table": records
    if isinstance(value, list):
        return _json_records(path, value, shape)
    if not isinstance(value, dict):
        raise ValueError(f"{path} holds a JSON {_json_type(value)}, not a table of runs{shape}.")
    if "jscale_version" in value:
        raise ValueError(f"{path} is a jscale summary (summary.json), not data; its runs are in the data file the "
                         "summary's data_source names.")
    if not value:
        raise ValueError(f"{path} holds an empty JSON object, no runs{shape}.")
    columns = {}
    first = next(iter(value.values()))
    index = list(first) if isinstance(first, dict) else None
    for key, cells in value.items():
        if isinstance(cells, dict):  # pandas' default orient="columns": {column: {index: value}}
            if index is None or list(cells) != index:
                raise ValueError(f"{path}: the JSON column {key!r} is indexed unlike the first column; every column "
                                 "needs the same row index.")
            cells = list(cells.values())
        if not isinstance(cells, list):
            raise ValueError(f"{path}: the JSON key {key!r} holds a {_json_type(cells)}, not a list of values per "
                             f"run{shape}.")
        columns[key] = cells
    return list(columns), columns


def _json_lines(path: str, lines: list):
    """The records of a JSON Lines file (one object per line), or None if a line is not JSON."""
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            return None
    return records


def _json_type(value) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _json_records(path: str, records: list, shape: str) -> tuple[list, dict]:
    if not records:
        raise ValueError(f"{path} holds an empty JSON list, no runs{shape}.")
    keys = {}
    for k, record in enumerate(records):
        if not isinstance(record, dict):
            raise ValueError(f"{path}: JSON record {k} is a {_json_type(record)}, not an object of column values"
                             f"{shape}.")
        keys.update(dict.fromkeys(record))
    for k, record in enumerate(records):
        missing = [key for key in keys if key not in record]
        if missing:
            raise ValueError(f"{path}: JSON record {k} has no {missing[0]!r}; every record needs every column "
                             f"(use null for a missing value of a column of your own).")
    header = list(keys)
    return header, {key: [record[key] for record in records] for key in header}


def _json_rows(path: str, header, rows, shape: str) -> tuple[list, dict]:
    if not isinstance(header, list) or not all(isinstance(h, str) for h in header):
        raise ValueError(f"{path}: the JSON 'columns' is not a list of column names{shape}.")
    for k, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(header):
            raise ValueError(f"{path}: JSON row {k} of 'data' is not a list of {len(header)} values, one per column.")
    return header, {h: [row[j] for row in rows] for j, h in enumerate(header)}


def _parquet_table(path: str, raw: bytes) -> tuple[list, dict]:
    """(column names, {name: values}) of a Parquet file, through pandas; ImportError naming what to
    install when pandas or its Parquet engine is missing."""
    missing = ImportError(f"{path} is a Parquet file; reading it needs pandas and pyarrow (pip install "
                          "'jscale[parquet]'), or save the runs as CSV.")
    try:
        import pandas as pd
    except ImportError:
        raise missing from None
    try:
        frame = pd.read_parquet(io.BytesIO(raw))
    except ImportError:  # pandas without a Parquet engine
        raise missing from None
    except (ValueError, OSError, TypeError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f"Could not parse {path} as Parquet: {first.rstrip('.')}.") from None
    header = [str(name) for name in frame.columns]
    return header, {name: frame[col].to_numpy() for name, col in zip(header, frame.columns)}


def _build_table(path: str, kind: str, header: list, values: dict, columns, sha256: str) -> ScalingData:
    """A ScalingData from the columns of a JSON or Parquet file, its messages naming the file."""
    resolved = _resolve_columns(header, columns, path)  # its messages name the file
    try:
        data = _build({field: values[name] for field, name in resolved.items()}, derive=True)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    origin = {"kind": kind, "path": os.path.abspath(path), "columns": dict(columns or {}), "sha256": sha256}
    return data.replace(source=json.dumps(origin))


def _too_long(path: str, line: int) -> ValueError:
    return ValueError(
        f"Could not parse {path}: line {line} is longer than {MAX_CSV_LINE} bytes (jscale.data._data.MAX_CSV_LINE), "
        f"too long for a run; is it a CSV file with one run per line?"
    )


def _records(path: str, lines, delimiter: str | None = None) -> tuple[list, list, str]:
    """([(file line, cells)] of every CSV record, [(file line, text)] of every comment line, the
    delimiter), with blank and comment lines (first non-blank character '#') between records
    skipped; delimiter None: found from the header line (`_delimiter_of`)."""
    comments, records = [], []
    number = first = 0
    between = True  # not inside a quoted cell that spans lines

    def kept():
        nonlocal number, first, between
        for line in lines:
            number += 1
            if between:
                if line[:1] in _MAYBE_SKIPPED:  # a quick test first: most lines start with a value
                    stripped = line.strip()
                    if stripped[:1] == "#":
                        comments.append((number, line.rstrip("\r\n")))
                    if not stripped or stripped[:1] == "#":
                        continue
                first, between = number, False
            yield line

    rest = kept()
    header = next(rest, None)
    if header is None:
        return records, comments, delimiter or ","
    delimiter = delimiter or _delimiter_of(header)
    try:
        for row in csv.reader(itertools.chain([header], rest), delimiter=delimiter):
            records.append((first, row))
            between = True
    except csv.Error as err:
        raise ValueError(f"Could not parse {path} as CSV: {err} (line {number}).") from None
    return records, comments, delimiter


def _delimiter_of(header: str) -> str:
    """The delimiter of a file whose header line is `header`: of a comma, a tab and ';' (as
    spreadsheets in some locales export CSV), the one it holds most often (a comma on a tie, and
    for a header of one column)."""
    return max((",", "\t", ";"), key=header.count)


def _check_delimiter(delimiter):
    if delimiter is None:
        return None
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n":
        raise ValueError(f"delimiter must be one character other than a quote or a line break, e.g. '\\t' or ';'; "
                         f"got {delimiter!r}.")
    return delimiter


def _check_commented_header(path: str, header: tuple, comments: list, delimiter: str = ",") -> None:
    """Raises when the header row holds only numbers and the comment line before it looks like a
    header (as numpy.savetxt writes one: '# N,loss'), which was skipped as a comment."""
    line, cells = header
    before = [c for c in comments if c[0] < line]
    if not before or not cells:
        return
    for cell in cells:
        try:
            float(cell)
        except ValueError:
            return
    number, text = before[-1]
    if len(next(csv.reader([text.strip().lstrip("#").strip()], delimiter=delimiter), [])) == len(cells):
        raise ValueError(
            f"Could not parse {path}: line {number} ({text!r}) looks like the header, but lines starting with '#' "
            f"are comments and are skipped, so line {line}, a run, would be read as the header; remove the '#' "
            f"(numpy.savetxt writes it unless given comments='')."
        )


def weighted_rows(data: ScalingData) -> np.ndarray:
    """(R,) mask of the rows a fit uses: those of positive weight (every row without weights)."""
    return np.ones(len(data), bool) if data.weight is None else np.asarray(data.weight) > 0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _show(value) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _masked_count(count: int) -> str:
    return f"{count} masked {'entry' if count == 1 else 'entries'}"


def _unmasked(name: str, value):
    """A column given as a numpy masked array as its data; a masked entry is a missing value, which
    would otherwise be read as the number under the mask, so it is refused (as `numpy.ma.masked`
    in a list is, which NumPy would turn into NaN or 0)."""
    fix = "drop those runs or fill them with real values (e.g. column.filled(value)), then pass the column again"
    if isinstance(value, np.ma.MaskedArray):
        bad = np.flatnonzero(np.ma.getmaskarray(value)) if np.ndim(value) == 1 else np.zeros(0, int)
        if bad.size:
            raise ValueError(
                f"Column {name!r} is a masked array with {_masked_count(bad.size)}; the first is at row {bad[0]}. "
                f"Masked entries are missing values, so {fix}."
            )
        return np.ma.getdata(value)
    if isinstance(value, (list, tuple)):
        bad = [i for i, v in enumerate(value) if v is np.ma.masked]
        if bad:
            raise ValueError(
                f"Column {name!r} has {_masked_count(len(bad))} (numpy.ma.masked); the first is at row {bad[0]}. "
                f"Masked entries are missing values, so {fix}."
            )
    return value


def _read(name: str, value) -> np.ndarray:
    """Copies one column into a 1-D array, checking its shape."""
    try:
        arr = np.array(value, copy=True)
    except (ValueError, TypeError):
        raise ValueError(
            f"Column {name!r} could not be read as an array (are some rows lists of different "
            f"lengths?); pass a flat list or 1-D array with one value per run."
        ) from None
    if arr.ndim != 1:
        raise ValueError(
            f"Column {name!r} must be 1-D with one value per run, but has shape "
            f"{arr.shape}; flatten it (e.g. np.ravel) or pass one column per field."
        )
    return arr


def _not_numbers(arr: np.ndarray, value, ok_kinds: str) -> tuple[np.ndarray, list]:
    """(array, rows that are not real numbers) of a column given as `value`."""
    if arr.dtype.kind not in ok_kinds + "O":
        # A list mixing numbers and text becomes a text array; look at the elements as given.
        arr = np.array(value if isinstance(value, (list, tuple)) else arr, dtype=object)
    if arr.dtype.kind == "O":
        return arr, [i for i, v in enumerate(arr) if not isinstance(v, numbers.Real) or isinstance(v, (bool, np.bool_))]
    return arr, ([] if arr.dtype.kind in ok_kinds else list(range(len(arr))))


def _to_array(name: str, value) -> tuple[np.ndarray, bool]:
    """One column as a read-only 1-D array and whether it is categorical.

    Standard numeric columns must be numbers (float64); `group` keeps its labels; any other
    column is float64 when every value is a real number, else categorical labels.
    """
    value = _unmasked(name, value)
    arr = _read(name, value)
    # Complex numbers, durations and dates would become labels of a column of their own (the standard
    # numeric columns report each such value as not a number, below; `group` may hold dates).
    if arr.dtype.kind in "cmM" and name != "group" and name not in _NUMERIC:
        what = {"c": "complex numbers", "m": "durations (timedelta64)", "M": "dates (datetime64)"}[arr.dtype.kind]
        raise ValueError(f"Column {name!r} holds {what}; columns take real numbers or text labels. Convert it "
                         "first, e.g. dates to days since a start or durations to seconds as floats.")
    categorical = name == "group"
    if not categorical:
        ok_kinds = "iufb" if name == "weight" else "iuf"
        arr_checked, bad = _not_numbers(arr, value, ok_kinds)
        if bad and name in _NUMERIC:
            count = f"{len(bad)} value{'s' if len(bad) > 1 else ''} that {'are' if len(bad) > 1 else 'is'}"
            raise ValueError(
                f"Column {name!r} has {count} not a number; the first is at row {bad[0]} "
                f"({_show(arr_checked[bad[0]])}). Numeric columns take real numbers (not text, None or "
                f"booleans), so convert or remove those rows."
            )
        categorical = bool(bad) or arr.dtype.kind == "b"
        if not categorical:
            try:
                arr = arr_checked.astype(np.float64)
            except OverflowError:  # Python integers beyond float64 (above about 1.8e308)
                raise ValueError(f"Column {name!r} holds an integer too large for a float64 (above about 1.8e308); "
                                 "numeric columns take real numbers a float64 can hold.") from None
    arr.flags.writeable = False
    return arr, categorical


def _check_values(name: str, arr: np.ndarray, lines, source, note: str = "", *, positive: bool = True,
                  who: str | None = None) -> None:
    """Raises for non-finite, non-positive (or, for weights, negative or all-zero) values."""

    def where(i: int) -> str:
        return f"row {i} ({_show(arr[i])})" + (f", on line {lines[i]} of {source}" if lines else "")

    label = f"Column {name!r}{note}"
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(
            f"{label} has {_plural(bad.size, 'non-finite value')} (NaN or infinite); "
            f"the first is at {where(bad[0])}. Remove or fix those rows before fitting."
        )
    if name == "weight":
        bad = np.flatnonzero(arr < 0)
        if bad.size:
            raise ValueError(
                f"{label} has {_plural(bad.size, 'negative value')}; the first is at "
                f"{where(bad[0])}. Weights must be zero or positive."
            )
        if not np.any(arr > 0):
            raise ValueError(
                f"{label} is zero in every row; give at least one run a positive weight."
            )
        rescale = ("Only the ratios of weights matter, and weights this far from 1 make the objective "
                   f"{{}} float64; rescale them (e.g. divide by their mean) so every positive weight lies in "
                   f"[{WEIGHT_MIN:g}, {WEIGHT_MAX:g}], or set a weight to 0 to leave its run out.")
        bad = np.flatnonzero((arr > 0) & (arr < WEIGHT_MIN))
        if bad.size:
            raise ValueError(f"{label} has {_plural(bad.size, 'positive value')} below {WEIGHT_MIN:g}; the first is "
                             f"at {where(bad[0])}. " + rescale.format("underflow"))
        bad = np.flatnonzero(arr > WEIGHT_MAX)
        if bad.size:
            raise ValueError(f"{label} has {_plural(bad.size, 'value')} above {WEIGHT_MAX:g}; the first is at "
                             f"{where(bad[0])}. " + rescale.format("overflow"))
        largest = arr.max()
        bad = np.flatnonzero((arr > 0) & (arr < WEIGHT_SPAN * largest))
        if bad.size:
            raise ValueError(
                f"{label} has {_plural(bad.size, 'positive value')} below {WEIGHT_SPAN:.3g} times its largest "
                f"({_show(largest)}); the first is at {where(bad[0])}. Their runs would change the objective by "
                f"less than its rounding, so set those weights to 0 to leave the runs out, or raise them."
            )
        return
    bad = np.flatnonzero(arr <= 0)
    if positive and bad.size:
        what = "value that is" if bad.size == 1 else "values that are"
        why = (f"{who} reads it in log space, so it must be positive" if who else
               "Scaling laws need positive N, D, C, U and loss")
        raise ValueError(
            f"{label} has {bad.size} {what} zero or negative; the first is at "
            f"{where(bad[0])}. {why}."
        )


def check_column(data: ScalingData, name: str, *, positive: bool, who: str) -> None:
    """Checks a column that a fit uses: numeric, finite and, where `positive`, above zero."""
    if name in data.categorical:
        raise ValueError(f"{who} reads column {name!r} as numbers, but it holds text labels; convert it to "
                         "numbers, or read it as categorical codes in a custom law.")
    _check_values(name, np.asarray(data[name]), None, None, positive=positive, who=who)


def _build(raw: dict, *, derive: bool, derived: tuple = (), lines=None, source=None) -> ScalingData:
    """Validates columns (None = absent), derives the third of N, D, C if asked, and freezes."""
    cols, categorical = {}, []
    for name, value in raw.items():
        if value is None:
            continue
        if not isinstance(name, str) or not name:
            raise ValueError(f"Column names must be non-empty strings; got {name!r}.")
        cols[name], is_categorical = _to_array(name, value)
        if is_categorical:
            categorical.append(name)
    if not cols:
        raise ValueError("The data has no columns; pass at least one, e.g. loss=... (nats/token) per run.")
    lengths = {name: len(arr) for name, arr in cols.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {_plural(n, 'row')}" for name, n in lengths.items())
        raise ValueError(
            f"Columns have mismatched lengths: {listed}; every column must have one "
            f"value per run."
        )
    if next(iter(lengths.values())) == 0:
        raise ValueError("The data has no rows (every column is empty); pass at least one run.")
    for name in _NUMERIC:
        if name in cols:
            _check_values(name, cols[name], lines, source)
    given = [name for name in _NDC if name in cols]
    if derive and len(given) == 2:
        n, d, c = (cols.get(name) for name in _NDC)
        (missing,) = set(_NDC) - set(given)
        # Overflow or underflow gives inf or 0, which _check_values reports; no warning needed.
        with np.errstate(over="ignore", under="ignore"):
            if missing == "compute":
                new = 6.0 * n * d
            elif missing == "n_tokens":
                new = c / (6.0 * n)
            else:
                new = c / (6.0 * d)
        new.flags.writeable = False
        _check_values(missing, new, lines, source, note=" (derived with C = 6·N·D)")
        cols[missing] = new
        derived = (missing,)
    standard = {name: cols.pop(name) for name in FIELDS if name in cols}
    return ScalingData(**standard, extra=cols, categorical=tuple(categorical), derived=tuple(derived))
