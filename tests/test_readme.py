"""Every Python block of README.md runs as written.

Each block runs on its own, in a fresh namespace that holds what the README's text says a reader
has at that point: `jscale`, `np`, `jax`, the bundled Chinchilla data with a (quick) fit and
bootstrap of it, and the README's visible placeholders (`runs.csv`, `N`, `C`, `L`, `df`,
`data_a` ...). A block that defines a name uses its own. The blocks that fit Hoffmann's full
grid or draw thousands of resamples are marked slow.
"""

import re
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import jscale

README = Path(__file__).resolve().parents[1] / "README.md"
# Blocks that fit Hoffmann's full 4,500-start grid, draw thousands of resamples or solve many
# allocations (10-35 s each), found by what they call.
SLOW = ("jscale.fit(jscale.laws.Chinchilla(), data)", "jscale.fit(law, data)", "compute_optimal(result",
        "jscale.backtest(", "gadre2024", "suggest_runs(",
        "jscale.bootstrap_forms([")


def blocks() -> list[str]:
    """The README's ```python blocks, dedented (some sit inside list items)."""
    return [textwrap.dedent(b) for b in re.findall(r"^ *```python\n(.*?)^ *```", README.read_text(), flags=re.S | re.M)]


def _params():
    out = []
    for k, code in enumerate(blocks()):
        marks = [pytest.mark.slow] if any(s in code for s in SLOW) else []
        out.append(pytest.param(code, id=f"block{k + 1}", marks=marks))
    return out


@pytest.fixture(scope="module")
def namespace(tmp_path_factory):
    """What a reader has before a block: the data, a fit and a bootstrap, and the placeholders."""
    import jax

    folder = tmp_path_factory.mktemp("readme")
    law, data = jscale.laws.Chinchilla(), jscale.datasets.load("chinchilla")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        result = jscale.fit(law, data, starts=law.default_starts()[::50])
        boot = jscale.bootstrap(law, data, n_resamples=40, key=0, full_fit=result)
    rows = "".join(f"{n!r},{d!r},{loss!r}\n" for n, d, loss in zip(data.n_params.tolist(), data.n_tokens.tolist(),
                                                                   data.loss.tolist()))
    (folder / "runs.csv").write_text("params,tokens,loss\n" + rows)
    jscale.save(boot, folder / "chinchilla.jscale")
    thirds = [data.subset(np.arange(len(data)) % 3 == k) for k in range(3)]
    names = dict(jscale=jscale, np=np, jax=jax, law=law, data=data, result=result, boot=boot,
                 N=np.asarray(data.n_params), C=np.asarray(data.compute), L=np.asarray(data.loss),
                 data_a=thirds[0], data_b=thirds[1], data_c=thirds[2], my_law=law, folder=folder)
    try:
        import pandas as pd

        names["df"] = pd.DataFrame({"model_size": data.n_params, "tokens": data.n_tokens, "loss": data.loss})
    except ImportError:
        pass
    jscale.save(result, folder / "mine.jscale")
    return names


@pytest.mark.parametrize("code", _params())
def test_readme_block_runs(code, namespace, monkeypatch):
    from helpers import shared_data_dir

    if "jax.distributed.initialize" in code:
        pytest.skip("needs several processes on several hosts; tests/engine/test_devices.py runs two on localhost")
    if "gadre2024_downstream" in code:
        root = shared_data_dir()
        if root is None or not (root / "gadre2024_downstream").exists():
            pytest.skip("shared/data/gadre2024_downstream is not present")
        monkeypatch.setenv("JSCALE_SHARED_DATA", str(root))
    if "df" in code and "df" not in namespace:
        pytest.skip("pandas is not installed")
    monkeypatch.chdir(namespace["folder"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        exec(compile(code, str(README), "exec"), dict(namespace))
