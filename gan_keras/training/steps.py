"""The training step for ``--loop``: the compiled fast step or the notebook's ``train_on_batch`` calls.

Both have the same semantics and share the models' optimizer state, so either can
continue a run the other started (``tests/test_fast_step.py``).
"""

from __future__ import annotations

from gan_keras.training.batches import InGraphBatches


def make_step(loop: str, models, batch_size: int, strategy=None, batches: InGraphBatches | None = None):
    """``--loop``'s step. ``batches`` lets the fast step draw its own inputs (``step.run``); the notebook
    loop is fed one batch per call."""
    if loop == "notebook":
        from gan_keras.training.notebook_step import NotebookStep

        return NotebookStep(models, batch_size, strategy)
    from gan_keras.training.fast_step import FastStep

    return FastStep(models, batch_size, strategy=strategy, batches=batches)
