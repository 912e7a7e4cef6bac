"""The --output folder: the names of the files a run writes there, files written whole or not at all, one
run of dc_gan.py at a time, the temporary files of runs that died while saving removed, and a new run that
never lands on an earlier one's files unless told to start over."""
import contextlib
import datetime
import errno
import os
import re
import shutil

from dcgan_port.errors import UsageError

# What a run writes into its folder, named once for the whole package.
CHECKPOINT_FILE = "checkpoint.npz"
GENERATOR_PREFIX = "generator"  # a Paddle inference model: its program, and its parameters in .pdiparams
GENERATOR_PROGRAM = {"legacy": ".pdmodel", "pir": ".json"}  # the program as each static graph saves it
GENERATOR_SUFFIXES = tuple(GENERATOR_PROGRAM.values()) + (".pdiparams",)
GENERATOR_FILES = tuple(GENERATOR_PREFIX + suffix for suffix in GENERATOR_SUFFIXES)
LOSS_CURVE_FILE = "losses.png"
FILM_FILE = "progress.gif"
GRID_FILE = "{:04d}_{:04d}.png"  # the chapter's name of the picture of epoch E, batch B
GRID_PATTERN = r"\d{4,}_\d{4,}\.png"  # what GRID_FILE makes (batch 10000 on: five digits)
GRID_NAME = re.compile("^{}$".format(GRID_PATTERN))
GENERATED_NPY = "generated.npy"  # --generate's digits, N x 784 float32
GENERATED_PNG = "generated.png"  # the grid of the first of them
SAVED_FILES = (CHECKPOINT_FILE,) + GENERATOR_FILES + (LOSS_CURVE_FILE, FILM_FILE)  # at every save
RUN_FILES = SAVED_FILES + (GENERATED_NPY, GENERATED_PNG)  # and the grids

LOCK_FILE = ".dc_gan.lock"  # on Windows, held by the run that writes to the folder
# temporary_path()'s names for the run's files (the generator's with paddle's suffix after it), and only
# theirs: a user's own "notes.tmp1" is not a run's
LEFTOVER = re.compile(r"^(?:(?:{}|{})\.tmp\d+|{}\.tmp\d+(?:{}))$".format(
    "|".join(map(re.escape, RUN_FILES)), GRID_PATTERN, re.escape(GENERATOR_PREFIX),
    "|".join(map(re.escape, GENERATOR_SUFFIXES))))


def run_files(path):
    """The files in the folder that a run of dc_gan.py wrote, by name: not the lock, not the leftovers of
    a dead run (remove_leftovers), not the user's own files."""
    if not os.path.isdir(path):
        return []
    return sorted(name for name in os.listdir(path)
                  if (name in RUN_FILES or GRID_NAME.match(name))
                  and os.path.isfile(os.path.join(path, name)))


def newest(path, names):
    """The newest of the named files in the folder, and when it was written, as a phrase."""
    name = max(names, key=lambda n: os.path.getmtime(os.path.join(path, n)))
    written = datetime.datetime.fromtimestamp(os.path.getmtime(os.path.join(path, name)))
    return "newest {} of {:%Y-%m-%d %H:%M}".format(name, written)


def temporary_path(path):
    """Where a file is written before it is renamed into place; LEFTOVER matches these names."""
    return "{}.tmp{}".format(path, os.getpid())


def save_failed(path, error, size=None, then=None):
    """The one-line error for a save that failed, with the space it would have needed and what to do
    next (then: what fits the command; by default a training run's: --resume where it has a checkpoint,
    else --overwrite). Called once the failed save's temporary files are gone, so the free space is
    what the disk really has."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return UsageError("cannot write {}: its folder {} is gone (removed, or its disk unmounted); the "
                          "run's saves went with it".format(path, folder))
    if then is None:
        then = ("continue with --resume" if os.path.isfile(os.path.join(folder, CHECKPOINT_FILE))
                else "start the run again with --overwrite")
    if os.path.isdir(path):
        return UsageError("cannot write {}: a folder has that name; move it out of {}, then {}".format(
            path, folder, then))
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return UsageError("cannot write {} ({}); the earlier saves are intact: make {} writable, then "
                          "{}".format(path, error.strerror or error, folder, then))
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


def atomic_write(path, write, size=None, then=None):
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


def remove_run_files(path):
    """--overwrite: delete the earlier run's files (run_files), and nothing else of the folder. Called
    under output_lock, so no run is writing them."""
    names = run_files(path)
    for name in names:
        os.remove(os.path.join(path, name))
    if names:
        print("--overwrite: removed the {} files of the earlier run in {}".format(len(names), path),
              flush=True)


@contextlib.contextmanager
def claimed(path, create=True, start_over=False):
    """The output folder, made if need be (create) and held for this run, with no leftovers, and with no
    file of an earlier run if this one starts over."""
    prepare_output(path, create)
    with output_lock(path):
        remove_leftovers(path)
        if start_over:
            remove_run_files(path)
        yield
