"""Sizes that cannot work, refused in one line before any work: a --batch_size too large for the memory, a
--generate N whose files cannot fit on the disk, a --num_threads beyond the cores this process may use,
and an output file's name taken by a folder (which a save would find only after an epoch's training)."""
import os
import shutil

from dcgan_port.errors import UsageError
from dcgan_port.output_folder import GENERATED_NPY, GENERATED_PNG, GRID_NAME, SAVED_FILES

# Peak memory of a training run on a CPU: a line above the measured points of each path, the fast one as
# steep as its points from batch 512 to 2048 (bench/DECISIONS.md#memory-of-a-training-run).
TRAINING_BASE_BYTES = 800e6  # paddle, the programs, the 10,000 images of the test split
BYTES_PER_IMAGE = 3.55e6  # each image of the batch on the fast path: activations, gradients, oneDNN's buffers
BYTES_PER_IMAGE_PLAIN = 1.2e6  # on paddle's own kernels
MEMORY_MARGIN = 0.9  # refuse when the estimate passes this share of the memory available
MNIST_IMAGES = {"train": 60000, "test": 10000}  # float32 rows of 784 pixels held through the run
TEST_SPLIT_IMAGES = 10000  # in TRAINING_BASE_BYTES already
IMAGE_BYTES = 28 * 28 * 4

GENERATED_PNG_BYTES = 4e6  # generated.png's grid of at most 256 digits: well under this


def meminfo(path="/proc/meminfo"):
    """(what can be had without swapping, the machine's memory) in bytes (Linux), or None."""
    values = {}
    try:
        with open(path) as f:
            for line in f:
                name, _, rest = line.partition(":")
                if name in ("MemAvailable", "MemTotal"):
                    values[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return (values["MemAvailable"], values["MemTotal"]) if len(values) == 2 else None


def read_number(path):
    """A cgroup file's number, or None where it is missing or says "max" (no limit)."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def inactive_file(stat_path, key):
    """The page cache the kernel can take back from the cgroup, from its memory.stat."""
    try:
        with open(stat_path) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


def cgroup_memory(root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup"):
    """(what it leaves, the limit) in bytes of the tightest memory limit of this process's cgroup (v2:
    memory.max; v1: memory.limit_in_bytes), the reclaimable page cache counted as free; None without a
    limit. In a container the cgroup's files are at the root of root."""
    try:
        with open(proc_cgroup) as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    v2_paths = [line.split(":", 2)[2] for line in lines if line.startswith("0::")]
    v1_paths = [line.split(":", 2)[2] for line in lines
                if len(line.split(":", 2)) == 3 and "memory" in line.split(":", 2)[1].split(",")]
    candidates = []
    for path in v2_paths + [""]:
        folder = os.path.join(root, path.lstrip("/"))
        candidates.append((folder, "memory.max", "memory.current", "inactive_file"))
    for path in v1_paths + [""]:
        folder = os.path.join(root, "memory", path.lstrip("/"))
        candidates.append((folder, "memory.limit_in_bytes", "memory.usage_in_bytes",
                           "total_inactive_file"))
    limits = []
    for folder, limit_file, usage_file, inactive_key in candidates:
        limit = read_number(os.path.join(folder, limit_file))
        usage = read_number(os.path.join(folder, usage_file))
        if limit is None or usage is None or limit >= 1 << 60:  # v1 writes "no limit" as a huge number
            continue
        usage -= inactive_file(os.path.join(folder, "memory.stat"), inactive_key)
        limits.append((max(limit - max(usage, 0), 0), limit))
    return min(limits) if limits else None


def resident(statm="/proc/self/statm"):
    """This process's own resident memory, in bytes (Linux; else 0): part of the peak it will reach."""
    try:
        with open(statm) as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


def available_memory():
    """The memory a run in this process can reach, in bytes: what it holds already and what the machine
    can still give it, never more than the machine has, or less under a cgroup's limit (a container's
    --memory); None where neither can be read (not Linux)."""
    known = [m for m in (meminfo(), cgroup_memory()) if m is not None]
    if not known:
        return None
    held = resident()  # counted in the memory used already, and part of the run's peak
    return min(min(free + held, whole) for free, whole in known)


def training_memory(batch_size, num_images=TEST_SPLIT_IMAGES, onednn=True):
    """The peak memory of a CPU training run at this batch size, in bytes, by the measured line."""
    extra_images = max(num_images - TEST_SPLIT_IMAGES, 0)
    return (TRAINING_BASE_BYTES + (BYTES_PER_IMAGE if onednn else BYTES_PER_IMAGE_PLAIN) * batch_size
            + extra_images * IMAGE_BYTES)


def usable_cores():
    """The cores this process may run on (its CPU affinity, as taskset or a container's --cpuset-cpus
    sets it), else the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def check_threads(num_threads):
    cores, machine = usable_cores(), os.cpu_count() or 1
    if num_threads > cores:
        of_machine = "" if cores == machine else " of the machine's {}".format(machine)
        raise UsageError("--num_threads {}: this process may use {} cores{}, and more threads than cores "
                         "only slow training down; pass --num_threads {} or fewer".format(
                             num_threads, cores, of_machine, cores))


def check_batch_memory(batch_size, mnist_split="train", onednn=True, available=None):
    """Refuse a batch whose training would not fit in the memory available (or under a cgroup limit)."""
    available = available_memory() if available is None else available
    if available is None:
        return
    images = MNIST_IMAGES.get(mnist_split, TEST_SPLIT_IMAGES)  # a folder of pictures: as many, say
    needed = training_memory(batch_size, images, onednn)
    if needed > MEMORY_MARGIN * available:
        per_image = training_memory(1, images, onednn) - training_memory(0, images, onednn)
        largest = int((MEMORY_MARGIN * available - training_memory(0, images)) // per_image)
        advice = ("pass --batch_size {} or less".format(largest) if largest >= 1
                  else "free some memory or raise the container's memory limit")
        raise UsageError("--batch_size {} needs about {:.1f} GB of memory to train on a CPU (about {:.1f} "
                         "MB per image of a batch), and this process can have {:.1f} GB; {}".format(
                             batch_size, needed / 1e9, per_image / 1e6, available / 1e9, advice))


def check_not_folders(output, names):
    """An output file whose name a folder holds cannot be saved: say so before the work, not after it."""
    if not os.path.isdir(output):
        return
    taken = [name for name in names if os.path.isdir(os.path.join(output, name))]
    taken += sorted(name for name in os.listdir(output)
                    if GRID_NAME.match(name) and os.path.isdir(os.path.join(output, name)))
    if taken:
        raise UsageError("{} is a folder, where this run saves a file of that name; move it out of "
                         "{} or pass another --output".format(os.path.join(output, taken[0]), output))


def check_training(settings):
    """Before a training run reads or writes anything (dc_gan.main has checked the threads)."""
    check_not_folders(settings.output, SAVED_FILES)
    if not settings.use_gpu:
        # a build without oneDNN trains on the plain path even so: the fast path's line is the safe side
        check_batch_memory(settings.batch_size, settings.mnist_split, settings.onednn)


def check_drawing(settings, image_side=28):
    """Before --generate N draws anything: its files must fit on the disk of the output folder."""
    check_not_folders(settings.output, [GENERATED_NPY, GENERATED_PNG])
    digit_bytes = image_side * image_side * 4  # float32 pixels
    npy_bytes = settings.generate * digit_bytes
    free = shutil.disk_usage(settings.output).free
    if npy_bytes + GENERATED_PNG_BYTES > free:
        largest = int(max(free - GENERATED_PNG_BYTES, 0) // digit_bytes)
        fewer = " or pass --generate {} or fewer".format(largest) if largest else ""
        raise UsageError("--generate {} writes {:.2f} GB into {} ({} bytes a digit), and its disk has "
                         "{:.2f} GB free; free some space{}".format(
                             settings.generate, npy_bytes / 1e9, os.path.join(
                                 settings.output, GENERATED_NPY), digit_bytes, free / 1e9, fewer))
