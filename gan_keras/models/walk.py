"""Every layer inside a model, nested models and wrapped layers included, through Keras's public API."""

from __future__ import annotations

from collections.abc import Iterator

import keras


def nested_layers(model: keras.Layer) -> Iterator[keras.Layer]:
    """Each layer of ``model`` once, depth first: a nested model's layers and a wrapper's layer too."""
    seen = set()

    def walk(layer):
        for child in _children(layer):
            if id(child) not in seen:
                seen.add(id(child))
                yield child
                yield from walk(child)

    yield from walk(model)


def _children(layer: keras.Layer) -> list:
    if isinstance(layer, keras.layers.Wrapper):
        return [layer.layer]
    return list(getattr(layer, "layers", []))
