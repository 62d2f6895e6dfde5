"""One meaning per keyword across the public verbs: a keyword two verbs share means one thing (the
table below says what), carries one annotation, and one default, save the differences listed with
their reason. A new keyword shared by two verbs needs a line here."""

import inspect

import jscale

# keyword -> what it means in every verb that takes it.
MEANINGS = {
    "budget": "a cost budget: the total cost (in the cost model's units) to spend",
    "budgets": "compute budgets C in FLOP",
    "compute": "compute budgets C in FLOP at which the answer is wanted",
    "cost": "the cost model, a function of the optimised columns (default C = 6 N D)",
    "data": "a ScalingData of runs",
    "execution": "how the fits run: a jscale.Execution (solver, batching, batch size, devices, chunks)",
    "delta": "the Huber threshold of the loss on residuals",
    "fixed": "columns held at given values (name -> value or array)",
    "full_fit": "the jscale.fit of this law on this data, if already computed",
    "key": "an integer seed or a JAX PRNG key",
    "law": "a law object (jscale.laws)",
    "loss": "the loss of the fit's residuals (a name or a jscale.losses object)",
    "n_params": "model sizes N (parameters)",
    "n_resamples": "bootstrap resamples B",
    "n_tokens": "training tokens D",
    "over": "the columns an optimum is taken over",
    "params": "parameter values to use instead of a fit's (name -> value)",
    "path": "a filesystem path",
    "progress": "whether to say on stderr what a long call is doing (None: when it is long)",
    "quantity": "the quantity a design pins down",
    "residual": "the space of the residuals: 'log' or 'raw'",
    "starts": "the fits' starting points",
    "target": "the fitted column",
    "unit": "what a bootstrap resamples: 'row', 'group', 'residual' or a column",
    "jackknife": "whether to fit the leave-one-unit-out jackknife for BCa intervals",
    "by": "the column whose largest values a backtest holds out",
    "covariance": "the curvature covariance: 'sandwich' or 'hessian'",
    "cutoff": "the value of `by` from which runs are held out",
    "datasets": "a list of ScalingData",
    "holdout": "the share of `by`'s distinct values held out",
    "noise": "the sd of a new run's log loss around the law",
    "result": "a fitted result (FitResult, BootstrapResult or Estimate) whose law is used",
    "strict": "raise instead of warn when a fit fails",
    "strata": "a column within whose values a bootstrap resamples (each stratum keeps its size)",
}

# (keyword, verb) -> why its default differs from the keyword's usual one.
DEFAULTS_DIFFER = {
    ("key", "isoflop"): "the sweeps resample by default, so they start from key 0",
    ("key", "envelope"): "the sweeps resample by default, so they start from key 0",
    ("key", "bootstrap_forms"): "several forms are scored on resamples drawn from a key: required",
    ("loss", "isoflop"): "Approach 2 fits its parabolas by least squares, as Hoffmann et al. did",
    ("key", "hyperparameters"): "the sweeps resample by default, so they start from key 0",
    ("loss", "hyperparameters"): "the sweeps fit their parabolas by least squares, as the labs did",
    ("starts", "bootstrap"): "a bootstrap starts from the full fit's basins ('warm')",
    ("starts", "bootstrap_many"): "a bootstrap starts from the full fit's basins ('warm')",
    ("budget", "suggest_runs"): "a design needs a budget: required",
    ("budgets", "plan_isoflop"): "a plan needs its budgets: required",
    ("compute", "compare"): "a comparison is at given budgets: required",
    ("compute", "compute_optimal"): "an allocation is at given budgets: required",
    ("n_params", "marginal_returns"): "marginal returns are at given points: required",
    ("n_tokens", "marginal_returns"): "marginal returns are at given points: required",
    ("law", "load"): "a file of a built-in law names it; a custom law is passed to rebuild it",
    ("path", "save"): "required", ("path", "load"): "required",
    ("law", "bootstrap_many"): "required", ("law", "backtest"): "required", ("law", "bootstrap"): "required",
    ("law", "fit"): "required", ("law", "fit_many"): "required",
}


def _verbs():
    return {name: getattr(jscale, name) for name in jscale.__all__
            if inspect.isfunction(getattr(jscale, name)) and not name.startswith("_")}


# Old names of keywords, kept for one release with a DeprecationWarning: (keyword, verb).
DEPRECATED = {("width", "plan_isoflop")}


def _shared():
    uses = {}
    for verb, fn in _verbs().items():
        for p in inspect.signature(fn).parameters.values():
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and (p.name, verb) not in DEPRECATED:
                uses.setdefault(p.name, []).append((verb, p))
    return {k: v for k, v in uses.items() if len(v) > 1}


def test_every_shared_keyword_has_one_meaning():
    missing = sorted(set(_shared()) - set(MEANINGS))
    assert not missing, f"keywords shared by several verbs with no meaning in MEANINGS: {missing}"
    stale = sorted(set(MEANINGS) - set(_shared()))
    assert not stale, f"MEANINGS explains keywords no two verbs share: {stale}"


def test_a_shared_keyword_has_one_annotation():
    """Where verbs annotate a shared keyword, they annotate it alike (some leave it bare)."""
    wrong = {}
    for name, uses in _shared().items():
        notes = {str(p.annotation) for _, p in uses if p.annotation is not p.empty}
        if len(notes) > 1:
            wrong[name] = {verb: str(p.annotation) for verb, p in uses}
    assert not wrong, wrong


def test_a_shared_keyword_has_one_default_save_the_listed_differences():
    wrong = {}
    for name, uses in _shared().items():
        usual = [p.default for verb, p in uses if (name, verb) not in DEFAULTS_DIFFER]
        if any(repr(d) != repr(usual[0]) for d in usual):
            wrong[name] = {verb: repr(p.default) for verb, p in uses}
    assert not wrong, wrong
    stale = [k for k in DEFAULTS_DIFFER if k[1] not in _verbs() or k[0] not in
             inspect.signature(_verbs()[k[1]]).parameters]
    assert not stale, f"DEFAULTS_DIFFER names keywords no verb takes: {stale}"
