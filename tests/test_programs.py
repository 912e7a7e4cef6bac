"""The chapter's programs, built in-process: names, shapes, and which step trains which network, on the
chapter's ops and on the fast CPU path's forms of them."""
import numpy as np
import paddle
import pytest

import dc_gan
from conftest import IN_PIR, legacy_ir_only
from dcgan_port import static_graph

BATCH = 8
G_TRAINABLE = {"fc3w", "fc3b", "bn31", "bn32", "fc4w", "fc4b", "bn41", "bn42",
               "deconv1w", "deconv1b", "deconv2w", "deconv2b"}
D_TRAINABLE = {"conv1w", "conv1b", "conv2w", "conv2b", "bn11", "bn12", "fc1w", "fc1b",
               "bn21", "bn22", "fc2w", "fc2b"}
# batch-norm moving mean (3) and variance (4): parameters that no optimizer touches
G_STATISTICS = {"bn33", "bn34", "bn43", "bn44"}
D_STATISTICS = {"bn13", "bn14", "bn23", "bn24"}
G_PARAMETERS = G_TRAINABLE | G_STATISTICS
D_PARAMETERS = D_TRAINABLE | D_STATISTICS


def build(raw_logits=False, fast=False):
    paddle.enable_static()
    progs = dc_gan.build_programs(raw_logits=raw_logits, seed=dc_gan.CE_PROGRAM_SEED, fast=fast)
    exe = paddle.static.Executor(paddle.CPUPlace())
    exe.run(progs.startup)
    return progs, exe


@pytest.fixture
def world():
    with paddle.static.scope_guard(paddle.static.Scope()):
        yield build()


@pytest.fixture(params=[False, pytest.param(True, marks=legacy_ir_only)], ids=["chapter's ops", "fast path"])
def either_world(request):
    """The programs on the chapter's ops, then on the fast CPU path's forms."""
    with paddle.static.scope_guard(paddle.static.Scope()):
        yield build(fast=request.param)


def values(program):
    scope = paddle.static.global_scope()
    return {p.name: np.array(scope.find_var(p.name).get_tensor())
            for p in program.global_block().all_parameters()}


def d_scores(progs, exe, images):
    labels = np.ones((len(images), 1), dtype="float32")
    d_test, d_logit = static_graph.clone(progs.d_program, progs.d_logit, for_test=True)
    return exe.run(d_test, feed={"img": images, "label": labels}, fetch_list=[d_logit])[0]


def changed(before, after):
    return {name for name in before if not np.array_equal(before[name], after[name])}


def real_batch():
    rng = np.random.default_rng(1)
    return rng.uniform(-1, 1, size=(BATCH, 784)).astype("float32")


def test_networks_carry_the_chapters_parameter_names(world):
    progs, _ = world
    assert {p.name for p in progs.g_program.global_block().all_parameters()} == G_PARAMETERS
    assert {p.name for p in progs.d_program.global_block().all_parameters()} == D_PARAMETERS
    # dg_program holds the same D, shared by name, behind G
    assert ({p.name for p in progs.dg_program.global_block().all_parameters()}
            == G_PARAMETERS | D_PARAMETERS)
    trainable = {p.name for p in progs.dg_program.global_block().all_parameters() if p.trainable}
    assert trainable == G_TRAINABLE | D_TRAINABLE


# The chapter's sizes, as its text gives them: gf_dim = df_dim = 64, gfc_dim = 2048, dfc_dim = 1024,
# 28x28 images, noise of 100, 5x5 filters.
CHAPTER_SHAPES = {"conv1w": [64, 1, 5, 5], "conv2w": [128, 64, 5, 5], "fc1w": [128 * 4 * 4, 1024],
                  "fc2w": [1024, 1], "fc3w": [100, 2048], "fc4w": [2048, 128 * 7 * 7],
                  "deconv1w": [128, 128, 5, 5], "deconv2w": [128, 1, 5, 5]}


def test_networks_have_the_chapters_sizes(either_world):
    progs, _ = either_world
    shapes = {p.name: list(p.shape) for p in progs.dg_program.global_block().all_parameters()}
    assert {name: shapes[name] for name in CHAPTER_SHAPES} == CHAPTER_SHAPES


def test_g_draws_each_noise_as_its_own_28x28_image_in_tanhs_open_range(world):
    progs, exe = world
    noise = dc_gan.uniform_noise(BATCH)
    images = exe.run(progs.g_program_test, feed={"noise": noise}, fetch_list=[progs.g_img_test])[0]
    assert images.shape == (BATCH, 784)
    assert -1 < images.min() and images.max() < 1
    assert len({image.tobytes() for image in images}) == BATCH  # no two noises drawn alike
    alone = exe.run(progs.g_program_test, feed={"noise": noise[3:4]}, fetch_list=[progs.g_img_test])[0]
    np.testing.assert_allclose(alone[0], images[3], rtol=1e-5, atol=1e-6)  # one image, not the batch


def test_discriminator_step_trains_d_and_leaves_g_untouched(either_world):
    progs, exe = either_world
    d_before, g_before = values(progs.d_program), values(progs.g_program)
    exe.run(progs.d_program,
            feed={"img": real_batch(), "label": np.ones((BATCH, 1), dtype="float32")},
            fetch_list=[progs.d_loss])
    assert changed(d_before, values(progs.d_program)) == D_PARAMETERS
    assert changed(g_before, values(progs.g_program)) == set()


def test_generator_step_trains_g_and_leaves_d_untouched(either_world):
    progs, exe = either_world
    d_before, g_before = values(progs.d_program), values(progs.g_program)
    exe.run(progs.dg_program, feed={"noise": dc_gan.uniform_noise(BATCH)},
            fetch_list=[progs.dg_loss])
    assert changed(g_before, values(progs.g_program)) == G_PARAMETERS
    # D runs in training mode inside dg_program, as in the chapter, so its batch-norm statistics
    # follow the fakes; its trainable parameters stay as they were
    assert changed(d_before, values(progs.d_program)) == D_STATISTICS


@pytest.mark.skipif(IN_PIR, reason="reads the legacy IR's gradient variables by name; in PIR the G step's "
                                     "effect is tested above, and tests/test_static_graphs.py holds it to the legacy IR's")
def test_generator_step_differentiates_through_d_but_not_for_ds_parameters(either_world):
    progs, _ = either_world
    block = progs.dg_program.global_block()
    gradients = {name[:-len("@GRAD")] for name in block.vars if name.endswith("@GRAD")}
    assert G_TRAINABLE <= gradients
    assert not gradients & D_PARAMETERS
    # the gradient still flows through D's first convolution back into G's image (on the fast path
    # computed by a product and a fold, on the chapter's ops by conv2d_grad)
    conv1 = next(op for op in block.ops if op.type == "conv2d" and op.input("Filter") == ["conv1w"])
    image_gradient = conv1.input("Input")[0] + "@GRAD"
    assert any(image_gradient in op.output_arg_names for op in block.ops)


def test_g_program_test_draws_the_same_images_twice_from_the_same_noise(either_world):
    progs, exe = either_world
    noise = dc_gan.uniform_noise(BATCH)
    first = exe.run(progs.g_program_test, feed={"noise": noise}, fetch_list=[progs.g_img_test])[0]
    # a training-mode pass in between moves G's batch-norm statistics, but no parameter
    exe.run(progs.g_program, feed={"noise": dc_gan.uniform_noise(BATCH)}, fetch_list=[progs.g_img])
    exe.run(progs.g_program, feed={"noise": dc_gan.uniform_noise(BATCH)}, fetch_list=[progs.g_img])
    second = exe.run(progs.g_program_test, feed={"noise": noise}, fetch_list=[progs.g_img_test])[0]
    third = exe.run(progs.g_program_test, feed={"noise": noise}, fetch_list=[progs.g_img_test])[0]
    assert np.array_equal(second, third)
    assert not np.array_equal(first, second)


class RecordingExecutor:
    """The executor, keeping what each run was fed and what it returned."""

    def __init__(self, exe):
        self.exe, self.runs = exe, []

    def run(self, program, feed, fetch_list):
        result = self.exe.run(program, feed=feed, fetch_list=fetch_list)
        self.runs.append((program, feed, result[0]))
        return result


def test_one_iteration_trains_d_on_fakes_then_reals_and_g_twice_reporting_their_losses(world):
    progs, exe = world
    recording = RecordingExecutor(exe)
    real = real_batch()
    d_loss_n, dg_losses = dc_gan.train_batch(recording, progs, real)
    (g, g_feed, generated), (d_fake, fake_feed, d_loss_1), (d_real, real_feed, d_loss_2), *dg = \
        recording.runs
    assert (g, d_fake, d_real) == (progs.g_program, progs.d_program, progs.d_program)
    np.testing.assert_array_equal(fake_feed["img"], generated)
    assert (fake_feed["label"] == 0).all() and (real_feed["label"] == 1).all()
    np.testing.assert_array_equal(real_feed["img"], real)
    assert d_loss_1 != d_loss_2
    assert d_loss_n == np.float32(d_loss_1) + np.float32(d_loss_2)  # the two terms, each once
    assert [program for program, _, _ in dg] == [progs.dg_program] * dc_gan.NUM_TRAIN_TIMES_OF_DG
    assert dg_losses == [np.float32(loss) for _, _, loss in dg]
    assert not np.array_equal(dg[0][1]["noise"], dg[1][1]["noise"])  # each G step its own noise


def op_types(program):
    """The legacy IR's op.type; PIR's op.name() without its dialect (pd_op.sigmoid)."""
    return [op.name().split(".")[-1] if IN_PIR else op.type for op in program.global_block().ops]


def test_d_ends_in_a_sigmoid_by_default_as_in_the_chapter(world):
    progs, exe = world
    assert "sigmoid" in op_types(progs.d_program)
    scores = d_scores(progs, exe, real_batch())
    assert ((scores > 0) & (scores < 1)).all()


def test_raw_logits_flag_drops_ds_final_sigmoid():
    with paddle.static.scope_guard(paddle.static.Scope()):
        progs, _ = build(raw_logits=True)
        assert "sigmoid" not in op_types(progs.d_program)
        assert "sigmoid" not in op_types(progs.dg_program)
        assert "sigmoid_cross_entropy_with_logits" in op_types(progs.d_program)


@pytest.mark.skipif(IN_PIR, reason="PIR has no per-op cuDNN switch (tests/test_static_graphs.py)")
def test_use_cudnn_follows_the_books_code_and_a_flag_builds_the_chapter_texts_programs():
    assert dc_gan.parse_args([]).use_cudnn is True
    text = dc_gan.build_programs(use_cudnn=dc_gan.parse_args(["--use_cudnn", "false"]).use_cudnn)
    for progs, cudnn in ((dc_gan.build_programs(), True), (text, False)):
        convolutions = [op for program in (progs.d_program, progs.dg_program, progs.g_program_test)
                        for op in program.global_block().ops
                        if op.type in ("conv2d", "conv2d_transpose")]
        assert len(convolutions) == 2 + 4 + 2  # D; G and D; G
        assert all(op.attr("use_cudnn") is cudnn for op in convolutions)
        # fluid's simple_img_conv_pool handed use_cudnn to its pool as well
        pools = [op for program in (progs.d_program, progs.dg_program)
                 for op in program.global_block().ops if op.type == "pool2d"]
        assert len(pools) == 2 + 2
        assert all(op.attr("use_cudnn") is cudnn for op in pools)
