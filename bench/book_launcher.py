"""Run the Book's own 09.gan/dc_gan.py, unchanged, on its own Paddle (1.8.5, Python 3.7), bending two
things and saying so, and record what it computes. bench/book_side_by_side.py starts it; it runs on the
Book's Python and so imports nothing of this project.

    python bench/book_launcher.py BOOK/09.gan MNIST_DIR RECORD_DIR [the Book's own flags ...]

The two bends, made here before the Book's file runs (nothing of the Book's code is copied or edited):
1. paddle.dataset.common.download returns MNIST_DIR's copy of each MNIST file without checking its md5
   (a re-compressed copy holds the same pixels under another md5, and no download is needed);
2. paddle.dataset.mnist.train is paddle.dataset.mnist.test: only the 10,000-digit test split is at hand.
What is recorded (by wrapping fluid.Executor.run, which changes no value it computes), in RECORD_DIR:
initial.npz, every persistable variable but Adam's accumulators right after the startup program ran; runs.json, for every run of
a training program its kind, its wall-clock start and end, and the loss it fetched, with md5 checksums
of the first iteration's feeds.
"""
import hashlib
import json
import os
import re
import runpy
import sys
import time

import numpy as np

OPTIMIZER_STATE = re.compile(r"_moment\d_\d+$|_pow_acc_\d+$|^learning_rate_")  # Adam's constants: not dumped


def main():
    book_dir, mnist_dir, record_dir = [os.path.abspath(p) for p in sys.argv[1:4]]
    flags = sys.argv[4:]
    import paddle.dataset.common
    import paddle.dataset.mnist
    import paddle.fluid as fluid

    def local_copy(url, module_name, md5sum, save_name=None):
        path = os.path.join(mnist_dir, save_name or url.split("/")[-1])
        if not os.path.isfile(path):
            sys.exit("book_launcher: {} is not in {}".format(os.path.basename(path), mnist_dir))
        return path

    paddle.dataset.common.download = local_copy
    print("book_launcher: bend 1 of 2: paddle.dataset.common.download returns the copy in {}, without "
          "its md5 check".format(mnist_dir))
    paddle.dataset.mnist.train = paddle.dataset.mnist.test
    print("book_launcher: bend 2 of 2: paddle.dataset.mnist.train() reads the test split (10,000 digits)")
    sys.stdout.flush()

    runs = []
    original_run = fluid.Executor.run

    def recorded_run(self, program=None, *args, **kwargs):
        feed = kwargs.get("feed") or (args[0] if args else None) or {}
        start = time.time()
        out = original_run(self, program, *args, **kwargs)
        end = time.time()
        if program is fluid.default_startup_program():
            scope = fluid.global_scope()
            values = {v.name: np.array(scope.find_var(v.name).get_tensor())
                      for v in program.list_vars() if v.persistable and scope.find_var(v.name)
                      and not OPTIMIZER_STATE.search(v.name)}
            np.savez(os.path.join(record_dir, "initial.npz"), **values)
        else:
            loss = np.asarray(out[0]) if out else None
            kind = ("d" if "label" in feed else
                    "dg" if loss is not None and loss.size == 1 else "g")
            runs.append({"kind": kind, "start": start, "end": end,
                         "loss": float(loss.reshape(-1)[0]) if kind != "g" else None,
                         "feed_md5": ({k: hashlib.md5(np.ascontiguousarray(v).tobytes()).hexdigest()
                                       for k, v in feed.items()} if len(runs) < 6 else None)})
        return out

    fluid.Executor.run = recorded_run
    print("book_launcher: recording every Executor.run into {}".format(record_dir))
    sys.path.insert(0, book_dir)
    sys.argv = [os.path.join(book_dir, "dc_gan.py")] + flags
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    finally:
        with open(os.path.join(record_dir, "runs.json"), "w") as f:
            json.dump({"paddle": paddle.__version__, "runs": runs}, f)


if __name__ == "__main__":
    main()
