"""Property-based tests (hypothesis): malformed and extreme input never crashes, hangs or passes
off a NaN as an answer.

Every case ends one of two ways: a clean `ValueError` or `TypeError` whose message is a sentence
(`ConvergenceError` too where no start reached a finite objective, which the API documents), or a
result whose numbers are finite and whose statuses are set. The CLI ends with exit status 0, 2
(a user error, one line on stderr) or 3 (`--strict`), never a traceback. Hangs are excluded by
construction (every solver loop is bounded by `max_steps`) and the examples are run without a
deadline but with few compiled shapes.

Case families and their example counts (560 in the default run):

1. `ScalingData.from_arrays` on random columns (150): lengths 0-6 (mismatched too), values
   log-uniform in 1e-30..1e30 mixed with 0, negatives, NaN, +-inf, strings, None, booleans,
   float32 and integer arrays, nested lists; optional weights and groups.
2. `ScalingData.from_csv` on random files (80): headers drawn from aliases, unknown and
   duplicated names; cells that are numbers, text, empty, "nan", "inf"; ragged lines, blank
   lines, byte-order marks.
3. `jscale.fit` on random data (100): a power law or Chinchilla on 3, 16 or 2,000 rows with
   values log-uniform over 1e-30..1e30, random weights (zeros included), constant columns, and
   degenerate starts (all equal, +-1e3, mixed with good ones); malformed starts and options.
4. Predictions and allocations from a fitted result (100): points log-uniform over
   1e-30..1e30, zero, negative, NaN, empty and mismatched arrays, random budgets and levels.
5. `jscale.bootstrap` on random weights and keys (20): 16 rows, 8 resamples, 4 starts, no jackknife.
6. `jscale.load` on random and truncated bytes (60).
7. The CLI (`jscale.cli.main`) (50): random subcommands, options and values, on random CSV
   files, missing files, damaged result files and a valid saved result.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import jscale

SETTINGS = dict(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
CLEAN_ERRORS = (ValueError, TypeError)


def assert_clean_error(err: BaseException) -> None:
    """A clean error: the documented type and a message in words."""
    assert isinstance(err, CLEAN_ERRORS + (jscale.warnings.ConvergenceError,)), repr(err)
    message = str(err)
    assert len(message.split()) >= 4, message  # a sentence, not a bare value
    assert "Traceback" not in message
    event(f"rejected: {type(err).__name__}")


@contextlib.contextmanager
def rejected_or_returned():
    """Runs the block; a clean error ends the case, any other exception fails it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # warnings are allowed; errors are what we check
            yield
    except BaseException as err:  # noqa: BLE001 - the point is to see every exception
        assert_clean_error(err)


# --- strategies -------------------------------------------------------------------------------------

extreme = st.floats(min_value=-30, max_value=30).map(lambda e: 10.0**e)
bad_scalar = st.sampled_from([0.0, -1.0, -1e30, math.nan, math.inf, -math.inf, "2.5", "abc", None, True, [1.0]])
cell = st.one_of(extreme, extreme, extreme, bad_scalar, st.integers(-5, 10**6))


@st.composite
def column(draw, length):
    kind = draw(st.sampled_from(["list", "list", "float32", "int", "nested"]))
    if kind == "list":
        return draw(st.lists(cell, min_size=length, max_size=length))
    if kind == "float32":
        return np.asarray(draw(st.lists(extreme, min_size=length, max_size=length)), np.float32)
    if kind == "int":
        return np.asarray(draw(st.lists(st.integers(-3, 10**9), min_size=length, max_size=length)), np.int64)
    return [[v] for v in draw(st.lists(extreme, min_size=length, max_size=length))]


@given(data=st.data())
@settings(max_examples=150, **SETTINGS)
def test_from_arrays_accepts_or_rejects_cleanly(data):
    n = data.draw(st.integers(0, 6))
    names = data.draw(st.sets(st.sampled_from(["n_params", "n_tokens", "compute", "unique_tokens"]), max_size=4))
    columns = {name: data.draw(column(n + data.draw(st.sampled_from([0, 0, 0, 1])))) for name in names}
    columns["loss"] = data.draw(column(n))
    if data.draw(st.booleans()):
        columns["weight"] = data.draw(st.lists(st.sampled_from([0.0, 1.0, 2.5, 1e-30, 1e30, -1.0, math.nan]),
                                               min_size=n, max_size=n))
    with rejected_or_returned():
        out = jscale.ScalingData.from_arrays(**columns)
        assert len(out) == n > 0
        for name in out.columns:
            values = getattr(out, name)
            assert values.dtype == np.float64 and np.all(np.isfinite(values))
            assert np.all(values > 0) if name != "weight" else np.all(values >= 0)


header_name = st.sampled_from(["N", "params", "D", "tokens", "C", "flops", "U", "loss", "L", "weight", "group",
                               "Model Size", "junk", "loss", "n_params"])
csv_cell = st.one_of(extreme.map(repr), st.sampled_from(["", "nan", "inf", "-1", "0", "x", "1e400", " 2 "]))


@given(data=st.data())
@settings(max_examples=80, **SETTINGS)
def test_from_csv_accepts_or_rejects_cleanly(data, tmp_path_factory):
    header = data.draw(st.lists(header_name, min_size=1, max_size=5))
    rows = data.draw(st.lists(st.lists(csv_cell, min_size=len(header) - 1, max_size=len(header) + 1),
                              max_size=6))
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    if data.draw(st.booleans()):
        text = "\ufeff" + text.replace("\n", "\n\n", 1)
    path = tmp_path_factory.mktemp("csv") / "runs.csv"
    path.write_text(text, encoding="utf-8")
    with rejected_or_returned():
        out = jscale.ScalingData.from_csv(path)
        assert len(out) == len(rows) and np.all(np.isfinite(out.loss)) and np.all(out.loss > 0)


# --- fitting -----------------------------------------------------------------------------------------

POWER = jscale.laws.PowerLaw(column="n_params")
CHINCHILLA = jscale.laws.Chinchilla()
SOLVER = jscale.solvers.RobustGaussNewton(max_steps=60)


def assert_finite_fit(result: jscale.results.FitResult) -> None:
    assert np.isfinite(result.objective)
    assert np.all(np.isfinite(result.end_params[result.best_index]))
    assert set(np.unique(result.status)) <= {int(s) for s in jscale.solvers.Status}
    assert result.best_status in {s.label for s in jscale.solvers.Status}
    free = np.asarray(result.end_params[result.best_index])
    assert np.all(np.isfinite(result.law.to_natural(free))), result.params


@st.composite
def fit_case(draw):
    law = draw(st.sampled_from([POWER, POWER, CHINCHILLA]))
    rows = draw(st.sampled_from([3, 16, 16, 2000]))
    scale = draw(st.sampled_from(["extreme", "extreme", "constant", "curve"]))
    if scale == "curve":
        x = np.logspace(0, 3, rows) * draw(extreme)
    elif scale == "constant":
        x = np.full(rows, draw(extreme))
    else:
        x = 10.0 ** np.asarray(draw(st.lists(st.floats(-30, 30), min_size=rows, max_size=rows)))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    loss = 10.0 ** rng.uniform(-30, 30, rows) if scale == "extreme" else 1.0 + 1.0 / np.sqrt(x / x.min())
    columns = dict(n_params=x, n_tokens=x[rng.permutation(rows)] * draw(extreme), loss=loss)
    weights = draw(st.sampled_from([None, "random", "sparse", "huge"]))
    if weights == "random":
        columns["weight"] = rng.uniform(0, 3, rows)
    elif weights == "sparse":
        columns["weight"] = (rng.uniform(size=rows) < 0.2).astype(float)
    elif weights == "huge":
        columns["weight"] = 10.0 ** rng.uniform(-30, 30, rows)
    starts_kind = draw(st.sampled_from(["good", "equal", "huge", "mixed", "nan", "shape"]))
    p = law.n_free
    starts = {
        "good": np.tile(np.linspace(-1, 1, p), (4, 1)) + np.arange(4)[:, None] * 0.1,
        "equal": np.zeros((4, p)),
        "huge": np.full((4, p), 1e3) * np.array([1, -1, 1, -1])[:, None],
        "mixed": np.vstack([np.zeros(p), np.full(p, 1e3), np.full(p, -1e3), np.ones(p)]),
        "nan": np.full((4, p), np.nan),
        "shape": np.zeros((4, p + 1)),
    }[starts_kind]
    return law, columns, starts


@given(case=fit_case())
@settings(max_examples=50, **SETTINGS)
def test_fit_gives_a_finite_result_or_a_clean_error(case):
    law, columns, starts = case
    with rejected_or_returned():
        data = jscale.ScalingData.from_arrays(**columns)
        result = jscale.fit(law, data, starts=starts, execution=jscale.Execution(solver=SOLVER))
        event(f"fitted: {result.best_status}")
        assert_finite_fit(result)
        prediction = result.predict(data)
        assert prediction.shape == (len(data),) and np.all(np.isfinite(prediction))
        for d in result.diagnostics():
            assert isinstance(d.message, str) and issubclass(d.category, jscale.warnings.DiagnosticWarning)


@pytest.fixture(scope="module")
def fitted():
    x = np.logspace(7, 10, 16)
    data = jscale.ScalingData.from_arrays(n_params=x, n_tokens=20 * x[::-1].copy(),
                                          loss=1.8 + 400 * x**-0.34 + 1500 * (20 * x[::-1]) ** -0.28)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jscale.fit(CHINCHILLA, data, starts=jscale.laws.Chinchilla().default_starts()[::300],
                          execution=jscale.Execution(solver=SOLVER))


point = st.one_of(extreme, extreme, extreme, st.sampled_from([0.0, -1.0, math.nan, math.inf]))


@given(data=st.data())
@settings(max_examples=100, **SETTINGS)
def test_predictions_and_allocations_are_finite_or_rejected(fitted, data):
    n = data.draw(st.sampled_from([0, 1, 3]))
    n_params = data.draw(st.lists(point, min_size=n, max_size=n))
    n_tokens = data.draw(st.lists(point, min_size=n, max_size=n + data.draw(st.sampled_from([0, 0, 1]))))
    which = data.draw(st.sampled_from(["predict", "interval", "allocate", "marginal"]))
    level = data.draw(st.sampled_from([0.95, 0.5, 0.0, 1.0, 2.0, "x"]))
    with rejected_or_returned():
        if which == "predict":
            out = fitted.predict(n_params=n_params, n_tokens=n_tokens)
            assert np.all(np.isfinite(out))
        elif which == "interval":
            low, high = fitted.predict_interval(n_params=n_params, n_tokens=n_tokens, level=level)
            ok = np.isfinite(low) & np.isfinite(high)
            assert np.all(low[ok] <= high[ok])
        elif which == "allocate":
            out = jscale.compute_optimal(fitted, n_params or 1e20)
            done = np.asarray(out.converged)
            for name in ("n_params", "n_tokens", "loss"):
                assert np.all(np.isfinite(np.asarray(getattr(out, name))[done]))
                assert np.all(np.asarray(getattr(out, name))[done] > 0)
        else:
            out = jscale.marginal_returns(fitted, n_params=n_params, n_tokens=n_tokens)
            assert np.all(np.isfinite(np.asarray(out.d_log_params)))


@given(data=st.data())
@settings(max_examples=12, **SETTINGS)
def test_bootstrap_gives_finite_draws_or_a_clean_error(fitted, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = np.logspace(7, 10, 16)
    loss = (1.8 + 400 * x**-0.34 + 1500 * (20 * x[::-1]) ** -0.28) * np.exp(0.02 * rng.standard_normal(16))
    weight = data.draw(st.sampled_from([None, "zeros", "random"]))
    weight = None if weight is None else (rng.uniform(size=16) < 0.5).astype(float) if weight == "zeros" \
        else rng.uniform(0, 5, 16)
    key = data.draw(st.sampled_from([0, 7, -1, "seed", 2**40]))
    with rejected_or_returned():
        d = jscale.ScalingData.from_arrays(n_params=x, n_tokens=20 * x[::-1].copy(), loss=loss, weight=weight)
        boot = jscale.bootstrap(CHINCHILLA, d, n_resamples=8, key=key, starts=fitted.starts,
                                execution=jscale.Execution(solver=SOLVER),
                                progress=False, jackknife=False)
        ok = boot.draw_ok
        assert np.all(np.isfinite(boot.free_draws[ok]))
        assert set(np.unique(boot.status)) <= {int(s) for s in jscale.solvers.Status}


# --- files and the command line ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "result.jscale"
    jscale.save(fitted, path)
    return path


@given(data=st.data())
@settings(max_examples=60, **SETTINGS)
def test_load_rejects_damaged_files(fitted, saved, data, tmp_path_factory):
    raw = saved.read_bytes()
    kind = data.draw(st.sampled_from(["truncate", "flip", "random", "empty"]))
    if kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif kind == "flip":
        i = data.draw(st.integers(0, len(raw) - 1))
        raw = raw[:i] + bytes([raw[i] ^ data.draw(st.integers(1, 255))]) + raw[i + 1:]
    elif kind == "random":
        raw = data.draw(st.binary(max_size=200))
    else:
        raw = b""
    path = tmp_path_factory.mktemp("damaged") / "result.jscale"
    path.write_bytes(raw)
    with rejected_or_returned():
        result = jscale.load(path)
        # A flipped byte inside a number can still load: then it must be a usable result.
        assert isinstance(result, jscale.results.FitResult)
        assert result.end_params.shape == fitted.end_params.shape


def run_cli(argv) -> tuple[int, str]:
    from jscale import cli
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = cli.main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    return code, err.getvalue()


@given(data=st.data())
@settings(max_examples=50, **SETTINGS)
def test_cli_exits_cleanly(saved, data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    command = data.draw(st.sampled_from(["fit", "fit", "allocate", "predict", "bogus"]))
    if command == "fit":
        header = data.draw(st.sampled_from(["N,D,loss", "N,D,loss", "N,D,L,N", "params,tokens,loss", "N,loss", "x,y"]))
        width = header.count(",") + 1
        x = np.logspace(7, 10, 8)
        good = [f"{n!r},{20 * n!r},{1.8 + 400 * n ** -0.34 + 1500 * (20 * n) ** -0.28!r}" for n in x.tolist()]
        body = data.draw(st.sampled_from(["good", "good", "good", "good", "text", "negative", "nan", "short"]))
        lines = {"good": good, "text": good[:-1] + ["a,b,c"], "negative": good[:-1] + ["-1,2,3"],
                 "nan": good[:-1] + ["nan,2,3"], "short": good[:2]}[body]
        lines = [",".join((line.split(",") * 2)[:width]) for line in lines]
        source = data.draw(st.sampled_from(["file", "file", "file", "file", "missing", "chinchila"]))
        path = folder / "runs.csv"
        path.write_text(header + "\n" + "\n".join(lines) + "\n")
        argv = ["fit", str(path) if source == "file" else source if source != "missing" else str(folder / "no.csv"),
                "--bootstrap", "0", "--starts", data.draw(st.sampled_from(["4", "4", "4", "0", "x"])), "--out", "none",
                "--quiet", "--law", data.draw(st.sampled_from(["chinchilla", "chinchilla", "kaplan", "chinchila"])),
                "--budgets", repr(data.draw(point))]
        if data.draw(st.booleans()):
            argv += ["--delta", repr(data.draw(st.sampled_from([1e-3, 0.0, -1.0, math.nan])))]
    elif command in ("allocate", "predict"):
        target = data.draw(st.sampled_from(["saved", "missing", "garbage"]))
        path = saved if target == "saved" else folder / "r.jscale"
        if target == "garbage":
            path.write_bytes(data.draw(st.binary(max_size=40)))
        values = [repr(v) for v in data.draw(st.lists(point, min_size=0, max_size=3))]
        argv = [command, str(path)] + (["--compute", *values] if command == "allocate" else
                                       ["--n-params", *values, "--n-tokens", *values])
    else:
        argv = ["bogus", "--x"]
    code, err = run_cli(argv)
    event(f"exit {code}")
    assert code in (0, 2, 3), (argv, code, err)
    if code == 2:
        last = err.strip().splitlines()[-1]
        assert "Traceback" not in err and (last.startswith("jscale: ") or "error:" in last), err
