"""What the port adds around the chapter's training loop, in one object: the batches of each epoch in a
shuffled (or, for continuous evaluation, file) order, resuming where a checkpoint left off, Ctrl-C,
checkpoints at epoch ends and every few minutes, progress and time left, the film, the loss curve and the
KPI lines of the Book's continuous-evaluation job."""
import os
import signal
import time

import numpy as np

from dcgan_port import checkpoints
from dcgan_port.film import FILM_FILE, FILM_REWRITE_SECONDS, Film, film_frame
from dcgan_port.pictures import image_grid_columns, save_figure, save_loss_curve

LOSS_CURVE_FILE = "losses.png"


def batches_per_epoch(num_images, batch_size, max_batches=None):
    """Full batches only: like the chapter's loop, a short last batch is skipped."""
    n = num_images // batch_size
    return n if max_batches is None else min(n, max_batches)


def format_duration(seconds):
    seconds = int(round(seconds))
    return "{}h{:02d}m{:02d}s".format(seconds // 3600, seconds // 60 % 60, seconds % 60)


class StopRequest:
    """The first Ctrl-C asks the loop to stop after the current batch and save; a second one interrupts
    at once."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)
        print("\nstopping after this batch to save a checkpoint (Ctrl-C again to abort)", flush=True)

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self._previous)


class TrainingRun:
    """One run of the chapter's loop over images, as `for pass_id in run.epochs(): for batch_id,
    real_image in run.batches(pass_id): ...`, with run.record(...) after each batch's training and
    run.save_pictures(...) at each printed batch.

    flags: the parsed command line (output, epoch, batch_size, max_batches, resume, enable_ce,
    save_every_minutes and the checkpoint's RESUME_FLAGS); programs: the chapter's d_program and
    dg_program, whose persistables a checkpoint holds; generator: (g_program_test, noise, g_img_test),
    saved as the inference model; const_n: the chapter's fixed noise, unless a checkpoint brings its own;
    generator_steps: NUM_TRAIN_TIMES_OF_DG."""

    def __init__(self, flags, exe, place, programs, generator, images, const_n, generator_steps):
        self.flags, self.exe, self.programs, self.generator = flags, exe, programs, generator
        self.images, self.const_n, self.generator_steps = images, const_n, generator_steps
        self.num_batches = batches_per_epoch(len(images), flags.batch_size, flags.max_batches)
        self.checkpoint_path = checkpoints.checkpoint_path(flags.output)
        self.film = Film(os.path.join(flags.output, FILM_FILE))
        self.losses = [[], []]
        self.start_epoch, self.start_batch, self.order = 0, 0, None
        if flags.resume:
            state = checkpoints.resume_state(self.checkpoint_path, programs, place, flags, len(images))
            self.const_n, self.order = state["const_n"], state["order"]
            self.losses = [list(state["d_losses"]), list(state["dg_losses"])]
            self.start_epoch, self.start_batch = int(state["epoch"]), int(state["batch"])
            self.film.resume(before=(self.start_epoch, self.start_batch))
        self.total_batches = (flags.epoch - self.start_epoch) * self.num_batches - self.start_batch
        self.done, self.t_time, self.saved_at = 0, 0.0, 0.0  # saved_at: t_time at the last checkpoint
        self.next_batch, self.started = self.start_batch, None  # of the batch being trained
        self.stop, self.status = None, 0

    def epochs(self):
        """The epochs left to train; each ends with a checkpoint, and a Ctrl-C ends the run there."""
        with StopRequest() as self.stop:
            for pass_id in range(self.start_epoch, self.flags.epoch):
                yield pass_id
                if self.next_batch < self.num_batches:
                    self.save(pass_id, self.next_batch)
                else:
                    self.save(pass_id + 1, 0)
                    if self.flags.enable_ce and pass_id == self.flags.epoch - 1:
                        print("kpis\tdcgan_d_train_cost\t%f" % np.mean(self.losses[0]))
                        print("kpis\tdcgan_g_train_cost\t%f" % np.mean(self.losses[1]))
                if self.stop.requested:
                    print("interrupted: checkpoint saved to {}; continue with --resume".format(
                        self.checkpoint_path))
                    self.status = 130
                    return

    def batches(self, pass_id):
        """(batch_id, real_image) of the epoch's full batches, from where a resumed run left off."""
        first_batch = self.start_batch if pass_id == self.start_epoch else 0
        if first_batch == 0 or self.order is None:
            # the chapter's reader: paddle.reader.shuffle with a buffer of 60000, i.e. a full shuffle of
            # MNIST each epoch; the continuous-evaluation job reads in file order
            self.order = (np.arange(len(self.images)) if self.flags.enable_ce
                          else np.random.default_rng().permutation(len(self.images)))
        self.next_batch = first_batch
        batch_size = self.flags.batch_size
        for batch_id in range(first_batch, self.num_batches):
            self.started = time.time()
            yield batch_id, self.images[self.order[batch_id * batch_size:(batch_id + 1) * batch_size]]
            self.next_batch = batch_id + 1
            if self.stop.requested:
                return
            self.save_if_due(pass_id)

    def record(self, d_loss_n, dg_losses):
        """After a batch's training: its losses, and the time it took."""
        self.losses[0].append(d_loss_n)
        self.losses[1].extend(dg_losses)
        self.t_time += time.time() - self.started
        self.done += 1

    def progress(self):
        rate = self.done / self.t_time
        return "  [{:.2f} batch/s, {:.0f} img/s, {} left]".format(
            rate, rate * self.flags.batch_size, format_duration((self.total_batches - self.done) / rate))

    def save_pictures(self, fig, generated_images, pass_id, batch_id):
        """The chapter's picture of the batch, and G's drawings of the fixed noise as the film's next
        frame."""
        save_figure(fig, "{}/{:04d}_{:04d}.png".format(self.flags.output, pass_id, batch_id))
        self.film.add((pass_id, batch_id), film_frame(
            generated_images, image_grid_columns(2 * self.flags.batch_size),
            "Epoch ID={} Batch ID={}".format(pass_id, batch_id)))
        self.film.write(at_most_every=FILM_REWRITE_SECONDS)

    def save_if_due(self, pass_id):
        since_saved = self.t_time - self.saved_at
        if (self.flags.save_every_minutes and self.next_batch < self.num_batches
                and since_saved >= self.flags.save_every_minutes * 60):
            self.save(pass_id, self.next_batch)  # what a Ctrl-C saves: --resume goes on here
            print("checkpoint saved to {} at epoch {} batch {}, after {} of training".format(
                self.checkpoint_path, pass_id, self.next_batch, format_duration(since_saved)),
                flush=True)

    def save(self, next_epoch, next_batch):
        """The checkpoint first, then the generator, the loss curve and the film."""
        self.saved_at = self.t_time
        checkpoints.save_checkpoint(self.checkpoint_path, self.programs, {
            "epoch": next_epoch, "batch": next_batch, "order": self.order, "const_n": self.const_n,
            "d_losses": np.array(self.losses[0]), "dg_losses": np.array(self.losses[1]),
            **{flag: getattr(self.flags, flag) for flag in checkpoints.RESUME_FLAGS}})
        checkpoints.save_generator(self.flags.output, self.exe, *self.generator)
        save_loss_curve(self.losses, os.path.join(self.flags.output, LOSS_CURVE_FILE),
                        self.generator_steps)
        self.film.write()

    def finish(self):
        """The run's last line, and its exit status: 130 after a Ctrl-C."""
        if self.status == 0:
            if self.done == 0:
                print("nothing to do: the checkpoint has already trained {} epochs; raise --epoch to "
                      "train more".format(self.start_epoch))
            else:
                print("done: {} batches in {}; model and checkpoint in {}".format(
                    self.done, format_duration(self.t_time), self.flags.output))
        return self.status
