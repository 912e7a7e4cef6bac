"""A new run never lands on an earlier one: into a folder that holds any file a run writes it refuses in one
line, after the flags and the data are checked and before it writes anything; --overwrite deletes exactly
the earlier run's files and starts over, and --resume continues it."""
import os
import shutil

import numpy as np

from conftest import GENERATOR_FILES, TINY_BATCH, assert_one_line_error, fingerprint, run_main
from dcgan_port import output_folder


def new_run(run, data, output, *flags):
    return run("--data_dir", data, "--batch_size", TINY_BATCH, "--epoch", 1, "--max_batches", 1,
               "--output", output, *flags)


def test_a_new_run_into_a_finished_run_is_refused_and_leaves_every_byte(saved_run, tiny_mnist):
    before = fingerprint(saved_run)
    result = new_run(run_main, tiny_mnist, saved_run)
    assert_one_line_error(result, "--output {} holds an earlier run".format(saved_run),
                          "a checkpoint after 1 epoch(s)", "newest ", "--resume to continue it",
                          "another --output", "--overwrite")
    assert fingerprint(saved_run) == before


def test_the_refusal_counts_the_batches_of_an_epoch_cut_short(saved_run, tiny_mnist, tmp_path):
    with np.load(saved_run / "checkpoint.npz") as ckpt:
        arrays = {k: ckpt[k] for k in ckpt.files}
    arrays.update({"state/epoch": np.asarray(3), "state/batch": np.asarray(2)})
    np.savez(tmp_path / "checkpoint.npz", **arrays)
    result = new_run(run_main, tiny_mnist, tmp_path)
    assert_one_line_error(result, "a checkpoint after 3 epoch(s) and 2 batch(es)", "1 file(s)",
                          "newest checkpoint.npz")


def test_grids_of_a_run_killed_before_its_first_save_count_as_a_run(saved_run, tiny_mnist, tmp_path):
    shutil.copy(saved_run / "0000_0000.png", tmp_path / "0000_0000.png")
    before = fingerprint(tmp_path)
    result = new_run(run_main, tiny_mnist, tmp_path)
    assert_one_line_error(result, "holds an earlier run (no checkpoint yet, 1 file(s), newest 0000_0000.png")
    assert fingerprint(tmp_path) == before


def test_drawn_digits_alone_count_as_a_run(saved_run, tiny_mnist, tmp_path):
    (tmp_path / "generated.npy").write_bytes(b"digits")
    assert_one_line_error(new_run(run_main, tiny_mnist, tmp_path), "newest generated.npy")
    assert (tmp_path / "generated.npy").read_bytes() == b"digits"


def test_bad_data_is_named_before_the_earlier_run(saved_run, tmp_path):
    (tmp_path / "data").mkdir()
    result = new_run(run_main, tmp_path / "data", saved_run)
    assert_one_line_error(result, "train-images-idx3-ubyte.gz", "the data set is empty")


def test_the_lock_and_a_dead_runs_leftovers_are_not_a_run(tiny_mnist, tmp_path, run):
    (tmp_path / output_folder.LOCK_FILE).write_bytes(b"")
    dead_runs = ["checkpoint.npz.tmp12345", "generator.tmp12345.pdiparams", "generator.tmp12345.json",
                 "0003_0070.png.tmp12345", "0000_10000.png.tmp12345"]
    users = ["notes.txt", "thesis.tmp2024", "photo.tmp1.json", "my_generator.tmp3.pdmodel"]
    for name in dead_runs + users:
        (tmp_path / name).write_bytes(b"half a file")
    result = new_run(run, tiny_mnist, tmp_path)
    assert result.returncode == 0, result.stderr
    assert not [name for name in dead_runs if (tmp_path / name).exists()]
    assert all((tmp_path / name).read_bytes() == b"half a file" for name in users)


def test_overwrite_deletes_exactly_the_earlier_runs_files(saved_run, tiny_mnist, tmp_path, run):
    output = tmp_path / "run"
    shutil.copytree(saved_run, output)
    shutil.copy(output / "0000_0000.png", output / "0007_0070.png")  # a grid the new run does not make
    (output / "generated.png").write_bytes(b"old drawing")
    (output / "notes.txt").write_text("mine")
    (output / "sub").mkdir()
    (output / "sub" / "0000_0000.png").write_bytes(b"mine too")
    result = new_run(run, tiny_mnist, output, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert "--overwrite: removed the 8 files of the earlier run in {}".format(output) in result.stdout
    assert sorted(os.listdir(output)) == sorted(
        ["0000_0000.png", "checkpoint.npz", *GENERATOR_FILES, "losses.png", "progress.gif", "notes.txt",
         "sub"])
    assert (output / "notes.txt").read_text() == "mine"
    assert (output / "sub" / "0000_0000.png").read_bytes() == b"mine too"
    with np.load(output / "checkpoint.npz") as ckpt:  # the new run's: one batch
        assert len(ckpt["state/d_losses"]) == 1


def test_overwrite_is_refused_while_another_run_holds_the_folder(saved_run, tiny_mnist, tmp_path, run):
    output = tmp_path / "run"
    shutil.copytree(saved_run, output)
    before = fingerprint(output)
    with output_folder.output_lock(str(output)):
        result = new_run(run, tiny_mnist, output, "--overwrite")
    assert_one_line_error(result, "is in use by another run of dc_gan.py")
    assert fingerprint(output) == before


def test_a_new_run_into_a_folder_a_run_is_writing_says_it_is_in_use(saved_run, tiny_mnist, run):
    before = fingerprint(saved_run)
    with output_folder.output_lock(str(saved_run)):
        result = new_run(run, tiny_mnist, saved_run)
    assert_one_line_error(result, "is in use by another run of dc_gan.py")
    assert fingerprint(saved_run) == before


def test_overwrite_and_resume_together_are_refused(saved_run, tiny_mnist):
    before = fingerprint(saved_run)
    result = run_main("--resume", "--overwrite", "--output", saved_run, "--data_dir", tiny_mnist)
    assert_one_line_error(result, "--overwrite: not allowed with --resume")
    assert fingerprint(saved_run) == before


def test_resume_still_continues_the_earlier_run(saved_run, tiny_mnist, tmp_path, run):
    output = tmp_path / "run"
    shutil.copytree(saved_run, output)
    result = run("--resume", "--output", output, "--epoch", 2, "--data_dir", tiny_mnist)
    assert result.returncode == 0, result.stderr
    assert "resuming from" in result.stdout
