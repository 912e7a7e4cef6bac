"""Draw a README figure from a finished run's output folder: G's half of some of its grids side by side,
captioned with the grid's epoch and batch, above the run's losses.png; in 64 colours, to stay small.

    python docs/make_figure.py RUN_FOLDER 0003_0000 0007_0070 --out docs/training.png
"""
import argparse
import os
import re
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (255, 255, 255)
CAPTION_HEIGHT = 24


def longest_run(flags):
    """Start and end (exclusive) of the longest run of True in a 1-D boolean array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(int), [0]])))
    starts, ends = edges[::2], edges[1::2]
    longest = np.argmax(ends - starts)
    return starts[longest], ends[longest]


def generated_half(grid_png):
    """The last 8 of the grid's 16 rows, the digits G drew, without the title and the white margins."""
    with Image.open(grid_png) as picture:
        rgb = picture.convert("RGB")
    pixels = np.asarray(rgb.convert("L"))
    inked = pixels < 250
    # the real digits' black tiles make the top half the longest inked run of rows (the title's is
    # shorter); G's half can be light or a fine checkerboard, so the grid ends at the last inked row
    top, _ = longest_run(inked.mean(axis=1) > 0.5)
    bottom = np.flatnonzero(inked.mean(axis=1) > 0.2)[-1] + 1
    left, right = longest_run(inked.mean(axis=0) > 0.5)
    return rgb.crop((left, top + (bottom - top) // 2, right, bottom))


def caption(name):
    epoch, batch = (int(n) for n in re.fullmatch(r"(\d{4})_(\d{4})", name).groups())
    return "Epoch ID={} Batch ID={}".format(epoch, batch)


def figure(run, grid_names):
    halves = [generated_half(os.path.join(run, name + ".png")) for name in grid_names]
    with Image.open(os.path.join(run, "losses.png")) as picture:
        losses = picture.convert("RGB")
    width = sum(h.width for h in halves) + 10 * (len(halves) - 1)
    height = CAPTION_HEIGHT + max(h.height for h in halves) + 10 + losses.height
    canvas = Image.new("RGB", (max(width, losses.width), height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.load_default(size=16)
    except TypeError:  # Pillow before 10.1 has one bitmap size
        font = ImageFont.load_default()
    x = 0
    for name, half in zip(grid_names, halves):
        draw.text((x + 4, 2), caption(name), fill=(0, 0, 0), font=font)
        canvas.paste(half, (x, CAPTION_HEIGHT))
        x += half.width + 10
    canvas.paste(losses, ((canvas.width - losses.width) // 2, CAPTION_HEIGHT + halves[0].height + 10))
    return canvas


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="a run's output folder (its EEEE_BBBB.png grids and losses.png)")
    parser.add_argument("grids", nargs="+", help="grid names without .png, e.g. 0003_0000")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    figure(args.run, args.grids).quantize(64).save(args.out, optimize=True)
    print("{}: {} KB".format(args.out, os.path.getsize(args.out) // 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
