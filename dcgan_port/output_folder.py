"""The --output folder: files written whole or not at all, one run of dc_gan.py at a time, and the
temporary files of runs that died while saving removed."""
import contextlib
import errno
import os
import re
import shutil

from dcgan_port.errors import UsageError

LOCK_FILE = ".dc_gan.lock"  # on Windows, held by the run that writes to the folder
LEFTOVER = re.compile(r"\.tmp\d+(\.pdiparams|\.pdmodel)?$")  # temporary_path() names


def temporary_path(path):
    """Where a file is written before it is renamed into place; LEFTOVER matches these names."""
    return "{}.tmp{}".format(path, os.getpid())


def save_failed(path, error, size=None, then="continue with --resume"):
    """The one-line error for a save that failed, with the space it would have needed and what to do
    next (then: what fits the command; a training run's default). Called once the failed save's
    temporary files are gone, so the free space is what the disk really has."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return UsageError("cannot write {}: its folder {} is gone (removed, or its disk unmounted); the "
                          "run's saves went with it".format(path, folder))
    if os.path.isdir(path):
        return UsageError("cannot write {}: a folder has that name; move it out of {}, then {}".format(
            path, folder, then))
    if size is None and os.path.isfile(path):
        size = os.path.getsize(path)  # about what its new version needs
    free = shutil.disk_usage(folder).free
    needed = "" if size is None else ", about {:.0f} MB needed".format(size / 1e6)
    return UsageError("cannot write {} ({}): {:.0f} MB free there{}; the earlier saves are intact: free "
                      "some space, then {}".format(path, error.strerror or error, free / 1e6, needed, then))


def sync_folder(folder):
    """Make the folder's new entries (renames) durable; Windows has no way to, and needs none."""
    if os.name != "nt":
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def replaced_whole(paths, temporaries=None):
    """Yield temporary paths beside paths (by default temporary_path's), for the body to write; then put
    each in place of its path, on disk before the rename, so that a killed run or a power cut leaves
    either the old files or the new ones, never half of one. A failure (disk full, quota, an
    interruption) leaves the old files and no temporary one."""
    temporaries = temporaries or [temporary_path(path) for path in paths]
    try:
        yield temporaries
        for tmp, path in zip(temporaries, paths):
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, path)
        sync_folder(os.path.dirname(os.path.abspath(paths[0])))
    finally:
        for tmp in temporaries:
            if os.path.exists(tmp):
                os.remove(tmp)


def atomic_write(path, write, size=None, then="continue with --resume"):
    """Call write(file) on a temporary file, then put it in place of path (replaced_whole)."""
    try:
        with replaced_whole([path]) as (tmp,):
            with open(tmp, "wb") as f:
                write(f)
    except OSError as e:
        raise save_failed(path, e, size, then)


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


def prepare_output(path, create=True):
    """The folder, made if need be (create), after a file written and removed there proves it writable."""
    check_output(path)
    try:
        if create:
            os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, ".write-test{}".format(os.getpid()))  # not a LEFTOVER
        open(probe, "wb").close()
        os.remove(probe)
    except OSError as e:
        raise not_writable(path, e)


def lock_exclusively(fd):
    """Lock an open file or folder for this process, or raise BlockingIOError at once if another holds
    it. The operating system releases the lock when the process ends, however it ends."""
    if os.name == "nt":
        import msvcrt  # Windows: lock the file's first byte
        os.lseek(fd, 0, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as e:
            raise BlockingIOError(*e.args)
    else:
        import fcntl
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def open_lock(path):
    """What holds the folder: on Linux and macOS the folder itself, so that no file in it can be deleted
    to let a second run in; on Windows (and file systems that cannot lock a folder) LOCK_FILE, which
    Windows does not let anyone delete while it is open."""
    if os.name != "nt":
        fd = os.open(path, os.O_RDONLY)
        try:
            lock_exclusively(fd)
            return fd
        except BlockingIOError:
            os.close(fd)
            raise
        except OSError:
            os.close(fd)  # e.g. NFS, where an exclusive lock needs a file open for writing
    fd = os.open(os.path.join(path, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        lock_exclusively(fd)
    except OSError:
        os.close(fd)
        raise
    return fd


@contextlib.contextmanager
def output_lock(path):
    """One run of this script per output folder, training or drawing: a second one stops at once."""
    try:
        fd = open_lock(path)
    except BlockingIOError:
        raise UsageError("--output {} is in use by another run of dc_gan.py; wait for it to end or "
                         "pass another --output".format(path))
    except OSError as e:
        raise not_writable(path, e)
    try:
        yield
    finally:
        os.close(fd)


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
    prepare_output(path, create)
    with output_lock(path):
        remove_leftovers(path)
        yield
