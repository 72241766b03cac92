"""Draw samples from a saved generator: python sample.py runs/RUN/generator.keras --out samples.png"""

import sys

from gan_keras.cli import run_command, sample_parser
from gan_keras.commands import sample_command

if __name__ == "__main__":
    sys.exit(run_command(sample_command, sample_parser()))
