"""Why each op the fast CPU path leaves on paddle's own kernels stays there: it fails on oneDNN, or is no faster.

    python bench/onednn_ops.py [--iterations 8] [--ops scale+concat+concat_grad,slice]

For each op left out of dcgan_port.fast_cpu.ONEDNN_OPS (or each of --ops), the fast training programs are built
twice from the same seed, once as shipped and once with that op on oneDNN too; a few iterations check that the
second trains at all and computes what the first does, then both are timed side by side, alternating iteration
by iteration on the same batch. Prints, under the CPU's name, the milliseconds per iteration of each and the ratio, or the error.
"""
import argparse
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import dc_gan  # noqa: E402  (its package sets paddle's flags before paddle is imported)
import numpy as np  # noqa: E402
import paddle  # noqa: E402
from dcgan_port import fast_cpu, fast_gradients, limits  # noqa: E402
from speed import describe_cpu, real_batch, timed  # noqa: E402

LEFT_OFF = ("elementwise_add", "elementwise_add_grad", "batch_norm", "batch_norm_grad", "tanh", "tanh_grad",
            "sigmoid", "sigmoid_grad", "max_pool2d_with_index", "max_pool2d_with_index_grad")


class Step:
    """The fast programs with the ops of ONEDNN_OPS, plus `extra`, on oneDNN."""

    def __init__(self, extra=()):
        np.random.seed(dc_gan.CE_NUMPY_SEED)
        self.scope = paddle.static.Scope()
        with paddle.static.scope_guard(self.scope):
            self.progs = dc_gan.build_programs(seed=dc_gan.CE_PROGRAM_SEED, fast=True)
            if not self.progs.fast:
                sys.exit("onednn_ops.py: the fast path was not taken (the note above says why)")
            for program in (self.progs.d_program, self.progs.dg_program, self.progs.g_program):
                for op in program.global_block().ops:
                    if op.type in extra:
                        op._set_attr(fast_gradients.onednn_switch(op.type), True)
            self.exe = paddle.static.Executor(paddle.CPUPlace())
            self.exe.run(self.progs.startup)

    def training_programs(self):
        return self.progs.d_program, self.progs.dg_program, self.progs.g_program

    def __call__(self, real_image):
        with paddle.static.scope_guard(self.scope):
            return dc_gan.train_batch(self.exe, self.progs, real_image)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--threads", type=int, default=limits.usable_cores())
    parser.add_argument("--ops", default=",".join(LEFT_OFF),
                        help="the candidates, comma-separated; a+b puts a and b on oneDNN together "
                             "(default: each op the fast path leaves off)")
    args = parser.parse_args()
    paddle.enable_static()
    fast_cpu.set_cpu_threads(args.threads)
    fast_cpu.keep_freed_memory()  # as dc_gan.py does
    real_image, source = real_batch()
    print(describe_cpu(args.threads))
    print("batch 128 of {}, paddle {}".format(source, paddle.__version__))
    print("{:26s} {:>10s} {:>10s} {:>7s}".format("op also on oneDNN", "shipped", "with it", "ratio"))
    candidates = [tuple(group.split("+")) for group in args.ops.split(",")]
    found = {op.type for program in Step().training_programs() for op in program.global_block().ops}
    for ops in candidates:
        for op in ops:
            if op not in found or op in fast_cpu.ONEDNN_OPS:
                parser.error("--ops: {} is {}; name ops the fast programs run off oneDNN".format(
                    op, "on oneDNN already" if op in found else "in none of the training programs"))
    for ops in candidates:
        op = "+".join(ops)
        try:
            shipped, candidate = Step(), Step(extra=ops)
        except fast_gradients.NotAsExpected as unmet:  # no oneDNN switch
            print("{:26s} fails: {}".format(op, unmet))
            continue
        try:
            for seed in range(2):  # the same losses from the same state and noise, or it computes otherwise
                np.random.seed(seed)
                expected = shipped(real_image)
                np.random.seed(seed)
                got = candidate(real_image)
                np.testing.assert_allclose([got[0]] + got[1], [expected[0]] + expected[1], rtol=1e-3)
        except AssertionError:
            print("{:26s} fails: other losses ({} instead of {})".format(
                op, np.round([got[0]] + got[1], 5).tolist(), np.round([expected[0]] + expected[1], 5).tolist()))
            continue
        except Exception as e:  # noqa: BLE001  (whatever oneDNN raises is the answer)
            lines = [line.strip() for line in str(e).splitlines() if line.strip()]
            reason = next((line for line in lines if "Error" in line or "error" in line), lines[-1])
            print("{:26s} fails: {}".format(op, reason[:100]))
            continue
        times = {"shipped": [], "candidate": []}
        for _ in range(args.iterations):
            for name, step in (("shipped", shipped), ("candidate", candidate)):
                times[name].append(timed(lambda: step(real_image)))
        a, b = statistics.median(times["shipped"]), statistics.median(times["candidate"])
        print("{:26s} {:8.0f}ms {:8.0f}ms {:7.2f}".format(op, a * 1e3, b * 1e3, b / a), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
