"""--generate: digits drawn by the generator a training run saved, streamed to OUTPUT/generated.npy, the
first of them shown in OUTPUT/generated.png."""
import os

import numpy as np
import paddle

from dcgan_port.checkpoints import generator_prefix
from dcgan_port.output_folder import atomic_write
from dcgan_port.pictures import save_figure

GENERATE_BATCH = 1000  # --generate draws this many digits at a time
GRID_MAX_DIGITS = 256  # --generate's grid shows at most this many, as the training grids do


def load_generator(output, place):
    """The generator saved in output, as a function from noise to flat images in [-1, 1]."""
    prefix = generator_prefix(output)
    exe, scope = paddle.static.Executor(place), paddle.static.Scope()
    with paddle.static.scope_guard(scope):
        program, feed_names, fetch_targets = paddle.static.load_inference_model(prefix, exe)

    def draw(noise):
        with paddle.static.scope_guard(scope):
            return exe.run(program, feed={feed_names[0]: noise}, fetch_list=fetch_targets)[0]
    return draw


def draw_digits(output, noise, place):
    """Run the generator saved in output on the noise: flat images in [-1, 1]."""
    return load_generator(output, place)(noise)


def generate(output, count, place, noise, plot):
    """Draw count digits with the generator saved in output, GENERATE_BATCH at a time from noise(n),
    streamed into a .npy file so that memory does not grow with their number; plot(images) draws the
    grid of the first ones."""
    draw = load_generator(output, place)
    first = draw(noise(min(GENERATE_BATCH, count)))  # its width is the saved model's image size
    shown = []
    npy_path = os.path.join(output, "generated.npy")
    png_path = os.path.join(output, "generated.png")

    def write_digits(f):
        np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(
            np.dtype("float32")), "fortran_order": False, "shape": (count, first.shape[1])})
        for start in range(0, count, GENERATE_BATCH):
            images = first if start == 0 else draw(noise(min(GENERATE_BATCH, count - start)))
            f.write(np.ascontiguousarray(images, dtype="float32").tobytes())
            shown.extend(images[:GRID_MAX_DIGITS - len(shown)])
            done = start + len(images)
            if count > GENERATE_BATCH and (done * 10 // count > start * 10 // count):
                print("drew {} of {} digits".format(done, count), flush=True)

    atomic_write(npy_path, write_digits, size=count * first.shape[1] * 4)
    title = "{} digits drawn by {}".format(count, generator_prefix(output))
    if count > GRID_MAX_DIGITS:
        title += " (the first {} shown)".format(GRID_MAX_DIGITS)
    fig = plot(np.array(shown))
    fig.axes[0].set_title(title)
    save_figure(fig, png_path)
    print("wrote {} and {}".format(png_path, npy_path))
    return 0
