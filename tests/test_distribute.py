"""Data-parallel training on tf.distribute, proven on this machine's CPU.

MirroredStrategy runs over the CPU split into 2 logical devices; MultiWorkerMirroredStrategy
over 2 worker processes on 127.0.0.1 with their own TF_CONFIG. Each case starts its own
processes: TensorFlow allows the split, and one strategy, only before it starts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, run_script
from gan_keras.training.checkpoints import list_checkpoints, read_checkpoint, weights_digest

MIRRORED = ("--strategy", "mirrored", "--devices", "CPU:0,CPU:1")


@pytest.mark.parametrize("loop, model, conditional", [
    ("fast", "dcgan", "0"), ("notebook", "dcgan", "0"), ("fast", "dcgan", "1"), ("notebook", "mlp-bn", "1"),
])
@pytest.mark.slow
def test_one_mirrored_iteration_is_the_single_device_iteration(loop, model, conditional):
    """Same initial weights, same global batch: 2 replicas and 1 device give the same update."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "mirrored_maths.py"), loop, model,
                             conditional, "1"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["replicas"] == 2
    for name, value in report["single"][0].items():
        assert report["mirrored"][0][name] == pytest.approx(value, abs=1e-5), name
    # every variable, BatchNorm statistics, both Adams and G's average included
    assert report["variables"] > 20
    assert report["worst_difference"] < 1e-5, report["worst_variable"]


def final_checkpoint(run_dir) -> tuple[int, dict]:
    iteration, path = list_checkpoints(str(run_dir))[-1]
    return iteration, read_checkpoint(path)[0]


@pytest.mark.slow
def test_mirrored_runs_resume_exactly_and_across_strategies(tmp_path, small_mnist):
    # precision pinned: this test is about strategies; auto's start-up probe can settle two runs differently
    common = ("--batch-size", "16", "--save-interval", "3", "--data", small_mnist, "--seed", "4", "--no-progress",
              "--mixed-precision", "none")
    straight, split, crossed = tmp_path / "straight", tmp_path / "split", tmp_path / "crossed"
    result = run_script("train.py", "--epochs", "6", "--out", str(straight), *MIRRORED, *common)
    assert result.returncode == 0, result.stderr
    assert "strategy: mirrored, 2 replicas of 8 images each" in result.stdout
    assert json.loads((straight / "config.json").read_text())["arguments"]["strategy"] == "mirrored"
    assert (straight / "grid_0000006.png").exists() and (straight / "generator.keras").exists()

    # stopped at 3 and resumed under the same strategy: the same weights, bit for bit
    assert run_script("train.py", "--epochs", "3", "--out", str(split), *MIRRORED, *common).returncode == 0
    result = run_script("train.py", "--resume", str(split), "--epochs", "6")
    assert result.returncode == 0, result.stderr
    assert weights_digest(final_checkpoint(split)[1]) == weights_digest(final_checkpoint(straight)[1])

    # started under mirrored, continued on one device
    result = run_script("train.py", "--resume", str(straight), "--epochs", "9", "--strategy", "default")
    assert result.returncode == 0, result.stderr
    assert "resuming" in result.stdout and "at iteration 6 of 9" in result.stdout
    assert final_checkpoint(straight)[0] == 9

    # started on one device, continued under mirrored
    assert run_script("train.py", "--epochs", "3", "--out", str(crossed), *common).returncode == 0
    result = run_script("train.py", "--resume", str(crossed), "--epochs", "6", *MIRRORED)
    assert result.returncode == 0, result.stderr
    assert final_checkpoint(crossed)[0] == 6


@pytest.mark.slow
def test_bf16_speed_probe_runs_after_the_cpu_is_split(tmp_path, small_mnist):
    """On a CPU with bf16 flags, --mixed-precision auto measures bf16 with TensorFlow ops; that must come
    after --devices CPU:0,CPU:1 has split the CPU (TensorFlow splits it only before its first op).
    The flags are faked, so this runs on every CPU."""
    fake_flags = ("import runpy, sys\n"
                  "import gan_keras.roofline as roofline\n"
                  "roofline.cpu_description = lambda: ('a bf16 CPU', ['avx2', 'avx512f', 'avx512_bf16'])\n"
                  "sys.argv = ['train.py'] + sys.argv[1:]\n"
                  f"runpy.run_path({os.path.join(ROOT, 'train.py')!r}, run_name='__main__')\n")
    arguments = ["--epochs", "2", "--batch-size", "16", "--data", small_mnist, "--out", str(tmp_path / "run"),
                 "--no-progress", *MIRRORED]
    result = subprocess.run([sys.executable, "-c", fake_flags, *arguments], capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 replicas of 8 images each" in result.stdout
    assert json.loads((tmp_path / "run" / "config.json").read_text())["arguments"]["mixed_precision"] in (
        "bf16", "none")


@pytest.mark.parametrize("arguments, message", [
    (("--strategy", "mirrored", "--devices", "CPU:0,CPU:0"), "--devices must list distinct devices"),
    (("--strategy", "mirrored", "--devices", "TPU:0"), "--devices must list distinct devices"),
    (("--devices", "CPU:0,CPU:1"), "--devices picks the devices of --strategy mirrored"),
    (("--strategy", "multiworker"), "TF_CONFIG, which is not set"),
    (("--strategy", "mirrored", "--devices", "CPU:0,CPU:1", "--batch-size", "15"), "does not split evenly"),
])
def test_nonsense_strategy_settings_are_refused_in_one_line(tmp_path, small_mnist, arguments, message):
    out = tmp_path / "run"
    result = run_script("train.py", "--epochs", "2", "--data", small_mnist, "--out", str(out), "--no-progress",
                        *arguments)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not out.exists()


def test_malformed_tf_config_is_refused_in_one_line(tmp_path, small_mnist):
    env = {**os.environ, "TF_CONFIG": "{not json"}
    result = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--strategy", "multiworker",
                             "--epochs", "2", "--data", small_mnist, "--out", str(tmp_path / "run")],
                            capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    assert result.returncode == 2
    assert "error: TF_CONFIG is not valid JSON" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_worker_outlives_its_test():
    yield
    while _STARTED:
        worker = _STARTED.pop()
        if worker.poll() is None:
            worker.kill()
            worker.communicate()


def start_workers(arguments: list[str], cwd, scratch=None, started: int = 2) -> list[subprocess.Popen]:
    """The first ``started`` of two train.py workers on 127.0.0.1, each with its own TF_CONFIG (killed when
    the test ends), and ``scratch`` as their temporary folder if given (where a test can see what they leave)."""
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(started):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
        if scratch is not None:
            scratch.mkdir(exist_ok=True)
            env["TMPDIR"] = str(scratch)
        workers.append(subprocess.Popen([sys.executable, os.path.join(ROOT, "train.py"), *arguments],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd))
    _STARTED.extend(workers)
    return workers


def finish(workers: list[subprocess.Popen], timeout: int = 300) -> list[tuple[int, str, str]]:
    results = []
    for worker in workers:
        stdout, stderr = worker.communicate(timeout=timeout)
        results.append((worker.returncode, stdout, stderr))
    return results


@pytest.mark.slow
def test_two_workers_train_in_step_and_only_the_chief_writes(tmp_path, small_mnist):
    run_dir, cwd = tmp_path / "run", tmp_path / "cwd"
    cwd.mkdir()
    arguments = ["--strategy", "multiworker", "--epochs", "6", "--batch-size", "16", "--save-interval", "3",
                 "--log-interval", "2", "--data", small_mnist, "--out", str(run_dir), "--no-progress"]  # no --seed
    (chief_rc, chief_out, chief_err), (rc, out, err) = finish(start_workers(arguments, cwd))
    assert chief_rc == 0, chief_err[-3000:]
    assert rc == 0, err[-3000:]
    assert "2 replicas of 8 images each" in chief_out

    digests = [re.search(r"weights sha256 (\w+)", text).group(1) for text in (chief_out, out)]
    assert digests[0] == digests[1]  # both workers end with identical weights (and agreed on one seed)
    iteration, values = final_checkpoint(run_dir)
    assert iteration == 6 and weights_digest(values) == digests[0]

    # only the chief wrote the run: grids, checkpoints, TensorBoard events, the generator
    assert sorted(os.listdir(cwd)) == []
    assert {"grid_0000003.png", "grid_0000006.png", "generator.keras", "losses.csv"} <= set(os.listdir(run_dir))
    assert os.listdir(run_dir / "tensorboard")
    assert "the chief writes the run folder" in out and f"results in {run_dir}" in out  # the chief's, not its own
    assert f"results in {run_dir}" in chief_out


@pytest.mark.slow
def test_killed_worker_then_all_resume_from_the_last_checkpoint(tmp_path, small_mnist):
    run_dir = tmp_path / "run"
    arguments = ["--strategy", "multiworker", "--epochs", "80", "--batch-size", "16", "--checkpoint-interval", "10",
                 "--save-interval", "20", "--log-interval", "5", "--data", small_mnist, "--out", str(run_dir),
                 "--seed", "5", "--no-progress"]
    workers = start_workers(arguments, tmp_path, scratch=tmp_path / "tmp")
    deadline = time.time() + 240
    while time.time() < deadline and not any(it >= 10 for it, _ in list_checkpoints(str(run_dir))):
        assert all(worker.poll() is None for worker in workers), finish(workers)
        time.sleep(0.2)
    workers[1].send_signal(signal.SIGKILL)
    (chief_rc, chief_out, chief_err), _ = finish(workers, timeout=60)  # the chief leaves by itself
    assert chief_rc == 1
    assert chief_err.strip().count("\n") == 0, chief_err  # one line, no gRPC dump
    assert re.search(r"worker 1 at 127\.0\.0\.1:\d+ stopped; .* --resume " + re.escape(str(run_dir)), chief_err)
    kept = list_checkpoints(str(run_dir))[-1][0]
    assert kept >= 10 and kept % 10 == 0 and kept < 80

    assert len(list((tmp_path / "tmp").glob("gan_keras_worker_*"))) == 1  # the killed worker's
    (chief_rc, chief_out, chief_err), (rc, out, err) = finish(start_workers(
        ["--resume", str(run_dir), "--no-progress"], tmp_path, scratch=tmp_path / "tmp"))
    assert chief_rc == 0 and rc == 0, (chief_err[-2000:], err[-2000:])
    assert f"at iteration {kept:,} of 80" in chief_out and f"at iteration {kept:,} of 80" in out
    assert re.search(r"weights sha256 (\w+)", chief_out).group(1) == re.search(r"weights sha256 (\w+)", out).group(1)
    logged = [int(line.split(",")[0]) for line in (run_dir / "losses.csv").read_text().splitlines()[1:]]
    assert logged == list(range(5, 81, 5))  # every interval logged once: nothing lost, nothing twice
    assert final_checkpoint(run_dir)[0] == 80
    assert not list((tmp_path / "tmp").glob("gan_keras_worker_*"))  # the killed worker's too, removed on resume
    assert np.isfinite([float(v) for v in (run_dir / "losses.csv").read_text().splitlines()[-1].split(",")[1:4]]).all()


LONE = ["--strategy", "multiworker", "--model", "fc", "--epochs", "5", "--no-progress"]


@pytest.mark.slow
def test_a_lone_worker_stops_on_sigterm_while_it_waits_for_the_cluster(tmp_path, small_mnist):
    (worker,) = start_workers([*LONE, "--data", small_mnist, "--out", str(tmp_path / "run")], tmp_path, started=1)
    time.sleep(20)  # TensorFlow is waiting for worker 1 by now
    assert worker.poll() is None
    worker.send_signal(signal.SIGTERM)
    started = time.time()
    ((status, _, stderr),) = finish([worker], timeout=30)
    assert time.time() - started < 10 and status != 0
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert re.search(r"stopped by SIGTERM while waiting for the other workers \(never reached: worker 1 at "
                     r"127\.0\.0\.1:\d+\); nothing was trained or written", stderr)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_lone_worker_gives_up_after_the_cluster_timeout(tmp_path, small_mnist):
    (worker,) = start_workers([*LONE, "--data", small_mnist, "--out", str(tmp_path / "run"),
                               "--cluster-timeout", "5"], tmp_path, started=1)
    ((status, _, stderr),) = finish([worker], timeout=120)
    assert status == 1 and len(stderr.strip().splitlines()) == 1, stderr
    assert re.search(r"did not all come within --cluster-timeout 5 s \(never reached: worker 1 at 127\.0\.0\.1:\d+\)",
                     stderr)


def test_resuming_a_multiworker_run_without_tf_config_says_how_to_go_on_in_one_process(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"arguments": {"strategy": "multiworker"}}))
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    result = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--resume", str(run_dir)],
                            capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 2 and "TF_CONFIG, which is not set" in result.stderr
    assert "--strategy default" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("index", ['"x"', "null"])
def test_a_tf_config_index_that_is_no_number_is_named(tmp_path, small_mnist, index):
    config = '{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": %s}}'
    env = {**os.environ, "TF_CONFIG": config % index}
    result = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *LONE, "--data", small_mnist],
                            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 2 and "TF_CONFIG's \"task\" has \"index\"" in result.stderr, result.stderr


def test_a_dead_workers_folder_is_removed_and_no_other(tmp_path, monkeypatch):
    import tempfile

    from gan_keras.training.distribute import WORKER_FOLDER_PREFIX, WORKER_PID_FILE, worker_folder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folders = {}
    for name, pid in (("dead", finished.stdout.strip()), ("alive", str(os.getpid())), ("unreadable", "?"),
                      ("no pid", None)):
        folders[name] = tmp_path / f"{WORKER_FOLDER_PREFIX}{name.replace(' ', '_')}"
        folders[name].mkdir()
        if pid is not None:
            (folders[name] / WORKER_PID_FILE).write_text(pid)
    (tmp_path / "not_a_worker").mkdir()
    mine = worker_folder()
    assert not folders["dead"].exists()
    assert all(folders[name].exists() for name in ("alive", "unreadable", "no pid"))
    assert (tmp_path / "not_a_worker").exists()
    assert os.path.dirname(mine).startswith(str(tmp_path / WORKER_FOLDER_PREFIX))
    assert open(os.path.join(os.path.dirname(mine), WORKER_PID_FILE)).read() == str(os.getpid())


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["fast", "notebook"])
def test_a_signal_to_one_worker_stops_both_at_the_same_iteration_and_both_resume(tmp_path, small_mnist, loop):
    """SIGTERM to the worker that does not write the run, mid-run: both stop at one iteration with a checkpoint
    there, and both resume from it in step (on the notebook loop: Keras's own train_on_batch under
    MultiWorkerMirroredStrategy)."""
    run_dir = tmp_path / "run"
    arguments = ["--strategy", "multiworker", "--loop", loop, "--epochs", "100000", "--batch-size", "16",
                 "--log-interval", "5", "--data", small_mnist, "--out", str(run_dir), "--seed", "6", "--no-progress"]
    workers = start_workers(arguments, tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline and not (run_dir / "losses.csv").exists():
        time.sleep(0.2)
    time.sleep(2)
    workers[1].send_signal(signal.SIGTERM)  # the other worker has no signal: they agree within 5 iterations
    (chief_rc, chief_out, chief_err), (rc, out, err) = finish(workers, timeout=120)
    assert chief_rc == 0 and rc == 0, (chief_err[-2000:], err[-2000:])
    stopped = [re.search(r"stopped by (.+) at iteration ([\d,]+)", text) for text in (chief_out, out)]
    assert stopped[0].group(1) == "another worker's signal" and stopped[1].group(1) == "SIGTERM"
    assert stopped[0].group(2) == stopped[1].group(2)
    iteration = int(stopped[0].group(2).replace(",", ""))
    assert final_checkpoint(run_dir)[0] == iteration
    (chief_rc, chief_out, chief_err), (rc, out, err) = finish(start_workers(
        ["--resume", str(run_dir), "--epochs", str(iteration + 10), "--no-progress"], tmp_path))
    assert chief_rc == 0 and rc == 0, (chief_err[-2000:], err[-2000:])
    assert re.search(r"weights sha256 (\w+)", chief_out).group(1) == re.search(r"weights sha256 (\w+)", out).group(1)
