"""What the port does around the chapter's training loop (dc_gan.train): first, every input checked once,
before anything is touched or allocated; then, the programs built, the output folder claimed for the run and
what the run starts from put in place; after the loop, the run's last line."""
import contextlib

from dcgan_port import checkpoints, data, limits, output_folder, static_graph
from dcgan_port.book_weights import set_book_initial_values
from dcgan_port.errors import UsageError
from dcgan_port.run_folder import RunFolder
from dcgan_port.training_run import batches_per_epoch


def checked_images(settings):
    """The training images, after every input of the run is checked, nothing touched yet: the output
    folder (a resumed run's was checked as its settings were read), the sizes, the data, and, for a new
    run, that it lands on no earlier one (after the data, so that bad data gets its own message)."""
    if not settings.resume:
        output_folder.check_output(settings.output)
    limits.check_training(settings)  # threads, memory for the batch, output names taken by folders
    static_graph.check_cudnn_choice(settings.use_gpu, settings.use_cudnn)
    images, source = data.load_training_images(settings.mnist_split, settings.data_dir, settings.mnist_url,
                                               output=settings.output)
    if batches_per_epoch(len(images), settings.batch_size) == 0:
        advice = ("the resumed run keeps its --batch_size: pass the data it trained on" if settings.resume
                  else "pass a smaller --batch_size")
        raise UsageError("--batch_size {} is larger than the {} images of {}; {}".format(
            settings.batch_size, len(images), source, advice))
    if not settings.resume:
        checkpoints.check_new_run(settings.output, settings.overwrite)
    return images


@contextlib.contextmanager
def started(run, exe, progs, stop):
    """`with started(run, exe, progs, stop) as folder:` the chapter's loop over run (a TrainingRun), saving
    into folder (a RunFolder). progs: the chapter's programs, their startup already run on exe. On the way
    in: the output folder held for the run, and the Book's initial weights (--enable_ce) or the checkpoint
    (--resume) in place. Within it a stop request is honoured after the batch (RunFolder.after_batch). On
    the way out of a run that ended by itself: what a run with nothing left to train had not saved, and the
    last line."""
    settings = run.settings
    with output_folder.claimed(settings.output, start_over=settings.overwrite):
        if settings.enable_ce:  # the Book's initial weights: paddle 1.8's initialisers for seed 90
            set_book_initial_values(exe.place, progs.d_program, progs.dg_program)
        folder = RunFolder(settings, exe, progs, stop)
        if settings.resume:
            folder.resume(run)
        with stop.finish_batch_first():
            yield folder
        if run.done == 0:
            folder.complete(run)
        print(run.finish_line())
