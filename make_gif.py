"""Animate a run's sample grids: python make_gif.py runs/RUN [--duration 0.5] [--caption]"""

import sys

from gan_keras.cli import gif_parser, run_command
from gan_keras.commands import gif_command

if __name__ == "__main__":
    sys.exit(run_command(gif_command, gif_parser()))
