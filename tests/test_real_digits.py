"""A short run of real training on the real MNIST digits in ../shared/data/mnist."""
import numpy as np
import paddle
import pytest

import dc_gan
from dcgan_port.data import load_mnist

BATCH = 64
ITERATIONS = 25


def test_the_shared_split_reads_as_ten_thousand_scaled_digits(shared_mnist):
    images = load_mnist("test", shared_mnist)
    assert images.shape == (10000, 784)
    assert images.min() == -1.0 and images.max() == 1.0
    # the folder's README gives a mean pixel of 33.79 on 0..255
    assert (images.mean() + 1) / 2 * 255 == pytest.approx(33.79, abs=0.01)


@pytest.mark.slow  # 25 iterations at batch 64 on the plain path
def test_a_short_real_training_moves_both_networks(shared_mnist):
    images = load_mnist("test", shared_mnist)
    paddle.enable_static()
    np.random.seed(dc_gan.CE_NUMPY_SEED)
    with paddle.static.scope_guard(paddle.static.Scope()):
        progs = dc_gan.build_programs(seed=dc_gan.CE_PROGRAM_SEED)
        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(progs.startup)
        d_test = progs.d_program.clone(for_test=True)
        probe_noise = dc_gan.uniform_noise(BATCH)
        held_out = images[-BATCH:]

        def drawn():
            return exe.run(progs.g_program_test, feed={"noise": probe_noise},
                           fetch_list=[progs.g_img_test])[0]

        def d_loss_on_reals():
            return float(exe.run(d_test, feed={"img": held_out,
                                               "label": np.ones((BATCH, 1), dtype="float32")},
                                 fetch_list=[progs.d_loss])[0])

        untrained, loss_before = drawn(), d_loss_on_reals()
        for i in range(ITERATIONS):
            dc_gan.train_batch(exe, progs, images[i * BATCH:(i + 1) * BATCH])
        trained, loss_after = drawn(), d_loss_on_reals()

    print("mean |G change| {:.3f}, D loss on reals {:.3f} -> {:.3f}".format(
        np.abs(trained - untrained).mean(), loss_before, loss_after))
    assert np.abs(trained - untrained).mean() > 0.05
    # D learns to call real digits real: its loss on unseen reals falls
    assert loss_after < loss_before - 0.01
