"""The training-recipe study of docs/quality.md: each lever alone, then combined, over three seeds.

    python tools/recipe_study.py --data mnist.npz --out study            # train every arm, seeds 7 8 9
    python tools/recipe_study.py --data mnist.npz --out study --arms notebook,ttur-8-4 --seeds 7
    python tools/recipe_study.py --out study --report                    # the table, from the runs on disk

Every arm is one train.py command (the product's own options, nothing else), run one at a time
for 3,000 iterations (arms with a bigger batch: the iterations that take the same wall time).
Each finished run has scored its averaged and its raw generator on 10,000 samples with the
shipped evaluator (the end-of-run pick, ``sampled.json``); the report gives, per arm, the
median over seeds of the picked generator's FD (what ``generator.keras`` is), of the raw G's
and of the average's. A run already on disk is not trained again, so the study can be
stopped and continued. Time per iteration is measured apart, with every arm in one process
(``--time``), since the training runs share the machine with whatever else runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

ITERATIONS = 3000
SEEDS = (7, 8, 9)
BATCH_64_ITERATIONS = 1570  # batch 64 takes 1.92x batch 32's time per iteration (bf16, Zen 4): equal wall time

TTUR = ["--d-lr", "8e-4", "--g-lr", "4e-4", "--d-dropout", "0"]  # --recipe ttur's knobs, given one by one
STACKED = ["--dataset", "stacked_mnist"]
# name: (what it changes, train.py options, iterations)
ARMS = {
    "notebook": ("the notebook's recipe", [], ITERATIONS),
    "normal-init": ("N(0, 0.02) initialisation", ["--init", "normal"], ITERATIONS),
    "no-dropout": ("no Dropout in D", ["--d-dropout", "0"], ITERATIONS),
    "normal-no-dropout": ("N(0, 0.02), no Dropout in D", ["--init", "normal", "--d-dropout", "0"], ITERATIONS),
    "spectral": ("spectral normalisation in D", ["--d-norm", "spectral"], ITERATIONS),
    "batchnorm-d": ("BatchNorm in D", ["--d-norm", "batch"], ITERATIONS),
    "ttur-4-2": ("two time-scale: D 4e-4, G 2e-4", ["--d-lr", "4e-4"], ITERATIONS),
    "ttur-8-4": ("two time-scale: D 8e-4, G 4e-4", ["--d-lr", "8e-4", "--g-lr", "4e-4"], ITERATIONS),
    "smooth-0.1": ("one-sided label smoothing, real 0.9", ["--label-smoothing", "0.1"], ITERATIONS),
    "hinge": ("hinge loss", ["--loss", "hinge"], ITERATIONS),
    "r1-1": ("R1 penalty, gamma 1", ["--r1-gamma", "1"], ITERATIONS),
    "batch-64": ("batch 64 at equal wall time", ["--batch-size", "64"], BATCH_64_ITERATIONS),
    # combined: the faster two time-scale rates, then each stabiliser the single levers found helpful
    "ttur-16-8": ("two time-scale: D 1.6e-3, G 8e-4", ["--d-lr", "1.6e-3", "--g-lr", "8e-4"], ITERATIONS),
    "ttur-8-4-no-dropout": ("D 8e-4, G 4e-4, no Dropout in D", ["--d-lr", "8e-4", "--g-lr", "4e-4", "--d-dropout", "0"],
                            ITERATIONS),
    "ttur-8-4-spectral": ("D 8e-4, G 4e-4, spectral normalisation in D",
                          ["--d-lr", "8e-4", "--g-lr", "4e-4", "--d-norm", "spectral"], ITERATIONS),
    "ttur-8-4-r1": ("D 8e-4, G 4e-4, R1 gamma 1", ["--d-lr", "8e-4", "--g-lr", "4e-4", "--r1-gamma", "1"],
                    ITERATIONS),
    "ttur-8-4-smooth": ("D 8e-4, G 4e-4, label smoothing 0.1",
                        ["--d-lr", "8e-4", "--g-lr", "4e-4", "--label-smoothing", "0.1"], ITERATIONS),
    "ttur-16-8-spectral": ("D 1.6e-3, G 8e-4, spectral normalisation in D",
                           ["--d-lr", "1.6e-3", "--g-lr", "8e-4", "--d-norm", "spectral"], ITERATIONS),
    "ttur-16-8-r1": ("D 1.6e-3, G 8e-4, R1 gamma 1", ["--d-lr", "1.6e-3", "--g-lr", "8e-4", "--r1-gamma", "1"],
                     ITERATIONS),
    "ttur-8-4-no-dropout-smooth": ("D 8e-4, G 4e-4, no Dropout in D, label smoothing 0.1",
                                   ["--d-lr", "8e-4", "--g-lr", "4e-4", "--d-dropout", "0", "--label-smoothing", "0.1"],
                                   ITERATIONS),
    "ttur-8-4-no-dropout-r1": ("D 8e-4, G 4e-4, no Dropout in D, R1 gamma 1",
                               ["--d-lr", "8e-4", "--g-lr", "4e-4", "--d-dropout", "0", "--r1-gamma", "1"], ITERATIONS),
    "ttur-16-8-no-dropout": ("D 1.6e-3, G 8e-4, no Dropout in D",
                             ["--d-lr", "1.6e-3", "--g-lr", "8e-4", "--d-dropout", "0"], ITERATIONS),
    # the same at 20,000 iterations (the notebook's recipe needs about that many for good digits)
    "notebook-20k": ("the notebook's recipe", [], 20_000),
    "ttur-20k": ("`--recipe ttur`: D 8e-4, G 4e-4, no Dropout in D", TTUR, 20_000),
    # the conditional DCGAN
    "notebook-conditional": ("the notebook's recipe, conditional", ["--conditional"], ITERATIONS),
    "ttur-conditional": ("`--recipe ttur`, conditional", [*TTUR, "--conditional"], ITERATIONS),
    # Stacked MNIST (1,000 modes) beside plain MNIST, at 3,000 and 10,000 iterations
    "stacked-notebook": ("the notebook's recipe, Stacked MNIST", STACKED, ITERATIONS),
    "stacked-ttur": ("`--recipe ttur`, Stacked MNIST", [*TTUR, *STACKED], ITERATIONS),
    "stacked-ttur-10k": ("`--recipe ttur`, Stacked MNIST", [*TTUR, *STACKED], 10_000),
    "ttur-10k": ("`--recipe ttur`, plain MNIST", TTUR, 10_000),
    # levers for the balance of Stacked MNIST's modes (KL) at 10,000 iterations
    "stacked-ttur-10k-r1": ("`--recipe ttur`, R1 gamma 1, Stacked MNIST", [*TTUR, "--r1-gamma", "1", *STACKED],
                            10_000),
    "stacked-ttur-10k-batch-64": ("`--recipe ttur`, batch 64, Stacked MNIST", [*TTUR, "--batch-size", "64",
                                                                               *STACKED], 10_000),
    "stacked-ttur-20k": ("`--recipe ttur`, Stacked MNIST, twice as long", [*TTUR, *STACKED], 20_000),
    "stacked-ttur-10k-hinge": ("`--recipe ttur`, hinge loss, Stacked MNIST", [*TTUR, "--loss", "hinge", *STACKED],
                               10_000),
    "stacked-ttur-10k-spectral": ("`--recipe ttur`, spectral norm in D, Stacked MNIST",
                                  [*TTUR, "--d-norm", "spectral", *STACKED], 10_000),
}
STAGES = {"single": list(ARMS)[:12], "combined": list(ARMS)[12:22], "long": ["notebook-20k", "ttur-20k"],
          "conditional": ["notebook-conditional", "ttur-conditional"],
          "stacked": ["stacked-notebook", "stacked-ttur", "stacked-ttur-10k", "ttur-10k"],
          "stacked-levers": ["stacked-ttur-10k-r1", "stacked-ttur-10k-batch-64", "stacked-ttur-20k",
                             "stacked-ttur-10k-hinge", "stacked-ttur-10k-spectral"]}


def run_folder(out: str, arm: str, seed: int) -> str:
    return os.path.join(out, f"{arm}-s{seed}")


def train(arm: str, seed: int, data: str, out: str) -> None:
    """One arm's run for ``seed``, unless it is on disk already; its wall time goes to study.json."""
    folder = run_folder(out, arm, seed)
    if os.path.exists(os.path.join(folder, "sampled.json")):
        return
    if os.path.exists(folder):
        command = [sys.executable, os.path.join(ROOT, "train.py"), "--resume", folder, "--no-progress"]
    else:
        _, options, iterations = ARMS[arm]
        command = [sys.executable, os.path.join(ROOT, "train.py"), "--epochs", str(iterations), "--data", data,
                   "--seed", str(seed), "--out", folder, "--save-interval", str(iterations), "--no-tensorboard",
                   "--no-progress", *options]
    print(f"{arm}, seed {seed}: {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode:
        print(result.stdout[-2000:], result.stderr[-4000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"{arm}, seed {seed} failed (exit {result.returncode})")
    print("  " + result.stdout.strip().splitlines()[-1], flush=True)
    record = {"arm": arm, "seed": seed, "wall_seconds": elapsed, "stdout": result.stdout}
    if "--conditional" in ARMS[arm][1] or "stacked_mnist" in ARMS[arm][1]:  # generator.keras by the evaluate command
        scores = os.path.join(folder, "evaluate.json")
        subprocess.run([sys.executable, os.path.join(ROOT, "evaluate.py"), folder, "--json", scores, "--force"],
                       check=True, capture_output=True, cwd=ROOT)
        with open(scores) as handle:
            by_ruler = json.load(handle)  # {ruler: {what was scored: scores}}
        scored = next(iter(next(iter(by_ruler.values())).values()))
        record["conditional_accuracy"] = scored["conditional_accuracy"]
        record["stacked"] = scored["extra"] if scored.get("extra") else None
        record["evaluate_frechet_distance"] = scored["frechet_distance"]  # on the evaluate command's samples
    with open(os.path.join(folder, "study.json"), "w") as handle:
        json.dump(record, handle, indent=1)


def scores(out: str, arm: str, seed: int) -> dict | None:
    """{"picked", "raw", "average": FD, "sampled": which} of a finished run, None if it is not on disk."""
    path = os.path.join(run_folder(out, arm, seed), "sampled.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        record = json.load(handle)
    fd = {name: values["frechet_distance"] for name, values in record["scores"].items()}
    study = os.path.join(run_folder(out, arm, seed), "study.json")
    accuracy = None
    if os.path.exists(study):
        with open(study) as handle:
            accuracy = json.load(handle).get("conditional_accuracy")
    return {"picked": fd[record["sampled"]], "raw": fd["raw"], "average": fd["average"],
            "sampled": record["sampled"], "evaluator": record["evaluator"], "samples": record["samples"],
            "conditional_accuracy": accuracy}


def baseline_arm(arm: str) -> str:
    """The notebook-recipe arm an arm is compared with: the same length and the same conditioning."""
    for suffix in ("-20k", "-conditional"):
        if arm.endswith(suffix):
            return "notebook" + suffix
    return "notebook"


def median_picked(out: str, arm: str, seeds: list[int]) -> float | None:
    found = [scores(out, arm, seed) for seed in seeds]
    return statistics.median(f["picked"] for f in found) if all(found) else None


def report(out: str, arms: list[str], seeds: list[int], timings: dict[str, float] | None = None) -> str:
    """A markdown table: per arm, each seed's picked FD ("-" where not run) and, over all seeds, the
    medians (picked, raw, average); an arm with a seed missing gets no medians."""
    lines = [(f"| arm | what it changes | iterations | FD of generator.keras, seeds {', '.join(map(str, seeds))} "
              "| median | vs notebook | median raw G | median average | ms/it |"),
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for arm in arms:
        found = [scores(out, arm, seed) for seed in seeds]
        if not any(found):
            continue
        per_seed = " / ".join("-" if f is None else f"{f['picked']:.1f}{'' if f['sampled'] == 'raw' else 'a'}" + (
            f" ({f['conditional_accuracy']:.1%})" if f["conditional_accuracy"] is not None else "") for f in found)
        ms = f"{timings[arm]:.1f}" if timings and arm in timings else "-"
        median = raw = average = ratio = "-"
        if all(found):
            median = statistics.median(f["picked"] for f in found)
            baseline = median_picked(out, baseline_arm(arm), seeds)
            ratio = f"{median / baseline:.2f}x" if baseline else "-"
            median = f"{median:.1f}"
            raw = f"{statistics.median(f['raw'] for f in found):.1f}"
            average = f"{statistics.median(f['average'] for f in found):.1f}"
        lines.append(f"| {arm} | {ARMS[arm][0]} | {ARMS[arm][2]:,} | {per_seed} | {median} | {ratio} | "
                     f"{raw} | {average} | {ms} |")
    return "\n".join(lines)


def stacked_report(out: str, arms: list[str], seeds: list[int], timings: dict[str, float] | None = None) -> str:
    """A markdown table of the Stacked MNIST arms (and plain MNIST's): each seed's modes covered and KL from uniform
    of generator.keras on 26,000 samples (the evaluate command), the FD of the end-of-run pick on 10,000 samples
    (Stacked MNIST: the mean of the channels' FDs; the same noise for every run), and their medians."""
    lines = [f"| arm | what | iterations | modes, seeds {', '.join(map(str, seeds))} | KL | FD (Stacked: mean of the "
             "channels) | median modes | median KL | median FD | ms/it |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for arm in arms:
        found = [json.load(open(path)) if os.path.exists(path := os.path.join(run_folder(out, arm, seed), "study.json"))
                 else None for seed in seeds]
        if not any(found):
            continue
        picked = [(scores(out, arm, seed) or {}).get("picked") if record else None
                  for seed, record in zip(seeds, found)]
        stacked = [(f or {}).get("stacked") or {} for f in found]
        modes = " / ".join(str(s.get("modes_covered", "-")) for s in stacked)
        kl = " / ".join(f"{s['kl_from_uniform']:.3f}" if s else "-" for s in stacked)
        fd = " / ".join("-" if value is None else f"{value:.1f}" for value in picked)
        medians = ["-", "-", "-"]
        if all(stacked):
            medians[:2] = [f"{statistics.median(s['modes_covered'] for s in stacked):.0f}",
                           f"{statistics.median(s['kl_from_uniform'] for s in stacked):.3f}"]
        if all(value is not None for value in picked):
            medians[2] = f"{statistics.median(picked):.1f}"
        ms = f"{timings[arm]:.1f}" if timings and arm in timings else "-"
        lines.append(f"| {arm} | {ARMS[arm][0]} | {ARMS[arm][2]:,} | {modes} | {kl} | {fd} | {' | '.join(medians)} | "
                     f"{ms} |")
    return "\n".join(lines)


def time_arms(arms: list[str], data: str, blocks: int = 7, iterations: int = 20) -> dict[str, float]:
    """Median ms per iteration of each arm's training step as train.py builds it, every arm in this one
    process, their timed blocks taken in turn (so a slow spell of the machine hits them alike)."""
    import statistics as stats

    import keras
    import numpy as np

    from gan_keras.cli import train_parser
    from gan_keras.data import load_dataset
    from gan_keras.machine_choices import settle_for_this_machine
    from gan_keras.settings import asked_from_arguments, with_family_and_recipe
    from gan_keras.training.batches import InGraphBatches
    from gan_keras.training.gan import build_run_models
    from gan_keras.training.run_state import make_step

    steps, times = {}, {arm: [] for arm in arms}
    for arm in arms:
        asked = with_family_and_recipe(asked_from_arguments(train_parser().parse_args(["--seed", "0",
                                                                                        *ARMS[arm][1]])))
        dataset = load_dataset(asked.dataset, data)
        size, _, channels = dataset.image_shape
        config = settle_for_this_machine(dataclasses.replace(asked, image_size=size, channels=channels))
        keras.utils.set_random_seed(0)
        models = build_run_models(config, None)
        batches = InGraphBatches(dataset.x_train, np.zeros(len(dataset.x_train), np.int64), 0, config.batch_size,
                                 config.latent_dim, None, stack=dataset.stack)
        steps[arm] = make_step("fast", models, config.batch_size, batches=batches)
        steps[arm].run_in_calls(1, 10, 10)  # traced and warm
    for block in range(blocks):
        for arm in arms:
            started = time.perf_counter()
            steps[arm].run_in_calls(11 + block * iterations, iterations, 10)
            times[arm].append((time.perf_counter() - started) / iterations * 1000)
    return {arm: stats.median(values) for arm, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="MNIST .npz (Keras's layout)")
    parser.add_argument("--out", required=True, help="folder for the study's runs")
    parser.add_argument("--arms", default=",".join(ARMS),
                        help=f"comma-separated arms, or a stage: {', '.join(STAGES)} (default: all)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--report", action="store_true", help="print the table of the runs on disk; train nothing")
    parser.add_argument("--time", action="store_true",
                        help="with --report: also time each arm's step here (--data needed), into the ms/it column")
    parser.add_argument("--timings", metavar="JSON",
                        help="with --time: keep the times in this file; without: read the ms/it column from it")
    args = parser.parse_args()
    arms = STAGES.get(args.arms) or [arm.strip() for arm in args.arms.split(",") if arm.strip()]
    unknown = [arm for arm in arms if arm not in ARMS]
    if unknown:
        raise SystemExit(f"unknown arms: {', '.join(unknown)}; known: {', '.join(ARMS)}")
    if (not args.report or args.time) and not args.data:
        raise SystemExit("--data is needed to train or time")
    if not args.report:
        for seed in args.seeds:  # every arm's first seed first: the direction shows early
            for arm in arms:
                train(arm, seed, os.path.abspath(args.data), args.out)
    timings = None
    if args.time:
        from gan_keras.console import quiet_tensorflow

        quiet_tensorflow()
        timings = time_arms(arms, args.data)
        from gan_keras.roofline import cpu_description

        model, flags = cpu_description()
        print(f"timed on {model}, flags {' '.join(flags)}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
        if args.timings:
            with open(args.timings, "w") as handle:
                json.dump({"cpu": model, "flags": flags, "date": time.strftime("%Y-%m-%d"), "ms_per_iteration": timings},
                          handle, indent=1)
    elif args.timings:
        with open(args.timings) as handle:
            timings = json.load(handle)["ms_per_iteration"]
    stacked = [arm for arm in arms if arm in STAGES["stacked"] + STAGES["stacked-levers"]]
    if stacked:
        print(stacked_report(args.out, stacked, args.seeds, timings))
    others = [arm for arm in arms if arm not in stacked]
    if others:
        print(report(args.out, others, args.seeds, timings))


if __name__ == "__main__":
    main()
