"""Animate a run's sample grids: python make_gif.py runs/RUN [--duration 0.5] [--caption]"""

import sys

from gan_keras.commands import gif_main

if __name__ == "__main__":
    sys.exit(gif_main())
