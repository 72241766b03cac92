"""losses.csv: the step's losses averaged over each log interval, and scores when a run is scored.

The column names live here, where both the training steps and the loop import them.
"""

from __future__ import annotations

import csv

import numpy as np

from gan_keras.files import writing

LOSS_COLUMNS = ("d_loss", "d_acc", "g_loss", "d_loss_real", "d_loss_fake")
# Scores of the sampled generator (the averaged one when --ema is on), then of the raw trained one.
SCORE_COLUMNS = ("frechet_distance", "inception_score", "rarest_class_share",
                 "raw_frechet_distance", "raw_inception_score")
LOG_COLUMNS = ("iteration",) + LOSS_COLUMNS + SCORE_COLUMNS


class LossLog:
    """Averages the step's losses over each log interval and appends them to a CSV file."""

    def __init__(self, path: str, pending: list[dict[str, float]] | None = None):
        self.path = path
        with writing(self.path):
            self.handle = open(path, "a", newline="")
            self.writer = csv.writer(self.handle)
            if self.handle.tell() == 0:
                self.writer.writerow(LOG_COLUMNS)
        self.pending: list[dict[str, float]] = list(pending or [])
        self.scores: dict[str, float] = {}
        self.score_text = ""

    def add(self, losses: dict[str, float]) -> None:
        self.pending.append(losses)

    def flush(self, iteration: int) -> dict[str, float]:
        """Write one row: mean losses since the last row, and scores if some were just computed.

        Returns the row's values (losses, and the scores when present).
        """
        means = {name: float(np.mean([row[name] for row in self.pending])) for name in LOSS_COLUMNS}
        scores = [f"{self.scores[name]:.6f}" if name in self.scores else "" for name in SCORE_COLUMNS]
        with writing(self.path):
            self.writer.writerow([iteration] + [f"{means[name]:.6f}" for name in LOSS_COLUMNS] + scores)
            self.handle.flush()
        if self.scores:
            self.score_text = f", FD={self.scores['frechet_distance']:.2f}"
        row = {**means, **self.scores}
        self.pending.clear()
        self.scores = {}
        return row

    def close(self) -> None:
        try:
            self.handle.close()
        except OSError:
            pass  # the write error that matters was reported when it happened
