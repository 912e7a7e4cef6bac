"""Drawing digits with a saved generator (dcgan_port.drawing): the fast route (Paddle Inference with oneDNN)
draws what the training program g_program_test draws, to float32 rounding, as the executor's route does."""
import subprocess
import sys

import numpy as np
import paddle
import pytest

import dc_gan
from conftest import ROOT
from dcgan_port import checkpoints, drawing, fast_cpu

BATCH = 16


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A generator trained a few steps and saved, and what g_program_test drew from some noise before
    the save."""
    output = tmp_path_factory.mktemp("saved_generator")
    np.random.seed(dc_gan.CE_NUMPY_SEED)
    with paddle.static.scope_guard(paddle.static.Scope()):
        progs = dc_gan.build_programs(seed=dc_gan.CE_PROGRAM_SEED)
        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(progs.startup)
        real = np.random.uniform(-1, 1, (BATCH, 784)).astype("float32")
        for _ in range(3):  # moves the weights and the batch-norm statistics away from their start
            dc_gan.train_batch(exe, progs, real)
        noise = dc_gan.uniform_noise(300)  # not a multiple of anything the kernels like
        drawn = exe.run(progs.g_program_test, feed={"noise": noise}, fetch_list=[progs.g_img_test])[0]
        checkpoints.save_generator(str(output), exe, progs)
    return str(output), noise, drawn


def assert_same_digits(actual, expected):
    assert actual.shape == expected.shape == (300, 784)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=2e-6)


def test_the_executors_route_draws_what_training_drew(saved):
    output, noise, drawn = saved
    draw = drawing.load_generator(output, paddle.CPUPlace(), onednn=False)
    assert_same_digits(draw(noise), drawn)


@pytest.mark.skipif(not fast_cpu.onednn_available(), reason="this paddle has no oneDNN here")
def test_the_fast_route_is_paddle_inference_and_draws_what_training_drew(saved, monkeypatch):
    output, noise, drawn = saved
    routes = []
    for name in ("inference_generator", "executor_generator"):
        real = getattr(drawing, name)
        monkeypatch.setattr(drawing, name, lambda *a, real=real, name=name: routes.append(name) or real(*a))
    draw = drawing.load_generator(output, paddle.CPUPlace(), num_threads=2)
    assert routes == ["inference_generator"]
    assert_same_digits(draw(noise), drawn)
    assert_same_digits(np.concatenate([draw(noise[:100]), draw(noise[100:])]), drawn)  # any batch size


def test_without_onednn_the_executors_route_draws(saved, monkeypatch):
    output, noise, drawn = saved
    monkeypatch.setattr(drawing, "onednn_available", lambda: False)
    monkeypatch.setattr(drawing, "inference_generator", lambda *a: pytest.fail("Inference was used"))
    assert_same_digits(drawing.load_generator(output, paddle.CPUPlace())(noise), drawn)


# Trains an epoch, draws with the saved generator, then trains on from the checkpoint, in one process.
TRAIN_DRAW_TRAIN = """
import sys
sys.path.insert(0, {root!r})
import dc_gan, paddle
data, output = sys.argv[1:]
flags = ["--data_dir", data, "--batch_size", "32", "--enable_ce", "true", "--output", output]
with paddle.static.scope_guard(paddle.static.Scope()):
    assert dc_gan.main(flags + ["--epoch", "1"]) == 0
assert dc_gan.main(["--generate", "1000", "--output", output]) == 0
with paddle.static.scope_guard(paddle.static.Scope()):
    sys.exit(dc_gan.main(flags + ["--epoch", "3", "--resume"]))
""".format(root=ROOT)


@pytest.mark.skipif(not fast_cpu.onednn_available(), reason="this paddle has no oneDNN here")
def test_drawing_on_the_fast_route_leaves_onednn_training_in_the_same_process_intact(tiny_mnist, tmp_path):
    """A predictor run on the training thread leaves oneDNN state behind with which conv2d_grad crashed
    the process (SIGSEGV) at the next training step."""
    result = subprocess.run([sys.executable, "-c", TRAIN_DRAW_TRAIN, str(tiny_mnist), str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from" in result.stdout and "done: 6 batches" in result.stdout
