"""Does a run's memory grow with its data? Peak resident memory of train.py on 10,000 and on 200,000 images.

    python tools/data_memory.py [--folder /tmp/data_memory] [--counts 10000,200000] [--epochs 100]

Makes synthetic 64x64 RGB images (random blobs, as .npz files of uint8 (N, 64, 64, 3), written row by
row), then for each count runs ``train.py`` twice in one process each (``--debug``: no console child):
first a run on a new cache folder (large data is prepared into it), then one that reuses it, and reports each
one's peak resident memory (its own ``ru_maxrss``, from ``wait4``).
Prints the CPU and date, as every figure here should carry. Not part of the package.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
import zipfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = (64, 64, 3)


def write_images(path: str, count: int, seed: int = 0) -> None:
    """An .npz of ``count`` uint8 64x64 RGB images (a coloured square on a coloured ground), never whole in memory."""
    npy = path + ".x_train.npy"
    images = np.lib.format.open_memmap(npy, mode="w+", dtype=np.uint8, shape=(count, *SHAPE))
    rng = np.random.default_rng(seed)
    for begin in range(0, count, 10_000):
        rows = min(10_000, count - begin)
        block = np.empty((rows, *SHAPE), np.uint8)
        block[:] = rng.integers(0, 256, (rows, 1, 1, 3), dtype=np.uint8)
        corner = rng.integers(0, 40, (rows, 2))
        colour = rng.integers(0, 256, (rows, 3), dtype=np.uint8)
        for index in range(rows):
            top, left = corner[index]
            block[index, top:top + 24, left:left + 24] = colour[index]
        images[begin:begin + rows] = block
    images.flush()
    del images
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.write(npy, "x_train.npy")
    os.remove(npy)


def peak_rss_mib(command: list[str], env: dict) -> tuple[float, float, str]:
    """(peak resident MiB of ``command``'s process, from its own rusage, its seconds, its last line)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    stdout, stderr = process.stdout.read(), process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {stderr.strip()[-500:]}")
    return usage.ru_maxrss / 1024, seconds, stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/data_memory.py", description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="/tmp/data_memory", help="where the data, cache and runs go")
    parser.add_argument("--counts", default="10000,200000", help="image counts, smallest first")
    parser.add_argument("--epochs", type=int, default=100, help="iterations of each run")
    args = parser.parse_args(argv)
    counts = [int(count) for count in args.counts.split(",")]
    os.makedirs(args.folder, exist_ok=True)
    from gan_keras.roofline import cpu_description

    model, flags = cpu_description()
    print(f"{time.strftime('%Y-%m-%d')}, {model} ({' '.join(flags)}), {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    for count in counts:
        data = os.path.join(args.folder, f"images_{count}.npz")
        if not os.path.exists(data):
            write_images(data, count)
        cache = os.path.join(args.folder, f"cache_{count}_{os.getpid()}")
        env = {**os.environ, "GAN_KERAS_CACHE": cache}
        for attempt in ("first", "second"):
            out = os.path.join(args.folder, f"run_{count}_{attempt}_{os.getpid()}")
            command = [sys.executable, os.path.join(ROOT, "train.py"), "--data", data, "--epochs", str(args.epochs),
                       "--out", out, "--no-progress", "--no-tensorboard", "--debug", "--seed", "1"]
            peak, seconds, last = peak_rss_mib(command, env)
            print(f"{count:>8,} images ({os.path.getsize(data) / 2**30:.2f} GiB), {attempt} run: "
                  f"peak resident {peak:,.0f} MiB, {seconds:.0f} s; {last}", flush=True)
        shutil.rmtree(cache, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    sys.exit(main())
