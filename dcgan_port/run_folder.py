"""What a training run writes into its --output folder: the chapter's grid every few batches with G's
drawings as the film's next frame, and at each save (an epoch's end, every few minutes, a stop) the
checkpoint first, then the generator, the loss curve and the film; after each batch, what the port does on
the side (a checkpoint on time, a stop); and what --resume takes back from it."""
import os

from dcgan_port import checkpoints
from dcgan_port.film import FILM_REWRITE_SECONDS, Film, film_frame
from dcgan_port.output_folder import FILM_FILE, GENERATOR_PREFIX, LOSS_CURVE_FILE
from dcgan_port.pictures import grid_path, image_grid_columns, save_figure, save_loss_curve
from dcgan_port.settings import recorded
from dcgan_port.training_run import format_duration


class RunFolder:
    def __init__(self, settings, exe, progs, stop):
        """progs: the chapter's programs (dc_gan.Programs): a checkpoint holds d_program's and
        dg_program's persistables, and g_program_test is saved as the generator. stop: the run's
        StopRequests (dcgan_port.stopping)."""
        self.output, self.exe, self.progs, self.stop = settings.output, exe, progs, stop
        self.record = recorded(settings)
        self.checkpoint_path = checkpoints.checkpoint_path(settings.output)
        self.loss_curve_path = os.path.join(settings.output, LOSS_CURVE_FILE)
        self.film = Film(os.path.join(settings.output, FILM_FILE))
        self.film_columns = image_grid_columns(2 * settings.batch_size)  # as in the grid's lower half

    def resume(self, run):
        """Continue the run from the folder's checkpoint: every persistable and numpy's RNG into place,
        the loop's state into run (after checking it is the same data), the film up to where it stands."""
        state = checkpoints.load_checkpoint(self.checkpoint_path,
                                            (self.progs.d_program, self.progs.dg_program), self.exe.place)
        run.check_same_data(state, self.output)
        print("resuming from {} at epoch {} batch {}".format(self.checkpoint_path, int(state["epoch"]),
                                                               int(state["batch"])))
        run.continue_from(state)
        self.film.resume(before=(run.epoch, run.batch))

    def save_grid(self, fig, generated_images, pass_id, batch_id):
        """The chapter's picture of the batch, and G's drawings of the fixed noise as the film's next
        frame."""
        save_figure(fig, grid_path(self.output, pass_id, batch_id))
        self.film.add((pass_id, batch_id), film_frame(
            generated_images, self.film_columns, "Epoch ID={} Batch ID={}".format(pass_id, batch_id)))
        self.film.write(at_most_every=FILM_REWRITE_SECONDS)

    def after_batch(self, run):
        """The port's side of each batch, as a Keras callback's: the checkpoint every
        --save_every_minutes, and after a stop request, everything saved and the run ended (Stopped; a
        request during the run's last batch lets it end by itself, saved as every epoch's end is)."""
        if self.stop.requested:
            if run.batches_left():
                self.save(run)
                raise self.stop.honoured(self.output)
        elif run.checkpoint_due():
            self.save_on_time(run)

    def save(self, run):
        """Everything --resume and --generate need: the checkpoint first, then the generator, the loss
        curve and the film."""
        checkpoints.save_checkpoint(self.checkpoint_path, (self.progs.d_program, self.progs.dg_program),
                                    run.loop_state(), self.record)
        checkpoints.save_generator(self.output, self.exe, self.progs)
        save_loss_curve(run.losses, self.loss_curve_path)
        self.film.write()
        return run.mark_saved()

    def save_on_time(self, run):
        """The save of every --save_every_minutes, said in a line."""
        since_saved = self.save(run)
        print("checkpoint saved to {} at epoch {} batch {}, after {} of training".format(
            self.checkpoint_path, run.epoch, run.batch, format_duration(since_saved)), flush=True)

    def complete(self, run):
        """For a resumed run with nothing left to train: what a run killed after its last checkpoint did
        not save (the generator, the loss curve, the film: missing, or older than the checkpoint), saved
        from that checkpoint; nothing else is rewritten."""
        def stale(path):
            return (not os.path.isfile(path)
                    or os.path.getmtime(path) < os.path.getmtime(self.checkpoint_path))

        if stale(os.path.join(self.output, GENERATOR_PREFIX + ".pdiparams")):
            checkpoints.save_generator(self.output, self.exe, self.progs)
            print("saved the generator of the checkpoint, which the run that wrote it had not")
        if stale(self.loss_curve_path):
            save_loss_curve(run.losses, self.loss_curve_path)
        if stale(self.film.path):
            self.film.write()
