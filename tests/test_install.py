"""pip installs gan_keras from pyproject.toml: the package, its shipped evaluator weights and the four commands."""

import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow
COMMANDS = ("gan-keras-train", "gan-keras-sample", "gan-keras-gif", "gan-keras-evaluate")


def run(*command, cwd=None, env=None):
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=cwd, env=env)
    assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-3000:])
    return result


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """What pip builds from, copied, so that its build folders never land in this checkout."""
    folder = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), folder)
    shutil.copytree(os.path.join(ROOT, "gan_keras"), folder / "gan_keras",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return str(folder)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, source):
    folder = tmp_path_factory.mktemp("wheel")
    run(sys.executable, "-m", "pip", "wheel", source, "--no-deps", "--no-build-isolation", "-q", "-w", str(folder))
    (path,) = folder.glob("gan_keras-*.whl")
    return path


def test_the_wheel_holds_the_package_the_weights_and_the_commands(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "gan_keras/training/loop.py" in names and "gan_keras/scoring/weights/mnist-cnn-v3.weights.h5" in names
    assert not any(name.startswith(("tests/", "tools/")) for name in names)
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert all(f"{command} = " in text for command in COMMANDS)


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """(the python of a new virtual environment with the wheel installed, an environment without PYTHONPATH)."""
    venv = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", "--system-site-packages", str(venv))  # TensorFlow and the rest: this machine's
    run(str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel))
    return venv, {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def test_installed_package_runs_its_commands_and_finds_its_weights(installed, source, tmp_path):
    venv, env = installed
    python, bin_folder = str(venv / "bin" / "python"), venv / "bin"
    for command in COMMANDS:
        assert "usage:" in run(str(bin_folder / command), "--help", cwd=tmp_path, env=env).stdout
    probe = ("import gan_keras, os\n"
             "from gan_keras.scoring.classifier import SHIPPED, load_shipped\n"
             "load_shipped(SHIPPED[0])\n"
             "print(os.path.dirname(gan_keras.__file__))")
    installed_at = run(python, "-c", probe, cwd=tmp_path, env=env).stdout.strip().splitlines()[-1]
    assert installed_at.startswith(str(venv)), installed_at  # the installed copy, not this checkout
    dry_run = run(python, "-m", "pip", "install", "--dry-run", "--no-build-isolation", "--no-index", source,
                  cwd=tmp_path, env=env)
    assert re.search(r"Would install gan[-_]keras-1\.0\.0", dry_run.stdout)  # every dependency resolves (installed)


def test_the_developers_tools_run_against_the_installed_package(installed, small_mnist, tmp_path):
    """tools/killtest.py and tools/bench.py copied out of the checkout use the installed gan_keras, and its own
    entry points (no train.py)."""
    venv, env = installed
    for tool in ("killtest.py", "bench.py"):
        shutil.copy(os.path.join(ROOT, "tools", tool), tmp_path)
    python = str(venv / "bin" / "python")
    kills = run(python, str(tmp_path / "killtest.py"), "--data", small_mnist, "--kills", "1", "--epochs", "6",
                "--interval", "2", "--batch-size", "8", "--max-pause", "0.5", "--startup-kills", "0", cwd=tmp_path,
                env=env).stdout
    assert f"gan_keras {venv}" in kills and "final run: complete" in kills, kills
    assert "right after the final checkpoint" in kills and "-> ok" in kills, kills
    speed = run(python, str(tmp_path / "bench.py"), "--data", small_mnist, "--warmup", "1", "--iterations", "2",
                "--repeats", "1", "--only", "(b)", cwd=tmp_path, env=env).stdout
    assert f"gan_keras {venv}" in speed and "(b) default: fast step" in speed, speed
