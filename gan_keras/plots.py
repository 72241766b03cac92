"""The loss plot written at the end of a run.

Lazy imports: matplotlib, when a plot is drawn.
"""

from __future__ import annotations

import csv

from gan_keras.files import atomic_path


def read_log(csv_path: str) -> dict[str, list[float]]:
    """Columns of a run's losses.csv as float lists (NaN where a row has no value)."""
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = rows[0].keys() if rows else []
    return {name: [float(row[name]) if row.get(name) else float("nan") for row in rows] for name in columns}


def plot_losses(csv_path: str, out_path: str) -> None:
    """Plot D and G losses, D's accuracy and, when scored, the Frechet distance against iterations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = read_log(csv_path)
    if not log.get("iteration"):
        return
    scored = [(i, fd) for i, fd in zip(log["iteration"], log.get("frechet_distance", [])) if fd == fd]
    panels = 3 if scored else 2
    figure, axes = plt.subplots(panels, 1, figsize=(8, 3 * panels), sharex=True,
                                gridspec_kw={"height_ratios": [2, 1, 2][:panels]})
    losses, accuracy = axes[0], axes[1]
    losses.plot(log["iteration"], log["d_loss"], label="discriminator loss")
    losses.plot(log["iteration"], log["g_loss"], label="generator loss")
    losses.set_ylabel("binary cross-entropy")
    losses.legend()
    losses.grid(alpha=0.3)
    accuracy.plot(log["iteration"], log["d_acc"], color="tab:green")
    accuracy.set_ylabel("D accuracy")
    accuracy.set_ylim(0, 1)
    accuracy.grid(alpha=0.3)
    if scored:
        axes[2].plot(*zip(*scored), marker="o", color="tab:red")
        axes[2].set_ylabel("Frechet distance\n(classifier features, lower is better)")
        axes[2].grid(alpha=0.3)
    axes[-1].set_xlabel("iteration")
    figure.tight_layout()
    with atomic_path(out_path) as partial:
        figure.savefig(partial, format="png", dpi=100)
    plt.close(figure)
