"""The README's Python blocks run as printed, in order, as one session, in an empty folder.

A new user copies the blocks into one Python session in a folder of their own: no `shared/`
beside it, no file the blocks do not write themselves. `test_readme_runs_as_one_session` does
exactly that, with every block as printed (no text substituted, none skipped except a block
that imports an optional extra, pandas or matplotlib, when that extra is missing). Its blocks
fit Hoffmann's full grid, draw thousands of resamples and compile some 240 programs (minutes
on a 2-core CPU), so it is marked slow. By default, `test_blocks_need_only_what_earlier_blocks_make`
checks the same session without running it: every name a block reads is made by an earlier block
(or by itself, before), every file it reads was written before, every `jscale` name it calls
exists and takes the arguments given.
"""

import ast
import builtins
import functools
import importlib
import inspect
import os
import re
import socket
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import jscale

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# Optional modules a block may import, and the extra (pyproject.toml) that installs each.
OPTIONAL = {"pandas": "pandas", "matplotlib": "plot"}
# Calls whose string arguments name a file they write; any other call's file arguments are read.
WRITERS = {"save", "savetxt", "savez", "to_csv", "write_text", "savefig"}
FILE = re.compile(r"^[^\s]+\.(csv|jscale|json|npz|png|txt)$")


class Block:
    """One ```python block: its code (dedented: some sit inside list items), the README line of
    its first line of code, and the optional module it imports, if any."""

    def __init__(self, number: int, line: int, code: str):
        self.number, self.line, self.code = number, line, code
        self.tree = ast.parse(code)
        ast.increment_lineno(self.tree, line - 1)  # tracebacks and messages name README lines
        imported = {a.name.split(".")[0] for n in self.tree.body if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in self.tree.body if isinstance(n, ast.ImportFrom) and n.module}
        self.optional = next((m for m in OPTIONAL if m in imported), None)

    def __repr__(self):
        return f"block {self.number} (README.md line {self.line})"


def blocks() -> list[Block]:
    text = README.read_text()
    found = re.finditer(r"^ *```python\n(.*?)^ *```", text, flags=re.S | re.M)
    return [Block(k + 1, text.count("\n", 0, m.start(1)) + 1, textwrap.dedent(m.group(1))) for k, m in enumerate(found)]


# --- the session, run -------------------------------------------------------------------------


@pytest.mark.slow  # 4 minutes of CPU (2 with JAX's compilation cache filled), most of it compiling
def test_readme_runs_as_one_session(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    with warnings.catch_warnings():
        # Diagnostics are what a reader sees printed; any other warning stays an error.
        warnings.simplefilter("ignore", jscale.warnings.DiagnosticWarning)
        for block in blocks():
            if block.optional:
                try:
                    importlib.import_module(block.optional)
                except ImportError:
                    continue  # test_blocks_need_only_what_earlier_blocks_make: no later block needs it
            try:
                exec(compile(block.tree, str(README), "exec"), namespace)
            except Exception as e:
                raise AssertionError(f"{block} fails as printed: {type(e).__name__}: {e}") from e


# --- the session, read ------------------------------------------------------------------------


class _Reads(ast.NodeVisitor):
    """The names a statement reads from the session (not those local to a function, lambda or
    comprehension inside it), and the names it binds there."""

    def __init__(self):
        self.local: list[set] = []
        self.reads: list[tuple[str, int]] = []
        self.binds: set[str] = set()

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            if not any(node.id in scope for scope in self.local):
                self.reads.append((node.id, node.lineno))
        elif not self.local:
            self.binds.add(node.id)

    def _scope(self, names, body):
        self.local.append(set(names))
        for node in body:
            self.visit(node)
        self.local.pop()

    @staticmethod
    def _args(args: ast.arguments):
        return [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg) if a]

    def visit_FunctionDef(self, node):
        for d in (*node.decorator_list, *node.args.defaults, *node.args.kw_defaults):
            if d is not None:
                self.visit(d)
        if not self.local:
            self.binds.add(node.name)
        stored = {n.id for s in node.body for n in ast.walk(s)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        self._scope({*self._args(node.args), *stored}, node.body)

    def visit_Lambda(self, node):
        for d in (*node.args.defaults, *node.args.kw_defaults):
            if d is not None:
                self.visit(d)
        self._scope(self._args(node.args), [node.body])

    def _comprehension(self, node, *parts):
        self.visit(node.generators[0].iter)
        targets = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        rest = [g.target for g in node.generators] + [node.generators[0].target]
        rest += [g.iter for g in node.generators[1:]] + [c for g in node.generators for c in g.ifs] + list(parts)
        self._scope(targets, rest)

    def visit_ListComp(self, node):
        self._comprehension(node, node.elt)

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node):
        self._comprehension(node, node.key, node.value)

    def visit_Import(self, node):
        for a in node.names:
            self.binds.add(a.asname or a.name.split(".")[0])

    def visit_ImportFrom(self, node):
        for a in node.names:
            self.binds.add(a.asname or a.name)


class _Instance:
    """A value the check knows only by its class (what calling a jscale class returns)."""

    def __init__(self, cls):
        self.cls = cls


def _resolve(node, roots, problems, where):
    """The jscale object an expression names (a module, class, function or an instance of a
    class), or None when it is not a jscale name or is only known at run time."""
    if isinstance(node, ast.Name):
        return roots.get(node.id)
    if isinstance(node, ast.Call):
        made = _resolve(node.func, roots, problems, where)
        return _Instance(made) if inspect.isclass(made) else None
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, roots, problems, where)
        if base is None:
            return None
        owner = base.cls if isinstance(base, _Instance) else base
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            try:
                value = getattr(owner, node.attr)
            except DeprecationWarning as w:
                problems.append(f"{where} line {node.lineno}: {w}")
                return None
            except AttributeError:
                # A module's names are all known; an instance's fields may be set at run time.
                if inspect.ismodule(owner):
                    problems.append(f"{where} line {node.lineno}: {owner.__name__} has no {node.attr!r}")
                return None
        if isinstance(base, _Instance) and inspect.isfunction(value):
            return functools.partial(value, None)  # a method: its signature less `self`
        return value
    return None


def _check_call(node, roots, problems, where):
    target = _resolve(node.func, roots, problems, where)
    if target is None or isinstance(target, _Instance) or not callable(target):
        return
    if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
        return
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return
    try:
        bound = signature.bind(*node.args, **{k.arg: k.value for k in node.keywords})
    except TypeError as e:
        problems.append(f"{where} line {node.lineno}: {ast.unparse(node.func)}(...): {e}")
        return
    # The verbs collect their retired keywords in `**legacy`: deprecated (or unknown) there.
    if bound.arguments.get("legacy") and signature.parameters["legacy"].kind is inspect.Parameter.VAR_KEYWORD:
        problems.append(f"{where} line {node.lineno}: {ast.unparse(node.func)}(...) takes "
                        f"{', '.join(bound.arguments['legacy'])} only as a retired keyword")


def _roots(statement) -> dict:
    """The jscale objects an import statement names, by the names it binds."""
    out = {}
    if isinstance(statement, ast.Import):
        for a in statement.names:
            if a.name.split(".")[0] == "jscale":
                out[a.asname or "jscale"] = importlib.import_module(a.name if a.asname else "jscale")
    elif isinstance(statement, ast.ImportFrom) and (statement.module or "").split(".")[0] == "jscale":
        module = importlib.import_module(statement.module)
        for a in statement.names:
            out[a.asname or a.name] = getattr(module, a.name, None) or importlib.import_module(f"{module}.{a.name}")
    return out


def problems_of(session: list[Block], text: list[str]) -> list[str]:
    """What would fail if the blocks ran in order as one session in an empty folder."""
    made, written, roots, problems = set(dir(builtins)), set(), {}, []
    for block in session:
        where = repr(block)
        if block.optional:
            extra = OPTIONAL[block.optional]
            if f"the `{extra}` extra" not in " ".join(text[max(0, block.line - 6):block.line - 1]):
                problems.append(f"{where} imports {block.optional}; the text just before it must say that it "
                                f"needs the `{extra}` extra")
        made_here, written_here = set(made), set(written)
        for statement in block.tree.body:
            reads = _Reads()
            reads.visit(statement)
            problems += [f"{where} line {line}: {name!r} is not made by this block or an earlier one"
                         for name, line in reads.reads if name not in made_here]
            made_here |= reads.binds
            for node in ast.walk(statement):
                roots.update(_roots(node))
            calls = sorted((n for n in ast.walk(statement) if isinstance(n, ast.Call)),
                           key=lambda n: (n.lineno, n.col_offset))
            for call in calls:
                _check_call(call, roots, problems, where)
                callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
                for arg in (*call.args, *(k.value for k in call.keywords)):
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        path = arg.value
                    elif isinstance(arg, ast.JoinedStr):  # an f-string: a path made at run time
                        path = "".join(v.value if isinstance(v, ast.Constant) else "{...}" for v in arg.values)
                    else:
                        continue
                    if not FILE.match(path):
                        continue
                    if callee in WRITERS and isinstance(arg, ast.Constant):
                        written_here.add(path)
                    elif path not in written_here:
                        problems.append(f"{where} line {call.lineno}: reads {path!r}, which no line before writes")
        if not block.optional:  # a later block may not rely on one that can be left out
            made, written = made_here, written_here
    return problems


def test_blocks_need_only_what_earlier_blocks_make():
    problems = problems_of(blocks(), README.read_text().splitlines())
    assert not problems, "README blocks that would fail as printed:\n" + "\n".join(problems)


def test_the_reading_finds_what_would_fail():
    """The reading above catches what it is there for: names, files, arguments, optional extras."""
    first = Block(1, 1, "import jscale\nfrom jscale.laws import custom\ndata = jscale.datasets.load('chinchilla')\n")
    second = Block(2, 10, textwrap.dedent("""\
        import pandas as pd
        data = jscale.ScalingData.from_csv("runs.csv")
        jscale.fit(law, data, n_resample=3)
        f = lambda p: [q for q in p if q > k]
        jscale.no_such_verb(custom)
        rows = [row for row in data]
        folder = "shared"
        jscale.ScalingData.from_csv(f"{folder}/runs.csv")
        jscale.fit(custom, data, n_devices=1)
        jscale.save(data, "mine.jscale")
        jscale.load("mine.jscale")
        """))
    problems = problems_of([first, second], [""] * 20)
    expected = ["imports pandas", "reads 'runs.csv'", "'law' is not made", "n_resample", "'k' is not made",
                "no 'no_such_verb'", "reads '{...}/runs.csv'", "n_devices only as a retired keyword"]
    assert len(problems) == len(expected) and all(e in p for e, p in zip(expected, problems)), problems


# --- the multi-host example the README shows as commands --------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two processes, each compiling its own programs (about a minute)
def test_multi_host_example_runs_on_two_local_processes(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("JAX_NUM_CPU_DEVICES", "XLA_FLAGS")}
    env["JAX_PLATFORMS"] = "cpu"
    port = _free_port()
    script = ROOT / "examples" / "multi_host.py"
    procs = [
        subprocess.Popen([sys.executable, str(script), "--coordinator", f"localhost:{port}", "--processes", "2",
                          "--process-id", str(k), "--resamples", "8", "--every", "113"],
                         cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for k in range(2)
    ]
    try:
        results = [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    assert "2 processes, 2 devices" in results[0][0] and "jscale bootstrap" in results[0][0]
    assert "jscale bootstrap" not in results[1][0]  # only process 0 prints the result
