"""Every way a run can end keeps its work (dcgan_port.stopping): a closed standard output saves as a stop
signal does, and so does a signal whose outputs die with it; a second signal stops at once with the last
save whole; a stop while starting, building the programs or drawing is one line and leaves nothing
half-written; a vanished output folder is one line; files are on disk before they replace the old ones;
and one run holds its folder whatever is deleted in it."""
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from conftest import GENERATOR_FILES, ROOT, assert_one_line_error, checkpoint
import dc_gan
from dcgan_port import output_folder
from dcgan_port.stopping import CLOSED_STDOUT, STOP_SIGNALS, StopRequests, Stopped

SCRIPT = os.path.join(ROOT, "dc_gan.py")


def start(*args):
    return subprocess.Popen([sys.executable, SCRIPT] + [str(a) for a in args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))


def read_until(process, prefix):
    for line in process.stdout:
        if line.startswith(prefix):
            return line
    raise AssertionError("the run ended before printing " + prefix)


def handles_signal(pid, signum):
    """Whether the process has a handler of its own for the signal (SigCgt of /proc/PID/status)."""
    with open("/proc/{}/status".format(pid)) as f:
        caught = next(line for line in f if line.startswith("SigCgt:")).split()[1]
    return bool(int(caught, 16) >> (signum - 1) & 1)


def wait_for(condition, process=None, seconds=600):
    """Until condition() holds. Fails, with what `process` printed, when it ends first or is still running
    at the deadline (then it is killed)."""
    deadline = time.time() + seconds
    while not condition():
        if process is not None and (process.poll() is not None or time.time() > deadline):
            process.kill()
            out, errors = process.communicate()
            raise AssertionError("the run {} (status {}): {}".format(
                "ended first" if time.time() <= deadline else "was still running", process.returncode,
                (out + errors)[-3000:]))
        assert time.time() < deadline
        time.sleep(0.05)


def leftovers(folder):
    return [name for name in os.listdir(folder) if output_folder.LEFTOVER.search(name)]


def test_a_closed_standard_output_finishes_the_batch_saves_and_says_so_on_stderr(tiny_mnist, tmp_path):
    # batches of 8: loss lines at batches 0 and 10 of 12; the reader goes away after the first
    process = start("--data_dir", tiny_mnist, "--batch_size", 8, "--epoch", 3, "--output", tmp_path)
    read_until(process, "Epoch ID=0 Batch ID=0 ")
    process.stdout.close()  # as `| head` does when it has its lines
    errors = process.stderr.read()
    process.wait(timeout=600)
    assert process.returncode == 128 + signal.SIGPIPE, errors
    assert "Traceback" not in errors and "BrokenPipeError" not in errors
    assert errors.splitlines()[-1].startswith("dc_gan.py: stopped by its standard output closing: "
                                              "everything is saved in {}".format(tmp_path))
    state = checkpoint(tmp_path)
    assert (int(state["state/epoch"]), int(state["state/batch"])) == (0, 11)  # the batch of the line
    assert os.path.isfile(tmp_path / "generator.pdiparams") and leftovers(tmp_path) == []


def assert_saved_at_the_batch_it_stopped(folder):
    state = checkpoint(folder)
    assert int(state["state/epoch"]) == 0 and 1 <= int(state["state/batch"]) < 11
    assert os.path.isfile(folder / "generator.pdiparams") and leftovers(folder) == []


def command(data, output):
    """A run of three epochs of 12 batches of 8, loss lines at batches 0 and 10."""
    return [sys.executable, SCRIPT] + [str(a) for a in ("--data_dir", data, "--batch_size", 8, "--epoch", 3,
                                                        "--output", output)]


def test_ctrl_c_on_a_pipe_of_both_outputs_that_dies_with_it_still_saves(tiny_mnist, tmp_path):
    """`dc_gan.py 2>&1 | tee log` and Ctrl-C: the signal reaches tee too, and the run's lines about
    stopping then meet a closed pipe, which is no second request."""
    process = subprocess.Popen(command(tiny_mnist, tmp_path), cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=dict(os.environ, PYTHONUNBUFFERED="1"))
    read_until(process, "Epoch ID=0 Batch ID=0 ")
    process.send_signal(signal.SIGINT)
    process.stdout.close()  # tee, gone
    process.wait(timeout=600)
    assert process.returncode == 128 + signal.SIGINT
    assert_saved_at_the_batch_it_stopped(tmp_path)


def test_an_output_that_closes_after_a_signal_is_no_second_request():
    """Ctrl-C in a batch that prints (every tenth): tee is gone by the time its line is printed."""
    with StopRequests() as stop, stop.finish_batch_first():
        stop.request(signal.SIGINT)
        stop.request(CLOSED_STDOUT)
        assert stop.signum == signal.SIGINT
        with pytest.raises(Stopped, match="by Ctrl-C: the last complete save is kept"):
            stop.request(signal.SIGINT)


@pytest.mark.slow  # SIGHUP's path is Ctrl-C's, which the tee test takes in the fast tier
@pytest.mark.skipif(not hasattr(os, "openpty"), reason="no pseudo-terminal on this system")
def test_a_hangup_whose_terminal_is_gone_still_saves(tiny_mnist, tmp_path):
    """A closed terminal or a dropped ssh: SIGHUP, then every write to the terminal fails (EIO)."""
    terminal, run_side = os.openpty()
    process = subprocess.Popen(command(tiny_mnist, tmp_path), cwd=ROOT, stdin=run_side,
                               stdout=run_side, stderr=run_side, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    os.close(run_side)
    with os.fdopen(terminal, "rb", buffering=0) as screen:
        seen = b""
        while b"Epoch ID=0 Batch ID=0 " not in seen:
            seen += screen.read(4096)
        process.send_signal(signal.SIGHUP)
    process.wait(timeout=600)
    assert process.returncode == 128 + signal.SIGHUP
    assert_saved_at_the_batch_it_stopped(tmp_path)


def test_a_second_signal_stops_at_once_and_keeps_the_last_complete_save(saved_run_copy):
    process = start("--resume", "--epoch", 1000, "--output", saved_run_copy)
    read_until(process, "Epoch ID=")
    process.send_signal(signal.SIGTERM)
    first_answer = process.stderr.readline()  # the rest of the batch and the save (a second) to come
    assert first_answer.startswith("stopping after this batch to save everything")
    process.send_signal(signal.SIGTERM)
    out, errors = process.communicate(timeout=600)
    assert process.returncode == 128 + signal.SIGTERM, errors
    assert "Traceback" not in errors
    assert errors.splitlines()[-1] == ("dc_gan.py: stopped by SIGTERM: the last complete save is "
                                       "kept")
    assert leftovers(saved_run_copy) == []
    assert int(checkpoint(saved_run_copy)["state/epoch"]) >= 1  # whole: the old one or a new one


def test_a_stop_while_the_programs_are_built_waits_for_them_then_stops_in_one_line(
        tiny_mnist, tmp_path, monkeypatch, capsys):
    """In PIR, a stop raised inside paddle's building crashed it (SystemError, or a segfault)."""
    build, built = dc_gan.build_programs, []

    def build_programs(**kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # where the handler would run, were the signal not held
        built.append(True)
        return build(**kwargs)

    monkeypatch.setattr(dc_gan, "build_programs", build_programs)
    status = dc_gan.main(["--data_dir", str(tiny_mnist), "--batch_size", "8", "--output",
                          str(tmp_path / "out")])
    assert status == 128 + signal.SIGINT and built == [True]
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "dc_gan.py: stopped by Ctrl-C: nothing more was saved")
    assert not (tmp_path / "out").exists()


def test_a_second_signal_inside_an_import_still_stops_in_one_line(monkeypatch, tmp_path, capsys):
    """The first grid imports matplotlib's compiled backend; a second signal landing there reaches
    main() as that import's failure, an ImportError caused by the stop."""
    def train_until_the_backend_loads(settings, stop):
        try:
            raise Stopped(signal.SIGTERM, "the last complete save is kept")
        except Stopped as e:
            raise ImportError("initialization failed") from e

    monkeypatch.setattr(dc_gan, "train", train_until_the_backend_loads)
    assert dc_gan.main(["--output", str(tmp_path / "out")]) == 128 + signal.SIGTERM
    assert capsys.readouterr().err.splitlines()[-1] == (
        "dc_gan.py: stopped by SIGTERM: the last complete save is kept")


def test_an_import_that_fails_on_its_own_is_not_taken_for_a_stop(monkeypatch, tmp_path):
    def train_without_a_module(settings, stop):
        raise ImportError("No module named 'missing'")

    monkeypatch.setattr(dc_gan, "train", train_without_a_module)
    with pytest.raises(ImportError, match="missing"):
        dc_gan.main(["--output", str(tmp_path / "out")])


def test_a_stop_while_starting_is_one_line_and_makes_no_output_folder(tiny_mnist, tmp_path):
    process = start("--data_dir", tiny_mnist, "--output", tmp_path / "out")
    # Python catches SIGINT itself from its first milliseconds, SIGHUP only the package does, once paddle
    # has loaded: once all three are caught, the package's handlers are in and main() has not begun
    wait_for(lambda: all(handles_signal(process.pid, signum) for signum in STOP_SIGNALS), process)
    process.send_signal(signal.SIGINT)
    out, errors = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGINT, errors
    lines = errors.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dc_gan.py: stopped by Ctrl-C"), errors
    assert not (tmp_path / "out").exists()


# SIGTERM is the one paddle's handler takes; the others take the package's path, in the slow tier
@pytest.mark.parametrize("signum", [
    signum if signum == signal.SIGTERM else pytest.param(signum, marks=pytest.mark.slow)
    for signum in STOP_SIGNALS], ids=lambda signum: signal.Signals(signum).name)
def test_a_stop_once_paddle_has_put_its_handlers_in_gets_the_packages_one_line(tmp_path, signum):
    """paddle puts handlers of its own on the stop signals as it loads (SIGTERM's prints a dozen lines of
    C++ stack); a stop sent once it has (the package's static_graph imported) waits for the package's."""
    script = tmp_path / "dc_gan.py"  # the package holds the signals for dc_gan.py only
    script.write_text(textwrap.dedent("""\
        import builtins, os, sys
        sys.path.insert(0, {root!r})
        load = builtins.__import__

        def load_then_stop(name, globals=None, locals=None, fromlist=(), level=0):
            module = load(name, globals, locals, fromlist, level)
            if name == "dcgan_port" and "static_graph" in (fromlist or ()):
                os.kill(os.getpid(), {signum})
            return module

        builtins.__import__ = load_then_stop
        import dcgan_port
        print("not stopped")
        """).format(root=ROOT, signum=int(signum)))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 128 + signum, result.stdout[-1500:] + result.stderr[-1500:]
    assert result.stderr.splitlines() == ["dc_gan.py: stopped by {} while starting; nothing was saved".format(
        "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name)], result.stderr
    assert result.stdout == ""


def test_a_stop_while_drawing_leaves_no_generated_file(saved_run, tmp_path):
    for name in GENERATOR_FILES:
        shutil.copy(saved_run / name, tmp_path / name)
    process = start("--generate", 300000, "--output", tmp_path)  # 940 MB: it draws for a while
    wait_for(lambda: any(name.startswith("generated.npy.tmp") for name in os.listdir(tmp_path)), process)
    process.send_signal(signal.SIGINT)  # while the digits are being written
    out, errors = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGINT, errors
    lines = errors.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dc_gan.py: stopped by Ctrl-C"), errors
    assert sorted(os.listdir(tmp_path)) == list(GENERATOR_FILES)


def test_an_output_folder_that_vanishes_during_training_is_one_line(tiny_mnist, tmp_path, run):
    output = tmp_path / "out"
    process = start("--data_dir", tiny_mnist, "--batch_size", 8, "--epoch", 1, "--output", output)
    read_until(process, "Epoch ID=0 Batch ID=0 ")
    shutil.rmtree(output)  # an unmounted disk, a cleaned-up scratch folder
    out, errors = process.communicate(timeout=600)
    result = subprocess.CompletedProcess(process.args, process.returncode, out, errors)
    assert_one_line_error(result, "its folder {} is gone".format(output))


def test_a_replaced_file_is_on_disk_before_it_replaces_the_old_one(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.path.realpath("/proc/self/fd/{}".format(fd))))
        return real_fsync(fd)

    def replace(source, target):
        events.append(("replace", str(target)))
        return real_replace(source, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = tmp_path / "a.bin"
    output_folder.atomic_write(str(target), lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new"
    assert [kind for kind, _ in events] == ["fsync", "replace", "fsync"]
    assert events[0][1].startswith(str(target) + ".tmp")  # the new file, before its rename
    assert events[2][1] == str(tmp_path)  # then the folder, so that the rename survives a power cut


@pytest.mark.skipif(os.name == "nt", reason="Windows keeps a lock file, which it lets nobody delete")
def test_the_folder_itself_is_locked_so_deleting_files_lets_no_second_run_in(saved_run_copy, run):
    first = start("--resume", "--epoch", 1000, "--output", saved_run_copy)
    try:
        read_until(first, "Epoch ID=")
        for name in os.listdir(saved_run_copy):
            if name.startswith("."):
                os.remove(saved_run_copy / name)
        second = run("--resume", "--epoch", 1000, "--output", saved_run_copy, timeout=600)
        assert_one_line_error(second, "--output {} is in use by another run".format(saved_run_copy))
    finally:
        first.kill()
        first.communicate()
    assert not os.path.exists(saved_run_copy / output_folder.LOCK_FILE)
    assert np.isfinite(checkpoint(saved_run_copy)["state/d_losses"]).all()
