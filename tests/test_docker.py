"""What can be proved of the Docker image without a Docker engine; tests/test_image.py builds and runs it."""
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, read


def instructions(keyword):
    """The arguments of each Dockerfile instruction of this kind, continuation lines joined."""
    text = re.sub(r"\\\n", " ", read("Dockerfile"))
    return [line.split(None, 1)[1] for line in text.splitlines()
            if line.split(None, 1)[:1] == [keyword]]


def entrypoint():
    (command,) = instructions("ENTRYPOINT")
    return " ".join(re.findall(r'"([^"]*)"', command))


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
    # the official image by default; tests/test_image.py names a stand-in where it cannot be pulled
    assert instructions("ARG") == ["PADDLE_IMAGE=paddlepaddle/paddle", "PADDLE_TAG=" + tag]
    assert instructions("FROM") == ["${PADDLE_IMAGE}:${PADDLE_TAG}"]
    # the GPU tag the README builds with is the same version
    gpu_tags = re.findall(r"--build-arg PADDLE_TAG=(\S+)", read("README.md") + read("README.cn.md"))
    assert gpu_tags and all(t.startswith(pin + "-gpu-") for t in gpu_tags)


def pattern_regex(pattern):
    """A .dockerignore pattern as Docker matches it: * and ? stop at a slash, ** does not."""
    parts = re.split(r"(\*\*|\*|\?)", pattern.strip("/"))
    wildcards = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wildcards.get(p, re.escape(p)) for p in parts) + "$")


def in_build_context(path):
    """Whether .dockerignore lets path into the build: the last pattern that matches it or one of its
    folders decides, a ! pattern letting it in."""
    rules = [(line.startswith("!"), pattern_regex(line.lstrip("!")))
             for line in (raw.strip() for raw in read(".dockerignore").splitlines())
             if line and not line.startswith("#")]
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    included = True
    for keep, regex in rules:
        if any(regex.match(prefix) for prefix in prefixes):
            included = keep
    return included


def copied_files():
    """Every file the Dockerfile's COPY instructions take from the build context."""
    sources = [path for copy in instructions("COPY")
               for path in [a for a in shlex.split(copy) if not a.startswith("--")][:-1]]
    files = []
    for source in sources:
        assert os.path.exists(os.path.join(ROOT, source)), source
        if os.path.isdir(os.path.join(ROOT, source)):
            files += [os.path.relpath(os.path.join(folder, name), ROOT)
                      for folder, _, names in os.walk(os.path.join(ROOT, source)) for name in names]
        else:
            files.append(source)
    return {f for f in files if in_build_context(f)}


def test_the_image_copies_the_script_and_every_module_of_its_package():
    package = [os.path.join("dcgan_port", name) for name in os.listdir(os.path.join(ROOT, "dcgan_port"))
               if name.endswith(".py")]
    assert "dcgan_port/__init__.py" in package
    assert {"dc_gan.py", "requirements.txt", "README.md"} | set(package) <= copied_files()
    # and nothing the package's runs leave beside it
    assert not [f for f in copied_files() if "__pycache__" in f or f.endswith(".pyc")]


@pytest.mark.parametrize("readme_name", ["README.md", "README.cn.md"])
def test_the_image_runs_the_script_and_takes_its_flags_after_the_image_name_as_the_readme_says(readme_name):
    assert entrypoint() == "python dc_gan.py" and instructions("CMD") == []
    readme = read(readme_name)
    assert "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && " \
           ".venv/bin/python dc_gan.py" in readme
    runs = [line.strip() for line in readme.splitlines() if line.strip().startswith("docker run")]
    image_runs = [line for line in runs if "--entrypoint" not in line and "paddlepaddle/" not in line]
    # what follows the image name is the script's flags, never the command again
    assert image_runs and not [line for line in image_runs if "dc_gan.py" in line]
    assert any(line.endswith(" dcgan") for line in image_runs)  # the chapter's job
    assert any(line.endswith(" dcgan --epoch 5") for line in image_runs)
    gpu_runs = [line for line in image_runs if "--gpus all" in line]
    assert gpu_runs and all(line.endswith(" dcgan-gpu --use_gpu true") for line in gpu_runs)


def test_results_and_the_mnist_cache_are_volumes_and_the_user_is_not_root():
    (volume,) = instructions("VOLUME")
    assert "/app/output_dcgan" in volume and "/home/gan/.cache/paddle" in volume
    (user,) = instructions("USER")
    assert user.split(":")[0] not in ("root", "0")
