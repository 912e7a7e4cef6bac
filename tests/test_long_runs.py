"""Long runs lose nothing: checkpoints within an epoch, no leftovers after a crash, one run per
output folder, a bounded --generate, a full disk reported in one line, and the MNIST download."""
import errno
import functools
import gzip
import hashlib
import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request

import numpy as np
import paddle
import pytest

import dc_gan
from dcgan_port import data, drawing, output_folder
from conftest import (GENERATOR_FILES, ROOT, TINY_COUNT, assert_one_line_error, assert_same_training, ce_args,
                      checkpoint, fingerprint, tiny_digits, write_idx)

pytestmark = pytest.mark.slow  # runs killed, saves refused, downloads, digits drawn by the 100,000
SAVED = ("checkpoint.npz",) + GENERATOR_FILES


def leftovers(folder):
    return [name for name in os.listdir(folder) if output_folder.LEFTOVER.search(name)]


def start(*args, python_code=None):
    """dc_gan.py (or python_code, given the same arguments) in a process of its own."""
    command = ([sys.executable, "-c", python_code] if python_code
               else [sys.executable, os.path.join(ROOT, "dc_gan.py")])
    return subprocess.Popen(command + [str(a) for a in args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))


def read_until(process, prefix):
    """Lines of the process's output up to the first that starts with prefix."""
    seen = ""
    for line in process.stdout:
        seen += line
        if line.startswith(prefix):
            return seen
    raise AssertionError("the run ended without printing {!r}:\n{}{}".format(
        prefix, seen, process.stderr.read()))


@pytest.fixture
def uninterrupted(ce_run):
    return ce_run[0]


def test_checkpoints_within_an_epoch_resume_there_after_a_kill_bit_for_bit(
        uninterrupted, tiny_mnist, tmp_path, run):
    # 0.0001 minutes: a checkpoint after every batch of the tiny set
    process = start(*ce_args(tiny_mnist, tmp_path, 2), "--save_every_minutes", 0.0001)
    seen = read_until(process, "checkpoint saved to")
    process.kill()
    process.wait()
    assert "at epoch 0 batch 1, after " in seen  # mid-epoch, and the line says so
    state = checkpoint(tmp_path)
    assert (int(state["state/epoch"]), int(state["state/batch"])) >= (0, 1)
    resumed = run(*ce_args(tiny_mnist, tmp_path, 2), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_training(uninterrupted, tmp_path)
    assert leftovers(tmp_path) == []


# Runs dc_gan.main with numpy's savez dying half-way through the second checkpoint, as a kill -9
# or a power cut during a save would.
DIE_DURING_SECOND_SAVE = """
import os, signal, sys
sys.path.insert(0, {root!r})
import dc_gan, numpy
saves = []
def savez_then_die(f, **arrays):
    saves.append(f)
    if len(saves) == 2:
        f.write(b"half a checkpoint")
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return real_savez(f, **arrays)
real_savez, numpy.savez = numpy.savez, savez_then_die
sys.exit(dc_gan.main(sys.argv[1:]))
""".format(root=ROOT)


def test_a_run_killed_while_saving_leaves_a_temporary_file_the_next_run_removes(
        uninterrupted, tiny_mnist, tmp_path, run):
    dying = start(*ce_args(tiny_mnist, tmp_path, 2), python_code=DIE_DURING_SECOND_SAVE)
    dying.communicate(timeout=600)
    assert dying.returncode == -signal.SIGKILL
    (leftover,) = leftovers(tmp_path)
    assert leftover.startswith("checkpoint.npz.tmp")
    assert int(checkpoint(tmp_path)["state/epoch"]) == 1  # the first save is whole

    resumed = run(*ce_args(tiny_mnist, tmp_path, 2), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "removed {}".format(tmp_path / leftover) in resumed.stdout
    assert leftovers(tmp_path) == []
    assert_same_training(uninterrupted, tmp_path)


def test_a_second_run_on_the_same_folder_stops_at_once_training_or_drawing(
        uninterrupted, tiny_mnist, tmp_path, run):
    folder = tmp_path / "shared"
    shutil.copytree(uninterrupted, folder)
    first = start(*ce_args(tiny_mnist, folder, 1000), "--resume")
    read_until(first, "Epoch ID=")  # the first run is training, and holds the folder
    try:
        for second in (run(*ce_args(tiny_mnist, folder, 1000), "--resume", timeout=600),
                       run("--generate", 5, "--output", folder, timeout=600)):
            assert_one_line_error(second, "--output {} is in use by another run".format(folder),
                                  "pass another --output")
    finally:
        first.kill()  # the kernel releases the lock of a killed process
        first.communicate()
    again = run("--generate", 5, "--output", folder)
    assert again.returncode == 0, again.stderr


def test_generate_draws_in_batches_streams_them_to_disk_and_shows_the_first_256(
        uninterrupted, tmp_path, monkeypatch, capsys):
    for name in SAVED:
        (tmp_path / name).write_bytes((uninterrupted / name).read_bytes())
    monkeypatch.setattr(drawing, "GENERATE_BATCH", 400)
    loaded, plot, save_figure = drawing.load_generator, dc_gan.plot, drawing.save_figure
    batches, shown, titles = [], [], []

    def counting_generator(*args, **kwargs):
        draw = loaded(*args, **kwargs)
        return lambda noise: batches.append(len(noise)) or draw(noise)

    monkeypatch.setattr(drawing, "load_generator", counting_generator)
    monkeypatch.setattr(dc_gan, "plot", lambda images: shown.append(len(images)) or plot(images))
    monkeypatch.setattr(drawing, "save_figure", lambda fig, path, **kw: titles.append(
        fig.axes[0].get_title()) or save_figure(fig, path, **kw))
    assert dc_gan.main(["--generate", "1000", "--output", str(tmp_path)]) == 0

    assert batches == [400, 400, 200]  # never more than GENERATE_BATCH digits in memory at once
    digits = np.load(tmp_path / "generated.npy")
    assert digits.shape == (1000, 784) and digits.dtype == np.float32
    assert -1 <= digits.min() and digits.max() <= 1 and digits[:400].std() > 0
    assert not np.array_equal(digits[:200], digits[400:600])  # each batch its own noise
    assert shown == [256] and len(titles) == 1 and titles[0].endswith("(the first 256 shown)")
    out = capsys.readouterr().out
    assert "drew 400 of 1000 digits" in out and "drew 1000 of 1000 digits" in out


def refuse_to_write(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# The checkpoint is saved first: when the disk refuses it, nothing of the epoch's end is written;
# when it refuses the generator after it, the new checkpoint is whole and the old generator stays.
@pytest.mark.parametrize("refused, named, kept", [
    ((np, "savez"), "checkpoint.npz", SAVED),
    ((paddle.static, "save_inference_model"), "generator.pdiparams", SAVED[1:])])
def test_a_save_the_disk_refuses_gets_one_line_and_keeps_the_earlier_saves(
        uninterrupted, tiny_mnist, tmp_path, monkeypatch, capsys, refused, named, kept):
    for name in SAVED:
        (tmp_path / name).write_bytes((uninterrupted / name).read_bytes())
    before = {name: fingerprint(tmp_path)[name] for name in kept}
    monkeypatch.setattr(*refused, refuse_to_write)
    with paddle.static.scope_guard(paddle.static.Scope()):
        status = dc_gan.main([str(a) for a in ce_args(tiny_mnist, tmp_path, 3)] + ["--resume"])
    err = capsys.readouterr().err
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dc_gan.py: error: cannot write ")
    assert str(tmp_path / named) in lines[0]
    assert "No space left on device" in lines[0] and "MB free there" in lines[0]
    assert "MB needed" in lines[0] and "--resume" in lines[0]
    assert {name: fingerprint(tmp_path)[name] for name in kept} == before
    assert int(checkpoint(tmp_path)["state/epoch"]) in (2, 3)  # whole, old or new
    assert leftovers(tmp_path) == []


def test_a_generator_the_disk_cut_short_never_replaces_the_whole_one(uninterrupted, tiny_mnist, tmp_path,
                                                                     monkeypatch, capsys):
    """Paddle's save writes what a full disk takes and reports nothing."""
    for name in SAVED:
        (tmp_path / name).write_bytes((uninterrupted / name).read_bytes())
    before = {name: fingerprint(tmp_path)[name] for name in SAVED[1:]}
    save = paddle.static.save_inference_model

    def cut_short(prefix, *args, **kwargs):
        save(prefix, *args, **kwargs)
        with open(prefix + ".pdiparams", "r+b") as f:
            f.truncate(os.path.getsize(prefix + ".pdiparams") // 2)

    monkeypatch.setattr(paddle.static, "save_inference_model", cut_short)
    with paddle.static.scope_guard(paddle.static.Scope()):
        status = dc_gan.main([str(a) for a in ce_args(tiny_mnist, tmp_path, 3)] + ["--resume"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(lines) == 1
    assert lines[0].startswith("dc_gan.py: error: cannot write {} (written short: ".format(
        tmp_path / "generator.pdiparams"))
    assert "the earlier saves are intact" in lines[0]
    assert {name: fingerprint(tmp_path)[name] for name in SAVED[1:]} == before
    assert leftovers(tmp_path) == []


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mnist_server(tmp_path):
    """A tiny training split in IDX format served over HTTP on 127.0.0.1: (url, {file: md5})."""
    folder = tmp_path / "served"
    folder.mkdir()
    images, labels = tiny_digits(TINY_COUNT)
    write_idx(folder / "train-images-idx3-ubyte.gz", images, data.IDX_IMAGES_MAGIC)
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels, data.IDX_LABELS_MAGIC)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    md5 = {name: hashlib.md5((folder / name).read_bytes()).hexdigest()
           for name in os.listdir(folder)}
    yield "http://127.0.0.1:{}/".format(server.server_address[1]), md5
    server.shutdown()
    server.server_close()


def train_from(url, md5, cache, output, monkeypatch):
    """dc_gan.main on the download path, with paddle's dataset cache in `cache` and the expected
    md5 of the served files."""
    monkeypatch.setattr(paddle.dataset.common, "DATA_HOME", str(cache))
    monkeypatch.setitem(data.MNIST_FILES, "train", tuple(
        (stem, md5[stem + ".gz"]) for stem, _ in data.MNIST_FILES["train"]))
    with paddle.static.scope_guard(paddle.static.Scope()):
        status = dc_gan.main(["--mnist_url", url, "--batch_size", "32", "--epoch", "1",
                              "--max_batches", "1", "--output", str(output)])
    return status


def test_training_downloads_md5_checks_and_caches_mnist_then_trains_from_the_cache(
        mnist_server, tmp_path, monkeypatch, capsys):
    url, md5 = mnist_server
    cache = tmp_path / "cache"
    assert train_from(url, md5, cache, tmp_path / "first", monkeypatch) == 0
    out = capsys.readouterr().out
    assert "downloading {}train-images-idx3-ubyte.gz".format(url) in out
    assert "Epoch ID=0 Batch ID=0 " in out
    cached = {name: hashlib.md5((cache / "mnist" / name).read_bytes()).hexdigest()
              for name in os.listdir(cache / "mnist")}
    assert cached == md5
    # the cache serves the next run: nothing is fetched from a server that is gone
    assert train_from("http://127.0.0.1:9/", md5, cache, tmp_path / "second", monkeypatch) == 0
    assert "downloading" not in capsys.readouterr().out


def test_a_download_with_the_wrong_checksum_gets_one_line_and_leaves_nothing_in_the_cache(
        mnist_server, tmp_path, monkeypatch, capsys):
    url, md5 = mnist_server
    wrong = dict(md5, **{"train-images-idx3-ubyte.gz": "0" * 32})
    cache = tmp_path / "cache"
    assert train_from(url, wrong, cache, tmp_path / "out", monkeypatch) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "md5 check failed" in lines[0]
    assert "train-images-idx3-ubyte.gz" in lines[0] and "--data_dir" in lines[0]
    assert not (cache / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_a_file_of_someone_elses_in_the_cache_is_left_as_it_is_and_named(mnist_server, tmp_path,
                                                                          monkeypatch, capsys):
    """A whole gzip file that is not MNIST's where paddle keeps MNIST (a re-compressed copy, another data
    set): paddle would download over it."""
    url, md5 = mnist_server
    theirs = tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(gzip.compress(b"my own copy"))
    assert train_from(url, md5, tmp_path / "cache", tmp_path / "out", monkeypatch) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "{} is not MNIST's file".format(theirs) in lines[0]
    assert "--data_dir {}".format(theirs.parent) in lines[0]
    assert gzip.decompress(theirs.read_bytes()) == b"my own copy"


def test_a_download_a_killed_run_cut_short_is_downloaded_again(mnist_server, tmp_path, monkeypatch):
    url, md5 = mnist_server
    served = urllib.request.urlopen(url + "train-images-idx3-ubyte.gz").read()
    cut = tmp_path / "cache" / "mnist" / "train-images-idx3-ubyte.gz"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(served[:len(served) // 2])
    assert train_from(url, md5, tmp_path / "cache", tmp_path / "out", monkeypatch) == 0
    assert cut.read_bytes() == served


def test_a_stop_during_the_download_stops_it_and_leaves_nothing_in_the_cache(mnist_server, tmp_path,
                                                                             monkeypatch, capsys):
    """paddle retries its download after any Exception; a stop is none, and ends the run at once."""
    url, md5 = mnist_server

    def ctrl_c_after_the_first_chunk(bar, *args):  # paddle's progress bar, updated after each chunk
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(paddle.hapi.progressbar.ProgressBar, "update", ctrl_c_after_the_first_chunk)
    assert train_from(url, md5, tmp_path / "cache", tmp_path / "out", monkeypatch) == 128 + signal.SIGINT
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "dc_gan.py: stopped by Ctrl-C: nothing more was saved")
    assert os.listdir(tmp_path / "cache" / "mnist") == []
