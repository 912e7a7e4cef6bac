"""What can be proved of the Docker image without a Docker engine; tests/test_image.py builds and runs it."""
import ast
import gzip
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, ROOT, read, tiny_digits, write_idx


def instructions(keyword):
    """The arguments of each Dockerfile instruction of this kind, continuation lines joined."""
    text = re.sub(r"\\\n", " ", read("Dockerfile"))
    return [line.split(None, 1)[1] for line in text.splitlines()
            if line.split(None, 1)[:1] == [keyword]]


def entrypoint():
    (command,) = instructions("ENTRYPOINT")
    return " ".join(re.findall(r'"([^"]*)"', command))


ENTRYPOINT_SCRIPT = "docker/entrypoint.sh"


def load_stock():
    spec = importlib.util.spec_from_file_location("docker_stock", os.path.join(ROOT, "docker", "stock.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
    assert instructions("ARG")[:2] == ["PADDLE_IMAGE=paddlepaddle/paddle", "PADDLE_TAG=" + tag]
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
    # and what `docker run IMAGE notebook` serves and needs
    assert {"dc_gan.ipynb", "dc_gan.cn.ipynb", "requirements-notebook.txt", ENTRYPOINT_SCRIPT,
            "docker/stock.py", "docker/mnist/README.md"} <= copied_files()
    # and nothing the package's runs leave beside it
    assert not [f for f in copied_files() if "__pycache__" in f or f.endswith(".pyc")]


@pytest.mark.parametrize("readme_name", ["README.md", "README.cn.md"])
def test_the_image_runs_the_script_and_takes_its_flags_after_the_image_name_as_the_readme_says(readme_name):
    # the entry point runs `python dc_gan.py "$@"` for anything but the word notebook (tested below)
    assert entrypoint() == "/app/docker/entrypoint.sh" and instructions("CMD") == []
    assert re.search(r'^\s*exec python dc_gan\.py "\$@"', read(ENTRYPOINT_SCRIPT), re.M)
    readme = read(readme_name)
    assert "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && " \
           ".venv/bin/python dc_gan.py" in readme
    runs = [line.strip() for line in readme.splitlines() if line.strip().startswith("docker run")]
    image_runs = [line for line in runs if "--entrypoint" not in line and "paddlepaddle/" not in line]
    # what follows the image name is the script's flags, never the command again
    assert image_runs and not [line for line in image_runs if "dc_gan.py" in line]
    assert any(line.endswith(" dcgan") for line in image_runs)  # the chapter's job
    assert any(line.endswith(" dcgan --epoch 5") for line in image_runs)
    # the notebook's line, where the README gives one, publishes Jupyter's port on this machine only
    for line in image_runs:
        if line.endswith(" dcgan notebook"):
            assert re.search(r" -p 127\.0\.0\.1:\d+:8888 ", line) and " 8888:8888" not in line, line
    gpu_runs = [line for line in image_runs if "--gpus all" in line]
    assert gpu_runs and all(line.endswith(" dcgan-gpu --use_gpu true") for line in gpu_runs)


def test_results_and_the_mnist_cache_are_volumes_and_the_user_is_not_root():
    (volume,) = instructions("VOLUME")
    assert "/app/output_dcgan" in volume and "/home/gan/.cache/paddle" in volume
    assert '"/app/notebooks"' in volume  # Jupyter's folder: the notebooks and the work saved in them
    (user,) = instructions("USER")
    assert user.split(":")[0] not in ("root", "0")


# ---------------------------------------------------------------------------------------------------
# docker run IMAGE notebook: the entry point, run here with stand-ins for python and jupyter that print
# what they were given
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def entry(tmp_path):
    """Runs docker/entrypoint.sh with ARGS; returns (result, the notebooks folder)."""
    bin_dir, chapter, notebooks = tmp_path / "bin", tmp_path / "chapter", tmp_path / "notebooks"
    for folder in (bin_dir, chapter, notebooks):
        folder.mkdir()
    for program in ("python", "jupyter"):
        (bin_dir / program).write_text('#!/bin/sh\necho "{} $*"\n'.format(program))
        (bin_dir / program).chmod(0o755)
    for name in ("dc_gan.ipynb", "dc_gan.cn.ipynb"):
        (chapter / name).write_text("the image's " + name)

    def run(*args):
        env = dict(os.environ, PATH="{}:{}".format(bin_dir, os.environ["PATH"]),
                   DCGAN_NOTEBOOKS=str(notebooks), DCGAN_CHAPTER=str(chapter))
        return subprocess.run(["sh", os.path.join(ROOT, ENTRYPOINT_SCRIPT)] + list(args), env=env,
                              capture_output=True, text=True, timeout=60), notebooks
    return run


@pytest.mark.parametrize("args", [[], ["--epoch", "5"], ["--help"], ["--generate", "64", "--output", "x"]])
def test_the_entry_point_runs_the_script_with_the_flags_after_the_image_name(entry, args):
    result, notebooks = entry(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [" ".join(["python", "dc_gan.py"] + args)]
    assert os.listdir(notebooks) == []


def test_the_entry_point_serves_the_notebooks_with_jupyter_for_the_word_notebook(entry):
    result, notebooks = entry("notebook")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    words = line.split()
    assert words[:2] == ["jupyter", "notebook"]
    # listening on the container's addresses (the published port reaches it), in the work volume
    assert {"--no-browser", "--ip=0.0.0.0", "--port=8888", "--ServerApp.root_dir=" + str(notebooks)} \
        == set(words[2:])
    assert sorted(os.listdir(notebooks)) == ["dc_gan.cn.ipynb", "dc_gan.ipynb"]
    assert "127.0.0.1:8888" in result.stderr  # where to open it, with -p 127.0.0.1:8888:8888
    # words after `notebook` are Jupyter's
    result, _ = entry("notebook", "--version")
    assert result.stdout.split()[-1] == "--version"


def test_the_entry_point_keeps_a_notebook_saved_in_the_volume(entry):
    _, notebooks = entry("notebook")
    (notebooks / "dc_gan.ipynb").write_text("saved by the learner")
    (notebooks / "dc_gan.cn.ipynb").unlink()
    result, _ = entry("notebook")
    assert result.returncode == 0, result.stderr
    assert (notebooks / "dc_gan.ipynb").read_text() == "saved by the learner"
    assert (notebooks / "dc_gan.cn.ipynb").read_text() == "the image's dc_gan.cn.ipynb"


def test_the_entry_point_says_so_when_the_notebooks_folder_cannot_be_written(entry):
    _, notebooks = entry()
    notebooks.rmdir()  # as unwritable as a missing folder, also for root
    result, _ = entry("notebook")
    assert result.returncode == 1 and "jupyter" not in result.stdout
    assert "cannot write" in result.stderr and str(notebooks) in result.stderr


def test_jupyter_keeps_its_token_and_its_xsrf_checks():
    """The Book's image ran Jupyter with an empty token and XSRF checks off; this one changes neither."""
    for name in ("Dockerfile", ENTRYPOINT_SCRIPT):
        text = read(name)
        for weakening in ("token=", "IdentityProvider", "disable_check_xsrf", "password", "allow_origin",
                          "--allow-root", "JUPYTER_TOKEN"):
            assert weakening not in text.replace("tree?token=...", ""), (name, weakening)
    assert instructions("EXPOSE") == ["8888"]


def test_the_images_mnist_comes_from_paddles_mirror_by_default():
    from dcgan_port.data import MNIST_URL
    assert "MNIST_URL=" + MNIST_URL in instructions("ARG")


def write_split(folder, split, count=40):
    images, labels = tiny_digits(count)
    stem = "t10k" if split == "test" else "train"
    write_idx(str(folder / "{}-images-idx3-ubyte.gz".format(stem)), images, IDX_IMAGES_MAGIC)
    write_idx(str(folder / "{}-labels-idx1-ubyte.gz".format(stem)), labels, IDX_LABELS_MAGIC)


def settings_cell(path):
    with open(path, encoding="utf-8") as f:
        notebook = json.load(f)
    (cell,) = [c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", [])]
    return notebook, "".join(cell["source"])


def test_the_build_stocks_mnist_from_docker_mnist_and_sets_the_notebooks_to_read_it(tmp_path, capsys):
    stock = load_stock()
    mnist, cache = tmp_path / "mnist", tmp_path / "cache"
    mnist.mkdir()
    write_split(mnist, "test")  # not the originals: paddle's md5 differs, so nothing goes into the cache
    for name in ("dc_gan.ipynb", "dc_gan.cn.ipynb"):
        (tmp_path / name).write_text(read(name), encoding="utf-8")
    notebooks = [str(tmp_path / name) for name in ("dc_gan.ipynb", "dc_gan.cn.ipynb")]
    stock.main([str(mnist), str(cache), ""] + notebooks)
    assert not cache.exists()
    for name in ("dc_gan.ipynb", "dc_gan.cn.ipynb"):
        notebook, text = settings_cell(tmp_path / name)
        original, original_text = settings_cell(os.path.join(ROOT, name))
        values, original_values = (
            {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(t).body}
            for t in (text, original_text))
        assert values["data_dir"] == str(mnist) and values["mnist_split"] == "test"
        # the other settings and every other cell as the committed notebook has them
        assert dict(original_values, data_dir=str(mnist), mnist_split="test") == values
        assert [c for c in notebook["cells"] if "parameters" not in c["metadata"].get("tags", [])] == \
            [c for c in original["cells"] if "parameters" not in c["metadata"].get("tags", [])]
    assert "the test split" in capsys.readouterr().out


def test_original_mnist_files_are_linked_into_paddles_cache_and_the_training_split_read(tmp_path,
                                                                                        monkeypatch):
    stock = load_stock()
    mnist, cache = tmp_path / "mnist", tmp_path / "cache"
    mnist.mkdir()
    write_split(mnist, "train")
    write_split(mnist, "test")
    images = mnist / "t10k-images-idx3-ubyte.gz"
    # as though the test images were the original: their md5 is paddle's
    table = {split: tuple((stem, stock.md5(str(images)) if stem.startswith("t10k-images") else md5)
                          for stem, md5 in files) for split, files in stock.MNIST_FILES.items()}
    monkeypatch.setattr(stock, "MNIST_FILES", table)
    (tmp_path / "dc_gan.ipynb").write_text(read("dc_gan.ipynb"), encoding="utf-8")
    stock.main([str(mnist), str(cache), "", str(tmp_path / "dc_gan.ipynb")])
    assert os.listdir(cache) == ["t10k-images-idx3-ubyte.gz"]
    assert os.readlink(cache / "t10k-images-idx3-ubyte.gz") == str(images)
    assert 'mnist_split = "train"' in settings_cell(tmp_path / "dc_gan.ipynb")[1]


def test_the_build_stops_when_the_image_would_hold_no_mnist_split(tmp_path):
    stock = load_stock()
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"only the images"))
    # nothing to download from: a port on this machine that nothing listens on
    with pytest.raises(SystemExit, match="no whole MNIST split.*docker/mnist/"):
        stock.stock_mnist(str(tmp_path / "mnist"), str(tmp_path / "cache"), "http://127.0.0.1:9/")
