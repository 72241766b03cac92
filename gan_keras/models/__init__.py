"""Model families. Each builds a generator and a discriminator; their training settings are
in :data:`gan_keras.defaults.MODEL_DEFAULTS`."""

from __future__ import annotations

import keras

from gan_keras.models import mlp
from gan_keras.models.dcgan import build_discriminator, build_generator

__all__ = ["build_generator", "build_discriminator", "build_pair"]


def build_pair(model: str, latent_dim: int, classes: int | None = None,
               dropout: float | None = None) -> tuple[keras.Model, keras.Model]:
    """(generator, discriminator) of a family; ``dropout`` overrides the DCGAN's (tests use 0)."""
    if model == "dcgan":
        extra = {} if dropout is None else {"dropout": dropout}
        return build_generator(latent_dim, classes), build_discriminator(classes=classes, **extra)
    builders = {
        "mlp": (mlp.build_mlp_generator, mlp.build_mlp_discriminator),
        "mlp-bn": (mlp.build_mlp_bn_generator, mlp.build_mlp_bn_discriminator),
        "fc": (mlp.build_fc_generator, mlp.build_fc_discriminator),
    }
    build_g, build_d = builders[model]
    return build_g(latent_dim, classes), build_d(classes)
