"""The shape of the package: rooms that import only downwards, small units, one warning hierarchy.

These are the structural promises of ../shared/STYLE.md made checkable: the import graph of
`jscale` (every import, lazy ones included) has no cycle; each room (subpackage) imports only the
rooms the table below allows, and never another room's private names; the command line uses
only public names; the result containers stay small and
no function grows past about 80 lines without saying why; every diagnostic of every entry point
is a `DiagnosticWarning` and is said once per call, never on property access; a new container
field with a default is saved and loaded without touching `_io`.
"""

import ast
import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest
from flax import struct
from helpers import noisy_chinchilla, subset_starts

import jscale
from jscale.io import _io

PACKAGE = Path(jscale.__file__).parent
LAW = jscale.laws.Chinchilla()


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set:
    """Every jscale module `path` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("jscale")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jscale"):
            for a in node.names:  # `from jscale import _fit` imports the module jscale.fitting._fit
                sub = f"{node.module}.{a.name}"
                found.add(sub if (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists() else node.module)
    return found


def _graph() -> dict:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {m for m in _imports(p) if m in modules and m != name} for name, p in modules.items()}


# The rooms, and the rooms each may import (besides itself). A room may use rooms below it, never
# one above or beside it: the table is the layering, read from the bottom up.
ALLOWED = {
    "base": set(),
    "data": {"base"},
    "losses": {"base"},
    "laws": {"base", "data"},
    "datasets": {"base", "data"},
    "engine": {"base", "data", "losses", "laws"},
    "inference": {"base", "data", "losses", "laws", "engine"},
    "fitting": {"base", "data", "losses", "laws", "engine", "inference"},
    "decisions": {"base", "data", "losses", "laws", "engine", "inference", "fitting"},
    "selection": {"base", "data", "losses", "laws", "engine", "inference", "fitting", "decisions"},
    "sweeps": {"base", "data", "losses", "laws", "engine", "inference", "fitting", "decisions"},
    "curves": {"base", "data", "losses", "laws", "engine", "inference", "fitting", "decisions"},
    "io": {"base", "data", "losses", "laws", "engine", "inference", "fitting", "decisions", "selection", "sweeps",
           "curves"},
    "plot": {"base", "data", "losses", "laws", "engine", "inference", "fitting", "decisions", "selection", "sweeps",
             "curves"},
}
# Public faces: the top-level namespace and its public modules. `cli` sits on top of them all and
# uses only what a user could (public names), plus the jscale-agnostic leaves of `base`.
FACES = {"jscale", "jscale.laws", "jscale.losses", "jscale.solvers", "jscale.warnings", "jscale.results",
         "jscale.datasets", "jscale.plot", "jscale.cli", "jscale.curves"}


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else module


def test_every_module_lives_in_a_room_or_is_a_public_face():
    stray = [m for m in _graph() if _room(m) not in ALLOWED and m not in FACES | {"jscale.__main__"}
             and not m.startswith("jscale.cli.")]
    assert not stray, f"modules outside the rooms: {stray}"


def test_rooms_import_only_the_rooms_below_them():
    wrong = []
    for module, imported in _graph().items():
        room = _room(module)
        if room not in ALLOWED:
            continue
        wrong += [f"{module} -> {t}" for t in imported if _room(t) != room and _room(t) not in ALLOWED[room]]
    assert not wrong, "imports against the room table:\n" + "\n".join(sorted(wrong))


def _private_crossings(path: Path, module: str) -> list:
    """`from jscale.<room>.<module> import _name`, or `alias._name`, reaching into another room."""
    room, found, aliases = _room(module), [], {}
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jscale"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                is_module = (PACKAGE.parent / (sub.replace(".", "/") + ".py")).exists()
                target = sub if is_module else node.module
                if _room(target) == room:
                    continue
                if is_module:
                    aliases[a.asname or a.name] = target
                elif a.name.startswith("_") and a.name != "__version__":
                    found.append(f"{module} imports {node.module}.{a.name}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"{module} uses {aliases[node.value.id]}.{node.attr}")
    return found


def test_no_room_reaches_for_another_rooms_private_names():
    found = [f for path in PACKAGE.rglob("*.py") for f in _private_crossings(path, _module_name(path))]
    assert not found, "\n".join(sorted(found))


def test_the_command_line_uses_only_public_names():
    """What the command line needs, a user can reach too: no private module of a room (the
    jscale-agnostic leaves of `base`, such as JSON, progress lines and the version, excepted)."""
    graph = _graph()
    for face in ("jscale.cli", "jscale.cli._process"):
        inner = [m for m in graph[face] if m not in FACES and _room(m) != "base" and not m.startswith("jscale.cli")]
        assert not inner, f"{face} imports private modules {sorted(inner)}"


def test_no_import_cycle():
    graph = _graph()
    assert "jscale.fitting._fit" in graph and "jscale.engine._batch" in graph["jscale.fitting._fit"]
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_leaf_modules_import_no_jscale_module():
    graph = _graph()
    assert graph["jscale.base._warnings"] == set()
    assert graph["jscale.base._numerics"] == {"jscale.base._notice"}  # its float64 scope marks jscale's calls
    for leaf in ("jscale.base._status", "jscale.base._interval", "jscale.base._json", "jscale.base._notice"):
        assert graph[leaf] == set(), leaf


def test_the_optimum_kernel_knows_no_law_data_or_result():
    """`_optimum` solves any problem object: it imports only the leaves it needs."""
    assert _graph()["jscale.engine._optimum"] <= {"jscale.base._numerics", "jscale.base._status"}


def _class_lines(path: Path, name: str) -> int:
    (node,) = [n for n in ast.parse(path.read_text()).body if isinstance(n, ast.ClassDef) and n.name == name]
    return node.end_lineno - node.lineno + 1


def test_result_containers_are_small():
    results = PACKAGE / "inference" / "_results.py"
    assert _class_lines(results, "FitResult") <= 160  # 155, and deprecated aliases until 0.4.0
    assert _class_lines(results, "BootstrapResult") <= 160


def test_long_functions_say_why():
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node) or ""
                body = node.body[1:] if doc else node.body
                lines = body[-1].end_lineno - body[0].lineno + 1 if body else 0
                if lines > 80 and "Long because" not in doc:
                    long.append(f"{path.name}:{node.name} ({lines} lines)")
    assert not long, long


def test_every_diagnostic_class_is_a_diagnostic_warning():
    classes = [getattr(jscale.warnings, n) for n in jscale.warnings.__all__ if n.endswith("Warning")]
    assert len(classes) >= 12 and all(issubclass(c, jscale.warnings.DiagnosticWarning) for c in classes)
    assert issubclass(jscale.warnings.CorrelationWarning, jscale.warnings.IntervalWarning)


@pytest.fixture(scope="module")
def few_configurations():
    # 9 configurations for 5 parameters: configuration, correlation and (bootstrap) bound findings.
    base = noisy_chinchilla(n=3, sigma=0.01, seed=0)
    return base.subset(np.tile(np.arange(9), 3))


def test_one_filter_silences_every_entry_point(few_configurations):
    data = few_configurations
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # anything not silenced below fails the test
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        fit = jscale.fit(LAW, data, starts=subset_starts(), loss="squared")
        boot = jscale.bootstrap(LAW, data, n_resamples=4, key=0, starts="optimum", full_fit=fit, loss="squared",
                                jackknife=False)
        jscale.compute_optimal(fit, [1e25])  # beyond the data: an extrapolation finding
        jscale.compute_optimal(boot, [1e25])
        fit.predict(n_params=[1e12], n_tokens=[1e13])
        boot.predict_interval(n_params=[1e12], n_tokens=[1e13])
    assert fit.diagnostics() and boot.diagnostics()


def test_each_finding_once_per_call_and_never_from_properties(few_configurations):
    data = few_configurations
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = jscale.fit(LAW, data, starts=subset_starts(), loss="squared")
    kinds = [d.kind for d in fit.diagnostics()]
    assert len(caught) == len(kinds) and len(set(kinds)) == len(kinds) and "configurations" in kinds
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        boot = jscale.bootstrap(LAW, data, n_resamples=4, key=0, starts="optimum", full_fit=fit, loss="squared",
                                jackknife=False)
    assert [w.category for w in caught] == [d.category for d in boot.diagnostics()]
    assert all(issubclass(w.category, jscale.warnings.DiagnosticWarning) for w in caught)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for result in (fit, boot):
            assert result.se == result.se  # read twice: no warning at all
            result.cov, result.corr, result.summary(), result.to_dict()


def test_a_new_container_field_is_saved_without_touching_io(tmp_path, monkeypatch):
    class TaggedFit(jscale.results.FitResult):
        note: str = struct.field(pytree_node=False, default="")
        extra: np.ndarray | None = None

    data = noisy_chinchilla(n=4, sigma=0.01, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        fit = jscale.fit(LAW, data, starts=subset_starts()[:4])
    fields = {f.name: getattr(fit, f.name) for f in dataclasses.fields(fit)}
    tagged = TaggedFit(**fields, note="pilot", extra=np.arange(3.0))
    monkeypatch.setitem(_io.RESULTS, "TaggedFit", TaggedFit)
    loaded = jscale.load(jscale.save(tagged, tmp_path / "t.jscale"))
    assert type(loaded) is TaggedFit and loaded.note == "pilot"
    np.testing.assert_array_equal(loaded.extra, [0.0, 1.0, 2.0])
    assert loaded.params == fit.params and loaded.data_summary == fit.data_summary


def test_version_comes_from_the_package_metadata():
    from importlib import metadata

    assert jscale.__version__ == metadata.version("jscale")


def test_a_small_top_level_and_one_release_for_names_that_moved():
    """About 30 names at the top; the containers, warnings, solvers and losses in their namespaces.
    A name that left the top level still resolves, to the same object, with a DeprecationWarning
    naming its new place."""
    assert len(jscale.__all__) <= 33 and set(dir(jscale)) == set(jscale.__all__)
    for space in (jscale.results, jscale.warnings, jscale.solvers, jscale.losses, jscale.laws):
        assert all(hasattr(space, name) for name in space.__all__)
    for name, (space, new) in jscale._moved().items():
        with pytest.warns(DeprecationWarning, match=f"jscale.{name} moved to jscale.{space}.{new}"):
            old = getattr(jscale, name)
        if name != "STATUS":
            assert old is getattr(getattr(jscale, space), new)
    with pytest.raises(AttributeError, match="no attribute 'FitResults'"):
        jscale.FitResults


def test_test_folders_mirror_the_rooms():
    tests = Path(__file__).parent
    folders = {p.name for p in tests.iterdir() if p.is_dir() and any(p.glob("test_*.py"))}
    assert folders and folders <= set(ALLOWED) | {"cli"}, folders - set(ALLOWED)
