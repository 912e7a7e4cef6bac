"""What this port adds to the Book chapter's dc_gan.py, one module per concern. dc_gan.py calls them; none
of them imports dc_gan: the chapter's constants reach them as arguments.

    fast_cpu        the fast CPU path: oneDNN kernels, all cores, the same layers in faster forms
    data            MNIST: the IDX files, read from a folder or downloaded and md5-checked
    output_folder   the --output folder: safe writes, one run at a time, leftovers of dead runs
    checkpoints     saving and resuming training; the saved generator
    pictures        the picture grid, saved figures, the loss curve
    film            progress.gif: G's drawings of the fixed noise as a film
    training_run    what goes around the chapter's loop: resume, Ctrl-C, checkpoints, progress, KPIs
    drawing         --generate: digits drawn by a saved generator
    command_line    the flags' words and errors, the printed configuration
    errors          the one-line error

Importing the package first tells paddle what it must know before it loads (below).
"""
import os
import warnings

# Paddle 3.x builds programs in its new IR by default, where the legacy static layers the chapter uses
# (conv2d, batch_norm, ...) are not supported. It must be off before paddle is imported.
os.environ["FLAGS_enable_pir_api"] = "0"
os.environ.setdefault("GLOG_minloglevel", "1")  # keep the executor's INFO chatter out of the loss lines

# Paddle 3.x warns at import about a C++ build cache that training never uses, and the chapter's static
# layers are deprecated there in favour of dynamic-graph ones: this port keeps them on purpose.
warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message=r'(?s).*API "paddle\.static\.nn\.')
