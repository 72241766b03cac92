"""Score a run or a saved generator: python -m gan_keras.evaluate RUN_OR_GENERATOR [--calibrate]"""

from __future__ import annotations

import argparse
import json
import os
import sys

from gan_keras.cli import evaluate_parser, run_command
from gan_keras.errors import UsageError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def resolve_target(target: str) -> tuple[str, dict]:
    """(generator path, the run's recorded arguments or {}) for a run folder or a .keras file."""
    from gan_keras.run_dir import CONFIG_FILE, GENERATOR_FILE

    if os.path.isdir(target):
        generator_path = os.path.join(target, GENERATOR_FILE)
        if not os.path.isfile(generator_path):
            raise UsageError(f"{target} holds no {GENERATOR_FILE}: is it a run folder?")
        arguments = {}
        config_path = os.path.join(target, CONFIG_FILE)
        if os.path.isfile(config_path):
            with open(config_path) as handle:
                arguments = json.load(handle).get("arguments", {})
        return generator_path, arguments
    return target, {}


def evaluate_command(args: argparse.Namespace) -> None:
    from gan_keras.data import load_dataset
    from gan_keras.evaluation.evaluator import Evaluator, calibration_sets
    from gan_keras.sampling import load_generator

    if not 100 <= args.samples <= 1_000_000:
        raise UsageError(f"--samples must be between 100 and 1,000,000, got {args.samples}")
    if args.target is None and not args.calibrate:
        raise UsageError("give a run folder or generator file, or --calibrate")
    generator_path, recorded = resolve_target(args.target) if args.target else (None, {})
    generator = load_generator(generator_path) if generator_path else None
    dataset = load_dataset(args.dataset or recorded.get("dataset", "mnist"), args.data or recorded.get("data"))
    print(f"data: {dataset.describe()}", flush=True)
    evaluator = Evaluator(dataset)
    results = {}
    if args.calibrate:
        print(f"calibration, {args.samples:,} images each, against the {len(dataset.x_test):,} test images:")
        for name, images in calibration_sets(dataset, args.samples).items():
            scores = evaluator.score(images)
            results[name] = scores
            print(f"  {name:<34} {scores.line()}", flush=True)
    if generator is not None:
        scores = evaluator.score_generator(generator, args.samples, args.seed)
        results[generator_path] = scores
        print(f"{generator_path}: {args.samples:,} samples")
        print(f"  {scores.line()}")
        print("  class shares: " + " ".join(f"{i}:{s:.1%}" for i, s in enumerate(scores.class_shares)))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({name: vars(s) for name, s in results.items()}, handle, indent=2)


def main(argv: list[str] | None = None) -> int:
    return run_command(evaluate_command, evaluate_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
