"""Where the chapter's training loop stands: the batches of each epoch in a shuffled (or, for continuous
evaluation, file) order, the losses so far, the time it took and the time left, and when the next
checkpoint is due. Bookkeeping only: dc_gan.py's loop trains, and dcgan_port.run_folder saves."""
import numpy as np

from dcgan_port import data
from dcgan_port.errors import UsageError


def batches_per_epoch(num_images, batch_size, max_batches=None):
    """Full batches only: like the chapter's loop, a short last batch is skipped."""
    n = num_images // batch_size
    return n if max_batches is None else min(n, max_batches)


def format_duration(seconds):
    seconds = int(round(seconds))
    return "{}h{:02d}m{:02d}s".format(seconds // 3600, seconds // 60 % 60, seconds % 60)


class TrainingRun:
    """`for pass_id in run.epochs(): for batch_id in run.batches(pass_id): ...`, with run.record(...)
    after each batch. (epoch, batch) is the next batch to train, where a checkpoint resumes."""

    def __init__(self, settings, images, const_n):
        self.settings, self.images, self.const_n = settings, images, const_n
        self.num_batches = batches_per_epoch(len(images), settings.batch_size, settings.max_batches)
        self.fingerprint = data.fingerprint(images)
        self.epoch, self.batch, self.order = 0, 0, None
        self.losses = [[], []]  # D-Loss per batch, DG-Loss per generator step
        self.done, self.t_time, self.saved_at = 0, 0.0, 0.0  # saved_at: t_time at the last checkpoint
        self.left_at_start = self.batches_left()

    def continue_from(self, state):
        """Take up where a checkpoint's loop state left off; a position past the end of an epoch (a
        checkpoint of an earlier version, resumed with a smaller --max_batches) is the next epoch's
        start."""
        self.const_n, self.order = state["const_n"], state["order"]
        self.losses = [list(state["d_losses"]), list(state["dg_losses"])]
        self.epoch, self.batch = int(state["epoch"]), int(state["batch"])
        if self.batch >= self.num_batches:
            self.epoch, self.batch = self.epoch + 1, 0
        self.left_at_start = self.batches_left()

    def check_same_data(self, state, output):
        """A resumed run trains on the images it started on: their number, and where the checkpoint
        recorded it, the fingerprint of their values."""
        if len(state["order"]) != len(self.images):
            raise UsageError(
                "--resume: the run in {} was trained on {} images, this data has {}; pass the same "
                "data".format(output, len(state["order"]), len(self.images)))
        recorded = str(state["data_fingerprint"]) if "data_fingerprint" in state else None
        if recorded is not None and recorded != self.fingerprint:
            raise UsageError(
                "--resume: the run in {} was trained on other images than these {} (fingerprint {}, "
                "these {}); pass the same data".format(output, len(self.images), recorded,
                                                      self.fingerprint))

    def epochs(self):
        return range(self.epoch, self.settings.epoch)

    def batches(self, pass_id):
        """The epoch's full batches from where the run stands; a new epoch draws its order first."""
        if self.batch == 0 or self.order is None:
            # the chapter's reader: paddle.reader.shuffle with a buffer of 60000, i.e. a full shuffle of
            # MNIST each epoch; the continuous-evaluation job reads in file order
            self.order = (np.arange(len(self.images)) if self.settings.enable_ce
                          else np.random.default_rng().permutation(len(self.images)))
        return range(self.batch if pass_id == self.epoch else 0, self.num_batches)

    def real_image(self, batch_id):
        size = self.settings.batch_size
        return self.images[self.order[batch_id * size:(batch_id + 1) * size]]

    def record(self, pass_id, batch_id, d_loss_n, dg_losses, seconds):
        """After a batch's training: its losses and time; the run now stands at the next batch."""
        self.losses[0].append(d_loss_n)
        self.losses[1].extend(dg_losses)
        self.t_time += seconds
        self.done += 1
        self.epoch, self.batch = ((pass_id, batch_id + 1) if batch_id + 1 < self.num_batches
                                  else (pass_id + 1, 0))

    def batches_left(self):
        return max(0, (self.settings.epoch - self.epoch) * self.num_batches - self.batch)

    def progress(self):
        rate = self.done / self.t_time
        return "  [{:.2f} batch/s, {:.0f} img/s, {} left]".format(
            rate, rate * self.settings.batch_size, format_duration(self.batches_left() / rate))

    def checkpoint_due(self):
        """Every --save_every_minutes of training, within an epoch (its end saves anyway)."""
        minutes = self.settings.save_every_minutes
        return bool(minutes) and self.batch > 0 and self.t_time - self.saved_at >= minutes * 60

    def mark_saved(self):
        """A checkpoint is being saved: the time trained since the one before."""
        since_saved, self.saved_at = self.t_time - self.saved_at, self.t_time
        return since_saved

    def loop_state(self):
        """What a checkpoint keeps of the loop: where it stands, its order, noise and losses."""
        return {"epoch": self.epoch, "batch": self.batch, "order": self.order, "const_n": self.const_n,
                "d_losses": np.array(self.losses[0]), "dg_losses": np.array(self.losses[1]),
                "data_fingerprint": self.fingerprint}

    def kpi_lines(self):
        """The two lines the Book's continuous-evaluation job reads."""
        return ("kpis\tdcgan_d_train_cost\t%f" % np.mean(self.losses[0]) + "\n"
                + "kpis\tdcgan_g_train_cost\t%f" % np.mean(self.losses[1]))

    def finish_line(self):
        """The last line of a run that ended by itself."""
        if self.done:
            return "done: {} batches in {}; model and checkpoint in {}".format(
                self.done, format_duration(self.t_time), self.settings.output)
        trained = "{} epoch(s)".format(self.epoch) + (" and {} batch(es)".format(self.batch)
                                                      if self.batch else "")
        return ("nothing to do: the run in {} has trained {}, all that --epoch {} asks for; pass a "
                "larger --epoch with --resume to train further".format(self.settings.output, trained,
                                                                     self.settings.epoch))
