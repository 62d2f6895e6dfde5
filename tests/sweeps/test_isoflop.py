"""isoFLOP sweeps (Approach 2) on sweeps simulated from a known law: the truth is known."""

import re
import warnings

import numpy as np
import pytest

import jscale

# Chinchilla-like truth: L = E + A / N^alpha + B / D^beta, and its optimum under C = 6ND.
E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28
G = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
EXPONENT = BETA / (ALPHA + BETA)


def n_star(c):
    return G * (c / 6) ** EXPONENT


def sweep(budgets, factor=2.0, n_sizes=7, offset=1.0, loss=None):
    """Runs at each budget, sizes spread `factor` either side of `offset` times the true N*."""
    rows = []
    for c in budgets:
        for n in offset * n_star(c) * np.geomspace(1 / factor, factor, n_sizes):
            d = c / (6 * n)
            rows.append((n, d, E + A / n**ALPHA + B / d**BETA if loss is None else loss(c, n)))
    n, d, loss_ = map(np.array, zip(*rows))
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss_)


BUDGETS = np.geomspace(1e18, 1e21, 5)


@pytest.fixture(scope="module")
def centred():
    return jscale.isoflop(sweep(BUDGETS), n_resamples=200, key=0)


def test_centred_narrow_sweeps_find_the_optimum_far_beyond(centred):
    assert centred.included.all() and not centred.notes
    far = 100 * BUDGETS[-1]
    assert abs(jscale.compute_optimal(centred, far).n_params[0] / n_star(far) - 1) < 0.01
    assert abs(centred.exponents["a"] - EXPONENT) < 2e-3
    assert abs(centred.exponents["a_plus_b"] - 1) < 1e-9  # C = 6ND exactly: D* = C / 6N*
    low, high = centred.interval("a")
    assert low <= centred.exponents["a"] <= high


def test_parabola_minima_equal_the_closed_form():
    # log L an exact parabola in log N at every budget: the fitted vertex is the closed form.
    c2, c1 = 0.05, -0.03  # vertex at log N* + 0.3, inside the sweep (log 2 either side)

    def loss(c, n):
        x = np.log(n) - np.log(n_star(c))
        return np.exp(1.0 + c1 * x + c2 * x**2 - 0.01 * np.log(c))

    result = jscale.isoflop(sweep(BUDGETS, loss=loss), n_resamples=0)
    expected = n_star(BUDGETS) * np.exp(-c1 / (2 * c2))
    np.testing.assert_allclose(result.n_params, expected, rtol=1e-9)
    np.testing.assert_allclose(result.coef_params[:, 2], c2, rtol=1e-9)
    np.testing.assert_allclose(result.loss, np.exp(1.0 - c1**2 / (4 * c2) - 0.01 * np.log(BUDGETS)), rtol=1e-9)
    assert result.draws is None and "resamples" not in result.summary()


def test_budget_with_its_minimum_at_the_edge_is_left_out_and_named():
    edge = sweep(BUDGETS[-1:] * 10, factor=2.0, offset=8.0)  # every size far above the optimum
    data = sweep(BUDGETS)
    both = jscale.ScalingData.from_arrays(**{k: np.concatenate([data[k], edge[k]]) for k in ("n_params", "n_tokens",
                                                                                             "loss")})
    with pytest.warns(jscale.warnings.SweepWarning, match="edge of its sweep"):
        result = jscale.isoflop(both, n_resamples=0)
    assert list(result.included) == [True] * 5 + [False] and np.isnan(result.n_params[-1])
    assert "edge" in result.summary() and abs(result.exponents["a"] - EXPONENT) < 2e-3


def test_budget_with_too_few_sizes_is_left_out():
    data = sweep(BUDGETS)
    two = sweep([3e21], n_sizes=2)
    both = jscale.ScalingData.from_arrays(**{k: np.concatenate([data[k], two[k]]) for k in ("n_params", "n_tokens",
                                                                                            "loss")})
    with pytest.warns(jscale.warnings.SweepWarning, match="2 distinct model sizes"):
        result = jscale.isoflop(both, n_resamples=0)
    assert not result.included[-1] and result.included[:-1].all()


def test_resamples_are_deterministic_in_their_key(centred):
    again = jscale.isoflop(sweep(BUDGETS), n_resamples=200, key=0)
    np.testing.assert_array_equal(again.draws["a"], centred.draws["a"])
    other = jscale.isoflop(sweep(BUDGETS), n_resamples=200, key=1)
    assert not np.array_equal(other.draws["a"], centred.draws["a"])
    assert centred.draw_ok.sum() > 150


def test_given_budgets_and_clear_errors():
    data = sweep(BUDGETS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        given = jscale.isoflop(data, budgets=BUDGETS, n_resamples=0)
    np.testing.assert_allclose(given.budgets, BUDGETS) and np.testing.assert_array_equal(given.n_runs, 7)
    with pytest.raises(ValueError, match="n_resamples"):
        jscale.isoflop(data, n_resamples=1)
    with pytest.raises(ValueError, match="at least 2 budgets"):
        jscale.isoflop(sweep(BUDGETS[:1]), n_resamples=0)
    with pytest.raises(ValueError, match="rtol"):
        jscale.isoflop(data, rtol=2.0)
    assert set(jscale.isoflop(data, n_resamples=0).to_dict()) >= {"budgets", "exponents", "notes"}


def test_wide_and_off_centre_sweeps_are_warned_with_their_bias():
    budgets = BUDGETS[:3]
    with pytest.warns(jscale.warnings.SweepWarning, match="wide") as caught:
        wide = jscale.isoflop(sweep(budgets, factor=16.0), n_resamples=0)
    bias = wide.n_params / n_star(budgets) - 1  # the parabola's N* is too high on a 16x sweep
    assert np.all(bias > 0.03)
    stated = [float(s) for s in re.findall(r"off by about \+([0-9.]+)%", str(caught[0].message))]
    assert len(stated) == 3 and np.allclose(np.array(stated) / 100, bias, rtol=0.25)
    with pytest.warns(jscale.warnings.SweepWarning, match="off-centre"):
        jscale.isoflop(sweep(budgets, factor=4.0, offset=2.5), n_resamples=0)


def test_save_and_load_round_trip(centred, tmp_path):
    path = jscale.save(centred, tmp_path / "sweep.jscale")
    back = jscale.load(path)
    assert isinstance(back, jscale.results.IsoFLOPResult) and back.summary() == centred.summary()
    np.testing.assert_array_equal(back.draws["a"], centred.draws["a"])
    np.testing.assert_array_equal(jscale.compute_optimal(back, 1e23).interval("n_params").low,
                                  jscale.compute_optimal(centred, 1e23).interval("n_params").low)


def test_the_power_laws_are_an_allocation_with_bands(centred):
    # Budgets go through the optimum verb: the power laws at any C, as every allocation is read.
    c = np.array([1e22, 1e24])
    alloc = jscale.compute_optimal(centred, c)
    assert isinstance(alloc, jscale.results.Allocation) and list(alloc.status) == ["success"] * 2
    log_c = np.log(c)
    np.testing.assert_allclose(alloc.n_params, np.exp(centred.prefactors["log_gn"] + centred.exponents["a"] * log_c),
                               rtol=1e-12)
    np.testing.assert_allclose(alloc.loss, np.exp(centred.prefactors["log_gl"]
                                                  + centred.exponents["loss_exponent"] * log_c), rtol=1e-12)
    np.testing.assert_allclose(alloc.tokens_per_param, alloc.n_tokens / alloc.n_params)
    np.testing.assert_allclose(alloc.exponent_params, centred.exponents["a"])
    # the band of N*(C) is the percentile band of the resampled power laws, usable resamples only
    ok = centred.draw_ok
    per_draw = np.exp(centred.draws["log_gn"][ok, None] + centred.draws["a"][ok, None] * log_c)
    low, high = alloc.interval("n_params", 0.9)
    np.testing.assert_allclose(low, np.quantile(per_draw, 0.05, axis=0), rtol=1e-12)
    np.testing.assert_allclose(high, np.quantile(per_draw, 0.95, axis=0), rtol=1e-12)
    assert "isoFLOP" in alloc.summary() and alloc.to_dict()["law"] is None
    with pytest.raises(ValueError, match="cost= is for a fitted law"):
        jscale.compute_optimal(centred, c, cost=lambda n, d: 6 * n * d)


def test_old_spellings_warn_and_agree(centred):
    alloc = jscale.compute_optimal(centred, [1e23])
    with pytest.warns(DeprecationWarning, match="compute_optimal"):
        old = centred.predict([1e23])
    assert old["n_params"][0] == alloc.n_params[0] and old["loss_low"][0] == alloc.interval("loss").low[0]
    with pytest.warns(DeprecationWarning, match="draw_ok"):
        assert centred.usable is centred.draw_ok


def test_files_written_before_draw_ok_load(centred, tmp_path, monkeypatch):
    # files of 0.3.0 and before name the usable-draw mask `usable`
    from jscale.io import _io
    encode = _io._encode

    def old_encode(result):
        state, static = encode(result)
        if "draw_ok" in state:
            state["usable"] = state.pop("draw_ok")
        return state, static

    monkeypatch.setattr(_io, "_encode", old_encode)
    path = jscale.save(centred, tmp_path / "old.jscale")
    monkeypatch.undo()
    np.testing.assert_array_equal(jscale.load(path).draw_ok, centred.draw_ok)


def test_planned_sweep_is_centred_and_recovers_the_law():
    law = jscale.laws.Chinchilla()
    truth = dict(E=E, A=A, B=B, alpha=ALPHA, beta=BETA)
    plan = jscale.plan_isoflop(BUDGETS, law, params=truth, n_sizes=5, span=2.0)
    np.testing.assert_allclose(plan.center, n_star(BUDGETS), rtol=1e-10)
    np.testing.assert_allclose(plan.compute, plan.budget, rtol=1e-12)
    assert len(plan.rows()) == 25 and plan.total_compute == pytest.approx(5 * BUDGETS.sum())
    runs = jscale.ScalingData.from_arrays(n_params=plan.n_params, n_tokens=plan.n_tokens,
                                          loss=E + A / plan.n_params**ALPHA + B / plan.n_tokens**BETA)
    assert abs(jscale.isoflop(runs, n_resamples=0).exponents["a"] - EXPONENT) < 2e-3
    with pytest.raises(ValueError, match="n_sizes"):
        jscale.plan_isoflop(BUDGETS, law, params=truth, n_sizes=2)
    with pytest.raises(ValueError, match="span must be a factor above 1"):
        jscale.plan_isoflop(BUDGETS, law, params=truth, span=1.0)
    with pytest.warns(DeprecationWarning, match="width= is now span="):
        old = jscale.plan_isoflop(BUDGETS, law, params=truth, n_sizes=5, width=2.0)
    np.testing.assert_array_equal(old.n_params, plan.n_params)


def test_plots_of_a_sweep(centred, tmp_path):
    pytest.importorskip("matplotlib")
    import jscale.plot as jplot

    data = sweep(BUDGETS)
    ax = jplot.isoflop_parabolas(centred, data)
    assert len(ax.lines) == 3 * len(BUDGETS)  # parabola, minimum, band of N* per budget
    ax = jplot.isoflop_optimum(centred)
    assert ax.get_xscale() == "log" and len(ax.collections) >= 2  # minima and band
    with pytest.raises(ValueError, match="rows"):
        jplot.isoflop_parabolas(centred, sweep(BUDGETS[:2]))


def test_command_line_sweep_and_plan(tmp_path, capsys):
    from jscale import cli
    data = sweep(BUDGETS)
    path = tmp_path / "sweep.csv"
    path.write_text("size,seen,val\n" + "".join(f"{n!r},{d!r},{v!r}\n" for n, d, v in
                                              zip(data.n_params.tolist(), data.n_tokens.tolist(), data.loss.tolist())))
    out = tmp_path / "out"
    assert cli.main(["isoflop", str(path), "--no-cache", "--quiet", "--columns", "N=size,D=seen,L=val",
                     "--bootstrap", "200", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "5 of 5 budgets used" in printed and "n_params_low" in printed
    assert {"result.jscale", "summary.json"} <= {p.name for p in out.iterdir()}
    assert cli.main(["plan", "isoflop", "--no-cache", "--budgets", "1e22", "--result", str(out / "result.jscale"),
                     "--n-sizes", "3", "--format", "csv"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0] == "budget,n_params,n_tokens,compute" and len(rows) == 4
    assert cli.main(["plan", "isoflop", "--no-cache", "--budgets", "1e22"]) == 2
    assert "--result" in capsys.readouterr().err
    # the sweep's result file feeds `jscale allocate` (its power laws, default budgets from its own)
    assert cli.main(["allocate", "--no-cache", str(out / "result.jscale"), "--format", "csv"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("compute,n_params,n_params_low,n_params_high") and len(rows) == 5
    assert float(rows[1].split(",")[0]) == 10 ** np.floor(np.log10(BUDGETS.max()) - 1)


def test_approaches_2_and_3_side_by_side(centred):
    law = jscale.laws.Chinchilla()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        fit = jscale.fit(law, sweep(BUDGETS), starts=law.default_starts()[::50], loss="squared")
    far = [1e22, 1e23]
    rows = centred.compare(fit, far)
    truth = n_star(np.array(far))
    for row, t in zip(rows, truth):
        # Noise-free runs of the law itself: Approach 3 recovers N* exactly, Approach 2 within 1%.
        assert abs(row["n_params_3"] / t - 1) < 1e-6 and abs(row["ratio_n_params"] - 1) < 0.01
        assert row["n_params_2_low"] <= row["n_params_2"] <= row["n_params_2_high"]
        assert row["n_params_3_low"] <= row["n_params_3"] <= row["n_params_3_high"]
    assert "Approach 2 against Approach 3" in centred.summary(approach3=fit, compute=far)


def test_row_weights_and_runs_near_no_budget():
    data = sweep(BUDGETS)
    stray = jscale.ScalingData.from_arrays(
        n_params=np.append(data.n_params, 1e8), n_tokens=np.append(data.n_tokens, 3e10),  # C = 1.8e19
        loss=np.append(data.loss, 3.0), weight=np.append(np.ones(len(data)), 1.0))
    with pytest.warns(jscale.warnings.SweepWarning, match="1 run is within rtol=0.1 of no budget"):
        result = jscale.isoflop(stray, budgets=BUDGETS, n_resamples=0)
    assert result.budget_index[-1] == -1 and result.n_runs.sum() == len(data)
    # A run of weight 0 is the same as no run at all.
    heavy = jscale.ScalingData.from_arrays(n_params=np.append(data.n_params, data.n_params[3]),
                                           n_tokens=np.append(data.n_tokens, data.n_tokens[3]),
                                           loss=np.append(data.loss, 9.0), weight=np.append(np.ones(len(data)), 0.0))
    np.testing.assert_allclose(jscale.isoflop(heavy, n_resamples=0).n_params,
                               jscale.isoflop(data, n_resamples=0).n_params, rtol=1e-12)


def test_a_robust_loss_keeps_an_outlying_run_from_moving_the_minimum():
    data = sweep(BUDGETS)
    loss = np.array(data.loss)
    loss[1] *= 1.05  # one run of the first budget 5% off its curve
    bad = jscale.ScalingData.from_arrays(n_params=data.n_params, n_tokens=data.n_tokens, loss=loss)
    clean = jscale.isoflop(data, n_resamples=0).n_params[0]
    squared = jscale.isoflop(bad, n_resamples=0).n_params[0]
    robust = jscale.isoflop(bad, loss=jscale.losses.Huber(1e-3), n_resamples=0).n_params[0]
    assert abs(robust / clean - 1) < 0.2 * abs(squared / clean - 1)
