"""Paddle's dataset cache and matplotlib's folders where ~/.cache cannot be written.

`import paddle` makes ~/.cache/paddle/dataset (or, when ~ is not writable, the same under the temporary
folder) and stops with a traceback where it cannot: a read-only container (`docker run --read-only`), a
~/.cache owned by root. matplotlib warns, or fails where no temporary folder can be made either. Then
`--help` and offline `--data_dir` runs broke too. Called by the package's __init__, before dc_gan.py
imports paddle or matplotlib: where paddle's own folder can be made, nothing changes; where it cannot,
paddle is imported here with its dataset cache in the first of ~/.cache/paddle/dataset and
TMP/.cache/paddle/dataset that can be written (the image's cache volume, say), or, if none can, left
where paddle put it, so that only a download, which needs one, stops: in one line (dcgan_port.data).
"""
import contextlib
import errno
import os
import sys
import tempfile

CACHE_SUBFOLDER = os.path.join(".cache", "paddle", "dataset")  # paddle.dataset.common's DATA_HOME


def writable_folder(path):
    """Whether path is, or can be made, a folder this process can write in."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return False
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def temporary_folder():
    """tempfile's folder, or None where there is none that can be written (a read-only container)."""
    try:
        return tempfile.gettempdir()
    except OSError:
        return None


def paddles_dataset_home():
    """Where `import paddle` makes its dataset cache: paddle.dataset.common's own rule."""
    home = os.path.expanduser("~")
    if not os.access(home, os.W_OK):
        home = temporary_folder()
    return None if home is None else os.path.join(home, CACHE_SUBFOLDER)


def dataset_home_candidates():
    folders = [os.path.join(os.path.expanduser("~"), CACHE_SUBFOLDER)]
    tmp = temporary_folder()
    if tmp is not None:
        folders.append(os.path.join(tmp, CACHE_SUBFOLDER))
    return folders


@contextlib.contextmanager
def made_already(path):
    """While paddle is imported, its attempt to make path finds it there (what it accepts from a
    concurrent process), so its import goes on where the folder cannot be made."""
    real_makedirs = os.makedirs

    def makedirs(name, *args, **kwargs):
        if path is not None and os.path.abspath(name) == os.path.abspath(path):
            raise FileExistsError(errno.EEXIST, "the port keeps paddle's dataset cache elsewhere", name)
        return real_makedirs(name, *args, **kwargs)
    os.makedirs = makedirs
    try:
        yield
    finally:
        os.makedirs = real_makedirs


def matplotlib_folders_writable():
    """matplotlib's config and cache folders (on Linux and BSD; elsewhere it looks after itself)."""
    if os.environ.get("MPLCONFIGDIR") or not sys.platform.startswith(("linux", "freebsd")):
        return True
    home = os.path.expanduser("~")
    config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache")
    return all(writable_folder(os.path.join(folder, "matplotlib")) for folder in (config, cache))


def give_matplotlib_a_writable_folder():
    """Before matplotlib is imported: where its folders cannot be written, it would make a temporary one
    at each start with three lines of warning, or fail where it cannot; its font list is kept beside
    paddle's cache instead (the image's volume), or in the temporary folder, or in shared memory (a
    read-only container whose cache volume is read-only too). Returns the folder chosen."""
    if matplotlib_folders_writable():
        return None
    own = "matplotlib-{}".format(os.getuid())
    tmp = temporary_folder()
    # the last resort, shared memory, is there in every container, --read-only ones too
    for folder in [os.path.join(os.path.expanduser("~"), ".cache", "paddle", "matplotlib")] + (
            [] if tmp is None else [os.path.join(tmp, own)]) + [os.path.join("/dev/shm", own)]:
        if writable_folder(folder):
            os.environ["MPLCONFIGDIR"] = folder
            return folder
    return None


def import_paddle_with_a_writable_cache():
    """See the module's docstring. Returns the dataset cache's folder when it had to move, else None."""
    if "paddle" in sys.modules:
        return None  # imported before the package: it made its folder already
    default = paddles_dataset_home()
    if default is not None and writable_folder(default):
        return None
    home = next((folder for folder in dataset_home_candidates() if writable_folder(folder)), None)
    no_temporary_folder = default is None
    if no_temporary_folder:
        # paddle's import would stop at tempfile's "No usable temporary directory": it is shown ~
        # instead, and finds its folder there "made"
        tempfile.tempdir = os.path.expanduser("~")
        default = os.path.join(tempfile.tempdir, CACHE_SUBFOLDER)
    try:
        with made_already(default):
            import paddle.dataset.common
    finally:
        if no_temporary_folder:
            tempfile.tempdir = None
    paddle.dataset.common.DATA_HOME = home or default
    return home or default
