"""The fast CPU path's backward ops that run slowly on either kernel, replaced in a built training program
by faster forms of the same values (fast_cpu.switched_to_onednn plans them). Each form computes the sums the
op computes, in another order: equal to float rounding, which tests/test_fast_path.py checks form by form.
Why each pays: bench/DECISIONS.md, from bench/forms_ab.py."""
import functools

import paddle

OP_ROLE = paddle.base.core.op_proto_and_checker_maker.kOpRoleAttrName()
# The attribute that runs an op on oneDNN: paddle 3's name first, then paddle 2's (paddle 3.3.1 reads both)
ONEDNN_SWITCHES = ("use_onednn", "use_mkldnn")
# What the fast path relies on, by op type: (input slots, output slots, attributes). READ: the ops the rules
# below find and read in the training programs as paddle's backward builds them. WRITTEN: the ops the fast
# path writes itself (here and in dcgan_port.fast_cpu), which paddle would build silently without an
# attribute or a slot it does not know. Paddle's layers and functions, which build their own ops, need no
# entry.
READ = {"conv2d_grad": (("Input", "Filter", "Output@GRAD"), ("Input@GRAD", "Filter@GRAD"),
                        ("groups", "strides", "dilations", "paddings", "padding_algorithm", "data_format")),
        "elementwise_add_grad": (("X", "Y", "Out@GRAD"), ("X@GRAD", "Y@GRAD"), ("axis",))}
WRITTEN = {"reshape2": (("X",), ("Out", "XShape"), ("shape",)),
           "matmul_v2": (("X", "Y"), ("Out",), ("trans_x", "trans_y")),
           "fold": (("X",), ("Y",), ("output_sizes", "kernel_sizes", "strides", "paddings", "dilations")),
           "reduce_sum": (("X",), ("Out",), ("dim", "keep_dim", "reduce_all")),
           "assign": (("X",), ("Out",), ()),
           "mul": (("X", "Y"), ("Out",), ("x_num_col_dims", "y_num_col_dims"))}
WRITES_X_SHAPE = [op_type for op_type, (_, outputs, _) in WRITTEN.items() if "XShape" in outputs]
ONEDNN_PRODUCT = "matmul_v2"  # the op of WRITTEN that runs on oneDNN: input_gradient_as_product's product


class NotAsExpected(Exception):
    """This paddle builds or registers an op otherwise than the fast path was written for."""


def onednn_switch(op_type):
    """The attribute that runs ops of this type on oneDNN in this paddle; NotAsExpected where none does."""
    extra = paddle.base.core.get_op_extra_attrs(op_type)
    switch = next((name for name in ONEDNN_SWITCHES if name in extra), None)
    if switch is None:
        raise NotAsExpected("{} has no attribute {}".format(op_type, " or ".join(ONEDNN_SWITCHES)))
    return switch


def lacking(what, wanted, found):
    return ["{} {}".format(what, name) for name in wanted if name not in found]


def check_written():
    """Raise NotAsExpected unless this paddle registers each op of WRITTEN with its slots and attributes,
    and can run the product the rewrite writes on oneDNN."""
    for op_type, (inputs, outputs, attributes) in WRITTEN.items():
        try:
            proto = paddle.base.framework.OpProtoHolder.instance().get_op_proto(op_type)
        except ValueError:
            raise NotAsExpected("{} is not registered".format(op_type)) from None
        missing = (lacking("input", inputs, [slot.name for slot in proto.inputs])
                   + lacking("output", outputs, [slot.name for slot in proto.outputs])
                   + lacking("attribute", attributes, [attribute.name for attribute in proto.attrs]))
        if missing:
            raise NotAsExpected("{} has no {}".format(op_type, ", ".join(missing)))
    onednn_switch(ONEDNN_PRODUCT)


def check_read(ops):
    """Raise NotAsExpected unless each op type of READ is among `ops` (the training programs'), each with
    its slots (the inputs given) and attributes."""
    for op_type, (inputs, outputs, attributes) in READ.items():
        found = [op for op in ops if op.type == op_type]
        if not found:
            raise NotAsExpected("the backward has no {} op".format(op_type))
        for op in found:
            given = [name for name in op.input_names if op.input(name)]
            missing = (lacking("input", inputs, given) + lacking("output", outputs, op.output_names)
                       + ["attribute " + name for name in attributes if not op.has_attr(name)])
            if missing:
                raise NotAsExpected("{} has no {}".format(op_type, ", ".join(missing)))


def fold_attributes(output_sizes, kernel_size, stride, padding):
    """The attributes of a fold op (col2im) with a square kernel, written as an op of its own by the fast
    forms: paddle 3.x's fold() refuses a batch of unknown size."""
    return {"output_sizes": list(output_sizes), "kernel_sizes": [kernel_size] * 2, "strides": [stride] * 2,
            "paddings": [padding] * 4, "dilations": [1, 1]}


def rewrite(block):
    """Replace each op of `block` that one of the forms below computes faster."""
    for replace in planned_rewrites(block):
        replace()


def planned_rewrites(block):
    """The replacements of the ops of `block` that one of the forms below computes faster, as calls to make
    in order. Each is planned before any is made, so that where one cannot be (NotAsExpected), nothing has
    changed."""
    plan = []
    for op in block.ops:
        if computes_one_channel_input_gradient(op):
            plan.append(functools.partial(input_gradient_as_product, block, op))
        elif computes_a_bias_gradient(op):
            input_gradient = op.output("X@GRAD")
            readers = (readers_after(block, op, input_gradient[0], op.input("Out@GRAD")[0])
                       if input_gradient else [])
            plan.append(functools.partial(bias_gradient_as_sum, block, op, readers))
    return plan


def computes_one_channel_input_gradient(op):
    """A conv2d_grad that computes only the input gradient of a plain convolution (stride 1, no padding,
    a square filter) of one input channel and known size: D's conv1 in a G step."""
    if op.type != "conv2d_grad" or op.output("Filter@GRAD") or not op.output("Input@GRAD"):
        return False
    image = op.block.var(op.input("Input")[0]).shape
    filter_ = op.block.var(op.input("Filter")[0]).shape
    return (image[1] == 1 and min(image[2:]) > 0 and filter_[2] == filter_[3] and op.attr("groups") == 1
            and list(op.attr("strides")) == [1, 1] and list(op.attr("dilations")) == [1, 1]
            and not any(op.attr("paddings")) and op.attr("padding_algorithm") in ("EXPLICIT", "VALID")
            and op.attr("data_format") == "NCHW")


def computes_a_bias_gradient(op):
    """An elementwise_add_grad of a layer's bias, [N, C] + [C] or [N, C, H, W] + [C], whose gradient is
    asked for: every bias in the step that trains it."""
    if op.type != "elementwise_add_grad" or not op.output("Y@GRAD"):
        return False
    x, y = (op.block.var(op.input(name)[0]) for name in ("X", "Y"))
    return (len(x.shape) in (2, 4) and len(y.shape) == 1 and y.shape[0] == x.shape[1]
            and op.attr("axis") in ((1, -1) if len(x.shape) == 2 else (1,)))


class Replacement:
    """New ops put into the block one after another where `op` stands, in its role (backward), then
    `op` removed."""

    def __init__(self, block, op, dtype):
        self.block, self.dtype, self.role = block, dtype, op.attr(OP_ROLE)
        self.index = list(block.ops).index(op)

    def op(self, type_, inputs, attrs, outputs):
        self.block._insert_op(self.index, type=type_, inputs=inputs, outputs=outputs,
                              attrs=dict(attrs, **{OP_ROLE: self.role}))
        self.index += 1

    def op_with_new_output(self, type_, inputs, attrs, shape):
        out = self.block.create_var(name=paddle.utils.unique_name.generate(type_ + "_fast_gradient"),
                                    shape=shape, dtype=self.dtype)
        outputs = {"Out": [out]}
        if type_ in WRITES_X_SHAPE:
            outputs["XShape"] = [self.block.create_var(name=out.name + ".xshape", dtype=self.dtype)]
        self.op(type_, inputs, attrs, outputs)
        return out

    def remove_replaced(self):
        self.block._remove_op(self.index)


def input_gradient_as_product(block, op):
    """Replace the conv2d_grad `op` (see computes_one_channel_input_gradient) by what it computes, twice
    as fast: the filter [Cout, 1, k, k] as a [Cout, k*k] matrix, transposed, times each image's output
    gradient [Cout, H * W] gives, for every tap, what each output pixel sends back through it
    ([k*k, H * W], one product on oneDNN for the whole batch), and a fold (col2im) adds each tap's share
    into the input pixel it came from. oneDNN's backward-data kernel for one input channel runs at a
    fraction of its rate elsewhere, and paddle's is no faster
    (bench/DECISIONS.md#ds-conv1-input-gradient-as-a-product-and-a-fold)."""
    output_gradient = block.var(op.input("Output@GRAD")[0])
    filter_ = block.var(op.input("Filter")[0])
    out_channels, _, k, _ = filter_.shape
    _, _, height, width = output_gradient.shape
    new = Replacement(block, op, filter_.dtype)
    flat_filter = new.op_with_new_output("reshape2", {"X": [filter_]}, {"shape": [out_channels, k * k]},
                                         [out_channels, k * k])
    per_image = new.op_with_new_output("reshape2", {"X": [output_gradient]},
                                       {"shape": [-1, out_channels, height * width]},
                                       [-1, out_channels, height * width])
    columns = new.op_with_new_output(ONEDNN_PRODUCT, {"X": [flat_filter], "Y": [per_image]},
                                     {"trans_x": True, "trans_y": False, onednn_switch(ONEDNN_PRODUCT): True},
                                     [-1, k * k, height * width])
    new.op("fold", {"X": [columns]}, fold_attributes([height + k - 1, width + k - 1], k, 1, 0),
           {"Y": [block.var(op.output("Input@GRAD")[0])]})
    new.remove_replaced()


def bias_gradient_as_sum(block, op, readers):
    """Replace the elementwise_add_grad `op` (see computes_a_bias_gradient) by what it computes, in less
    time: the bias's gradient is the output gradient summed over the batch (reduce_sum; an image's pixels
    first, which paddle sums three times faster than all three axes at once), and the input's gradient is
    the output gradient itself, which the ops after that read it (`readers`, see readers_after) read in its
    place (so that it can no longer be fetched under its own name), or a copy where none reads it. Paddle's
    broadcast gradient walks the rows element by element, several times slower than the sums
    (bench/DECISIONS.md#bias-gradients-as-sums)."""
    output_gradient = block.var(op.input("Out@GRAD")[0])
    input_gradient = op.output("X@GRAD")
    new = Replacement(block, op, output_gradient.dtype)
    per_channel = output_gradient
    if len(output_gradient.shape) == 4:
        per_channel = new.op_with_new_output("reduce_sum", {"X": [output_gradient]},
                                             {"dim": [2, 3], "keep_dim": False, "reduce_all": False},
                                             list(output_gradient.shape[:2]))
    new.op("reduce_sum", {"X": [per_channel]}, {"dim": [0], "keep_dim": False, "reduce_all": False},
           {"Out": [block.var(op.output("Y@GRAD")[0])]})
    new.remove_replaced()
    if readers:
        for reader in readers:
            reader._rename_input(input_gradient[0], output_gradient.name)
    elif input_gradient:  # a gradient nothing in the program reads, there to be fetched: a copy
        new.op("assign", {"X": [output_gradient]}, {}, {"Out": [block.var(input_gradient[0])]})


def readers_after(block, op, name, other):
    """The ops after `op` that read `name`, which may read `other` in its place: none of the ops after `op`
    may write either."""
    later = list(block.ops)[list(block.ops).index(op) + 1:]
    for each in later:
        written = set(each.output_arg_names) & {name, other}
        if written:
            raise NotAsExpected("{} writes {}: {} cannot be read in place of {}".format(
                each.type, written.pop(), other, name))
    return [each for each in later if name in each.input_arg_names]
