"""Bad input gets one line that says what is wrong and what to do, a non-zero exit, no traceback,
and leaves what earlier runs saved exactly as it was."""
import gzip
import os
import shutil

import numpy as np
import paddle
import pytest

from conftest import (GENERATOR_FILES, assert_one_line_error, fingerprint, idx_bytes, run_dc_gan, run_main,
                      tiny_digits, write_idx)


@pytest.fixture
def run():
    """Every run here is refused before it trains: dc_gan.main in this process (conftest.run_main)."""
    return run_main


@pytest.mark.parametrize("flags, fragments", [
    (["--batch_size", "0"], ["--batch_size", "positive"]),
    (["--save_every_minutes", "-1"], ["--save_every_minutes", "0 (off) or a positive number"]),
    (["--save_every_minutes", "nan"], ["--save_every_minutes", "got nan"]),
    (["--epoch", "-1"], ["--epoch", "positive"]),
    (["--max_batches", "0"], ["--max_batches", "positive"]),
    (["--epoch", str(2 ** 64)], ["--epoch", "up to 9223372036854775807"]),  # no checkpoint could hold it
    (["--output", "/tmp/bad\udcffname"], ["--output", "b'/tmp/bad\\xffname' is not UTF-8"]),  # a Latin-1 name
    (["--output", "/tmp/bad\ud800"], ["--output", "'/tmp/bad\\ud800' is not UTF-8"]),  # not from bytes
    (["--batch_size", "many"], ["--batch_size", "invalid int value"]),
    (["--use_gpu", "maybe"], ["--use_gpu", "expected true or false (or yes/no, on/off, 1/0), got 'maybe'"]),
    (["--enable_ce", "yes please"], ["--enable_ce", "expected true or false"]),
    (["--mnist_split", "validation"], ["--mnist_split", "invalid choice"]),
    (["--batch_size", "1000"], ["--batch_size 1000 is larger than the 100 images"]),
    (["--resume", "--batch_size", "16"], ["--batch_size 16 (this run's: 32) differs", "leave it out"]),
    (["--resume", "--batch_size", "32", "--raw_logits", "true", "--max_batches", "1"],
     ["--max_batches 1 (this run's: (none)), --raw_logits true (this run's: false) differ",
      "leave them out"]),
])
def test_bad_flags_leave_the_saved_run_untouched(saved_run, tiny_mnist, run, flags, fragments):
    before = fingerprint(saved_run)
    result = run("--data_dir", tiny_mnist, "--output", saved_run, *flags)
    assert_one_line_error(result, *fragments)
    assert fingerprint(saved_run) == before


def test_corrupt_data_leaves_the_saved_run_untouched(saved_run, tmp_path, run):
    images, labels = tiny_digits(100)
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(images, 2051)[:-100]))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels, 2049)
    before = fingerprint(saved_run)
    result = run("--data_dir", tmp_path, "--output", saved_run)
    assert_one_line_error(result, "train-images-idx3-ubyte.gz is truncated or corrupt",
                          "replace it")
    assert fingerprint(saved_run) == before


def test_resuming_on_data_smaller_than_the_runs_batch_asks_for_the_runs_data(saved_run, tmp_path, run):
    """A resumed run's --batch_size is its own: a smaller one is refused, so that is no advice to give."""
    images, labels = tiny_digits(10)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, 2051)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels, 2049)
    before = fingerprint(saved_run)
    result = run("--resume", "--data_dir", tmp_path, "--output", saved_run)
    assert_one_line_error(result, "--batch_size 32 is larger than the 10 images",
                          "the resumed run keeps its --batch_size: pass the data it trained on")
    assert fingerprint(saved_run) == before


def test_missing_data_files_are_named(tmp_path, run):
    (tmp_path / "data").mkdir()
    result = run("--data_dir", tmp_path / "data", "--output", tmp_path / "out")
    assert_one_line_error(result, "train-images-idx3-ubyte.gz", "missing")


def test_a_data_dir_that_does_not_exist(tmp_path, run):
    result = run("--data_dir", tmp_path / "nowhere", "--output", tmp_path / "out")
    assert_one_line_error(result, "nowhere is not a folder")


def test_offline_without_cached_mnist_says_which_files_from_where(tmp_path, run):
    home = tmp_path / "home"
    home.mkdir()
    unreachable = "http://127.0.0.1:9/mnist/"  # the discard port: refused at once
    result = run_dc_gan("--mnist_url", unreachable, "--output", tmp_path / "out", timeout=120,
                        env=dict(os.environ, HOME=str(home)))  # a process of its own: its own HOME
    assert_one_line_error(result, "could not be downloaded",
                          unreachable + "train-images-idx3-ubyte.gz",
                          "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz",
                          "--data_dir")


def test_an_output_path_that_is_a_file(tiny_mnist, tmp_path, run):
    taken = tmp_path / "taken"
    taken.write_text("keep me")
    result = run("--data_dir", tiny_mnist, "--output", taken)
    assert_one_line_error(result, "is a file", "pass a folder")
    assert taken.read_text() == "keep me"


def test_an_output_path_that_cannot_be_created(tiny_mnist, tmp_path, run):
    (tmp_path / "taken").write_text("keep me")
    result = run("--data_dir", tiny_mnist, "--output", tmp_path / "taken" / "output")
    assert_one_line_error(result, "not a writable folder", "pass another --output")


def test_resume_without_a_checkpoint(tiny_mnist, tmp_path, run):
    result = run("--data_dir", tiny_mnist, "--output", tmp_path, "--resume")
    assert_one_line_error(result, "no checkpoint at", "without --resume")


def test_resume_from_a_corrupt_checkpoint_keeps_it(saved_run, tiny_mnist, tmp_path, run):
    output = tmp_path / "out"
    shutil.copytree(saved_run, output)
    with open(output / "checkpoint.npz", "r+b") as f:
        f.truncate(1000)
    before = fingerprint(output)
    result = run("--data_dir", tiny_mnist, "--output", output, "--batch_size", 32, "--resume",
                 "--epoch", 2)
    assert_one_line_error(result, "checkpoint", "unreadable")
    assert fingerprint(output) == before


def test_generate_without_a_trained_generator(tmp_path, run):
    result = run("--generate", 4, "--output", tmp_path)
    assert_one_line_error(result, "no saved generator", "train first")


def test_generate_a_non_positive_count(saved_run, run):
    assert_one_line_error(run("--generate", 0, "--output", saved_run), "--generate", "positive")


@pytest.mark.skipif(paddle.is_compiled_with_cuda(), reason="this paddle has CUDA: GPU runs work")
def test_use_gpu_on_a_cpu_only_paddle(tiny_mnist, tmp_path, run):
    result = run("--data_dir", tiny_mnist, "--output", tmp_path, "--use_gpu", "true")
    assert_one_line_error(result, "CUDA build", "requirements-gpu.txt")


def test_resume_from_a_checkpoint_missing_its_loop_state(saved_run, tiny_mnist, tmp_path, run):
    output = tmp_path / "out"
    shutil.copytree(saved_run, output)
    with np.load(output / "checkpoint.npz") as ckpt:
        arrays = {k: ckpt[k] for k in ckpt.files if k != "state/order"}
    np.savez(output / "checkpoint.npz", **arrays)
    before = fingerprint(output)
    result = run("--data_dir", tiny_mnist, "--output", output, "--batch_size", 32, "--resume",
                 "--epoch", 2)
    assert_one_line_error(result, "lacks state/order")
    assert fingerprint(output) == before


def test_generate_where_its_file_name_is_taken_by_a_folder_gets_one_line(saved_run, tmp_path, run):
    for name in GENERATOR_FILES:
        shutil.copy(saved_run / name, tmp_path / name)
    (tmp_path / "generated.npy").mkdir()  # root may write anywhere; a folder in the way stops everyone
    before = fingerprint(tmp_path)
    result = run("--generate", 5, "--output", tmp_path)
    assert_one_line_error(result, str(tmp_path / "generated.npy"))
    assert fingerprint(tmp_path) == before and (tmp_path / "generated.npy").is_dir()


@pytest.mark.parametrize("flags, fragments", [
    (["--data_dir", "{tmp}/nowhere"], ["nowhere is not a folder"]),
    (["--data_dir", "{tiny}", "--batch_size", "1000"], ["--batch_size 1000 is larger"]),
    (["--data_dir", "{tiny}", "--resume"], ["no checkpoint at"]),
    (["--data_dir", "{tmp}"], ["train-images-idx3-ubyte.gz", "the data set is empty"]),
    (["--generate", "4"], ["no saved generator"]),
])
def test_a_refused_run_leaves_the_disk_as_it_found_it(tiny_mnist, tmp_path, run, flags, fragments):
    output = tmp_path / "never-made"
    flags = [f.format(tmp=tmp_path, tiny=tiny_mnist) for f in flags]
    result = run(*flags, "--output", output)
    assert_one_line_error(result, *fragments)
    assert not output.exists()
    assert sorted(os.listdir(tmp_path)) == []


@pytest.mark.skipif(paddle.is_compiled_with_cuda(), reason="this paddle has CUDA: GPU runs work")
def test_a_run_refused_for_want_of_cuda_makes_no_output_folder(tiny_mnist, tmp_path, run):
    result = run("--data_dir", tiny_mnist, "--use_gpu", "true", "--output", tmp_path / "out")
    assert_one_line_error(result, "CUDA build")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("onednn", ["true", "false"])
@pytest.mark.parametrize("kept", [0.5, 0], ids=["cut in half", "emptied"])  # emptied: paddle segfaulted
@pytest.mark.parametrize("damaged", GENERATOR_FILES)
def test_generate_with_a_damaged_saved_generator_gets_one_line(saved_run, tmp_path, run, damaged, kept,
                                                               onednn):
    for name in GENERATOR_FILES:
        shutil.copy(saved_run / name, tmp_path / name)
    with open(tmp_path / damaged, "r+b") as f:
        f.truncate(int(os.path.getsize(tmp_path / damaged) * kept))
    before = fingerprint(tmp_path)
    result = run("--generate", 5, "--output", tmp_path, "--onednn", onednn)
    assert_one_line_error(result, str(tmp_path / "generator"), "train again to save a whole one")
    assert {k: v for k, v in fingerprint(tmp_path).items() if k != ".dc_gan.lock"} == before
