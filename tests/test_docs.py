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
