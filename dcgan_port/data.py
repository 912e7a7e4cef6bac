"""The training images: MNIST as paddle.dataset.mnist reads it (the IDX files from a folder, --data_dir, or
downloaded into paddle's dataset cache and md5-checked), or a folder of your own images; pixels scaled to
[-1, 1]."""
import contextlib
import gzip
import hashlib
import io
import os
import stat
import warnings
import zlib

import numpy as np
import paddle.dataset.common
import paddle.dataset.mnist
import PIL.Image
import PIL.ImageOps

from dcgan_port.caches import writable_folder
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
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
MAX_FOLDER_IMAGES = 2000000  # 6.3 GB as float32 28x28 rows
PROGRESS_EVERY = 10000  # images between two progress lines while a folder is read


def scaled(pixels):
    """0..255 pixel values as float32 in [-1, 1], the range G's tanh draws in."""
    return np.asarray(pixels, dtype=np.float32) / 255.0 * 2.0 - 1.0


def fingerprint(images):
    """A short digest of the training images' values: a resumed run checks that it trains on the same."""
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()[:16]


class NotAFile(OSError):
    """What open_regular raises for a path that is no longer a regular file."""


def open_regular(path):
    """Open a regular file for reading. A FIFO, socket or device found at the path (put there after the
    folder was listed) is refused at once: opened without blocking and never read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotAFile("not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_regular(path):
    """A regular file (or a link to one): the only kind of entry that is read as data."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def changed_while_read(path, error):
    return UsageError("{} {} while it was being read; run again once nothing changes the data "
                      "folder".format(path, "was removed" if isinstance(error, FileNotFoundError)
                                      else "was replaced by something that is not a file"))


def read_idx(path, magic):
    """Read one IDX file, gzip-compressed or raw, after checking its header against its size."""
    try:
        with open_regular(path) as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (FileNotFoundError, NotAFile) as e:
        raise changed_while_read(path, e)
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
        if is_regular(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    raise UsageError("--data_dir {}: {}.gz (or {}) is missing; put the MNIST IDX files there".format(
        data_dir, stem, stem))


def idx_files_present(data_dir, split):
    """Whether the folder holds any of the split's IDX files (.gz or raw): then they are what it means."""
    return any(is_regular(os.path.join(data_dir, stem + ext))
               for stem, _ in MNIST_FILES[split] for ext in (".gz", ""))


def inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def image_files(data_dir, leave_out=None):
    """The image files in the folder and its sub-folders (a class-per-folder layout), in a fixed order;
    none from the folder leave_out (a run's own output, whose grids are no training data), and no FIFO,
    socket or device, whatever its name: reading one would hang or do harm."""
    found = []
    for folder, subfolders, names in os.walk(data_dir):
        subfolders[:] = sorted(name for name in subfolders
                               if leave_out is None or not inside(os.path.join(folder, name), leave_out))
        found += [os.path.join(folder, name) for name in sorted(names)
                  if name.lower().endswith(IMAGE_EXTENSIONS) and not name.startswith(".")
                  and is_regular(os.path.join(folder, name))]
    return found


def grey_pixels(image):
    """One channel of 0..255 values, as a float image: transparency over black (MNIST's background), 16-bit
    scaled down, colour weighted as Pillow's "L" mode weighs it."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        top = 65535.0 if image.mode.startswith("I;16") else max(float(np.asarray(image).max()), 1.0)
        return PIL.Image.fromarray(np.asarray(image, dtype=np.float32) * (255.0 / top), "F")
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = PIL.Image.alpha_composite(PIL.Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    return image.convert("L").convert("F")


def read_image(path, side):
    """The image's first frame, turned upright as its EXIF orientation says (a phone's photographs),
    centre-cropped to a square and resampled (Lanczos) to side x side, as a flat row of values in [-1, 1]."""
    with open_regular(path) as f, warnings.catch_warnings():
        # a large photograph reads as any other; Pillow's two lines of warning say nothing to the user
        warnings.simplefilter("ignore", PIL.Image.DecompressionBombWarning)
        with PIL.Image.open(f) as image:
            image.seek(0)
            image.load()
            upright = PIL.ImageOps.exif_transpose(image)
            square = PIL.ImageOps.fit(grey_pixels(upright), (side, side), method=PIL.Image.LANCZOS)
    return scaled(np.clip(np.asarray(square, dtype=np.float32), 0, 255).reshape(-1))


def load_image_folder(data_dir, paths, side=MNIST_SIDE):
    """Every image Pillow can read, decoded once into one float32 array; the others skipped, counted and
    named once."""
    if len(paths) > MAX_FOLDER_IMAGES:
        raise UsageError("--data_dir {} holds {} images, more than the {} that fit in memory as 28x28 "
                         "rows; pass a folder with fewer".format(data_dir, len(paths), MAX_FOLDER_IMAGES))
    print("--data_dir {}: reading {} image files (no MNIST IDX files there)".format(data_dir, len(paths)),
          flush=True)
    images = np.empty((len(paths), side * side), dtype=np.float32)
    count, skipped = 0, []
    for number, path in enumerate(paths, 1):
        try:
            images[count] = read_image(path, side)
            count += 1
        except (FileNotFoundError, NotAFile) as e:
            raise changed_while_read(path, e)
        except MemoryError:
            raise
        # Pillow raises OSError, ValueError and SyntaxError for a file it cannot decode, its own for one too
        # large to be a picture, and for damaged metadata whatever its parser met (TypeError, struct.error)
        except Exception as e:
            skipped.append((path, e))
        if number % PROGRESS_EVERY == 0 and number < len(paths):
            print("read {} of {} images".format(number, len(paths)), flush=True)
    if count == 0:
        raise UsageError("--data_dir {}: none of its {} image files could be read ({}: {}); pass a folder "
                         "of PNG, JPEG, BMP or GIF images".format(data_dir, len(paths), *skipped[0]))
    if skipped:
        print("skipped {} of {} image files that could not be read (the first: {}: {})".format(
            len(skipped), len(paths), *skipped[0]), flush=True)
    return images[:count]


def whole_gzip(path):
    """Whether the file is a gzip stream that ends where it should."""
    try:
        with gzip.open(path) as f:
            while f.read(1 << 20):
                pass
        return True
    except (OSError, EOFError, zlib.error):
        return False


def download_mnist(split, url_prefix):
    """Fetch a split into paddle's dataset cache (md5-checked, with a progress bar) unless it is there, or say
    how to get the files by hand."""
    paths = []
    for stem, md5 in MNIST_FILES[split]:
        url = url_prefix.rstrip("/") + "/" + stem + ".gz"
        cached = os.path.join(paddle.dataset.common.DATA_HOME, "mnist", stem + ".gz")
        if os.path.exists(cached):
            if paddle.dataset.common.md5file(cached) == md5:
                paths.append(cached)
                continue
            if whole_gzip(cached):  # paddle would download over it: someone's own file
                raise UsageError(
                    "{} is not MNIST's file (its md5 differs) and is left as it is: to train on it, pass "
                    "--data_dir {}; to download MNIST, move it away".format(cached, os.path.dirname(cached)))
            os.remove(cached)  # a download cut short by a killed process
        if not writable_folder(os.path.dirname(cached)):  # a read-only ~/.cache, no temporary folder
            raise UsageError(
                "MNIST {} split not in {}, and no folder for paddle's dataset cache can be written "
                "there (nor under ~/.cache or the temporary folder); fetch {} into a folder and pass "
                "--data_dir FOLDER".format(split, os.path.dirname(cached), " and ".join(
                    s + ".gz" for s, _ in MNIST_FILES[split])))
        print("downloading {} into {}".format(url, cached), flush=True)
        try:
            # paddle repeats its own notes on stderr at each of its retries; its progress bar goes to
            # stdout and stays visible
            with contextlib.redirect_stderr(io.StringIO()):
                paths.append(paddle.dataset.common.download(url, "mnist", md5))
        except BaseException as error:
            # paddle downloads straight into the cache: what it leaves there is partial or wrong
            failure = "could not be downloaded"
            if os.path.exists(cached):
                os.remove(cached)
                failure = "arrived cut short or altered (its md5 check failed; the file was removed)"
            if not isinstance(error, Exception):  # a stop (dcgan_port.stopping)
                raise
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
                             "files or your images".format(data_dir))
        image_path, label_path = (find_idx_file(data_dir, stem) for stem, _ in MNIST_FILES[split])
    else:
        image_path, label_path = download_mnist(split, url_prefix)
    images = read_idx(image_path, IDX_IMAGES_MAGIC)
    labels = read_idx(label_path, IDX_LABELS_MAGIC)
    if images.shape[0] == 0:
        raise UsageError("{} holds 0 images: the data set is empty; replace it with the original MNIST "
                         "file".format(image_path))
    if images.shape[1:] != (MNIST_SIDE, MNIST_SIDE) or images.shape[0] != labels.shape[0]:
        raise UsageError("{} holds {} images of {}, {} holds {} labels: expected as many 28x28 images "
                         "as labels; replace them with the original MNIST files".format(
                             image_path, images.shape[0], images.shape[1:], label_path,
                             labels.shape[0]))
    return scaled(images.reshape(-1, MNIST_SIDE * MNIST_SIDE))


def load_training_images(split="train", data_dir=None, url_prefix=MNIST_URL, output=None):
    """The images to train on, as float32 rows of 784 pixels in [-1, 1], and what they are: the MNIST
    split (downloaded, or its IDX files in data_dir, as paddle.dataset.mnist reads them; other digit sets
    in MNIST's format, such as Fashion-MNIST, alike), or else the image files in data_dir, without those
    of the run's own output folder."""
    if data_dir is None or not os.path.isdir(data_dir) or idx_files_present(data_dir, split):
        images = load_mnist(split, data_dir, url_prefix)
        if data_dir is not None:
            extra = len(image_files(data_dir, leave_out=output))
            print("--data_dir {}: the {} split's IDX files, {} images{}".format(
                data_dir, split, len(images), "" if not extra else "; its {} image files are not used "
                "(move the IDX files away to train on them)".format(extra)), flush=True)
        return images, "the {} split".format(split)
    other = "test" if split == "train" else "train"
    if idx_files_present(data_dir, other):
        raise UsageError("--data_dir {} holds MNIST's {} split ({}.gz), not its {} split; pass "
                         "--mnist_split {} to train on it".format(data_dir, other,
                                                                 MNIST_FILES[other][0][0], split, other))
    if output is not None and inside(data_dir, output):
        raise UsageError("--data_dir {} is the --output folder (or inside it), whose pictures are the "
                         "run's own; pass another --output".format(data_dir))
    paths = image_files(data_dir, leave_out=output)
    if not paths:
        stem = MNIST_FILES[split][0][0]
        raise UsageError("--data_dir {}: the data set is empty: no {}.gz (or {}), and no image file ({}) "
                         "either; put the MNIST IDX files or your images there".format(
                             data_dir, stem, stem, ", ".join(IMAGE_EXTENSIONS)))
    return load_image_folder(data_dir, paths), data_dir
