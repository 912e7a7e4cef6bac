"""requirements.txt installs a working paddle on every (Python, platform) the README supports.

pip evaluates environment markers against the interpreter that runs it, never against
--python-version, so each row's markers are evaluated here with packaging, and the pins they select
are then resolved by pip for that row's Python and platform without installing anything.
"""
import importlib.metadata
import os
import re
import subprocess
import sys

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.version import Version

from conftest import ROOT

# (pip's platform tag, the marker variables of that platform): the rows of the README's table
PLATFORMS = {
    "manylinux2014_x86_64": dict(sys_platform="linux", platform_system="Linux",
                                 platform_machine="x86_64", os_name="posix"),
    "macosx_14_0_arm64": dict(sys_platform="darwin", platform_system="Darwin",
                              platform_machine="arm64", os_name="posix"),
    "win_amd64": dict(sys_platform="win32", platform_system="Windows",
                      platform_machine="AMD64", os_name="nt"),
}
SUPPORTED = ([(python, "manylinux2014_x86_64") for python in ("3.9", "3.10", "3.11", "3.12", "3.13")]
             + [(python, platform) for platform in ("macosx_14_0_arm64", "win_amd64")
                for python in ("3.11", "3.12", "3.13")])
PIP_THAT_RESOLVES_FOR_OTHER_PYTHONS = Version("24.2")  # 24.1 refused numpy for 3.13 on Python 3.9
# pip's words when it could not reach an index at all, as opposed to finding no matching release
UNREACHABLE = re.compile(r"NewConnectionError|Could not fetch URL|Temporary failure in name "
                         r"resolution|Network is unreachable|Max retries exceeded|ConnectTimeout")


def requirements_for(python, platform, name="requirements.txt"):
    """The requirement lines pip would take from the requirements file on that Python and platform,
    those of the files it includes with -r among them."""
    environment = dict(default_environment(), python_version=python,
                       python_full_version=python + ".0", **PLATFORMS[platform])
    selected = []
    with open(os.path.join(ROOT, name)) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line.startswith("-r"):  # another file's lines, its path from this file's folder
                included = os.path.normpath(os.path.join(os.path.dirname(name), line[2:].strip()))
                selected.extend(requirements_for(python, platform, included))
            elif line:
                requirement = Requirement(line)
                if requirement.marker is None or requirement.marker.evaluate(environment):
                    requirement.marker = None
                    selected.append(str(requirement))
    return selected


def paddle_pin(python, platform):
    (pin,) = [r for r in requirements_for(python, platform) if r.startswith("paddlepaddle")]
    return pin


@pytest.mark.parametrize("python, platform", SUPPORTED)
def test_every_supported_row_selects_one_paddle_with_wheels_for_it(python, platform):
    # 2.6.2 has wheels up to Python 3.12; from 3.13 on, only 3.x does
    assert paddle_pin(python, platform) == (
        "paddlepaddle==2.6.2" if python != "3.13" else "paddlepaddle==3.3.1")


def resolve(python, platform, tmp_path, name="requirements.txt"):
    """pip's resolution of the requirements file for that Python and platform. fast-deps reads a
    wheel's metadata with HTTP range requests where the index publishes none (PyPI has none for
    paddlepaddle-gpu 2.6.2), so the 759 MB GPU wheel is not downloaded whole."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
               "--use-feature=fast-deps",
               "--only-binary=:all:", "--python-version", python, "--platform", platform,
               "--target", str(tmp_path), "--retries", "1", "--timeout", "20"]
    return subprocess.run(command + requirements_for(python, platform, name), capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def package_index(tmp_path_factory):
    """Skip the resolution tests where no package index can be reached (an offline machine), or
    where pip is too old to judge another Python's Requires-Python (tests/requirements.txt asks
    for a newer one)."""
    pip = Version(importlib.metadata.version("pip"))
    if pip < PIP_THAT_RESOLVES_FOR_OTHER_PYTHONS:
        pytest.skip("pip {} checks Requires-Python against this Python, not --python-version; "
                    "pip install -r tests/requirements.txt brings pip {} or newer".format(
                        pip, PIP_THAT_RESOLVES_FOR_OTHER_PYTHONS))
    result = resolve("3.11", "manylinux2014_x86_64", tmp_path_factory.mktemp("probe"))
    if result.returncode != 0 and UNREACHABLE.search(result.stdout + result.stderr):
        pytest.skip("the package index cannot be reached: the requirements' resolution for each "
                    "supported platform needs it")


@pytest.mark.slow
@pytest.mark.parametrize("python, platform", SUPPORTED)
def test_every_supported_row_resolves_to_wheels_on_the_package_index(package_index, python,
                                                                      platform, tmp_path):
    result = resolve(python, platform, tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    pin = paddle_pin(python, platform).replace("==", "-")
    assert re.search(r"^Would install .*\b{}\b".format(re.escape(pin)), result.stdout, re.M)


def test_the_gpu_requirements_are_the_cpu_ones_but_for_paddle():
    def rest(name):
        return [r for r in requirements_for("3.11", "manylinux2014_x86_64", name)
                if not r.startswith("paddlepaddle")]
    assert rest("requirements-gpu.txt") == rest("requirements.txt")
    gpu = [r for r in requirements_for("3.11", "manylinux2014_x86_64", "requirements-gpu.txt")
           if r.startswith("paddlepaddle")]
    assert gpu == ["paddlepaddle-gpu==2.6.2"]


@pytest.mark.slow
def test_the_gpu_requirements_resolve_to_the_cuda_build_and_never_the_cpu_one(package_index, tmp_path):
    """Linux x86-64, Python 3.11."""
    result = resolve("3.11", "manylinux2014_x86_64", tmp_path, "requirements-gpu.txt")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (would_install,) = [line for line in result.stdout.splitlines() if line.startswith("Would install")]
    assert re.search(r"\bpaddlepaddle-gpu-2\.6\.2\b", would_install)
    assert not re.search(r"\bpaddlepaddle-\d", would_install)  # the CPU build


NOTEBOOK_PACKAGES = ["notebook", "ipykernel"]  # Jupyter's page and server, and the kernel


@pytest.mark.parametrize("python, platform", SUPPORTED)
def test_the_notebook_requirements_are_the_cpu_ones_and_jupyter(python, platform):
    assert requirements_for(python, platform, "requirements-notebook.txt") == (
        requirements_for(python, platform) + NOTEBOOK_PACKAGES)


@pytest.mark.slow
@pytest.mark.parametrize("python, platform", SUPPORTED)
def test_the_notebook_requirements_resolve_to_wheels_on_every_supported_row(package_index, python,
                                                                            platform, tmp_path):
    result = resolve(python, platform, tmp_path, "requirements-notebook.txt")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (would_install,) = [line for line in result.stdout.splitlines() if line.startswith("Would install")]
    for package in [paddle_pin(python, platform).replace("==", "-")] + NOTEBOOK_PACKAGES:
        assert re.search(r"\b{}\b".format(re.escape(package)), would_install), package
