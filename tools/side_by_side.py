"""Two grids side by side, each with a caption under it (the README's first picture).

    python tools/side_by_side.py LEFT.png "caption" RIGHT.png "caption" --out docs/recipe_vs_notebook.png
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gan_keras.images import caption, save_png  # noqa: E402

GAP = 12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("left")
    parser.add_argument("left_caption")
    parser.add_argument("right")
    parser.add_argument("right_caption")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    panels = [caption(np.asarray(Image.open(path).convert("L")), text)
              for path, text in ((args.left, args.left_caption), (args.right, args.right_caption))]
    height = max(panel.shape[0] for panel in panels)
    gap = np.full((height, GAP), 255, np.uint8)
    padded = [np.pad(panel, ((0, height - panel.shape[0]), (0, 0)), constant_values=255) for panel in panels]
    save_png(np.concatenate([padded[0], gap, padded[1]], axis=1), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
