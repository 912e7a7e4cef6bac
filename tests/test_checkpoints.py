"""Checkpoints outlive versions of the port: one written by the version before dcgan_port (commit 945b136,
tests/fixtures/make_checkpoint_945b136.py; the format stayed until the run's settings were recorded) loads
into today's programs and resumes. A checkpoint records its run's settings and data, so that `--resume
--output DIR` continues the run as it was started, and a finished run gets what it lacks, nothing more."""
import os
import shutil

import numpy as np
import paddle
import pytest

import dc_gan
from conftest import GENERATOR_FILES, checkpoint, fingerprint
from dcgan_port import checkpoints

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                       "checkpoint_945b136.npz")


def fixture():
    with np.load(FIXTURE) as ckpt:
        return {k: ckpt[k] for k in ckpt.files}


def test_a_checkpoint_of_the_previous_version_fills_every_persistable_of_todays_programs():
    old = fixture()
    with paddle.static.scope_guard(paddle.static.Scope()):
        progs = dc_gan.build_programs()
        paddle.static.Executor(paddle.CPUPlace()).run(progs.startup)
        names = checkpoints.persistable_names(progs.d_program, progs.dg_program)
        assert sorted("var/" + name for name in names) == sorted(k for k in old if k.startswith("var/"))
        state = checkpoints.load_checkpoint(FIXTURE, (progs.d_program, progs.dg_program),
                                            paddle.CPUPlace())
        scope = paddle.static.global_scope()
        for name in names:
            np.testing.assert_array_equal(np.array(scope.find_var(name).get_tensor()), old["var/" + name])
    assert (int(state["epoch"]), int(state["batch"])) == (0, 1)
    assert np.random.get_state()[2] == int(old["rng/2"])  # numpy's RNG is where the old run left it


def test_a_checkpoint_of_the_previous_version_resumes_mid_epoch_in_its_saved_order(
        tiny_mnist, tmp_path, run):
    old = fixture()
    shutil.copy(FIXTURE, tmp_path / "checkpoint.npz")
    result = run("--data_dir", tiny_mnist, "--batch_size", 32, "--epoch", 1, "--resume",
                 "--output", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "at epoch 0 batch 1" in result.stdout
    new = checkpoint(tmp_path)
    assert (int(new["state/epoch"]), int(new["state/batch"])) == (1, 0)
    np.testing.assert_array_equal(new["state/order"], old["state/order"])  # the epoch it finished
    np.testing.assert_array_equal(new["state/const_n"], old["state/const_n"])
    assert len(new["state/d_losses"]) == 3 and len(new["state/dg_losses"]) == 6
    np.testing.assert_array_equal(new["state/d_losses"][:1], old["state/d_losses"])
    np.testing.assert_array_equal(new["state/dg_losses"][:2], old["state/dg_losses"])
    assert np.isfinite(new["state/d_losses"]).all()


def test_an_earlier_versions_checkpoint_past_a_smaller_max_batches_is_the_next_epoch_and_is_kept(
        tiny_mnist, tmp_path, run):
    shutil.copy(FIXTURE, tmp_path / "checkpoint.npz")  # stands at epoch 0, batch 1
    before = fingerprint(tmp_path)["checkpoint.npz"]
    result = run("--data_dir", tiny_mnist, "--batch_size", 32, "--epoch", 1, "--max_batches", 1,
                 "--resume", "--output", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "written by an earlier version, which did not record --epoch, --max_batches, --data_dir" \
        in result.stdout
    assert "nothing to do: the run in {} has trained 1 epoch(s), all that --epoch 1 asks for".format(
        tmp_path) in result.stdout
    assert fingerprint(tmp_path)["checkpoint.npz"] == before  # nothing rewritten
    assert all(os.path.isfile(tmp_path / name) for name in GENERATOR_FILES)  # missing, saved from it


@pytest.fixture(scope="module")
def short_run(tiny_mnist, tmp_path_factory, run):
    """The README's first run, small: one epoch of at most 2 batches of 32."""
    output = tmp_path_factory.mktemp("short_run")
    result = run("--data_dir", tiny_mnist, "--batch_size", 32, "--max_batches", 2, "--epoch", 1,
                 "--output", output)
    assert result.returncode == 0, result.stderr
    return output


def test_a_checkpoint_records_the_runs_settings_and_data(short_run, tiny_mnist):
    saved = checkpoint(short_run)
    assert {k: saved[k].item() for k in saved if k.startswith("settings/")} == {
        "settings/batch_size": 32, "settings/epoch": 1, "settings/max_batches": 2,
        "settings/raw_logits": False, "settings/enable_ce": False, "settings/mnist_split": "train",
        "settings/data_dir": os.path.abspath(tiny_mnist)}
    assert len(saved["state/data_fingerprint"].item()) == 16


def test_resume_takes_the_runs_settings_from_its_checkpoint_and_epoch_as_the_new_total(
        short_run, tmp_path, run):
    shutil.copytree(short_run, tmp_path, dirs_exist_ok=True)
    before = fingerprint(tmp_path)
    finished = run("--resume", "--output", tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines()[-1] == (
        "nothing to do: the run in {} has trained 1 epoch(s), all that --epoch 1 asks for; pass a "
        "larger --epoch with --resume to train further".format(tmp_path))
    assert fingerprint(tmp_path) == before  # a finished run is left as it was

    further = run("--resume", "--epoch", 2, "--output", tmp_path)
    assert further.returncode == 0, further.stderr
    assert "\nbatch_size: 32\n" in further.stdout and "\nmax_batches: 2\n" in further.stdout
    saved = checkpoint(tmp_path)
    assert (int(saved["state/epoch"]), int(saved["state/batch"])) == (2, 0)
    assert len(saved["state/d_losses"]) == 2 * 2 and int(saved["settings/epoch"]) == 2


@pytest.mark.parametrize("killed", ["before the generator's save", "during it"])
def test_a_run_killed_before_saving_its_generator_gets_it_on_resume_and_nothing_else_changes(
        short_run, tmp_path, run, killed):
    shutil.copytree(short_run, tmp_path, dirs_exist_ok=True)
    if killed == "during it":  # the previous save's generator, older than the checkpoint
        earlier = os.path.getmtime(tmp_path / "checkpoint.npz") - 60
        for name in GENERATOR_FILES:
            os.utime(tmp_path / name, (earlier, earlier))
    else:
        for name in GENERATOR_FILES:
            os.remove(tmp_path / name)
    before = {k: v for k, v in fingerprint(tmp_path).items() if not k.startswith("generator.")}
    result = run("--resume", "--output", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "saved the generator of the checkpoint" in result.stdout
    after = fingerprint(tmp_path)
    assert {k: after[k] for k in before} == before
    assert sorted(set(after) - set(before)) == list(GENERATOR_FILES)
    assert os.path.getmtime(tmp_path / "generator.pdiparams") >= os.path.getmtime(
        tmp_path / "checkpoint.npz")
    np.testing.assert_array_equal(  # it is the checkpoint's G
        np.load(tmp_path / "checkpoint.npz")["var/fc3w"], load_parameter(tmp_path, "fc3w"))


def load_parameter(output, name):
    with paddle.static.scope_guard(paddle.static.Scope()):
        exe = paddle.static.Executor(paddle.CPUPlace())
        paddle.static.load_inference_model(str(output / "generator"), exe)
        return np.array(paddle.static.global_scope().find_var(name).get_tensor())


@pytest.mark.slow  # two runs and a resume
def test_a_run_whose_data_folder_moved_resumes_from_the_new_one_if_its_data_is_the_same(
        tiny_mnist, tmp_path, run):
    old, new = tmp_path / "data", tmp_path / "moved"
    shutil.copytree(tiny_mnist, old)
    output = tmp_path / "out"
    first = run("--data_dir", old, "--batch_size", 32, "--max_batches", 1, "--epoch", 1, "--output", output)
    assert first.returncode == 0, first.stderr
    os.rename(old, new)
    lost = run("--resume", "--epoch", 2, "--output", output)
    assert lost.returncode == 2 and "{} is not a folder".format(old) in lost.stderr
    moved = run("--resume", "--epoch", 2, "--data_dir", new, "--output", output)
    assert moved.returncode == 0, moved.stderr
    assert checkpoint(output)["settings/data_dir"].item() == str(new)
