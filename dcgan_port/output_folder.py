"""The --output folder: files written whole or not at all, one run of dc_gan.py at a time, and the
temporary files of runs that died while saving removed."""
import contextlib
import errno
import os
import re
import shutil

from dcgan_port.errors import UsageError

LOCK_FILE = ".dc_gan.lock"  # held by the run that writes to the folder
LEFTOVER = re.compile(r"\.tmp\d+(\.pdiparams|\.pdmodel)?$")  # temporary_path() names


def temporary_path(path):
    """Where a file is written before it is renamed into place; LEFTOVER matches these names."""
    return "{}.tmp{}".format(path, os.getpid())


def save_failed(path, error, size=None):
    """The one-line error for a save the disk refused, with the space it would have needed."""
    if size is None and os.path.isfile(path):
        size = os.path.getsize(path)  # about what its new version needs
    free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
    needed = "" if size is None else ", about {:.0f} MB needed".format(size / 1e6)
    return UsageError("cannot write {} ({}): {:.0f} MB free there{}; the earlier saves are intact: free "
                      "some space, then continue with --resume".format(
                          path, error.strerror or error, free / 1e6, needed))


def atomic_write(path, write, size=None):
    """Call write(file) on a temporary file beside path, then rename it over path.

    A run killed at any moment leaves either the old file or the new one, never half of one; a write the
    disk refuses (full, quota) leaves the old one and no temporary file.
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


def not_writable(path, error):
    return UsageError("--output {} is not a writable folder ({}); pass another --output".format(
        path, error.strerror or error))


def check_output(path):
    """Refuse an --output that cannot become a folder of this run's, without writing anything."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError("--output {} is a file; pass a folder".format(path))
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise not_writable(path, OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise not_writable(path, OSError(errno.EACCES, os.strerror(errno.EACCES)))


def prepare_output(path):
    check_output(path)
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".write-test{}".format(os.getpid()))  # not a LEFTOVER
        open(probe, "wb").close()
        os.remove(probe)
    except OSError as e:
        raise not_writable(path, e)


def lock_exclusively(f):
    """Lock an open file for this process, or raise OSError at once if another holds it. The operating
    system releases the lock when the process ends, however it ends."""
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
        raise not_writable(path, e)
    with f:
        try:
            lock_exclusively(f)
        except OSError:
            raise UsageError("--output {} is in use by another run of dc_gan.py; wait for it to end or "
                             "pass another --output".format(path))
        yield


def remove_leftovers(path):
    """Delete the temporary files of runs that died while saving (a kill, a power cut). Called under
    output_lock, so their writers are gone: a live run would hold the lock."""
    for name in os.listdir(path):
        if LEFTOVER.search(name):
            os.remove(os.path.join(path, name))
            print("removed {}, left by a run that died while saving".format(os.path.join(path, name)))


@contextlib.contextmanager
def claimed(path, create=True):
    """The output folder, made if need be (create) and held for this run, with no leftovers."""
    if create:
        prepare_output(path)
    with output_lock(path):
        remove_leftovers(path)
        yield
