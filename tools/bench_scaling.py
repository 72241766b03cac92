"""Data-parallel training speed: python tools/bench_scaling.py [--data mnist.npz]

Times the default training step (the run's own batch pipeline and fast step) under
each ``--strategy``, one fresh process per configuration (TensorFlow fixes its devices
and strategy at start-up): 1 device; MirroredStrategy over 2 devices with synchronized
and with per-replica BatchNorm; MultiWorkerMirroredStrategy with 2 worker processes
on 127.0.0.1. It also counts the bytes all-reduced per iteration, the figure a
multi-GPU estimate needs. On a machine with few cores, extra replicas share the same
cores: what this shows is correctness and overhead, not speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(ROOT, "gan_keras")):  # a checkout's own package; copied out: the installed one
    sys.path.insert(0, ROOT)

CONFIGURATIONS = [
    ("1 device (default)", "default", None, True),
    ("mirrored, 2 devices", "mirrored", "CPU:0,CPU:1", True),
    ("mirrored, 2 devices, per-replica BN", "mirrored", "CPU:0,CPU:1", False),
    ("multiworker, 2 local workers", "multiworker", None, True),
]


def allreduced_bytes(models) -> dict[str, int]:
    """Bytes each replica all-reduces per iteration of the notebook DCGAN's separate D updates.

    D's gradients twice (real batch, then fake batch), G's once, and the BatchNorm
    layers' sums (sum, sum of squares and count per channel) when synchronized, in
    G's training pass.
    """
    import numpy as np

    from gan_keras.training.gan import batch_norm_layers

    def size(variables):
        return sum(int(np.prod(v.shape)) * 4 for v in variables)

    bn = sum(3 * layer.gamma.shape[0] * 4 for layer in batch_norm_layers(models.generator))
    gradients = 2 * size(models.discriminator.trainable_variables) + size(models.generator.trainable_variables)
    return {"gradients": gradients, "batch_norm": bn, "collectives": 2 * len(models.discriminator.trainable_variables)
            + len(models.generator.trainable_variables) + 3 * len(batch_norm_layers(models.generator))}


def child(args: argparse.Namespace) -> None:
    """Time one configuration in this process; print one JSON line (the chief's, under multiworker)."""
    from gan_keras.console import quiet_tensorflow

    quiet_tensorflow()
    from gan_keras.training.distribute import make_strategy

    strategy = make_strategy(args.strategy, args.devices)
    import keras
    import numpy as np

    from gan_keras.data import load_dataset
    from gan_keras.training.batches import batch_stream
    from gan_keras.training.gan import batch_norm_layers, build_gan
    from gan_keras.training.run_state import make_step

    images = load_dataset("mnist", args.data).x_train
    keras.utils.set_random_seed(0)
    models = build_gan(strategy=strategy)
    if not args.sync_bn:
        for layer in batch_norm_layers(models.generator):
            layer.synchronized = False
    step = make_step("fast", models, args.batch_size, strategy)
    total = args.warmup + args.repeats * args.iterations
    batches = batch_stream(strategy, images, np.zeros(len(images), np.int64), 0, 0, total, args.batch_size, 100, None)
    for _ in range(args.warmup):
        step(**next(batches))
    blocks = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        for _ in range(args.iterations):
            step(**next(batches))
        blocks.append((time.perf_counter() - started) / args.iterations)
    print(json.dumps({"ms": 1000 * statistics.median(blocks), "spread": 1000 * (max(blocks) - min(blocks)),
                      "replicas": strategy.num_replicas_in_sync, **allreduced_bytes(models)}), flush=True)


def run_configuration(strategy: str, devices: str | None, sync_bn: bool, args: argparse.Namespace) -> dict:
    command = [sys.executable, os.path.abspath(__file__), "--child", "--strategy", strategy,
               "--batch-size", str(args.batch_size), "--warmup", str(args.warmup), "--iterations",
               str(args.iterations), "--repeats", str(args.repeats)]
    command += ["--devices", devices] if devices else []
    command += ["--data", args.data] if args.data else []
    command += [] if sync_bn else ["--per-replica-bn"]
    environments = [dict(os.environ)]
    if strategy == "multiworker":
        ports = []
        for _ in range(2):
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                ports.append(sock.getsockname()[1])
        cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
        environments = [{**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster,
                                                                 "task": {"type": "worker", "index": i}})}
                        for i in range(2)]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for env in environments]
    outputs = [process.communicate() for process in processes]
    if any(process.returncode for process in processes):
        raise SystemExit(f"error: {strategy} failed: {outputs[0][1].strip().splitlines()[-1:]}")
    return json.loads(outputs[0][0].strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python tools/bench_scaling.py", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="local MNIST .npz or IDX folder")
    parser.add_argument("--batch-size", type=int, default=32, help="the global batch (default: the notebook's)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--strategy", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--devices", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--per-replica-bn", dest="sync_bn", action="store_false", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return
    from bench import machine_line
    from gan_keras.roofline import cpu_description

    print(machine_line())
    model, flags = cpu_description()
    print(f"CPU: {model}; flags: {' '.join(flags)}")
    print(f"global batch {args.batch_size}; {args.warmup} warm-up iterations, then the median of "
          f"{args.repeats} x {args.iterations}")
    header = f"{'configuration':<38} {'replicas':>8} {'ms/it':>8} {'spread':>7} {'images/s':>9} {'vs 1':>6}"
    print(header)
    print("-" * len(header))
    baseline, row = None, {}
    for name, strategy, devices, sync_bn in CONFIGURATIONS:
        row = run_configuration(strategy, devices, sync_bn, args)
        images_per_s = args.batch_size / row["ms"] * 1000
        baseline = baseline or images_per_s
        print(f"{name:<38} {row['replicas']:>8} {row['ms']:>8.1f} {row['spread']:>7.1f} {images_per_s:>9.0f} "
              f"{images_per_s / baseline:>5.2f}x", flush=True)
    print(f"all-reduced per iteration and replica: {row['gradients'] / 1e6:.2f} MB of gradients "
          f"(D's twice, G's once) + {row['batch_norm'] / 1e3:.1f} kB of BatchNorm sums "
          f"({row['collectives']} tensors)")


if __name__ == "__main__":
    from gan_keras.console import filtered_main

    sys.exit(filtered_main(main))
