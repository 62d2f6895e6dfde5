"""Many devices and many hosts: results do not depend on how the fits are split.

Every fit's trajectory is independent of the batch width it runs at (the kernel's sums are
written in a fixed order, see `jscale.base._numerics.pairwise_sum`), so splitting fits over 8
devices, chunking a bootstrap differently or spreading it over two processes gives the same
bits as one device.
"""

import os
import socket
import subprocess
import sys
import textwrap
import warnings

import jax
import numpy as np
import pytest
from helpers import run_on_cpu_devices

import jscale

LAW = jscale.laws.Chinchilla()


_EIGHT = """
import warnings, numpy as np, jax, jscale
assert jax.local_device_count() == 8
warnings.simplefilter("ignore")
law = jscale.laws.Chinchilla()
data = jscale.datasets.load("chinchilla")
starts = law.default_starts()[::113]  # 40 starts: 5 per device
same = lambda a, b: all(np.array_equal(getattr(a, k), getattr(b, k))
                        for k in ("end_params", "objectives", "status", "n_steps"))
"""


def test_eight_devices_give_the_same_bits_as_one():
    run_on_cpu_devices(
        _EIGHT + """
one = jscale.fit(law, data, starts=starts)
# Several datasets in one call.
parts = [data.subset(np.arange(len(data)) % 3 != k) for k in range(3)]
for a, b in zip(jscale.fit_many(law, parts, starts=starts, n_devices=1), jscale.fit_many(law, parts, starts=starts)):
    assert same(a, b)
# A bootstrap on one device and on eight.
kw = dict(n_resamples=13, key=5, full_fit=one, jackknife=False)
ref = jscale.bootstrap(law, data, n_devices=1, **kw)
eight = jscale.bootstrap(law, data, **kw)
for k in ("end_params", "objectives", "start_status", "n_steps"):
    assert np.array_equal(getattr(ref, k), getattr(eight, k)), k
print("ok")
""",
        8,
    )


@pytest.mark.slow  # more compilations in a subprocess; the default run covers method="refill"
def test_eight_devices_give_the_same_bits_as_one_with_every_method():
    run_on_cpu_devices(
        _EIGHT + """
for method in ("map", "vmap"):
    assert same(jscale.fit(law, data, starts=starts, batching=method, n_devices=1),
                jscale.fit(law, data, starts=starts, batching=method)), method
# One start on eight devices: seven pad it.
assert same(jscale.fit(law, data, starts=starts[:1], n_devices=1), jscale.fit(law, data, starts=starts[:1]))
print("ok")
""",
        8,
    )


_WORKER = """
import sys, warnings, numpy as np, jax
process, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2, process_id=process)
import jscale
warnings.simplefilter("ignore")
assert jax.process_count() == 2 and jax.device_count() == 2 and jax.local_device_count() == 1
law = jscale.laws.Chinchilla()
data = jscale.datasets.load("chinchilla")
mesh = jax.make_mesh((jax.device_count(),), ("fits",))
fit = jscale.fit(law, data, starts=law.default_starts()[::113], mesh=mesh)
boot = jscale.bootstrap(law, data, n_resamples=9, key=5, full_fit=fit, mesh=mesh, jackknife=False)
np.savez(out, fit=fit.end_params, draws=boot.end_params, objectives=boot.objectives)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_split_one_bootstrap(tmp_path):
    """Two processes on localhost (CPU collectives over gloo) split one fit and one bootstrap
    with `jax.distributed.initialize`; each gathers the same result as one process alone."""
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    env["JAX_PLATFORMS"] = "cpu"
    port = _free_port()
    outs = [tmp_path / f"process{k}.npz" for k in range(2)]
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(_WORKER), str(k), str(port), str(outs[k])],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(2)
    ]
    try:
        results = [p.communicate(timeout=240) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = jscale.datasets.load("chinchilla")
        fit = jscale.fit(LAW, data, starts=LAW.default_starts()[::113], execution=jscale.Execution(n_devices=1))
        boot = jscale.bootstrap(LAW, data, n_resamples=9, key=5, full_fit=fit,
                                execution=jscale.Execution(n_devices=1), jackknife=False)
    for out in outs:
        got = np.load(out)
        np.testing.assert_array_equal(got["fit"], fit.end_params)
        np.testing.assert_array_equal(got["draws"], boot.end_params)
        np.testing.assert_array_equal(got["objectives"], boot.objectives)


def test_mesh_argument_is_checked():
    data = jscale.datasets.load("chinchilla")
    mesh = jax.make_mesh((1,), ("fits",))
    with pytest.raises(ValueError, match="either n_devices .* or mesh"):
        jscale.fit(LAW, data, execution=jscale.Execution(n_devices=1, mesh=mesh))
    with pytest.raises(TypeError, match="mesh must be a jax.sharding.Mesh"):
        jscale.bootstrap(LAW, data, key=0, execution=jscale.Execution(mesh=jax.devices()))


def test_memory_budget_splits_calls_without_changing_results(monkeypatch):
    from jscale.engine import _batch
    from jscale.engine._batch import memory_budget, problems_per_call

    data = jscale.datasets.load("chinchilla")
    starts = LAW.default_starts()[::450]
    parts = [data.subset(np.arange(len(data)) % 4 != k) for k in range(4)]
    calls = []
    monkeypatch.setattr(_batch, "_fit_batched", _counting(_batch._fit_batched, calls))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = jscale.fit(LAW, data, starts=starts)
        kw = dict(n_resamples=10, key=1, full_fit=fit, jackknife=False)
        # Room for the solver slots and three resamples per call.
        budget = 256 * _batch.slot_bytes(240, 5) + 3 * 8 * (8 * 240 + 10 * 8)
        monkeypatch.setenv("JSCALE_MEMORY_BUDGET", str(budget))
        assert memory_budget() == budget and problems_per_call(10, 240, 5, n_slots=256) == 3
        boot = jscale.bootstrap(LAW, data, **kw)
        assert len(calls) == 4
        monkeypatch.delenv("JSCALE_MEMORY_BUDGET")
        ref = jscale.bootstrap(LAW, data,
                               execution=jscale.Execution(chunk_size=3), **kw)  # the same calls, asked for explicitly
        # Two datasets per call (of their rows padded to a bucket).
        rows = _batch.row_bucket(len(parts[0]))
        monkeypatch.setenv("JSCALE_MEMORY_BUDGET", str(256 * _batch.slot_bytes(rows, 5) + 2 * 8 * (8 * rows + 10 * 8)))
        calls.clear()
        many = jscale.fit_many(LAW, parts, starts=starts)
        assert len(calls) == 2
        monkeypatch.delenv("JSCALE_MEMORY_BUDGET")
        alone = jscale.fit_many(LAW, parts[:2], starts=starts) + jscale.fit_many(LAW, parts[2:], starts=starts)
    for k in ("end_params", "objectives", "start_status", "n_steps"):
        np.testing.assert_array_equal(getattr(boot, k), getattr(ref, k))
    for a, b in zip(many, alone):
        np.testing.assert_array_equal(a.end_params, b.end_params)
        np.testing.assert_array_equal(a.objectives, b.objectives)


def _counting(fn, calls):
    def wrapped(*args, **kwargs):
        calls.append(1)
        return fn(*args, **kwargs)

    return wrapped


@pytest.mark.parametrize("value", ["lots", "-5", "0"])
def test_memory_budget_variable_is_checked(monkeypatch, value):
    from jscale.engine._batch import memory_budget

    monkeypatch.setenv("JSCALE_MEMORY_BUDGET", value)
    with pytest.raises(ValueError, match="JSCALE_MEMORY_BUDGET must be a"):
        memory_budget()
