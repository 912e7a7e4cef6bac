"""Time per iteration of the whole script, `python dc_gan.py`, as a user runs it: the grid and the film's
frame every 10 batches included, and the checkpoint it saves every --save_every_minutes (10) amortised.

    python bench/script_speed.py [--short 11] [--long 41] [--threads N]

bench/speed.py times the inner step, one training iteration; this times what a 20-epoch job costs. It
runs dc_gan.py on the real MNIST test split ($DCGAN_MNIST_DIR) three times in fresh folders: --max_batches
SHORT, --max_batches LONG, and LONG again with a save after every batch. Start-up, data loading and the
epoch's closing save are alike in all three, so the difference LONG - SHORT over LONG - SHORT batches is
the script's time per iteration, and the third run's extra time per save is what a checkpoint costs;
one every 10 minutes of training adds that share. speed.py --script prints the same beside its step.

What these short runs leave out: the film's rewrite between saves (at most once a minute of wall time;
these runs end within a minute of its first write), and the growth of a save with the run (the film's up
to 201 frames and the loss curve's points: these saves hold at most 5 frames and 41 points).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from cpu import describe_cpu  # noqa: E402
from quality import SHARED_MNIST  # noqa: E402  (imports dc_gan, which readies paddle)
from dcgan_port.limits import usable_cores  # noqa: E402

SAVE_EVERY_SECONDS = 600  # dc_gan.py's default --save_every_minutes 10
SAVE_EVERY_BATCH_MINUTES = "0.0001"  # a save after every batch (at least 6 ms of training apart)
SAVED_LINE = "checkpoint saved to "


class ScriptTimes(NamedTuple):
    short_seconds: float  # wall time of the run of `short` batches
    long_seconds: float  # of the run of `long` batches
    saving_seconds: float  # of the run of `long` batches with a save after each
    saves: int  # the checkpoints that run saved on time
    short: int
    long: int

    def per_iteration(self):
        """Seconds per batch of the whole script, with its grids and film every 10 batches."""
        return (self.long_seconds - self.short_seconds) / (self.long - self.short)

    def per_save(self):
        """Seconds one checkpoint save (checkpoint, generator, loss curve, film) costs."""
        return (self.saving_seconds - self.long_seconds) / self.saves

    def per_iteration_with_saves(self, save_every_seconds=SAVE_EVERY_SECONDS):
        """With a save every save_every_seconds: each iteration carries its share. dc_gan.py counts
        training time only, a little less than the script's iteration, so this is an upper bound."""
        return self.per_iteration() * (1 + self.per_save() / save_every_seconds)


def run_script(python, output, batches, threads, extra=()):
    """Wall seconds of one dc_gan.py run of `batches` batches, and its stdout."""
    command = [python, os.path.join(PROJECT, "dc_gan.py"), "--data_dir", SHARED_MNIST,
               "--mnist_split", "test", "--epoch", "1", "--max_batches", str(batches),
               "--num_threads", str(threads), "--output", output] + list(extra)
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit("dc_gan.py failed ({}): {}".format(done.returncode, done.stderr.strip()[-500:]))
    return seconds, done.stdout


def measure(short=11, long=41, threads=None, python=sys.executable):
    threads = threads or usable_cores()
    with tempfile.TemporaryDirectory(prefix="script_speed_") as work:
        short_seconds, _ = run_script(python, os.path.join(work, "short"), short, threads)
        long_seconds, _ = run_script(python, os.path.join(work, "long"), long, threads)
        saving_seconds, out = run_script(python, os.path.join(work, "saving"), long, threads,
                                         ["--save_every_minutes", SAVE_EVERY_BATCH_MINUTES])
    saves = sum(line.startswith(SAVED_LINE) for line in out.splitlines())
    if saves == 0:
        raise SystemExit("the saving run printed no '{}' line: dc_gan.py's save line changed".format(
            SAVED_LINE.strip()))
    return ScriptTimes(short_seconds, long_seconds, saving_seconds, saves, short, long)


def report(times, step_seconds=None):
    """The lines speed.py --script and this script print."""
    lines = ["whole script (python dc_gan.py, batch 128, grids every 10 batches): {:.0f} ms/iteration "
             "(runs of {} and {} batches: {:.1f} s and {:.1f} s)".format(
                 times.per_iteration() * 1e3, times.short, times.long, times.short_seconds,
                 times.long_seconds),
             "one checkpoint save: {:.2f} s ({} saves); with one every {} minutes: {:.0f} ms/iteration, "
             "the default job's 9,360 iterations {:.1f} hours".format(
                 times.per_save(), times.saves, SAVE_EVERY_SECONDS // 60,
                 times.per_iteration_with_saves() * 1e3, times.per_iteration_with_saves() * 9360 / 3600)]
    if step_seconds:
        lines.append("ratio whole script/inner step: {:.2f}".format(
            times.per_iteration_with_saves() / step_seconds))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--short", type=int, default=11)
    parser.add_argument("--long", type=int, default=41)
    parser.add_argument("--threads", type=int, default=usable_cores())
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")):
        print("skipped: no MNIST test split in {} (set DCGAN_MNIST_DIR)".format(SHARED_MNIST))
        return 0
    print(describe_cpu(args.threads, usable_cores()))
    print(report(measure(args.short, args.long, args.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
