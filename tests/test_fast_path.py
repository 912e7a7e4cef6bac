"""The fast CPU path (all cores on one executor thread, oneDNN kernels for the convolutions, activations and
fully connected layers, the transposed convolutions computed by conv2d or by a product and a fold, slow
backward ops rewritten) computes what the plain path computes.

Paddle's plain defaults run one thread and its own kernels. Both paths are started from the same initial
state and fed the same batches; they may differ only by float32 rounding. One subtlety bounds how far that
can be checked: the biases just before a batch norm (conv2b, fc1b, fc3b, fc4b) have a true gradient of zero,
so theirs is pure rounding noise, and Adam's first steps, which move every parameter by about the learning
rate whatever the size of its gradient, turn that noise into lr-sized steps; the moving means of the batch
norms after them (bn13, bn23, bn33, bn43) take a tenth of those steps on. So the losses and gradients of
a step are compared tightly, and whole iterations by their losses.
"""
import os
import platform
import subprocess
import sys

import numpy as np
import paddle
import pytest

import dc_gan
from conftest import ROOT, fast_forms_as_built, legacy_ir_only
from dcgan_port import checkpoints, fast_cpu, fast_gradients, limits

pytestmark = legacy_ir_only
BATCH = 32


def first_steps(fast, iterations=0):
    """One D step on reals and one G step (then `iterations` whole iterations) from seed 90."""
    np.random.seed(dc_gan.CE_NUMPY_SEED)
    with paddle.static.scope_guard(paddle.static.Scope()):
        progs = dc_gan.build_programs(seed=dc_gan.CE_PROGRAM_SEED, fast=fast)
        assert progs.fast == fast
        fast_cpu.set_cpu_threads(max(2, limits.usable_cores()) if fast else 1)
        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(progs.startup)
        real = np.random.uniform(-1, 1, (BATCH, 784)).astype("float32")
        d_loss = exe.run(progs.d_program, feed={"img": real, "label": np.ones((BATCH, 1), "float32")},
                         fetch_list=[progs.d_loss])[0]
        dg_loss = exe.run(progs.dg_program, feed={"noise": dc_gan.uniform_noise(BATCH)},
                          fetch_list=[progs.dg_loss])[0]
        losses = [float(d_loss), float(dg_loss)]
        for _ in range(iterations):
            d_loss_n, dg_losses = dc_gan.train_batch(exe, progs, real)
            losses += [d_loss_n] + dg_losses
        scope = paddle.static.global_scope()
        state = {name: np.array(scope.find_var(name).get_tensor())
                 for name in checkpoints.persistable_names(progs.d_program, progs.dg_program)}
    return losses, state


@pytest.fixture(scope="module")
def one_step_each():
    return first_steps(fast=False), first_steps(fast=True)


TRAINING_PROGRAMS = ("d_program", "dg_program", "g_program")

def op_types(program):
    return {op.type for op in program.global_block().ops}


def on_paddles_kernels(program):
    """A copy of a fast path's training program with every op on paddle's own kernels."""
    copy = program.clone()
    for op in copy.global_block().ops:
        for switch in fast_gradients.ONEDNN_SWITCHES:
            if op.has_attr(switch):
                op._set_attr(switch, False)
    return copy


def test_the_fast_path_trains_the_transposed_convolutions_as_convolutions_and_saves_the_chapters():
    plain, fast = dc_gan.build_programs(), dc_gan.build_programs(fast=True)
    for name in TRAINING_PROGRAMS[1:]:
        assert "conv2d_transpose" in op_types(getattr(plain, name))
        assert "conv2d_transpose" not in op_types(getattr(fast, name))
    assert "conv2d_transpose_grad" not in op_types(fast.dg_program)
    # the inference model is the chapter's G, op for op
    assert ([op.type for op in fast.g_program_test.global_block().ops]
            == [op.type for op in plain.g_program_test.global_block().ops])
    # so a checkpoint or a saved generator serves either path
    for name in TRAINING_PROGRAMS + ("g_program_test",):
        def parameters(progs):
            return {(p.name, tuple(p.shape)) for p in getattr(progs, name).global_block().all_parameters()}
        assert parameters(fast) == parameters(plain), name


def layer_and_gradients(layer, input_shape, output_shape, num_filters, act, input_values=None,
                        **options):
    """Output and the gradients of input, filter and bias of one layer built by `layer`: the filter
    as paddle initialises it, random bias and output weights, and input_values or else a random input
    (the same for every layer given the same shapes)."""
    main, startup = paddle.static.Program(), paddle.static.Program()
    startup.random_seed = dc_gan.CE_PROGRAM_SEED
    with paddle.static.program_guard(main, startup):
        x = paddle.static.data("x", input_shape, "float32")
        x.stop_gradient = False
        weights = paddle.static.data("weights", output_shape, "float32")
        y = layer(x, num_filters, name="layer", act=act, **options)
        block = main.global_block()
        gradients = paddle.static.gradients([paddle.mean(y * weights)],
                                            [x, block.var("layerw"), block.var("layerb")])
    rng = np.random.default_rng(0)
    exe = paddle.static.Executor(paddle.CPUPlace())
    with paddle.static.scope_guard(paddle.static.Scope()):
        exe.run(startup)
        bias = rng.standard_normal(num_filters).astype("float32")  # zeros would not test it
        paddle.static.global_scope().find_var("layerb").get_tensor().set(bias, paddle.CPUPlace())
        feed = {"x": rng.standard_normal(input_shape).astype("float32") if input_values is None
                else input_values,
                "weights": rng.standard_normal(output_shape).astype("float32")}
        return exe.run(main, feed=feed, fetch_list=[y] + gradients)


def assert_same_layer(expected, actual):
    for what, a, e in zip(("output", "input gradient", "filter gradient", "bias gradient"),
                          actual, expected):
        assert a.shape == e.shape, what
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5 * np.abs(e).max(), err_msg=what)


# G's two transposed convolutions: [N, 128, 7, 7] -> [N, 128, 14, 14] and [N, 128, 14, 14] -> [N, 1, 28, 28]
CHAPTER_DECONVS = [([BATCH, 2 * dc_gan.gf_dim, 7, 7], 2 * dc_gan.gf_dim, "relu"),
                   ([BATCH, 2 * dc_gan.gf_dim, 14, 14], 1, "tanh")]
# a transposed convolution of 8 filters, which no chapter's layer has: it shows the filters' order
EIGHT_FILTERS = ([BATCH, 2 * dc_gan.gf_dim, 14, 14], 8, "tanh")
# D's two convolutions with their pools: [N, 1, 28, 28] -> [N, 64, 12, 12] -> [N, 128, 4, 4]
CHAPTER_CONVS = [([BATCH, 1, 28, 28], dc_gan.df_dim, "leaky_relu"),
                 ([BATCH, dc_gan.df_dim, 12, 12], 2 * dc_gan.df_dim, None)]


def assert_same_deconv(input_shape, num_filters, act):
    batch, _, height, width = input_shape
    output_shape = [batch, num_filters, 2 * height, 2 * width]
    expected, actual = (layer_and_gradients(layer, input_shape, output_shape, num_filters, act,
                                            output_size=output_shape[2:])
                        for layer in (dc_gan.deconv, fast_cpu.deconv_via_conv2d))
    assert_same_layer(expected, actual)


@pytest.mark.parametrize("input_shape, num_filters, act", CHAPTER_DECONVS + [EIGHT_FILTERS],
                         ids=("deconv1, four convolutions", "deconv2, product and fold",
                              "8 filters, four convolutions"))
def test_deconv_via_conv2d_computes_conv2d_transpose_and_its_three_gradients(input_shape, num_filters,
                                                                             act):
    assert_same_deconv(input_shape, num_filters, act)


def test_the_product_and_fold_takes_each_filters_taps_in_order(monkeypatch):
    """deconv2 has one filter, which cannot show the filters' order in the product; with 8 it can."""
    monkeypatch.setattr(fast_cpu, "PRODUCT_AND_FOLD_UP_TO", EIGHT_FILTERS[1])
    assert_same_deconv(*EIGHT_FILTERS)


@pytest.mark.parametrize("input_shape, num_filters, act", CHAPTER_CONVS)
def test_conv_with_indexed_pool_computes_the_chapters_conv_and_its_three_gradients(input_shape,
                                                                                   num_filters, act):
    batch, _, height, width = input_shape
    output_shape = [batch, num_filters, (height - 4) // 2, (width - 4) // 2]
    expected, actual = (layer_and_gradients(layer, input_shape, output_shape, num_filters, act)
                        for layer in (dc_gan.conv, fast_cpu.conv_with_indexed_pool))
    assert_same_layer(expected, actual)


def test_conv_with_indexed_pool_sends_the_gradient_of_tied_maxima_where_the_chapters_pool_does():
    """MNIST's blank background is -1 everywhere, so many windows of conv1's output hold equal maxima;
    each window's gradient must go to one of them, the first, as the chapter's pool sends it."""
    input_shape = CHAPTER_CONVS[0][0]
    digits = np.full(input_shape, -1.0, dtype="float32")
    digits[:, :, 10:18, 12:16] = np.random.default_rng(1).uniform(-1, 1, (BATCH, 1, 8, 4))
    output_shape = [BATCH, dc_gan.df_dim, 12, 12]
    expected, actual = (layer_and_gradients(layer, input_shape, output_shape, dc_gan.df_dim,
                                            "leaky_relu", input_values=digits)
                        for layer in (dc_gan.conv, fast_cpu.conv_with_indexed_pool))
    assert_same_layer(expected, actual)


@pytest.mark.parametrize("wrong_taps", [((0, 2, 4), (1, 3, 5)),  # the filter not flipped
                                        ((5, 3, 1), (4, 2, 0)),  # even and odd phases swapped
                                        ((4, 2, 0), (3, 1, 5))])  # odd taps one step off
def test_a_wrong_tap_order_in_the_four_convolutions_would_be_caught(monkeypatch, wrong_taps):
    monkeypatch.setattr(fast_cpu, "DECONV_PHASE_TAPS", wrong_taps)
    with pytest.raises(AssertionError):
        assert_same_deconv(*CHAPTER_DECONVS[0])


def test_deconv1_runs_as_four_convolutions_without_zero_taps_and_deconv2_as_a_product_and_fold():
    def ops(num_filters):
        with paddle.static.program_guard(paddle.static.Program(), paddle.static.Program()):
            x = paddle.static.data("x", [BATCH, 2 * dc_gan.gf_dim, 7, 7], "float32")
            fast_cpu.deconv_via_conv2d(x, num_filters, name="d", output_size=[14, 14])
            return x.block.ops

    def filter_sides(ops):
        return [op.block.var(op.input("Filter")[0]).shape[2:] for op in ops if op.type == "conv2d"]

    assert filter_sides(ops(128)) == [(3, 3), (3, 2), (2, 3), (2, 2)]
    deconv2 = [op.type for op in ops(1)]
    assert "conv2d" not in deconv2 and {"mul", "fold"} <= set(deconv2)


def test_deconv_via_conv2d_refuses_a_deconv_it_does_not_compute():
    with paddle.static.program_guard(paddle.static.Program(), paddle.static.Program()):
        x = paddle.static.data("x", [BATCH, 8, 7, 7], "float32")
        with pytest.raises(ValueError, match="doubles the side"):
            fast_cpu.deconv_via_conv2d(x, 8, name="odd", stride=1, output_size=[7, 7])


def gradients(layer, feed, wrt, rewritten):
    """The gradients of mean(layer(**inputs) * weights) with respect to the inputs named in `wrt`, with
    the program's backward as paddle appends it or rewritten (dcgan_port.fast_gradients), and the
    program's op types."""
    main = paddle.static.Program()
    with paddle.static.program_guard(main, paddle.static.Program()):
        inputs = {name: paddle.static.data(name, value.shape, "float32") for name, value in feed.items()}
        for name in wrt:
            inputs[name].stop_gradient = False
        y = layer(**{name: var for name, var in inputs.items() if name != "weights"})
        grads = paddle.static.gradients([paddle.mean(y * inputs["weights"])], [inputs[name] for name in wrt])
    if rewritten:
        fast_gradients.rewrite(main.global_block())
    with paddle.static.scope_guard(paddle.static.Scope()):
        values = paddle.static.Executor(paddle.CPUPlace()).run(main, feed=feed, fetch_list=grads)
    return values, [op.type for op in main.global_block().ops]


def assert_same_gradients(layer, feed, wrt, replaced, replacement):
    (expected, plain_ops), (actual, fast_ops) = (gradients(layer, feed, wrt, rewritten)
                                                 for rewritten in (False, True))
    assert replaced in plain_ops and replaced not in fast_ops and replacement in fast_ops
    for name, e, a in zip(wrt, expected, actual):
        assert a.shape == e.shape, name
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6 * np.abs(e).max(), err_msg=name)


def test_the_input_gradient_of_a_one_channel_convolution_as_a_product_is_conv2d_grads():
    """D's conv1 in a G step: the gradient reaches G's image, not D's filter."""
    rng = np.random.default_rng(0)
    feed = {"image": rng.standard_normal((BATCH, 1, 28, 28)).astype("float32"),
            "filter": rng.standard_normal((dc_gan.df_dim, 1, 5, 5)).astype("float32"),  # no symmetry
            "weights": rng.standard_normal((BATCH, dc_gan.df_dim, 24, 24)).astype("float32")}
    assert_same_gradients(paddle.nn.functional.conv2d, {"x": feed["image"], "weight": feed["filter"],
                                                        "weights": feed["weights"]},
                          ["x"], replaced="conv2d_grad", replacement="fold")


def channel_bias(x, bias):
    """x + bias along axis 1, as the chapter's layers add theirs (LayerHelper.append_bias_op)."""
    helper = paddle.base.layer_helper.LayerHelper("channel_bias")
    out = helper.create_variable_for_type_inference(x.dtype)
    helper.append_op(type="elementwise_add", inputs={"X": [x], "Y": [bias]}, outputs={"Out": [out]},
                     attrs={"axis": 1})
    return out


@pytest.mark.parametrize("shape", [[BATCH, 1024], [BATCH, 2048], [BATCH, 6272], [BATCH, 128, 14, 14],
                                   [BATCH, 64, 12, 12], [BATCH, 1, 28, 28]],
                         ids=("fc1", "fc3", "fc4", "deconv1", "conv1 after its pool", "deconv2"))
@pytest.mark.parametrize("after", ["scale", None], ids=("after an op", "on the fed input"))
def test_a_bias_gradient_as_a_sum_is_elementwise_add_grads(shape, after):
    """In the programs the bias follows an op, whose gradient then reads the output's gradient in place
    of the input's; added straight to a fed input, the input's gradient is a copy there to be fetched."""
    rng = np.random.default_rng(0)
    feed = {"x": rng.standard_normal(shape).astype("float32"),
            "bias": rng.standard_normal(shape[1]).astype("float32"),
            "weights": rng.standard_normal(shape).astype("float32")}

    def layer(x, bias):
        return channel_bias(paddle.scale(x, 2.0) if after else x, bias)

    assert_same_gradients(layer, feed, ["x", "bias"], replaced="elementwise_add_grad",
                          replacement="reduce_sum")


def test_a_bias_gradient_whose_output_gradient_is_written_later_is_refused_before_any_change():
    """The ops after the bias's gradient read its output gradient in place of its input's; an op after it
    that writes either would make them read another value, so no rewrite of the block is made."""
    main = paddle.static.Program()
    with paddle.static.program_guard(main, paddle.static.Program()):
        x, bias = paddle.static.data("x", [BATCH, 8], "float32"), paddle.static.data("bias", [8], "float32")
        x.stop_gradient = bias.stop_gradient = False
        paddle.static.gradients([paddle.mean(channel_bias(paddle.scale(x, 2.0), bias))], [x, bias])
        (add_grad,) = [op for op in main.global_block().ops if op.type == "elementwise_add_grad"]
        paddle.assign(paddle.zeros([BATCH, 8]), main.global_block().var(add_grad.input("Out@GRAD")[0]))
    before = main.desc.serialize_to_string()
    with pytest.raises(fast_gradients.NotAsExpected, match="assign writes .* cannot be read in place of"):
        fast_gradients.rewrite(main.global_block())
    assert main.desc.serialize_to_string() == before


def test_only_the_g_steps_conv1_input_gradient_is_rewritten(monkeypatch):
    """d_program needs conv1's filter gradient, not its input's: its conv2d_grad stays; dg_program's
    conv1 computes only the input gradient, conv2's has 64 input channels."""
    as_built, fast = fast_forms_as_built(monkeypatch), dc_gan.build_programs(fast=True)

    def count(program, op_type):
        return [op.type for op in program.global_block().ops].count(op_type)

    assert count(fast.d_program, "conv2d_grad") == count(as_built.d_program, "conv2d_grad")
    assert count(fast.d_program, "fold") == count(as_built.d_program, "fold") == 0
    assert count(fast.dg_program, "conv2d_grad") == count(as_built.dg_program, "conv2d_grad") - 1
    assert count(fast.dg_program, "fold") == count(as_built.dg_program, "fold") + 1


def test_a_test_clone_of_a_rewritten_program_leaves_the_new_backward_ops_out_and_runs(monkeypatch):
    """clone(for_test=True) prunes the backward by each op's role: the ops the rewrites put in are
    backward ops, or the clone would keep them, reading gradients nothing computes."""
    np.random.seed(dc_gan.CE_NUMPY_SEED)
    with paddle.static.scope_guard(paddle.static.Scope()):
        as_built = fast_forms_as_built(monkeypatch)
        progs = dc_gan.build_programs(seed=dc_gan.CE_PROGRAM_SEED, fast=True)
        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(progs.startup)
        for name, feed, fetch in (
                ("d_program", {"img": np.random.uniform(-1, 1, (BATCH, 784)).astype("float32"),
                               "label": np.ones((BATCH, 1), "float32")}, progs.d_logit),
                ("dg_program", {"noise": dc_gan.uniform_noise(BATCH)}, progs.dg_logit)):
            test_clone = getattr(progs, name).clone(for_test=True)
            assert ([op.type for op in test_clone.global_block().ops]
                    == [op.type for op in getattr(as_built, name).clone(for_test=True).global_block().ops])
            assert exe.run(test_clone, feed=feed, fetch_list=[fetch])[0].shape == (BATCH, 1)


def test_every_fast_kernel_reads_the_weights_of_the_latest_step():
    """oneDNN kernels may keep a reordered copy of a weight; training changes the weights every step,
    so after a few steps the fast programs must still agree with copies of themselves on paddle's own
    kernels."""
    np.random.seed(dc_gan.CE_NUMPY_SEED)
    with paddle.static.scope_guard(paddle.static.Scope()):
        progs = dc_gan.build_programs(seed=dc_gan.CE_PROGRAM_SEED, fast=True)
        plain = {name: on_paddles_kernels(getattr(progs, name)) for name in TRAINING_PROGRAMS}
        fast_cpu.set_cpu_threads(max(2, limits.usable_cores()))
        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(progs.startup)
        real = np.random.uniform(-1, 1, (BATCH, 784)).astype("float32")
        for _ in range(3):
            dc_gan.train_batch(exe, progs, real)

        scope = paddle.static.global_scope()
        names = checkpoints.persistable_names(progs.d_program, progs.dg_program)
        state = {name: np.array(scope.find_var(name).get_tensor()) for name in names}

        def run_from_state(program, feed, fetch):
            for name, value in state.items():
                scope.find_var(name).get_tensor().set(value, paddle.CPUPlace())
            return exe.run(program, feed=feed, fetch_list=[fetch])[0]

        d_feed = {"img": real, "label": np.ones((BATCH, 1), "float32")}
        noise = {"noise": dc_gan.uniform_noise(BATCH)}
        for name, feed, fetch in (("d_program", d_feed, progs.d_logit),
                                  ("dg_program", noise, progs.dg_logit),
                                  ("g_program", noise, progs.g_img)):
            fast = run_from_state(getattr(progs, name), feed, fetch)
            np.testing.assert_allclose(fast, run_from_state(plain[name], feed, fetch),
                                       rtol=1e-4, atol=1e-5, err_msg=name)


def test_a_step_of_each_network_gives_the_same_losses(one_step_each):
    (plain, _), (fast, _) = one_step_each
    np.testing.assert_allclose(fast, plain, rtol=1e-5)


def test_a_step_of_each_network_computes_the_same_gradients(one_step_each):
    (_, plain), (_, fast) = one_step_each
    moments = [name for name in plain if name.endswith("_moment1_0")]
    assert len(moments) == 24
    for name in moments:  # after one Adam step, moment1 = (1 - beta1) * gradient
        np.testing.assert_allclose(fast[name], plain[name], rtol=1e-4, atol=1e-7, err_msg=name)


def test_two_whole_iterations_report_the_same_losses_to_rounding_drift():
    plain, _ = first_steps(fast=False, iterations=2)
    fast, _ = first_steps(fast=True, iterations=2)
    np.testing.assert_allclose(fast, plain, rtol=5e-3)


def test_a_paddle_without_onednn_trains_on_its_own_kernels_and_says_so_once(
        tiny_mnist, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(paddle.base.core, "is_compiled_with_mkldnn", lambda: False)  # macOS builds

    def refuse(*programs):
        raise AssertionError("oneDNN was asked for on a build without it")

    monkeypatch.setattr(fast_cpu, "switched_to_onednn", refuse)
    with paddle.static.scope_guard(paddle.static.Scope()):
        status = dc_gan.main(["--data_dir", str(tiny_mnist), "--batch_size", "32", "--epoch", "1",
                              "--max_batches", "1", "--num_threads", "2", "--output", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert out.count("this paddle has no oneDNN") == 1
    assert "training on paddle's own CPU kernels with 2 threads" in out
    assert "Epoch ID=0 Batch ID=0 " in out
    assert os.path.isfile(tmp_path / "checkpoint.npz")


PAGE_FAULTS_OF_A_BLOCK_FREED_AND_TAKEN_AGAIN = """
import resource, sys
import numpy as np
from dcgan_port import fast_cpu
if sys.argv[1] == "keep":
    assert fast_cpu.keep_freed_memory()
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    np.ones(64 << 18, dtype="float32")  # 64 MB, freed at once: more than glibc's largest mmap threshold
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults()
print(faults())
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="keep_freed_memory tunes glibc's malloc, and this C library is not glibc")
def test_memory_a_step_frees_is_taken_again_without_touching_new_pages():
    def faults(policy):
        return int(subprocess.run([sys.executable, "-c", PAGE_FAULTS_OF_A_BLOCK_FREED_AND_TAKEN_AGAIN,
                                   policy], cwd=ROOT, capture_output=True, text=True,
                                  check=True).stdout.split()[-1])

    kept, default = faults("keep"), faults("default")
    assert kept <= 2 and default >= 16, (kept, default)
