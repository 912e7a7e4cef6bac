"""Saving and resuming training (OUTPUT/checkpoint.npz), and the saved generator (OUTPUT/generator.*)."""
import os

import numpy as np
import paddle

from dcgan_port.errors import UsageError
from dcgan_port.output_folder import atomic_write, save_failed, temporary_path

CHECKPOINT_FILE = "checkpoint.npz"
GENERATOR_PREFIX = "generator"  # generator.pdmodel + generator.pdiparams, a Paddle inference model
RESUME_FLAGS = ("batch_size", "raw_logits", "enable_ce", "mnist_split")  # a resume must repeat them
CHECKPOINT_STATE_KEYS = tuple(["rng/" + str(i) for i in range(5)] + ["state/" + k for k in (
    "epoch", "batch", "order", "const_n", "d_losses", "dg_losses") + RESUME_FLAGS])


def checkpoint_path(output):
    return os.path.join(output, CHECKPOINT_FILE)


def check_resume(output, resume):
    """Before anything is read or written: --resume needs a checkpoint, and a new run will replace one."""
    path = checkpoint_path(output)
    if resume and not os.path.isfile(path):
        raise UsageError("--resume: no checkpoint at {}; train without --resume first".format(path))
    if not resume and os.path.isfile(path):
        print("note: {} will be replaced by this new run at its first save; pass --resume to continue "
              "it instead".format(path))


def persistable_names(*programs):
    """Everything training changes: parameters, Adam moments and beta powers, learning rates, batch-norm
    moving statistics."""
    kinds = (paddle.base.core.VarDesc.VarType.FEED_MINIBATCH,
             paddle.base.core.VarDesc.VarType.FETCH_LIST,
             paddle.base.core.VarDesc.VarType.READER)
    return sorted({v.name for p in programs for v in p.list_vars()
                   if v.persistable and v.type not in kinds})


def save_checkpoint(path, programs, state):
    """Every persistable of the programs, numpy's RNG and the loop's state, in one file written whole."""
    scope = paddle.static.global_scope()
    arrays = {"var/" + name: np.array(scope.find_var(name).get_tensor())
              for name in persistable_names(*programs)}
    rng = np.random.get_state()
    arrays.update({"rng/" + str(i): np.asarray(v) for i, v in enumerate(rng)})
    arrays.update({"state/" + k: np.asarray(v) for k, v in state.items()})
    atomic_write(path, lambda f: np.savez(f, **arrays), size=sum(a.nbytes for a in arrays.values()))


def load_checkpoint(path, programs, place):
    """Restore every persistable and numpy's RNG; return the loop's state."""
    try:
        with np.load(path) as ckpt:
            arrays = {k: ckpt[k] for k in ckpt.files}
    except Exception as e:
        raise UsageError("checkpoint {} is unreadable ({}); delete it and train without "
                         "--resume".format(path, e))
    missing = [k for k in CHECKPOINT_STATE_KEYS if k not in arrays]
    if missing:
        raise UsageError("checkpoint {} lacks {}; delete it and train without --resume".format(
            path, ", ".join(missing)))
    scope = paddle.static.global_scope()
    for name in persistable_names(*programs):
        tensor = scope.find_var(name).get_tensor()
        value = arrays.get("var/" + name)
        if value is None or tuple(value.shape) != tuple(tensor.shape()):
            raise UsageError("checkpoint {} does not match this network ({}); delete it and train "
                             "without --resume".format(path, name))
        tensor.set(value, place)
    rng = [arrays["rng/" + str(i)] for i in range(5)]
    np.random.set_state((str(rng[0]), rng[1], int(rng[2]), int(rng[3]), float(rng[4])))
    return {k[len("state/"):]: v for k, v in arrays.items() if k.startswith("state/")}


def resume_state(path, programs, place, flags, num_images):
    """Load the checkpoint into the scope, after checking it was trained with the same flags and as many
    images; return its loop state."""
    state = load_checkpoint(path, programs, place)
    for flag in RESUME_FLAGS:
        if state[flag].item() != getattr(flags, flag):
            raise UsageError("--resume: the checkpoint was trained with --{} {}; pass the same "
                             "value".format(flag, str(state[flag].item()).lower()))
    if len(state["order"]) != num_images:
        raise UsageError("--resume: the checkpoint was trained on {} images, this data has {}; pass "
                         "the same data".format(len(state["order"]), num_images))
    print("resuming from {} at epoch {} batch {}".format(path, int(state["epoch"]),
                                                           int(state["batch"])))
    return state


def save_generator(output, exe, program, noise, image):
    """Save G (program: batch norm on its moving statistics) as a Paddle inference model, atomically."""
    prefix = os.path.join(output, GENERATOR_PREFIX)
    tmp = temporary_path(prefix)
    try:
        paddle.static.save_inference_model(tmp, [noise], [image], exe, program=program)
        for ext in (".pdiparams", ".pdmodel"):
            os.replace(tmp + ext, prefix + ext)
    except OSError as e:
        raise save_failed(prefix + ".pdiparams", e)
    finally:
        for ext in (".pdiparams", ".pdmodel"):
            if os.path.exists(tmp + ext):
                os.remove(tmp + ext)


def generator_prefix(output):
    """The saved generator's path prefix, or the one-line error saying how to make one."""
    prefix = os.path.join(output, GENERATOR_PREFIX)
    if not os.path.isfile(prefix + ".pdmodel"):
        raise UsageError("no saved generator at {}.pdmodel; train first (python dc_gan.py --output "
                         "{})".format(prefix, output))
    return prefix
