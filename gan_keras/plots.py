"""The loss plot written at the end of a run."""

from __future__ import annotations

import csv

from gan_keras.files import atomic_path


def read_log(csv_path: str) -> dict[str, list[float]]:
    """Columns of a run's losses.csv as float lists."""
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    columns = rows[0].keys() if rows else []
    return {name: [float(row[name]) for row in rows] for name in columns}


def plot_losses(csv_path: str, out_path: str) -> None:
    """Plot D and G losses, and D's accuracy, against iterations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    log = read_log(csv_path)
    if not log.get("iteration"):
        return
    figure, (losses, accuracy) = plt.subplots(2, 1, figsize=(8, 6), sharex=True,
                                              gridspec_kw={"height_ratios": [2, 1]})
    losses.plot(log["iteration"], log["d_loss"], label="discriminator loss")
    losses.plot(log["iteration"], log["g_loss"], label="generator loss")
    losses.set_ylabel("binary cross-entropy")
    losses.legend()
    losses.grid(alpha=0.3)
    accuracy.plot(log["iteration"], log["d_acc"], color="tab:green")
    accuracy.set_ylabel("D accuracy")
    accuracy.set_ylim(0, 1)
    accuracy.set_xlabel("iteration")
    accuracy.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_path(out_path) as partial:
        figure.savefig(partial, format="png", dpi=100)
    plt.close(figure)
