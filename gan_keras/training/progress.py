"""What a run shows while it trains: a progress bar with ETA and losses, and its last line.

Lazy imports: tqdm, when a bar is made.
"""

from __future__ import annotations

import time


def progress_bar(total: int, initial: int, enabled: bool):
    """A tqdm bar with ETA; the current losses go in its postfix."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, unit="it", dynamic_ncols=True,
                mininterval=0.5, desc="training")


def format_values(values: dict[str, float], names=None) -> str:
    """``name=value, ...`` with three decimals, for ``names`` (default: all) of ``values``."""
    return ", ".join(f"{name}={values[name]:.3f}" for name in (names or values))


def finished_line(iterations: int, seconds: float, scoring_seconds: float) -> str:
    """'trained N iterations in X s (R it/s ...)': the rate leaves out the time spent scoring generators."""
    rate = iterations / max(seconds - scoring_seconds, 1e-9)
    scoring = f"; {scoring_seconds:.1f} s of that scoring generators" if scoring_seconds >= 0.05 else ""
    return f"trained {iterations:,} iterations in {seconds:.1f} s ({rate:.1f} it/s{scoring})"


class ScoringClock:
    """Counts the seconds a run spends scoring generators, which its finished line leaves out of its rate."""

    def __init__(self):
        self.seconds = 0.0

    def __enter__(self):
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds += time.perf_counter() - self._started
