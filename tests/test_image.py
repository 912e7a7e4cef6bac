"""The Docker image built and run for real: a Docker engine (started here where none runs, and stopped
again), the image built on PaddlePaddle's official base where it can be pulled, else on a STAND-IN base
built from Debian's packages by tests/image/make_standin_base.sh (never tagged with the official name),
then trained, stopped, resumed, drawn with and run read-only, all offline, as uid 1000, MNIST's test
split bind-mounted read-only. Skipped, with the reason, only where no engine can be started. Every
container, volume and image tag these tests make is theirs, named dcgan-imagetest-*, and removed after.
The timings of each part are printed (pytest -s) and written to the log DCGAN_IMAGE_TIMINGS names."""
import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import importlib.util
import time
import urllib.error
import urllib.request
import uuid

import pytest

from conftest import ROOT, SHARED_MNIST, read
from dcgan_port.data import MNIST_URL

pytestmark = pytest.mark.slow  # minutes of building and running the image
STANDIN_SCRIPT = os.path.join(ROOT, "tests", "image", "make_standin_base.sh")
_spec = importlib.util.spec_from_file_location("bench_cpu", os.path.join(ROOT, "bench", "cpu.py"))
bench_cpu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_cpu)
RUN_ID = uuid.uuid4().hex[:8]
PREFIX = "dcgan-imagetest-" + RUN_ID
IMAGE = PREFIX + ":latest"
MNIST_MOUNT = ["-v", "{}:/mnist:ro".format(os.path.abspath(SHARED_MNIST))]
TINY = ["--batch_size", "32", "--max_batches", "20", "--epoch", "1", "--mnist_split", "test",
        "--data_dir", "/mnist"]
SMALLER = TINY[:3] + ["5"] + TINY[4:]
OUTPUT = "/app/output_dcgan"
CACHE = "/home/gan/.cache/paddle"
DOCKER_STOP_GRACE = 10  # seconds: docker stop's default before it kills


def paddle_pin():
    (pin,) = re.findall(r'^paddlepaddle==(\S+); python_version < "3.13"$', read("requirements.txt"), re.M)
    return pin


def timing(what, seconds):
    line = "image test timing: {}: {:.1f} s ({}, {} cores)".format(what, seconds, bench_cpu.cpu_model(),
                                                               os.cpu_count())
    print(line)
    log = os.environ.get("DCGAN_IMAGE_TIMINGS")
    if log:
        with open(log, "a") as f:
            f.write(line + "\n")


def docker(*args, check=True, timeout=600, **kwargs):
    result = subprocess.run(["docker"] + [str(a) for a in args], capture_output=True, text=True,
                            timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        pytest.fail("docker {} failed ({}):\n{}{}".format(
            " ".join(map(str, args))[:300], result.returncode, result.stdout[-2000:], result.stderr[-3000:]))
    return result


def engine_answers():
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def engine():
    """A running Docker engine: the one that runs, or dockerd started here (and stopped after)."""
    if shutil.which("docker") is None:
        pytest.skip("no docker command here (as root: apt-get install docker.io)")
    if engine_answers():
        yield None
        return
    dockerd = shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/usr/bin")
    if dockerd is None:
        pytest.skip("no Docker engine runs here and there is no dockerd to start (as root: apt-get "
                    "install docker.io)")
    if os.geteuid() != 0:
        pytest.skip("no Docker engine runs here and only root can start dockerd")
    log = tempfile.NamedTemporaryFile(prefix="dcgan-imagetest-dockerd-", suffix=".log", delete=False)
    started = time.time()
    process = subprocess.Popen([dockerd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not engine_answers():
            if process.poll() is not None or time.time() - started > 90:
                with open(log.name, errors="replace") as f:
                    tail = f.read()[-3000:]
                pytest.fail("dockerd, started by the test, did not answer within 90 s:\n" + tail)
            time.sleep(0.5)
        timing("starting dockerd", time.time() - started)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        os.remove(log.name)


@pytest.fixture(scope="session")
def base(engine):
    """(name, tag) of the base image: paddlepaddle/paddle:<pin> where the engine has it or can pull it,
    else the stand-in, built once per machine and reused while it exists."""
    pin = paddle_pin()
    official = "paddlepaddle/paddle:" + pin
    if docker("image", "inspect", official, check=False).returncode == 0 or \
            docker("pull", official, check=False, timeout=1800).returncode == 0:
        print("image tests on the official base " + official)
        return "paddlepaddle/paddle", pin
    standin = "dcgan-standin-paddle:" + pin
    if docker("image", "inspect", standin, check=False).returncode != 0:
        if os.geteuid() != 0 or shutil.which("debootstrap", path=os.environ.get("PATH", "") + ":/usr/sbin") \
                is None:
            pytest.skip("{} cannot be pulled here, and its stand-in {} is not built: run "
                        "tests/image/make_standin_base.sh once as root (apt-get install debootstrap)".format(
                            official, standin))
    started = time.time()
    made = subprocess.run([STANDIN_SCRIPT], capture_output=True, text=True, timeout=3600)
    if made.returncode != 0:
        pytest.fail("{} cannot be pulled, and the stand-in base could not be built:\n{}".format(
            official, made.stderr[-3000:]))
    standin = made.stdout.strip().splitlines()[-1]
    assert standin.startswith("dcgan-standin-paddle:") and not standin.startswith("paddlepaddle/")
    timing("the stand-in base ({})".format("reused" if "exists already" in made.stderr else "built"),
           time.time() - started)
    print("image tests on the STAND-IN base {} ({} cannot be pulled here)".format(standin, official))
    return standin.split(":")[0], pin


BUILD_MNIST = os.path.join(ROOT, "docker", "mnist")  # MNIST's files for a build that cannot download them


def shared_mnist_files():
    return sorted(name for name in os.listdir(SHARED_MNIST) if re.fullmatch(
        r"(t10k|train)-(images-idx3|labels-idx1)-ubyte(\.gz)?", name)) if os.path.isdir(SHARED_MNIST) else []


@contextlib.contextmanager
def mnist_for_the_build():
    """The build arguments that put MNIST in the image: the shared split, copied into docker/mnist/ for
    the build (and removed after; files a user put there stay) with no download tried, as where MNIST's
    servers cannot be reached; without a shared split the build downloads MNIST itself."""
    files = shared_mnist_files()
    placed = [name for name in files if not os.path.exists(os.path.join(BUILD_MNIST, name))]
    try:
        for name in placed:
            shutil.copyfile(os.path.join(SHARED_MNIST, name), os.path.join(BUILD_MNIST, name))
        yield ["--build-arg", "MNIST_URL="] if files else []
    finally:
        for name in placed:
            os.remove(os.path.join(BUILD_MNIST, name))


def mnist_server_answers(timeout=10):
    """Whether the build could download MNIST from the Dockerfile's default MNIST_URL (the same)."""
    request = urllib.request.Request(MNIST_URL + "t10k-labels-idx1-ubyte.gz", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def image(base):
    if not shared_mnist_files() and not mnist_server_answers():
        pytest.skip("the image holds MNIST, and here it has none to take: the real split is not in {} "
                    "(set DCGAN_MNIST_DIR) and {} cannot be reached".format(SHARED_MNIST, MNIST_URL))
    started = time.time()
    with mnist_for_the_build() as mnist_args:
        docker("build", "--network", "host", "--build-arg", "PADDLE_IMAGE=" + base[0],
               "--build-arg", "PADDLE_TAG=" + base[1], *mnist_args, "-t", IMAGE, ROOT, timeout=1800)
    timing("building the project's image", time.time() - started)
    yield IMAGE
    docker("image", "rm", "-f", IMAGE, check=False)


@pytest.fixture(scope="session")
def mnist():
    if not os.path.isfile(os.path.join(SHARED_MNIST, "t10k-images-idx3-ubyte.gz")):
        pytest.skip("the real MNIST test split is not in {} (set DCGAN_MNIST_DIR to a folder with "
                    "MNIST's t10k files)".format(SHARED_MNIST))
    return SHARED_MNIST


class Volumes:
    """Named volumes of this test run, removed after it."""

    def __init__(self):
        self.names = []

    def new(self, what):
        name = "{}-{}-{}".format(PREFIX, what, len(self.names))
        docker("volume", "create", name)
        self.names.append(name)
        return name


@pytest.fixture
def volumes(engine):
    made = Volumes()
    yield made
    for name in made.names:
        docker("volume", "rm", "-f", name, check=False)


@contextlib.contextmanager
def container_named(what):
    name = "{}-{}".format(PREFIX, what)
    try:
        yield name
    finally:
        docker("rm", "-f", "-v", name, check=False)  # with its anonymous volume (the cache)


def run(image, *args, docker_flags=(), timeout=900):
    """docker run --rm, offline: the image's flags after its name."""
    started = time.time()
    result = docker("run", "--rm", "--network", "none", *docker_flags, image, *args, check=False,
                    timeout=timeout)
    return result, time.time() - started


def in_volume(image, volume, code, mount=OUTPUT):
    """Run Python in the image (as its user) on a volume, offline: what the script leaves there."""
    return docker("run", "--rm", "--network", "none", "-v", "{}:{}".format(volume, mount), "--entrypoint",
                  "python", image, "-c", code).stdout


CHECKPOINT_STATE = ("import numpy as np, os; d = np.load('{}/checkpoint.npz'); "
                    "print(len(d.files), int(d['state/epoch']), int(d['state/batch']), "
                    "os.stat('{}/checkpoint.npz').st_uid)".format(OUTPUT, OUTPUT))


def listing(image, volume):
    return set(in_volume(image, volume, "import os; print('\\n'.join(os.listdir('{}')))".format(
        OUTPUT)).split())


def test_a_tiny_run_trains_offline_as_uid_1000_into_a_named_volume(image, mnist, volumes):
    output = volumes.new("tiny")
    result, seconds = run(image, *TINY, docker_flags=["-v", output + ":" + OUTPUT] + MNIST_MOUNT)
    timing("a tiny run (20 batches of 32)", seconds)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "done: 20 batches" in result.stdout
    files = listing(image, output)
    assert {"checkpoint.npz", "generator.pdmodel", "generator.pdiparams", "losses.png", "progress.gif",
            "0000_0000.png", "0000_0010.png"} <= files, files
    count, epoch, batch, uid = map(int, in_volume(image, output, CHECKPOINT_STATE).split())
    assert (epoch, batch, uid) == (1, 0, 1000)
    assert docker("run", "--rm", "--network", "none", "--entrypoint", "id", image, "-u").stdout.strip() \
        == "1000"


def readme_docker_runs():
    """The README's `docker run` lines of the CPU image that train, in both languages."""
    lines = []
    for name in ("README.md", "README.cn.md"):
        for line in read(name).splitlines():
            line = line.strip()
            if line.startswith("docker run ") and "--gpus" not in line and "paddlepaddle/" not in line \
                    and not line.endswith(" notebook") and line not in lines:  # Jupyter's: tested below
                lines.append(line)
    return lines


def test_the_readmes_docker_run_lines_run_with_flags_after_the_image_name(image, mnist, volumes):
    """Each line as written, its volumes and image renamed to this test's, kept offline and small: after
    the line's own flags, the test split from a read-only mount (the shared copy is re-compressed, so it
    cannot stand in for paddle's md5-checked download in the cache volume), one batch of 32 an epoch."""
    lines = readme_docker_runs()
    assert len(lines) >= 2, lines
    cache = volumes.new("readme-cache")
    for number, line in enumerate(lines):
        output = volumes.new("readme-output-{}".format(number))  # each line a new run, not onto the last
        words = shlex.split(line)
        assert words[:2] == ["docker", "run"] and "dcgan" in words
        at = words.index("dcgan")
        before, flags = words[2:at], words[at + 1:]
        renamed = [{"dcgan-output:" + OUTPUT: output + ":" + OUTPUT,
                    "paddle-cache:" + CACHE: cache + ":" + CACHE}.get(w, w) for w in before]
        assert renamed != before, line  # the line mounts the README's volumes, renamed here
        started = time.time()
        result = docker("run", "--network", "none", *MNIST_MOUNT, *renamed, image, *flags, "--data_dir",
                        "/mnist", "--mnist_split", "test", "--batch_size", "32", "--max_batches", "1",
                        check=False, timeout=900)
        timing("README line `{}` (1 batch of 32 an epoch)".format(line), time.time() - started)
        assert result.returncode == 0, line + "\n" + result.stdout[-2000:] + result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        epochs = int(flags[flags.index("--epoch") + 1]) if "--epoch" in flags else 20
        assert "epoch: {}".format(epochs) in result.stdout  # the flags reached the script
    assert "checkpoint.npz" in listing(image, output)


def seconds_between(start, end):
    """Seconds between two of docker logs -t's stamps (2026-12-02T07:40:01.123456789Z)."""
    def seconds(stamp):
        clock = stamp.rstrip("Z").split("T")[1]
        hours, minutes, rest = clock.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(rest[:12])
    return (seconds(end) - seconds(start)) % 86400


def logs(name):
    result = docker("logs", name, check=False)
    return result.stdout + result.stderr


STOPPED_RUN_BATCHES = 30  # stopped after batch 10: the stop must come while batches are left


def test_docker_stop_saves_a_whole_checkpoint_that_a_new_container_resumes(image, mnist, volumes):
    """docker stop sends SIGTERM to the script (PID 1): it finishes its batch, saves and exits well inside
    docker's 10 s grace, at batch 128 on 2 cores; a new container continues the run."""
    output = volumes.new("stopped")
    with container_named("stopped") as name:
        docker("run", "-d", "--name", name, "--network", "none", "-v", output + ":" + OUTPUT, *MNIST_MOUNT,
               image, "--batch_size", "128", "--max_batches", str(STOPPED_RUN_BATCHES), "--epoch", "1",
               "--mnist_split", "test", "--data_dir", "/mnist", "--save_every_minutes", "0")
        deadline = time.time() + 600
        while "Batch ID=10 " not in logs(name):
            assert time.time() < deadline, logs(name)
            assert docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true", logs(name)
            time.sleep(0.5)
        started = time.time()
        docker("stop", name)  # SIGTERM, then SIGKILL after DOCKER_STOP_GRACE seconds
        stop_seconds = time.time() - started
        status = int(docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout)
        log = logs(name)
        stamped = docker("logs", "-t", name).stderr.splitlines()
    timing("docker stop at batch 128 (signal to exit)", stop_seconds)
    # the script's own lines: when it heard the signal, and when everything was saved
    heard = [line.split()[0] for line in stamped if "stopping after this batch" in line]
    saved = [line.split()[0] for line in stamped if "everything is saved" in line]
    if heard and saved:
        timing("the signal heard to everything saved (the batch's rest, then the save)",
               seconds_between(heard[0], saved[-1]))
    # 143, not 137: the script exited before docker's grace ran out and it was killed
    assert status == 128 + 15, "exit status {} (137: killed at the end of docker's grace)\n{}".format(
        status, log[-3000:])
    assert "Traceback" not in log
    count, epoch, batch, uid = map(int, in_volume(image, output, CHECKPOINT_STATE).split())
    assert epoch == 0 and 10 < batch < STOPPED_RUN_BATCHES and uid == 1000
    assert {"generator.pdmodel", "generator.pdiparams", "losses.png", "progress.gif"} <= \
        listing(image, output)

    result, seconds = run(image, "--resume", docker_flags=["-v", output + ":" + OUTPUT] + MNIST_MOUNT)
    timing("resuming the stopped run in a new container ({} batches)".format(STOPPED_RUN_BATCHES - batch),
           seconds)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "resuming" in result.stdout and "epoch 0 batch {}".format(batch) in result.stdout
    assert "done: {} batches".format(STOPPED_RUN_BATCHES - batch) in result.stdout
    assert in_volume(image, output, CHECKPOINT_STATE).split()[1:3] == ["1", "0"]

    drawn, seconds = run(image, "--generate", "64", docker_flags=["-v", output + ":" + OUTPUT])
    timing("--generate 64 in a new container", seconds)
    assert drawn.returncode == 0, drawn.stdout[-2000:] + drawn.stderr[-3000:]
    shape = in_volume(image, output, "import numpy as np; print(np.load('{}/generated.npy').shape)".format(
        OUTPUT)).strip()
    assert shape == "(64, 784)"
    assert "generated.png" in listing(image, output)


def test_a_read_only_container_trains_from_data_dir_and_answers_help(image, mnist, volumes):
    """docker run --read-only: ~ and the temporary folder cannot be written. With the cache volume the
    run keeps paddle's and matplotlib's caches there; with that volume read-only too, nothing can be
    written outside the output volume, and a --data_dir run still trains; only a download, which would
    need the cache, is refused in one line."""
    cache = volumes.new("readonly-cache")
    for cache_mount in (cache + ":" + CACHE, cache + ":" + CACHE + ":ro"):
        output = volumes.new("readonly-output")  # each run a new one: a run never lands on another
        flags = ["--read-only", "-v", output + ":" + OUTPUT, "-v", cache_mount] + MNIST_MOUNT
        helped, _ = run(image, "--help", docker_flags=flags)
        assert helped.returncode == 0 and "--generate N" in helped.stdout, helped.stderr[-3000:]
        assert helped.stderr == ""
        result, seconds = run(image, *SMALLER, docker_flags=flags)
        timing("5 batches of 32, --read-only, cache volume {}".format(
            "read-only" if cache_mount.endswith(":ro") else "writable"), seconds)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        assert "Traceback" not in result.stderr and "done: 5 batches" in result.stdout
    # an empty, read-only cache: not filled from the image's (which holds MNIST where the build
    # downloaded the originals)
    empty = volumes.new("readonly-empty-cache")
    flags = ["--read-only", "-v", output + ":" + OUTPUT,
             "--mount", "type=volume,source={},target={},readonly,volume-nocopy".format(empty, CACHE)]
    refused, _ = run(image, "--mnist_split", "test", docker_flags=flags)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr[-3000:]
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("dc_gan.py: error: MNIST test split not in ") and "--data_dir" in line


def test_a_batch_too_large_for_the_containers_memory_limit_is_refused_in_one_line(image, mnist):
    result, _ = run(image, "--batch_size", "1024", "--mnist_split", "test", "--data_dir", "/mnist",
                    docker_flags=["--memory", "1g", "--memory-swap", "1g"] + MNIST_MOUNT)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-3000:]
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("dc_gan.py: error: --batch_size 1024 needs about ") and "memory" in line
    # the limit, not the machine's memory, and a batch that fits under it
    assert re.search(r"can have (0\.\d|1\.[01]) GB; pass --batch_size \d\d or less", line), line


def test_the_gpu_image_builds_where_its_base_can_be_pulled(engine):
    """The GPU build needs PaddlePaddle's official GPU base, which has no stand-in: built where the engine
    has it or can pull it; here its arguments are checked by tests/test_docker.py."""
    (tag,) = set(re.findall(r"--build-arg PADDLE_TAG=(\S+)", read("README.md")))
    base = "paddlepaddle/paddle:" + tag
    if docker("image", "inspect", base, check=False).returncode != 0 and \
            docker("pull", base, check=False, timeout=3600).returncode != 0:
        pytest.skip("the GPU base {} cannot be pulled here (no Docker Hub); tests/test_docker.py checks "
                    "the GPU build's arguments".format(base))
    docker("build", "--network", "host", "--build-arg", "PADDLE_TAG=" + tag, "-t", PREFIX + "-gpu", ROOT,
           timeout=3600)
    docker("image", "rm", "-f", PREFIX + "-gpu", check=False)


# ---------------------------------------------------------------------------------------------------
# docker run -p 127.0.0.1:8888:8888 IMAGE notebook: Jupyter on the chapter's notebooks
# ---------------------------------------------------------------------------------------------------
NOTEBOOKS = "/app/notebooks"  # the work volume Jupyter serves
IMAGE_MNIST = "/app/mnist"
TOKEN_URL = re.compile(r"http://127\.0\.0\.1:8888/tree\?token=([0-9a-f]{32,})\b")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, method="GET", body=None, headers=None, opener=None):
    """(status, headers, body) of a request, redirects not followed."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    handlers = [NoRedirect()] + ([opener] if opener else [])
    request = urllib.request.Request(url, method=method, headers=headers or {},
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=60) as answer:
            return answer.status, answer.headers, answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8", "replace")


def expected_split():
    """The split the image's notebooks read: the training split where the build had it."""
    files = shared_mnist_files()
    return "train" if not files or any(name.startswith("train-") for name in files) else "test"


def test_notebook_serves_the_chapter_with_its_token_only_and_saves_work_in_the_volume(image, volumes):
    """As the README says: docker run -p 127.0.0.1:8888:8888 IMAGE notebook. The URL with the token is
    in the log; the notebooks answer with it, and without it (or with another) are refused; a browser's
    session saves only with its XSRF token, into the volume, where a new container keeps it."""
    work, port = volumes.new("notebooks"), free_port()
    with container_named("notebook") as name:
        started = time.time()
        docker("run", "-d", "--name", name, "-p", "127.0.0.1:{}:8888".format(port),
               "-v", work + ":" + NOTEBOOKS, image, "notebook")
        while not TOKEN_URL.search(logs(name)):
            assert time.time() - started < 180, logs(name)
            assert docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() == "true", logs(name)
            time.sleep(0.5)
        timing("Jupyter up, its URL in the log", time.time() - started)
        token = TOKEN_URL.search(logs(name)).group(1)
        # the server runs as the image's user, and says where it serves from
        assert docker("exec", name, "stat", "-c", "%u", "/proc/1").stdout.strip() == "1000"
        assert "jupyter-notebook" in docker("exec", name, "cat", "/proc/1/cmdline").stdout
        assert "Serving notebooks from local directory: " + NOTEBOOKS in logs(name)
        site = "http://127.0.0.1:{}".format(port)

        for notebook in ("dc_gan.ipynb", "dc_gan.cn.ipynb"):
            status, _, body = http("{}/api/contents/{}?token={}".format(site, notebook, token))
            assert status == 200, body[:1000]
            content = json.loads(body)
            assert content["type"] == "notebook" and content["writable"]
            (settings,) = [c["source"] for c in content["content"]["cells"]
                           if "parameters" in c["metadata"].get("tags", [])]
            assert 'data_dir = "{}"'.format(IMAGE_MNIST) in settings
            assert 'mnist_split = "{}"'.format(expected_split()) in settings
            status, _, page = http("{}/notebooks/{}?token={}".format(site, notebook, token))
            assert status == 200 and "<title>Jupyter Notebook" in page, page[:1000]
            # refused without the token, or with another
            status, headers, _ = http("{}/notebooks/{}".format(site, notebook))
            assert status == 302 and "/login?" in headers["Location"]
            for refused in ("{}/api/contents/{}".format(site, notebook),
                            "{}/api/contents/{}?token={}".format(site, notebook, "0" * len(token))):
                assert http(refused)[0] == 403, refused
        assert http("{}/api/kernels".format(site), method="POST", body={"name": "python3"})[0] == 403

        # a browser's session: the token once, then cookies; saving needs the XSRF token too
        cookies = urllib.request.HTTPCookieProcessor()
        assert http("{}/tree?token={}".format(site, token), opener=cookies)[0] == 200
        xsrf = {c.name: c.value for c in cookies.cookiejar}["_xsrf"]
        status, _, body = http("{}/api/contents/dc_gan.ipynb".format(site), opener=cookies)
        assert status == 200, body[:1000]
        saved = json.loads(body)["content"]
        saved["cells"].insert(0, {"cell_type": "markdown", "metadata": {},
                                  "source": "saved by " + RUN_ID})
        change = {"type": "notebook", "format": "json", "content": saved}
        url = "{}/api/contents/dc_gan.ipynb".format(site)
        status, _, body = http(url, "PUT", change, {"Content-Type": "application/json"}, opener=cookies)
        assert status == 403 and "_xsrf" in body, body[:1000]
        status, _, body = http(url, "PUT", change, {"Content-Type": "application/json",
                                                    "X-XSRFToken": xsrf}, opener=cookies)
        assert status == 200, body[:1000]
        started = time.time()
        docker("stop", name)
        timing("docker stop of Jupyter", time.time() - started)
        status = int(docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout)
        assert status in (0, 128 + 15), "exit status {}\n{}".format(status, logs(name)[-3000:])
    # the saved notebook is in the volume, and a new container leaves it as saved
    result, _ = run(image, "notebook", "--version", docker_flags=["-v", work + ":" + NOTEBOOKS])
    assert result.returncode == 0, result.stderr[-3000:]
    kept = json.loads(in_volume(image, work, "print(open('{}/dc_gan.ipynb').read())".format(NOTEBOOKS),
                                mount=NOTEBOOKS))
    assert "".join(kept["cells"][0]["source"]) == "saved by " + RUN_ID
    assert {"dc_gan.ipynb", "dc_gan.cn.ipynb"} <= set(in_volume(
        image, work, "import os; print('\\n'.join(os.listdir('{}')))".format(NOTEBOOKS),
        mount=NOTEBOOKS).split())


RUN_NOTEBOOK = """
import json, nbclient, nbformat
nb = nbformat.read("/app/chapter/dc_gan.cn.ipynb", as_version=4)
(cell,) = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
cell.source += "\\nepoch = 1; batch_size = 32; max_batches = 11  # the test's tiny run\\n"
nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                        resources={"metadata": {"path": "/app/notebooks"}}).execute()
nbformat.write(nb, "/app/notebooks/executed.ipynb")
"""


def test_the_chinese_notebook_runs_in_the_container_offline_on_the_images_mnist(image, volumes):
    """Run all, as nbclient (in the image with Jupyter) runs it, offline: the settings cell reads the
    image's MNIST; a tiny run of 11 batches prints its loss lines and shows the grids."""
    work = volumes.new("executed")
    result, seconds = run(image, "-c", RUN_NOTEBOOK, docker_flags=[
        "-v", work + ":" + NOTEBOOKS, "--entrypoint", "python"], timeout=1200)
    timing("the Chinese notebook run in the container (11 batches of 32)", seconds)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    executed = json.loads(in_volume(image, work, "print(open('{}/executed.ipynb').read())".format(
        NOTEBOOKS), mount=NOTEBOOKS))
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    text = "".join("".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream")
    assert re.search(r"^Epoch ID=0 Batch ID=10 D-Loss=[\d.]+ DG-Loss=[\d.]+", text, re.M), text[-3000:]
    assert "done: 11 batches" in text, text[-3000:]
    pictures = [o for o in outputs if "image/png" in o.get("data", {}) or "image/gif" in o.get("data", {})]
    assert len(pictures) >= 3, len(pictures)  # grids, the loss curve, display_image, generated digits
    assert {"0000_0000.png", "0000_0010.png", "losses.png", "checkpoint.npz"} <= set(in_volume(
        image, work, "import os; print('\\n'.join(os.listdir('{}/output_dcgan')))".format(NOTEBOOKS),
        mount=NOTEBOOKS).split())
