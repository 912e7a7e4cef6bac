"""The fast CPU path: the chapter's layers computed on oneDNN's multi-threaded kernels and in forms that
run faster on a CPU. Same parameters (names, shapes), same values to float rounding; tests/test_fast_path.py
proves each form equal to the chapter's layer. --onednn false trains on the chapter's own ops."""
import ctypes
import functools
import platform

import numpy as np
import paddle
import paddle.base.layer_helper

from dcgan_port import fast_gradients, static_graph
from dcgan_port.ir_choice import FLAG

# The ops of the training programs that run on oneDNN's kernels. The others stay on paddle's own kernels
# (bench/onednn_ops.py measures each; bench/DECISIONS.md#onednn-op-by-op):
# - because on oneDNN they fail or compute otherwise: conv2d_transpose (trains only with is_test set, and
#   then keeps its first copy of the filter, so later steps see stale weights: the fast path computes it
#   with conv2d instead, see deconv_via_conv2d); batch_norm_grad ("Required tensor shall not be nullptr")
#   and batch_norm (followed by paddle's batch_norm_grad, the second iteration's losses differ: 0.43706
#   instead of 0.43778); max_pool2d_with_index and its grad (no oneDNN kernel takes
#   them; paddle's pool2d_grad, which oneDNN cannot run here either, is why the fast path pools with
#   indices, see conv_with_indexed_pool); elementwise_add (on paddle 3.3.1 its grad then fails: "could
#   not reshape a memory descriptor");
# - because on oneDNN they are no faster: elementwise_add_grad, elementwise_add on 2.6.2, tanh and sigmoid
#   with their grads.
ONEDNN_OPS = ("conv2d", "conv2d_grad", "relu", "relu_grad", "leaky_relu", "leaky_relu_grad",
              "mul", "mul_grad", "transpose2", "transpose2_grad")

# Which taps of the chapter's 5x5 transposed-convolution filter reach the even (first tuple) and the odd
# (second) output rows and columns through a 3x3 window over its input; tap 5 stands for a zero.
DECONV_PHASE_TAPS = ((4, 2, 0), (5, 3, 1))
# Up to this many filters the transposed convolution runs as a product and a fold (deconv2's 1: a
# convolution of 4 output channels runs at a fraction of oneDNN's rate elsewhere), from one more as four
# convolutions without the zero taps (deconv1's 128). bench/DECISIONS.md#deconv2-as-a-product-and-a-fold
# and #deconv1-as-four-convolutions.
PRODUCT_AND_FOLD_UP_TO = 1
# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def onednn_available():
    """Paddle's x86-64 builds for Linux and Windows carry oneDNN; its macOS builds and other
    architectures have none, and the fast path needs it."""
    return (paddle.base.core.is_compiled_with_mkldnn()
            and platform.machine().lower() in ("x86_64", "amd64"))


def wanted(onednn, use_gpu, num_threads):
    """Whether to build the fast path: asked for (--onednn), on a CPU, in the legacy IR, with oneDNN in
    this build, and this paddle's ops as the fast path writes them. Where one is missing, say so once."""
    if not onednn or use_gpu:
        return False
    if static_graph.pir_in_use():  # no oneDNN training there (docs/chapter.md, "The two static graphs")
        print("note: the fast CPU path (oneDNN) trains only in the legacy IR ({}=0): training the "
              "chapter's programs in PIR on paddle's own kernels with {} threads".format(FLAG, num_threads))
        return False
    if not onednn_available():
        print("note: this paddle has no oneDNN on this machine ({} {}): training on paddle's own CPU "
              "kernels with {} threads".format(platform.system(), platform.machine(), num_threads))
        return False
    try:
        fast_gradients.check_written()
    except fast_gradients.NotAsExpected as unmet:
        return not_taken(unmet)
    return True


def not_taken(unmet):
    """Say, once, what this paddle lacks that the fast path relies on (a NotAsExpected); False."""
    print("note: paddle {} is not as the fast CPU path expects ({}): training the chapter's programs on "
          "paddle's own CPU kernels".format(paddle.__version__, unmet))
    return False


def set_cpu_threads(num_threads):
    """Paddle sets OMP_NUM_THREADS=1 at import and so runs its CPU math on one core unless told. Telling it
    sets the count for the calling thread only, and paddle's executor runs ops on worker threads of its
    own, which stay at one; run serially, every op runs on the calling thread."""
    paddle.base.core.set_num_threads(num_threads)
    paddle.set_flags({"FLAGS_new_executor_serial_run": True})


def keep_freed_memory():
    """Have glibc's malloc keep what a step frees for the next step, instead of giving it back to the
    system. Paddle's CPU tensors come straight from malloc, which maps blocks of more than 32 MB (fc4's
    weight gradient: 51 MB) anew each time and unmaps them when freed, and gives the top of its heap
    back past a threshold, so that a step touched its memory afresh, page fault by page fault
    (bench/DECISIONS.md#malloc-keeps-what-a-step-frees). Only where memory comes from changes, never a
    value; the process keeps its peak. False where the C library is not glibc (nothing changes there)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, -1))


def switched_to_onednn(*programs):
    """Put the ops of ONEDNN_OPS in these training programs, built with the fast path's forms, on oneDNN's
    kernels, and whether it did. Paddle can only switch oneDNN on for a whole program, and there its
    transposed convolution refuses to train, hence one op at a time. Then the backward ops that run slowly
    either way are replaced by faster forms of the same values (dcgan_port.fast_gradients). g_program_test,
    which is saved as the inference model, keeps paddle's defaults. Every change is planned before any is
    made: where the programs are not as the fast path expects (an op type, a slot or an attribute
    missing), none is, and a line says what is missing."""
    try:
        changes = planned_changes(programs)
    except fast_gradients.NotAsExpected as unmet:
        return not_taken(unmet)
    for change in changes:
        change()
    return True


def planned_changes(programs):
    """What switched_to_onednn changes in `programs`, as calls to make in order; NotAsExpected where this
    paddle's programs or ops are not as the fast path expects."""
    ops = [op for program in programs for op in program.global_block().ops]
    fast_gradients.check_written()
    fast_gradients.check_read(ops)
    missing = sorted(set(ONEDNN_OPS) - {op.type for op in ops})
    if missing:
        raise fast_gradients.NotAsExpected("the training programs have no {} op".format(", ".join(missing)))
    switches = {op_type: fast_gradients.onednn_switch(op_type) for op_type in ONEDNN_OPS}
    return ([functools.partial(op._set_attr, switches[op.type], True) for op in ops if op.type in switches]
            + [replace for program in programs
               for replace in fast_gradients.planned_rewrites(program.global_block())])


def conv_with_indexed_pool(x, num_filters, name, act=None):
    """The chapter's conv (5x5 convolution, bias, activation, 2x2 max-pool) with the pool moved up to
    right after the convolution, so that the bias and the activation touch a quarter of the values. The
    same values: the bias adds one number per channel and leaky_relu never decreases, so neither changes
    which value of a window is the largest. The gradient goes to each window's first maximum, as the
    chapter's, and exact ties (MNIST's blank background) stay ties. Only where adding the bias, or
    leaky_relu's 0.02 x, rounds two values an ulp apart to one float does the chapter's pool pick the first
    of them and this one the larger, a neighbour equal to float rounding (rare, as rare as oneDNN's own
    rounding moving such a near-tie). The pool also records where each maximum is, so that its gradient
    is a scatter: paddle's pool2d_grad searches every window again on one thread (and oneDNN's cannot run
    here). Same parameters, created in the chapter's order."""
    x = paddle.nn.Conv2D(x.shape[1], num_filters, kernel_size=5, weight_attr=name + "w",
                         bias_attr=False)(x)
    x = paddle.nn.functional.max_pool2d(x, kernel_size=2, stride=2, return_mask=True)[0]
    helper = paddle.base.layer_helper.LayerHelper("conv2d", bias_attr=name + "b", act=act)
    return helper.append_activation(helper.append_bias_op(x, dim_start=1, dim_end=2))


def phase_convolutions():
    """The four phases' filters as separate convolutions without the zero taps: for each phase (py, px),
    the taps of its rows and columns (DECONV_PHASE_TAPS less a leading zero tap, which the window then
    starts after) and the padding [top, bottom, left, right] of its convolution."""
    kept = [taps[1:] if taps[0] == 5 else taps for taps in DECONV_PHASE_TAPS]
    before = [0 if taps[0] == 5 else 1 for taps in DECONV_PHASE_TAPS]
    return [(kept[py], kept[px], [before[py], 1, before[px], 1]) for py in (0, 1) for px in (0, 1)]


def tap_selection(phase_taps):
    """The 0/1 matrix [25, len(phase_taps)] that picks these taps of a flat 5x5 filter (tap 5: a zero).
    A product with it copies values exactly, and so does its gradient."""
    selection = np.zeros((25, len(phase_taps)), dtype="float32")
    for column, (row, col) in enumerate(phase_taps):
        if row < 5 and col < 5:
            selection[row * 5 + col, column] = 1.0
    return selection


def deconv_via_conv2d(x, num_filters, name, *, filter_size=5, stride=2, dilation=1, padding=2,
                      output_size=None, act=None):
    """The chapter's deconv, computed on the fast CPU kernels of conv2d and mul: same parameters, same
    values.

    With stride 2, padding 2 and a 5x5 filter, output pixel (2m + py, 2l + px) of the transposed
    convolution sums the 3x3 input window around (m, l) times the filter taps DECONV_PHASE_TAPS[py] x
    DECONV_PHASE_TAPS[px]. So it equals a 3x3 convolution (padding 1) with four outputs per filter, one
    per phase (py, px), whose outputs are then interleaved (depth to space). The four phases run as four
    convolutions without the zero taps (3x3, 3x2, 2x3, 2x2: 25 taps, not 36), or, for one filter, whose
    convolution of 4 outputs is slow, as a product and a fold (PRODUCT_AND_FOLD_UP_TO). Each form takes
    its filters inside the program from the chapter's [Cin, Cout, 5, 5] filter, made by the same helper
    conv2d_transpose uses, so the gradients reach it, and the bias and activation follow as there."""
    in_channels, height, width = x.shape[1:]
    if ((filter_size, stride, dilation, padding) != (5, 2, 1, 2) or output_size is None
            or list(output_size) != [2 * height, 2 * width]):
        raise ValueError("deconv_via_conv2d computes only the chapter's 5x5, stride-2 deconv that "
                         "doubles the side, with its output_size given")
    helper = paddle.base.layer_helper.LayerHelper(
        "conv2d_transpose", param_attr=name + "w", bias_attr=name + "b", act=act)
    filter_5x5 = helper.create_parameter(dtype=x.dtype, shape=[in_channels, num_filters, 5, 5],
                                         attr=helper.param_attr)
    if num_filters <= PRODUCT_AND_FOLD_UP_TO:
        y = product_and_fold(x, filter_5x5, num_filters)
    else:
        y = four_phase_convolutions(x, filter_5x5, num_filters)
    return helper.append_activation(helper.append_bias_op(y, dim_start=1, dim_end=2))


def product_and_fold(x, filter_5x5, num_filters):
    """The transposed convolution as what each input pixel sends out: every pixel's channels [N*H*W, Cin]
    times the filter [Cin, Cout*25] (the fully connected layers' `mul`, on oneDNN) give its share for each
    of the 25 output pixels its taps reach, and a fold (col2im) with stride 2 adds the shares up where they
    land, those on the padding dropped. Its gradients are the same two steps backwards: an unfold and the
    two products of `mul`'s gradient."""
    in_channels, height, width = x.shape[1:]
    pixels = paddle.reshape(paddle.transpose(x, [0, 2, 3, 1]), [-1, in_channels])
    helper = paddle.base.layer_helper.LayerHelper("mul")
    shares = helper.create_variable_for_type_inference(x.dtype)
    helper.append_op(type="mul", inputs={"X": [pixels],
                                         "Y": [paddle.reshape(filter_5x5, [in_channels, num_filters * 25])]},
                     outputs={"Out": [shares]}, attrs={"x_num_col_dims": 1, "y_num_col_dims": 1})
    shares = paddle.transpose(paddle.reshape(shares, [-1, height, width, num_filters * 25]), [0, 3, 1, 2])
    y = helper.create_variable_for_type_inference(x.dtype)
    helper.append_op(type="fold",
                     inputs={"X": [paddle.reshape(shares, [-1, num_filters * 25, height * width])]},
                     outputs={"Y": [y]},
                     attrs=fast_gradients.fold_attributes([2 * height, 2 * width], 5, 2, 2))
    return y


def taps_of(filter_5x5, selection):
    """The taps of each [Cin, Cout] filter that a 0/1 selection [25, taps] picks: [Cin * Cout, taps]."""
    in_channels, num_filters = filter_5x5.shape[:2]
    return paddle.nn.functional.linear(  # a matrix product, the one paddle 3.x keeps in this IR
        paddle.reshape(filter_5x5, [in_channels * num_filters, 25]), paddle.assign(selection))


def four_phase_convolutions(x, filter_5x5, num_filters):
    in_channels, height, width = x.shape[1:]
    phases = phase_convolutions()
    taps = [(row, col) for rows, cols, _ in phases for row in rows for col in cols]
    picked = taps_of(filter_5x5, tap_selection(taps))
    picked = paddle.transpose(paddle.reshape(picked, [in_channels, num_filters, len(taps)]),
                              [1, 0, 2])  # [Cout, Cin, taps]
    outputs, start = [], 0
    for rows, cols, conv_padding in phases:
        end = start + len(rows) * len(cols)
        phase_filter = paddle.reshape(paddle.slice(picked, [2], [start], [end]),
                                      [num_filters, in_channels, len(rows), len(cols)])
        y = paddle.nn.functional.conv2d(x, phase_filter, padding=conv_padding)
        # exact; without it concat's gradient reaches oneDNN's conv2d_grad in a form it cannot reorder
        outputs.append(paddle.scale(y, 1.0))
        start = end
    y = paddle.reshape(paddle.concat(outputs, axis=1), [-1, 2, 2, num_filters, height, width])
    return paddle.reshape(paddle.transpose(y, [0, 3, 4, 1, 5, 2]),  # [N, Cout, m, py, l, px]
                          [-1, num_filters, 2 * height, 2 * width])
