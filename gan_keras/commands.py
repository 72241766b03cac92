"""What each top-level script does once its arguments are parsed.

Lazy imports: the training loop, sampling, images and NumPy, each inside the command that uses it,
so that every script's ``--help`` and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import os

from gan_keras.errors import DataError, UsageError
from gan_keras.settings import asked_from_arguments, given_fields, ignored_options

SAMPLE_OUTPUTS = (".png", ".npy", ".gif", ".mp4")
RESUME_MACHINE_SETTINGS = ("strategy", "devices", "cluster_timeout", "mixed_precision", "upsampling",
                           "training_forms")


def keras_backend_name() -> str:
    """The backend Keras will load, read as Keras reads it, without importing Keras (or TensorFlow)."""
    import json

    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json")) as handle:
            return str(json.load(handle).get("backend", "tensorflow"))
    except (OSError, ValueError, AttributeError):
        return "tensorflow"


def train_command(args: argparse.Namespace) -> None:
    from gan_keras.training.loop import resume, train

    backend = keras_backend_name()
    if backend != "tensorflow":
        raise UsageError(f"training needs the TensorFlow backend (tf.function, tf.data, tf.distribute), but "
                         f"Keras is set to KERAS_BACKEND={backend}; run train.py with KERAS_BACKEND=tensorflow "
                         f"(sample.py, make_gif.py and the evaluator run on any backend)")

    given = given_fields(args)
    if args.resume is None:
        asked = asked_from_arguments(args)
        for note in ignored_options(given, asked):
            print(note, flush=True)
        train(asked, show_progress=not args.no_progress)
        return
    changed = sorted(set(given) - {"epochs", "data", *RESUME_MACHINE_SETTINGS})
    if changed:
        raise UsageError(f"--resume continues a run with its own settings; only --epochs (a new total), "
                         f"--data (the same data, moved) and the hardware settings --"
                         f"{', --'.join(name.replace('_', '-') for name in RESUME_MACHINE_SETTINGS)} may be given "
                         f"(got --{', --'.join(name.replace('_', '-') for name in changed)})")
    if args.devices is not None and args.strategy is None:
        raise UsageError("--devices goes with --strategy mirrored")
    machine = {name: given[name] for name in RESUME_MACHINE_SETTINGS if name in given}
    if "strategy" in machine:
        machine.setdefault("devices", None)
    resume(args.resume, args.epochs, args.data, show_progress=not args.no_progress, machine=machine)


def sample_command(args: argparse.Namespace) -> None:
    import numpy as np

    from gan_keras import sampling
    from gan_keras.files import atomic_path, writing
    from gan_keras.images import save_grid, save_png, to_uint8

    _check_sample_arguments(args)
    generator = sampling.load_generator(args.generator)
    classes = sampling.class_count(generator)
    asked = args.digit if args.digit is not None else args.class_
    if (asked is not None or args.per_class) and classes is None:
        raise UsageError(f"{args.generator} is not a conditional generator: --class, --digit and --per-class need "
                         f"one (train with --conditional)")
    names = sampling.class_names(args.generator, classes) if classes else None
    if args.interpolate:
        _write_latent_walk(generator, args)
        return
    rows = classes if args.per_class else args.rows
    count = args.count if args.count is not None else rows * args.cols
    labels = None
    if asked is not None:
        labels = np.full(count, sampling.class_index(asked, names, "--digit" if args.digit is not None else "--class"))
    elif args.per_class:
        labels = np.repeat(np.arange(classes), args.cols)
    images = sampling.generate(generator, count, args.seed, labels)
    with writing(args.out):  # each file to a temporary name, then renamed: a failure leaves the old one whole
        if args.out.lower().endswith(".png"):
            save_grid(images, args.out, rows, args.cols, names if args.per_class else None)
            print(f"wrote a {rows}x{args.cols} grid to {args.out}")
        elif args.out.lower().endswith(".npy"):
            with atomic_path(args.out) as partial:
                np.save(partial, to_uint8(images))
            print(f"wrote {count} uint8 images to {args.out}")
        else:
            os.makedirs(args.out, exist_ok=True)
            for index, pixels in enumerate(to_uint8(images)):
                save_png(pixels, os.path.join(args.out, f"sample_{index:06d}.png"))
            print(f"wrote {count} PNG images to {args.out}/")


def _check_sample_arguments(args: argparse.Namespace) -> None:
    """Refuse nonsense before the model is loaded, and never overwrite an output silently."""
    if args.rows < 1 or args.cols < 1 or args.rows * args.cols > 10_000:
        raise UsageError("--rows and --cols must be positive, with at most 10,000 cells")
    count = args.count if args.count is not None else args.rows * args.cols
    if not 1 <= count <= 1_000_000:
        raise UsageError(f"--count must be between 1 and 1,000,000, got {count}")
    writes_grid = args.out.lower().endswith(".png")
    if writes_grid and args.count is not None and not args.per_class and count != args.rows * args.cols:
        raise UsageError("a .png output is one rows x cols grid; use a folder or .npy for --count")
    if args.per_class and args.count is not None:
        raise UsageError("--per-class draws --cols samples of each class; leave out --count")
    if args.interpolate:
        if not args.out.lower().endswith((".gif", ".mp4")):
            raise UsageError("--interpolate writes an animation: give --out a .gif or .mp4 path")
        if not (2 <= args.points <= 100 and 1 <= args.steps <= 1000 and args.points * args.steps <= 5000):
            raise UsageError("--points must be 2-100 and --steps 1-1,000, with at most 5,000 frames")
        if not 0.01 <= args.duration <= 60:
            raise UsageError(f"--duration must be between 0.01 and 60 seconds, got {args.duration}")
    elif args.out.lower().endswith((".gif", ".mp4")):
        raise UsageError("a .gif or .mp4 output is an animation: add --interpolate")
    extension = os.path.splitext(args.out.rstrip("/"))[1].lower()
    if extension and extension not in SAMPLE_OUTPUTS and not os.path.isdir(args.out):
        raise UsageError(f"--out {args.out}: sample.py writes {extension} files in none of its forms; give a .png "
                         f"(a grid), a .npy (an array), a .gif or .mp4 (with --interpolate), or a folder name "
                         f"without an extension (one PNG per sample)")
    if os.path.exists(args.out) and not args.force and not (os.path.isdir(args.out) and not os.listdir(args.out)):
        raise UsageError(f"{args.out} already exists; pass --force to overwrite it")


def _write_latent_walk(generator, args: argparse.Namespace) -> None:
    from gan_keras import sampling
    from gan_keras.images import save_animation, tile, to_uint8

    frames = sampling.latent_walk(generator, args.rows * args.cols, args.points, args.steps, args.seed)
    pictures = [tile(to_uint8(frame), args.rows, args.cols) for frame in frames]
    save_animation(pictures, args.out, args.duration)
    what = "class to class" if sampling.class_count(generator) else f"through {args.points} points"
    print(f"wrote {args.out}: {len(pictures)} frames of a {args.rows}x{args.cols} latent walk ({what})")


def gif_command(args: argparse.Namespace) -> None:
    from gan_keras.images import ANIMATION_TYPES, list_grids, write_animation

    if not 0.01 <= args.duration <= 600:
        raise UsageError(f"--duration must be between 0.01 and 600 seconds, got {args.duration}")
    grids = list_grids(args.run_dir)
    if not grids:
        raise DataError(f"{args.run_dir} holds no grid_*.png files: is it a run folder?")
    out = args.out or os.path.join(args.run_dir, "progress.gif")
    if not out.lower().endswith(ANIMATION_TYPES):
        raise UsageError(f"--out {out}: write the animation as .gif or .mp4")
    if os.path.exists(out) and not args.force:
        raise UsageError(f"{out} already exists; pass --force to overwrite it")
    captions = [f"iteration {iteration:,}" for iteration, _ in grids] if args.caption else None
    frames = write_animation([path for _, path in grids], out, args.duration, captions)
    looping = ", looping" if out.lower().endswith(".gif") else ""
    print(f"wrote {out}: {frames} frames, {args.duration:g} s each{looping}")


def train_main() -> int:
    """``gan-keras-train`` and ``python train.py``."""
    from gan_keras.training.stop import hold_early_signals

    hold_early_signals()  # before anything slow: a signal from here on is a clean stop
    from gan_keras.cli import run_command, train_parser

    return run_command(train_command, train_parser())


def sample_main() -> int:
    """``gan-keras-sample`` and ``python sample.py``."""
    from gan_keras.cli import run_command, sample_parser

    return run_command(sample_command, sample_parser())


def gif_main() -> int:
    """``gan-keras-gif`` and ``python make_gif.py``."""
    from gan_keras.cli import gif_parser, run_command

    return run_command(gif_command, gif_parser())
