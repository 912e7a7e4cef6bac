"""DCGAN on MNIST: the PaddlePaddle Book chapter 09.gan ("生成对抗网络") on current PaddlePaddle.

Read it beside the chapter: configuration, helpers, the networks D and G, the loss, the programs
d_program / dg_program / g_program / g_program_test, the data, the executor and the training loop come in
that order. What the port adds (the fast CPU path, checkpoints, the film, --generate, ...) lives in the
package dcgan_port beside this file, one module per concern.

    python dc_gan.py                      # the chapter's job: 20 epochs, batch 128, CPU
    python dc_gan.py --use_gpu true       # on CUDAPlace(0)
    python dc_gan.py --resume             # continue from ./output_dcgan/checkpoint.npz
    python dc_gan.py --generate 64        # draw 64 digits with the saved generator
"""
import sys
import time
from typing import NamedTuple

import dcgan_port  # first: it readies paddle 3.x's static graph and matplotlib for the chapter's code
import matplotlib.pyplot as plt
import numpy as np
import PIL.Image
import six
import paddle

from dcgan_port import (checkpoints, data, drawing, fast_cpu, ir_choice, limits, output_folder,
                        training_start)
from dcgan_port.command_line import BOOLEAN, OneLineParser, print_arguments
from dcgan_port.errors import UsageError
from dcgan_port.pictures import grid_path, image_grid
from dcgan_port.static_graph import activate, choose_cudnn, clone, fc as fully_connected
from dcgan_port.stopping import StopRequests, Stopped, stop_behind
from dcgan_port.training_run import TrainingRun

# ---------------------------------------------------------------------------------------------------
# Configuration: the chapter's hyper-parameters and defaults
# ---------------------------------------------------------------------------------------------------
gf_dim = 64  # base number of feature maps of the generator
df_dim = 64  # base number of feature maps of the discriminator
gfc_dim = 1024 * 2  # width of the generator's fully connected layers
dfc_dim = 1024  # width of the discriminator's fully connected layer
img_dim = 28  # side of an MNIST image

NOISE_SIZE = 100  # dimension of the noise fed to G
LEARNING_RATE = 2e-4

batch_size = 128
epoch = 20
output = "./output_dcgan"  # where the pictures, the model and the checkpoint go
# The chapter's text says False, the Book's dc_gan.py (whose results the chapter says it reproduces) True:
# on a GPU, cuDNN's convolutions are the fast ones, so True, as the code ran. --use_cudnn false builds the
# text's programs. Paddle's CPU kernels are the same either way.
use_cudnn = True
use_gpu = False

NUM_TRAIN_TIMES_OF_DG = 2  # generator steps per discriminator step
PLOT_EVERY = 10  # batches between two printed lines and saved grids
CE_NUMPY_SEED = 10  # the Book's continuous-evaluation job fixes these two seeds
CE_PROGRAM_SEED = 90


# ---------------------------------------------------------------------------------------------------
# Helpers: the picture of a batch
# ---------------------------------------------------------------------------------------------------
def plot(gen_data):
    fig = plt.figure(figsize=(8, 8))
    plt.axis("off")
    plt.imshow(image_grid(gen_data), cmap="Greys_r", vmin=-1, vmax=1)
    return fig


def display_image(epoch_no, batch_id, output=output):
    return PIL.Image.open(grid_path(output, epoch_no, batch_id))


# ---------------------------------------------------------------------------------------------------
# Networks: the chapter's layer helpers, the discriminator D and the generator G
# ---------------------------------------------------------------------------------------------------
def bn(x, name, act="relu"):
    x = paddle.nn.BatchNorm(
        x.shape[1],
        param_attr=name + "1",
        bias_attr=name + "2",
        moving_mean_name=name + "3",
        moving_variance_name=name + "4")(x)
    return activate(x, act)


def conv(x, num_filters, name, act=None):
    """fluid.nets.simple_img_conv_pool: 5x5 convolution with its activation, then 2x2 max-pool."""
    x = paddle.nn.Conv2D(
        x.shape[1],
        num_filters,
        kernel_size=5,
        weight_attr=name + "w",
        bias_attr=name + "b")(x)
    x = activate(x, act)
    return paddle.nn.functional.max_pool2d(x, kernel_size=2, stride=2)


def fc(x, num_filters, name, act=None):
    return fully_connected(  # paddle.static.nn.fc (dcgan_port.static_graph)
        x, size=num_filters, activation=act, weight_attr=name + "w", bias_attr=name + "b")


def deconv(x, num_filters, name, filter_size=5, stride=2, dilation=1, padding=2,
           output_size=None, act=None):
    x = paddle.nn.Conv2DTranspose(
        x.shape[1],
        num_filters,
        kernel_size=filter_size,
        stride=stride,
        dilation=dilation,
        padding=padding,
        weight_attr=name + "w",
        bias_attr=name + "b")(x, output_size=output_size)
    return activate(x, act)


def D(x, raw_logits=False, conv=conv):
    """The chapter's D ends in a sigmoid although loss() applies one again; raw_logits drops it."""
    x = paddle.reshape(x, shape=[-1, 1, 28, 28])
    x = conv(x, df_dim, act="leaky_relu", name="conv1")
    x = bn(conv(x, df_dim * 2, name="conv2"), act="leaky_relu", name="bn1")
    x = bn(fc(x, dfc_dim, name="fc1"), act="leaky_relu", name="bn2")
    x = fc(x, 1, act=None if raw_logits else "sigmoid", name="fc2")
    return x


def G(x, deconv=deconv):
    x = bn(fc(x, gfc_dim, name="fc3"), name="bn3")
    x = bn(fc(x, gf_dim * 2 * img_dim // 4 * img_dim // 4, name="fc4"), name="bn4")
    x = paddle.reshape(x, [-1, gf_dim * 2, img_dim // 4, img_dim // 4])
    x = deconv(x, gf_dim * 2, act="relu", output_size=[14, 14], name="deconv1")
    x = deconv(x, num_filters=1, filter_size=5, padding=2, act="tanh", output_size=[28, 28],
               name="deconv2")
    x = paddle.reshape(x, shape=[-1, 28 * 28])
    return x


# ---------------------------------------------------------------------------------------------------
# Loss
# ---------------------------------------------------------------------------------------------------
def loss(x, label):
    """Mean of sigmoid_cross_entropy_with_logits."""
    return paddle.nn.functional.binary_cross_entropy_with_logits(x, label)


# ---------------------------------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------------------------------
class Programs(NamedTuple):
    startup: paddle.static.Program
    d_program: paddle.static.Program  # D on images with labels, minimising d_loss over D
    dg_program: paddle.static.Program  # G then D on G's output, minimising dg_loss over G
    g_program: paddle.static.Program  # G alone, batch norm in training mode
    g_program_test: paddle.static.Program  # G alone, batch norm on its moving statistics
    img: paddle.static.Variable
    label: paddle.static.Variable
    noise: paddle.static.Variable
    g_img: paddle.static.Variable
    noise_test: paddle.static.Variable  # noise and g_img in g_program_test
    g_img_test: paddle.static.Variable
    d_logit: paddle.static.Variable
    d_loss: paddle.static.Variable
    dg_logit: paddle.static.Variable
    dg_loss: paddle.static.Variable
    fast: bool  # D and G train on the fast CPU path: its forms, on oneDNN (dcgan_port.fast_cpu)


def build_programs(*, raw_logits=False, seed=None, fast=False, use_cudnn=use_cudnn):
    """Build the chapter's programs. D's parameters are shared by name between d_program and dg_program.
    The D step updates D's parameters and batch-norm statistics; the G step updates G's parameters, and,
    since D runs in training mode inside dg_program as in the chapter, G's and D's batch-norm statistics.
    fast (fast_cpu.wanted's answer): D and G train with the CPU fast path's forms of conv and deconv, which
    compute the same layers, on oneDNN's kernels (dcgan_port.fast_cpu); where the programs are not as the
    fast path expects, it says so and the chapter's are built. g_program_test, which becomes the saved
    model, is the chapter's G either way."""
    train_conv = fast_cpu.conv_with_indexed_pool if fast else conv
    train_deconv = fast_cpu.deconv_via_conv2d if fast else deconv
    startup = paddle.static.Program()
    if seed is not None:
        startup.random_seed = seed
    d_program = paddle.static.Program()
    dg_program = paddle.static.Program()
    g_program_test = paddle.static.Program()

    with paddle.utils.unique_name.guard():
        with paddle.static.program_guard(d_program, startup):
            img = paddle.static.data(name="img", shape=[None, 784], dtype="float32")
            label = paddle.static.data(name="label", shape=[None, 1], dtype="float32")
            d_logit = D(img, raw_logits, conv=train_conv)
            d_loss = loss(d_logit, label)

        with paddle.static.program_guard(dg_program, startup):
            noise = paddle.static.data(name="noise", shape=[None, NOISE_SIZE], dtype="float32")
            g_img = G(x=noise, deconv=train_deconv)

            g_program, g_program_img = clone(dg_program, g_img)  # the legacy IR: g_img itself

            dg_logit = D(g_img, raw_logits, conv=train_conv)
            # all-ones labels as large as the batch: fluid's fill_constant_batch_size_like
            dg_loss = loss(dg_logit, paddle.ones_like(dg_logit))

        # The chapter clones g_program_test from dg_program above; the same G is built here with the
        # chapter's deconv, sharing G's parameters by name, so that the saved model is the chapter's ops.
        with paddle.static.program_guard(g_program_test, paddle.static.Program()):
            noise_test = paddle.static.data(name="noise", shape=[None, NOISE_SIZE], dtype="float32")
            g_img_test = G(noise_test)
        g_program_test, noise_test, g_img_test = clone(g_program_test, noise_test, g_img_test,
                                                       for_test=True)

        opt = paddle.optimizer.Adam(learning_rate=LEARNING_RATE)
        with paddle.static.program_guard(d_program, startup):
            opt.minimize(d_loss)
        g_names = {p.name for p in g_program.global_block().all_parameters()}
        dg_parameters = dg_program.global_block().all_parameters()
        with paddle.static.program_guard(dg_program, startup):
            # fluid also computed dg_loss's gradients for D's parameters and dropped them unused;
            # stopping there computes the same G step with less work
            opt.minimize(dg_loss, parameters=[p for p in dg_parameters if p.name in g_names],
                         no_grad_set={p for p in dg_parameters if p.name not in g_names})
    choose_cudnn(use_cudnn, d_program, dg_program, g_program, g_program_test)
    if fast and not fast_cpu.switched_to_onednn(d_program, dg_program, g_program):
        return build_programs(raw_logits=raw_logits, seed=seed, use_cudnn=use_cudnn)

    return Programs(startup, d_program, dg_program, g_program, g_program_test, img, label, noise,
                    g_program_img, noise_test, g_img_test, d_logit, d_loss, dg_logit, dg_loss, fast)


# ---------------------------------------------------------------------------------------------------
# Data: MNIST read as paddle.dataset.mnist reads it, pixels scaled to [-1, 1] (dcgan_port.data)
# ---------------------------------------------------------------------------------------------------
def uniform_noise(n):
    return np.random.uniform(low=-1.0, high=1.0, size=[n, NOISE_SIZE]).astype("float32")


# ---------------------------------------------------------------------------------------------------
# Executor
# ---------------------------------------------------------------------------------------------------
def make_place(use_gpu):
    if not use_gpu:
        return paddle.CPUPlace()
    if not paddle.is_compiled_with_cuda():
        raise UsageError("--use_gpu true needs a CUDA build of paddle (pip install -r requirements-gpu.txt "
                         "in a new venv); this one is CPU-only, so drop --use_gpu")
    return paddle.CUDAPlace(0)


# ---------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------
def train_batch(exe, progs, real_image):
    """One iteration of the chapter: D once on fakes and once on reals, then G twice."""
    n = real_image.shape[0]
    real_labels = np.ones(shape=[n, 1], dtype="float32")
    fake_labels = np.zeros(shape=[n, 1], dtype="float32")

    generated_image = exe.run(progs.g_program, feed={"noise": uniform_noise(n)},
                              fetch_list=[progs.g_img])[0]
    # the losses stay numpy float32 scalars, as the chapter's, and print as it prints them
    d_loss_1 = np.float32(exe.run(progs.d_program, feed={"img": generated_image,
                                                         "label": fake_labels},
                                  fetch_list=[progs.d_loss])[0])
    d_loss_2 = np.float32(exe.run(progs.d_program, feed={"img": real_image, "label": real_labels},
                                  fetch_list=[progs.d_loss])[0])
    d_loss_n = d_loss_1 + d_loss_2

    dg_losses = []
    for _ in six.moves.xrange(NUM_TRAIN_TIMES_OF_DG):
        dg_loss_n = np.float32(exe.run(progs.dg_program, feed={"noise": uniform_noise(n)},
                                       fetch_list=[progs.dg_loss])[0])
        dg_losses.append(dg_loss_n)
    return d_loss_n, dg_losses


def train(settings, stop):
    """The chapter's training loop. What the port does around it (checks, checkpoints, the film, stopping)
    is dcgan_port.training_start's and dcgan_port.run_folder's. stop: the run's StopRequests."""
    if settings.enable_ce:
        np.random.seed(CE_NUMPY_SEED)
        if settings.use_gpu:
            paddle.set_flags({"FLAGS_cudnn_deterministic": True})
    place = make_place(settings.use_gpu)
    train_images = training_start.checked_images(settings)  # every input, before anything is touched
    with stop.held():  # a stop waits for the programs: paddle crashes if one lands while it builds
        progs = build_programs(raw_logits=settings.raw_logits, use_cudnn=settings.use_cudnn,
                               fast=fast_cpu.wanted(settings.onednn, settings.use_gpu, settings.num_threads),
                               seed=CE_PROGRAM_SEED if settings.enable_ce else None)
    exe = paddle.static.Executor(place)
    exe.run(progs.startup)
    const_n = uniform_noise(settings.batch_size)
    run = TrainingRun(settings, train_images, const_n)  # where the loop stands: batch, losses, time

    # the output folder claimed; the Book's weights or the checkpoint in place
    with training_start.started(run, exe, progs, stop) as folder:
        for pass_id in run.epochs():
            for batch_id in run.batches(pass_id):
                s_time = time.time()
                real_image = run.real_image(batch_id)
                d_loss_n, dg_losses = train_batch(exe, progs, real_image)
                run.record(pass_id, batch_id, d_loss_n, dg_losses, time.time() - s_time)

                if batch_id % PLOT_EVERY == 0:
                    generated_images = exe.run(progs.g_program_test, feed={"noise": run.const_n},
                                               fetch_list=[progs.g_img_test])[0]
                    msg = "Epoch ID={0} Batch ID={1} D-Loss={2} DG-Loss={3}".format(
                        pass_id, batch_id, d_loss_n, dg_losses[-1])
                    print(msg + run.progress(), flush=True)
                    fig = plot(np.concatenate([real_image, generated_images]))
                    plt.title(msg)
                    folder.save_grid(fig, generated_images, pass_id, batch_id)

                folder.after_batch(run)  # a checkpoint on time; a stop request: everything saved, ended
            folder.save(run)  # every epoch ends with a checkpoint
        if settings.enable_ce and run.done:
            print(run.kpi_lines())
    return 0


def generate(settings):
    """Draw settings.generate digits with the generator saved in settings.output."""
    checkpoints.generator_program(settings.output)  # there is one to draw with, before touching the folder
    limits.check_drawing(settings)  # threads, the disk space for the digits, names taken by folders
    place = make_place(settings.use_gpu)
    with output_folder.claimed(settings.output, create=False):
        return drawing.generate(settings, place, make_noise=uniform_noise, plot=plot)


# ---------------------------------------------------------------------------------------------------
# Flags and entry point
# ---------------------------------------------------------------------------------------------------
def parse_args(argv=None):
    """The flags as one frozen Settings (dcgan_port.settings)."""
    parser = OneLineParser(
        prog="dc_gan.py",
        description="Train the PaddlePaddle Book's DCGAN on MNIST (chapter 09.gan), or draw digits "
                    "with a trained generator.")
    flag = parser.add_argument
    flag("--batch_size", type=int, default=batch_size, help="minibatch size (default %(default)s)")
    flag("--epoch", type=int, default=epoch, help="epochs to train (default %(default)s); with "
         "--resume, the new total (default: the run's own)")
    flag("--output", default=output,
         help="folder for pictures, model and checkpoint (default %(default)s)")
    flag("--use_gpu", default=use_gpu, help="train on CUDAPlace(0) (default false)", **BOOLEAN)
    flag("--enable_ce", default=False, help="continuous evaluation: fixed seeds, no shuffling, KPI "
         "lines at the end (default false)", **BOOLEAN)
    flag("--use_cudnn", default=use_cudnn, help="on a GPU, run the convolutions and pools on cuDNN, as "
         "the Book's code did (default true); false builds the chapter text's programs", **BOOLEAN)
    flag("--raw_logits", default=False, help="D returns raw logits instead of the chapter's sigmoid "
         "output, which the loss squashes a second time (default false)", **BOOLEAN)
    flag("--resume", default=False, help="continue the run in OUTPUT from its checkpoint.npz, with "
         "the settings it was started with (default false)", **BOOLEAN)
    flag("--overwrite", default=False, help="start a new run in OUTPUT although it holds an earlier "
         "one, after deleting that run's files (checkpoint, generator, grids, film, losses.png, "
         "generated.*; other files stay); without it such a run is refused (default false)", **BOOLEAN)
    flag("--num_threads", type=int, default=limits.usable_cores(),
         help="CPU threads for paddle's math (default: all %(default)s cores here)")
    flag("--onednn", default=True, help="on a CPU, train on the fast path: oneDNN's kernels, the "
         "transposed convolutions as convolutions and products, the pools with indices; and draw "
         "(--generate) on Paddle Inference with oneDNN; the same parameters and values to float "
         "rounding, faster (default true); false: the chapter's ops on paddle's own kernels", **BOOLEAN)
    flag("--save_every_minutes", type=float, default=10, metavar="M",
         help="also save the checkpoint every M minutes of training, mid-epoch, so that a crash loses "
         "at most that much (default %(default)s; 0: only at epoch ends and when stopped)")
    flag("--max_batches", type=int, default=None, help="cap the batches of each epoch, for smoke runs "
         "(default: all)")
    flag("--data_dir", default=None, help="read the MNIST IDX files (.gz or raw) from this folder "
         "instead of paddle's dataset cache; a folder without them: train on its images (PNG, JPEG, "
         "BMP, GIF, sub-folders too), made grey and 28x28")
    flag("--mnist_split", choices=("train", "test"), default="train",
         help="the MNIST split to train on (default %(default)s)")
    flag("--mnist_url", default=data.MNIST_URL,
         help="where to download MNIST from when it is not cached (default %(default)s)")
    flag("--generate", type=int, default=None, metavar="N", help="do not train: draw N digits with "
         "OUTPUT/generator.* into OUTPUT/generated.png and OUTPUT/generated.npy")
    return parser.parse_settings(argv, positive=("batch_size", "epoch", "max_batches", "generate",
                                                 "num_threads"),
                                 minutes=("save_every_minutes",),
                                 exclusive=(("resume", "overwrite"), ("generate", "overwrite")))


def main(argv=None):
    """Train, or draw with --generate; a bad input or a stop ends it in one line, with its status."""
    with StopRequests() as stop:
        try:
            settings = parse_args(argv)
            if settings.resume and settings.generate is None:
                settings = checkpoints.resumed_settings(settings)
            print_arguments(settings, static_graph=dcgan_port.IR.described)
            ir_choice.check(dcgan_port.IR)  # one line for a choice that cannot work, or a note
            paddle.enable_static()
            limits.check_threads(settings.num_threads)  # before paddle is told: 2**40 breaks its binding
            if not settings.use_gpu:
                fast_cpu.set_cpu_threads(settings.num_threads)
                fast_cpu.keep_freed_memory()
            return generate(settings) if settings.generate is not None else train(settings, stop)
        except UsageError as e:
            print("dc_gan.py: error: {}".format(e), file=sys.stderr)
            return 2
        except (Stopped, ImportError) as e:
            stopped = stop_behind(e)
            if stopped is None:
                raise
            print("dc_gan.py: {}".format(stopped), file=sys.stderr)
            return stopped.status


if __name__ == "__main__":
    sys.exit(main())
