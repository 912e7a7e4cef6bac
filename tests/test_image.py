"""The Docker image built and run for real: a Docker engine (started here where none runs, and stopped
again), the image built on PaddlePaddle's official base where it can be pulled, else on a STAND-IN base
built from Debian's packages by tests/image/make_standin_base.sh (never tagged with the official name),
then trained, stopped, resumed, drawn with and run read-only, all offline, as uid 1000, MNIST's test
split bind-mounted read-only. Skipped, with the reason, only where no engine can be started. Every
container, volume and image tag these tests make is theirs, named dcgan-imagetest-*, and removed after.
The timings of each part are printed (pytest -s) and written to the log DCGAN_IMAGE_TIMINGS names."""
import contextlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import ROOT, SHARED_MNIST, read

STANDIN_SCRIPT = os.path.join(ROOT, "tests", "image", "make_standin_base.sh")
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
    line = "image test timing: {}: {:.1f} s (AMD EPYC Zen 4 here, 2 cores)".format(what, seconds)
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


@pytest.fixture(scope="session")
def image(base):
    started = time.time()
    docker("build", "--network", "host", "--build-arg", "PADDLE_IMAGE=" + base[0],
           "--build-arg", "PADDLE_TAG=" + base[1], "-t", IMAGE, ROOT, timeout=1800)
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
    """The README's `docker run` lines of the CPU image, in both languages."""
    lines = []
    for name in ("README.md", "README.cn.md"):
        for line in read(name).splitlines():
            line = line.strip()
            if line.startswith("docker run ") and "--gpus" not in line and "paddlepaddle/" not in line \
                    and line not in lines:
                lines.append(line)
    return lines


def test_the_readmes_docker_run_lines_run_with_flags_after_the_image_name(image, mnist, volumes):
    """Each line as written, its volumes and image renamed to this test's, kept offline and small: after
    the line's own flags, the test split from a read-only mount (the shared copy is re-compressed, so it
    cannot stand in for paddle's md5-checked download in the cache volume), one batch of 32 an epoch."""
    lines = readme_docker_runs()
    assert len(lines) >= 2, lines
    output, cache = volumes.new("readme-output"), volumes.new("readme-cache")
    for line in lines:
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


def test_docker_stop_saves_a_whole_checkpoint_that_a_new_container_resumes(image, mnist, volumes):
    """docker stop sends SIGTERM to the script (PID 1): it finishes its batch, saves and exits well inside
    docker's 10 s grace, at batch 128 on 2 cores; a new container continues the run."""
    output = volumes.new("stopped")
    with container_named("stopped") as name:
        docker("run", "-d", "--name", name, "--network", "none", "-v", output + ":" + OUTPUT, *MNIST_MOUNT,
               image, "--batch_size", "128", "--max_batches", "16", "--epoch", "1", "--mnist_split",
               "test", "--data_dir", "/mnist", "--save_every_minutes", "0")
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
    assert status == 128 + 15, "exit status {} (137: killed at the end of docker's grace)\n{}".format(
        status, log[-3000:])
    assert stop_seconds < DOCKER_STOP_GRACE, log[-3000:]  # finishing the batch takes longest on a busy CPU
    assert "Traceback" not in log
    count, epoch, batch, uid = map(int, in_volume(image, output, CHECKPOINT_STATE).split())
    assert epoch == 0 and 10 < batch < 16 and uid == 1000
    assert {"generator.pdmodel", "generator.pdiparams", "losses.png", "progress.gif"} <= \
        listing(image, output)

    result, seconds = run(image, "--resume", docker_flags=["-v", output + ":" + OUTPUT] + MNIST_MOUNT)
    timing("resuming the stopped run in a new container ({} batches)".format(16 - batch), seconds)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "resuming" in result.stdout and "epoch 0 batch {}".format(batch) in result.stdout
    assert "done: {} batches".format(16 - batch) in result.stdout
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
    output, cache = volumes.new("readonly-output"), volumes.new("readonly-cache")
    for cache_mount in (cache + ":" + CACHE, cache + ":" + CACHE + ":ro"):
        flags = ["--read-only", "-v", output + ":" + OUTPUT, "-v", cache_mount] + MNIST_MOUNT
        helped, _ = run(image, "--help", docker_flags=flags)
        assert helped.returncode == 0 and "--generate N" in helped.stdout, helped.stderr[-3000:]
        assert helped.stderr == ""
        result, seconds = run(image, *SMALLER, docker_flags=flags)
        timing("5 batches of 32, --read-only, cache volume {}".format(
            "read-only" if cache_mount.endswith(":ro") else "writable"), seconds)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        assert "Traceback" not in result.stderr and "done: 5 batches" in result.stdout
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
