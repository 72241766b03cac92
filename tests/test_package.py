"""The package's shape: no import cycles between its modules, one folder per thing."""

from __future__ import annotations

import ast
import os

from conftest import ROOT

PACKAGE = os.path.join(ROOT, "gan_keras")


def module_imports() -> dict[str, set[str]]:
    """{module: the gan_keras modules it imports at module level} (imports inside functions are lazy)."""
    graph = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".").removesuffix(".__init__")
            tree = ast.parse(open(path).read())
            imported = set()
            for node in tree.body:
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gan_keras"):
                    for alias in node.names:  # "from gan_keras.models import dcgan" imports the submodule
                        submodule = os.path.join(ROOT, *f"{node.module}.{alias.name}".split("."))
                        is_module = os.path.isfile(submodule + ".py") or os.path.isdir(submodule)
                        imported.add(f"{node.module}.{alias.name}" if is_module else node.module)
                elif isinstance(node, ast.Import):
                    imported |= {alias.name for alias in node.names if alias.name.startswith("gan_keras")}
            graph[module] = imported
    return graph


def test_no_module_level_import_cycle():
    graph = module_imports()
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(target):] + [target]))
            if target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_one_name_per_thing():
    assert not os.path.exists(os.path.join(PACKAGE, "evaluation"))  # scoring/ holds what scores; evaluate.py runs it
    assert os.path.isdir(os.path.join(PACKAGE, "scoring")) and os.path.isfile(os.path.join(PACKAGE, "evaluate.py"))


def test_the_scripts_import_no_tensorflow_before_their_signal_handlers():
    """train.py installs its SIGTERM/SIGINT handlers before TensorFlow's slow import (gan_keras.training.loop
    imports it only inside functions), so a signal during start-up stops cleanly (tests/test_run_life.py)."""
    import subprocess
    import sys

    probe = ("import sys, train, gan_keras.training.loop\n"
             "print(sorted(name for name in ('tensorflow', 'keras') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"
