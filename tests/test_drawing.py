"""Drawing digits with a saved generator (dcgan_port.drawing): the fast route (Paddle Inference with oneDNN)
draws what the training program g_program_test draws, to float32 rounding, as the executor's route does;
a title naming a Chinese folder draws, with a CJK font or without the folder."""
import os
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import paddle
import pytest

import dc_gan
from conftest import GENERATOR_FILES, ROOT
from dcgan_port import checkpoints, drawing, fast_cpu, pictures

BATCH = 16


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A generator trained a few steps and saved, and what g_program_test drew from some noise before
    the save."""
    output = tmp_path_factory.mktemp("saved_generator")
    np.random.seed(dc_gan.CE_NUMPY_SEED)
    with paddle.static.scope_guard(paddle.static.Scope()):
        progs = dc_gan.build_programs(seed=dc_gan.CE_PROGRAM_SEED)
        exe = paddle.static.Executor(paddle.CPUPlace())
        exe.run(progs.startup)
        real = np.random.uniform(-1, 1, (BATCH, 784)).astype("float32")
        for _ in range(3):  # moves the weights and the batch-norm statistics away from their start
            dc_gan.train_batch(exe, progs, real)
        noise = dc_gan.uniform_noise(300)  # not a multiple of anything the kernels like
        drawn = exe.run(progs.g_program_test, feed={"noise": noise}, fetch_list=[progs.g_img_test])[0]
        checkpoints.save_generator(str(output), exe, progs)
    return str(output), noise, drawn


def assert_same_digits(actual, expected):
    assert actual.shape == expected.shape == (300, 784)
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=2e-6)


def test_the_executors_route_draws_what_training_drew(saved):
    output, noise, drawn = saved
    draw = drawing.load_generator(output, paddle.CPUPlace(), onednn=False)
    assert_same_digits(draw(noise), drawn)


@pytest.mark.skipif(not fast_cpu.onednn_available(), reason="this paddle has no oneDNN here")
def test_the_fast_route_is_paddle_inference_and_draws_what_training_drew(saved, monkeypatch):
    output, noise, drawn = saved
    routes = []
    for name in ("inference_generator", "executor_generator"):
        real = getattr(drawing, name)
        monkeypatch.setattr(drawing, name, lambda *a, real=real, name=name: routes.append(name) or real(*a))
    draw = drawing.load_generator(output, paddle.CPUPlace(), num_threads=2)
    assert routes == ["inference_generator"]
    assert_same_digits(draw(noise), drawn)
    assert_same_digits(np.concatenate([draw(noise[:100]), draw(noise[100:])]), drawn)  # any batch size


def test_without_onednn_the_executors_route_draws(saved, monkeypatch):
    output, noise, drawn = saved
    monkeypatch.setattr(drawing, "onednn_available", lambda: False)
    monkeypatch.setattr(drawing, "inference_generator", lambda *a: pytest.fail("Inference was used"))
    assert_same_digits(drawing.load_generator(output, paddle.CPUPlace())(noise), drawn)


# Trains an epoch, draws with the saved generator, then trains on from the checkpoint, in one process.
TRAIN_DRAW_TRAIN = """
import sys
sys.path.insert(0, {root!r})
import dc_gan, paddle
data, output = sys.argv[1:]
flags = ["--data_dir", data, "--batch_size", "32", "--enable_ce", "true", "--output", output]
with paddle.static.scope_guard(paddle.static.Scope()):
    assert dc_gan.main(flags + ["--epoch", "1"]) == 0
assert dc_gan.main(["--generate", "1000", "--output", output]) == 0
with paddle.static.scope_guard(paddle.static.Scope()):
    sys.exit(dc_gan.main(flags + ["--epoch", "3", "--resume"]))
""".format(root=ROOT)


@pytest.mark.slow  # trains in this process after drawing
@pytest.mark.skipif(not fast_cpu.onednn_available(), reason="this paddle has no oneDNN here")
def test_drawing_on_the_fast_route_leaves_onednn_training_in_the_same_process_intact(tiny_mnist, tmp_path):
    """A predictor run on the training thread leaves oneDNN state behind with which conv2d_grad crashed
    the process (SIGSEGV) at the next training step."""
    result = subprocess.run([sys.executable, "-c", TRAIN_DRAW_TRAIN, str(tiny_mnist), str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from" in result.stdout and "done: 6 batches" in result.stdout


CHINESE_FOLDER = "运行 数字"  # as ~/桌面/实验 is for the Book's readers


@pytest.fixture
def chinese_output(saved, tmp_path):
    """A copy of the saved generator in a folder whose name only a CJK font draws."""
    output = tmp_path / CHINESE_FOLDER
    output.mkdir()
    for name in GENERATOR_FILES:
        (output / name).write_bytes((Path(saved[0]) / name).read_bytes())
    return output


def draw_and_read_title(output):
    """--generate 4 in this process, with matplotlib's missing-glyph warnings made errors; the title."""
    titles = []
    plot = dc_gan.plot

    def plot_and_keep(images):
        fig = plot(images)
        titles.append(fig.axes[0])
        return fig
    settings = dc_gan.parse_args(["--generate", "4", "--output", str(output)])
    with matplotlib.rc_context(), warnings.catch_warnings():
        warnings.simplefilter("error")
        drawing.generate(settings, paddle.CPUPlace(), make_noise=dc_gan.uniform_noise, plot=plot_and_keep)
    return titles[0].get_title()


def test_title_fonts_are_matplotlibs_then_the_first_cjk_font_installed():
    assert pictures.title_fonts({"DejaVu Sans", "SimHei", "WenQuanYi Zen Hei", "Lato"}) == [
        "DejaVu Sans", "WenQuanYi Zen Hei"]
    assert pictures.title_fonts({"DejaVu Sans", "Lato"}) == ["DejaVu Sans"]


def test_a_chinese_folder_is_drawn_in_the_title_with_a_cjk_font(chinese_output):
    if not pictures.installed_fonts().intersection(pictures.CJK_FONTS):
        pytest.skip("no font for Chinese on this machine (Debian: apt-get install fonts-noto-cjk)")
    assert CHINESE_FOLDER in draw_and_read_title(chinese_output)


def test_without_a_cjk_font_the_title_leaves_the_folder_out_and_draws(chinese_output, monkeypatch):
    monkeypatch.setattr(pictures, "installed_fonts", lambda: {"DejaVu Sans"})
    assert draw_and_read_title(chinese_output) == "4 digits drawn by the generator in --output"
    assert (chinese_output / "generated.png").stat().st_size > 0


def test_a_chinese_output_trains_and_draws_without_a_glyph_warning_under_lang_c(tiny_mnist, tmp_path, run):
    output = tmp_path / CHINESE_FOLDER
    env = dict(os.environ, LANG="C", LC_ALL="C")
    trained = run("--data_dir", tiny_mnist, "--batch_size", 32, "--epoch", 1, "--output", output, env=env)
    drawn = run("--generate", 4, "--output", output, env=env)
    for result in (trained, drawn):
        assert result.returncode == 0, result.stderr
        assert "Glyph" not in result.stdout + result.stderr and "Warning" not in result.stderr
    assert {"0000_0000.png", "losses.png", "generated.png"} <= set(os.listdir(output))
