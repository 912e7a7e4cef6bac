"""--generate: digits drawn by the generator a training run saved, streamed to OUTPUT/generated.npy, the
first of them shown in OUTPUT/generated.png."""
import concurrent.futures
import os
import re

import numpy as np
import paddle
import paddle.inference

from dcgan_port.checkpoints import generator_program
from dcgan_port.errors import UsageError
from dcgan_port.fast_cpu import onednn_available
from dcgan_port.limits import usable_cores
from dcgan_port.output_folder import GENERATED_NPY, GENERATED_PNG, atomic_write
from dcgan_port.pictures import save_figure, title_that_draws
from dcgan_port.static_graph import graph_of, missing_parameters, parameters_file, saved_in_pir

GENERATE_BATCH = 1000  # --generate draws this many digits at a time
GRID_MAX_DIGITS = 256  # --generate's grid shows at most this many, as the training grids do


def executor_generator(program_path, place):
    """The saved model on paddle's executor and its own kernels, as training runs g_program_test, in the
    static graph that saved it."""
    exe, scope = paddle.static.Executor(place), paddle.static.Scope()
    prefix = os.path.splitext(program_path)[0]  # load_inference_model adds the suffixes
    with graph_of(program_path), paddle.static.scope_guard(scope):
        program, feed_names, fetch_targets = paddle.static.load_inference_model(prefix, exe)

    def draw(noise):
        with graph_of(program_path), paddle.static.scope_guard(scope):
            return exe.run(program, feed={feed_names[0]: noise}, fetch_list=fetch_targets)[0]
    return draw


def inference_generator(program_path, num_threads):
    """The saved model on Paddle Inference with oneDNN's CPU kernels, where its transposed convolution is
    exact (inference only, with fixed weights) and works on a whole batch at once. The predictor lives on
    a thread of its own: run on the thread that trains, it left oneDNN state behind there with which the
    next oneDNN conv2d_grad crashed the process (tests/test_drawing.py); paddle keeps that state (its
    oneDNN session and cache keys) per thread."""
    worker = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def create():
        config = paddle.inference.Config(program_path, parameters_file(program_path))
        config.disable_gpu()
        config.enable_mkldnn()
        config.set_cpu_math_library_num_threads(num_threads)
        config.disable_glog_info()
        if hasattr(config, "enable_new_ir"):  # paddle 3.x: run it in the graph that saved it
            config.enable_new_ir(saved_in_pir(program_path))
        return paddle.inference.create_predictor(config)

    predictor = worker.submit(create).result()
    noise_handle = predictor.get_input_handle(predictor.get_input_names()[0])
    image_handle = predictor.get_output_handle(predictor.get_output_names()[0])

    def run(noise):
        noise_handle.reshape(list(noise.shape))
        noise_handle.copy_from_cpu(np.ascontiguousarray(noise, dtype="float32"))
        predictor.run()
        return image_handle.copy_to_cpu()

    def draw(noise):
        return worker.submit(run, noise).result()
    return draw


def load_generator(output, place, *, onednn=True, num_threads=None):
    """The generator saved in output, as a function from noise to flat images in [-1, 1]. On a CPU whose
    paddle has oneDNN (unless onednn is false) it runs on Paddle Inference with oneDNN and num_threads
    cores (all by default), several times faster; elsewhere on paddle's executor. Both compute the saved
    model's own ops, to float32 rounding alike (tests/test_drawing.py)."""
    program_path = generator_program(output)
    try:
        missing = missing_parameters(program_path)
        if missing:
            raise UsageError("{}; train again to save a whole one".format(missing))
        if onednn and isinstance(place, paddle.CPUPlace) and onednn_available():
            return inference_generator(program_path, num_threads or usable_cores())
        return executor_generator(program_path, place)
    except (OSError, RuntimeError, ValueError) as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        # paddle's own words, "(Kind) what" or "KindError: what", under the Python lines that called it
        reason = next((line for line in lines if re.match(r"\(\w+\) |\w+Error: ", line)),
                      lines[0] if lines else repr(e))
        raise UsageError("cannot load the generator saved at {} ({}); train again to save a whole "
                         "one".format(program_path, reason[:150]))


def draw_digits(output, noise, place):
    """Run the generator saved in output on the noise: flat images in [-1, 1]."""
    return load_generator(output, place)(noise)


def generate(settings, place, make_noise, plot):
    """Draw settings.generate digits with the generator saved in settings.output, GENERATE_BATCH at a
    time from make_noise(n), streamed into a .npy file so that memory does not grow with their number;
    plot(images) draws the grid of the first ones."""
    output, count = settings.output, settings.generate
    draw = load_generator(output, place, onednn=settings.onednn, num_threads=settings.num_threads)
    first = draw(make_noise(min(GENERATE_BATCH, count)))  # its width is the saved model's image size
    shown = []
    npy_path = os.path.join(output, GENERATED_NPY)
    png_path = os.path.join(output, GENERATED_PNG)

    def write_digits(f):
        np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(
            np.dtype("float32")), "fortran_order": False, "shape": (count, first.shape[1])})
        for start in range(0, count, GENERATE_BATCH):
            images = first if start == 0 else draw(make_noise(min(GENERATE_BATCH, count - start)))
            f.write(np.ascontiguousarray(images, dtype="float32").tobytes())
            shown.extend(images[:GRID_MAX_DIGITS - len(shown)])
            done = start + len(images)
            if count > GENERATE_BATCH and (done * 10 // count > start * 10 // count):
                print("drew {} of {} digits".format(done, count), flush=True)

    again = "draw them again with --generate {}".format(count)  # after a failed save: no --resume here
    atomic_write(npy_path, write_digits, size=count * first.shape[1] * 4, then=again)
    shown_part = " (the first {} shown)".format(GRID_MAX_DIGITS) if count > GRID_MAX_DIGITS else ""
    title = title_that_draws(
        "{} digits drawn by {}{}".format(count, generator_program(output), shown_part),
        instead="{} digits drawn by the generator in --output{}".format(count, shown_part))
    fig = plot(np.array(shown))
    fig.axes[0].set_title(title)
    save_figure(fig, png_path, then=again)
    print("wrote {} and {}".format(png_path, npy_path))
    return 0
