"""The package's shape: imports run one way, no cycles, small modules, one registry of problems.

The import graph is read from the source with ``ast`` (every ``import`` and ``from ... import``,
at module level or inside functions), so a lazy import counts as much as a top-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sgdlab"

def _problem_packages() -> set[str]:
    """The packages of the built-in problems, from the registry (``sgdlab.X.config:...``)."""
    from sgdlab import problems

    return {entry.config.split(".")[1] for entry in problems.REGISTRY.values()}


PROBLEM_PACKAGES = _problem_packages()
SHARED_LAYERS = {"core", "optim", "sweep", "theory", "distributed"}  # shared machinery: never imports a problem
MAX_LINES = 320


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of every sgdlab module that ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sgdlab"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("sgdlab"):
                continue
            found.add(module)
            for alias in node.names:  # `from . import run` imports the submodule sgdlab.x.run
                candidate = SRC.parent.joinpath(*f"{module}.{alias.name}".split("."))
                if candidate.with_suffix(".py").exists() or candidate.is_dir():
                    found.add(f"{module}.{alias.name}")
    return found


def _unit(module: str) -> str:
    """The layer a module belongs to: its first-level subpackage, or the top-level module itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "sgdlab"


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        source = _unit(_module_name(path))
        targets = {_unit(m) for m in _imports(path)} - {source, "sgdlab"}
        graph.setdefault(source, set()).update(targets)
    return graph


def test_shared_layers_never_import_a_problem_package():
    offenders = []
    for path in SRC.rglob("*.py"):
        if _unit(_module_name(path)) not in SHARED_LAYERS:
            continue
        bad = sorted(m for m in _imports(path) if _unit(m) in PROBLEM_PACKAGES)
        if bad:
            offenders.append(f"{path.relative_to(SRC)} imports {', '.join(bad)}")
    assert not offenders, offenders


def test_no_import_cycle_between_subpackages():
    graph = _graph()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, [" -> ".join(c) for c in cycles]


def test_the_cycle_check_would_see_a_cycle():
    """The graph reader is not blind: problems import core, and core imports no problem."""
    graph = _graph()
    assert "core" in graph["linreg"] and "sweep" in graph["mnist"]
    assert not graph["core"] & PROBLEM_PACKAGES


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_modules_stay_small(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(SRC)} has {lines} lines; split it by concept"


def test_every_registered_problem_resolves():
    from sgdlab import problems

    for name in problems.names():
        entry = problems.get(name)
        config_class = entry.config_class()
        assert config_class.problem == name
        assert callable(entry.run_function())
        adapter = entry.sweep_adapter()
        assert adapter.name == name
        if adapter.vectorizable:
            assert callable(adapter.group_key) and callable(adapter.compute_group) and callable(adapter.compute_cell)


def test_train_refuses_a_foreign_config():
    from sgdlab import train

    class NotAConfig:
        problem = "linreg"

    with pytest.raises(TypeError, match="does not know configs of type NotAConfig"):
        train(NotAConfig(), record=False)


def test_unknown_problem_is_a_config_error():
    from sgdlab import ConfigError, problems

    with pytest.raises(ConfigError, match="unknown problem 'nope'; choose one of: linreg, mnist, surface"):
        problems.get("nope")


# Shared code names no problem: which problem does what comes from the registry (and the config
# dataclasses), so adding a problem changes nothing here.
NAMELESS = ("core", "optim", "sweep", "theory", "cli", "serve", "api.py", "report.py", "lrfind.py")


def _registered_names() -> tuple[set[str], set[str]]:
    """The problems' names, and the config field names (and sweep flag aliases) of every
    registered config: a string equal to one of these names a field, not a problem (the
    surface problem's config has a field ``surface`` for `sgdlab sweep surface --surface`)."""
    import dataclasses

    from sgdlab import problems

    names, fields = set(problems.names()), set()
    for name in names:
        cls = problems.get(name).config_class()
        fields |= {f.name for f in dataclasses.fields(cls)} | set(getattr(cls, "sweep_aliases", {}))
    return names, fields


def _string_literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_shared_code_names_no_problem():
    names, fields = _registered_names()
    assert len(names) >= 3  # derived from the registry, so it cannot silently be empty
    offenders = []
    for part in NAMELESS:
        for path in sorted([SRC / part] if part.endswith(".py") else (SRC / part).rglob("*.py")):
            offenders += [f"{path.relative_to(SRC)}:{line} names problem {text!r}"
                          for line, text in _string_literals(path) if text in names - fields]
    assert not offenders, offenders


def test_the_name_check_would_see_a_name(tmp_path):
    """The literal reader is not blind: a problem's own package names itself."""
    names, _ = _registered_names()
    found = {text for path in SRC.rglob("*.py") if _unit(_module_name(path)) in names
             for _, text in _string_literals(path)}
    assert names & found
