"""The training engine: model assembly with a correct freeze, training steps, and the run loop."""
