"""Draw samples from a saved generator: python sample.py runs/RUN/generator.keras --out samples.png"""

import sys

from gan_keras.commands import sample_main

if __name__ == "__main__":
    sys.exit(sample_main())
