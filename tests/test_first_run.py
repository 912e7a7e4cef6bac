"""The README's first run and the commands that continue it follow one another as written: the first run
trains, `--resume` goes on with that run's own settings, `--generate` draws with it, and the README's
`display_image` call opens one of its grids. Shrunk to seconds on the tiny data set: the same commands,
with a data folder and a smaller batch appended (argparse takes the last value of a flag)."""
import os
import re
import subprocess
import sys

import numpy as np

import dc_gan
from conftest import ROOT, TINY_BATCH, checkpoint, read


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


def test_the_first_run_then_its_resume_and_generate_work_as_written(tiny_mnist, tmp_path):
    first, resume, generate = readme_commands()
    shrink = ["--data_dir", str(tiny_mnist), "--batch_size", str(TINY_BATCH), "--max_batches", "1"]
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
