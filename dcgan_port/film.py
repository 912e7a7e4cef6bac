"""progress.gif: training as a film of G's drawings of the fixed noise, one frame per saved grid."""
import json
import time

import numpy as np
import PIL.Image
import PIL.ImageDraw

from dcgan_port.output_folder import atomic_write
from dcgan_port.pictures import image_grid

FILM_MAX_FRAMES = 200  # past this the film is thinned evenly, so it stays a few MB
FILM_REWRITE_SECONDS = 60  # rewritten at every checkpoint save, and in between at most this often


def film_frame(generated_images, columns, caption, caption_height=16):
    """G's drawings tiled as in the saved grid (Greys_r from -1 to 1), under a caption."""
    pixels = np.round((image_grid(generated_images, columns=columns) + 1.0) * 127.5)
    frame = PIL.Image.new("L", (pixels.shape[1], pixels.shape[0] + caption_height))
    frame.paste(PIL.Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)), (0, caption_height))
    PIL.ImageDraw.Draw(frame).text((4, 2), caption, fill=255)
    return frame


class Film:
    """progress.gif: G's drawings of the fixed noise at each saved grid, oldest first.

    Past FILM_MAX_FRAMES it keeps every other frame and from then on takes every other grid, so its
    frames stay evenly spaced; the newest drawing always ends it. The frames' (epoch, batch) and the
    spacing ride in the GIF's comment, so that --resume continues the same film."""

    def __init__(self, path):
        self.path = path
        self.frames, self.labels = [], []  # the evenly spaced frames
        self.stride, self.since_kept = 1, 0  # grids between two kept frames, grids since the last
        self.newest = None  # (label, frame) of the latest grid, kept or not
        self.written_at = -float("inf")

    def add(self, label, frame):
        self.newest = (list(label), frame)
        self.since_kept += 1
        if self.since_kept >= self.stride:
            self.frames.append(frame)
            self.labels.append(list(label))
            self.since_kept = 0
            if len(self.frames) > FILM_MAX_FRAMES:  # an odd count: the newest stays
                self.frames, self.labels = self.frames[::2], self.labels[::2]
                self.stride *= 2

    def write(self, at_most_every=0):
        """Rewrite the GIF atomically, unless it was written less than at_most_every seconds ago."""
        if self.newest is None or time.monotonic() - self.written_at < at_most_every:
            return
        frames, labels = list(self.frames), list(self.labels)
        if not labels or labels[-1] != self.newest[0]:
            frames.append(self.newest[1])
            labels.append(self.newest[0])
        comment = json.dumps({"labels": labels, "spaced": len(self.labels), "stride": self.stride,
                              "since_kept": self.since_kept}).encode()
        # 0.15 s a frame, the newest held for 2 s
        durations = [150] * (len(frames) - 1) + [2000]
        atomic_write(self.path, lambda f: frames[0].save(
            f, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0,
            comment=comment))
        self.written_at = time.monotonic()

    def resume(self, before):
        """Take up the film written by the run being resumed, up to the (epoch, batch) it resumes from;
        start a new one if there is none."""
        try:
            with PIL.Image.open(self.path) as gif:
                meta = json.loads(gif.info["comment"])
                frames = []
                for index in range(len(meta["labels"])):
                    gif.seek(index)
                    frames.append(gif.convert("L"))
        except (OSError, KeyError, ValueError, EOFError):
            return
        written = list(zip(meta["labels"], frames))
        # frames are in training order, so those before the checkpoint are a prefix of the film
        earlier = [(label, frame) for label, frame in written if tuple(label) < tuple(before)]
        spaced = earlier[:meta["spaced"]]
        self.labels = [label for label, _ in spaced]
        self.frames = [frame for _, frame in spaced]
        self.stride = meta["stride"]
        # a film written past the checkpoint (by a killed run) goes on at the next grid
        self.since_kept = meta["since_kept"] if len(earlier) == len(written) else self.stride - 1
        self.newest = earlier[-1] if earlier else None
