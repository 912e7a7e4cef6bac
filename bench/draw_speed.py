"""Speed of drawing digits with a saved generator: --generate's route against the PyTorch twin's generator, side by side.

    pip install -r bench/requirements.txt
    python bench/draw_speed.py [--count 100000] [--threads N] [--executor]

The chapter's G, as training saves it (the inference model of g_program_test), is loaded the way
`dc_gan.py --generate` loads it (dcgan_port.drawing.load_generator: Paddle Inference with oneDNN where this
paddle has it); the twin's G (bench/torch_twin.py, Paddle's initialisation) runs in eval mode under no_grad.
Both draw --count digits in batches of GENERATE_BATCH, alternating batch by batch so that load from elsewhere
hits both alike; the time is the drawing alone (noise made beforehand, nothing written). Prints under the
CPU's name the seconds each took and the ratio; --executor also times paddle's executor route (--onednn false).
"""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import dc_gan  # noqa: E402  (before torch: its package sets paddle's flags before paddle is imported)
import numpy as np  # noqa: E402
import paddle  # noqa: E402
import torch  # noqa: E402

import torch_twin  # noqa: E402
from dcgan_port import checkpoints, drawing, fast_cpu, limits  # noqa: E402
from speed import describe_cpu  # noqa: E402


def saved_generator(folder):
    """The chapter's G, initialised from the CE seed, saved as training saves it."""
    with paddle.static.scope_guard(paddle.static.Scope()):
        progs = dc_gan.build_programs(seed=dc_gan.CE_PROGRAM_SEED)
        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(progs.startup)
        checkpoints.save_generator(folder, exe, progs)


def twin_generator(threads):
    torch.manual_seed(0)
    g = torch_twin.paddle_init(torch_twin.Generator()).eval()

    def draw(noise):
        torch.set_num_threads(threads)
        with torch.no_grad():
            return g(torch.from_numpy(noise)).numpy()
    return draw


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100000)
    parser.add_argument("--threads", type=int, default=limits.usable_cores())
    parser.add_argument("--executor", action="store_true",
                        help="also time paddle's executor route, --generate's with --onednn false")
    args = parser.parse_args()
    paddle.enable_static()
    fast_cpu.set_cpu_threads(args.threads)
    folder = tempfile.mkdtemp()
    saved_generator(folder)
    contenders = {"dc_gan.py --generate": drawing.load_generator(folder, paddle.CPUPlace(),
                                                                 num_threads=args.threads),
                  "pytorch twin (eval)": twin_generator(args.threads)}
    if args.executor:
        contenders["--generate --onednn false"] = drawing.load_generator(folder, paddle.CPUPlace(),
                                                                         onednn=False)
    print(describe_cpu(args.threads))
    print("{} digits in batches of {}, {} threads, paddle {}, torch {}".format(
        args.count, drawing.GENERATE_BATCH, args.threads, paddle.__version__, torch.__version__))
    rng = np.random.default_rng(0)
    sizes = [min(drawing.GENERATE_BATCH, args.count - start)
             for start in range(0, args.count, drawing.GENERATE_BATCH)]
    seconds = {name: 0.0 for name in contenders}
    for name, draw in contenders.items():  # warm-up: oneDNN and torch pick their kernels
        draw(rng.uniform(-1, 1, (sizes[0], dc_gan.NOISE_SIZE)).astype("float32"))
    for size in sizes:
        noise = rng.uniform(-1, 1, (size, dc_gan.NOISE_SIZE)).astype("float32")
        for name, draw in contenders.items():
            start = time.perf_counter()
            draw(noise)
            seconds[name] += time.perf_counter() - start
    for name, s in seconds.items():
        print("{:28s} {:8.1f} s  {:8.0f} digits/s".format(name, s, args.count / s))
    ratio = seconds["dc_gan.py --generate"] / seconds["pytorch twin (eval)"]
    print("ratio dc_gan.py/twin: {:.2f}".format(ratio))
    for name in os.listdir(folder):
        os.remove(os.path.join(folder, name))
    os.rmdir(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
