"""Whether each form of the fast CPU path pays: the fast programs as shipped against the same programs without
that one form, side by side.

    python bench/forms_ab.py [--iterations 12] [--forms four-convolutions,bias-gradient-as-sum]

For each form, the fast training programs are built twice from the same seed, as shipped and with the form
switched off (the layer or op then computed as before it), checked to report the same losses to rounding over
two iterations, then timed alternately, iteration by iteration on the same batch after a pause each, the one
that goes first changing every iteration, so that the machine's drift hits both alike. Prints, under the
CPU's name, the median milliseconds per iteration of each, their fastest, and the ratio shipped/without:
below 1 the form pays.
"""
import argparse
import os
import statistics
import sys
import time
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import dc_gan  # noqa: E402  (its package sets paddle's flags before paddle is imported)
import numpy as np  # noqa: E402
import paddle  # noqa: E402
from dcgan_port import fast_cpu, fast_gradients, limits  # noqa: E402
from onednn_ops import Step  # noqa: E402
from speed import SETTLE_SECONDS, describe_cpu, real_batch, timed  # noqa: E402

# Each form, and the setting of dcgan_port's fast_cpu or fast_gradients that builds the programs without it.
FORMS = {
    "four-convolutions": (fast_cpu, "PRODUCT_AND_FOLD_UP_TO", sys.maxsize),  # deconv1 as a product and fold
    "product-and-fold": (fast_cpu, "PRODUCT_AND_FOLD_UP_TO", 0),  # deconv2 as four convolutions
    "input-gradient-as-product": (fast_gradients, "computes_one_channel_input_gradient", lambda op: False),
    "bias-gradient-as-sum": (fast_gradients, "computes_a_bias_gradient", lambda op: False),
}


def without(form):
    """The fast programs built with `form` switched off."""
    module, setting, value = FORMS[form]
    with mock.patch.object(module, setting, value):
        return Step()


def same_losses(shipped, other, real_image):
    """Two iterations from the same state report the same losses to the rounding drift that Adam's first
    steps amplify (tests/test_fast_path.py allows the fast path 5e-3 against the chapter's ops)."""
    for seed in range(2):
        np.random.seed(seed)
        expected = shipped(real_image)
        np.random.seed(seed)
        got = other(real_image)
        np.testing.assert_allclose([got[0]] + got[1], [expected[0]] + expected[1], rtol=5e-3)


def alternated(steps, real_image, iterations):
    """{name: [seconds]} of the steps run in turn, each after a pause, in the other order every other
    iteration."""
    times = {name: [] for name in steps}
    for i in range(iterations):
        for name, step in list(steps.items())[::1 if i % 2 == 0 else -1]:
            time.sleep(SETTLE_SECONDS)
            times[name].append(timed(lambda: step(real_image)))
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--threads", type=int, default=limits.usable_cores())
    parser.add_argument("--forms", default=",".join(FORMS),
                        help="comma-separated, of: {} (default: all)".format(", ".join(FORMS)))
    args = parser.parse_args()
    forms = args.forms.split(",")
    unknown = [form for form in forms if form not in FORMS]
    if unknown:
        parser.error("--forms: {} unknown; name forms of: {}".format(", ".join(unknown), ", ".join(FORMS)))
    paddle.enable_static()
    fast_cpu.set_cpu_threads(args.threads)
    fast_cpu.keep_freed_memory()  # as dc_gan.py does
    real_image, source = real_batch()
    print(describe_cpu(args.threads))
    print("batch 128 of {}, paddle {}, {} iterations each, alternated".format(
        source, paddle.__version__, args.iterations))
    print("{:28s} {:>17s} {:>17s} {:>7s}".format("form", "shipped (min)", "without it (min)", "ratio"))
    for form in forms:
        shipped, other = Step(), without(form)
        same_losses(shipped, other, real_image)
        alternated({"shipped": shipped, "without": other}, real_image, 2)  # warm-up
        times = alternated({"shipped": shipped, "without": other}, real_image, args.iterations)
        a, b = (statistics.median(times[name]) for name in ("shipped", "without"))
        print("{:28s} {:6.0f} (min {:4.0f}) {:6.0f} (min {:4.0f}) {:7.3f}".format(
            form, a * 1e3, min(times["shipped"]) * 1e3, b * 1e3, min(times["without"]) * 1e3, a / b),
            flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
