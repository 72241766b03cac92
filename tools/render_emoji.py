"""Render Debian's Noto Color Emoji to a folder of PNG pictures: a colour dataset for train.py --data.

    apt-get install fonts-noto-color-emoji
    python tools/render_emoji.py --out emoji [--size 64] [--font /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf]

The font is a bitmap font: every glyph, single characters and sequences alike (flags, skin tones,
families), is a colour PNG in its CBDT table. Each is read with fontTools (which matplotlib brings),
cropped to its ink, centred on a transparent square and resized (Lanczos) to ``--size`` pixels, and
saved as an RGBA PNG named after its glyph. ``train.py`` then lays the transparency on ``--background``.
Not part of the package.
"""

from __future__ import annotations

import argparse
import io
import os
import sys

from PIL import Image

FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"


def bitmaps(font_path: str):
    """(glyph name, RGBA picture) of every colour bitmap of the font's first strike."""
    from fontTools.ttLib import TTFont

    with TTFont(font_path) as font:
        for name, glyph in font["CBDT"].strikeData[0].items():
            glyph.ensureDecompiled()
            yield name, Image.open(io.BytesIO(glyph.imageData)).convert("RGBA")


def squared(picture: Image.Image, size: int) -> Image.Image | None:
    """``picture`` cropped to its ink, centred on a transparent square, resized; None where it has no ink."""
    box = picture.getchannel("A").getbbox()
    if box is None:
        return None
    glyph = picture.crop(box)
    side = max(glyph.size)
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(glyph, ((side - glyph.width) // 2, (side - glyph.height) // 2))
    return square.resize((size, size), Image.Resampling.LANCZOS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/render_emoji.py", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the folder to write the PNGs to (created)")
    parser.add_argument("--size", type=int, default=64, help="each picture's side in pixels (default %(default)s)")
    parser.add_argument("--font", default=FONT, help="the colour emoji font (default: Debian's Noto Color Emoji)")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.font):
        print(f"render_emoji.py: error: {args.font} not found: apt-get install fonts-noto-color-emoji",
              file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    written = 0
    for name, bitmap in bitmaps(args.font):
        picture = squared(bitmap, args.size)
        if picture is not None:
            picture.save(os.path.join(args.out, f"{name}.png"))
            written += 1
    print(f"wrote {written:,} emoji of {args.size}x{args.size} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
