"""Which ops of Paddle's and PyTorch's profiles do the same job, so that speed.py --profile can say where
the project gains on the PyTorch twin and where it loses: what holds the ratio back on this CPU."""
from typing import NamedTuple

TARGET_RATIO = 0.80  # issue 28: one iteration at most 0.8 of the twin's

OUTSIDE = "around the ops (executor, autograd)"
REST = "the rest"
# what each framework runs around the ops: Paddle's feeds and fetches, PyTorch's autograd nodes
FRAMEWORK_OPS = {"paddle": {"feed", "fetch_v2"}, "torch": set()}
FRAMEWORK_PREFIXES = {"paddle": (), "torch": ("autograd::", "torch::autograd::")}
FRAMEWORK_SUFFIXES = {"paddle": (), "torch": ("Backward0", "AccumulateGrad")}
# paddle 3.x's new executor may name an op "pd_op.conv2d" or "onednn_op.conv2d"
PADDLE_PREFIXES = ("pd_op.", "onednn_op.")

# (group, the Paddle op types, the PyTorch ops) whose self time counts for it
GROUPS = (
    # fold and its gradient (an unfold) are the col2im and im2col halves of the fast path's product forms
    ("convolutions", {"conv2d", "conv2d_grad", "conv2d_transpose", "conv2d_transpose_grad", "fold",
                      "fold_grad"},
     {"aten::convolution_backward", "aten::_convolution", "aten::mkldnn_convolution",
      "aten::convolution", "aten::conv2d", "aten::conv_transpose2d"}),
    ("matrix products", {"mul", "mul_grad", "matmul_v2", "matmul_v2_grad"},
     {"aten::mm", "aten::addmm", "aten::linear", "aten::matmul"}),
    # the twin adds its biases inside its convolutions and addmm and sums their gradients (aten::sum); the
    # fast path sums them with reduce_sum
    ("biases", {"elementwise_add", "elementwise_add_grad", "reduce_sum"}, {"aten::sum"}),
    ("layout transfers and copies", {"transfer_layout", "share_buffer", "assign", "assign_value"},
     {"aten::copy_", "aten::_to_copy", "aten::clone", "aten::contiguous"}),
    ("reshapes, slices, concats, sums",
     {"reshape2", "reshape2_grad", "transpose2", "transpose2_grad", "slice", "slice_grad", "concat",
      "concat_grad", "scale", "scale_grad", "sum"},
     {"aten::view", "aten::reshape", "aten::t", "aten::transpose", "aten::as_strided",
      "aten::as_strided_", "aten::flatten", "aten::add", "aten::add_"}),
    ("max-pools", {"max_pool2d_with_index", "max_pool2d_with_index_grad", "pool2d", "pool2d_grad"},
     {"aten::max_pool2d", "aten::max_pool2d_with_indices", "aten::max_pool2d_with_indices_backward"}),
    ("batch norm", {"batch_norm", "batch_norm_grad"},
     {"aten::batch_norm", "aten::_batch_norm_impl_index", "aten::native_batch_norm",
      "aten::native_batch_norm_backward", "aten::_batch_norm_with_update", "aten::batch_norm_backward"}),
    ("activations", {"relu", "relu_grad", "leaky_relu", "leaky_relu_grad", "tanh", "tanh_grad",
                     "sigmoid", "sigmoid_grad"},
     {"aten::relu", "aten::clamp_min", "aten::threshold_backward", "aten::leaky_relu",
      "aten::leaky_relu_backward", "aten::tanh", "aten::tanh_backward", "aten::sigmoid",
      "aten::sigmoid_backward"}),
    ("the loss", {"sigmoid_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits_grad",
                  "reduce_mean", "reduce_mean_grad", "fill_any_like"},
     {"aten::binary_cross_entropy_with_logits", "aten::binary_cross_entropy_with_logits_backward",
      "aten::mean", "aten::ones_like"}),
    ("Adam", {"adam"},
     {"aten::_fused_adam_", "aten::_foreach_add_", "Optimizer.step#Adam.step",
      "Optimizer.zero_grad#Adam.zero_grad"}),
    ("filling memory", {"fill_constant"}, {"aten::fill_", "aten::zero_", "aten::zeros"}),
)


def group_of(op, framework):
    """The group of a profile's op (framework: "paddle" or "torch"); REST when none names it."""
    if framework == "paddle" and op.startswith(PADDLE_PREFIXES):
        op = op.split(".", 1)[1]
    if (op in FRAMEWORK_OPS[framework] or op.startswith(FRAMEWORK_PREFIXES[framework])
            or op.endswith(FRAMEWORK_SUFFIXES[framework])):
        return OUTSIDE
    column = 1 if framework == "paddle" else 2
    for group in GROUPS:
        if op in group[column]:
            return group[0]
    return REST


def grouped(op_times, framework, wall_ms):
    """{group: ms per iteration} of a profile {op: ms per iteration}, with the wall time the ops do not
    account for as OUTSIDE, so that the groups add up to wall_ms."""
    groups = {OUTSIDE: wall_ms - sum(op_times.values())}
    for op, ms in op_times.items():
        group = group_of(op, framework)
        groups[group] = groups.get(group, 0.0) + ms
    return groups


class Row(NamedTuple):
    group: str
    project_ms: float
    twin_ms: float

    @property
    def difference(self):
        return self.project_ms - self.twin_ms


def comparison(project_groups, twin_groups):
    """The groups side by side, the project's costliest first."""
    names = set(project_groups) | set(twin_groups)
    rows = [Row(name, project_groups.get(name, 0.0), twin_groups.get(name, 0.0)) for name in names]
    return sorted(rows, key=lambda row: (-row.project_ms, row.group))


def holding_back(rows):
    """The groups in which the project spends more than the twin, the largest loss first."""
    return sorted((row for row in rows if row.difference > 0), key=lambda row: (-row.difference, row.group))


def report(project_groups, twin_groups, timed_ms, target=TARGET_RATIO):
    """The groups side by side, and, where the timed ratio (timed_ms: the project's and the twin's
    medians outside the profilers) is above the target, the ms the project would have to shed and where
    it spends more than the twin."""
    rows = comparison(project_groups, twin_groups)
    project, twin = sum(r.project_ms for r in rows), sum(r.twin_ms for r in rows)
    lines = ["where the iteration goes, ms per iteration under the profilers (project, twin, difference):"]
    lines += ["    {:36s} {:7.0f} {:7.0f} {:+7.0f}".format(r.group, r.project_ms, r.twin_ms, r.difference)
              for r in rows]
    lines.append("    {:36s} {:7.0f} {:7.0f} {:+7.0f}   ratio {:.2f} under the profilers".format(
        "all", project, twin, project - twin, project / twin))
    project_timed, twin_timed = timed_ms
    excess = project_timed - target * twin_timed
    if excess <= 0:
        lines.append("timed, {:.0f} against {:.0f} ms: at most {:.2f} of the twin's time".format(
            project_timed, twin_timed, target))
        return "\n".join(lines)
    losses = holding_back(rows)
    lines.append("timed, {:.0f} against {:.0f} ms: to reach {:.2f} the project would have to shed {:.0f} ms; "
                 "where it spends more than the twin ({:.0f} ms in all): {}".format(
                     project_timed, twin_timed, target, excess, sum(r.difference for r in losses),
                     ", ".join("{} {:+.0f}".format(r.group, r.difference) for r in losses)))
    return "\n".join(lines)
