"""One execution-options object: `jscale.Execution` says how fits run, every verb that fits takes it
as `execution=`, and the old separate keywords keep working for one release, with a warning."""

import numpy as np
import pytest
from helpers import subset_starts, synthetic_chinchilla

import jscale

LAW = jscale.laws.Chinchilla()
SOLVER = jscale.solvers.RobustGaussNewton(max_steps=63)  # a setting few other tests use


@pytest.fixture(scope="module")
def data():
    return synthetic_chinchilla(n=3)


def _fit(data, **kwargs):
    with pytest.warns(jscale.warnings.DiagnosticWarning):
        return jscale.fit(LAW, data, starts=subset_starts()[:4], **kwargs)


def test_the_old_keywords_warn_and_give_the_same_fit(data):
    new = _fit(data, execution=jscale.Execution(solver=SOLVER, batching="vmap"))
    with pytest.warns(DeprecationWarning, match=r"fit\(solver=..., batching=...\) is now "
                                                r"fit\(execution=jscale.Execution\(solver=..., batching=...\)\)"):
        old = _fit(data, solver=SOLVER, batching="vmap")
    np.testing.assert_array_equal(old.end_params, new.end_params)


def test_one_option_given_twice_or_a_wrong_object_is_refused(data):
    with pytest.raises(TypeError, match="solver both in execution= and as a keyword"), \
            pytest.warns(DeprecationWarning):
        jscale.fit(LAW, data, execution=jscale.Execution(solver=SOLVER), solver=SOLVER)
    with pytest.raises(TypeError, match="execution must be a jscale.Execution"):
        jscale.fit(LAW, data, execution={"n_devices": 1})
    with pytest.raises(TypeError, match=r"fit\(\) got an unexpected keyword argument 'n_device'"):
        jscale.fit(LAW, data, n_device=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'n_device'"):
        jscale.bootstrap(LAW, data, key=0, n_device=1)


def test_every_verb_that_fits_takes_it():
    import inspect

    for verb in (jscale.fit, jscale.fit_many, jscale.bootstrap, jscale.bootstrap_forms):
        parameter = inspect.signature(verb).parameters["execution"]
        assert parameter.default is None and parameter.kind is parameter.KEYWORD_ONLY
    assert repr(jscale.Execution(n_devices=1, chunk_size=8)) == "Execution(n_devices=1, chunk_size=8)"
    assert jscale.Execution().keywords() == dict.fromkeys(
        ("solver", "batching", "batch_size", "n_devices", "mesh", "chunk_size"))
