"""Sizes that cannot work are refused in one line before any work (dcgan_port.limits): a batch too large
for the memory (the machine's or a cgroup's limit), a --generate N whose files cannot fit on the disk, a
--num_threads beyond the cores; an output name taken by a folder; a failed save's message fits the
command; and an unwritable ~/.cache breaks neither --help nor a --data_dir run (dcgan_port.caches)."""
import errno
import os
import shutil
import subprocess
import sys
import types

import pytest

import dc_gan
from conftest import ROOT, assert_one_line_error, fingerprint, run_main
from dcgan_port import limits, output_folder
from dcgan_port.errors import UsageError


@pytest.fixture
def run():
    """The runs here are refused before they train: dc_gan.main in this process (conftest.run_main)."""
    return run_main


@pytest.mark.parametrize("threads", [1000, 2 ** 40])
def test_more_threads_than_the_process_may_use_are_refused_before_anything(tiny_mnist, tmp_path, run,
                                                                           threads):
    output = tmp_path / "never"
    result = run("--data_dir", tiny_mnist, "--output", output, "--num_threads", threads)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert_one_line_error(result, "--num_threads {}: this process may use {} cores".format(threads, cores),
                          "pass --num_threads {} or fewer".format(cores))
    assert not output.exists()


def test_threads_up_to_the_cores_pass():
    limits.check_threads(limits.usable_cores())
    with pytest.raises(UsageError):
        limits.check_threads(limits.usable_cores() + 1)


def test_a_batch_too_large_for_the_memory_is_refused_before_the_data_is_read(tmp_path, run):
    output = tmp_path / "never"
    # a --data_dir that does not exist: refused for the memory first, before any reading
    result = run("--data_dir", tmp_path / "no-data", "--output", output, "--batch_size", 10 ** 7)
    assert_one_line_error(result, "--batch_size 10000000 needs about ", "GB of memory",
                          "this process can have ")
    assert not output.exists()


def test_the_memory_estimate_follows_the_measured_line_and_the_advice_passes():
    # measured: 825 MB at batch 16, 2250 MB at 512, 7667 MB at 2048 (the fast path, the test split)
    for batch, measured in ((16, 825e6), (512, 2250e6), (2048, 7667e6)):
        assert measured <= limits.training_memory(batch, 10000) <= 1.2 * measured
    # --onednn false: 747 MB at 16, 1186 MB at 512, 3129 MB at 2048
    for batch, measured in ((16, 747e6), (512, 1186e6), (2048, 3129e6)):
        assert measured <= limits.training_memory(batch, 10000, onednn=False) <= 1.2 * measured
    assert limits.training_memory(128, 60000) - limits.training_memory(128, 10000) == 50000 * 784 * 4
    with pytest.raises(UsageError) as refused:
        limits.check_batch_memory(512, "test", available=1.5e9)
    advised = int(str(refused.value).split("pass --batch_size ")[1].split()[0])
    assert 1 <= advised < 512
    limits.check_batch_memory(advised, "test", available=1.5e9)  # the advice itself passes
    limits.check_batch_memory(1000, "test", onednn=False, available=2.5e9)  # the plain path needs less
    with pytest.raises(UsageError):
        limits.check_batch_memory(1000, "test", onednn=True, available=2.5e9)
    with pytest.raises(UsageError, match="free some memory or raise the container's memory limit"):
        limits.check_batch_memory(1, "train", available=0.5e9)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_cgroups_memory_limit_counts_what_is_left_under_it(tmp_path, version):
    if version == "v2":
        write(tmp_path / "proc", "0::/job\n")
        folder = tmp_path / "cg" / "job"
        write(folder / "memory.max", "2000000000\n")
        write(folder / "memory.current", "700000000\n")
        write(folder / "memory.stat", "anon 500000000\ninactive_file 200000000\n")
        write(tmp_path / "cg" / "memory.max", "max\n")  # the root: no limit
        write(tmp_path / "cg" / "memory.current", "900000000\n")
    else:
        write(tmp_path / "proc", "12:pids:/job\n4:memory:/job\n0::/\n")
        folder = tmp_path / "cg" / "memory" / "job"
        write(folder / "memory.limit_in_bytes", "2000000000\n")
        write(folder / "memory.usage_in_bytes", "700000000\n")
        write(folder / "memory.stat", "cache 300000000\ntotal_inactive_file 200000000\n")
        write(tmp_path / "cg" / "memory" / "memory.limit_in_bytes", "9223372036854771712\n")
        write(tmp_path / "cg" / "memory" / "memory.usage_in_bytes", "900000000\n")
    assert limits.cgroup_memory(str(tmp_path / "cg"), str(tmp_path / "proc")) == (1500000000, 2000000000)
    assert limits.cgroup_memory(str(tmp_path / "none"), str(tmp_path / "proc")) is None


def test_this_machines_memory_is_read():
    if not os.path.exists("/proc/meminfo"):
        pytest.skip("no /proc/meminfo: not Linux, the memory check is skipped there")
    available = limits.available_memory()
    assert available is not None and 1e8 < available <= os.sysconf("SC_PAGE_SIZE") * os.sysconf(
        "SC_PHYS_PAGES")


def test_generating_more_digits_than_the_disk_holds_is_refused_before_drawing(saved_run, run):
    before = fingerprint(saved_run)
    # twice the disk: the other files on it may shrink meanwhile, and a count that fits draws for hours
    count = 2 * shutil.disk_usage(saved_run).free // 3136
    result = run("--generate", count, "--output", saved_run)
    assert_one_line_error(result, "--generate {} writes ".format(count), "generated.npy",
                          "free some space or pass --generate ")
    assert fingerprint(saved_run) == before  # nothing drawn, nothing left


@pytest.mark.parametrize("name", ["checkpoint.npz", "generator.pdiparams", "losses.png", "progress.gif"])
def test_an_output_name_taken_by_a_folder_is_found_before_training(tiny_mnist, tmp_path, run, name):
    (tmp_path / name).mkdir()
    result = run("--data_dir", tiny_mnist, "--batch_size", 32, "--epoch", 1, "--output", tmp_path)
    assert_one_line_error(result, "{} is a folder".format(tmp_path / name), "move it out of")
    assert sorted(os.listdir(tmp_path)) == [name]  # not a grid trained


def test_a_generated_name_taken_by_a_folder_is_found_before_drawing(saved_run_copy, run):
    (saved_run_copy / "generated.npy").mkdir()
    result = run("--generate", 5, "--output", saved_run_copy)
    assert_one_line_error(result, "{} is a folder".format(saved_run_copy / "generated.npy"))
    assert not (saved_run_copy / "generated.png").exists()


def test_a_failed_save_reports_the_free_space_without_its_own_temporary_file_and_advice_that_fits(
        tmp_path):
    target = tmp_path / "generated.npy"
    chunk = b"\0" * (1 << 20)

    def write_then_fill(f):
        for _ in range(256):  # 256 MB in the temporary file, then the disk is "full"
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(UsageError) as failed:
        output_folder.atomic_write(str(target), write_then_fill, size=256 << 20,
                                   then="draw them again with --generate 5")
    message = str(failed.value)
    free_said = float(message.split("): ")[1].split(" MB free there")[0]) * 1e6
    assert abs(free_said - shutil.disk_usage(tmp_path).free) < 128e6  # not 256 MB short
    assert os.listdir(tmp_path) == []
    assert message.endswith("free some space, then draw them again with --generate 5")
    assert "--resume" not in message
    (tmp_path / "losses.png").mkdir()
    folder = output_folder.save_failed(str(tmp_path / "losses.png"), IsADirectoryError(
        errno.EISDIR, os.strerror(errno.EISDIR)))
    assert "a folder has that name" in str(folder)
    assert str(folder).endswith("then start the run again with --overwrite")  # no checkpoint to resume
    (tmp_path / "checkpoint.npz").write_bytes(b"a run's")
    resumable = output_folder.save_failed(str(tmp_path / "progress.gif"), OSError(
        errno.ENOSPC, os.strerror(errno.ENOSPC)))
    assert str(resumable).endswith("free some space, then continue with --resume")
    read_only = output_folder.save_failed(str(tmp_path / "checkpoint.npz"), OSError(
        errno.EROFS, os.strerror(errno.EROFS)))
    assert str(read_only).endswith("the earlier saves are intact: make {} writable, then continue with "
                                   "--resume".format(tmp_path))
    assert "free" not in str(read_only)


def test_a_disk_without_room_for_one_digit_is_told_to_free_space_not_to_draw_none(saved_run, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10 ** 9, 10 ** 9, 1000))
    with pytest.raises(UsageError) as refused:
        limits.check_drawing(dc_gan.parse_args(["--generate", "5", "--output", str(saved_run)]))
    assert str(refused.value).endswith("free some space")


def run_as_user_without_cache(home, *args):
    """dc_gan.py as a user whose HOME is home (MPLCONFIGDIR and XDG_* unset)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")}
    env["HOME"] = str(home)
    return subprocess.run([sys.executable, os.path.join(ROOT, "dc_gan.py")] + [str(a) for a in args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)


def test_a_cache_that_cannot_be_made_breaks_neither_help_nor_a_data_dir_run(tiny_mnist, tmp_path):
    """~/.cache a file (for root too, whom permissions do not stop): paddle could not make its dataset
    folder, and `import paddle` stopped every command with a traceback."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".cache").write_text("not a folder")
    helped = run_as_user_without_cache(home, "--help")
    assert helped.returncode == 0 and helped.stderr == "", helped.stderr
    trained = run_as_user_without_cache(home, "--data_dir", tiny_mnist, "--batch_size", 32, "--epoch", 1,
                                        "--output", tmp_path / "out")
    assert trained.returncode == 0, trained.stderr
    assert "Traceback" not in trained.stderr and (tmp_path / "out" / "checkpoint.npz").is_file()


def test_a_read_only_home_breaks_neither_help_nor_a_data_dir_run(tiny_mnist, tmp_path):
    """A home (and so ~/.cache) this user cannot write, as a ~/.cache owned by root; `docker run
    --read-only` is tests/test_image.py's."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root writes in any folder; the test above and tests/test_image.py cover root")
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o555)
    try:
        helped = run_as_user_without_cache(home, "--help")
        assert helped.returncode == 0 and helped.stderr == "", helped.stderr
        trained = run_as_user_without_cache(home, "--data_dir", tiny_mnist, "--batch_size", 32, "--epoch",
                                            1, "--output", tmp_path / "out")
        assert trained.returncode == 0 and "Traceback" not in trained.stderr, trained.stderr
    finally:
        home.chmod(0o755)


def test_where_nothing_can_be_written_a_download_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    from dcgan_port import data
    import paddle.dataset.common
    monkeypatch.setattr(paddle.dataset.common, "DATA_HOME", str(tmp_path / "file" / "dataset"))
    (tmp_path / "file").write_text("a file where a folder would be")
    with pytest.raises(UsageError) as refused:
        data.download_mnist("test", "http://127.0.0.1:9/")
    message = str(refused.value)
    assert message.startswith("MNIST test split not in ") and "pass --data_dir FOLDER" in message


def test_the_caches_module_moves_nothing_where_paddles_own_folder_can_be_made(tmp_path):
    code = ("import dcgan_port, os, paddle.dataset.common as c; "
            "print(c.DATA_HOME); print(os.environ.get('MPLCONFIGDIR'))")
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CACHE_HOME",
                                                            "XDG_CONFIG_HOME")}
    env["HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(tmp_path / ".cache" / "paddle" / "dataset"), "None"]


def test_settings_objects_are_all_the_checks_need(tmp_path):
    settings = types.SimpleNamespace(output=str(tmp_path), batch_size=1, num_threads=1, use_gpu=False,
                                     onednn=False, mnist_split="test", generate=1)
    limits.check_training(settings)
    limits.check_drawing(settings)
