"""dc_gan.py run as a user runs it: the chapter's outputs, checkpoints, resuming and generating."""
import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import paddle
import pytest
from PIL import Image

import dc_gan
from conftest import GENERATOR_FILES, ROOT, assert_same_training, ce_args, checkpoint
from dcgan_port import drawing

LOSS_LINE = re.compile(r"^Epoch ID=(\d+) Batch ID=(\d+) D-Loss=(\S+) DG-Loss=(\S+)  "
                       r"\[[\d.]+ batch/s, \d+ img/s, \d+h\d\dm\d\ds left\]$", re.M)
KPI_LINE = re.compile(r"^kpis\t(dcgan_[dg]_train_cost)\t(\S+)$", re.M)


def test_training_prints_the_configuration_then_the_chapters_loss_lines_with_progress(ce_run):
    _, result = ce_run
    assert result.stdout.startswith("-----------  Configuration Arguments -----------\n")
    assert "\nenable_ce: True\n" in result.stdout
    lines = LOSS_LINE.findall(result.stdout)
    assert [(e, b) for e, b, _, _ in lines] == [("0", "0"), ("1", "0")]  # every 10th batch
    for _, _, d_loss, dg_loss in lines:
        for value in (d_loss, dg_loss):  # as the chapter's format() shows a float32: 1.4430925846099854
            assert np.isfinite(float(value)) and repr(float(np.float32(value))) == value


def test_each_printed_batch_saves_its_real_and_generated_grid(ce_run):
    output, _ = ce_run
    names = sorted(n for n in os.listdir(output) if re.fullmatch(r"\d{4}_\d{4}\.png", n))
    assert names == ["0000_0000.png", "0001_0000.png"]
    with Image.open(os.path.join(output, "0000_0000.png")) as picture:
        width, height = picture.size
        pixels = np.asarray(picture.convert("L"), dtype=float)
    # an 8-inch square figure at 100 dpi, cropped to the grid and its title (the tile layout is
    # checked exactly in test_helpers)
    assert 600 < width <= 800 and 600 < height <= 800
    assert pixels.std() > 20  # a picture, not a blank page


def film(output):
    """The frames of progress.gif as arrays, and their (epoch, batch) labels."""
    with Image.open(os.path.join(output, "progress.gif")) as gif:
        labels = [tuple(label) for label in json.loads(gif.info["comment"])["labels"]]
        frames = []
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(np.asarray(gif.convert("L")))
    return frames, labels


def test_the_film_has_one_frame_per_saved_grid_of_gs_drawings(ce_run):
    output, _ = ce_run
    frames, labels = film(output)
    assert labels == [(0, 0), (1, 0)]  # the grids 0000_0000.png and 0001_0000.png
    assert len(frames) == 2
    assert not np.array_equal(frames[0], frames[1])  # G learned in between


def test_an_epoch_skips_the_short_last_batch(ce_run):
    output, _ = ce_run
    state = checkpoint(output)
    assert len(state["state/d_losses"]) == 2 * 3
    assert len(state["state/dg_losses"]) == 2 * 3 * 2
    assert (int(state["state/epoch"]), int(state["state/batch"])) == (2, 0)


def test_ce_mode_ends_with_the_kpi_lines_the_books_ce_job_reads(ce_run):
    output, result = ce_run
    kpis = dict(KPI_LINE.findall(result.stdout))
    state = checkpoint(output)
    assert float(kpis["dcgan_d_train_cost"]) == pytest.approx(state["state/d_losses"].mean(),
                                                              abs=1e-6)
    assert float(kpis["dcgan_g_train_cost"]) == pytest.approx(state["state/dg_losses"].mean(),
                                                              abs=1e-6)


def test_training_saves_model_checkpoint_and_loss_curve(ce_run):
    output, _ = ce_run
    for name in GENERATOR_FILES + ("checkpoint.npz", "losses.png"):
        assert os.path.getsize(os.path.join(output, name)) > 0, name
    assert not [n for n in os.listdir(output) if ".tmp" in n]  # no temporary file left behind
    state = checkpoint(output)
    for name in ("var/conv1w", "var/fc4w", "var/bn13", "var/bn44"):
        assert name in state
    assert any(k.startswith("var/") and "moment1" in k for k in state)  # Adam's state too


def test_generate_draws_the_saved_generators_digits_of_fresh_noise_and_shows_them(ce_run):
    output, _ = ce_run
    np.random.seed(7)
    assert dc_gan.main(["--generate", "10", "--output", str(output)]) == 0
    np.random.seed(7)
    noise = dc_gan.uniform_noise(10)  # what --generate drew its noise as
    expected = drawing.load_generator(str(output), paddle.CPUPlace(), onednn=False)(noise)
    digits = np.load(os.path.join(output, "generated.npy"))
    assert digits.shape == (10, 784) and digits.dtype == np.float32
    np.testing.assert_allclose(digits, expected, rtol=1e-5, atol=2e-6)
    with Image.open(os.path.join(output, "generated.png")) as picture:
        pixels = np.asarray(picture.convert("L"), dtype=float)
    assert pixels.std() > 20  # the 4 x 4 grid of those digits, not a blank page
    np.random.seed(8)
    assert dc_gan.main(["--generate", "10", "--output", str(output)]) == 0
    assert not np.array_equal(np.load(os.path.join(output, "generated.npy")), digits)  # new noise


def test_a_checkpoint_is_saved_every_few_minutes_within_an_epoch_and_said(tiny_mnist, tmp_path, run):
    # 0.0001 minutes: after every batch but an epoch's last, whose end saves anyway
    result = run(*ce_args(tiny_mnist, tmp_path, 1), "--save_every_minutes", 0.0001)
    assert result.returncode == 0, result.stderr
    saved = re.findall(r"^checkpoint saved to (\S+) at epoch (\d+) batch (\d+), after \dh\d\dm\d\ds of "
                       r"training$", result.stdout, re.MULTILINE)
    path = str(tmp_path / "checkpoint.npz")
    assert saved == [(path, "0", "1"), (path, "0", "2")]
    state = checkpoint(tmp_path)
    assert (int(state["state/epoch"]), int(state["state/batch"])) == (1, 0)


def test_resuming_after_an_epoch_ends_exactly_where_an_uninterrupted_run_does(
        ce_run, tiny_mnist, tmp_path, run):
    output, uninterrupted = ce_run
    first = run(*ce_args(tiny_mnist, tmp_path, 1))
    assert first.returncode == 0, first.stderr
    second = run(*ce_args(tiny_mnist, tmp_path, 2), "--resume")
    assert second.returncode == 0, second.stderr
    assert "resuming" in second.stdout
    assert_same_training(output, tmp_path)
    assert KPI_LINE.findall(second.stdout) == KPI_LINE.findall(uninterrupted.stdout)
    # the resumed run continued the first run's film into the uninterrupted run's
    (frames, labels), (expected_frames, expected_labels) = film(tmp_path), film(output)
    assert labels == expected_labels
    for frame, expected in zip(frames, expected_frames):
        np.testing.assert_array_equal(frame, expected)


# one handler takes every signal: Ctrl-C in the fast tier, the others in the slow one
@pytest.mark.parametrize("signum", [signal.SIGINT, pytest.param(signal.SIGTERM, marks=pytest.mark.slow),
                                    pytest.param(signal.SIGHUP, marks=pytest.mark.slow)],
                         ids=["Ctrl-C", "SIGTERM", "SIGHUP"])
def test_a_stop_signal_saves_everything_and_the_run_resumes_exactly(ce_run, tiny_mnist, tmp_path, run,
                                                                    signum):
    output, _ = ce_run
    command = [sys.executable, os.path.join(ROOT, "dc_gan.py")] + [
        str(a) for a in ce_args(tiny_mnist, tmp_path, 2)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    seen = ""
    for line in process.stdout:
        seen += line
        if line.startswith("Epoch ID=0 Batch ID=0"):
            process.send_signal(signum)
            break
    rest, errors = process.communicate(timeout=600)
    assert process.returncode == 128 + signum, seen + rest + errors
    assert "Traceback" not in errors
    assert errors.splitlines()[-1] == (
        "dc_gan.py: stopped by {}: everything is saved in {}; continue with: python dc_gan.py --resume "
        "--output {}".format("Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name,
                             tmp_path, tmp_path))
    state = checkpoint(tmp_path)
    assert (int(state["state/epoch"]), int(state["state/batch"])) < (2, 0)
    for name in GENERATOR_FILES + ("losses.png", "progress.gif"):
        assert os.path.getmtime(tmp_path / name) >= os.path.getmtime(tmp_path / "0000_0000.png")
    resumed = run("--resume", "--output", tmp_path)  # the run's own settings, from its checkpoint
    assert resumed.returncode == 0, resumed.stderr
    assert_same_training(output, tmp_path)


def test_max_batches_caps_each_epoch_of_a_shuffled_run(tiny_mnist, tmp_path, run):
    result = run("--data_dir", tiny_mnist, "--batch_size", 8, "--max_batches", 2, "--epoch", 2,
                 "--output", tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(checkpoint(tmp_path)["state/d_losses"]) == 2 * 2
    assert not KPI_LINE.search(result.stdout)
