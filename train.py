"""Train the notebook's DCGAN: python train.py --epochs N [--data mnist.npz] ..."""

import sys

from gan_keras.cli import run_command, train_parser
from gan_keras.commands import train_command

if __name__ == "__main__":
    sys.exit(run_command(train_command, train_parser()))
