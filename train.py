"""Train the notebook's DCGAN: python train.py --epochs N [--data mnist.npz] ..."""

import sys

from gan_keras.commands import train_main

if __name__ == "__main__":
    sys.exit(train_main())
