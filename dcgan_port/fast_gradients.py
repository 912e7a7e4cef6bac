"""The fast CPU path's backward ops that run slowly on either kernel, replaced in a built training program
by faster forms of the same values (fast_cpu.use_onednn calls rewrite). Each form computes the sums the op
computes, in another order: equal to float rounding, which tests/test_fast_path.py checks form by form.
Figures: bench/README.md, from bench/forms_ab.py."""
import paddle


def rewrite(block):
    for op in list(block.ops):
        if computes_one_channel_input_gradient(op):
            input_gradient_as_product(block, op)
        elif computes_a_bias_gradient(op):
            bias_gradient_as_sum(block, op)


def computes_one_channel_input_gradient(op):
    """A conv2d_grad that computes only the input gradient of a plain convolution (stride 1, no padding)
    of one input channel: D's conv1 in a G step."""
    return (op.type == "conv2d_grad" and not op.output("Filter@GRAD") and op.output("Input@GRAD")
            and op.block.var(op.input("Input")[0]).shape[1] == 1 and op.attr("groups") == 1
            and list(op.attr("strides")) == [1, 1] and list(op.attr("dilations")) == [1, 1]
            and not any(op.attr("paddings")) and op.attr("data_format") == "NCHW")


def computes_a_bias_gradient(op):
    """An elementwise_add_grad of a layer's bias, [N, C] + [C] or [N, C, H, W] + [C], whose gradient is
    asked for: every bias in the step that trains it."""
    if op.type != "elementwise_add_grad" or not op.output("Y@GRAD"):
        return False
    x, y = (op.block.var(op.input(name)[0]) for name in ("X", "Y"))
    return (len(x.shape) in (2, 4) and len(y.shape) == 1 and y.shape[0] == x.shape[1]
            and op.attr("axis") in ((1, -1) if len(x.shape) == 2 else (1,)))


class Insertion:
    """New ops put into `block` one after another at `index`, with new variables for their outputs."""

    def __init__(self, block, index, dtype):
        self.block, self.index, self.dtype = block, index, dtype

    def op(self, type_, inputs, attrs, outputs):
        self.block._insert_op(self.index, type=type_, inputs=inputs, outputs=outputs, attrs=attrs)
        self.index += 1

    def new(self, type_, inputs, attrs, shape, x_shape=False):
        """The op's Out as a new variable; x_shape: it also writes an XShape (reshape2, transpose2)."""
        out = self.block.create_var(name=paddle.utils.unique_name.generate(type_ + "_fast_gradient"),
                                    shape=shape, dtype=self.dtype)
        outputs = {"Out": [out]}
        if x_shape:
            outputs["XShape"] = [self.block.create_var(name=out.name + ".xshape", dtype=self.dtype)]
        self.op(type_, inputs, attrs, outputs)
        return out


def input_gradient_as_product(block, op):
    """Replace the conv2d_grad `op` (see computes_one_channel_input_gradient) by what it computes, twice
    as fast: the filter [Cout, 1, k, k] as a [k*k, Cout] matrix times each image's output gradient
    [Cout, H * W] gives, for every tap, what each output pixel sends back through it ([k*k, H * W], one
    product on oneDNN for the whole batch), and a fold (col2im) adds each tap's share into the input pixel
    it came from. oneDNN's backward-data kernel for one input channel ran at a tenth of its rate elsewhere
    (19 ms a G step on the Zen 4 of bench/README.md, paddle's own 15)."""
    output_gradient = block.var(op.input("Output@GRAD")[0])
    filter_ = block.var(op.input("Filter")[0])
    out_channels, _, k, _ = filter_.shape
    _, _, height, width = output_gradient.shape
    index = list(block.ops).index(op)
    new = Insertion(block, index, filter_.dtype)
    flat_filter = new.new("reshape2", {"X": [filter_]}, {"shape": [out_channels, k * k]},
                          [out_channels, k * k], x_shape=True)
    taps = new.new("transpose2", {"X": [flat_filter]}, {"axis": [1, 0]}, [k * k, out_channels],
                   x_shape=True)
    per_image = new.new("reshape2", {"X": [output_gradient]}, {"shape": [-1, out_channels, height * width]},
                        [-1, out_channels, height * width], x_shape=True)
    columns = new.new("matmul_v2", {"X": [taps], "Y": [per_image]},
                      {"trans_x": False, "trans_y": False, "use_mkldnn": True}, [-1, k * k, height * width])
    new.op("fold", {"X": [columns]},
           {"output_sizes": [height + k - 1, width + k - 1], "kernel_sizes": [k, k], "strides": [1, 1],
            "paddings": [0, 0, 0, 0], "dilations": [1, 1]},
           {"Y": [block.var(op.output("Input@GRAD")[0])]})
    block._remove_op(new.index)


def bias_gradient_as_sum(block, op):
    """Replace the elementwise_add_grad `op` (see computes_a_bias_gradient) by what it computes, in a
    quarter to two thirds of its time: the bias's gradient is the output gradient summed over the batch
    (reduce_sum; an image's pixels first, which paddle sums far faster than all three axes at once), and
    the input's gradient is the output gradient itself, which the ops after read in its place. Paddle's
    broadcast gradient walks the rows element by element: 1.1 to 2.8 ms for fc1, fc3 and fc4 on the Zen 4
    of bench/README.md, where the sum takes 0.4 to 0.8."""
    output_gradient = block.var(op.input("Out@GRAD")[0])
    input_gradient = op.output("X@GRAD")
    index = list(block.ops).index(op)
    new = Insertion(block, index, output_gradient.dtype)
    per_channel = output_gradient
    if len(output_gradient.shape) == 4:
        per_channel = new.new("reduce_sum", {"X": [output_gradient]},
                              {"dim": [2, 3], "keep_dim": False, "reduce_all": False},
                              list(output_gradient.shape[:2]))
    new.op("reduce_sum", {"X": [per_channel]}, {"dim": [0], "keep_dim": False, "reduce_all": False},
           {"Out": [block.var(op.output("Y@GRAD")[0])]})
    block._remove_op(new.index)
    if not input_gradient:
        return
    readers = [later for later in list(block.ops)[new.index:] if input_gradient[0] in later.input_arg_names]
    if readers:
        read_instead(readers, input_gradient[0], output_gradient.name)
    else:  # a gradient nothing in the program reads, there to be fetched: a copy
        new.op("assign", {"X": [output_gradient]}, {}, {"Out": [block.var(input_gradient[0])]})


def read_instead(ops, name, other):
    """Have these ops read the variable `other` where they read `name`, which none of them may write."""
    for op in ops:
        if name in op.output_arg_names:
            raise ValueError("{} is also written by {}: it cannot be read as {}".format(name, op.type, other))
        op._rename_input(name, other)
