"""Shared fixtures: a tiny MNIST written in IDX format, the real digits when present, and a way to
run dc_gan.py exactly as a user does."""
import contextlib
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# the real MNIST test split (t10k-images-idx3-ubyte.gz and its labels), which is not part of this repository
SHARED_MNIST = (os.environ.get("DCGAN_MNIST_DIR")
                or os.path.join(ROOT, "..", "shared", "data", "mnist"))

import dc_gan  # noqa: E402  (its package sets paddle's flags before paddle is imported)
import paddle  # noqa: E402
from dcgan_port import fast_cpu, static_graph  # noqa: E402
from dcgan_port.data import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC  # noqa: E402

paddle.enable_static()  # the chapter's programs are static graphs, as dc_gan.main() makes them

# CI runs the suite a second time with FLAGS_enable_pir_api=1: there the fast CPU path's forms, which build
# in the legacy IR only, are not built in this process (a run in PIR trains on the chapter's programs).
IN_PIR = static_graph.pir_in_use()
legacy_ir_only = pytest.mark.skipif(IN_PIR, reason="the fast CPU path builds in the legacy IR only "
                                                   "(FLAGS_enable_pir_api=0); this process builds in PIR")
# the saved generator's two files as a run in this graph writes them: generator.pdmodel, or PIR's .json
GENERATOR_FILES = tuple(sorted(("generator" + static_graph.saved_program_suffix(),
                                "generator.pdiparams")))



def fast_forms_as_built(monkeypatch):
    """The fast path's training programs as its forms build them, before oneDNN and the rewrites."""
    with monkeypatch.context() as patched:
        patched.setattr(fast_cpu, "switched_to_onednn", lambda *programs: True)
        return dc_gan.build_programs(fast=True)


PADDLE_FLAGS_SET_BY_RUNS = ("FLAGS_new_executor_serial_run",)  # dcgan_port.fast_cpu.set_cpu_threads


@pytest.fixture(autouse=True)
def process_settings_restored():
    """Each test starts from what paddle and numpy are at import: a test that trains in this process
    (dc_gan.main) sets paddle's threads and flags and numpy's seed, and must not hand them, failing or
    not, to the next one."""
    flags = paddle.get_flags(list(PADDLE_FLAGS_SET_BY_RUNS))
    rng = np.random.get_state()
    yield
    paddle.set_flags(flags)
    paddle.base.core.set_num_threads(1)  # what paddle sets at import (OMP_NUM_THREADS=1)
    np.random.set_state(rng)


def read(name):
    """A text file of the project, by its path from the checkout's root."""
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


TINY_COUNT = 100  # three full batches of 32 and a short one that the loop must skip
TINY_BATCH = 32


def idx_bytes(array, magic):
    header = np.array([magic] + list(array.shape), dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def write_idx(path, array, magic, compress=True):
    data = idx_bytes(array, magic)
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if compress else data)


def tiny_digits(count, seed=0):
    """Bright strokes on a black field, so the pixels span 0..255 like MNIST's."""
    rng = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28), dtype=np.uint8)
    for image in images:
        top, left = rng.integers(4, 12, size=2)
        image[top:top + 14, left:left + 3] = 255
        image[top:top + 3, left:left + 10] = rng.integers(128, 256)
    return images, rng.integers(0, 10, size=count).astype(np.uint8)


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory):
    """A folder holding a small training split in MNIST's IDX format, gzip-compressed."""
    folder = tmp_path_factory.mktemp("mnist")
    images, labels = tiny_digits(TINY_COUNT)
    write_idx(folder / "train-images-idx3-ubyte.gz", images, IDX_IMAGES_MAGIC)
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels, IDX_LABELS_MAGIC)
    return folder


@pytest.fixture
def shared_mnist():
    if not os.path.isfile(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")):
        pytest.skip("the real MNIST test split is not in {} (it is not part of this repository: "
                    "set DCGAN_MNIST_DIR to a folder with MNIST's t10k files)".format(SHARED_MNIST))
    return SHARED_MNIST


def run_dc_gan(*args, timeout=600, **popen):
    """Run the script in a subprocess, as `python dc_gan.py ARGS` from the project's root."""
    return subprocess.run([sys.executable, os.path.join(ROOT, "dc_gan.py")] + [str(a) for a in args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout, **popen)


def run_main(*args):
    """dc_gan.main(ARGS) in this process, as a finished `python dc_gan.py ARGS` looks from outside: its
    status, standard output and error. Seconds faster than run_dc_gan, which loads paddle anew each time:
    for the runs refused before training, where the process boundary changes nothing a test looks at."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            status = dc_gan.main([str(a) for a in args])
        except SystemExit as e:  # the flags' errors, by argparse
            status = e.code
    return subprocess.CompletedProcess(["dc_gan.py"] + [str(a) for a in args], status, stdout.getvalue(),
                                       stderr.getvalue())


@pytest.fixture(scope="session")
def run():
    return run_dc_gan


# The trained runs the test files share, each trained once a session: tests that change one work on a
# copy (saved_run_copy).
@pytest.fixture(scope="session")
def saved_run(tiny_mnist, tmp_path_factory):
    """An output folder holding what a finished run of one epoch of 3 batches saves."""
    output = tmp_path_factory.mktemp("saved_run")
    result = run_dc_gan("--data_dir", tiny_mnist, "--batch_size", TINY_BATCH, "--epoch", 1,
                        "--output", output)
    assert result.returncode == 0, result.stderr
    return output


@pytest.fixture
def saved_run_copy(saved_run, tmp_path):
    """A copy of saved_run of the test's own."""
    shutil.copytree(saved_run, tmp_path, dirs_exist_ok=True)
    return tmp_path


def ce_args(data, output, epochs):
    return ["--data_dir", data, "--batch_size", TINY_BATCH, "--epoch", epochs, "--enable_ce", "true",
            "--output", output]


@pytest.fixture(scope="session")
def ce_run(tiny_mnist, tmp_path_factory):
    """Two uninterrupted epochs in continuous-evaluation mode (so reproducible bit for bit): its output
    folder and what the run printed."""
    output = tmp_path_factory.mktemp("ce_run")
    result = run_dc_gan(*ce_args(tiny_mnist, output, 2))
    assert result.returncode == 0, result.stderr
    return output, result


# How checkpoints, errors and saved files are judged.


def checkpoint(output):
    with np.load(os.path.join(output, "checkpoint.npz")) as ckpt:
        return {k: ckpt[k] for k in ckpt.files}


def assert_same_training(a, b):
    """Every persistable, the RNG and the loss history of two checkpoints are bit-identical."""
    a, b = checkpoint(a), checkpoint(b)
    assert sorted(a) == sorted(b)
    differing = [k for k in a if not np.array_equal(a[k], b[k])]
    assert differing == []


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dc_gan.py: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def fingerprint(folder):
    """What a folder holds: each file's md5, each sub-folder's name."""
    return {name: hashlib.md5((folder / name).read_bytes()).hexdigest()
            if (folder / name).is_file() else "folder" for name in sorted(os.listdir(folder))}
