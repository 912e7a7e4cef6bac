"""MNIST as paddle.dataset.mnist reads it: the IDX files from a folder (--data_dir), or downloaded into
paddle's dataset cache and md5-checked; pixels scaled to [-1, 1]."""
import contextlib
import gzip
import io
import os

import numpy as np
import paddle.dataset.common
import paddle.dataset.mnist

from dcgan_port.errors import UsageError

MNIST_SIDE = 28
MNIST_FILES = {
    "train": (("train-images-idx3-ubyte", paddle.dataset.mnist.TRAIN_IMAGE_MD5),
              ("train-labels-idx1-ubyte", paddle.dataset.mnist.TRAIN_LABEL_MD5)),
    "test": (("t10k-images-idx3-ubyte", paddle.dataset.mnist.TEST_IMAGE_MD5),
             ("t10k-labels-idx1-ubyte", paddle.dataset.mnist.TEST_LABEL_MD5)),
}
MNIST_URL = paddle.dataset.mnist.URL_PREFIX
IDX_IMAGES_MAGIC = 2051
IDX_LABELS_MAGIC = 2049


def read_idx(path, magic):
    """Read one IDX file, gzip-compressed or raw, after checking its header against its size."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError) as e:
        raise UsageError("cannot read {}: {}; replace it with the original MNIST file".format(path, e))
    ndim = magic & 0xFF
    header = 4 * (1 + ndim)
    if len(data) < header or int.from_bytes(data[:4], "big") != magic:
        raise UsageError("{} is not an MNIST IDX file (expected magic number {}); replace it with the "
                         "original MNIST file".format(path, magic))
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    if len(data) != header + int(np.prod(dims)):
        raise UsageError("{} is truncated or corrupt: its header announces {} bytes of data, the file "
                         "has {}; replace it with the original MNIST file".format(
                             path, int(np.prod(dims)), len(data) - header))
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def find_idx_file(data_dir, stem):
    for name in (stem + ".gz", stem):
        if os.path.isfile(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    raise UsageError("--data_dir {}: {}.gz (or {}) is missing; put the MNIST IDX files there".format(
        data_dir, stem, stem))


def download_mnist(split, url_prefix):
    """Fetch a split into paddle's dataset cache (md5-checked, with a progress bar), or say how to get
    the files by hand."""
    paths = []
    for stem, md5 in MNIST_FILES[split]:
        url = url_prefix.rstrip("/") + "/" + stem + ".gz"
        cached = os.path.join(paddle.dataset.common.DATA_HOME, "mnist", stem + ".gz")
        if not os.path.exists(cached):
            print("downloading {} into {}".format(url, cached), flush=True)
        try:
            # paddle repeats its own notes on stderr at each of its retries; its progress bar goes to
            # stdout and stays visible
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


def load_mnist(split="train", data_dir=None, url_prefix=MNIST_URL):
    """Return the split's images as float32 rows of 784 pixels in [-1, 1]."""
    if data_dir is not None:
        if not os.path.isdir(data_dir):
            raise UsageError("--data_dir {} is not a folder; pass the folder that holds the MNIST IDX "
                             "files".format(data_dir))
        image_path, label_path = (find_idx_file(data_dir, stem) for stem, _ in MNIST_FILES[split])
    else:
        image_path, label_path = download_mnist(split, url_prefix)
    images = read_idx(image_path, IDX_IMAGES_MAGIC)
    labels = read_idx(label_path, IDX_LABELS_MAGIC)
    if images.shape[1:] != (MNIST_SIDE, MNIST_SIDE) or images.shape[0] != labels.shape[0]:
        raise UsageError("{} holds {} images of {}, {} holds {} labels: expected as many 28x28 images "
                         "as labels; replace them with the original MNIST files".format(
                             image_path, images.shape[0], images.shape[1:], label_path,
                             labels.shape[0]))
    return images.reshape(-1, MNIST_SIDE * MNIST_SIDE).astype("float32") / 255.0 * 2.0 - 1.0
