"""Score a run or a generator: python evaluate.py runs/RUN [--samples 10000] [--calibrate]"""

import sys

from gan_keras.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
