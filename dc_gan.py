"""DCGAN on MNIST: the PaddlePaddle Book chapter 09.gan ("生成对抗网络") on current PaddlePaddle.

Read it beside the chapter: configuration, helpers, the networks D and G, the loss, the programs
d_program / dg_program / g_program, the data, the executor and the training loop come in that order.

    python dc_gan.py                      # the chapter's job: 20 epochs, batch 128, CPU
    python dc_gan.py --use_gpu true       # on CUDAPlace(0)
    python dc_gan.py --resume             # continue from ./output_dcgan/checkpoint.npz
    python dc_gan.py --generate 64        # draw 64 digits with the saved generator
"""
import os

# Paddle 3.x builds programs in its new IR by default, where the legacy static layers the chapter
# uses (conv2d, batch_norm, ...) are not supported. It must be off before paddle is imported.
os.environ["FLAGS_enable_pir_api"] = "0"
os.environ.setdefault("GLOG_minloglevel", "1")  # keep the executor's INFO chatter out of the loss lines

import warnings

# Paddle 3.x warns at import about a C++ build cache that training never uses, and the chapter's
# static layers are deprecated there in favour of dynamic-graph ones: this port keeps them on purpose.
warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message=r'(?s).*API "paddle\.static\.nn\.')

import argparse
import contextlib
import functools
import gzip
import io
import json
import math
import platform
import re
import shutil
import signal
import sys
import time
from typing import NamedTuple

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt
import numpy as np
import PIL.Image
import PIL.ImageDraw
import six
import paddle
import paddle.base.layer_helper
import paddle.dataset.common
import paddle.dataset.mnist

# ---------------------------------------------------------------------------------------------
# Configuration: the chapter's hyper-parameters and defaults
# ---------------------------------------------------------------------------------------------
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
# The chapter's text says False, the Book's dc_gan.py (whose results the chapter says it reproduces)
# True: on a GPU, cuDNN's convolutions are the fast ones, so True, as the code ran. --use_cudnn false
# builds the text's programs. Paddle's CPU kernels are the same either way.
use_cudnn = True
use_gpu = False

NUM_TRAIN_TIMES_OF_DG = 2  # generator steps per discriminator step
PLOT_EVERY = 10  # batches between two printed lines and saved grids
CE_NUMPY_SEED = 10  # the Book's continuous-evaluation job fixes these two seeds
CE_PROGRAM_SEED = 90
# Ops run on oneDNN's CPU kernels by default (--onednn). Left on paddle's own, all measured: the
# transposed convolution (oneDNN's trains only with is_test set, and then keeps its first copy of
# the filter, so later steps see stale weights; the fast path computes it with conv2d instead, see
# deconv_via_conv2d), pool2d_grad and batch_norm_grad (oneDNN cannot run them here; the fast path
# pools with indices instead, see conv_with_indexed_pool), elementwise_add (5% faster on paddle 2.6.2,
# but on 3.3.1 its gradient then fails), elementwise_add_grad (12% slower), batch_norm, tanh and
# sigmoid (no faster).
ONEDNN_OPS = ("conv2d", "conv2d_grad", "relu", "relu_grad", "leaky_relu", "leaky_relu_grad",
              "mul", "mul_grad", "transpose2", "transpose2_grad")

CHECKPOINT_FILE = "checkpoint.npz"
SAVE_EVERY_MINUTES = 10  # of training time, between two checkpoints within an epoch
LOCK_FILE = ".dc_gan.lock"  # held by the run that writes to the folder
LEFTOVER = re.compile(r"\.tmp\d+(\.pdiparams|\.pdmodel)?$")  # temporary_path() names
GENERATOR_PREFIX = "generator"  # generator.pdmodel + generator.pdiparams, a Paddle inference model
GENERATE_BATCH = 1000  # --generate draws this many digits at a time
GRID_MAX_DIGITS = 256  # --generate's grid shows at most this many, as the training grids do
LOSS_CURVE_FILE = "losses.png"
FILM_FILE = "progress.gif"  # G's drawings of the fixed noise, one frame per saved grid
FILM_MAX_FRAMES = 200  # past this the film is thinned evenly, so it stays a few MB
FILM_REWRITE_SECONDS = 60  # rewritten at every checkpoint save, and in between at most this often
RESUME_FLAGS = ("batch_size", "raw_logits", "enable_ce", "mnist_split")  # a resume must repeat them
CHECKPOINT_STATE_KEYS = tuple(["rng/" + str(i) for i in range(5)] + ["state/" + k for k in (
    "epoch", "batch", "order", "const_n", "d_losses", "dg_losses") + RESUME_FLAGS])

MNIST_FILES = {
    "train": (("train-images-idx3-ubyte", paddle.dataset.mnist.TRAIN_IMAGE_MD5),
              ("train-labels-idx1-ubyte", paddle.dataset.mnist.TRAIN_LABEL_MD5)),
    "test": (("t10k-images-idx3-ubyte", paddle.dataset.mnist.TEST_IMAGE_MD5),
             ("t10k-labels-idx1-ubyte", paddle.dataset.mnist.TEST_LABEL_MD5)),
}
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049


class UsageError(Exception):
    """Bad input, or a save the disk refused: reported as one line, exit status 2, nothing saved
    is touched."""


# ---------------------------------------------------------------------------------------------
# Helpers: pictures and safe writes
# ---------------------------------------------------------------------------------------------
def image_grid_columns(count):
    return int(math.ceil(math.sqrt(count)))


def image_grid(gen_data, pad_dim=1, columns=None):
    """Tile flat 28x28 images row by row into one array, each image with a 1-pixel border: a square
    grid, as the chapter's plot draws it, unless columns is given."""
    padded = pad_dim + img_dim
    gen_data = gen_data.reshape(gen_data.shape[0], img_dim, img_dim)
    n = columns or image_grid_columns(gen_data.shape[0])
    rows = int(math.ceil(gen_data.shape[0] / n))
    return (np.pad(gen_data, [[0, rows * n - gen_data.shape[0]], [pad_dim, 0], [pad_dim, 0]],
                   "constant")
            .reshape((rows, n, padded, padded))
            .transpose((0, 2, 1, 3))
            .reshape((rows * padded, n * padded)))


def plot(gen_data):
    fig = plt.figure(figsize=(8, 8))
    plt.axis("off")
    plt.imshow(image_grid(gen_data), cmap="Greys_r", vmin=-1, vmax=1)
    return fig


def temporary_path(path):
    """Where a file is written before it is renamed into place; LEFTOVER matches these names."""
    return "{}.tmp{}".format(path, os.getpid())


def save_failed(path, error, size=None):
    """The one-line error for a save the disk refused, with the space it would have needed."""
    if size is None and os.path.isfile(path):
        size = os.path.getsize(path)  # about what its new version needs
    free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
    needed = "" if size is None else ", about {:.0f} MB needed".format(size / 1e6)
    return UsageError("cannot write {} ({}): {:.0f} MB free there{}; the earlier saves are intact: "
                      "free some space, then continue with --resume".format(
                          path, error.strerror or error, free / 1e6, needed))


def atomic_write(path, write, size=None):
    """Call write(file) on a temporary file beside path, then rename it over path.

    A run killed at any moment leaves either the old file or the new one, never half of one; a
    write the disk refuses (full, quota) leaves the old one and no temporary file.
    """
    tmp = temporary_path(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError as e:
        raise save_failed(path, e, size)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_figure(fig, path):
    atomic_write(path, lambda f: fig.savefig(f, format="png", bbox_inches="tight"))
    plt.close(fig)


def save_grid(images, title, path):
    fig = plot(images)
    plt.title(title)
    save_figure(fig, path)


def save_loss_curve(losses, path):
    fig = plt.figure(figsize=(8, 4))
    plt.plot(losses[1], label="DG-Loss (generator, per step)", linewidth=0.8)
    plt.plot(np.arange(len(losses[0])) * NUM_TRAIN_TIMES_OF_DG, losses[0],
             label="D-Loss (discriminator, fake + real)", linewidth=0.8)
    plt.xlabel("generator step")
    plt.ylabel("loss")
    plt.legend()
    save_figure(fig, path)


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
        """Take up the film written by the run being resumed, up to the (epoch, batch) it resumes
        from; start a new one if there is none."""
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


def display_image(epoch_no, batch_id, output=output):
    return PIL.Image.open("{}/{:04d}_{:04d}.png".format(output, epoch_no, batch_id))


# ---------------------------------------------------------------------------------------------
# Networks: the chapter's layer helpers, the discriminator D and the generator G
# ---------------------------------------------------------------------------------------------
def bn(x, name=None, act="relu"):
    return paddle.static.nn.batch_norm(
        x,
        param_attr=name + "1",
        bias_attr=name + "2",
        moving_mean_name=name + "3",
        moving_variance_name=name + "4",
        name=name,
        act=act)


def conv(x, num_filters, name=None, act=None, use_cudnn=use_cudnn):
    """fluid.nets.simple_img_conv_pool: 5x5 convolution with its activation, then 2x2 max-pool."""
    x = paddle.static.nn.conv2d(
        x,
        num_filters=num_filters,
        filter_size=5,
        param_attr=name + "w",
        bias_attr=name + "b",
        use_cudnn=use_cudnn,
        act=act)
    return paddle.nn.functional.max_pool2d(x, kernel_size=2, stride=2)


def fc(x, num_filters, name=None, act=None):
    return paddle.static.nn.fc(
        x, size=num_filters, activation=act, weight_attr=name + "w", bias_attr=name + "b")


def deconv(x, num_filters, name=None, filter_size=5, stride=2, dilation=1, padding=2,
           output_size=None, act=None, use_cudnn=use_cudnn):
    return paddle.static.nn.conv2d_transpose(
        x,
        num_filters=num_filters,
        output_size=output_size,
        filter_size=filter_size,
        stride=stride,
        dilation=dilation,
        padding=padding,
        param_attr=name + "w",
        bias_attr=name + "b",
        use_cudnn=use_cudnn,
        act=act)


def D(x, raw_logits=False, conv=conv):
    """The chapter's D ends in a sigmoid although loss() applies one again; raw_logits drops it.
    The fast CPU path passes conv_with_indexed_pool, which computes the same layer."""
    x = paddle.reshape(x, shape=[-1, 1, 28, 28])
    x = conv(x, df_dim, act="leaky_relu", name="conv1")
    x = bn(conv(x, df_dim * 2, name="conv2"), act="leaky_relu", name="bn1")
    x = bn(fc(x, dfc_dim, name="fc1"), act="leaky_relu", name="bn2")
    x = fc(x, 1, act=None if raw_logits else "sigmoid", name="fc2")
    return x


def G(x, deconv=deconv):
    """The chapter's G. The fast CPU path passes deconv_via_conv2d, which computes the same layer."""
    x = bn(fc(x, gfc_dim, name="fc3"), name="bn3")
    x = bn(fc(x, gf_dim * 2 * img_dim // 4 * img_dim // 4, name="fc4"), name="bn4")
    x = paddle.reshape(x, [-1, gf_dim * 2, img_dim // 4, img_dim // 4])
    x = deconv(x, gf_dim * 2, act="relu", output_size=[14, 14], name="deconv1")
    x = deconv(x, num_filters=1, filter_size=5, padding=2, act="tanh", output_size=[28, 28],
               name="deconv2")
    x = paddle.reshape(x, shape=[-1, 28 * 28])
    return x


# ---------------------------------------------------------------------------------------------
# Loss
# ---------------------------------------------------------------------------------------------
def loss(x, label):
    """Mean of sigmoid_cross_entropy_with_logits."""
    return paddle.nn.functional.binary_cross_entropy_with_logits(x, label)


# ---------------------------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------------------------
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
    g_img_test: paddle.static.Variable  # g_img in g_program_test
    d_logit: paddle.static.Variable
    d_loss: paddle.static.Variable
    dg_logit: paddle.static.Variable
    dg_loss: paddle.static.Variable


def build_programs(raw_logits=False, seed=None, fast_cpu=False, use_cudnn=use_cudnn):
    """Build the chapter's programs. D's parameters are shared by name between d_program and
    dg_program; each optimizer step updates only its own network's parameters. With fast_cpu, the
    training programs compute the same layers with conv_with_indexed_pool and deconv_via_conv2d;
    g_program_test, which becomes the saved inference model, keeps the chapter's conv2d_transpose."""
    chapter_deconv = functools.partial(deconv, use_cudnn=use_cudnn)
    train_conv = functools.partial(conv_with_indexed_pool if fast_cpu else conv, use_cudnn=use_cudnn)
    train_deconv = (functools.partial(deconv_via_conv2d, use_cudnn=use_cudnn) if fast_cpu
                    else chapter_deconv)
    startup = paddle.static.Program()
    if seed is not None:
        startup.random_seed = seed
    d_program = paddle.static.Program()
    dg_program = paddle.static.Program()

    with paddle.utils.unique_name.guard():
        with paddle.static.program_guard(d_program, startup):
            img = paddle.static.data(name="img", shape=[None, 784], dtype="float32")
            label = paddle.static.data(name="label", shape=[None, 1], dtype="float32")
            d_logit = D(img, raw_logits, conv=train_conv)
            d_loss = loss(d_logit, label)

        with paddle.static.program_guard(dg_program, startup):
            noise = paddle.static.data(name="noise", shape=[None, NOISE_SIZE], dtype="float32")
            g_img = G(x=noise, deconv=train_deconv)

            g_program = dg_program.clone()
            g_program_test, g_img_test = dg_program.clone(for_test=True), g_img

            dg_logit = D(g_img, raw_logits, conv=train_conv)
            # all-ones labels as large as the batch: fluid's fill_constant_batch_size_like
            dg_loss = loss(dg_logit, paddle.ones_like(dg_logit))

        opt = paddle.optimizer.Adam(learning_rate=LEARNING_RATE)
        with paddle.static.program_guard(d_program, startup):
            opt.minimize(d_loss)
        g_parameters = [p.name for p in g_program.global_block().all_parameters()]
        d_parameters = {p.name for p in d_program.global_block().all_parameters()}
        with paddle.static.program_guard(dg_program, startup):
            # fluid also computed dg_loss's gradients for D's parameters and dropped them unused;
            # stopping there computes the same G step with less work
            opt.minimize(dg_loss, parameters=g_parameters, no_grad_set=d_parameters)

        if fast_cpu:
            # the same G's parameters, by name, in a program of the chapter's own ops
            chapter_g = paddle.static.Program()
            with paddle.static.program_guard(chapter_g, paddle.static.Program()):
                g_img_test = G(paddle.static.data(name="noise", shape=[None, NOISE_SIZE],
                                                  dtype="float32"), deconv=chapter_deconv)
            g_program_test = chapter_g.clone(for_test=True)

    return Programs(startup, d_program, dg_program, g_program, g_program_test,
                    img, label, noise, g_img, g_img_test, d_logit, d_loss, dg_logit, dg_loss)


# ---------------------------------------------------------------------------------------------
# Data: MNIST read as paddle.dataset.mnist reads it, pixels scaled to [-1, 1]
# ---------------------------------------------------------------------------------------------
def read_idx(path, magic):
    """Read one IDX file, gzip-compressed or raw, after checking its header against its size."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError) as e:
        raise UsageError("cannot read {}: {}; replace it with the original MNIST file".format(
            path, e))
    ndim = magic & 0xFF
    header = 4 * (1 + ndim)
    if len(data) < header or int.from_bytes(data[:4], "big") != magic:
        raise UsageError("{} is not an MNIST IDX file (expected magic number {}); replace it with "
                         "the original MNIST file".format(path, magic))
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    if len(data) != header + int(np.prod(dims)):
        raise UsageError("{} is truncated or corrupt: its header announces {} bytes of data, the "
                         "file has {}; replace it with the original MNIST file".format(
                             path, int(np.prod(dims)), len(data) - header))
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def find_idx_file(data_dir, stem):
    for name in (stem + ".gz", stem):
        if os.path.isfile(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    raise UsageError("--data_dir {}: {}.gz (or {}) is missing; put the MNIST IDX files there".format(
        data_dir, stem, stem))


def download_mnist(split, url_prefix):
    """Fetch a split into paddle's dataset cache (md5-checked, with a progress bar), or say how
    to get the files by hand."""
    paths = []
    for stem, md5 in MNIST_FILES[split]:
        url = url_prefix.rstrip("/") + "/" + stem + ".gz"
        cached = os.path.join(paddle.dataset.common.DATA_HOME, "mnist", stem + ".gz")
        if not os.path.exists(cached):
            print("downloading {} into {}".format(url, cached), flush=True)
        try:
            # paddle repeats its own notes on stderr at each of its retries; its progress bar
            # goes to stdout and stays visible
            with contextlib.redirect_stderr(io.StringIO()):
                paths.append(paddle.dataset.common.download(url, "mnist", md5))
        except Exception:
            # paddle downloads straight into the cache: what it leaves there is partial or wrong
            failure = "could not be downloaded"
            if os.path.exists(cached):
                os.remove(cached)
                failure = "arrived cut short or altered (its md5 check failed; the file was removed)"
            raise UsageError(
                "MNIST {} split not in {} and {} {}; fetch {} into a folder and pass --data_dir "
                "FOLDER".format(
                    split, os.path.join(paddle.dataset.common.DATA_HOME, "mnist"), url, failure,
                    " and ".join(s + ".gz" for s, _ in MNIST_FILES[split])))
    return paths


def load_mnist(split="train", data_dir=None, url_prefix=paddle.dataset.mnist.URL_PREFIX):
    """Return the split's images as float32 rows of 784 pixels in [-1, 1]."""
    if data_dir is not None:
        if not os.path.isdir(data_dir):
            raise UsageError("--data_dir {} is not a folder; pass the folder that holds the "
                             "MNIST IDX files".format(data_dir))
        image_path, label_path = (find_idx_file(data_dir, stem) for stem, _ in MNIST_FILES[split])
    else:
        image_path, label_path = download_mnist(split, url_prefix)
    images = read_idx(image_path, IDX_IMAGES_MAGIC)
    labels = read_idx(label_path, IDX_LABELS_MAGIC)
    if images.shape[1:] != (img_dim, img_dim) or images.shape[0] != labels.shape[0]:
        raise UsageError("{} holds {} images of {}, {} holds {} labels: expected as many 28x28 "
                         "images as labels; replace them with the original MNIST files".format(
                             image_path, images.shape[0], images.shape[1:], label_path,
                             labels.shape[0]))
    return (images.reshape(-1, img_dim * img_dim).astype("float32") / 255.0 * 2.0 - 1.0)


def batches_per_epoch(num_images, batch_size, max_batches=None):
    """Full batches only: like the chapter's loop, a short last batch is skipped."""
    n = num_images // batch_size
    return n if max_batches is None else min(n, max_batches)


def uniform_noise(n):
    return np.random.uniform(low=-1.0, high=1.0, size=[n, NOISE_SIZE]).astype("float32")


# ---------------------------------------------------------------------------------------------
# Executor, checkpoints and the saved generator
# ---------------------------------------------------------------------------------------------
def onednn_available():
    """Paddle's x86-64 builds for Linux and Windows carry oneDNN; its macOS builds and other
    architectures have none, and the fast path needs it."""
    return (paddle.base.core.is_compiled_with_mkldnn()
            and platform.machine().lower() in ("x86_64", "amd64"))


def default_cpu_threads():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def set_cpu_threads(num_threads):
    """Paddle sets OMP_NUM_THREADS=1 at import and so runs its CPU math on one core unless told.
    Telling it sets the count for the calling thread only, and paddle's executor runs ops on worker
    threads of its own, which stay at one; run serially, every op runs on the calling thread."""
    paddle.base.core.set_num_threads(num_threads)
    paddle.set_flags({"FLAGS_new_executor_serial_run": True})


def conv_with_indexed_pool(x, num_filters, name=None, act=None, use_cudnn=use_cudnn):
    """The chapter's conv whose max-pool also records where each maximum is, so that its gradient
    is a scatter: paddle's pool2d_grad searches every window again on one thread (and oneDNN's cannot
    run here). Both give the gradient to a window's first maximum; same parameters, same values."""
    x = paddle.static.nn.conv2d(x, num_filters=num_filters, filter_size=5, param_attr=name + "w",
                                bias_attr=name + "b", use_cudnn=use_cudnn, act=act)
    return paddle.nn.functional.max_pool2d(x, kernel_size=2, stride=2, return_mask=True)[0]


# Which taps of the chapter's 5x5 transposed-convolution filter reach the even (first tuple) and the odd
# (second) output rows and columns through a 3x3 window over its input; tap 5 stands for a zero.
DECONV_PHASE_TAPS = ((4, 2, 0), (5, 3, 1))


def deconv_tap_selection():
    """The 0/1 matrix [25, 36] that turns a flat 5x5 filter into the four phases' 3x3 filters, in
    the order (py, ky, px, kx). A product with it copies values exactly, and so does its gradient."""
    selection = np.zeros((25, 36), dtype="float32")
    phase_taps = [(row, col) for rows in DECONV_PHASE_TAPS for row in rows
                  for cols in DECONV_PHASE_TAPS for col in cols]
    for column, (row, col) in enumerate(phase_taps):
        if row < 5 and col < 5:
            selection[row * 5 + col, column] = 1.0
    return selection


def deconv_via_conv2d(x, num_filters, name=None, filter_size=5, stride=2, dilation=1, padding=2,
                      output_size=None, act=None, use_cudnn=use_cudnn):
    """The chapter's deconv, computed on conv2d's fast CPU kernels: same parameters, same values.

    With stride 2, padding 2 and a 5x5 filter, output pixel (2m + py, 2l + px) of the transposed
    convolution sums the 3x3 input window around (m, l) times the filter taps DECONV_PHASE_TAPS[py] x
    DECONV_PHASE_TAPS[px]. So it equals one 3x3 convolution (padding 1) with four outputs per filter,
    one per phase (py, px), whose outputs are then interleaved (depth to space). The 3x3 filters are
    taken inside the program from the chapter's [Cin, Cout, 5, 5] filter, made by the same helper
    conv2d_transpose uses, so the gradients reach it, and the bias and activation follow as there.
    use_cudnn is taken for the chapter's signature and unused: this form is for CPUs."""
    in_channels, height, width = x.shape[1:]
    if ((filter_size, stride, dilation, padding) != (5, 2, 1, 2)
            or list(output_size) != [2 * height, 2 * width]):
        raise ValueError("deconv_via_conv2d computes only the chapter's 5x5, stride-2 deconv that "
                         "doubles the side")
    helper = paddle.base.layer_helper.LayerHelper(
        "conv2d_transpose", param_attr=name + "w", bias_attr=name + "b", act=act)
    filter_5x5 = helper.create_parameter(dtype=x.dtype, shape=[in_channels, num_filters, 5, 5],
                                         attr=helper.param_attr)
    phases = paddle.nn.functional.linear(  # a matrix product, the one paddle 3.x keeps in this IR
        paddle.reshape(filter_5x5, [in_channels * num_filters, 25]),
        paddle.assign(deconv_tap_selection()))
    phases = paddle.transpose(paddle.reshape(phases, [in_channels, num_filters, 2, 3, 2, 3]),
                              [1, 2, 4, 0, 3, 5])  # [Cout, py, px, Cin, ky, kx]
    filter_3x3 = paddle.reshape(phases, [num_filters * 4, in_channels, 3, 3])

    y = paddle.nn.functional.conv2d(x, filter_3x3, padding=1)
    y = paddle.reshape(y, [-1, num_filters, 2, 2, height, width])
    y = paddle.reshape(paddle.transpose(y, [0, 1, 4, 2, 5, 3]),  # [N, Cout, m, py, l, px]
                       [-1, num_filters, 2 * height, 2 * width])
    return helper.append_activation(helper.append_bias_op(y, dim_start=1, dim_end=2))


def use_onednn(progs):
    """Run the ops of ONEDNN_OPS in the training programs on oneDNN's multi-threaded CPU kernels:
    the same ops computing the same values to float rounding, faster. Paddle can only switch oneDNN
    on for a whole program, and there its transposed convolution refuses to train, hence one op at a
    time. g_program_test, which is saved as the inference model, keeps paddle's defaults."""
    for program in (progs.d_program, progs.dg_program, progs.g_program):
        for op in program.global_block().ops:
            if op.type in ONEDNN_OPS:
                op._set_attr("use_mkldnn", True)


def make_place(use_gpu):
    if not use_gpu:
        return paddle.CPUPlace()
    if not paddle.is_compiled_with_cuda():
        raise UsageError("--use_gpu true needs a CUDA build of paddle (pip install "
                         "paddlepaddle-gpu); this one is CPU-only, so drop --use_gpu")
    return paddle.CUDAPlace(0)


def persistable_names(*programs):
    """Everything training changes: parameters, Adam moments and beta powers, learning rates,
    batch-norm moving statistics."""
    kinds = (paddle.base.core.VarDesc.VarType.FEED_MINIBATCH,
             paddle.base.core.VarDesc.VarType.FETCH_LIST,
             paddle.base.core.VarDesc.VarType.READER)
    return sorted({v.name for p in programs for v in p.list_vars()
                   if v.persistable and v.type not in kinds})


def save_checkpoint(path, progs, state):
    scope = paddle.static.global_scope()
    arrays = {"var/" + name: np.array(scope.find_var(name).get_tensor())
              for name in persistable_names(progs.d_program, progs.dg_program)}
    rng = np.random.get_state()
    arrays.update({"rng/" + str(i): np.asarray(v) for i, v in enumerate(rng)})
    arrays.update({"state/" + k: np.asarray(v) for k, v in state.items()})
    atomic_write(path, lambda f: np.savez(f, **arrays), size=sum(a.nbytes for a in arrays.values()))


def load_checkpoint(path, progs, place):
    """Restore every persistable and numpy's RNG; return the loop's state."""
    try:
        with np.load(path) as ckpt:
            arrays = {k: ckpt[k] for k in ckpt.files}
    except Exception as e:
        raise UsageError("checkpoint {} is unreadable ({}); delete it and train without "
                         "--resume".format(path, e))
    missing = [k for k in CHECKPOINT_STATE_KEYS if k not in arrays]
    if missing:
        raise UsageError("checkpoint {} lacks {}; delete it and train without --resume".format(
            path, ", ".join(missing)))
    scope = paddle.static.global_scope()
    for name in persistable_names(progs.d_program, progs.dg_program):
        tensor = scope.find_var(name).get_tensor()
        value = arrays.get("var/" + name)
        if value is None or tuple(value.shape) != tuple(tensor.shape()):
            raise UsageError("checkpoint {} does not match this network ({}); delete it and "
                             "train without --resume".format(path, name))
        tensor.set(value, place)
    rng = [arrays["rng/" + str(i)] for i in range(5)]
    np.random.set_state((str(rng[0]), rng[1], int(rng[2]), int(rng[3]), float(rng[4])))
    return {k[len("state/"):]: v for k, v in arrays.items() if k.startswith("state/")}


def save_generator(output, progs, exe):
    """Save G (batch norm on its moving statistics) as a Paddle inference model, atomically."""
    prefix = os.path.join(output, GENERATOR_PREFIX)
    tmp = temporary_path(prefix)
    try:
        paddle.static.save_inference_model(tmp, [progs.noise], [progs.g_img_test], exe,
                                           program=progs.g_program_test)
        for ext in (".pdiparams", ".pdmodel"):
            os.replace(tmp + ext, prefix + ext)
    except OSError as e:
        raise save_failed(prefix + ".pdiparams", e)
    finally:
        for ext in (".pdiparams", ".pdmodel"):
            if os.path.exists(tmp + ext):
                os.remove(tmp + ext)


def generator_prefix(output):
    """The saved generator's path prefix, or the one-line error saying how to make one."""
    prefix = os.path.join(output, GENERATOR_PREFIX)
    if not os.path.isfile(prefix + ".pdmodel"):
        raise UsageError("no saved generator at {}.pdmodel; train first (python dc_gan.py "
                         "--output {})".format(prefix, output))
    return prefix


def load_generator(output, place):
    """The generator saved in output, as a function from noise to flat 28x28 images in [-1, 1]."""
    prefix = generator_prefix(output)
    exe, scope = paddle.static.Executor(place), paddle.static.Scope()
    with paddle.static.scope_guard(scope):
        program, feed_names, fetch_targets = paddle.static.load_inference_model(prefix, exe)

    def draw(noise):
        with paddle.static.scope_guard(scope):
            return exe.run(program, feed={feed_names[0]: noise}, fetch_list=fetch_targets)[0]
    return draw


def draw_digits(output, noise, place):
    """Run the generator saved in output on the noise: flat 28x28 images in [-1, 1]."""
    return load_generator(output, place)(noise)


def generate(args):
    """Draw args.generate digits with the saved generator, GENERATE_BATCH at a time, streamed into
    a .npy file so that memory does not grow with their number; the grid shows the first ones."""
    if not args.use_gpu:
        set_cpu_threads(args.num_threads)
    draw = load_generator(args.output, make_place(args.use_gpu))
    count, shown = args.generate, []
    npy_path = os.path.join(args.output, "generated.npy")
    png_path = os.path.join(args.output, "generated.png")

    def write_digits(f):
        np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(
            np.dtype("float32")), "fortran_order": False, "shape": (count, img_dim * img_dim)})
        for start in range(0, count, GENERATE_BATCH):
            images = draw(uniform_noise(min(GENERATE_BATCH, count - start)))
            f.write(np.ascontiguousarray(images, dtype="float32").tobytes())
            shown.extend(images[:GRID_MAX_DIGITS - len(shown)])
            done = start + len(images)
            if count > GENERATE_BATCH and (done * 10 // count > start * 10 // count):
                print("drew {} of {} digits".format(done, count), flush=True)

    atomic_write(npy_path, write_digits, size=count * img_dim * img_dim * 4)
    title = "{} digits drawn by {}".format(count, generator_prefix(args.output))
    if count > GRID_MAX_DIGITS:
        title += " (the first {} shown)".format(GRID_MAX_DIGITS)
    save_grid(np.array(shown), title, png_path)
    print("wrote {} and {}".format(png_path, npy_path))
    return 0


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
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


def format_duration(seconds):
    seconds = int(round(seconds))
    return "{}h{:02d}m{:02d}s".format(seconds // 3600, seconds // 60 % 60, seconds % 60)


class StopRequest:
    """The first Ctrl-C asks the loop to stop after the current batch and save; a second one
    interrupts at once."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)
        print("\nstopping after this batch to save a checkpoint (Ctrl-C again to abort)",
              flush=True)

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self._previous)


def prepare_output(path):
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError("--output {} is a file; pass a folder".format(path))
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".write-test{}".format(os.getpid()))  # not a LEFTOVER
        open(probe, "wb").close()
        os.remove(probe)
    except OSError as e:
        raise UsageError("--output {} is not a writable folder ({}); pass another --output".format(
            path, e.strerror or e))


def lock_exclusively(f):
    """Lock an open file for this process, or raise OSError at once if another holds it. The
    operating system releases the lock when the process ends, however it ends."""
    if os.name == "nt":
        import msvcrt  # Windows: lock the file's first byte
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


@contextlib.contextmanager
def output_lock(path):
    """One run of this script per output folder, training or drawing: a second one stops at once."""
    try:
        f = open(os.path.join(path, LOCK_FILE), "a+b")
    except OSError as e:
        raise UsageError("--output {} is not a writable folder ({}); pass another --output".format(
            path, e.strerror or e))
    with f:
        try:
            lock_exclusively(f)
        except OSError:
            raise UsageError("--output {} is in use by another run of dc_gan.py; wait for it to end "
                             "or pass another --output".format(path))
        yield


def remove_leftovers(path):
    """Delete the temporary files of runs that died while saving (a kill, a power cut). Called
    under output_lock, so their writers are gone: a live run would hold the lock."""
    for name in os.listdir(path):
        if LEFTOVER.search(name):
            os.remove(os.path.join(path, name))
            print("removed {}, left by a run that died while saving".format(
                os.path.join(path, name)))


def resume_state(checkpoint_path, progs, place, args, num_images):
    """Load the checkpoint into the scope; return the loop's const_n, order, losses, epoch, batch."""
    state = load_checkpoint(checkpoint_path, progs, place)
    for flag in RESUME_FLAGS:
        if state[flag].item() != getattr(args, flag):
            raise UsageError("--resume: the checkpoint was trained with --{} {}; pass the same "
                             "value".format(flag, str(state[flag].item()).lower()))
    if len(state["order"]) != num_images:
        raise UsageError("--resume: the checkpoint was trained on {} images, this data has {}; "
                         "pass the same data".format(len(state["order"]), num_images))
    start_epoch, start_batch = int(state["epoch"]), int(state["batch"])
    print("resuming from {} at epoch {} batch {}".format(checkpoint_path, start_epoch, start_batch))
    losses = [list(state["d_losses"]), list(state["dg_losses"])]
    return state["const_n"], state["order"], losses, start_epoch, start_batch


def train(args):
    if args.enable_ce:
        np.random.seed(CE_NUMPY_SEED)
        if args.use_gpu:
            paddle.set_flags({"FLAGS_cudnn_deterministic": True})
    place = make_place(args.use_gpu)
    checkpoint_path = os.path.join(args.output, CHECKPOINT_FILE)
    if args.resume and not os.path.isfile(checkpoint_path):
        raise UsageError("--resume: no checkpoint at {}; train without --resume first".format(
            checkpoint_path))
    if not args.resume and os.path.isfile(checkpoint_path):
        print("note: {} will be replaced by this new run at its first save; pass --resume to "
              "continue it instead".format(checkpoint_path))

    train_images = load_mnist(args.mnist_split, args.data_dir, args.mnist_url)
    num_batches = batches_per_epoch(len(train_images), args.batch_size, args.max_batches)
    if num_batches == 0:
        raise UsageError("--batch_size {} is larger than the {} images of the {} split; pass a "
                         "smaller --batch_size".format(args.batch_size, len(train_images),
                                                       args.mnist_split))

    fast_cpu = args.onednn and not args.use_gpu
    if fast_cpu and not onednn_available():
        print("note: this paddle has no oneDNN on this machine ({} {}): training on paddle's own "
              "CPU kernels with {} threads".format(platform.system(), platform.machine(),
                                                   args.num_threads))
        fast_cpu = False
    progs = build_programs(args.raw_logits, CE_PROGRAM_SEED if args.enable_ce else None, fast_cpu,
                           args.use_cudnn)
    if not args.use_gpu:
        set_cpu_threads(args.num_threads)
    if fast_cpu:
        use_onednn(progs)
    exe = paddle.static.Executor(place)
    exe.run(progs.startup)

    const_n = uniform_noise(args.batch_size)
    losses = [[], []]
    start_epoch, start_batch, order = 0, 0, None
    film = Film(os.path.join(args.output, FILM_FILE))
    if args.resume:
        const_n, order, losses, start_epoch, start_batch = resume_state(
            checkpoint_path, progs, place, args, len(train_images))
        film.resume(before=(start_epoch, start_batch))

    def save_state(next_epoch, next_batch):
        nonlocal saved_at
        saved_at = t_time
        save_checkpoint(checkpoint_path, progs, {
            "epoch": next_epoch, "batch": next_batch, "order": order, "const_n": const_n,
            "d_losses": np.array(losses[0]), "dg_losses": np.array(losses[1]),
            **{flag: getattr(args, flag) for flag in RESUME_FLAGS}})
        save_generator(args.output, progs, exe)
        save_loss_curve(losses, os.path.join(args.output, LOSS_CURVE_FILE))
        film.write()

    total_batches = (args.epoch - start_epoch) * num_batches - start_batch
    done, t_time, saved_at = 0, 0.0, 0.0  # saved_at: t_time at the last checkpoint
    with StopRequest() as stop:
        for pass_id in range(start_epoch, args.epoch):
            first_batch = start_batch if pass_id == start_epoch else 0
            if first_batch == 0 or order is None:
                # the chapter's reader: paddle.reader.shuffle with a buffer of 60000, i.e. a full
                # shuffle of MNIST each epoch; the continuous-evaluation job reads in file order
                order = (np.arange(len(train_images)) if args.enable_ce
                         else np.random.default_rng().permutation(len(train_images)))
            next_batch = first_batch
            for batch_id in range(first_batch, num_batches):
                s_time = time.time()
                rows = order[batch_id * args.batch_size:(batch_id + 1) * args.batch_size]
                real_image = train_images[rows]
                d_loss_n, dg_losses = train_batch(exe, progs, real_image)
                losses[0].append(d_loss_n)
                losses[1].extend(dg_losses)
                t_time += time.time() - s_time
                done += 1
                next_batch = batch_id + 1

                if batch_id % PLOT_EVERY == 0:
                    generated_images = exe.run(progs.g_program_test, feed={"noise": const_n},
                                               fetch_list=[progs.g_img_test])[0]
                    # str() shows a float32 as numpy does (1.4430926), as the chapter's lines
                    # read; format() would widen it to a Python float's 17 digits first
                    msg = "Epoch ID={0} Batch ID={1} D-Loss={2} DG-Loss={3}".format(
                        pass_id, batch_id, str(d_loss_n), str(dg_losses[-1]))
                    rate = done / t_time
                    print("{}  [{:.2f} batch/s, {:.0f} img/s, {} left]".format(
                        msg, rate, rate * args.batch_size,
                        format_duration((total_batches - done) / rate)), flush=True)
                    save_grid(np.concatenate([real_image, generated_images]), msg,
                              "{}/{:04d}_{:04d}.png".format(args.output, pass_id, batch_id))
                    film.add((pass_id, batch_id), film_frame(
                        generated_images, image_grid_columns(2 * args.batch_size),
                        "Epoch ID={} Batch ID={}".format(pass_id, batch_id)))
                    film.write(at_most_every=FILM_REWRITE_SECONDS)
                if stop.requested:
                    break
                since_saved = t_time - saved_at
                if (args.save_every_minutes and next_batch < num_batches
                        and since_saved >= args.save_every_minutes * 60):
                    save_state(pass_id, next_batch)  # what a Ctrl-C saves: --resume goes on here
                    print("checkpoint saved to {} at epoch {} batch {}, after {} of training"
                          .format(checkpoint_path, pass_id, next_batch,
                                  format_duration(since_saved)), flush=True)

            if next_batch < num_batches:
                save_state(pass_id, next_batch)
            else:
                save_state(pass_id + 1, 0)
                if args.enable_ce and pass_id == args.epoch - 1:
                    print("kpis\tdcgan_d_train_cost\t%f" % np.mean(losses[0]))
                    print("kpis\tdcgan_g_train_cost\t%f" % np.mean(losses[1]))
            if stop.requested:
                print("interrupted: checkpoint saved to {}; continue with --resume".format(
                    checkpoint_path))
                return 130
    if done == 0:
        print("nothing to do: the checkpoint has already trained {} epochs; raise --epoch to "
              "train more".format(start_epoch))
    else:
        print("done: {} batches in {}; model and checkpoint in {}".format(
            done, format_duration(t_time), args.output))
    return 0


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------
def str2bool(value):
    """What the Book's scripts accepted (distutils' strtobool)."""
    lowered = value.lower()
    if lowered in ("y", "yes", "t", "true", "on", "1"):
        return True
    if lowered in ("n", "no", "f", "false", "off", "0"):
        return False
    raise argparse.ArgumentTypeError("expected true or false (or yes/no, on/off, 1/0), got "
                                     "'{}'".format(value))


class OneLineParser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, "{}: error: {} (see --help)\n".format(self.prog, message))


def parse_args(argv=None):
    parser = OneLineParser(
        prog="dc_gan.py",
        description="Train the PaddlePaddle Book's DCGAN on MNIST (chapter 09.gan), or draw "
                    "digits with a trained generator.")
    flag = parser.add_argument
    boolean = dict(type=str2bool, nargs="?", const=True, metavar="true|false")
    flag("--batch_size", type=int, default=batch_size, help="minibatch size (default %(default)s)")
    flag("--epoch", type=int, default=epoch, help="epochs to train (default %(default)s)")
    flag("--output", default=output,
         help="folder for pictures, model and checkpoint (default %(default)s)")
    flag("--use_gpu", default=use_gpu, help="train on CUDAPlace(0) (default false)", **boolean)
    flag("--enable_ce", default=False, help="continuous evaluation: fixed seeds, no shuffling, "
         "KPI lines at the end (default false)", **boolean)
    flag("--use_cudnn", default=use_cudnn, help="on a GPU, run the convolutions on cuDNN, as the "
         "Book's code did (default true); false builds the chapter text's programs", **boolean)
    flag("--raw_logits", default=False, help="D returns raw logits instead of the chapter's "
         "sigmoid output, which the loss squashes a second time (default false)", **boolean)
    flag("--resume", default=False,
         help="continue from OUTPUT/checkpoint.npz (default false)", **boolean)
    flag("--num_threads", type=int, default=default_cpu_threads(),
         help="CPU threads for paddle's math (default: all %(default)s cores here)")
    flag("--onednn", default=True, help="on a CPU, train on the fast path: oneDNN's kernels, the "
         "transposed convolutions as convolutions, the pools with indices; the same parameters and "
         "values to float rounding, faster (default true); false: the chapter's ops", **boolean)
    flag("--save_every_minutes", type=float, default=SAVE_EVERY_MINUTES, metavar="M",
         help="also save the checkpoint every M minutes of training, mid-epoch, so that a crash "
         "loses at most that much (default %(default)s; 0: only at epoch ends and on Ctrl-C)")
    flag("--max_batches", type=int, default=None, help="cap the batches of each epoch, "
         "for smoke runs (default: all)")
    flag("--data_dir", default=None, help="read the MNIST IDX files (.gz or raw) from this folder "
         "instead of paddle's dataset cache")
    flag("--mnist_split", choices=("train", "test"), default="train",
         help="the MNIST split to train on (default %(default)s)")
    flag("--mnist_url", default=paddle.dataset.mnist.URL_PREFIX,
         help="where to download MNIST from when it is not cached (default %(default)s)")
    flag("--generate", type=int, default=None, metavar="N", help="do not train: draw N digits "
         "with OUTPUT/generator.* into OUTPUT/generated.png and OUTPUT/generated.npy")
    args = parser.parse_args(argv)

    for name in ("batch_size", "epoch", "max_batches", "generate", "num_threads"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            parser.error("argument --{}: must be a positive whole number, got {}".format(
                name, value))
    if not args.save_every_minutes >= 0:  # also refuses nan
        parser.error("argument --save_every_minutes: must be 0 (off) or a positive number of "
                     "minutes, got {}".format(args.save_every_minutes))
    return args


def print_arguments(args):
    """The run's configuration as the Book's scripts printed it: a log says how it was made."""
    print("-----------  Configuration Arguments -----------")
    for name, value in sorted(vars(args).items()):
        print("%s: %s" % (name, value))
    print("------------------------------------------------", flush=True)


def main(argv=None):
    args = parse_args(argv)
    print_arguments(args)
    paddle.enable_static()
    try:
        if args.generate is not None:
            generator_prefix(args.output)  # there is one to draw with, before touching the folder
        else:
            prepare_output(args.output)
        with output_lock(args.output):
            remove_leftovers(args.output)
            return generate(args) if args.generate is not None else train(args)
    except UsageError as e:
        print("dc_gan.py: error: {}".format(e), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
