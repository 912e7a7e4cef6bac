"""The README's first run and the commands that continue it follow one another as written: the offline first
run trains on a folder holding only the test split (and without --mnist_split test is told to pass it),
`--resume` goes on with that run's own settings, `--generate` draws with it, and the README's
`display_image` call opens one of its grids. Shrunk to seconds on the tiny data set: the same commands, with
a smaller batch appended (argparse takes the last value of a flag)."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import dc_gan
from conftest import ROOT, TINY_BATCH, TINY_COUNT, checkpoint, read, tiny_digits, write_idx
from dcgan_port.data import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC


def first_run_section():
    text = read("README.md")
    return text.split("## Your first run", 1)[1].split("\n## ", 1)[0]


def readme_commands():
    """The section's commands as argument lists, run with this Python."""
    lines = [line.strip() for line in first_run_section().splitlines() if line.startswith("    ")]
    commands = []
    for line in lines:
        python, script, *flags = line.split()
        assert (python, script) == (".venv/bin/python", "dc_gan.py"), line
        commands.append([sys.executable, os.path.join(ROOT, "dc_gan.py")] + flags)
    return commands


@pytest.fixture
def test_split_only(tmp_path):
    """A folder holding only the tiny digits under the test split's names, as the offline reader has."""
    folder = tmp_path / "FOLDER"
    folder.mkdir()
    images, labels = tiny_digits(TINY_COUNT)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images, IDX_IMAGES_MAGIC)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels, IDX_LABELS_MAGIC)
    return folder


@pytest.mark.slow  # the real split; test_cli runs the same commands on the tiny set
def test_the_first_run_offline_then_its_resume_and_generate_work_as_written(test_split_only, tmp_path):
    online, offline, resume, generate = readme_commands()
    assert offline[:len(online)] == online  # the same run, with the data folder
    first = [str(test_split_only) if flag == "FOLDER" else flag for flag in offline]
    shrink = ["--batch_size", str(TINY_BATCH), "--max_batches", "1"]
    forgot = [flag for flag in first if flag not in ("--mnist_split", "test")]
    missing = subprocess.run(forgot, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert missing.returncode == 2 and "pass --mnist_split test" in missing.stderr
    for command in (first + shrink, resume, generate):
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, " ".join(command) + "\n" + result.stdout + result.stderr
    output = tmp_path / first[first.index("--output") + 1]
    saved = checkpoint(output)
    epochs_first, epochs_after = int(first[first.index("--epoch") + 1]), int(resume[resume.index("--epoch") + 1])
    assert int(saved["settings/epoch"]) == epochs_after > epochs_first
    assert len(saved["state/d_losses"]) == epochs_after  # one batch an epoch, before and after resuming
    assert bool(saved["settings/raw_logits"]) == ("--raw_logits" in first)
    assert np.load(output / "generated.npy").shape == (int(generate[generate.index("--generate") + 1]), 784)

    call = re.search(r'display_image\((\d+), (\d+), "([^"]+)"\)', first_run_section())
    epoch_no, batch_id, folder = int(call.group(1)), int(call.group(2)), call.group(3)
    assert folder == first[first.index("--output") + 1]
    # the grid it names exists in the README's run: an epoch of the first run, a batch saved every 10
    assert epoch_no < epochs_first and batch_id % dc_gan.PLOT_EVERY == 0
    assert batch_id < int(first[first.index("--max_batches") + 1])
    picture = dc_gan.display_image(epoch_no, 0, str(tmp_path / folder))  # its batch 0 in the shrunk run
    assert picture.size[0] > 100
