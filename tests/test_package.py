"""The package's shape: no import cycle between its modules (lazy imports counted), one folder per thing."""

from __future__ import annotations

import ast
import os

import pytest

from conftest import ROOT

PACKAGE = os.path.join(ROOT, "gan_keras")


def module_imports(package: str = PACKAGE) -> dict[str, set[str]]:
    """{module: the gan_keras modules it imports}, counting every import statement, those inside functions too:
    a lazy import runs later, but a cycle through it is a cycle all the same."""
    root = os.path.dirname(package)
    graph = {}
    for folder, _, files in os.walk(package):
        for name in (name for name in files if name.endswith(".py")):
            path = os.path.join(folder, name)
            module = os.path.relpath(path, root)[:-3].replace(os.sep, ".").removesuffix(".__init__")
            imported = set()
            for node in ast.walk(ast.parse(open(path).read())):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gan_keras"):
                    for alias in node.names:  # "from gan_keras.models import dcgan" imports the submodule
                        submodule = os.path.join(root, *f"{node.module}.{alias.name}".split("."))
                        is_module = os.path.isfile(submodule + ".py") or os.path.isdir(submodule)
                        imported.add(f"{node.module}.{alias.name}" if is_module else node.module)
                elif isinstance(node, ast.Import):
                    imported |= {alias.name for alias in node.names if alias.name.startswith("gan_keras")}
            graph[module] = imported - {module}
    return graph


def import_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (a path that comes back to its first module), or None."""
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target, path + [target])):
                return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [module])):
            return cycle
    return None


def test_no_import_cycle_counting_imports_inside_functions():
    cycle = import_cycle(module_imports())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_test_finds_a_cycle_through_a_lazy_import(tmp_path):
    package = tmp_path / "gan_keras"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from gan_keras import b\n")
    (package / "b.py").write_text("def later():\n    from gan_keras.a import name\n")
    assert import_cycle(module_imports(str(package))) == ["gan_keras.a", "gan_keras.b", "gan_keras.a"]


def test_every_module_says_which_of_its_imports_are_lazy():
    """A module that imports inside a function says so, and what, in its docstring ("Lazy imports: ...")."""
    unsaid = []
    for folder, _, files in os.walk(PACKAGE):
        for name in (name for name in files if name.endswith(".py")):
            path = os.path.join(folder, name)
            tree = ast.parse(open(path).read())
            lazy = [node for function in ast.walk(tree) if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
                    for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom))]
            if lazy and "Lazy imports:" not in (ast.get_docstring(tree) or ""):
                unsaid.append(os.path.relpath(path, ROOT))
    assert not unsaid, f"modules with imports inside functions whose docstring has no 'Lazy imports:': {unsaid}"


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


def test_no_function_over_60_lines_and_no_class_over_200():
    oversized = []
    for folder, _, files in os.walk(PACKAGE):
        for name in (name for name in files if name.endswith(".py")):
            path = os.path.join(folder, name)
            for node in ast.walk(ast.parse(open(path).read())):
                limit = {ast.FunctionDef: 60, ast.ClassDef: 200}.get(type(node))
                if limit and node.end_lineno - node.lineno + 1 > limit:
                    oversized.append(f"{os.path.relpath(path, ROOT)}:{node.lineno} {node.name}")
    assert not oversized, oversized


def test_only_public_tensorflow_apis_in_the_package():
    """tensorflow.python.* and tf.compat.v1 change without notice between releases."""
    found = []
    for folder, _, files in os.walk(PACKAGE):
        for name in (name for name in files if name.endswith(".py")):
            path = os.path.join(folder, name)
            text = open(path).read()
            found += [f"{os.path.relpath(path, ROOT)}: {pattern}" for pattern in ("tensorflow.python", "tf.compat")
                      if pattern in text]
    assert not found, found


def test_the_private_keras_names_fused_adam_needs_are_there():
    """training/fused_adam.py hands Adam's own state to TensorFlow's fused kernel; Keras has no public way to
    find a variable's moments, so it reads three private names. Fail loudly, naming the version, if they go."""
    import keras

    optimizer = keras.optimizers.Adam()
    variable = keras.Variable([1.0, 2.0])
    optimizer.build([variable])
    missing = [name for name in ("_get_variable_index", "_momentums", "_velocities") if not hasattr(optimizer, name)]
    assert not missing, (f"Keras {keras.__version__}'s Adam no longer has {missing}: gan_keras/training/fused_adam.py "
                         f"must follow it (or train with Keras's own update: build_gan(fused_adam=False))")
    index = optimizer._get_variable_index(variable)
    assert optimizer._momentums[index].shape == variable.shape == optimizer._velocities[index].shape


@pytest.mark.slow
def test_onednn_detection_agrees_with_tensorflow():
    """runtime.onednn_enabled follows TensorFlow's rule instead of asking its private module; check the two agree
    here (the private name is only read by this test)."""
    import subprocess
    import sys

    probe = ("import gan_keras, importlib, tensorflow\n"
             "from gan_keras.runtime import onednn_enabled\n"
             "port = importlib.import_module('tensorflow.python.util._pywrap_util_port')\n"
             "print(onednn_enabled(), bool(port.IsMklEnabled()))")
    for setting in (None, "0", "1"):
        env = {key: value for key, value in os.environ.items() if key != "TF_ENABLE_ONEDNN_OPTS"}
        if setting is not None:
            env["TF_ENABLE_ONEDNN_OPTS"] = setting
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env,
                                timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        ours, tensorflows = result.stdout.split()[-2:]
        assert ours == tensorflows, f"TF_ENABLE_ONEDNN_OPTS={setting}: gan_keras says {ours}, TensorFlow {tensorflows}"


def test_the_session_has_a_home_of_its_own():
    """conftest gives the tests (and every process they start) an empty home: the user's caches stay theirs."""
    import subprocess
    import sys

    from conftest import USER_HOME

    home = subprocess.run([sys.executable, "-c", "import os; print(os.path.expanduser('~'))"], capture_output=True,
                          text=True, timeout=60).stdout.strip()
    assert home == os.environ["HOME"] != USER_HOME and "gan_keras_test_home_" in home
