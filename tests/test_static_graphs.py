"""The chapter on both of Paddle 3's static graphs: which one builds the programs (dcgan_port.ir_choice:
the user's FLAGS_enable_pir_api, else the legacy IR where paddle is known to have it), and that in PIR the
programs start as the chapter says and train as in the legacy IR, bit for bit. PIR runs in a subprocess
of its own: paddle reads the switch once, at import."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import paddle
import pytest

from conftest import ROOT, assert_one_line_error
from dcgan_port import ir_choice
from dcgan_port.book_weights import initialiser
from dcgan_port.ir_choice import FLAG

PADDLE_3 = ir_choice.release(paddle.__version__)[0] >= 3
needs_paddle_3 = pytest.mark.skipif(not PADDLE_3, reason="PIR trains the chapter on paddlepaddle 3 only; "
                                                         "this is {}".format(paddle.__version__))
TRUE_WORDS = ("1", "true", "True", "TRUE", "t", "yes", "Y", "on")
FALSE_WORDS = ("0", "false", "False", "FALSE", "f", "no", "N", "off")


@pytest.mark.parametrize("word", TRUE_WORDS + FALSE_WORDS)
def test_the_users_switch_is_honoured_in_any_of_paddles_spellings_and_left_as_typed(word):
    choice = ir_choice.choose(word, "3.3.1")
    assert (choice.pir, choice.error) == (word in TRUE_WORDS, None)
    assert choice.described.startswith("PIR (" if choice.pir else "the legacy IR (")
    environ = {FLAG: word}
    ir_choice.choose_for_this_process(environ)  # with the installed paddle
    assert environ == {FLAG: word}


@pytest.mark.parametrize("version", ["2.6.2", "3.0.0", "3.2.2", "3.3.1", "3.3.1.post120"])
def test_left_unset_the_legacy_ir_where_paddle_is_known_to_keep_it(version):
    choice = ir_choice.choose(None, version)
    assert (choice.pir, choice.note, choice.error) == (False, None, None)
    assert version in choice.described


@pytest.mark.parametrize("version", ["3.3.2", "3.4.0", "4.0.0", "0.0.0"])
def test_left_unset_pir_on_a_later_paddle_saying_so_in_one_line(version):
    choice = ir_choice.choose(None, version)
    assert (choice.pir, choice.error) == (True, None)
    assert version in choice.note and FLAG + "=0" in choice.note and "\n" not in choice.note


def test_unset_the_environment_tells_paddle_the_choice():
    environ = {}
    choice = ir_choice.choose_for_this_process(environ)
    assert environ == {FLAG: "1" if choice.pir else "0"}


@pytest.mark.parametrize("word", ["2", "ture", "enable"])
def test_a_word_paddle_reads_as_neither_true_nor_false_is_refused(word):
    environ = {FLAG: word}
    choice = ir_choice.choose_for_this_process(environ)
    assert repr(word) in choice.error and environ == {FLAG: word}


def test_pir_asked_for_on_paddle_2_is_refused():
    assert "paddlepaddle 2.6.2" in ir_choice.choose("1", "2.6.2").error


def test_the_legacy_ir_asked_for_where_paddle_has_dropped_it_is_refused():
    choice = ir_choice.check_paddle_agrees(ir_choice.choose("0", "4.0.0"), pir_in_use=True)
    assert "no longer has it" in choice.error
    assert ir_choice.check_paddle_agrees(ir_choice.choose("0", "3.3.1"), pir_in_use=False).error is None


def environment(**switch):
    """This process's environment with FLAGS_enable_pir_api as given (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != FLAG}
    env.update({FLAG: value for value in switch.values() if value is not None})
    return env


def generate_nothing(tmp_path, switch):
    """dc_gan.py --generate in an empty folder: it prints its configuration, then refuses (no generator)."""
    return subprocess.run([sys.executable, os.path.join(ROOT, "dc_gan.py"), "--generate", "1", "--output",
                           str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=environment(switch=switch))


def test_with_the_installed_paddle_unset_means_the_legacy_ir_named_in_the_configuration(tmp_path):
    result = generate_nothing(tmp_path, None)
    version = ir_choice.installed_paddle_version()
    assert ("static graph: the legacy IR (this port's default on paddlepaddle {}; {}=1 asks for "
            "PIR)".format(version, FLAG)) in result.stdout.splitlines()
    assert_one_line_error(result, "no saved generator")


def test_with_the_installed_paddle_pir_asked_for_is_used_or_refused_in_one_line(tmp_path):
    result = generate_nothing(tmp_path, "1")
    if PADDLE_3:
        assert "static graph: PIR ({}=1 in the environment)".format(FLAG) in result.stdout.splitlines()
        assert_one_line_error(result, "no saved generator")
    else:
        assert_one_line_error(result, FLAG + "=1 asks for PIR")


def test_a_switch_paddle_cannot_read_is_refused_in_one_line(tmp_path):
    assert_one_line_error(generate_nothing(tmp_path, "maybe"), "'maybe' is neither true nor false")


# The same programs in both graphs. A script run in each graph writes what a few iterations gave.
TRAIN_A_FEW_ITERATIONS = """
import json, sys
import numpy as np
import dc_gan, paddle
from dcgan_port.book_weights import set_book_initial_values
paddle.enable_static()
raw_logits, out = json.loads(sys.argv[1]), sys.argv[2]
progs = dc_gan.build_programs(seed=90, raw_logits=raw_logits)
exe = paddle.static.Executor(paddle.CPUPlace())
exe.run(progs.startup)
programs = (progs.d_program, progs.dg_program)
names = sorted({name for program in programs for name in program.state_dict("all")})
scope = paddle.static.global_scope()
arrays = {"startup/" + n: np.array(scope.find_var(n).get_tensor()) for n in names}
set_book_initial_values(exe.place, *programs)  # the same weights in both, whatever each drew
np.random.seed(1)
real = np.random.uniform(-1, 1, (16, 784)).astype("float32")
losses = []
for _ in range(3):
    d_loss, dg_losses = dc_gan.train_batch(exe, progs, real)
    losses += [d_loss] + dg_losses
arrays["losses"] = np.array(losses)
arrays["g_program"] = exe.run(progs.g_program, feed={"noise": real[:4, :100]}, fetch_list=[progs.g_img])[0]
arrays["g_program_test"] = exe.run(progs.g_program_test, feed={"noise": real[:4, :100]},
                                   fetch_list=[progs.g_img_test])[0]
arrays.update({"final/" + n: np.array(scope.find_var(n).get_tensor()) for n in names})
np.savez(out, **arrays)
"""


def train_a_few_iterations(tmp_path, pir, raw_logits=False):
    out = tmp_path / "{}.npz".format("pir" if pir else "legacy")
    result = subprocess.run([sys.executable, "-c", TRAIN_A_FEW_ITERATIONS, json.dumps(raw_logits), str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env=dict(environment(switch="1" if pir else "0"), PYTHONPATH=ROOT))
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(out) as arrays:
        return {k: arrays[k] for k in arrays.files}


@needs_paddle_3
@pytest.mark.parametrize("raw_logits", [False, True], ids=["the chapter's D", "raw logits"])
def test_pir_trains_as_the_legacy_ir_bit_for_bit(tmp_path, raw_logits):
    legacy = train_a_few_iterations(tmp_path, pir=False, raw_logits=raw_logits)
    pir = train_a_few_iterations(tmp_path, pir=True, raw_logits=raw_logits)
    assert sorted(pir) == sorted(legacy) and len([k for k in pir if k.startswith("final/")]) == 130
    # equal on paddle 3.3.1's CPU kernels: the same ops in both graphs
    assert [k for k in legacy if not np.array_equal(legacy[k], pir[k])] == []


def startup_draws(tmp_path, pir):
    """What the startup program of each graph draws for the seed 90, parameter by parameter."""
    arrays = train_a_few_iterations(tmp_path, pir)
    return {k[len("startup/"):]: v for k, v in arrays.items() if k.startswith("startup/")
            and "_moment" not in k and "_pow_acc" not in k and not k.startswith("startup/learning_rate")}


def assert_drawn_as_the_chapter_says(name, values):
    """A parameter's initial values fit the chapter's initialiser (dcgan_port.book_weights.initialiser)."""
    kind, *args = initialiser(name, values.shape)
    if kind == "constant":
        assert np.all(values == args[0]), name
    elif kind == "uniform":
        low, high = np.float32(args[0]), np.float32(args[1])  # the bounds as the float32 draw has them
        assert values.min() >= low and values.max() <= high, name
        assert values.min() < low + 0.05 * (high - low) and values.max() > high - 0.05 * (high - low), name
    else:
        mean, std = args
        error = 4 / np.sqrt(values.size)  # four standard errors of the sample's mean and std (in std)
        assert abs(values.mean() - mean) < error * std and abs(values.std() / std - 1) < error, name


def test_each_parameter_starts_as_the_chapter_says(tmp_path):
    drawn = startup_draws(tmp_path, pir=PADDLE_3)
    assert len(drawn) == 32
    for name, values in drawn.items():
        assert_drawn_as_the_chapter_says(name, values)


@needs_paddle_3
def test_both_graphs_draw_the_same_initial_values_for_the_same_seed(tmp_path):
    legacy, pir = startup_draws(tmp_path, pir=False), startup_draws(tmp_path, pir=True)
    assert sorted(legacy) == sorted(pir)
    assert [name for name in legacy if not np.array_equal(legacy[name], pir[name])] == []


def test_use_cudnn_false_on_a_gpu_is_refused_in_pir_alone(tmp_path):
    from dcgan_port import static_graph
    from dcgan_port.errors import UsageError
    static_graph.check_cudnn_choice(use_gpu=False, use_cudnn=False)  # a CPU ignores it either way
    if static_graph.pir_in_use():
        with pytest.raises(UsageError, match="no per-op cuDNN switch"):
            static_graph.check_cudnn_choice(use_gpu=True, use_cudnn=False)
    else:
        static_graph.check_cudnn_choice(use_gpu=True, use_cudnn=False)


# Runs across the graphs: what one saves, the other resumes and draws with.
def dc_gan_in(pir, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "dc_gan.py")] + [str(a) for a in args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=environment(switch="1" if pir else "0"))


def one_batch_in(pir, data, output):
    """One epoch of one batch trained in a graph: its output folder and what it printed."""
    result = dc_gan_in(pir, "--data_dir", data, "--batch_size", 32, "--epoch", 1, "--max_batches", 1,
                       "--output", output)
    assert result.returncode == 0, result.stderr[-3000:]
    return output, result


@pytest.fixture(scope="module")
def pir_run(tiny_mnist, tmp_path_factory):
    return one_batch_in(True, tiny_mnist, tmp_path_factory.mktemp("pir_run"))


@pytest.fixture(scope="module")
def legacy_run(tiny_mnist, tmp_path_factory):
    return one_batch_in(False, tiny_mnist, tmp_path_factory.mktemp("legacy_run"))


@needs_paddle_3
def test_a_run_in_pir_says_once_that_the_fast_path_needs_the_legacy_ir_and_saves_a_json_generator(pir_run):
    output, result = pir_run
    assert result.stdout.count("the fast CPU path (oneDNN) trains only in the legacy IR") == 1
    assert "Epoch ID=0 Batch ID=0 D-Loss=" in result.stdout
    assert {"generator.json", "generator.pdiparams"} <= set(os.listdir(output))
    assert "generator.pdmodel" not in os.listdir(output)


@needs_paddle_3
@pytest.mark.parametrize("pir", [True, False], ids=["in PIR", "in the legacy IR"])
def test_either_graph_draws_with_a_generator_saved_in_either(pir_run, legacy_run, tmp_path, pir):
    drawn = []
    for saved in (pir_run[0], legacy_run[0]):  # generator.json, and the legacy IR's generator.pdmodel
        folder = tmp_path / os.path.basename(saved)
        shutil.copytree(saved, folder)
        result = dc_gan_in(pir, "--generate", 4, "--output", folder)
        assert result.returncode == 0, result.stderr[-3000:]
        drawn.append(np.load(folder / "generated.npy"))
    assert all(images.shape == (4, 784) for images in drawn)


@needs_paddle_3
def test_a_checkpoint_of_either_graph_resumes_in_the_other(pir_run, tmp_path, tiny_mnist):
    folder = tmp_path / "run"
    shutil.copytree(pir_run[0], folder)
    args = ("--resume", "--epoch", 2, "--output", folder)
    result = dc_gan_in(False, *args)  # the PIR run's checkpoint, in the legacy IR
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Epoch ID=1 Batch ID=0" in result.stdout and "generator.json" not in os.listdir(folder)
    result = dc_gan_in(True, "--resume", "--epoch", 3, "--output", folder)  # and back
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Epoch ID=2 Batch ID=0" in result.stdout and "generator.pdmodel" not in os.listdir(folder)


@pytest.mark.skipif(PADDLE_3, reason="paddlepaddle 3 loads generator.json")
def test_paddle_2_asked_to_draw_with_a_generator_saved_in_pir_says_so_in_one_line(legacy_run, tmp_path):
    for name in os.listdir(legacy_run[0]):
        if name.startswith("generator."):  # paddle 2 cannot save one: a legacy one under PIR's name
            shutil.copy(legacy_run[0] / name, tmp_path / name.replace(".pdmodel", ".json"))
    result = dc_gan_in(False, "--generate", 4, "--output", tmp_path)
    assert_one_line_error(result, "generator.json was saved in PIR, which paddlepaddle")
