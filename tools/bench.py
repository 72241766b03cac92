"""Training speed, side by side in one process: python tools/bench.py [--data mnist.npz] [--image-size 64]

Times (a) the notebook's loop exactly as the seed writes it (float64 NumPy
batches, ``generator.predict`` and three ``train_on_batch`` calls; only the
freeze is fixed), (b) the project's default as train.py runs it (the fast step,
10 iterations per compiled call, the default --mixed-precision as it settles on
this CPU), (k) the same two networks trained in keras-io's form (its DCGAN example:
a ``keras.Model`` whose ``train_step`` is overridden, compiled with Keras's defaults
and trained by ``fit`` on a ``tf.data`` pipeline, in float32), and (c) the other variants: float32 and bf16 explicitly, the fast step
fed one batch per call, ``--loop notebook``, the sub-pixel form of
G's upsampling (``--upsampling subpixel``), G's BatchNorm trained op by op as
Keras does ("Keras BN") rather than by the fused kernel, larger batches. Each is warmed up, then
timed over several repeats; the median is reported with peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from typing import NamedTuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(ROOT, "gan_keras")):  # a checkout's own package; copied out: the installed one
    sys.path.insert(0, ROOT)

from gan_keras.console import filtered_main, quiet_tensorflow  # noqa: E402

quiet_tensorflow()

import numpy as np  # noqa: E402

from gan_keras.data import ImageRequest, load_dataset  # noqa: E402
from gan_keras.machine_choices import PrecisionChoice  # noqa: E402


class PeakMemory:
    """Samples this process's resident memory in a thread; ``peak_mib`` after the block."""

    def __init__(self, interval: float = 0.005):
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(self.interval)

    def __enter__(self):
        self.peak = self.rss()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return self.peak / 2**20


def seed_notebook_iteration(models, x_train, batch_size, latent_dim):
    """One iteration of the seed notebook's loop, as written (the freeze fixed, no print)."""
    valid, fake = np.ones((batch_size, 1)), np.zeros((batch_size, 1))
    idx = np.random.randint(0, x_train.shape[0], batch_size)
    imgs = x_train[idx]
    noise = np.random.normal(0, 1, (batch_size, latent_dim))
    gen_imgs = models.generator.predict(noise, verbose=0)
    d_loss_real = models.discriminator.train_on_batch(imgs, valid)
    d_loss_fake = models.discriminator.train_on_batch(gen_imgs, fake)
    0.5 * np.add(d_loss_real, d_loss_fake)
    noise = np.random.normal(0, 1, (batch_size, latent_dim))
    models.combined.train_on_batch(noise, valid)


class KerasIoGAN:
    """keras-io's DCGAN example (``examples/generative/dcgan_overriding_train_step.py``) in its own form, holding
    the project's two networks: built once, compiled with Keras's defaults, trained by ``fit``."""

    def __init__(self, generator, discriminator, latent_dim: int, lr: float, beta1: float):
        import keras
        import tensorflow as tf

        class GAN(keras.Model):
            def __init__(self):
                super().__init__()
                self.generator, self.discriminator = generator, discriminator

            def compile(self, d_optimizer, g_optimizer, loss_fn):
                super().compile()
                self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

            def train_step(self, real_images):
                batch_size = tf.shape(real_images)[0]
                fake = self.generator(tf.random.normal((batch_size, latent_dim)))
                combined = tf.concat([fake, real_images], axis=0)
                labels = tf.concat([tf.zeros((batch_size, 1)), tf.ones((batch_size, 1))], axis=0)
                labels += 0.05 * tf.random.uniform(tf.shape(labels))  # keras-io's "important trick"
                with tf.GradientTape() as tape:
                    d_loss = self.loss_fn(labels, self.discriminator(combined))
                weights = self.discriminator.trainable_weights
                self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, weights), weights))
                with tf.GradientTape() as tape:
                    predictions = self.discriminator(self.generator(tf.random.normal((batch_size, latent_dim))))
                    g_loss = self.loss_fn(tf.ones((batch_size, 1)), predictions)
                weights = self.generator.trainable_weights
                self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, weights), weights))
                return {"d_loss": d_loss, "g_loss": g_loss}

        self.gan = GAN()
        self.gan.compile(keras.optimizers.Adam(lr, beta_1=beta1), keras.optimizers.Adam(lr, beta_1=beta1),
                         keras.losses.BinaryCrossentropy())

    def trainer(self, images_uint8, batch_size: int):
        """``train(n)``: ``n`` more iterations through ``fit``, from a shuffled, batched, prefetched pipeline."""
        import tensorflow as tf

        dataset = (tf.data.Dataset.from_tensor_slices(np.asarray(images_uint8))
                   .map(lambda image: tf.cast(image, tf.float32) / 127.5 - 1.0)
                   .shuffle(1024).batch(batch_size, drop_remainder=True).repeat().prefetch(32))
        return lambda n: self.gan.fit(dataset, steps_per_epoch=n, epochs=1, verbose=0, shuffle=False)  # shuffled above


def prepare_variant(variant: Variant, images_uint8, args) -> dict:
    """Build the models as train.py does (the notebook as written and keras-io's form: with Keras's own layers),
    and a ``train(n)`` for them, warmed up."""
    import keras

    from gan_keras.defaults import TrainConfig
    from gan_keras.roofline import iteration_flops
    from gan_keras.training.gan import build_gan

    keras.utils.set_random_seed(0)
    models = build_gan(args.latent_dim, mixed_precision=variant.precision, ema=TrainConfig.ema,
                       upsampling=variant.upsampling, training_forms=variant.training_forms(),
                       fused_adam=variant.fused_adam(), image_shape=tuple(images_uint8.shape[1:]))
    if variant.loop == "kerasio":
        form = KerasIoGAN(models.generator, models.discriminator, args.latent_dim, 2e-4, 0.5)
        train = form.trainer(images_uint8, variant.batch)
        train(args.warmup)
        return {"train": train, "flops": iteration_flops(models, variant.batch), "blocks": []}
    train = iterations_trainer(models, variant.batch, variant.loop, images_uint8, args)
    train(args.warmup)
    return {"train": train, "flops": iteration_flops(models, variant.batch), "blocks": []}


def time_block(variant: dict, iterations: int) -> None:
    """Time ``iterations`` more iterations of ``variant``; their mean is one block."""
    started = time.perf_counter()
    variant["train"](iterations)
    variant["blocks"].append((time.perf_counter() - started) / iterations)


def summary(variant: dict, batch_size: int, peak_mib: float) -> dict:
    ms = 1000 * statistics.median(variant["blocks"])
    return {"batch": batch_size, "ms": ms, "images_per_s": batch_size / ms * 1000, "peak_mib": peak_mib,
            "spread": 1000 * (max(variant["blocks"]) - min(variant["blocks"])), "flops": variant["flops"]}


def timed_rows(variants, images_uint8, args):
    """Yield each variant's figures: one after another, or with --interleave, every variant built
    first and their timed blocks taken in turn, so that a slow spell of the machine hits them alike."""
    if not args.interleave:
        for variant in variants:
            with PeakMemory() as memory:
                prepared = prepare_variant(variant, images_uint8, args)
                for _ in range(args.repeats):
                    time_block(prepared, args.iterations)
            yield summary(prepared, variant.batch, memory.peak_mib)
        return
    with PeakMemory() as memory:
        prepared = [prepare_variant(variant, images_uint8, args) for variant in variants]
        for _ in range(args.repeats):
            for one in prepared:
                time_block(one, args.iterations)
    for one, variant in zip(prepared, variants):
        yield summary(one, variant.batch, memory.peak_mib)


def iterations_trainer(models, batch_size, loop, images_uint8, args):
    """A function ``train(n)`` that runs the next ``n`` iterations the way ``loop`` runs them.

    ``seed``: the notebook's own loop; ``notebook`` and ``fed``: one step call per iteration
    on the run's batch pipeline; ``fast``: as train.py runs it, several iterations per
    compiled call (up to --log-interval's default), batches drawn inside the call.
    """
    import tensorflow as tf

    from gan_keras.defaults import TrainConfig
    from gan_keras.training.batches import InGraphBatches, batch_stream
    from gan_keras.training.run_state import make_step

    if loop == "seed":
        x_train = np.asarray(images_uint8) / 127.5 - 1.0
        return lambda n: [seed_notebook_iteration(models, x_train, batch_size, args.latent_dim) for _ in range(n)]
    labels = np.zeros(len(images_uint8), np.int64)
    in_graph = None if loop == "notebook" else InGraphBatches(images_uint8, labels, 0, batch_size, args.latent_dim,
                                                              None)
    step = make_step("notebook" if loop == "notebook" else "fast", models, batch_size, batches=in_graph)
    if loop == "fast":
        done = [0]

        def train(n):
            step.run_in_calls(done[0] + 1, n, TrainConfig.log_interval)
            done[0] += n
        return train
    total = args.warmup + args.repeats * args.iterations
    batches = batch_stream(tf.distribute.get_strategy(), images_uint8, labels, 0, 0, total, batch_size,
                           args.latent_dim, None)
    return lambda n: [step(**next(batches)) for _ in range(n)]


DEFAULT = "default"  # a variant's precision or upsampling: train.py's default, as settled on this machine


class Variant(NamedTuple):
    name: str
    batch: int
    loop: str  # seed (the notebook as written), fast, fed (fast, one batch per call), notebook or kerasio
    precision: str  # --mixed-precision
    upsampling: str  # --upsampling
    keras_parts: tuple[str, ...] = ()  # training forms, or "fused_adam", left out: Keras's own there
    added_forms: tuple[str, ...] = ()  # training forms used even where train.py would not use them here

    def training_forms(self) -> tuple[str, ...]:
        """train.py's training forms on this machine less ``keras_parts``, plus ``added_forms``; none for the
        notebook as written."""
        from gan_keras.machine_choices import training_forms_here

        forms = training_forms_here(self.precision)
        forms += tuple(f for f in self.added_forms if f not in forms)
        return () if self.loop in ("seed", "kerasio") else tuple(f for f in forms if f not in self.keras_parts)

    def fused_adam(self) -> bool:
        """Whether Adam updates through TensorFlow's fused kernel, as train.py's do; not in the notebook as written."""
        return self.loop not in ("seed", "kerasio") and "fused_adam" not in self.keras_parts


VARIANTS = [
    Variant("(a) notebook as written", 32, "seed", "none", "transposed"),
    Variant("(b) default: fast step", 32, "fast", DEFAULT, DEFAULT),
    Variant("(k) keras-io form, fp32", 32, "kerasio", "none", "transposed"),
    Variant("(c) fast, float32", 32, "fast", "none", "transposed"),
    Variant("(c) fast, bf16", 32, "fast", "bf16", "transposed"),
    Variant("(c) fast fp32, Keras BN", 32, "fast", "none", "transposed", ("fused_norm",)),
    Variant("(c) fast bf16, Keras BN", 32, "fast", "bf16", "transposed", ("fused_norm",)),
    Variant("(c) fast fp32, Keras dropout", 32, "fast", "none", "transposed", ("fast_dropout",)),
    Variant("(c) fast bf16, Keras dropout", 32, "fast", "bf16", "transposed", ("fast_dropout",)),
    Variant("(c) fast fp32, Keras to_image", 32, "fast", "none", "transposed", ("tap_sum",)),
    Variant("(c) fast bf16, Keras to_image", 32, "fast", "bf16", "transposed", ("tap_sum",)),
    Variant("(c) fast fp32, Keras Adam", 32, "fast", "none", "transposed", ("fused_adam",)),
    Variant("(c) fast bf16, Keras Adam", 32, "fast", "bf16", "transposed", ("fused_adam",)),
    Variant("(c) fast bf16, TF kernel grad", 32, "fast", "bf16", "transposed", ("matmul_kernel_grad",)),
    Variant("(c) fast fp32, TF kernel grad", 32, "fast", "none", "transposed", ("matmul_kernel_grad",)),
    Variant("(c) fast fp32, matmul kernel grad", 32, "fast", "none", "transposed", (), ("matmul_kernel_grad",)),
    Variant("(c) fast fp32, sub-pixel", 32, "fast", "none", "subpixel"),
    Variant("(c) fast bf16, sub-pixel", 32, "fast", "bf16", "subpixel"),
    Variant("(c) fast fp32, 1 it/call", 32, "fed", "none", "transposed"),
    Variant("(c) --loop notebook, fp32", 32, "notebook", "none", "transposed"),
    Variant("(c) fast, batch 64", 64, "fast", DEFAULT, DEFAULT),
    Variant("(c) fast, batch 128", 128, "fast", DEFAULT, DEFAULT),
    Variant("(c) fast, batch 256", 256, "fast", DEFAULT, DEFAULT),
]


def chosen_variants(only: str) -> list[Variant]:
    """The variants whose names hold one of --only's parts (split at ';' where it has one, else at ',')."""
    parts = [part.strip() for part in only.split(";" if ";" in only else ",")]
    return [variant for variant in VARIANTS if any(part and part in variant.name for part in parts)]


def default_precision() -> PrecisionChoice:
    """train.py's default --mixed-precision as it settles on this machine (see roofline.choose_precision),
    from the same remembered measure of bf16's matmul speedup, and why."""
    import tensorflow as tf

    from gan_keras.defaults import TrainConfig
    from gan_keras.machine_choices import choose_precision

    gpus = len(tf.config.list_physical_devices("GPU"))
    return choose_precision(TrainConfig.mixed_precision, gpus)


def default_upsampling() -> str:
    """train.py's default --upsampling as it settles on this machine (see roofline.choose_upsampling)."""
    import tensorflow as tf

    from gan_keras.defaults import TrainConfig
    from gan_keras.machine_choices import choose_upsampling

    return choose_upsampling(TrainConfig.upsampling, len(tf.config.list_physical_devices("GPU")))


def machine_line() -> str:
    import keras
    import tensorflow as tf

    import gan_keras

    devices = ", ".join(d.name.replace("/physical_device:", "") for d in tf.config.list_physical_devices())
    return (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
            f"TensorFlow {tf.__version__}, Keras {keras.__version__}; devices: {devices}; "
            f"gan_keras {os.path.dirname(os.path.abspath(gan_keras.__file__))}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python tools/bench.py", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="the images, as train.py's --data takes them (default: MNIST)")
    parser.add_argument("--image-size", type=int, default=None, choices=(28, 32, 64, 128),
                        help="as train.py's --image-size (default: the data's own)")
    parser.add_argument("--channels", type=int, default=None, choices=(1, 3), help="as train.py's --channels")
    parser.add_argument("--warmup", type=int, default=20, help="untimed iterations per variant")
    parser.add_argument("--iterations", type=int, default=50, help="iterations per timed repeat")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per variant (median shown)")
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--only", default=None,
                        help="comma-separated parts of the variants' names to keep, e.g. '(a),(b)'; "
                             "separate with ';' instead to give names that hold commas")
    parser.add_argument("--interleave", action="store_true",
                        help="build every variant first, then time their blocks in turn (fairer A/B on a noisy "
                             "machine; peak MiB is then the whole process's)")
    args = parser.parse_args(argv)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # every variant traces its own step: TensorFlow's retracing warning is expected
    from gan_keras.roofline import FLAGS_THAT_MATTER, MATMUL_SIZE, cpu_description, matmul_rates
    from gan_keras.runtime import onednn_enabled

    images = load_dataset("mnist", args.data, ImageRequest(args.image_size, args.channels)).x_train
    print(machine_line())
    print(f"images: {len(images):,} of {'x'.join(map(str, images.shape[1:]))}")
    model, flags = cpu_description()
    rates = matmul_rates(("float32", "bfloat16"), MATMUL_SIZE, repeats=10)
    peak = {"none": rates["float32"], "bf16": rates["bfloat16"]}
    print(f"CPU: {model}; flags: {' '.join(flags) or 'none of ' + ', '.join(FLAGS_THAT_MATTER)}; "
          f"TensorFlow's oneDNN kernels: {'on' if onednn_enabled() else 'off (Eigen)'}")
    precision = default_precision()
    settled = {"precision": precision.precision, "upsampling": default_upsampling()}
    print(f"default (train.py's, as settled here): --mixed-precision {settled['precision']} ({precision.reason}), "
          f"--upsampling {settled['upsampling']}")
    print(f"roofline: a {MATMUL_SIZE} x {MATMUL_SIZE} matmul runs at {peak['none']:.0f} GFLOP/s in float32 and "
          f"{peak['bf16']:.0f} in bfloat16; limit = FLOPs of one iteration (counted from the built models) "
          f"/ that rate; efficiency = limit / measured")
    print(f"{args.warmup} warm-up iterations, then the median of {args.repeats} x {args.iterations} iterations"
          + (", the variants' blocks interleaved" if args.interleave else ""))
    variants = VARIANTS if args.only is None else chosen_variants(args.only)
    header = (f"{'variant':<33} {'batch':>5} {'dtype':>5} {'ms/it':>8} {'spread':>7} {'images/s':>9} {'vs (a)':>7} "
              f"{'peak MiB':>9} {'GFLOP/it':>9} {'limit ms':>9} {'efficiency':>10}")
    print(header)
    print("-" * len(header))
    baseline = None
    variants = [v._replace(precision=settled["precision"] if v.precision == DEFAULT else v.precision,
                           upsampling=settled["upsampling"] if v.upsampling == DEFAULT else v.upsampling)
                for v in variants]
    measured = {}
    for (name, batch, loop, precision, *_), row in zip(variants, timed_rows(variants, images, args)):
        measured[name[:3]] = row["ms"]
        baseline = baseline or (row["images_per_s"] if loop == "seed" else None)
        ratio = f"{row['images_per_s'] / baseline:.2f}x" if baseline else "-"
        limit = row["flops"] / (peak[precision if precision == "bf16" else "none"] * 1e9) * 1000
        dtype = "bf16" if precision == "bf16" else "fp32"
        print(f"{name:<33} {batch:>5} {dtype:>5} {row['ms']:>8.1f} {row['spread']:>7.1f} {row['images_per_s']:>9.0f} "
              f"{ratio:>7} {row['peak_mib']:>9.0f} {row['flops'] / 1e9:>9.2f} {limit:>9.1f} "
              f"{limit / row['ms']:>10.0%}", flush=True)
    if "(b)" in measured and "(k)" in measured:
        print(f"the default against keras-io's form: {measured['(k)'] / measured['(b)']:.2f}x as fast "
              f"({measured['(b)']:.1f} against {measured['(k)']:.1f} ms per iteration)")


if __name__ == "__main__":
    sys.exit(filtered_main(main))
