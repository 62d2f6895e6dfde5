"""The first compilation inside a jscale call says so once on stderr; user JAX code stays silent."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp

from jscale.base import _notice
from jscale.base._notice import MESSAGE

SCRIPT = """
import jscale
data = jscale.ScalingData.from_arrays(n_params=[1e8, 2e8, 4e8, 8e8], loss=[3.0, 2.8, 2.65, 2.55])
law = jscale.laws.PowerLaw("n_params")
jscale.fit(law, data, starts=law.default_starts()[:2])
jscale.fit(law, data.subset([0, 1, 2]), starts=law.default_starts()[:2])
print("fits done", flush=True)
"""


def test_first_compilation_of_a_process_is_announced_once():
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JSCALE_QUIET": ""}
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", SCRIPT], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count(MESSAGE) == 1
    assert "fits done" in out.stdout and MESSAGE not in out.stdout


def test_only_jscale_calls_speak_and_jscale_quiet_silences(monkeypatch, capsys):
    monkeypatch.setitem(_notice._state, "said", False)
    monkeypatch.setenv("JSCALE_QUIET", "")
    with _notice.inside_call():  # registers the listener
        pass
    jax.jit(lambda x: x * 3.5 + 1)(jnp.ones(7)).block_until_ready()  # the user's own program
    assert not _notice._state["said"] and MESSAGE not in capsys.readouterr().err
    monkeypatch.setenv("JSCALE_QUIET", "1")
    with _notice.inside_call():
        jax.jit(lambda x: x * 4.5 - 1)(jnp.ones(9)).block_until_ready()
    assert _notice._state["said"] and MESSAGE not in capsys.readouterr().err
    monkeypatch.setitem(_notice._state, "said", False)
    monkeypatch.setenv("JSCALE_QUIET", "0")
    with _notice.inside_call():
        jax.jit(lambda x: x * 5.5 - 2)(jnp.ones(11)).block_until_ready()
    assert capsys.readouterr().err.count(MESSAGE) == 1
