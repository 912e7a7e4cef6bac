"""Checkpoints outlive versions of the port: one written by the version before dcgan_port (commit 945b136,
tests/fixtures/make_checkpoint_945b136.py) loads into today's programs and resumes."""
import os
import shutil

import numpy as np
import paddle

import dc_gan
from conftest import checkpoint
from dcgan_port import checkpoints

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                       "checkpoint_945b136.npz")


def fixture():
    with np.load(FIXTURE) as ckpt:
        return {k: ckpt[k] for k in ckpt.files}


def test_a_checkpoint_of_the_previous_version_fills_every_persistable_of_todays_programs():
    old = fixture()
    with paddle.static.scope_guard(paddle.static.Scope()):
        progs = dc_gan.build_programs(fast=True)
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
