"""Model families. Each builds a generator and a discriminator for an image shape; their training settings are
in :data:`gan_keras.defaults.MODEL_DEFAULTS`."""

from __future__ import annotations

import keras

from gan_keras.models import mlp
from gan_keras.models.dcgan import IMG_SHAPE as IMAGE_SHAPE
from gan_keras.models.dcgan import build_discriminator, build_generator

__all__ = ["IMAGE_SHAPE", "build_generator", "build_discriminator", "build_pair"]
BUILDERS = {
    "mlp": (mlp.build_mlp_generator, mlp.build_mlp_discriminator),
    "mlp-bn": (mlp.build_mlp_bn_generator, mlp.build_mlp_bn_discriminator),
    "fc": (mlp.build_fc_generator, mlp.build_fc_discriminator),
}


def build_pair(model: str, latent_dim: int, classes: int | None = None, dropout: float | None = None,
               d_norm: str = "none", image_shape: tuple[int, int, int] = IMAGE_SHAPE
               ) -> tuple[keras.Model, keras.Model]:
    """(generator, discriminator) of a family for images of ``image_shape`` (size, size, channels);
    ``dropout`` and ``d_norm`` change the DCGAN's D (:func:`build_discriminator`), and only the DCGAN has them."""
    if model == "dcgan":
        extra = {} if dropout is None else {"dropout": dropout}
        return (build_generator(latent_dim, classes, image_shape),
                build_discriminator(image_shape, classes=classes, normalization=d_norm, **extra))
    if dropout or d_norm != "none":
        raise ValueError(f"--d-dropout and --d-norm change the DCGAN's discriminator; {model} has neither")
    build_g, build_d = BUILDERS[model]
    return build_g(latent_dim, classes, image_shape), build_d(classes, image_shape)
