"""The Book's own 09.gan on its own Paddle (1.8.5) beside the port, in CE mode, on the same batches and noise.

    python bench/book_side_by_side.py --book BOOK --book_python PY [--work_dir DIR]
    python bench/book_side_by_side.py --book BOOK --book_python PY --write_fixture tests/fixtures/book_ce.json

BOOK is a checkout of github.com/PaddlePaddle/book; PY a Python 3.7 with the Book's Paddle, made once with
(bench/README.md, "The Book's own code beside the port"):

    python3.7 -m venv book-venv && book-venv/bin/pip install paddlepaddle==1.8.5 'numpy<1.20' 'matplotlib<3.4' six 'protobuf<3.21'

It runs the Book's BOOK/09.gan/dc_gan.py unchanged, as its CE job does (`--enable_ce true --epoch 1`; on a
CPU, `--use_gpu false`), through bench/book_launcher.py, which bends two things and prints them: MNIST's md5
check, and mnist.train() reading the test split (only the test split is at hand, in $DCGAN_MNIST_DIR, by
default ../shared/data/mnist). Then it runs `python dc_gan.py --enable_ce true --epoch 1 --mnist_split test
--data_dir DIR` on the fast path and with `--onednn false --num_threads 1` (the chapter's ops, on one thread as
the Book's code), and prints the losses side by side, both KPIs and each one's time per iteration, with the CPU
and the machine's load. --work_dir keeps the runs, and a second call reuses those that finished. With
--write_fixture it writes what paddle 1.8.5 computed (each parameter's initial tensor as a checksum and a
few values, the losses of every iteration, the KPIs) for tests/test_book_ce.py.

The Book's CE job ran on the training split on a GPU; this is the test split (78 batches of 128) on a CPU.
"""
import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import dc_gan  # noqa: E402  (its package sets paddle's flags before paddle is imported)
import numpy as np  # noqa: E402
from cpu import cpu_model  # noqa: E402
from quality import SHARED_MNIST  # noqa: E402
from dcgan_port import book_weights  # noqa: E402
from dcgan_port.data import load_mnist  # noqa: E402

BOOK_FILES = ("dc_gan.py", "network.py", "utility.py")  # the Book's 09.gan code that runs
BOOK_FLAGS = ["--enable_ce", "true", "--epoch", "1", "--use_gpu", "false"]
# the port's default CPU path; the chapter's ops on one thread, as the Book's code ran on a CPU (and two
# threads of paddle's own kernels crawl on a shared machine: 50 s an iteration at a load average of 10)
PORT_PATHS = {"fast": [], "plain": ["--onednn", "false", "--num_threads", "1"]}
BOOK_NAME = re.compile(r"([DG])\.(conv|bn|fc|deconv)\.(\d+)\.([wb1-4])")
FIRST_INDEX = {("D", "conv"): 1, ("D", "bn"): 1, ("D", "fc"): 1,
               ("G", "fc"): 3, ("G", "bn"): 3, ("G", "deconv"): 1}
SAMPLES = 8  # values of each initial tensor kept in the fixture, besides its checksum


def paddle_version():
    import paddle
    return paddle.__version__


def cpu_line():
    return "{}, {} cores".format(cpu_model(), os.cpu_count())


def load():
    return "load average {:.1f}".format(os.getloadavg()[0]) if hasattr(os, "getloadavg") else ""


def port_names(book_names):
    """The Book's code names a parameter by its caller's line (D.conv.139.w); the chapter's text, and the
    port, by its place (conv1w). Within each of D's and G's kinds of layer, lines go in the text's order."""
    lines = {}
    for name in book_names:
        match = BOOK_NAME.fullmatch(name)
        if match:
            net, kind, line, _ = match.groups()
            lines.setdefault((net, kind), set()).add(int(line))
    mapping = {}
    for name in book_names:
        match = BOOK_NAME.fullmatch(name)
        if match:
            net, kind, line, suffix = match.groups()
            index = FIRST_INDEX[net, kind] + sorted(lines[net, kind]).index(int(line))
            mapping[name] = "{}{}{}".format(kind, index, suffix)
    return mapping


def run_book(args, record):
    """The Book's run, recorded in the folder record; one recorded there already is reused."""
    log = os.path.join(record, "stdout.txt")
    if os.path.isfile(log):
        print("\nthe Book's run recorded in {} (delete it to run the Book again)".format(record))
        with open(log) as f:
            out = f.read()
    else:
        book_dir = os.path.join(args.book, "09.gan")
        command = [args.book_python, os.path.join(HERE, "book_launcher.py"), book_dir, args.data_dir,
                   record] + BOOK_FLAGS + ["--output", os.path.join(record, "output_dcgan")]
        print("\n$ " + " ".join(command), "  #", load(), flush=True)
        out = stream(command, cwd=book_dir)
        with open(log, "w") as f:
            f.write(out)
    with open(os.path.join(record, "runs.json")) as f:
        runs = json.load(f)
    initial = dict(np.load(os.path.join(record, "initial.npz")))
    return out, runs, initial


def stream(command, **kwargs):
    """Run a command, echoing its output but paddle's warnings, and return the output."""
    lines = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          **kwargs) as process:
        for line in process.stdout:
            lines.append(line)
            if line.strip() and not line.startswith(("W", "I")) and "Warning" not in line:
                print("    " + line, end="", flush=True)
    if process.returncode:
        sys.exit("failed ({}): {}".format(process.returncode, " ".join(command)))
    return "".join(lines)


def kpis(output):
    return {m.group(1): float(m.group(2))
            for m in re.finditer(r"^kpis\t(\w+)\t([\d.]+)$", output, re.MULTILINE)}


def book_iterations(runs):
    """Per iteration of the Book's loop: D-Loss (its two D losses added in float32), the two DG-Losses,
    and the seconds from its G pass to its second G step, as the Book's own t_time counts them."""
    d, dg, seconds, feeds = [], [], [], None
    seq = runs["runs"]
    for i, run in enumerate(seq):
        if run["kind"] == "d" and (i == 0 or seq[i - 1]["kind"] != "d"):
            g, d1, d2, dg1, dg2 = seq[i - 1:i + 4]
            d.append(float(np.float32(d1["loss"]) + np.float32(d2["loss"])))
            dg += [dg1["loss"], dg2["loss"]]
            seconds.append(dg2["end"] - g["start"])
            if feeds is None:
                feeds = {"noise": g["feed_md5"]["noise"], "real": d2["feed_md5"]["img"],
                         "noise of G's steps": [dg1["feed_md5"]["noise"], dg2["feed_md5"]["noise"]]}
    return d, dg, seconds, feeds


def port_feeds(data_dir, batch_size=128):
    """md5 of what the port's CE mode feeds in its first iteration: the same numpy seed and calls."""
    md5 = lambda a: hashlib.md5(np.ascontiguousarray(a).tobytes()).hexdigest()  # noqa: E731
    np.random.seed(dc_gan.CE_NUMPY_SEED)
    dc_gan.uniform_noise(batch_size)  # const_n
    noise = dc_gan.uniform_noise(batch_size)
    dg_noise = [md5(dc_gan.uniform_noise(batch_size)) for _ in range(dc_gan.NUM_TRAIN_TIMES_OF_DG)]
    real = load_mnist("test", data_dir)[:batch_size]
    return {"noise": md5(noise), "real": md5(real), "noise of G's steps": dg_noise}


def run_port(args, path, folder):
    """The port's CE run on one path, in folder; one finished there already is reused."""
    log = os.path.join(folder, "stdout.txt")
    if os.path.isfile(log):
        print("\nthe port's run on the {} path recorded in {}".format(path, folder))
        with open(log) as f:
            out = f.read()
    else:
        command = [sys.executable, os.path.join(ROOT, "dc_gan.py"), "--enable_ce", "true", "--epoch", "1",
                   "--mnist_split", "test", "--data_dir", args.data_dir, "--output", folder,
                   "--save_every_minutes", "0", "--overwrite"] + PORT_PATHS[path]  # one cut short
        print("\n$ " + " ".join(command), "  #", load(), flush=True)
        out = stream(command, cwd=ROOT)
        with open(log, "w") as f:
            f.write(out)
    done = re.search(r"^done: (\d+) batches in (\d+)h(\d\d)m(\d\d)s", out, re.MULTILINE)
    seconds = int(done.group(2)) * 3600 + int(done.group(3)) * 60 + int(done.group(4))
    d, dg = checkpoint_losses(folder)
    return {"d": d, "dg": dg, "kpis": kpis(out), "seconds": seconds / int(done.group(1))}


def checkpoint_losses(folder):
    """D-Loss of every iteration and DG-Loss of every G step, from the run's checkpoint."""
    with np.load(os.path.join(folder, "checkpoint.npz")) as ckpt:
        key = "state/{}" if "state/d_losses" in ckpt.files else "{}"  # before and after 2026-12
        return ckpt[key.format("d_losses")].tolist(), ckpt[key.format("dg_losses")].tolist()


def check_initial(initial):
    """The Book's initial tensors against dcgan_port.book_weights: (port name, book name, ulps, shape)."""
    rows = []
    stream_ = book_weights.Stream(book_weights.BOOK_RANDOM_SEED)
    for book_name, name in sorted(port_names(initial).items(), key=lambda kv: kv[1]):
        book = initial[book_name]
        mine = book_weights.book_initial_value(name, book.shape, stream=stream_)
        ulps = np.abs(mine.view(np.int32).astype(np.int64) - book.view(np.int32)).max()
        rows.append((name, book_name, int(ulps), book.shape))
    return rows


def fixture(args, initial, book_d, book_dg, book_kpis, seconds):
    params = {}
    for book_name, name in sorted(port_names(initial).items(), key=lambda kv: kv[1]):
        value = np.ascontiguousarray(initial[book_name], dtype="<f4")
        flat = value.reshape(-1)
        index = sorted({int(i) for i in np.linspace(0, flat.size - 1, SAMPLES)})
        params[name] = {"book_name": book_name, "shape": list(value.shape),
                        "sha256": hashlib.sha256(value.tobytes()).hexdigest(),
                        "index": index, "values": [float(flat[i]) for i in index]}
    book_hashes = {}
    for name in BOOK_FILES:
        with open(os.path.join(args.book, "09.gan", name), "rb") as f:
            book_hashes[name] = hashlib.sha256(f.read()).hexdigest()
    return {
        "what": "paddle 1.8.5 running the Book's 09.gan in CE mode (numpy seed 10, random_seed 90, no "
                "shuffling) on the MNIST test split, 78 batches of 128, on a CPU",
        "made_by": "python bench/book_side_by_side.py --book BOOK --book_python BOOK_PYTHON "
                   "--write_fixture " + os.path.relpath(args.write_fixture, ROOT).replace(os.sep, "/"),
        "cpu": cpu_line(), "libc": " ".join(platform.libc_ver()),  # paddle 1.8.5's logf is the libc's
        "book_commit": book_commit(args.book), "book_files_sha256": book_hashes,
        "initial": params, "d_losses": book_d, "dg_losses": book_dg, "kpis": book_kpis,
        "book_seconds_per_iteration": float(np.mean(seconds)),
    }


def compact_json(data):
    """One line per top-level entry, and per parameter of "initial": small, and diffs read well."""
    lines = []
    for key, value in data.items():
        if isinstance(value, dict) and all(isinstance(v, dict) for v in value.values()):
            inner = ",\n".join("  {}: {}".format(json.dumps(k), json.dumps(v)) for k, v in value.items())
            text = "{\n" + inner + "\n }"
        else:
            text = json.dumps(value)
        lines.append(" {}: {}".format(json.dumps(key), text))
    return "{\n" + ",\n".join(lines) + "\n}\n"


def book_commit(book):
    try:
        return subprocess.run(["git", "-C", book, "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def fmt(x):
    return "{:.7f}".format(x) if x is not None else "-"


def largest_difference(port, book, iterations):
    return np.abs(np.subtract(port[:iterations], book[:iterations])).max()


def print_side_by_side(book_paddle, book_d, book_dg, book_kpis, seconds, ports):
    names = list(ports)
    columns = " ".join("{:>10}".format(n) for n in names)
    print("\nLosses, the Book's code on paddle {} and the port's paths ({}); DG-Loss: the iteration's "
          "second, as printed".format(book_paddle, ", ".join(names)))
    print("  {:>4}  {:>10} {}   {:>10} {}".format("iter", "D book", columns, "DG book", columns))
    for i in sorted(set(range(10)) | set(range(0, len(book_d), 10)) | {len(book_d) - 1}):
        d = " ".join("{:>10}".format(fmt(ports[n]["d"][i])) for n in names)
        dg = " ".join("{:>10}".format(fmt(ports[n]["dg"][2 * i + 1])) for n in names)
        print("  {:>4}  {:>10} {}   {:>10} {}".format(i, fmt(book_d[i]), d, fmt(book_dg[2 * i + 1]), dg))
    for n in names:
        spans = ["{} iterations {:.1e} / {:.1e}".format(k, largest_difference(ports[n]["d"], book_d, k),
                                                       largest_difference(ports[n]["dg"], book_dg, 2 * k))
                 for k in (1, 5, 10, len(book_d))]
        print("  {}: the largest difference from the Book's D-Loss / DG-Loss over the first {}".format(
            n, ", ".join(spans)))
    print("\n  {:24s} {:>10} {}".format("", "book", " ".join("{:>17}".format(n) for n in names)))
    for kpi in ("dcgan_d_train_cost", "dcgan_g_train_cost"):
        values = [ports[n]["kpis"][kpi] for n in names]
        port = " ".join("{:>10.6f} ({:+.2%})".format(v, v / book_kpis[kpi] - 1) for v in values)
        print("  {:24s} {:>10.6f} {}".format(kpi, book_kpis[kpi], port))
    port = " ".join("{:>16.2f}s".format(ports[n]["seconds"]) for n in names)
    print("  {:24s} {:>9.2f}s {}".format("time per iteration", float(np.mean(seconds)), port))
    print("  (the Book's: its own t_time per iteration, mean of {}, median {:.2f} s; the port's: its training "
          "time on its last line, per batch)".format(len(seconds), float(np.median(seconds))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--book", required=True, help="a checkout of PaddlePaddle/book")
    parser.add_argument("--book_python", required=True, help="a Python with paddlepaddle==1.8.5")
    parser.add_argument("--data_dir", default=SHARED_MNIST, help="MNIST's t10k files (default %(default)s)")
    parser.add_argument("--paths", default="fast,plain", help="the port's paths to run (default %(default)s)")
    parser.add_argument("--work_dir", help="keep the runs in this folder (the Book's initial tensors take "
                        "190 MB), and reuse those that finished there; default: a temporary folder")
    parser.add_argument("--write_fixture", help="write what paddle 1.8.5 computed to this JSON file")
    args = parser.parse_args()
    if not os.path.isfile(os.path.join(args.data_dir, "t10k-images-idx3-ubyte.gz")):
        sys.exit("the MNIST test split is not in {} (set DCGAN_MNIST_DIR, or --data_dir)".format(
            args.data_dir))
    args.data_dir = os.path.abspath(args.data_dir)
    print(cpu_line(), "|", platform.system(), platform.machine(), "|", load())

    with tempfile.TemporaryDirectory(prefix="book_side_by_side_") as tmp:
        work = args.work_dir or tmp
        record = os.path.join(work, "book")
        os.makedirs(record, exist_ok=True)
        book_out, runs, initial = run_book(args, record)
        book_d, book_dg, seconds, book_feeds = book_iterations(runs)
        book_kpis = kpis(book_out)
        ports = {}
        for path in [p for p in args.paths.split(",") if p]:
            ports[path] = run_port(args, path, os.path.join(work, "{}-paddle{}".format(path, paddle_version())))

    print("\nInitial weights: the Book's (paddle {}) against dcgan_port.book_weights".format(runs["paddle"]))
    rows = check_initial(initial)
    for name, book_name, ulps, shape in rows:
        print("  {:10s} {:16s} {:20s} {}".format(name, book_name, str(shape),
                                                  "same bits" if ulps == 0 else "{} ulp".format(ulps)))
    same = port_feeds(args.data_dir) == book_feeds
    print("First iteration's noise and real digits: {}".format(
        "the port's CE mode feeds the same (md5)" if same else "DIFFERENT from the port's CE mode"))

    print_side_by_side(runs["paddle"], book_d, book_dg, book_kpis, seconds, ports)
    print(cpu_line(), "|", load(), "| finished", time.strftime("%Y-%m-%d %H:%M"))

    if args.write_fixture:
        with open(args.write_fixture, "w") as f:
            f.write(compact_json(fixture(args, initial, book_d, book_dg, book_kpis, seconds)))
        print("wrote", args.write_fixture)
    return 0 if same and all(r[2] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
