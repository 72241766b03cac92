"""Model families. Each module builds a generator and a discriminator."""

from gan_keras.models.dcgan import build_discriminator, build_generator

__all__ = ["build_generator", "build_discriminator"]
