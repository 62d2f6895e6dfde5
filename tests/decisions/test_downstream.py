"""jscale.two_stage, the link laws and the Gadre et al. 2024 downstream reproduction.

* Gadre et al. 2024 (arXiv:2403.08540, sec. 3): loss law on the 5 small runs of each training
  set, error law on those and the 1.4B run at M = 20, predictions at the extrapolation targets
  (bundled `gadre2024` data, and the project's shared CSV when present).
* Link laws recover known parameters from exact data; a custom link chains like a built-in one.
* The joint bootstrap on a simulated study: bands, determinism in the key, one resample per draw
  for both stages, predict_optimal = link(L*), and the errors of `jscale.two_stage`.
"""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from helpers import HOFFMANN_PARAMS, chinchilla_free, chinchilla_loss, shared_data_dir

import jscale

LOSS_LAW = jscale.laws.Chinchilla().tie(beta="alpha")
METRIC = "err_avg_subset17"


def _quiet(fn, *args, **kwargs):
    """fn(*args, **kwargs) with jscale's diagnostics silenced (tiny fits warn by design)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        return fn(*args, **kwargs)


# --- Gadre et al. 2024 ----------------------------------------------------------------------------

# Relative errors (%) of the predicted 17-task error at the extrapolation targets, in the order of
# the data (the 1.4B over-trained run, then the 6.9B run at M = 20), measured with the paper's
# procedure (least squares, scipy curve_fit) on the upstream data.
GADRE_ERROR_PCT = {
    "rpj": (3.6365, 0.0464),
    "c4_original": (9.5817, 0.1370),
    "rw_original": (5.6167, 2.9388),
}
# Their M (tokens per parameter) and sizes: the 1.4B run at M = 640 / 80 / 320, the 6.9B run at 20.
GADRE_TARGET_M = {"rpj": (640.0, 20.0), "c4_original": (80.0, 20.0), "rw_original": (320.0, 20.0)}
# RedPajama: the loss law's relative errors (%) there, and both fits (SOURCES.md section 4;
# Gadre's a, b, alpha/eta are A, B, alpha of the tied law here).
GADRE_RPJ_LOSS_PCT = (0.7103, 0.7320)
GADRE_RPJ_LOSS_PARAMS = dict(alpha=0.27285070, E=1.83664836, A=166.21098)
GADRE_RPJ_LINK_PARAMS = dict(eps=0.85699, k=2.20649, gamma=0.714591)


def gadre_procedure(data: jscale.ScalingData) -> dict:
    """Gadre et al.'s procedure on one training set: both fits, the chain, the targets' errors."""
    role = np.asarray(data["fit_role"]).astype(str)
    loss_rows = role == "loss_and_error_fit"
    link_rows = loss_rows | (role == "error_fit_only")
    target_rows = role == "extrapolation_target"
    assert (loss_rows.sum(), link_rows.sum(), target_rows.sum()) == (5, 6, 2)
    loss_fit = _quiet(jscale.fit, LOSS_LAW, data.subset(loss_rows), residual="raw", loss="squared")
    link_fit = _quiet(jscale.fit, jscale.laws.ExponentialLink(), data.subset(link_rows), target=METRIC,
                      residual="raw", loss="squared")
    two = jscale.two_stage(loss_fit, link_fit, data, loss_rows=loss_rows, link_rows=link_rows)
    targets = data.subset(target_rows)
    pred = _quiet(two.predict, n_params=targets.n_params, n_tokens=targets.n_tokens)
    observed_err, observed_loss = np.asarray(targets[METRIC]), np.asarray(targets.loss)
    return dict(
        two=two, targets=targets, prediction=pred,
        error_pct=100 * np.abs(pred.metric - observed_err) / observed_err,
        loss_pct=100 * np.abs(pred.loss - observed_loss) / observed_loss,
    )


@pytest.fixture(scope="module")
def gadre_bundled():
    data = jscale.datasets.load("gadre2024")
    return {name: gadre_procedure(part) for name, part in data.split("dataset").items()}


@pytest.mark.parametrize("dataset", sorted(GADRE_ERROR_PCT))
def test_gadre_downstream_error_reproduced(gadre_bundled, dataset):
    """The 17-task error's relative error at both extrapolation targets, to 1e-3 relative."""
    out = gadre_bundled[dataset]
    assert np.asarray(out["targets"]["tokens_per_param"]) == pytest.approx(GADRE_TARGET_M[dataset])
    assert out["targets"].n_params == pytest.approx([1.4397952e9, 6.88941056e9])
    assert out["error_pct"] == pytest.approx(GADRE_ERROR_PCT[dataset], rel=1e-3)


def test_gadre_rpj_loss_errors_and_parameters(gadre_bundled):
    out = gadre_bundled["rpj"]
    assert out["loss_pct"] == pytest.approx(GADRE_RPJ_LOSS_PCT, rel=1e-3)
    loss, link = out["two"].loss_fit.params, out["two"].link_fit.params
    assert set(loss) == {"E", "A", "B", "alpha"}  # beta tied to alpha: one exponent, as Gadre's law has
    for name, value in GADRE_RPJ_LOSS_PARAMS.items():
        assert loss[name] == pytest.approx(value, rel=1e-4), name
    for name, value in GADRE_RPJ_LINK_PARAMS.items():
        assert link[name] == pytest.approx(value, rel=1e-4), name
    assert out["two"].link_fit.target == METRIC and out["two"].metric_name == METRIC
    assert out["prediction"].metric_name == METRIC and out["prediction"].draws is None


def test_gadre_prediction_is_the_chain_of_both_fits(gadre_bundled):
    """The metric is the link fit's prediction at the loss fit's prediction: m(L(N, D))."""
    out = gadre_bundled["rpj"]
    two, targets, pred = out["two"], out["targets"], out["prediction"]
    loss = _quiet(two.loss_fit.predict, n_params=targets.n_params, n_tokens=targets.n_tokens)
    np.testing.assert_allclose(pred.loss, loss, rtol=1e-13)
    p = two.link_fit.params
    np.testing.assert_allclose(pred.metric, p["eps"] - p["k"] * np.exp(-p["gamma"] * loss), rtol=1e-12)
    with pytest.raises(ValueError, match="key="):
        pred.interval()
    # A ScalingData of the points gives the same as the columns as keywords.
    from_data = _quiet(two.predict, targets)
    np.testing.assert_array_equal(from_data.metric, pred.metric)
    np.testing.assert_array_equal(from_data.columns["n_params"], targets.n_params)


def test_gadre_reproduced_from_shared_csv(gadre_bundled):
    """The same procedure on the project's shared 62-column CSV gives the same figures."""
    root = shared_data_dir()
    path = None if root is None else root / "gadre2024_downstream" / "gadre2024_downstream_104_models.csv"
    if path is None or not path.exists():
        pytest.skip("shared/data/gadre2024_downstream is not present")
    data = jscale.ScalingData.from_csv(path, columns={"n_params": "N_params", "n_tokens": "D_tokens",
                                                      "loss": "loss_c4_val"})
    assert len(data) == 104
    out = gadre_procedure(data.split("dataset")["rpj"])
    assert out["error_pct"] == pytest.approx(GADRE_ERROR_PCT["rpj"], rel=1e-3)
    assert out["loss_pct"] == pytest.approx(GADRE_RPJ_LOSS_PCT, rel=1e-3)
    np.testing.assert_allclose(out["prediction"].metric, gadre_bundled["rpj"]["prediction"].metric, rtol=1e-9)


# --- link laws ------------------------------------------------------------------------------------

LINK_TRUTH = dict(eps=0.85, k=2.2, gamma=0.7)


def exponential_link(p, loss):
    return p["eps"] - p["k"] * np.exp(-p["gamma"] * np.asarray(loss))


def sigmoid_link(p, loss):
    return p["floor"] + (p["ceiling"] - p["floor"]) / (1 + np.exp(p["s"] * (np.asarray(loss) - p["L0"])))


def test_exponential_link_recovers_exact_parameters():
    loss = np.linspace(2.0, 4.5, 12)
    data = jscale.ScalingData.from_arrays(loss=loss, err=exponential_link(LINK_TRUTH, loss))
    fit = _quiet(jscale.fit, jscale.laws.ExponentialLink(), data, target="err", residual="raw", loss="squared")
    assert fit.best_status == "success"
    for name, value in LINK_TRUTH.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-6), name
    np.testing.assert_allclose(fit.predict(loss=[3.0]), exponential_link(LINK_TRUTH, [3.0]), rtol=1e-9)


@pytest.mark.parametrize("truth", [
    dict(floor=0.25, ceiling=0.9, s=3.0, L0=3.0),  # an accuracy: rises as the loss falls
    dict(floor=0.75, ceiling=0.1, s=2.0, L0=2.8),  # an error: ceiling below floor
])
def test_sigmoid_link_recovers_exact_parameters(truth):
    loss = np.linspace(1.8, 4.5, 16)
    data = jscale.ScalingData.from_arrays(loss=loss, acc=sigmoid_link(truth, loss))
    fit = _quiet(jscale.fit, jscale.laws.SigmoidLink(), data, target="acc", residual="raw", loss="squared")
    assert fit.best_status == "success"
    for name, value in truth.items():
        assert fit.params[name] == pytest.approx(value, rel=1e-6), name


def test_sigmoid_link_with_fixed_floor():
    truth = dict(floor=0.25, ceiling=0.8, s=2.5, L0=3.2)
    loss = np.linspace(1.8, 4.5, 16)
    data = jscale.ScalingData.from_arrays(loss=loss, acc=sigmoid_link(truth, loss))
    law = jscale.laws.SigmoidLink().fix(floor=0.25)
    assert "floor" not in law.param_names
    fit = _quiet(jscale.fit, law, data, target="acc", residual="raw", loss="squared")
    assert fit.best_status == "success" and fit.law.n_free == 3
    for name in ("ceiling", "s", "L0"):
        assert fit.params[name] == pytest.approx(truth[name], rel=1e-6), name
    # The fixed floor still shapes predictions: at a very high loss the metric is the floor.
    assert _quiet(fit.predict, loss=[50.0]) == pytest.approx([0.25], abs=1e-9)


# --- a simulated study: Chinchilla truth, exponential link ----------------------------------------

STUDY_LINK = dict(eps=0.85, k=2.2, gamma=0.7)
STUDY_POINTS = dict(n_params=np.array([1e9, 1e10]), n_tokens=np.array([2e10, 2e11]))
N_RESAMPLES = 96


def study_data(seed: int = 0) -> jscale.ScalingData:
    """30 runs (6 sizes x 5 token counts) with 0.3% log-normal noise on the loss and 0.002 on the error."""
    rng = np.random.default_rng(seed)
    n, d = np.meshgrid(np.logspace(7.5, 9.5, 6), np.logspace(9, 11, 5), indexing="ij")
    n, d = n.ravel(), d.ravel()
    loss = chinchilla_loss(HOFFMANN_PARAMS, n, d) * np.exp(rng.normal(0, 0.003, n.size))
    err = exponential_link(STUDY_LINK, loss) + rng.normal(0, 0.002, n.size)
    return jscale.ScalingData.from_arrays(n_params=n, n_tokens=d, loss=loss, err=err)


def study_starts() -> np.ndarray:
    """A few starts around the truth (the fit's global search is tested elsewhere)."""
    base = chinchilla_free(HOFFMANN_PARAMS)
    return np.stack([base, base + [0.1, -0.5, 0.5, -0.03, 0.03], base + [-0.1, 0.5, -0.5, 0.03, -0.03]])


@pytest.fixture(scope="module")
def study():
    data = study_data()
    loss_fit = _quiet(jscale.fit, jscale.laws.Chinchilla(), data, starts=study_starts())
    link_fit = _quiet(jscale.fit, jscale.laws.ExponentialLink(), data, target="err", residual="raw",
                      loss="squared")
    two = _quiet(jscale.two_stage, loss_fit, link_fit, data, key=0, n_resamples=N_RESAMPLES)
    return data, loss_fit, link_fit, two


@pytest.fixture(scope="module")
def study_prediction(study):
    return _quiet(study[3].predict, **STUDY_POINTS)


def test_study_fits_recover_truth(study):
    _, loss_fit, link_fit, two = study
    assert loss_fit.best_status == "success" and link_fit.best_status == "success"
    for name, value in STUDY_LINK.items():
        assert link_fit.params[name] == pytest.approx(value, rel=0.15), name
    assert two.loss_boot.n_resamples == two.link_boot.n_resamples == N_RESAMPLES - two.n_dropped
    assert two.loss_boot.n_converged > 0.9 * two.loss_boot.n_resamples
    assert two.link_boot.n_converged > 0.9 * two.link_boot.n_resamples


def test_study_bands_contain_point_prediction(study, study_prediction):
    pred = study_prediction
    assert pred.draws["metric"].shape == pred.draws["loss"].shape == pred.draw_ok.shape == (
        study[3].loss_boot.n_resamples, 2)
    for name in ("metric", "loss"):
        low, high = pred.interval(name)
        assert np.all(low < getattr(pred, name)) and np.all(getattr(pred, name) < high), name
        assert np.all(high - low > 0)
    # The point prediction is the full-data chain, not a summary of the draws.
    two = study[3]
    loss = _quiet(two.loss_fit.predict, **STUDY_POINTS)
    np.testing.assert_allclose(pred.loss, loss, rtol=1e-13)
    np.testing.assert_allclose(pred.metric, exponential_link(two.link_fit.params, loss), rtol=1e-12)
    # A narrower level gives a band inside the wider one.
    lo90, hi90 = pred.interval("metric", 0.5)
    lo95, hi95 = pred.interval("metric", 0.95)
    assert np.all(lo95 <= lo90) and np.all(hi90 <= hi95)


def test_study_draw_b_chains_draw_b_of_each_stage(study, study_prediction):
    """metric draw b = link draw b at (loss law draw b at the points): draws are chained by index."""
    two, pred = study[3], study_prediction
    loss_draws, link_draws = two.loss_boot.draws, two.link_boot.draws
    for b in (0, 7, two.loss_boot.n_resamples - 1):
        p_loss = {k: v[b] for k, v in loss_draws.items()}
        p_link = {k: v[b] for k, v in link_draws.items()}
        loss = chinchilla_loss(p_loss, STUDY_POINTS["n_params"], STUDY_POINTS["n_tokens"])
        np.testing.assert_allclose(pred.draws["loss"][b], loss, rtol=1e-10)
        np.testing.assert_allclose(pred.draws["metric"][b], exponential_link(p_link, loss), rtol=1e-10)
    ok = two.loss_boot.draw_ok & two.link_boot.draw_ok
    np.testing.assert_array_equal(pred.draw_ok, np.broadcast_to(ok[:, None], pred.draw_ok.shape))


def test_study_both_stages_share_each_resample(study):
    """Same rows for both stages: resample b's multiplicities are the same for both."""
    two = study[3]
    assert two.loss_boot.counts is not None and two.link_boot.counts is not None
    np.testing.assert_array_equal(two.loss_boot.counts, two.link_boot.counts)
    assert np.all(two.loss_boot.counts.sum(axis=1) == len(study[0]))
    assert len(np.unique(two.loss_boot.counts, axis=0)) == two.loss_boot.n_resamples  # not one resample repeated


def test_study_same_key_same_draws_other_key_other_draws(study, study_prediction):
    data, loss_fit, link_fit, two = study
    again = _quiet(jscale.two_stage, loss_fit, link_fit, data, key=0, n_resamples=N_RESAMPLES)
    np.testing.assert_array_equal(again.loss_boot.counts, two.loss_boot.counts)
    np.testing.assert_array_equal(again.loss_boot.free_draws, two.loss_boot.free_draws)
    np.testing.assert_array_equal(again.link_boot.free_draws, two.link_boot.free_draws)
    pred = _quiet(again.predict, **STUDY_POINTS)
    np.testing.assert_array_equal(pred.draws["metric"], study_prediction.draws["metric"])
    other = _quiet(jscale.two_stage, loss_fit, link_fit, data, key=1, n_resamples=N_RESAMPLES)
    assert not np.array_equal(other.loss_boot.counts, two.loss_boot.counts)
    assert not np.array_equal(other.link_boot.free_draws, two.link_boot.free_draws)


@pytest.fixture(scope="module")
def loss_subset(study):
    """The loss law refitted without the first run (29 rows: the 30-row programs serve it)."""
    data = study[0]
    rows = np.arange(len(data)) > 0
    return rows, _quiet(jscale.fit, jscale.laws.Chinchilla(), data.subset(rows), starts=study_starts())


def test_study_stages_on_different_rows_share_resamples(study, loss_subset):
    """The loss law on all runs but the first, the link on all: on the loss law's rows, the
    multiplicities of resample b are those of the link's resample b."""
    data, _, link_fit, _ = study
    loss_rows, loss_fit = loss_subset
    link_rows = np.arange(len(data))  # indices, not a mask
    two = _quiet(jscale.two_stage, loss_fit, link_fit, data, loss_rows=loss_rows, link_rows=link_rows, key=3,
                 n_resamples=N_RESAMPLES)
    b = two.loss_boot.n_resamples
    assert b == two.link_boot.n_resamples == N_RESAMPLES - two.n_dropped
    assert two.loss_boot.counts.shape == (b, len(data) - 1)
    assert two.link_boot.counts.shape == (b, len(data))
    np.testing.assert_array_equal(two.loss_boot.counts, two.link_boot.counts[:, loss_rows])
    assert np.all(two.link_boot.counts.sum(axis=1) == len(data))
    assert np.any(two.link_boot.counts[:, 0] > 0)  # the run only the link sees is drawn too


def test_predict_optimal_is_link_of_optimal_loss(study):
    two = study[3]
    pred = _quiet(two.predict_optimal, [1e21])
    # jscale.compute_optimal of the loss stage (its estimate is the full-data fit's; the bootstrap
    # result is passed so that one compiled program serves this test and predict_optimal).
    alloc = _quiet(jscale.compute_optimal, two.loss_boot, 1e21)
    n_star, d_star, l_star = jscale.laws.Chinchilla.compute_optimal(two.loss_fit.params, 1e21)
    np.testing.assert_allclose(alloc.loss, l_star, rtol=1e-10)  # the closed form (Hoffmann et al. eq. 4)
    np.testing.assert_allclose(pred.loss, alloc.loss, rtol=1e-12)
    np.testing.assert_allclose(pred.metric, exponential_link(two.link_fit.params, alloc.loss), rtol=1e-12)
    np.testing.assert_allclose(pred.columns["n_params"], n_star, rtol=1e-8)
    np.testing.assert_allclose(pred.columns["n_tokens"], d_star, rtol=1e-8)
    # Each draw: the link's draw b at the optimal loss of the loss law's draw b.
    boot_alloc = alloc
    np.testing.assert_allclose(pred.draws["loss"], boot_alloc.draws["loss"], rtol=1e-12)
    link_draws = two.link_boot.draws
    b = 5
    expected = exponential_link({k: v[b] for k, v in link_draws.items()}, boot_alloc.draws["loss"][b])
    np.testing.assert_allclose(pred.draws["metric"][b], expected, rtol=1e-12)
    assert pred.draw_ok.shape == pred.draws["metric"].shape == (two.loss_boot.n_resamples, 1)
    low, high = pred.interval("metric")
    assert low[0] < pred.metric[0] < high[0]


def test_two_stage_warnings_point_at_the_callers_line(study):
    two = study[3]
    with pytest.warns(jscale.warnings.ExtrapolationWarning) as caught:
        two.predict_optimal([1e23])
    assert {w.filename for w in caught if w.category is jscale.warnings.ExtrapolationWarning} == {__file__}


def test_custom_link_law_in_two_stage(study):
    """The exponential link written as a custom law of the loss column chains as the built-in one."""
    data, loss_fit, link_fit, _ = study
    law = jscale.laws.custom(
        lambda p, x: p["eps"] - p["k"] * jnp.exp(-p["gamma"] * x["loss"]),
        {"eps": jscale.laws.Param("positive", (0.5, 1.0)), "k": jscale.laws.Param("positive", (1.0, 3.0)),
         "gamma": jscale.laws.Param("positive", (0.5, 1.0))},
        columns=("loss",), name="my-link")
    custom_fit = _quiet(jscale.fit, law, data, target="err", residual="raw", loss="squared")
    for name, value in link_fit.params.items():
        assert custom_fit.params[name] == pytest.approx(value, rel=1e-5), name
    two = jscale.two_stage(loss_fit, custom_fit, data)
    assert two.loss_boot is None and "my-link" in repr(two)
    pred = _quiet(two.predict, **STUDY_POINTS)
    reference = _quiet(jscale.two_stage(loss_fit, link_fit, data).predict, **STUDY_POINTS)
    np.testing.assert_allclose(pred.metric, reference.metric, rtol=1e-5)
    np.testing.assert_allclose(pred.loss, reference.loss, rtol=1e-13)


# --- errors ---------------------------------------------------------------------------------------


def test_two_stage_rows_must_match_the_fits(study, loss_subset):
    data, loss_fit, link_fit, _ = study
    rows, sub_fit = loss_subset
    with pytest.raises(ValueError, match="loss_rows="):
        jscale.two_stage(sub_fit, link_fit, data)
    with pytest.raises(ValueError, match="link_rows="):
        jscale.two_stage(loss_fit, link_fit, data, link_rows=rows)
    with pytest.raises(ValueError, match="selects no rows"):
        jscale.two_stage(loss_fit, link_fit, data, loss_rows=np.zeros(len(data), bool))
    with pytest.raises(ValueError, match="outside"):
        jscale.two_stage(loss_fit, link_fit, data, loss_rows=[0, len(data)])
    jscale.two_stage(sub_fit, link_fit, data, loss_rows=rows)  # the right rows: accepted
    # As many rows, but others (all but the last): data from arrays has no fingerprint, the fit's
    # record of its data (ranges, lowest loss) tells them apart.
    with pytest.raises(ValueError, match="not fitted on the rows"):
        jscale.two_stage(sub_fit, link_fit, data, loss_rows=np.arange(len(data)) < len(data) - 1)


def test_two_stage_refuses_rows_the_fit_was_not_fitted_on(gadre_bundled):
    """Five other runs of RedPajama do not pass for the 5 runs the loss law was fitted on (with
    key=, the joint bootstrap would refit the loss law on runs it never saw): checked by the
    fingerprint the fit recorded."""
    two = gadre_bundled["rpj"]["two"]
    data = jscale.datasets.load("gadre2024").split("dataset")["rpj"]
    role = np.asarray(data["fit_role"]).astype(str)
    wrong_rows = np.flatnonzero(role == "unused")[:5]
    link_rows = (role == "loss_and_error_fit") | (role == "error_fit_only")
    assert two.loss_fit.source["fingerprint"] != data.subset(wrong_rows).fingerprint()
    with pytest.raises(ValueError, match="loss_rows"):
        jscale.two_stage(two.loss_fit, two.link_fit, data, loss_rows=wrong_rows, link_rows=link_rows)


def test_two_stage_n_resamples_needs_key(study):
    data, loss_fit, link_fit, _ = study
    with pytest.raises(ValueError, match="key="):
        jscale.two_stage(loss_fit, link_fit, data, n_resamples=10)


def test_two_stage_link_must_read_the_loss(study):
    data, loss_fit, _, _ = study
    # A law of (n_params, n_tokens) as the "link": it never reads the loss column.
    with pytest.raises(ValueError, match="must read the loss column"):
        jscale.two_stage(loss_fit, loss_fit, data)


def test_two_stage_type_errors(study):
    data, loss_fit, link_fit, two = study
    with pytest.raises(TypeError, match="ScalingData"):
        jscale.two_stage(loss_fit, link_fit, {"n_params": data.n_params})
    with pytest.raises(TypeError, match="FitResult"):
        jscale.two_stage(two.loss_boot, link_fit, data)


def test_two_stage_round_trip(study, study_prediction, tmp_path):
    """A saved TwoStage loads with both fits and the joint draws, and predicts the same; one with a
    stage's bootstrap missing is refused."""
    two = study[3]
    jscale.save(two, tmp_path / "two.jscale")
    back = jscale.load(tmp_path / "two.jscale")
    assert isinstance(back, jscale.results.TwoStage) and back.n_dropped == two.n_dropped
    np.testing.assert_array_equal(back.link_boot.counts, two.link_boot.counts)
    again = _quiet(back.predict, **STUDY_POINTS)
    np.testing.assert_array_equal(again.metric, study_prediction.metric)
    np.testing.assert_array_equal(again.draws["metric"], study_prediction.draws["metric"])
    jscale.save(two.replace(link_boot=None), tmp_path / "half.jscale")
    with pytest.raises(ValueError, match="one stage only"):
        jscale.load(tmp_path / "half.jscale")


# --- stages on rows of their own: final losses and every checkpoint, runs drawn for both ---------

CHECKPOINTS = (0.25, 0.5, 0.75, 1.0)


@pytest.fixture(scope="module")
def curves():
    """The study's 30 runs as final rows (stage 1) and as 4 checkpoints each plus one anchor row
    (stage 2, the link on every checkpoint), with a run column naming each row's run."""
    rng = np.random.default_rng(5)
    final = study_data()
    runs = np.array([f"run{k:02d}" for k in range(len(final))])
    final = jscale.ScalingData.from_arrays(n_params=final.n_params, n_tokens=final.n_tokens, loss=final.loss,
                                           err=final["err"], run=runs)
    n, d = (np.repeat(final[c], len(CHECKPOINTS)) for c in ("n_params", "n_tokens"))
    d = d * np.tile(CHECKPOINTS, len(final))
    loss = chinchilla_loss(HOFFMANN_PARAMS, n, d) * np.exp(rng.normal(0, 0.003, n.size))
    err = exponential_link(STUDY_LINK, loss) + rng.normal(0, 0.002, n.size)
    anchor = 1.0, float(exponential_link(STUDY_LINK, [1.0])[0])
    points = jscale.ScalingData.from_arrays(loss=np.append(loss, anchor[0]), err=np.append(err, anchor[1]),
                                            run=np.append(np.repeat(runs, len(CHECKPOINTS)), "anchor"))
    loss_fit = _quiet(jscale.fit, jscale.laws.Chinchilla(), final, starts=study_starts())
    link_fit = _quiet(jscale.fit, jscale.laws.ExponentialLink(), points, target="err", residual="raw",
                      loss="squared")
    two = _quiet(jscale.two_stage, loss_fit, link_fit, final, link_data=points, unit="run",
                 anchor_rows=[len(points) - 1], key=0, n_resamples=48)
    return final, points, loss_fit, link_fit, two


def test_stages_with_rows_of_their_own_draw_runs(curves):
    final, points, _, _, two = curves
    loss_counts, link_counts = np.asarray(two.loss_boot.counts), np.asarray(two.link_boot.counts)
    assert two.loss_boot.unit == two.link_boot.unit == "run"
    assert loss_counts.shape == (two.loss_boot.n_resamples, 30) and link_counts.shape[1] == 31
    # Resample b draws the same runs for both stages (labels sorted alike), the anchor once in every one.
    np.testing.assert_array_equal(link_counts[:, :30], loss_counts)
    assert np.all(link_counts[:, 30] == 1)
    assert np.all(loss_counts.sum(axis=1) == 30)
    np.testing.assert_array_equal(two.link_boot.resample_counts(3), link_counts[3])
    assert two.n_runs == (30, 30) and two.n_anchors == 1


def test_stages_with_rows_of_their_own_say_runs_in_the_summary(curves):
    two = curves[4]
    text = two.summary()
    assert "on 30 runs" in text and "on 120 rows of 30 runs and 1 anchor row" in text
    assert "resamples of the runs (by 'run')" in text and "1 anchor row kept once in every resample" in text
    assert "by row" not in text and "resamples by run" in text
    assert two.to_dict()["n_runs"] == [30, 30]
    pred = _quiet(two.predict, **STUDY_POINTS)
    low, high = pred.interval("metric")
    assert np.all(low < pred.metric) and np.all(pred.metric < high)


def test_stages_with_rows_of_their_own_errors(curves):
    final, points, loss_fit, link_fit, _ = curves
    last = [len(points) - 1]
    with pytest.raises(ValueError, match="unit='run'"):
        jscale.two_stage(loss_fit, link_fit, final, link_data=points, anchor_rows=last, key=0)
    with pytest.raises(ValueError, match="column of link_data"):
        jscale.two_stage(loss_fit, link_fit, final, link_data=points, unit="n_params", key=0)
    with pytest.raises(ValueError, match="among link_rows"):
        jscale.two_stage(loss_fit, link_fit, final, link_data=points, unit="run", anchor_rows=last,
                         link_rows=np.arange(len(points)) < len(points) - 1)
    with pytest.raises(TypeError, match="link_data"):
        jscale.two_stage(loss_fit, link_fit, final, link_data={"loss": points.loss}, unit="run")
    with pytest.raises(ValueError, match="fitted on"):  # the link's rows are link_data's, not data's
        jscale.two_stage(loss_fit, link_fit, final, unit="run")
