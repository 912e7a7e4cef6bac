"""Pictures of digits: the grid the chapter's plot draws, figures saved whole, the loss curve."""
import math
import os

import matplotlib.pyplot as plt  # the package has chosen matplotlib's file-only backend (dcgan_port)
import numpy as np
from matplotlib import font_manager, ft2font

from dcgan_port.output_folder import GRID_FILE, atomic_write

# Fonts that draw Chinese, as matplotlib names them, the first one the machine has taken: Debian's and
# Ubuntu's (fonts-noto-cjk, fonts-wqy-*), Adobe's, Windows', macOS'.
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC",
             "Arial Unicode MS", "Noto Sans CJK JP")


def title_fonts(installed):
    """matplotlib's own sans-serif font, then the first of CJK_FONTS among the installed font names:
    matplotlib draws each character with the first font of the list that has it."""
    return ["DejaVu Sans"] + [name for name in CJK_FONTS if name in installed][:1]


def installed_fonts():
    """The font names matplotlib knows; if none draws Chinese, after a look at the system's fonts, which
    matplotlib's cache does not see when they were installed after it was made."""
    names = {font.name for font in font_manager.fontManager.ttflist}
    if not names.intersection(CJK_FONTS):
        known = {font.fname for font in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known:
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue  # a font file matplotlib cannot read
        names = {font.name for font in font_manager.fontManager.ttflist}
    return names


def drawable(text, families):
    """Whether the fonts of these families have a glyph for every character of text."""
    covered = set()
    for family in families:
        path = font_manager.findfont(font_manager.FontProperties(family=[family]),
                                     fallback_to_default=False)
        covered.update(ft2font.FT2Font(path).get_charmap())
    return all(ord(c) in covered for c in text if not c.isspace())


def title_that_draws(text, instead):
    """text, drawn with a font for Chinese (a folder such as ~/桌面/实验) where matplotlib's own lacks a
    glyph and the machine has one, which then stays matplotlib's font for the process; where no font has
    a glyph for every character, instead (plain ASCII): matplotlib would draw empty boxes and warn."""
    if not drawable(text, plt.rcParams["font.family"]):
        plt.rcParams["font.family"] = title_fonts(installed_fonts())
    return text if drawable(text, plt.rcParams["font.family"]) else instead


def grid_path(output, epoch_no, batch_id):
    return os.path.join(output, GRID_FILE.format(epoch_no, batch_id))


def image_grid_columns(count):
    return int(math.ceil(math.sqrt(count)))


def image_grid(gen_data, pad_dim=1, columns=None):
    """Tile flat square images row by row into one array, each with a pad_dim-pixel border on its top and
    left: a square grid, as the chapter's plot draws it, unless columns is given."""
    side = math.isqrt(gen_data[0].size)
    padded = pad_dim + side
    gen_data = gen_data.reshape(gen_data.shape[0], side, side)
    n = columns or image_grid_columns(gen_data.shape[0])
    rows = int(math.ceil(gen_data.shape[0] / n))
    return (np.pad(gen_data, [[0, rows * n - gen_data.shape[0]], [pad_dim, 0], [pad_dim, 0]],
                   "constant")
            .reshape((rows, n, padded, padded))
            .transpose((0, 2, 1, 3))
            .reshape((rows * padded, n * padded)))


def save_figure(fig, path, then=None):
    """The chapter's plt.savefig(path, bbox_inches='tight'), written whole or not at all; then: what to do
    after a failed save (dcgan_port.output_folder.save_failed)."""
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png", bbox_inches="tight"), then=then)
    finally:
        plt.close(fig)


def save_loss_curve(losses, path):
    """D-Loss (one per batch) and DG-Loss (one per generator step) on one axis of generator steps."""
    generator_steps_per_batch = len(losses[1]) // max(1, len(losses[0]))
    fig = plt.figure(figsize=(8, 4))
    plt.plot(losses[1], label="DG-Loss (generator, per step)", linewidth=0.8)
    plt.plot(np.arange(len(losses[0])) * generator_steps_per_batch, losses[0],
             label="D-Loss (discriminator, fake + real)", linewidth=0.8)
    plt.xlabel("generator step")
    plt.ylabel("loss")
    plt.legend()
    save_figure(fig, path)
