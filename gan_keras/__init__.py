"""gan_keras: the Keras DCGAN notebook, correct under Keras 3, as a package.

Importing this package is cheap: TensorFlow and Keras are imported only by the
modules that need them, so the command-line scripts answer ``--help`` at once.
"""

__version__ = "0.1.0"
