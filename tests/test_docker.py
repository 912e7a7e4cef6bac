"""What can be proved of the Docker image without a Docker engine (none runs on these machines)."""
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def instructions(keyword):
    """The arguments of each Dockerfile instruction of this kind, continuation lines joined."""
    text = re.sub(r"\\\n", " ", read("Dockerfile"))
    return [line.split(None, 1)[1] for line in text.splitlines()
            if line.split(None, 1)[:1] == [keyword]]


def default_command():
    (cmd,) = instructions("CMD")
    return " ".join(re.findall(r'"([^"]*)"', cmd))


def hadolint():
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=os.path.dirname(sys.executable))
    if found is None:
        pytest.fail("hadolint is not installed: pip install -r tests/requirements.txt")
    return found


def test_the_dockerfile_passes_hadolint_without_warnings():
    result = subprocess.run([hadolint(), "--no-color", "Dockerfile"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_the_base_image_carries_the_paddle_version_requirements_pins():
    # the official images of the 2.6 line run a Python below 3.13, where requirements.txt pins 2.6.2
    (pin,) = re.findall(r'^paddlepaddle==(\S+); python_version < "3.13"$', read("requirements.txt"),
                        re.M)
    (tag,) = re.findall(r"^ARG PADDLE_TAG=(\S+)$", read("Dockerfile"), re.M)
    assert tag.split("-")[0] == pin
    assert instructions("FROM") == ["paddlepaddle/paddle:${PADDLE_TAG}"]
    # the GPU tag the README builds with is the same version
    gpu_tags = re.findall(r"--build-arg PADDLE_TAG=(\S+)", read("README.md"))
    assert gpu_tags and all(t.startswith(pin + "-gpu-") for t in gpu_tags)


def test_every_path_the_image_copies_exists_and_passes_dockerignore():
    kept = {line[1:] for line in read(".dockerignore").splitlines() if line.startswith("!")}
    sources = [path for copy in instructions("COPY")
               for path in [a for a in shlex.split(copy) if not a.startswith("--")][:-1]]
    assert "dc_gan.py" in sources
    for path in sources:
        assert os.path.exists(os.path.join(ROOT, path)), path
        assert path in kept, "{} is copied but .dockerignore keeps it out".format(path)


def test_the_default_command_is_the_readmes_run_line():
    assert default_command() == "python dc_gan.py"
    readme = read("README.md")
    assert "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && " \
           ".venv/bin/python dc_gan.py" in readme
    runs = [line.strip() for line in readme.splitlines() if line.strip().startswith("docker run")]
    gpu_runs = [line for line in runs if "--gpus all" in line]
    assert gpu_runs and all(line.endswith(default_command() + " --use_gpu true")
                            for line in gpu_runs)
    # the CPU run relies on the image's default command
    assert any(line.endswith(" dcgan") for line in runs)


def test_results_and_the_mnist_cache_are_volumes_and_the_user_is_not_root():
    (volume,) = instructions("VOLUME")
    assert "/app/output_dcgan" in volume and "/home/gan/.cache/paddle" in volume
    (user,) = instructions("USER")
    assert user.split(":")[0] not in ("root", "0")
