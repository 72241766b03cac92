"""Where one training iteration's time goes, op by op: python tools/profile_step.py [--precision bf16]

Traces the fast step, run as train.py runs it, with TensorFlow's profiler for a few
iterations after warm-up, reads the trace (an XSpace protobuf) and sums the time of
every TensorFlow op: by part of the model (convolutions, BatchNorm, Dropout, ...),
by op type and by op for the slowest ones. With ``--inter-op 1`` the ops run one at
a time, so their sum is the iteration's op time and each share is a share of it;
TensorFlow's default runs independent ops side by side on the two cores.

    python tools/profile_step.py --data mnist.npz --precision none
    python tools/profile_step.py --data mnist.npz --precision bf16 --top 25
"""

from __future__ import annotations

import argparse
import sys
import collections
import glob
import os
import tempfile
import time

from gan_keras.console import filtered_main, quiet_tensorflow

quiet_tensorflow()

import numpy as np  # noqa: E402

from gan_keras.defaults import TrainConfig  # noqa: E402

PER_CALL = TrainConfig.log_interval  # train.py's iterations per compiled call, by default


def trace_iterations(step, first: int, iterations: int, logdir: str) -> float:
    """Run ``iterations`` traced iterations; returns their wall time in seconds."""
    import tensorflow as tf

    tf.profiler.experimental.start(logdir)
    started = time.perf_counter()
    step.run_in_calls(first, iterations, PER_CALL)
    elapsed = time.perf_counter() - started
    tf.profiler.experimental.stop()
    return elapsed


def op_events(logdir: str):
    """(op name, op type, duration in ns) of every TensorFlow op the trace holds."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = sorted(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as handle:
        space.ParseFromString(handle.read())
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):  # the executor's threads: one event per op run
                continue
            for event in line.events:
                name = names.get(event.metadata_id, "")
                op_name, _, op_type = name.partition(":")
                if op_type and "::" not in name:
                    yield op_name, op_type, event.duration_ps / 1000


PARTS = (  # (part of the model, a test on (op name, op type)), first match wins
    ("convolutions and matmuls", lambda name, kind: "Conv2D" in kind or "MatMul" in kind),
    ("dropout (random masks)", lambda name, kind: "dropout" in name),
    ("batch normalization", lambda name, kind: "_bn" in name),
    ("LeakyReLU", lambda name, kind: "LeakyRelu" in kind),
    ("bias adds", lambda name, kind: "BiasAdd" in kind),
    ("optimizers and average", lambda name, kind: "optimizer" in name.lower() or "adam" in name.lower()
     or "average" in name.lower() or "Assign" in kind),
)


def part_of(op_name: str, op_type: str) -> str:
    return next((part for part, test in PARTS if test(op_name, op_type)), "everything else")


def list_ops(events, iterations: int, type_contains: str, top: int) -> None:
    """The ``top`` slowest ops whose type contains ``type_contains``, with their ms per iteration."""
    by_op = collections.Counter()
    for op_name, op_type, ns in events:
        if type_contains in op_type:
            by_op[f"{op_type}  {op_name}"] += ns
    print(f"\n{'ops of type *' + type_contains + '*':<130} {'ms/it':>7}")
    for op, ns in by_op.most_common(top):
        print(f"{op[:130]:<130} {ns / 1e6 / iterations:>7.2f}")


def report(events, iterations: int, wall_s: float, top: int) -> None:
    by_type, by_op, by_part = collections.Counter(), collections.Counter(), collections.Counter()
    for op_name, op_type, ns in events:
        by_type[op_type] += ns
        by_op[f"{op_type}  {op_name}"] += ns
        by_part[part_of(op_name, op_type)] += ns
    total = sum(by_type.values())
    print(f"wall {1000 * wall_s / iterations:.1f} ms/iteration; ops {total / 1e6 / iterations:.1f} ms/iteration "
          f"summed over threads")
    print(f"\n{'part':<40} {'ms/it':>7} {'share':>6}")
    for part, ns in by_part.most_common():
        print(f"{part:<40} {ns / 1e6 / iterations:>7.2f} {ns / total:>6.1%}")
    print(f"\n{'op type':<40} {'ms/it':>7} {'share':>6}")
    for op_type, ns in by_type.most_common(top):
        print(f"{op_type:<40} {ns / 1e6 / iterations:>7.2f} {ns / total:>6.1%}")
    print(f"\n{'op (type, name)':<130} {'ms/it':>7}")
    for op, ns in by_op.most_common(top):
        print(f"{op[:130]:<130} {ns / 1e6 / iterations:>7.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="the images, as train.py's --data takes them (default: MNIST)")
    parser.add_argument("--image-size", type=int, default=None, choices=(28, 32, 64, 128))
    parser.add_argument("--channels", type=int, default=None, choices=(1, 3))
    parser.add_argument("--precision", default="none", choices=["none", "bf16"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--inter-op", type=int, default=0, help="TensorFlow's inter-op threads (0: its default)")
    parser.add_argument("--ops", default=None, help="also list every op whose type contains this text (e.g. Cast)")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(args.inter_op)

    from gan_keras.data import ImageRequest, load_dataset
    from gan_keras.training.batches import InGraphBatches
    from gan_keras.training.gan import build_gan
    from gan_keras.machine_choices import training_forms_here
    from gan_keras.training.run_state import make_step

    images = load_dataset("mnist", args.data, ImageRequest(args.image_size, args.channels)).x_train
    keras.utils.set_random_seed(0)
    forms = training_forms_here(args.precision)  # train.py's, on this machine
    models = build_gan(mixed_precision=args.precision, ema=TrainConfig.ema, training_forms=forms,
                       image_shape=tuple(images.shape[1:]))
    batches = InGraphBatches(images, np.zeros(len(images), np.int64), 0, args.batch_size, 100, None)
    step = make_step("fast", models, args.batch_size, batches=batches)
    step.run_in_calls(1, args.warmup, PER_CALL)
    with tempfile.TemporaryDirectory() as logdir:
        wall = trace_iterations(step, 1 + args.warmup, args.iterations, logdir)
        events = list(op_events(logdir))
    print(f"training forms: {', '.join(forms)}")
    report(events, args.iterations, wall, args.top)
    if args.ops:
        list_ops(events, args.iterations, args.ops, args.top)


if __name__ == "__main__":
    sys.exit(filtered_main(main))
