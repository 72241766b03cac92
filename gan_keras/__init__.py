"""gan_keras: the Keras DCGAN notebook, correct under Keras 3, as a package.

Importing this package is cheap: TensorFlow and Keras are imported only by the
modules that need them, so the command-line scripts answer ``--help`` at once.
Before that, it asks TensorFlow for its oneDNN kernels on every x86-64 Linux CPU
(see :mod:`gan_keras.runtime`).
"""

from gan_keras.runtime import prefer_onednn

prefer_onednn()

__version__ = "1.0.0"
