"""Where one training iteration of the fast path goes, op by op in program order, not summed by type.

    python bench/op_trace.py [--iterations 3] [--top 40]

speed.py --profile sums the time by op type, so the four programs' conv2d all land in one line. This runs
the project's step (speed.PaddleStep) under Paddle's profiler, exports its trace, and since the serial
executor runs each program's ops in the same order every iteration, lines the events up by position:
for each of the iteration's exe.run calls (1: g_program, 2-3: d_program on fakes and reals, 4-5:
dg_program) its total, then the costliest single ops with the ops before them, which name the layer.
"""
import argparse
import collections
import glob
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import paddle  # noqa: E402
from paddle import profiler  # noqa: E402

import speed  # noqa: E402
from dcgan_port import fast_cpu, limits  # noqa: E402

RUN_NAMES = {1: "g_program", 2: "d_program (fakes)", 3: "d_program (reals)", 4: "dg_program (G step 1)",
             5: "dg_program (G step 2)"}
BOOKKEEPING = ("share_buffer", "transfer_layout")


def traced_ops(step, real_image, iterations, folder):
    """[(op type, ms)] per iteration, in the order they ran."""
    prof = profiler.Profiler(targets=[profiler.ProfilerTarget.CPU],
                             on_trace_ready=profiler.export_chrome_tracing(folder))
    prof.start()
    for _ in range(iterations):
        step(real_image)
        prof.step()
    prof.stop()
    with open(glob.glob(os.path.join(folder, "*.json"))[0]) as f:
        events = [e for e in json.load(f)["traceEvents"] if e.get("cat") == "Operator"]
    events.sort(key=lambda e: e["ts"])
    per_iteration = len(events) // iterations
    names = [e["name"].split("[")[0] for e in events[:per_iteration]]
    for i in range(1, iterations):
        if [e["name"].split("[")[0] for e in events[i * per_iteration:(i + 1) * per_iteration]] != names:
            raise SystemExit("the iterations ran different ops; trace one at a time")
    ms = [sum(events[k * per_iteration + i]["dur"] for k in range(iterations)) / iterations / 1e3
          for i in range(per_iteration)]
    return list(zip(names, ms))


def run_numbers(ops):
    """Which exe.run each op belongs to: a new one starts at each first feed."""
    numbers, run, previous = [], 0, None
    for name, _ in ops:
        if name == "feed" and previous != "feed":
            run += 1
        numbers.append(run)
        previous = name
    return numbers


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--threads", type=int, default=limits.usable_cores())
    args = parser.parse_args()
    paddle.enable_static()
    fast_cpu.keep_freed_memory()  # as dc_gan.py does on a CPU
    real_image, source = speed.real_batch()
    step = speed.PaddleStep(True, args.threads)
    for _ in range(2):
        step(real_image)
    with tempfile.TemporaryDirectory(prefix="op_trace_") as folder:
        ops = traced_ops(step, real_image, args.iterations, folder)
    runs = run_numbers(ops)
    if max(runs) != len(RUN_NAMES):
        raise SystemExit("found {} exe.run calls in an iteration, not {}: the trace's feed events are not "
                         "where this script expects them".format(max(runs), len(RUN_NAMES)))
    print(speed.describe_cpu(args.threads))
    print("batch 128 of {}, paddle {}: {:.0f} ms per iteration under the profiler, {} ops".format(
        source, paddle.__version__, sum(ms for _, ms in ops), len(ops)))
    totals = collections.defaultdict(float)
    for run, (_, ms) in zip(runs, ops):
        totals[run] += ms
    for run in sorted(totals):
        print("  run {} {:24s} {:7.1f} ms".format(run, RUN_NAMES.get(run, ""), totals[run]))
    print("the {} costliest ops, in the order they ran (ms), after the ops that name their layer:".format(
        args.top))
    costliest = sorted(range(len(ops)), key=lambda i: -ops[i][1])[:args.top]
    for i in sorted(costliest):
        before = [name for name, _ in ops[max(0, i - 4):i] if name not in BOOKKEEPING][-3:]
        print("  {:4d} run {} {:28s} {:7.2f}   after {}".format(i, runs[i], ops[i][0], ops[i][1],
                                                                " ".join(before)))


if __name__ == "__main__":
    main()
