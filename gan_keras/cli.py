"""Argument parsers and the error handling shared by the top-level scripts.

Nothing here imports TensorFlow, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import faulthandler
import sys
import traceback
from collections.abc import Callable

from gan_keras import console

from gan_keras.defaults import (GIF_FRAME_SECONDS, GRID_COLS, GRID_ROWS, WALK_FRAME_SECONDS, WALK_POINTS,
                                WALK_STEPS, TrainConfig)
from gan_keras.errors import GanKerasError

TYPES = {"int": int, "float": float, "str": str}


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (argparse prints its whole usage block first)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per TrainConfig field, with help and default taken from the field.

    Parsed values stay None unless given, so ``--resume`` can tell what was asked for.
    """
    for field in dataclasses.fields(TrainConfig):
        flag = f"--{field.name.replace('_', '-')}"
        kind = str(field.type).split("|")[0].strip()
        if kind == "bool":
            parser.add_argument(flag, action="store_true", default=None, help=field.metadata["help"])
            continue
        default = "" if field.default is None else f" (default: {field.default})"
        parser.add_argument(flag, type=TYPES[kind], default=None, choices=field.metadata.get("choices"),
                            help=field.metadata["help"] + default)


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")


def train_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="train.py",
        description="Train the notebook's DCGAN (or --model mlp, mlp-bn, fc; --conditional for a GAN "
                    "that draws a chosen class). --epochs counts training iterations (one batch "
                    "each), as in the notebook. Writes grids, losses.csv, losses.png, TensorBoard "
                    "logs and generator.keras to a run folder.")
    add_config_arguments(parser)
    parser.add_argument("--resume", metavar="RUN_DIR", default=None,
                        help="continue a stopped run from its last checkpoint; --epochs is the total")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_debug_argument(parser)
    return parser


def sample_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="sample.py",
                                     description="Draw samples from a saved .keras generator.")
    parser.add_argument("generator", help="path to generator.keras")
    parser.add_argument("--out", default="samples.png",
                        help="output: a .png grid (default %(default)s), a folder for --count single "
                             "PNGs, or a .npy file of uint8 images, (N, H, W) grayscale or (N, H, W, 3) RGB")
    parser.add_argument("--rows", type=int, default=GRID_ROWS, help="grid rows (default %(default)s)")
    parser.add_argument("--cols", type=int, default=GRID_COLS, help="grid columns (default %(default)s)")
    parser.add_argument("--count", type=int, default=None,
                        help="number of images for a folder of PNGs or an .npy file "
                             "(default: rows x cols)")
    parser.add_argument("--seed", type=int, default=None, help="noise seed (same seed, same images)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--class", dest="class_", metavar="NAME|INDEX", default=None,
                       help="conditional generators: draw only this class, by its name (a subfolder's, as the "
                            "run's config.json beside the generator records it) or its index")
    which.add_argument("--digit", type=int, default=None,
                       help="conditional generators: draw only this class index (MNIST's digits: 0-9)")
    which.add_argument("--per-class", action="store_true",
                       help="conditional generators: a grid with one row per class, --cols samples each, each "
                            "row labelled with its class's name")
    which.add_argument("--interpolate", action="store_true",
                       help="write an animated GIF (--out *.gif) walking the latent space between random "
                            "points, each grid cell on its own path; a conditional generator walks from "
                            "each class to the next")
    parser.add_argument("--points", type=int, default=WALK_POINTS,
                        help="--interpolate: random points on each closed walk (default %(default)s)")
    parser.add_argument("--steps", type=int, default=WALK_STEPS,
                        help="--interpolate: frames between two points (default %(default)s)")
    parser.add_argument("--duration", type=float, default=WALK_FRAME_SECONDS,
                        help="--interpolate: seconds per frame (default %(default)s)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing output")
    add_debug_argument(parser)
    return parser


def gif_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="make_gif.py",
                                     description="Animate a run folder's grids, in iteration order.")
    parser.add_argument("run_dir", help="a run folder holding grid_*.png files")
    parser.add_argument("--out", default=None, help="GIF path (default: RUN_DIR/progress.gif)")
    parser.add_argument("--duration", type=float, default=GIF_FRAME_SECONDS,
                        help="seconds per frame (default %(default)s)")
    parser.add_argument("--caption", action="store_true", help="write the iteration under each frame")
    parser.add_argument("--force", action="store_true", help="overwrite an existing GIF")
    add_debug_argument(parser)
    return parser


def evaluate_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m gan_keras.evaluate",
        description="Score generated images with their data's ruler: the shipped evaluation classifier of "
                    "MNIST and Fashion-MNIST (Frechet distance of its features to the real test images, lower is "
                    "better; Inception Score; the rarest class's share, near 0 for mode collapse; the share of "
                    "samples suspiciously close to a training image), that classifier on each channel of Stacked "
                    "MNIST (modes covered of 1,000, KL from uniform, each channel's FD), or InceptionV3 for any "
                    "images (FD and KID: --inception).")
    parser.add_argument("target", nargs="?", help="a run folder or a generator .keras file")
    parser.add_argument("--samples", type=int, default=None,
                        help="images to score (default: 10,000; Stacked MNIST's benchmark count, 26,000, for it)")
    parser.add_argument("--dataset", choices=("mnist", "fashion_mnist", "stacked_mnist"), default=None,
                        help="reference data (default: the run's, else mnist)")
    parser.add_argument("--inception", action="store_true",
                        help="score with InceptionV3's pool features at 299x299 (FD and KID; any images): Keras's "
                             "ImageNet weights, downloaded into Keras's cache once, or --inception-weights")
    parser.add_argument("--inception-weights", metavar="FILE", default=None,
                        help="InceptionV3 weights without the top, as keras.applications.InceptionV3(weights=FILE) "
                             "loads them (implies --inception); their SHA-256 names the ruler")
    parser.add_argument("--data", default=None, help="local data file or IDX folder (default: the run's)")
    parser.add_argument("--calibrate", action="store_true",
                        help="also score real training images, uniform noise and one repeated digit")
    parser.add_argument("--seed", type=int, default=0, help="noise seed for the samples (default %(default)s)")
    parser.add_argument("--checkpoints", action="store_true",
                        help="score every checkpoint (raw G and its average) and saved generator of a run "
                             "folder; prints a table and plots FD and IS against iteration to "
                             "RUN/checkpoint_scores.png")
    parser.add_argument("--train-classifier", action="store_true",
                        help="for data with no shipped classifier: train one here (minutes) and cache it; "
                             "its scores carry a local version name")
    parser.add_argument("--json", default=None, help="also write the scores to this JSON file")
    parser.add_argument("--force", action="store_true",
                        help="overwrite an existing --json file and --checkpoints' plot")
    add_debug_argument(parser)
    return parser


def run_command(main: Callable[[argparse.Namespace], None], parser: argparse.ArgumentParser,
                argv: list[str] | None = None) -> int:
    """Parse, run, and turn known failures into one line on stderr with exit code 1 or 2.

    Run from the command line (``argv`` None) without ``--debug``, the command runs in a child process
    whose stderr this one filters (:mod:`gan_keras.console`): TensorFlow's known harmless lines are
    dropped and everything else, a crash's last words included, is shown.
    """
    args = parser.parse_args(argv)
    if argv is None and not args.debug:
        status = console.run_filtered(parser.prog)
        if status is not None:
            return status
    console.quiet_tensorflow(debug=args.debug)
    if argv is None:  # a command of its own (not a call from a program that owns stderr)
        faulthandler.enable()  # a segfault or abort prints the Python stack it happened in
    try:
        main(args)
    except GanKerasError as error:
        if args.debug:
            traceback.print_exc()
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return error.exit_code
    except OSError as error:
        if args.debug:
            traceback.print_exc()
        print(f"{parser.prog}: error: {error.filename or ''}: {error.strerror or error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - last resort: still one line, unless --debug
        if args.debug:
            traceback.print_exc()
        print(f"{parser.prog}: error: {type(error).__name__}: {error} (run with --debug for details)",
              file=sys.stderr)
        return 1
    return 0
