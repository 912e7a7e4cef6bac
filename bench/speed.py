"""Speed of one training iteration: this project's Paddle step against a PyTorch twin, side by side.

    pip install -r bench/requirements.txt
    python bench/speed.py [--iterations 12] [--threads N] [--plain] [--pir] [--profile] [--script]

One run alternates the contenders iteration by iteration on the same batch of 128 real digits (the
shared MNIST split when present, else uniform noise of the same shape), after a warm-up and with a
short pause before each step, so that load from elsewhere hits all of them alike. It prints the median
milliseconds per iteration of each, the ratio project/twin, and the achieved GFLOP/s as a share of a
float32 matrix-product peak measured in the same run, under a first line naming the CPU; --profile
adds the project's and the twin's costliest ops, then the two side by side by what the ops do, and
where the project spends more than the twin (what holds the ratio back, bench/op_groups.py); --script
then times the whole script, `python dc_gan.py` with its grids, film and checkpoints, per iteration
(bench/script_speed.py), beside the inner step.
"""
import argparse
import contextlib
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import dc_gan  # noqa: E402  (before torch: its package sets paddle's flags before paddle is imported)
import numpy as np  # noqa: E402
import paddle  # noqa: E402
from paddle import profiler  # noqa: E402
from paddle.profiler.profiler_statistic import StatisticData  # noqa: E402  (what summary() prints)
import torch  # noqa: E402

import cpu  # noqa: E402
import op_groups  # noqa: E402
import script_speed  # noqa: E402
import torch_twin  # noqa: E402
from quality import SHARED_MNIST  # noqa: E402
from dcgan_port import fast_cpu, limits  # noqa: E402
from dcgan_port.data import load_mnist  # noqa: E402

BATCH = 128
# Paddle's OpenMP (Intel's) keeps its threads spinning for 200 ms after each parallel region; timing
# the twin right after a paddle step would charge the twin for them, so each step starts after a pause.
SETTLE_SECONDS = 0.3


def layer_macs():
    """Multiply-accumulates per sample of each layer's forward pass (conv, fc, transposed conv)."""
    side = dc_gan.img_dim // 4
    d = {
        "conv1": 1 * dc_gan.df_dim * 25 * 24 * 24,
        "conv2": dc_gan.df_dim * dc_gan.df_dim * 2 * 25 * 8 * 8,
        "fc1": dc_gan.df_dim * 2 * 4 * 4 * dc_gan.dfc_dim,
        "fc2": dc_gan.dfc_dim,
    }
    g = {
        "fc3": dc_gan.NOISE_SIZE * dc_gan.gfc_dim,
        "fc4": dc_gan.gfc_dim * dc_gan.gf_dim * 2 * side * side,
        "deconv1": dc_gan.gf_dim * 2 * dc_gan.gf_dim * 2 * 25 * side * side,
        "deconv2": dc_gan.gf_dim * 2 * 25 * 2 * side * 2 * side,
    }
    return d, g


def flops_per_iteration(batch=BATCH):
    """2 FLOPs per MAC. A backward pass costs a forward's MACs for the weight gradients and as much
    again for the input gradients, none of which are needed for the data (images, noise), nor D's
    weight gradients in a G step: one G pass, two D steps, two G steps through G and D."""
    d, g = layer_macs()
    d_step = sum(d.values()) * 3 - d["conv1"]
    g_step = sum(g.values()) * 3 - g["fc3"] + sum(d.values()) * 2
    macs = sum(g.values()) + 2 * d_step + 2 * g_step
    return 2 * macs * batch


def describe_cpu(threads):
    """The CPU this run measures (bench/cpu.py): a figure needs its CPU."""
    return cpu.describe_cpu(threads, limits.usable_cores())


def matmul_peak(threads, size=4096, repeats=5):
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size ** 3 / best / 1e9


def timed(step):
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def real_batch():
    if os.path.isfile(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")):
        return load_mnist("test", SHARED_MNIST)[:BATCH], "the real MNIST test split"
    rng = np.random.default_rng(0)
    return rng.uniform(-1, 1, (BATCH, 784)).astype("float32"), "uniform noise (no shared MNIST)"


class PaddleStep:
    """dc_gan.py's step: on the fast path's programs (fast) or the chapter's, on `threads` cores as dc_gan.py
    sets them (None: paddle's defaults, one thread), built and run in PIR (pir) or the legacy IR."""

    def __init__(self, fast, threads, pir=False, seed=dc_gan.CE_PROGRAM_SEED):
        self.fast, self.threads = fast, threads
        self.graph = paddle.pir_utils.IrGuard if pir else contextlib.nullcontext
        self.scope = paddle.static.Scope()
        with self.graph(), paddle.static.scope_guard(self.scope):
            self.progs = dc_gan.build_programs(seed=seed, fast=fast)
            if self.progs.fast != fast:
                sys.exit("speed.py: the fast path was not taken (the note above says why): nothing to time")
            self.exe = paddle.static.Executor(paddle.CPUPlace())
            self.exe.run(self.progs.startup)

    def __call__(self, real_image):
        if self.threads:
            fast_cpu.set_cpu_threads(self.threads)
        else:  # paddle's defaults, which fast_cpu.set_cpu_threads changes for the whole process
            paddle.base.core.set_num_threads(1)
            paddle.set_flags({"FLAGS_new_executor_serial_run": False})
        with self.graph(), paddle.static.scope_guard(self.scope):
            return dc_gan.train_batch(self.exe, self.progs, real_image)


class TorchStep:
    def __init__(self, threads):
        self.threads = threads
        torch.manual_seed(0)
        self.twin = torch_twin.Twin(BATCH)

    def __call__(self, real_image):
        torch.set_num_threads(self.threads)
        return self.twin.train_batch(torch.from_numpy(real_image))


def paused_steps(step, real_image, iterations, after_each=lambda: None):
    """Run the step as the timed loop does, each after a pause; the wall ms per step, pauses left out."""
    seconds = 0.0
    for _ in range(iterations):
        time.sleep(SETTLE_SECONDS)
        seconds += timed(lambda: step(real_image))
        after_each()
    return seconds * 1e3 / iterations


def paddle_op_times(step, real_image, iterations):
    """Paddle's profiler over a few steps: {op type: ms per iteration}, and the wall ms per iteration."""
    prof = profiler.Profiler(targets=[profiler.ProfilerTarget.CPU], on_trace_ready=lambda p: None)
    prof.start()
    wall_ms = paused_steps(step, real_image, iterations, after_each=prof.step)
    prof.stop()
    result = prof.profiler_result
    items = StatisticData(result.get_data(), result.get_extra_info()).event_summary.items
    return {name: item.cpu_time / 1e6 / iterations for name, item in items.items()}, wall_ms


def torch_op_times(step, real_image, iterations):
    """PyTorch's profiler over a few steps: {op: ms per iteration spent in the op itself}, and the wall
    ms per iteration."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        wall_ms = paused_steps(step, real_image, iterations)
    return {e.key: e.self_cpu_time_total / 1e3 / iterations for e in prof.key_averages()}, wall_ms


def print_profiles(project, twin, real_image, timed_ms, iterations=3, top=12):
    """Where each contender's iteration goes, op by op (under the profilers), then the two side by side
    by what the ops do (bench/op_groups.py), and where the project loses to the twin if the timed ratio
    (timed_ms: the project's and the twin's medians) is above 0.80."""
    groups = {}
    for name, step, profile, framework in (
            ("project (dc_gan.py)", project, paddle_op_times, "paddle"),
            ("pytorch twin", twin, torch_op_times, "torch")):
        times, wall_ms = profile(step, real_image, iterations)
        print("{}: ms per iteration in its {} costliest ops".format(name, top))
        for op, ms in sorted(times.items(), key=lambda kv: -kv[1])[:top]:
            print("    {:40s} {:7.0f}".format(op, ms))
        groups[framework] = op_groups.grouped(times, framework, wall_ms)
    print(op_groups.report(groups["paddle"], groups["torch"], timed_ms))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=limits.usable_cores())
    parser.add_argument("--plain", action="store_true",
                        help="also time paddle's plain defaults (one thread, its own kernels)")
    parser.add_argument("--pir", action="store_true",
                        help="also time the chapter's programs in PIR (paddle 3) and in the legacy IR, both "
                             "on paddle's own kernels and --threads cores: what FLAGS_enable_pir_api=1 trains on")
    parser.add_argument("--profile", action="store_true",
                        help="then profile the project and the twin: time per op and iteration")
    parser.add_argument("--script", action="store_true",
                        help="then time the whole script, python dc_gan.py, per iteration "
                             "(bench/script_speed.py; needs the MNIST test split)")
    args = parser.parse_args()
    paddle.enable_static()
    fast_cpu.keep_freed_memory()  # as dc_gan.py does on a CPU; the twin, in this process, gains too

    real_image, source = real_batch()
    contenders = {"project (dc_gan.py)": PaddleStep(True, args.threads),
                  "pytorch twin": TorchStep(args.threads)}
    if args.plain:
        contenders["paddle plain defaults"] = PaddleStep(False, None)
    if args.pir:
        contenders["chapter, legacy IR"] = PaddleStep(False, args.threads)
        contenders["chapter, PIR"] = PaddleStep(False, args.threads, pir=True)
    print(describe_cpu(args.threads))
    print("batch {} of {}, {} threads, paddle {}, torch {}".format(
        BATCH, source, args.threads, paddle.__version__, torch.__version__))
    peak_before = matmul_peak(args.threads)

    times = {name: [] for name in contenders}
    for i in range(args.warmup + args.iterations):
        for name, step in contenders.items():
            time.sleep(SETTLE_SECONDS)
            seconds = timed(lambda: step(real_image))
            if i >= args.warmup:
                times[name].append(seconds)
    peak = max(peak_before, matmul_peak(args.threads))

    gflop = flops_per_iteration() / 1e9
    print("{:.1f} GFLOP per iteration; float32 matrix-product peak {:.0f} GFLOP/s on {} threads"
          .format(gflop, peak, args.threads))
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print("{:24s} {:8.0f} ms/iteration  {:6.1f} GFLOP/s  {:5.1%} of peak".format(
            name, median * 1e3, gflop / median, gflop / median / peak))
    ratio = medians["project (dc_gan.py)"] / medians["pytorch twin"]
    print("ratio project/twin: {:.2f}".format(ratio))
    if args.pir:
        print("ratio PIR/legacy IR, the chapter's programs: {:.2f}; PIR/project: {:.2f}".format(
            medians["chapter, PIR"] / medians["chapter, legacy IR"],
            medians["chapter, PIR"] / medians["project (dc_gan.py)"]))
    if args.profile:
        # not the plain contender: paddle's profiler can crash (a race recording events) on its
        # default executor's worker threads
        print_profiles(contenders["project (dc_gan.py)"], contenders["pytorch twin"], real_image,
                       (medians["project (dc_gan.py)"] * 1e3, medians["pytorch twin"] * 1e3))
    if args.script:
        if source.startswith("uniform noise"):
            print("whole script: skipped, it trains on the MNIST test split (set DCGAN_MNIST_DIR)")
        else:
            print(script_speed.report(script_speed.measure(threads=args.threads),
                                      step_seconds=medians["project (dc_gan.py)"]))


if __name__ == "__main__":
    main()
