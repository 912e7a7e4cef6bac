"""Pictures of digits: the grid the chapter's plot draws, figures saved whole, the loss curve."""
import math
import os

import matplotlib.pyplot as plt  # the package has chosen matplotlib's file-only backend (dcgan_port)
import numpy as np

from dcgan_port.output_folder import GRID_FILE, atomic_write


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


def save_figure(fig, path, then="continue with --resume"):
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
