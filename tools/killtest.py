"""Kill a real training run with SIGKILL at random moments, resume it each time, and report.

    python tools/killtest.py --data mnist.npz [--kills 5] [--epochs 200] [--interval 20]

Each round starts (or resumes) a training run through gan_keras's own entry point (what
``train.py`` and ``gan-keras-train`` call), so it tests the checkout it lies in or, copied
elsewhere, the installed package. It waits until it has made progress past
its last checkpoint, sleeps a random moment, and kills it. It records how far the
run had got and which checkpoint the next resume starts from. At the end the run
is resumed to completion and checked: losses.csv has every iteration exactly once,
every grid is present and readable, the generator loads, no temporary file is left.

``--matrix`` does the same for every model family, conditional runs, ``--eval-interval`` (its
``best.json`` and ``generator_best.keras``), ``--loop notebook``, ``--recipe ttur`` and ``--strategy
mirrored`` over two logical CPUs, one after another, and prints one row for each.

Then the edges of a run's life: new runs killed at random moments of their start-up
(before checkpoint 0 exists), each followed by what a user would do next (the same
``--out`` again, or ``--resume``), and a run killed right after its final checkpoint,
then resumed, which must rewrite the final files it lost without training.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(ROOT, "gan_keras")):  # a checkout's own package; copied out: the installed one
    sys.path.insert(0, ROOT)

import gan_keras  # noqa: E402

TRAIN_MAIN = "import sys; from gan_keras.commands import train_main; sys.exit(train_main())"
# the children import the very package this tool runs with
CHILD_ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [
    os.path.dirname(os.path.dirname(os.path.abspath(gan_keras.__file__))), os.environ.get("PYTHONPATH")]))}


def train(*arguments: str) -> list[str]:
    """The command line of a training run with ``arguments`` (as train.py takes them)."""
    return [sys.executable, "-c", TRAIN_MAIN, *arguments]


def start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV)


def finish(command: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, env=CHILD_ENV)


@dataclass
class KillRound:
    reached: int      # last iteration in losses.csv when the process was killed
    checkpoint: int   # iteration of the newest checkpoint on disk after the kill

    @property
    def lost(self) -> int:
        return self.reached - self.checkpoint


def csv_iterations(run_dir: str) -> list[int]:
    path = os.path.join(run_dir, "losses.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as handle:
        return [int(row["iteration"]) for row in csv.DictReader(handle) if row.get("iteration", "").isdigit()]


def newest_checkpoint(run_dir: str) -> int:
    folder = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(folder):
        return -1
    names = [n for n in os.listdir(folder) if n.startswith("ckpt_") and n.endswith(".npz")]
    return max((int(n[5:12]) for n in names), default=-1)


MATRIX = [  # (what, the options of train.py that make it)
    ("dcgan", []),
    ("dcgan --recipe ttur", ["--recipe", "ttur"]),
    ("dcgan --loop notebook", ["--loop", "notebook"]),
    ("mlp", ["--model", "mlp"]),
    ("mlp-bn", ["--model", "mlp-bn"]),
    ("fc", ["--model", "fc"]),
    ("dcgan --conditional", ["--conditional"]),
    ("mlp-bn --conditional", ["--model", "mlp-bn", "--conditional"]),
    ("dcgan --eval-interval", ["--eval-interval", "10", "--eval-samples", "500"]),
    ("dcgan --strategy mirrored, 2 CPUs", ["--strategy", "mirrored", "--devices", "CPU:0,CPU:1"]),
]


def run_kill_test(run_dir: str, data: str, kills: int, epochs: int, interval: int, batch_size: int = 8,
                  seed: int = 0, max_pause: float = 1.5, extra: tuple[str, ...] = ()
                  ) -> tuple[list[KillRound], subprocess.CompletedProcess]:
    """Kill and resume ``kills`` times, then finish the run; returns the rounds and the final resume.
    ``extra``: more options for the run (a family, --conditional, ...)."""
    command = train("--epochs", str(epochs), "--data", data, "--out", run_dir, "--batch-size", str(batch_size),
                    "--save-interval", str(interval), "--log-interval", "1", "--seed", str(seed), "--no-progress",
                    *extra)
    chance, rounds = random.Random(seed), []
    for _ in range(kills):
        process = start(command)
        first = max(csv_iterations(run_dir), default=0)
        deadline = time.time() + 300
        while time.time() < deadline and process.poll() is None and max(csv_iterations(run_dir), default=0) <= first:
            time.sleep(0.05)
        time.sleep(chance.uniform(0.0, max_pause))
        process.kill()
        process.wait()
        if process.returncode == 0:  # it finished before the kill landed
            return rounds, subprocess.CompletedProcess(command, 0, "", "")
        rounds.append(KillRound(max(csv_iterations(run_dir), default=0), newest_checkpoint(run_dir)))
        command = train("--resume", run_dir, "--no-progress")
    final = finish(command)
    return rounds, final


@dataclass
class EdgeKill:
    moment: str   # when the kill landed
    found: str    # what the folder held afterwards
    next_step: str  # what the user's next command did
    ok: bool


def startup_kill(run_dir: str, data: str, pause: float) -> EdgeKill:
    """SIGKILL a new run ``pause`` s after start (before checkpoint 0 exists), then go on as a user would."""
    arguments = ["--epochs", "4", "--data", data, "--out", run_dir, "--batch-size", "8", "--save-interval", "2",
                 "--log-interval", "1", "--no-progress"]
    process = start(train(*arguments))
    time.sleep(pause)
    process.kill()
    process.wait()
    complete = newest_checkpoint(run_dir) >= 0
    if process.returncode == 0:
        return EdgeKill(f"{pause:.2f} s after start", "a finished run (the kill came too late)", "-", True)
    found = "a complete run folder" if complete else (
        "no run folder" if not os.path.exists(run_dir) else f"folder holding {sorted(os.listdir(run_dir))}")
    again = ["--resume", run_dir, "--no-progress"] if complete else arguments
    result = finish(train(*again))
    next_step = ("--resume" if complete else "the same --out again") + f": exit {result.returncode}"
    return EdgeKill(f"{pause:.2f} s after start", found, next_step, result.returncode == 0
                    and check_run(run_dir, 4, 2) == [])


def late_kill(run_dir: str, data: str) -> EdgeKill:
    """SIGKILL a run as soon as its final checkpoint exists, then ``--resume`` it to repair what it lost."""
    epochs = 6
    process = start(train("--epochs", str(epochs), "--data", data, "--out", run_dir, "--batch-size", "8",
                          "--save-interval", "3", "--log-interval", "1", "--no-progress"))
    while process.poll() is None and newest_checkpoint(run_dir) < epochs:
        time.sleep(0.002)
    process.kill()
    process.wait()
    lost = [name for name in ("losses.png", "generator.keras", "generator_raw.keras", "discriminator.keras",
                              f"grid_{epochs:07d}.png") if not os.path.exists(os.path.join(run_dir, name))]
    result = finish(train("--resume", run_dir, "--no-progress"))
    repaired = result.returncode == 0 and all(os.path.exists(os.path.join(run_dir, n)) for n in lost)
    said = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr.strip()
    return EdgeKill("right after the final checkpoint", f"missing: {', '.join(lost) or 'nothing'}",
                    f"--resume: exit {result.returncode}, {said}",
                    result.returncode == 0 and (repaired or not lost) and check_run(run_dir, epochs, 3) == [])


def check_run(run_dir: str, epochs: int, interval: int) -> list[str]:
    """Problems with a finished run folder (empty when it is whole)."""
    import keras
    from PIL import Image

    problems = []
    if csv_iterations(run_dir) != list(range(1, epochs + 1)):
        problems.append("losses.csv does not hold every iteration exactly once")
    expected = [f"grid_{i:07d}.png" for i in sorted(set(range(0, epochs + 1, interval)) | {epochs})]
    grids = sorted(n for n in os.listdir(run_dir) if n.startswith("grid_"))
    if grids != expected:
        problems.append(f"grids {grids} differ from {expected}")
    for name in grids:
        with Image.open(os.path.join(run_dir, name)) as image:
            image.load()
    keras.saving.load_model(os.path.join(run_dir, "generator.keras"))
    from gan_keras.training.tensorboard_log import read_scalars

    if [step for step, tag, _ in read_scalars(run_dir) if tag == "g_loss"] != list(range(1, epochs + 1)):
        problems.append("TensorBoard scalars do not hold every iteration exactly once")
    leftovers = [n for n in os.listdir(run_dir) + os.listdir(os.path.join(run_dir, "checkpoints")) if "partial" in n]
    if leftovers:
        problems.append(f"temporary files left: {leftovers}")
    return problems + best_snapshot_problems(run_dir)


def best_snapshot_problems(run_dir: str) -> list[str]:
    """With --eval-interval: best.json and generator_best.keras go together, the snapshot loads, and best.json's
    iteration is a row of losses.csv with the FD it records (a rewind never leaves a best from undone iterations)."""
    import json

    import keras

    record_path, model_path = (os.path.join(run_dir, name) for name in ("best.json", "generator_best.keras"))
    if not (os.path.exists(record_path) or os.path.exists(model_path)):
        return []
    if not (os.path.exists(record_path) and os.path.exists(model_path)):
        return ["best.json and generator_best.keras are not both there"]
    keras.saving.load_model(model_path)
    with open(record_path) as handle:
        best = json.load(handle)
    with open(os.path.join(run_dir, "losses.csv"), newline="") as handle:
        scored = {int(row["iteration"]): float(row["frechet_distance"]) for row in csv.DictReader(handle)
                  if row.get("frechet_distance")}
    if abs(scored.get(best["iteration"], float("nan")) - best["frechet_distance"]) > 1e-5:
        return [f"best.json's FD {best['frechet_distance']} at iteration {best['iteration']} is not losses.csv's "
                f"({scored})"]
    return []


def main(argv: list[str] | None = None) -> int:
    from gan_keras.console import quiet_tensorflow

    quiet_tensorflow()
    parser = argparse.ArgumentParser(prog="python tools/killtest.py", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="local MNIST .npz or IDX folder")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--interval", type=int, default=20, help="save and checkpoint interval")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-pause", type=float, default=3.0, help="longest random wait before a kill (s)")
    parser.add_argument("--startup-kills", type=int, default=4, help="new runs killed during start-up")
    parser.add_argument("--keep", action="store_true", help="keep the runs' temporary folder (and say where)")
    parser.add_argument("--matrix", action="store_true",
                        help="kill every configuration of MATRIX (families, conditional, --eval-interval, ...) "
                             "instead; no start-up kills")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="killtest-")
    try:
        return kill_matrix(args, folder) if args.matrix else kill_and_report(args, folder)
    finally:
        if args.keep:
            print(f"the runs are kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def kill_and_report(args: argparse.Namespace, folder: str) -> int:
    """The kill rounds, the final check and the edge kills, printed; 0 when everything held."""
    run_dir = os.path.join(folder, "run")
    print(f"testing gan_keras {os.path.dirname(os.path.abspath(gan_keras.__file__))}", flush=True)
    data = args.data or _offline_subset(folder)
    rounds, final = run_kill_test(run_dir, data, args.kills, args.epochs, args.interval, args.batch_size,
                                  max_pause=args.max_pause)
    print(f"{len(rounds)} SIGKILLs of a {args.epochs}-iteration run, checkpoint interval {args.interval}:")
    for number, kill in enumerate(rounds, 1):
        print(f"  kill {number}: at iteration {kill.reached:4d}, resumed from {kill.checkpoint:4d}, "
              f"{kill.lost:3d} iterations redone")
    problems = check_run(run_dir, args.epochs, args.interval) if final.returncode == 0 else [final.stderr.strip()]
    worst = max((kill.lost for kill in rounds), default=0)
    print(f"most iterations lost to one kill: {worst} (limit: {args.interval})")
    print("final run: " + ("complete: every iteration logged once in losses.csv and TensorBoard, all grids "
                           "readable, generator loads, no temporary files" if not problems else "; ".join(problems)))
    edges = edge_kills(os.path.dirname(run_dir), data, args.startup_kills)
    return 0 if not problems and worst <= args.interval and all(edge.ok for edge in edges) else 1


def kill_matrix(args: argparse.Namespace, folder: str) -> int:
    """Every configuration of MATRIX killed ``--kills`` times and resumed to the end; one row each. 0 when all held."""
    print(f"testing gan_keras {os.path.dirname(os.path.abspath(gan_keras.__file__))}", flush=True)
    data = args.data or _offline_subset(folder)
    print(f"{args.kills} SIGKILLs at random moments of each {args.epochs}-iteration run (checkpoints every "
          f"{args.interval}), then resumed to the end and checked:")
    failures = 0
    for number, (what, options) in enumerate(MATRIX):
        run_dir = os.path.join(folder, f"matrix_{number}")
        started = time.time()
        rounds, final = run_kill_test(run_dir, data, args.kills, args.epochs, args.interval, args.batch_size,
                                      max_pause=args.max_pause, extra=tuple(options))
        problems = check_run(run_dir, args.epochs, args.interval) if final.returncode == 0 else [
            final.stderr.strip()[-300:]]
        worst = max((kill.lost for kill in rounds), default=0)
        ok = not problems and worst <= args.interval
        failures += not ok
        print(f"  {what:<36} kills {len(rounds)}, most iterations lost {worst:3d}, "
              f"{time.time() - started:5.0f} s: {'ok' if ok else 'FAILED: ' + '; '.join(problems)}", flush=True)
    return 0 if not failures else 1


def edge_kills(folder: str, data: str, count: int, seed: int = 0) -> list[EdgeKill]:
    """Start-up kills at random moments over the first seconds, and one kill after the final checkpoint."""
    chance = random.Random(seed)
    edges = [startup_kill(os.path.join(folder, f"startup_{k}"), data, chance.uniform(0.3, 8.0))
             for k in range(count)]
    edges.append(late_kill(os.path.join(folder, "late"), data))
    print(f"{count} SIGKILLs during start-up and one after the final checkpoint:")
    for edge in edges:
        print(f"  killed {edge.moment}: found {edge.found}; {edge.next_step} -> {'ok' if edge.ok else 'FAILED'}")
    return edges


def _offline_subset(folder: str) -> str:
    """The shipped MNIST subset as a temporary .npz, for machines without the full data."""
    import numpy as np

    from gan_keras.data import load_dataset

    dataset = load_dataset("mnist")
    path = os.path.join(folder, "mnist.npz")
    np.savez(path, x_train=dataset.x_train, y_train=dataset.y_train, x_test=dataset.x_test, y_test=dataset.y_test)
    return path


if __name__ == "__main__":
    from gan_keras.console import filtered_main

    sys.exit(filtered_main(main))
