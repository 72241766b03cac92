"""Score a run or a saved generator: python -m gan_keras.evaluate RUN_OR_GENERATOR [--calibrate]

Lazy imports: everything that loads Keras (the data, the evaluator, sampling, the models and
checkpoints of ``--checkpoints``) and matplotlib, inside the command, so that ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from gan_keras.cli import evaluate_parser, run_command
from gan_keras.errors import UsageError
from gan_keras.files import atomic_path



CHECKPOINT_PLOT = "checkpoint_scores.png"


def resolve_target(target: str) -> tuple[str, dict]:
    """(generator path, the run's recorded arguments or {}) for a run folder or a .keras file."""
    from gan_keras.run_dir import CONFIG_FILE, GENERATOR_FILE, read_run_record

    if os.path.isdir(target):
        generator_path = os.path.join(target, GENERATOR_FILE)
        if not os.path.isfile(generator_path):
            raise UsageError(f"{target} holds no {GENERATOR_FILE}: is it a run folder?")
        arguments = {}
        if os.path.isfile(os.path.join(target, CONFIG_FILE)):
            arguments = read_run_record(target)["arguments"]
        return generator_path, arguments
    return target, {}


def score_checkpoints(run_dir: str, evaluator, samples: int, seed: int, dataset) -> list[dict]:
    """FD and IS of every checkpoint (raw G and its average) and every saved generator of a run, each scored
    as its saved file computes (:func:`~gan_keras.scoring.evaluator.score_as_saved`)."""
    from gan_keras.machine_choices import STANDARD_LAYERS
    from gan_keras.run_dir import AVERAGE_GENERATOR_FILE, BEST_GENERATOR_FILE, GENERATOR_FILE, RAW_GENERATOR_FILE
    from gan_keras.settings import recorded_settings, with_family_and_recipe
    from gan_keras.sampling import load_generator
    from gan_keras.scoring.evaluator import score_as_saved
    from gan_keras.training.checkpoints import assign_groups, list_checkpoints, read_checkpoint, variable_groups
    from gan_keras.training.gan import build_run_models
    from gan_keras.training.outputs import read_best

    height, _, channels = dataset.image_shape
    config = dataclasses.replace(with_family_and_recipe(recorded_settings(run_dir)),  # an older file lacks some
                                 mixed_precision="none", upsampling="transposed", training_forms=STANDARD_LAYERS,
                                 image_size=height, channels=channels)
    models = build_run_models(config, dataset.classes if config.conditional else None)
    rows = []
    for iteration, path in list_checkpoints(run_dir):
        values, _ = read_checkpoint(path)
        groups = {name: group for name, group in variable_groups(models).items()
                  if name in ("generator", "generator_average")}
        assign_groups(values, groups, path, complete=False)
        for group, generator in (("generator_average", models.sampled), ("generator", models.generator)):
            if group in groups:
                scores = score_as_saved(evaluator, generator, samples, seed)
                rows.append(_row(f"checkpoint {iteration:,}", iteration, group, scores))
    best = read_best(run_dir)
    for name, iteration in ((GENERATOR_FILE, config.epochs), (RAW_GENERATOR_FILE, config.epochs),
                            (AVERAGE_GENERATOR_FILE, config.epochs), (BEST_GENERATOR_FILE, best.get("iteration"))):
        path = os.path.join(run_dir, name)
        if os.path.isfile(path):
            scores = score_as_saved(evaluator, load_generator(path), samples, seed)
            rows.append(_row(name, iteration, name, scores))
    return rows


def _row(label: str, iteration: int | None, kind: str, scores) -> dict:
    return {"what": label, "iteration": iteration, "kind": kind, "frechet_distance": scores.frechet_distance,
            "inception_score": scores.inception_score, "rarest_class_share": scores.rarest_class_share,
            "evaluator": scores.evaluator}


def plot_checkpoint_scores(rows: list[dict], out_path: str) -> None:
    """FD and IS against iteration, one line for the raw G and one for its average."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gan_keras.files import atomic_path

    figure, (fd_axis, is_axis) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    for kind, label in (("generator_average", "averaged G (EMA)"), ("generator", "raw G")):
        points = sorted((r["iteration"], r["frechet_distance"], r["inception_score"]) for r in rows
                        if r["kind"] == kind)
        if points:
            fd_axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
            is_axis.plot([p[0] for p in points], [p[2] for p in points], marker="o", label=label)
    fd_axis.set_ylabel("Frechet distance (lower is better)")
    is_axis.set_ylabel("Inception Score")
    is_axis.set_xlabel("iteration")
    for axis in (fd_axis, is_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    with atomic_path(out_path) as partial:
        figure.savefig(partial, format="png", dpi=100)
    plt.close(figure)


def evaluate_command(args: argparse.Namespace) -> None:
    from gan_keras.sampling import load_generator
    from gan_keras.scoring.classifier import EvaluatorError
    from gan_keras.scoring.evaluator import score_as_saved
    from gan_keras.scoring.rulers import ruler_for

    _check_arguments(args)
    generator_path, recorded = resolve_target(args.target) if args.target else (None, {})
    generator = load_generator(generator_path) if generator_path else None
    dataset = _run_dataset(args, recorded)
    print(f"data: {dataset.describe()}", flush=True)
    evaluator = ruler_for(dataset, train_classifier=args.train_classifier, inception=args.inception,
                          inception_weights=args.inception_weights, verbose=1, memorization=True)
    if evaluator is None:
        raise EvaluatorError(f"no ruler knows {dataset.source}: add --inception (InceptionV3's FD and KID, any "
                             f"images) or, for labelled data, --train-classifier")
    samples = args.samples or evaluator.samples  # the ruler's own count: 26,000 for Stacked MNIST, else 10,000
    results = {}
    if args.calibrate:
        results.update(_calibration(evaluator, dataset, samples))
    if args.checkpoints:
        results.update(_checkpoint_table(args, evaluator, dataset, samples))
        generator = None
    if generator is not None:
        scores = score_as_saved(evaluator, generator, samples, args.seed)
        results[generator_path] = scores
        print(f"{generator_path}: {samples:,} samples")
        print(f"  {scores.line()}")
        if 0 < len(scores.class_shares) <= 100:
            print("  class shares: " + " ".join(f"{i}:{s:.1%}" for i, s in enumerate(scores.class_shares)))
    if args.json:
        with atomic_path(args.json) as partial, open(partial, "w") as handle:
            json.dump({evaluator.version: {name: s if isinstance(s, dict) else vars(s) for name, s in results.items()}},
                      handle, indent=2)


def _check_arguments(args: argparse.Namespace) -> None:
    if args.samples is not None and not 100 <= args.samples <= 1_000_000:
        raise UsageError(f"--samples must be between 100 and 1,000,000, got {args.samples}")
    if args.target is None and not args.calibrate:
        raise UsageError("give a run folder or generator file, or --calibrate")
    if args.json and os.path.exists(args.json) and not args.force:
        raise UsageError(f"{args.json} exists; --force overwrites it")
    plot_path = os.path.join(args.target or "", CHECKPOINT_PLOT)
    if args.checkpoints and os.path.exists(plot_path) and not args.force:
        raise UsageError(f"{plot_path} exists; --force overwrites it")


def _run_dataset(args: argparse.Namespace, recorded: dict):
    """The data a run was trained on (as its config.json records it, shaped as it was), or the one given."""
    from gan_keras.data import ImageRequest, load_dataset

    request = ImageRequest(recorded.get("image_size"), recorded.get("channels"),
                           recorded.get("resize", ImageRequest.resize), recorded.get("background", ImageRequest.background))
    return load_dataset(args.dataset or recorded.get("dataset", "mnist"), args.data or recorded.get("data"), request)


def _calibration(evaluator, dataset, samples: int) -> dict:
    from gan_keras.scoring.evaluator import calibration_sets

    results = {}
    print(f"calibration, {samples:,} images each, against the real images:")
    for name, images in calibration_sets(dataset, samples).items():
        results[name] = evaluator.score(images)
        print(f"  {name:<34} {results[name].line()}", flush=True)
    return results


def _checkpoint_table(args: argparse.Namespace, evaluator, dataset, samples: int) -> dict:
    if not os.path.isdir(args.target or ""):
        raise UsageError("--checkpoints scores a run folder's checkpoints: give a run folder")
    rows = score_checkpoints(args.target, evaluator, samples, args.seed, dataset)
    print(f"{'what':<26} {'iteration':>9} {'generator':<20} {'FD':>9} {'IS':>6}")
    for row in rows:
        iteration = "" if row["iteration"] is None else f"{row['iteration']:,}"
        print(f"{row['what']:<26} {iteration:>9} {row['kind']:<20} {row['frechet_distance']:9.3f} "
              f"{row['inception_score']:6.2f}", flush=True)
    plot_path = os.path.join(args.target, CHECKPOINT_PLOT)
    plot_checkpoint_scores(rows, plot_path)
    print(f"plot: {plot_path}")
    return {f"{row['what']} ({row['kind']})": row for row in rows}


def main(argv: list[str] | None = None) -> int:
    return run_command(evaluate_command, evaluate_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
