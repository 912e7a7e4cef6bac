"""Saving and resuming training (OUTPUT/checkpoint.npz), and the saved generator (OUTPUT/generator.*)."""
import errno
import os

import numpy as np
import paddle

from dcgan_port import output_folder, settings as run_settings, static_graph
from dcgan_port.errors import UsageError
from dcgan_port.output_folder import (CHECKPOINT_FILE, GENERATOR_PREFIX, GENERATOR_PROGRAM, atomic_write,
                                      newest, replaced_whole, run_files, save_failed, temporary_path)

# the loop's state every checkpoint holds, as state/NAME (later versions add data_fingerprint)
REQUIRED_LOOP_STATE = ("epoch", "batch", "order", "const_n", "d_losses", "dg_losses")
RNG_KEYS = tuple("rng/{}".format(i) for i in range(5))  # numpy's legacy RNG state, in its 5 parts
# Checkpoints before the run's settings were recorded (as settings/NAME) kept these four as state/NAME.
EARLIER_RECORD = ("batch_size", "raw_logits", "enable_ce", "mnist_split")


def checkpoint_path(output):
    return os.path.join(output, CHECKPOINT_FILE)


def check_resume(output):
    """Before anything is read or written: --resume needs a checkpoint."""
    path = checkpoint_path(output)
    if not os.path.isfile(path):
        raise UsageError("--resume: no checkpoint at {}; train without --resume first".format(path))


def trained_so_far(path):
    """What the checkpoint says its run has trained, as a phrase."""
    try:
        with np.load(path) as ckpt:
            epoch, batch = int(ckpt["state/epoch"]), int(ckpt["state/batch"])
    except Exception:
        return "an unreadable checkpoint"
    return "a checkpoint after {} epoch(s){}".format(epoch, " and {} batch(es)".format(batch)
                                                     if batch else "")


def check_new_run(output, overwrite):
    """Before anything is written: a new run into a folder that holds an earlier run's files (even grids
    alone, from a run stopped before its first save) is refused, unless it starts over (--overwrite)."""
    names = run_files(output)
    if overwrite or not names:
        return
    with output_folder.output_lock(output):  # a run still at work there is "in use", not an earlier run
        pass
    saved = (trained_so_far(checkpoint_path(output)) if CHECKPOINT_FILE in names
             else "no checkpoint yet")
    raise UsageError("--output {} holds an earlier run ({}, {} file(s), {}); pass --resume to continue "
                     "it, another --output to keep it, or --overwrite to delete its files and start "
                     "over".format(output, saved, len(names), newest(output, names)))


def persistable_names(*programs):
    """Everything training changes: parameters, Adam moments and beta powers, learning rates, batch-norm
    moving statistics."""
    return sorted({name for program in programs for name in program.state_dict("all")})


def rng_arrays():
    return {key: np.asarray(part) for key, part in zip(RNG_KEYS, np.random.get_state())}


def restore_rng(arrays):
    name, keys, pos, has_gauss, cached = (arrays[key] for key in RNG_KEYS)
    np.random.set_state((str(name), keys, int(pos), int(has_gauss), float(cached)))


def save_checkpoint(path, programs, loop_state, record):
    """Every persistable of the programs, numpy's RNG, the loop's state and the run's recorded settings,
    in one file written whole."""
    scope = paddle.static.global_scope()
    arrays = {"var/" + name: np.array(scope.find_var(name).get_tensor())
              for name in persistable_names(*programs)}
    arrays.update(rng_arrays())
    arrays.update({"state/" + k: np.asarray(v) for k, v in loop_state.items()})
    arrays.update({"settings/" + k: np.asarray(v) for k, v in record.items()})
    atomic_write(path, lambda f: np.savez(f, **arrays), size=sum(a.nbytes for a in arrays.values()))


def unreadable(path, why):
    return UsageError("checkpoint {} {}; delete it and train without --resume".format(path, why))


def read_record(path):
    """The run's settings as its checkpoint recorded them (fewer for an earlier version's), read without
    loading the network."""
    try:
        with np.load(path) as ckpt:
            record = {k[len("settings/"):]: ckpt[k].item() for k in ckpt.files
                      if k.startswith("settings/")}
            if not record:
                record = {k: ckpt["state/" + k].item() for k in EARLIER_RECORD if "state/" + k in ckpt}
    except Exception as e:
        raise unreadable(path, "is unreadable ({})".format(e))
    return record


def load_checkpoint(path, programs, place):
    """Restore every persistable and numpy's RNG; return the loop's state (with data_fingerprint where
    the checkpoint recorded one)."""
    try:
        with np.load(path) as ckpt:
            arrays = {k: ckpt[k] for k in ckpt.files}
    except Exception as e:
        raise unreadable(path, "is unreadable ({})".format(e))
    required = list(RNG_KEYS) + ["state/" + k for k in REQUIRED_LOOP_STATE]
    missing = [k for k in required if k not in arrays]
    if missing:
        raise unreadable(path, "lacks {}".format(", ".join(missing)))
    scope = paddle.static.global_scope()
    for name in persistable_names(*programs):
        tensor = scope.find_var(name).get_tensor()
        value = arrays.get("var/" + name)
        if value is None or tuple(value.shape) != tuple(tensor.shape()):
            raise unreadable(path, "does not match this network ({})".format(name))
        tensor.set(value, place)
    restore_rng(arrays)
    return {k[len("state/"):]: v for k, v in arrays.items() if k.startswith("state/")}


def resumed_settings(settings):
    """The settings of the run in settings.output, as its checkpoint recorded them (dcgan_port.settings);
    what an earlier version's checkpoint did not record comes from the flags, as it did then."""
    output_folder.check_output(settings.output)
    check_resume(settings.output)
    saved = run_settings.from_record(read_record(checkpoint_path(settings.output)))
    unrecorded = [name for name in run_settings.RUN_SETTINGS if name not in saved]
    if unrecorded:
        print("note: {} was written by an earlier version, which did not record {}: taken from the "
              "flags".format(checkpoint_path(settings.output),
                             ", ".join("--" + name for name in unrecorded)))
    return run_settings.resumed(settings, saved)


def save_generator(output, exe, progs):
    """Save G (g_program_test: batch norm on its moving statistics) as a Paddle inference model, its two
    files replaced whole; the program as this static graph saves it, the other graph's removed."""
    prefix = os.path.join(output, GENERATOR_PREFIX)
    program = static_graph.saved_program_suffix()
    tmp = temporary_path(prefix)
    try:
        with replaced_whole([prefix + ".pdiparams", prefix + program], [tmp + ".pdiparams", tmp + program]):
            paddle.static.save_inference_model(tmp, [progs.noise_test], [progs.g_img_test], exe,
                                               program=progs.g_program_test)
            check_written_whole(tmp + program)
        for other in GENERATOR_PROGRAM.values():
            if other != program and os.path.isfile(prefix + other):
                os.remove(prefix + other)  # an earlier save's, from the other graph
    except OSError as e:
        raise save_failed(prefix + ".pdiparams", e)


def check_written_whole(program_path):
    """Paddle's save does not report a write that a full disk cut short (static_graph.missing_parameters):
    OSError for a saved generator that is not whole, before it replaces a whole one."""
    try:
        missing = static_graph.missing_parameters(program_path)
    except Exception as e:  # a program file cut short: paddle's parse errors have no common type
        raise OSError(errno.EIO, "written short: {} cannot be read back ({})".format(program_path, e))
    if missing:
        raise OSError(errno.ENOSPC, "written short: {}".format(missing))


def generator_program(output):
    """The saved generator's program file (.pdmodel or PIR's .json; the newer, if a save was cut between
    the two), or the one-line error saying how to make one."""
    prefix = os.path.join(output, GENERATOR_PREFIX)
    saved = [prefix + suffix for suffix in GENERATOR_PROGRAM.values() if os.path.isfile(prefix + suffix)]
    if not saved:
        raise UsageError("no saved generator at {}.pdmodel (or .json); train first (python dc_gan.py "
                         "--output {})".format(prefix, output))
    return max(saved, key=os.path.getmtime)
