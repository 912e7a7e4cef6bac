"""What this port adds to the Book chapter's dc_gan.py, one module per concern. dc_gan.py calls them; none
of them imports dc_gan: the chapter's constants reach them as arguments.

    ir_choice       which of paddle's static graphs builds the programs, legacy IR or PIR, before import
    static_graph    what differs between the two graphs for the chapter's programs, in one place
    fast_cpu        the fast CPU path: oneDNN kernels, all cores, the same layers in faster forms
    fast_gradients  the fast CPU path's slow backward ops replaced by faster forms of the same values
    data            MNIST: the IDX files, read from a folder or downloaded and md5-checked
    output_folder   the --output folder: its files' names, safe writes, one run at a time, leftovers of
                    dead runs, never a new run onto an earlier one's files (--overwrite)
    checkpoints     the checkpoint's file and the saved generator's; a new run's check of the folder
    pictures        the picture grid, saved figures, the loss curve, titles that draw (CJK fonts)
    film            progress.gif: G's drawings of the fixed noise as a film
    settings        the flags as one frozen object; a resumed run's own, from its checkpoint
    training_start  around the chapter's loop: every input checked once, the folder claimed, the
                    run's start put in place (fast path, the Book's weights, a checkpoint), its last line
    training_run    where the chapter's loop stands: order, position, losses, time, progress, KPIs
    run_folder      what training writes (grids, the film, checkpoint, generator, loss curve), its
                    per-batch side (a checkpoint on time, a stop), and what it resumes from
    stopping        Ctrl-C, SIGTERM, SIGHUP and a closed stdout: finish the batch, save, exit
    drawing         --generate: digits drawn by a saved generator
    command_line    the flags' words and errors, the printed configuration
    errors          the one-line error
    limits          sizes that cannot work (memory, disk, cores), refused before the work
    book_weights    CE mode's initial weights: what Paddle 1.8's initialisers drew for the Book's seed
    caches          paddle's dataset cache and matplotlib's folders where ~/.cache cannot be written

Importing the package first tells paddle and matplotlib what they must know before they load (below).
"""
import os
import sys
import warnings

from dcgan_port import stopping

STARTED_BY_DC_GAN = os.path.basename(getattr(sys.modules["__main__"], "__file__", "") or "") == "dc_gan.py"
if STARTED_BY_DC_GAN:
    stopping.hold_while_loading()  # a stop waits until paddle has loaded (below)

from dcgan_port import caches, ir_choice

# matplotlib needs writable folders of its own, which a read-only ~ lacks (dcgan_port.caches)
caches.give_matplotlib_a_writable_folder()
import matplotlib  # noqa: E402

matplotlib.use("agg")  # pictures are written to files, on machines without a screen too
# its font list, built once per cache folder, before paddle 3.x gives the root logger a handler (which would
# print matplotlib's INFO line about building it among a run's lines)
import matplotlib.font_manager  # noqa: E402,F401

# Paddle 3.x builds static programs in PIR or in the legacy IR as FLAGS_enable_pir_api says when it is
# imported: the user's setting, else this port's choice (dcgan_port.ir_choice).
IR = ir_choice.choose_for_this_process(os.environ)
os.environ.setdefault("GLOG_minloglevel", "1")  # keep the executor's INFO chatter out of the loss lines

# Paddle 3.x warns at import about a C++ build cache that training never uses; and in PIR its own backward
# (and ones_like) asks a value for a place that PIR values do not have, and warns about its own question
# (a "Value" up to paddle 3.2, a "Tensor" from 3.3).
warnings.filterwarnings("ignore", message="No ccache found")
warnings.filterwarnings("ignore", message="(Tensor|Value) do not have 'place' interface for pir graph mode")

# `import paddle` makes ~/.cache/paddle/dataset and fails where it cannot (a read-only container, a ~/.cache
# owned by root): the cache then lives in a folder that can be written, if any (dcgan_port.caches).
caches.import_paddle_with_a_writable_cache()

from dcgan_port import static_graph  # noqa: E402

if STARTED_BY_DC_GAN:
    stopping.stop_at_once_while_starting()  # until dc_gan.main() takes the signals over

IR = ir_choice.check_paddle_agrees(IR, static_graph.pir_in_use())
