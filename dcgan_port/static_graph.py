"""What differs between Paddle's two static graphs, the legacy IR and PIR (dcgan_port.ir_choice), for the
chapter's programs: each low-level call the chapter's helpers need in one of them is here, so that the
next Paddle's change is one edit."""
import contextlib
import os

import numpy as np
import paddle
import paddle.base.layer_helper
import paddle.nn.functional as F
from paddle.base.data_feeder import convert_dtype

from dcgan_port.errors import UsageError
from dcgan_port.ir_choice import FLAG, release
from dcgan_port.output_folder import GENERATOR_PROGRAM

FLUID_LEAKY_RELU_SLOPE = 0.02  # fluid's leaky_relu; paddle.nn.functional's default is 0.01
CUDNN_OPS = ("conv2d", "conv2d_grad", "conv2d_transpose", "conv2d_transpose_grad", "pool2d",
             "pool2d_grad")
BATCH_NORM_OPS = ("pd_op.batch_norm", "pd_op.batch_norm_")


def pir_in_use():
    """Whether paddle builds static programs in PIR (its own switch, read when it was imported)."""
    return bool(paddle.get_flags([FLAG])[FLAG])


def activate(x, act):
    """What fluid's act= did on a layer: the activation op of that name after it."""
    if act is None:
        return x
    if act == "leaky_relu":
        return F.leaky_relu(x, negative_slope=FLUID_LEAKY_RELU_SLOPE)
    # paddle 3.3.1's F.sigmoid and F.tanh refuse a legacy-IR Variable ("must be Value"); PIR's layers
    # would crash on fluid's act strings with arguments; the layer helper builds either IR's op
    return paddle.base.layer_helper.LayerHelper(act, act=act).append_activation(x)


def fc(x, size, weight_attr, bias_attr, activation=None):
    """paddle.static.nn.fc. In PIR it adds its bias with paddle.add, which on paddle 3.3.1 prints a warning
    ("not support input out tensor") about an argument it passes itself: the same add, without it."""
    if not pir_in_use():
        return paddle.static.nn.fc(x, size=size, activation=activation, weight_attr=weight_attr,
                                   bias_attr=bias_attr)
    x = paddle.static.nn.fc(x, size=size, weight_attr=weight_attr, bias_attr=False)
    bias = paddle.static.create_parameter([size], x.dtype, name=bias_attr, is_bias=True)
    return activate(paddle._C_ops.add(x, bias), activation)


def choose_cudnn(use_cudnn, *programs):
    """--use_cudnn: whether the convolutions and pools run on cuDNN on a GPU, per op, as fluid set it. The
    legacy IR only: PIR has no per-op switch (and paddle's CPU kernels ignore it)."""
    if pir_in_use():
        return
    for program in programs:
        for op in program.global_block().ops:
            if op.type in CUDNN_OPS:
                op._set_attr("use_cudnn", use_cudnn)


def check_cudnn_choice(use_gpu, use_cudnn):
    """--use_cudnn false on a GPU asks for programs that only the legacy IR can build."""
    if use_gpu and not use_cudnn and pir_in_use():
        raise UsageError("--use_cudnn false: PIR has no per-op cuDNN switch; set {}=0 to build the "
                         "chapter text's programs in the legacy IR, or drop --use_cudnn".format(FLAG))


def clone(program, *values, for_test=False):
    """program.clone(for_test) and where the values are in the clone. PIR's clone takes no for_test (batch
    norm is then set to its moving statistics here, the one layer of the chapter it changes) and gives
    the clone values of its own."""
    if not pir_in_use():
        return (program.clone(for_test=for_test),) + values
    mapping = paddle.pir.IrMapping()
    copy = program.clone(mapping)
    if for_test:
        for op in copy.global_block().ops:
            if op.name() in BATCH_NORM_OPS:
                op.set_bool_attr("is_test", True)
    return (copy,) + tuple(mapping.look_up(value) for value in values)


def saved_program_suffix():
    """The suffix of the generator's program as this process's graph saves it: .pdmodel, or PIR's .json."""
    return GENERATOR_PROGRAM["pir" if pir_in_use() else "legacy"]


def saved_in_pir(program_path):
    return program_path.endswith(GENERATOR_PROGRAM["pir"])


def graph_of(program_path):
    """`with graph_of(path):` paddle in the static graph that saved this program (.json: PIR), whichever
    graph this process builds in."""
    pir = saved_in_pir(program_path)
    if pir and release(paddle.__version__)[0] < 3:
        raise UsageError("{} was saved in PIR, which paddlepaddle {} cannot load; draw with paddlepaddle 3, "
                         "or train again with this one".format(program_path, paddle.__version__))
    if pir == pir_in_use():
        return contextlib.nullcontext()
    return paddle.pir_utils.IrGuard() if pir else paddle.pir_utils.OldIrGuard()


def parameters_file(program_path):
    """The saved generator's .pdiparams beside its program (.pdmodel or .json)."""
    return os.path.splitext(program_path)[0] + ".pdiparams"


def missing_parameters(program_path):
    """What the saved program's parameters file lacks, or None. Paddle's save writes what a full disk takes
    without a word, and its loaders take a file cut short without one and draw with what is missing; a
    program that names no parameters (an empty file) crashed them."""
    needed, count = saved_parameter_bytes(program_path)
    if not count:
        return "{} names no parameters (cut short, or not a generator)".format(program_path)
    parameters = parameters_file(program_path)
    size = os.path.getsize(parameters)
    if size < needed:
        return "{} is cut short: {} bytes where the values of its {} parameters take {}".format(
            parameters, size, count, needed)
    return None


def saved_parameter_bytes(program_path):
    """How many bytes the values of the parameters a saved program names take, and how many there are,
    read from the program alone."""
    with graph_of(program_path):
        if saved_in_pir(program_path):
            program = paddle.static.Program()
            paddle.base.core.deserialize_pir_program(program_path, program)
            tensors = [(p.shape, p.dtype) for p in paddle.static.pir_io.get_pir_parameters(program)[0]
                       if p.persistable]
        else:
            with open(program_path, "rb") as f:
                program = paddle.static.deserialize_program(f.read())
            tensors = [(v.shape, v.dtype) for v in program.list_vars()
                       if v.persistable and v.type == paddle.base.core.VarDesc.VarType.LOD_TENSOR]
    return sum(int(np.prod(shape)) * np.dtype(convert_dtype(dtype)).itemsize
               for shape, dtype in tensors), len(tensors)
