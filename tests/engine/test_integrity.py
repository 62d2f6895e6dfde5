"""Result files under attack: checksums, semantic checks, file kinds, temporaries (issue 17).

The property tests flip bits in, and replace fields of, saved fits and bootstraps: a file either
raises `ValueError` or loads to exactly the numbers that were saved.
"""

import os
import stat
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from flax import serialization
from helpers import noisy_chinchilla

import jscale
from jscale.io import _io

# Files rewritten in format 2 (no checksum) load with a warning that says so; here they are the point.
pytestmark = pytest.mark.filterwarnings("ignore:.*which has no checksum:UserWarning")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """(fit, bootstrap) and their files' bytes."""
    data = noisy_chinchilla(n=5, sigma=0.01, seed=3)
    law = jscale.laws.Chinchilla()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        fit = jscale.fit(law, data, starts=law.default_starts()[::150])
        boot = jscale.bootstrap(law, data, n_resamples=6, key=2, full_fit=fit, starts="optimum")
    folder = tmp_path_factory.mktemp("saved")
    return {"fit": (fit, jscale.save(fit, folder / "fit.jscale").read_bytes()),
            "bootstrap": (boot, jscale.save(boot, folder / "boot.jscale").read_bytes())}


def _numbers(result) -> dict:
    """Every number a user reads off a result."""
    fit = result.fit if isinstance(result, jscale.results.BootstrapResult) else result
    out = {"params": np.array(list(fit.params.values())), "best": np.array([fit.best_index]),
           "objectives": np.asarray(fit.objectives), "end": np.asarray(fit.end_params),
           "status": np.asarray(fit.status), "steps": np.asarray(fit.n_steps), "starts": np.asarray(fit.starts),
           "floor": np.array([fit.objective_floor]), "rows": np.array([fit.n_rows])}
    if isinstance(result, jscale.results.BootstrapResult):
        out.update(draws=np.asarray(result.free_draws), bstatus=np.asarray(result.status),
                   all=np.asarray(result.end_params), jack=np.asarray(result.jackknife_params),
                   counts=result.resample_counts(0))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out["se"] = np.asarray(result.interval("alpha"))
    return out


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(x.shape == b[k].shape and np.array_equal(x, b[k], equal_nan=True)
                                        for k, x in a.items())


def _flip_cases(saved, tmp_path, n_cases, seed):
    rng = np.random.default_rng(seed)
    rejected = loaded_same = 0
    for i in range(n_cases):
        kind = ("fit", "bootstrap")[i % 2]
        result, raw = saved[kind]
        damaged = bytearray(raw)
        for _ in range(1 + rng.integers(3)):  # one to three flipped bits
            pos = int(rng.integers(len(damaged)))
            damaged[pos] ^= 1 << int(rng.integers(8))
        path = tmp_path / f"{kind}-{i}.jscale"
        path.write_bytes(bytes(damaged))
        try:
            back = jscale.load(path)
        except ValueError:
            rejected += 1
            continue
        assert _same(_numbers(back), _numbers(result)), f"case {i} ({kind}) loaded to different numbers"
        loaded_same += 1
    return rejected, loaded_same


def test_flipped_bits_never_load_to_other_numbers(saved, tmp_path):
    rejected, same = _flip_cases(saved, tmp_path, 2000, seed=0)
    assert rejected + same == 2000 and rejected >= 1900  # a flip in the header's version text may load


@pytest.mark.slow
def test_flipped_bits_never_load_to_other_numbers_many(saved, tmp_path):
    rejected, same = _flip_cases(saved, tmp_path, 20_000, seed=1)
    assert rejected + same == 20_000


def _parts(raw):
    outer = serialization.msgpack_restore(raw)
    return outer, serialization.msgpack_restore(outer["body"])


def _rewrite(raw, mutate, *, checksum=True) -> bytes:
    """The file with `mutate(inner)` applied to its content; the checksum updated or left stale."""
    outer, inner = _parts(raw)
    mutate(inner)
    body = serialization.msgpack_serialize(inner)
    digest = _io.hashlib.sha256(body).hexdigest() if checksum else outer["sha256"]
    return serialization.msgpack_serialize({**outer, "sha256": digest, "body": body})


def _version2(raw, mutate) -> bytes:
    """The content as a format-2 file (no checksum), `mutate` applied."""
    _, inner = _parts(raw)
    mutate(inner)
    inner["meta"]["version"] = 2
    return serialization.msgpack_serialize(inner)


def _set(*keys, value):
    def mutate(inner):
        node = inner
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value(node[keys[-1]]) if callable(value) else value
    return mutate


def _nan_at(index):
    def change(a):
        a = np.array(a)
        a[index] = np.nan
        return a
    return change


# Replaced fields that a container cannot hold: each must be refused, checksum or not.
FIT_FIELDS = {
    "best index -1": (("meta", "static", "best_index"), -1),
    "best index 2.7": (("meta", "static", "best_index"), 2.7),
    "best index past the starts": (("meta", "static", "best_index"), 10**6),
    "best index of a worse start": (("meta", "static", "best_index"), "worse"),
    "NaN best parameters": (("state", "end_params"), "nan-best"),
    "NaN objectives": (("state", "objectives"), lambda a: np.full_like(a, np.nan)),
    "status 7": (("state", "status"), lambda a: np.full_like(a, 7)),
    "end_params of the wrong width": (("state", "end_params"), lambda a: np.asarray(a)[:, :3]),
    "starts of another length": (("state", "starts"), lambda a: np.asarray(a)[:2]),
    "negative rows": (("meta", "static", "n_rows"), -5),
    "a law of 10^8 breaks": (("meta", "static", "law"), {"__law__": {"class": "BrokenPowerLaw",
                                                                     "fields": {"n_breaks": 10**8,
                                                                                "column": "n_tokens"}}}),
    "an unknown law": (("meta", "static", "law"), {"__law__": {"class": "os.system"}}),
    "a law with a bad field": (("meta", "static", "law"), {"__law__": {"class": "Chinchilla",
                                                                      "fields": {"exploit": 1}}}),
    "infinite floor": (("meta", "static", "objective_floor"), float("inf")),
    "a deep tuple": (("meta", "static", "target"), "deep"),
    "text for an array": (("state", "objectives"), "1.0"),
}


def _resolve(result, keys, value):
    if value == "worse":
        return int(np.argmax(np.where(np.isfinite(result.objectives), result.objectives, -np.inf)))
    if value == "nan-best":
        return _nan_at(result.best_index)
    if value == "deep":
        deep = "loss"
        for _ in range(100_000):
            deep = {"__tuple__": [deep]}
        return deep
    return value


@pytest.mark.parametrize("name", list(FIT_FIELDS))
def test_replaced_fit_fields_are_refused(saved, tmp_path, name):
    fit, raw = saved["fit"]
    keys, value = FIT_FIELDS[name]
    if name == "a deep tuple":  # msgpack refuses to nest that deep when writing; craft a shallower one
        value = {"__tuple__": [{"__tuple__": [1.5]}]}
    mutate = _set(*keys, value=_resolve(fit, keys, value))
    for k, content in enumerate((_rewrite(raw, mutate), _rewrite(raw, mutate, checksum=False),
                                 _version2(raw, mutate))):
        path = tmp_path / f"{k}.jscale"
        path.write_bytes(content)
        with pytest.raises(ValueError, match="damaged|not a jscale|unknown"):
            jscale.load(path)


BOOT_FIELDS = {
    "draws of the wrong width": (("state", "end_params"), lambda a: np.asarray(a)[..., :2]),
    "objectives of fewer resamples": (("state", "objectives"), lambda a: np.asarray(a)[:2]),
    "status 9": (("state", "start_status"), lambda a: np.full_like(a, 9)),
    "negative counts": (("state", "n_steps"), lambda a: -np.abs(np.asarray(a)) - 1),
    "no key and no counts": (("state",), lambda s: {k: v for k, v in s.items() if k != "key"}),
    "the fit's best index out of range": (("meta", "static", "fit", "static", "best_index"), 99),
    "jackknife status of another length": (("state", "jackknife_status"), lambda a: np.asarray(a)[:1]),
}


@pytest.mark.parametrize("name", list(BOOT_FIELDS))
def test_replaced_bootstrap_fields_are_refused(saved, tmp_path, name):
    _, raw = saved["bootstrap"]
    keys, value = BOOT_FIELDS[name]
    if keys == ("state",):
        def mutate(inner):
            inner["state"] = value(inner["state"])
    else:
        mutate = _set(*keys, value=value)
    for k, content in enumerate((_rewrite(raw, mutate), _version2(raw, mutate))):
        path = tmp_path / f"{k}.jscale"
        path.write_bytes(content)
        with pytest.raises(ValueError, match="damaged"):
            jscale.load(path)


def test_a_valid_rewrite_still_loads(saved, tmp_path):
    """The checks refuse what is wrong, not what is unusual: a re-encoded file and a format-2
    file of the same content load to the same numbers."""
    for kind in ("fit", "bootstrap"):
        result, raw = saved[kind]
        for k, content in enumerate((_rewrite(raw, lambda inner: None), _version2(raw, lambda inner: None))):
            path = tmp_path / f"{kind}{k}.jscale"
            path.write_bytes(content)
            assert _same(_numbers(jscale.load(path)), _numbers(result))


def test_stale_checksum_names_the_problem(saved, tmp_path):
    _, raw = saved["fit"]
    path = tmp_path / "edited.jscale"
    path.write_bytes(_rewrite(raw, _set("meta", "static", "n_rows", value=241), checksum=False))
    with pytest.raises(ValueError, match="does not match its SHA-256 checksum"):
        jscale.load(path)


def test_load_opens_only_regular_files(tmp_path):
    with pytest.raises(ValueError, match="directory"):
        jscale.load(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="not a regular file"):
        jscale.load(fifo)  # no writer: opening it for reading must not block
    assert time.perf_counter() - start < 5
    if os.path.exists("/dev/zero"):
        with pytest.raises(ValueError, match="not a regular file"):
            jscale.load("/dev/zero")


def test_load_refuses_files_over_its_limit(saved, tmp_path):
    _, raw = saved["fit"]
    path = tmp_path / "fit.jscale"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=r"more than the 100 that load reads; pass max_bytes="):
        jscale.load(path, max_bytes=100)
    assert jscale.load(path, max_bytes=len(raw)).n_rows > 0


def test_save_refuses_devices_fifos_and_directories(saved, tmp_path):
    fit, _ = saved["fit"]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="not a regular file"):
        jscale.save(fit, fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    if os.path.exists("/dev/null"):
        with pytest.raises(ValueError, match="not a regular file"):
            jscale.save(fit, "/dev/null")
    with pytest.raises(ValueError, match="is a directory"):
        jscale.save(fit, tmp_path)


def test_save_through_a_symlink_replaces_its_target(saved, tmp_path):
    fit, _ = saved["fit"]
    target = tmp_path / "real.jscale"
    target.write_bytes(b"old")
    link = tmp_path / "link.jscale"
    link.symlink_to(target)
    jscale.save(fit, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert jscale.load(target).best_index == fit.best_index


def test_save_keeps_an_existing_files_permissions(saved, tmp_path):
    fit, _ = saved["fit"]
    path = tmp_path / "private.jscale"
    path.write_bytes(b"")
    os.chmod(path, 0o600)
    jscale.save(fit, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    fresh = jscale.save(fit, tmp_path / "new.jscale")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o666 & ~umask


def test_save_removes_temporaries_of_killed_saves(saved, tmp_path):
    fit, _ = saved["fit"]
    path = tmp_path / "fit.jscale"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    pid = int(dead.stdout)
    prefix = f".fit.jscale{_io._TMP_TAG}{_io._host_tag()}-"
    stale = tmp_path / f"{prefix}{pid}-abc123"
    live = tmp_path / f"{prefix}{os.getpid()}-def456"  # a save in progress (this process)
    other = tmp_path / ".other.jscale.jscale-tmp-x"
    for p in (stale, live, other):
        p.write_bytes(b"x" * 100)
    jscale.save(fit, path)
    assert not stale.exists() and live.exists() and other.exists()


def test_save_killed_mid_write_leaves_old_file_and_next_save_cleans_up(saved, tmp_path):
    """SIGKILL while writing: the old file stays whole; the next save removes the temporary."""
    fit, raw = saved["fit"]
    path = tmp_path / "fit.jscale"
    path.write_bytes(raw)
    script = (
        "import os, sys, jscale, jscale.io._io as io\n"
        "real = os.fsync\n"
        "def stop(fd):\n"
        "    os.kill(os.getpid(), 9)\n"
        "io.os.fsync = stop\n"
        f"jscale.save(jscale.load({str(path)!r}), {str(path)!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9
    assert len([p for p in tmp_path.iterdir() if _io._TMP_TAG in p.name]) == 1  # the killed save's temporary
    assert _same(_numbers(jscale.load(path)), _numbers(fit))
    jscale.save(fit, path)
    assert [p.name for p in tmp_path.iterdir()] == ["fit.jscale"]


def test_broken_power_law_breaks_are_bounded():
    with pytest.raises(ValueError, match="from 1 to 32"):
        jscale.laws.BrokenPowerLaw(n_breaks=10**8)
