"""The README stays the user's: short, every module of the package named, every picture present, the test
commands the ones CI runs, and the docs written as the software is now, not as a diary."""

import ast
import os
import re

from conftest import ROOT

README = os.path.join(ROOT, "README.md")
DOCS = os.path.join(ROOT, "docs")
DIARY = re.compile(r"\b(at last|back on the|earlier session|this session|next session)\b", re.IGNORECASE)


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def only_a_docstring(path):
    body = ast.parse(read(path)).body
    return len(body) <= 1 and all(isinstance(node, ast.Expr) for node in body)


def documents():
    return [README] + [os.path.join(DOCS, name) for name in sorted(os.listdir(DOCS)) if name.endswith(".md")]


def test_the_readme_is_at_most_300_lines():
    assert len(read(README).splitlines()) <= 300


def test_the_readme_names_every_module_of_the_package():
    layout = read(README).split("## Package layout", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in layout.splitlines() if line.startswith("| `")]
    missing = []
    for folder, _, files in os.walk(os.path.join(ROOT, "gan_keras")):
        package = os.path.relpath(folder, ROOT)
        for name in files:
            if not name.endswith(".py") or (name == "__init__.py" and package != "gan_keras"
                                            and only_a_docstring(os.path.join(folder, name))):
                continue
            path = f"{package}/{name}"
            if not any(f"`{path}`" in row or (f"`{name}`" in row and f"`{package}/" in row) for row in rows):
                missing.append(path)
    assert not missing, f"modules not in README's package layout: {missing}"


def test_every_picture_and_document_linked_exists():
    for path in documents():
        for target in re.findall(r"\]\(([^)#]+)\)", read(path)):
            if not target.startswith(("http://", "https://")):
                assert os.path.exists(os.path.join(os.path.dirname(path), target)), (path, target)


def test_ci_runs_exactly_the_readme_test_commands():
    readme = read(README)
    commands = [line.strip() for line in read(os.path.join(ROOT, ".ci", "run")).splitlines()
                if line.strip().startswith("pytest")]
    assert commands == ["pytest", "pytest -m slow -n 2"]
    for command in commands:
        assert re.search(rf"^    {re.escape(command)}\s+#", readme, re.MULTILINE), command


def test_the_documents_are_not_a_diary():
    for path in documents():
        found = DIARY.findall(read(path))
        assert not found, (path, found)


def pinned_requirements() -> dict[str, str]:
    """{distribution: version} of every ``name==version`` line of the requirements files."""
    pins = {}
    for name in ("requirements.txt", "requirements-common.txt", "requirements-gpu.txt"):
        for line in read(os.path.join(ROOT, name)).splitlines():
            match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line.strip())
            if match:
                pins[match.group(1).lower()] = match.group(2)
    return pins


def lowest_python(specifier: str) -> tuple[int, ...]:
    """The lowest Python a Requires-Python specifier admits, e.g. '>=3.11' -> (3, 11); (0,) when it sets none."""
    found = [tuple(int(part) for part in version.split(".")) for version in re.findall(r">=\s*([\d.]+)", specifier)]
    return max(found, default=(0,))


def test_requires_python_admits_no_python_a_pinned_package_refuses():
    """pyproject's requires-python is at least every pinned package's own (read from the installed ones)."""
    import importlib.metadata

    ours = lowest_python(re.search(r'^requires-python = "([^"]+)"', read(os.path.join(ROOT, "pyproject.toml")),
                                   re.MULTILINE).group(1))
    checked = {}
    for name, version in pinned_requirements().items():
        try:
            installed = importlib.metadata.metadata(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # the other platform's or the GPU's build
        if installed["Version"] == version and installed.get("Requires-Python"):
            checked[name] = lowest_python(installed["Requires-Python"])
    assert {"numpy", "scipy", "keras"} <= set(checked), checked
    too_new = {name: needed for name, needed in checked.items() if needed > ours}
    assert not too_new, f"requires-python admits {ours}, but these pins need more: {too_new}"


def test_the_package_version_is_written_once():
    import gan_keras

    pyproject = read(os.path.join(ROOT, "pyproject.toml"))
    assert re.search(r'^dynamic = \["version"\]', pyproject, re.MULTILINE)
    assert 'version = {attr = "gan_keras.__version__"}' in pyproject
    assert not re.search(r'^version = "', pyproject, re.MULTILINE)
    assert re.fullmatch(r"\d+\.\d+\.\d+", gan_keras.__version__)


def readme_table(heading: str) -> list[str]:
    section = read(README).split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def spellings(value) -> list[str]:
    """How a table may write a default: 3000 as 3000 or 3,000; 300.0 as 300."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return [str(value), f"{value:,}"] if isinstance(value, int) else [str(value)]


def test_every_train_option_is_in_the_readme_table_with_its_default():
    from gan_keras.cli import train_parser
    from gan_keras.defaults import TrainConfig

    rows = readme_table("`train.py` options")
    defaults = {f"--{name.replace('_', '-')}": value for name, value in vars(TrainConfig()).items()}
    problems = []
    for action in train_parser()._actions:
        flag = next((name for name in action.option_strings if name.startswith("--")), None)
        if flag in (None, "--help"):
            continue
        row = next((row for row in rows if re.search(rf"`{re.escape(flag)}[` ]", row.split(" | ")[0])), None)
        default = defaults.get(flag)
        if row is None:
            problems.append(f"{flag}: no row")
        elif default not in (None, False) and not any(text in row for text in spellings(default)):
            problems.append(f"{flag}: its default {default} is not in its row")
    assert not problems, problems
