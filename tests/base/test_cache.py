"""The persistent compilation cache: a second process reads the programs the first compiled."""

import json
import os
import subprocess
import sys
import textwrap

import jscale

CHILD = textwrap.dedent("""
    import json, sys, warnings
    import jax
    events = {"hits": 0, "misses": 0}

    def listen(name, **kwargs):
        if name == "/jax/compilation_cache/cache_hits":
            events["hits"] += 1
        elif name == "/jax/compilation_cache/cache_misses":
            events["misses"] += 1

    jax.monitoring.register_event_listener(listen)
    import jscale

    folder = jscale.enable_compilation_cache(sys.argv[1])
    data = jscale.ScalingData.from_arrays(n_params=[1e8, 2e8, 4e8, 1e9, 2e9, 4e9, 1e8, 1e9],
                                          n_tokens=[2e9, 4e9, 8e9, 2e10, 4e10, 8e10, 8e9, 4e9],
                                          loss=[3.3, 3.1, 2.9, 2.7, 2.6, 2.5, 3.0, 2.8])
    law = jscale.laws.Chinchilla()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = jscale.fit(law, data, starts=law.default_starts()[::900], loss="squared")
    print(json.dumps({**events, "folder": str(folder), "objective": result.objective}))
""")


def _run(folder):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_reuses_the_compiled_programs(tmp_path):
    folder = tmp_path / "xla"
    first = _run(folder)
    assert first["folder"] == str(folder) and first["misses"] > 0 and first["hits"] == 0
    assert any(folder.iterdir())  # the fit's programs were written
    second = _run(folder)
    # Every program the fit needs comes from the cache, none is compiled again.
    assert second["hits"] >= 1 and second["misses"] == 0, second
    assert second["objective"] == first["objective"]


def test_importing_jscale_leaves_the_cache_setting_alone():
    # in a fresh process: in this one, another test may have switched the cache on
    code = "import jax, jscale; print(repr(jax.config.jax_compilation_cache_dir))"
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() in ("None", "''"), out.stdout + out.stderr
    assert callable(jscale.enable_compilation_cache) and jscale.default_cache_dir().name == "xla"


def test_default_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("JSCALE_CACHE_DIR", str(tmp_path / "here"))
    assert jscale.default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("JSCALE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert jscale.default_cache_dir() == tmp_path / "xdg" / "jscale" / "xla"
