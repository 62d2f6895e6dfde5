"""jscale.save / jscale.load: round trips, custom laws, bad files."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from helpers import noisy_chinchilla

import jscale
from jscale.io import _io

# The diagnostics these tests' fits raise and do not test (warnings are errors elsewhere).
pytestmark = [
    pytest.mark.filterwarnings("ignore::jscale.warnings.CorrelationWarning"),
]


@pytest.fixture(scope="module")
def results():
    data = noisy_chinchilla(n=6, sigma=0.01, seed=9)
    law = jscale.laws.Chinchilla().tie(beta="alpha")
    fit = jscale.fit(law, data, starts=law.default_starts()[::20])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.IntervalWarning)
        boot = jscale.bootstrap(law, data, n_resamples=8, key=1, full_fit=fit, starts="optimum")
    return data, fit, boot


def _same_fit(a, b):
    assert a.law == b.law and a.loss_function == b.loss_function
    assert a.best_index == b.best_index and a.n_rows == b.n_rows
    for name in ("starts", "end_params", "objectives", "status", "n_steps"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert getattr(b, name).dtype == getattr(a, name).dtype
    assert a.params == b.params and a.objective_floor == b.objective_floor and a.n_configs == b.n_configs
    np.testing.assert_array_equal(a.free_covariance(), b.free_covariance())


def test_fit_round_trip(results, tmp_path):
    _, fit, _ = results
    path = jscale.save(fit, tmp_path / "fit.jscale")
    loaded = jscale.load(path)
    _same_fit(fit, loaded)
    assert loaded.law.name == "chinchilla(beta=alpha)"
    assert not any(p.name.startswith(".fit.jscale") for p in tmp_path.iterdir())  # no temporary left


def test_bootstrap_round_trip(results, tmp_path):
    _, _, boot = results
    loaded = jscale.load(jscale.save(boot, tmp_path / "boot.jscale"))
    _same_fit(boot.fit, loaded.fit)
    np.testing.assert_array_equal(loaded.free_draws, boot.free_draws)
    np.testing.assert_array_equal(loaded.resample_counts(3), boot.resample_counts(3))
    assert loaded.interval("alpha") == boot.interval("alpha") and loaded.unit == "row"


def test_custom_law_round_trip(tmp_path):
    def power(p, x):
        return p["E"] + p["A"] * x["compute"] ** -p["alpha"]

    law = jscale.laws.custom(power, {"E": "positive", "A": "positive", "alpha": jscale.laws.Param((0.0, 1.0))},
                             columns=("compute",), name="power")
    compute = np.logspace(18, 22, 12)
    data = jscale.ScalingData.from_arrays(compute=compute, loss=1.7 + 1e3 * compute**-0.15)
    fit = jscale.fit(law, data, loss="squared")
    path = jscale.save(fit, tmp_path / "custom.jscale")
    with pytest.raises(ValueError, match="pass the law again"):
        jscale.load(path)
    _same_fit(fit, jscale.load(path, law=law))
    other = jscale.laws.custom(power, {"E": "positive", "B": "positive", "alpha": "free"}, columns=("compute",))
    with pytest.raises(ValueError, match=r"law= is a Custom with parameters \['E', 'B', 'alpha'\]"):
        jscale.load(path, law=other)
    # The same names with another domain would read stored values in the wrong space.
    moved = jscale.laws.custom(power, {"E": "positive", "A": "positive", "alpha": "free"}, columns=("compute",),
                               name="power")
    with pytest.raises(ValueError, match=r"domains .*\[-inf, inf\]\] \(fitted .*; the file's law 'power'"):
        jscale.load(path, law=moved)
    # Same bounds, another parametrisation: "positive" is fitted as its log, (0, inf) as itself.
    relog = jscale.laws.custom(power, {"E": "positive", "A": jscale.laws.Param((0.0, np.inf)),
                                       "alpha": jscale.laws.Param((0.0, 1.0))}, columns=("compute",), name="power")
    with pytest.raises(ValueError, match=r"fitted as \['log_E', 'A', 'logit_alpha'\]"):
        jscale.load(path, law=relog)
    # Same names, domains and columns, another function: refused by its values at the saved optimum.
    def shifted(p, x):
        return p["E"] + p["A"] * (x["compute"] / 2) ** -p["alpha"]

    impostor = jscale.laws.custom(shifted, {"E": "positive", "A": "positive", "alpha": jscale.laws.Param((0.0, 1.0))},
                                  columns=("compute",), name="power")
    with pytest.raises(ValueError, match="computes other values at the saved parameters"):
        jscale.load(path, law=impostor)
    # The same function written again (another object) loads.
    def again(p, x):
        return p["E"] + p["A"] * x["compute"] ** -p["alpha"]

    twin = jscale.laws.custom(again, {"E": "positive", "A": "positive", "alpha": jscale.laws.Param((0.0, 1.0))},
                              columns=("compute",), name="power")
    assert jscale.load(path, law=twin).params == fit.params


def test_load_reads_only_the_bytes_a_file_has(results, tmp_path):
    """load asks for the file's size, not its 2 GiB limit (read(n) reserves n bytes at once, which
    failed under a 3 GB address-space limit): the peak allocation is about the file's size."""
    import tracemalloc

    path = jscale.save(results[1], tmp_path / "fit.jscale")
    tracemalloc.start()
    raw = _io._read(path, _io.MAX_BYTES)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(raw) == path.stat().st_size and peak < 64 * path.stat().st_size + (1 << 20)


def test_bad_files(results, tmp_path):
    _, fit, _ = results
    path = jscale.save(fit, tmp_path / "fit.jscale")
    raw = path.read_bytes()
    (tmp_path / "truncated.jscale").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="not a jscale result file|damaged"):
        jscale.load(tmp_path / "truncated.jscale")
    (tmp_path / "foreign.csv").write_text("N,D,loss\n1,2,3\n")
    with pytest.raises(ValueError, match="not a jscale result file"):
        jscale.load(tmp_path / "foreign.csv")
    from flax import serialization

    newer = serialization.msgpack_restore(raw)
    newer["meta"]["version"] = _io.VERSION + 1
    (tmp_path / "newer.jscale").write_bytes(serialization.msgpack_serialize(newer))
    with pytest.raises(ValueError, match="Upgrade jscale"):
        jscale.load(tmp_path / "newer.jscale")
    with pytest.raises(ValueError, match="Cannot read"):
        jscale.load(tmp_path / "missing.jscale")
    with pytest.raises(TypeError, match="save takes a FitResult, .* a TwoStage or an Ensemble"):
        jscale.save({"a": 1}, tmp_path / "x.jscale")


def _power(p, x):
    return p["E"] + p["A"] * x["steps"] ** -p["alpha"]


CUSTOM = jscale.laws.custom(_power, {"E": "positive", "A": "positive", "alpha": "free"}, columns=("steps",))
EVERY_LAW = [
    jscale.laws.Chinchilla(), jscale.laws.DataConstrained(), jscale.laws.Kaplan(), jscale.laws.PowerLaw("steps"),
    jscale.laws.PurePowerLaw("n_tokens"), jscale.laws.BrokenPowerLaw(2, "compute"),
    jscale.laws.Chinchilla().fix(E=1.7).tie(beta="alpha"), CUSTOM, CUSTOM.fix(E=1.5),
]


@pytest.mark.parametrize("law", EVERY_LAW, ids=lambda law: law.name)
@pytest.mark.parametrize("loss", [jscale.losses.Huber(2e-3), jscale.losses.Squared(),
                                  jscale.losses.Asymmetric(over=10.0, delta=1e-4)], ids=["huber", "squared", "asym"])
def test_every_law_and_loss_round_trips(law, loss, tmp_path):
    """Every built-in law (with its settings), a constrained and a custom law, with every loss."""
    rng = np.random.default_rng(0)
    starts = rng.normal(size=(3, law.n_free))
    fit = jscale.results.FitResult(law=law, loss_function=loss, target="accuracy", residual="raw", starts=starts,
                           end_params=starts + 0.1, objectives=np.array([3.0, 1.0, 2.0]), status=np.zeros(3, np.int32),
                           n_steps=np.ones(3, np.int32), best_index=1, n_rows=12)
    base = law.base if isinstance(law, jscale.laws.Constrained) else law
    passed = base if isinstance(base, jscale.laws.Custom) else None  # only a custom law's function is passed back
    loaded = jscale.load(jscale.save(fit, tmp_path / "r.jscale"), law=passed)
    assert loaded.law == law and loaded.loss_function == loss
    assert (loaded.target, loaded.residual) == ("accuracy", "raw")
    np.testing.assert_array_equal(loaded.end_params, fit.end_params)
    assert loaded.params == fit.params


def test_reads_files_of_format_version_1():
    """A bootstrap saved by jscale 0.1.0 (commit fc53583; Chinchilla with beta tied to alpha, 16
    rows, 4 resamples), whose layout was hand-written field lists: it loads as it was."""
    with pytest.warns(UserWarning, match="format version 1 .*no checksum"):
        boot = jscale.load(Path(__file__).parent / "files" / "format_v1_bootstrap.jscale")
    assert isinstance(boot, jscale.results.BootstrapResult) and boot.n_resamples == 4
    assert boot.law == jscale.laws.Chinchilla().tie(beta="alpha") and boot.loss_function == jscale.losses.Huber(1e-3)
    assert (boot.fit.target, boot.fit.residual) == ("loss", "log")  # the defaults, for fields it lacked
    assert boot.fit.params == pytest.approx(dict(E=1.6629062759185156, A=233.72837731119043, B=1663.6451039736617,
                                                 alpha=0.29542659035015617), rel=1e-15)
    assert boot.se["alpha"] == pytest.approx(0.007298323932807164, rel=1e-12)


def test_load_checks_what_can_be_checked_without_the_data(results):
    """Invariants a loaded result must hold (issue 33, item 16): a converged fit's curvature is
    finite; a draw whose fit converged has finite parameters; an ensemble's weights are weights."""
    _, fit, boot = results
    _io.check(fit) or _io.check(boot)  # the real ones pass
    bad_curvature = fit.replace(curvature={**fit.curvature,
                                           "hessian": np.full_like(fit.curvature["hessian"], np.nan)})
    with pytest.raises(_io._Invalid, match="curvature.*converged fit is not finite"):
        _io.check(bad_curvature)
    end = np.array(boot.end_params)
    ok = np.flatnonzero(boot.draw_ok)[0]
    end[ok, boot.best_index[ok]] = np.nan
    with pytest.raises(_io._Invalid, match="draw whose fit converged"):
        _io.check(boot.replace(end_params=end))


def test_a_long_file_name_saves(results, tmp_path):
    # the temporary file beside it was longer than the 255 bytes a name may have (issue 33, item 15)
    _, fit, _ = results
    for name in ("r" * 240 + ".jscale", "é" * 120 + ".jscale"):
        path = jscale.save(fit, tmp_path / name)
        _same_fit(jscale.load(path), fit)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["r" * 240 + ".jscale", "é" * 120 + ".jscale"])
