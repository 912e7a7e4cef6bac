"""A folder of your own images trains as MNIST does (dcgan_port.data): every image read with Pillow, made
one channel, centre-cropped and resampled to 28x28, scaled to [-1, 1]; IDX files keep their meaning."""
import os
import re
import shutil
import signal
import socket
import struct
import warnings

import numpy as np
import PIL.Image
import PIL.ImageOps
import pytest

from conftest import assert_one_line_error, checkpoint, fingerprint, run_main, tiny_digits, write_idx
from dcgan_port import data
from dcgan_port.data import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, load_training_images
from dcgan_port.errors import UsageError


def square(size=28, value=255, mode="L"):
    """A black image with a bright square in its middle half."""
    pixels = np.zeros((size, size), dtype=np.uint8)
    pixels[size // 4:3 * size // 4, size // 4:3 * size // 4] = value
    return PIL.Image.fromarray(pixels).convert(mode)


@pytest.fixture
def folder(tmp_path):
    """PNG, JPEG, BMP, a two-frame GIF, a 16-bit and an RGBA PNG, in nested class folders, a broken PNG,
    and a text file that is not an image."""
    root = tmp_path / "mine"
    for name in ("zeros", "ones/more"):
        (root / name).mkdir(parents=True)
    square().save(root / "zeros" / "a.png")
    square(40, mode="RGB").save(root / "zeros" / "b.jpg", quality=95)
    square(mode="RGB").save(root / "ones" / "c.bmp")
    second = PIL.Image.new("L", (28, 28), 255)
    square().save(root / "ones" / "d.gif", save_all=True, append_images=[second])
    grey_16_bit = np.asarray(square(value=128), dtype=np.uint16) * 257  # 128 of 255 as 16-bit
    PIL.Image.fromarray(grey_16_bit).save(root / "ones" / "more" / "e.png")
    rgba = PIL.Image.new("RGBA", (28, 28), (255, 255, 255, 0))  # white but fully transparent...
    rgba.paste((255, 255, 255, 255), (7, 7, 21, 21))  # ...but for an opaque white square
    rgba.save(root / "ones" / "more" / "f.png")
    (root / "ones" / "broken.png").write_bytes((root / "zeros" / "a.png").read_bytes()[:60])
    (root / "notes.txt").write_text("not an image")
    return root


def test_every_readable_image_becomes_a_28x28_row_in_minus_one_one(folder, capsys):
    images, source = load_training_images("train", str(folder))
    assert source == str(folder)
    assert images.shape == (6, 784) and images.dtype == np.float32
    out = capsys.readouterr().out
    assert "reading 7 image files" in out
    assert out.count("skipped 1 of 7 image files that could not be read") == 1
    assert "broken.png" in out
    # sorted walk: ones/broken.png (skipped), ones/c.bmp, ones/d.gif, ones/more/e.png, ones/more/f.png,
    # zeros/a.png, zeros/b.jpg; each a square in its middle on black, the 16-bit one mid-grey
    for index, row in enumerate(images):
        pixels = row.reshape(28, 28)
        middle = 128 / 255 * 2 - 1 if index == 2 else 1.0
        assert pixels[14, 14] == pytest.approx(middle, abs=0.03)
        assert pixels[1, 1] == pytest.approx(-1.0, abs=0.03)  # black, and the RGBA's transparency too
    assert images.min() >= -1 and images.max() <= 1


def test_a_gif_gives_its_first_frame(folder):
    images, _ = load_training_images("train", str(folder))
    assert images[1].reshape(28, 28)[1, 1] == pytest.approx(-1.0)  # the second frame is all white


def test_a_wide_image_is_centre_cropped_before_it_is_resampled(tmp_path):
    wide = np.zeros((28, 56), dtype=np.uint8)
    wide[:, 14:42] = 255  # the middle square is white, the sides black
    PIL.Image.fromarray(wide).save(tmp_path / "wide.png")
    images, _ = load_training_images("train", str(tmp_path))
    np.testing.assert_allclose(images[0], 1.0, atol=1e-6)


def test_a_photograph_is_turned_upright_as_its_exif_orientation_says(tmp_path):
    stored = np.zeros((28, 28), dtype=np.uint8)
    stored[:, :14] = 255  # white on the left as stored...
    exif = PIL.Image.Exif()
    exif[0x0112] = 6  # ...in a file whose orientation tag says: turn it 90 degrees clockwise to view
    PIL.Image.fromarray(stored).save(tmp_path / "phone.jpg", exif=exif, quality=100)
    images, _ = load_training_images("train", str(tmp_path))
    pixels = images[0].reshape(28, 28)
    assert pixels[:12].mean() > 0.9 and pixels[16:].mean() < -0.9  # so the white half is on top


def test_idx_files_in_the_folder_keep_their_meaning_and_the_images_are_named_as_unused(
        tiny_mnist, tmp_path, capsys):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for name in os.listdir(tiny_mnist):
        (mixed / name).write_bytes((tiny_mnist / name).read_bytes())
    square().save(mixed / "extra.png")
    images, source = load_training_images("train", str(mixed))
    assert images.shape == (100, 784) and source == "the train split"
    assert "its 1 image files are not used" in capsys.readouterr().out


def test_another_digit_set_in_mnists_format_reads_as_its_own_content(tmp_path):
    # Fashion-MNIST ships files named and laid out as MNIST's: here, horizontal stripes
    stripes = np.zeros((5, 28, 28), dtype=np.uint8)
    stripes[:, ::4, :] = 200
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", stripes, IDX_IMAGES_MAGIC)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(5), IDX_LABELS_MAGIC)
    images, _ = load_training_images("train", str(tmp_path))
    np.testing.assert_allclose(images, stripes.reshape(5, 784) / 255.0 * 2 - 1, atol=1e-6)


def test_a_folder_with_no_image_file_is_an_empty_data_set(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(UsageError, match="the data set is empty: no train-images-idx3-ubyte.gz .*and no "
                                         "image file"):
        load_training_images("train", str(tmp_path))


@pytest.fixture
def hang_guard():
    """A read that blocks (a FIFO with no writer) fails the test instead of hanging the suite."""
    def blocked(signum, frame):
        raise AssertionError("the read blocked")
    previous = signal.signal(signal.SIGALRM, blocked)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_fifos_sockets_and_devices_named_like_images_are_skipped_unopened(folder, tmp_path, hang_guard):
    os.mkfifo(str(folder / "pipe.png"))
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(folder / "zeros" / "socket.jpg"))
    os.symlink("/dev/zero", str(folder / "ones" / "zero.bmp"))
    try:
        names = [os.path.basename(p) for p in data.image_files(str(folder))]
        images, _ = load_training_images("train", str(folder))
    finally:
        listening.close()
    assert sorted(names) == ["a.png", "b.jpg", "broken.png", "c.bmp", "d.gif", "e.png", "f.png"]
    assert len(images) == 6  # as without them: the broken PNG is skipped as before


def test_a_folder_holding_only_a_fifo_is_an_empty_data_set_and_no_output_is_made(tmp_path, run):
    (tmp_path / "data").mkdir()
    os.mkfifo(str(tmp_path / "data" / "pipe.png"))
    result = run("--data_dir", tmp_path / "data", "--output", tmp_path / "out", timeout=120)
    assert_one_line_error(result, "the data set is empty")
    assert not (tmp_path / "out").exists()


def test_an_image_removed_after_the_listing_is_named(folder):
    paths = data.image_files(str(folder))
    os.remove(paths[0])
    with pytest.raises(UsageError, match="{} was removed while it was being read".format(
            re.escape(paths[0]))):
        data.load_image_folder(str(folder), paths)


def test_an_image_replaced_by_a_fifo_after_the_listing_is_named_not_read(folder, hang_guard):
    paths = data.image_files(str(folder))
    os.remove(paths[1])
    os.mkfifo(paths[1])
    with pytest.raises(UsageError, match="{} was replaced by something that is not a file".format(
            re.escape(paths[1]))):
        data.load_image_folder(str(folder), paths)


def test_an_idx_file_replaced_by_a_fifo_is_named_not_read(tmp_path, hang_guard):
    os.mkfifo(str(tmp_path / "train-images-idx3-ubyte.gz"))
    with pytest.raises(UsageError, match="train-images-idx3-ubyte.gz was replaced by something"):
        data.read_idx(str(tmp_path / "train-images-idx3-ubyte.gz"), IDX_IMAGES_MAGIC)


def test_an_empty_idx_set_is_an_empty_data_set_and_no_output_is_made(tmp_path):
    (tmp_path / "data").mkdir()
    write_idx(tmp_path / "data" / "train-images-idx3-ubyte.gz", np.zeros((0, 28, 28)), IDX_IMAGES_MAGIC)
    write_idx(tmp_path / "data" / "train-labels-idx1-ubyte.gz", np.zeros(0), IDX_LABELS_MAGIC)
    result = run_main("--data_dir", tmp_path / "data", "--output", tmp_path / "out")
    assert_one_line_error(result, "train-images-idx3-ubyte.gz holds 0 images: the data set is empty")
    assert "--batch_size" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_folder_whose_images_cannot_be_read(tmp_path):
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "b.jpg").write_bytes(b"")
    with pytest.raises(UsageError, match="none of its 2 image files could be read"):
        load_training_images("train", str(tmp_path))


def test_a_photograph_whose_exif_pillow_cannot_rewrite_is_skipped_like_a_broken_one(folder, capsys):
    """A camera's Make tag (text) under the id of a number tag: turning the picture upright rewrites its
    EXIF, and Pillow's writer raises TypeError there."""
    exif = PIL.Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "cam"  # turned, and the Make
    PIL.Image.fromarray(np.zeros((28, 28), np.uint8)).save(folder / "damaged.jpg", exif=exif)
    made = (folder / "damaged.jpg").read_bytes()
    (folder / "damaged.jpg").write_bytes(made.replace(struct.pack(">HH", 0x010F, 2),  # ASCII type
                                                      struct.pack(">HH", 0x011F, 2)))  # XPosition's id
    images, _ = load_training_images("train", str(folder))
    assert len(images) == 6 and "skipped 2 of 8 image files" in capsys.readouterr().out


def test_an_image_too_large_to_be_a_picture_is_skipped_like_a_broken_one(folder, monkeypatch, capsys):
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 300)  # Pillow refuses twice this: all of them
    with pytest.raises(UsageError, match="none of its 7 image files could be read"):
        load_training_images("train", str(folder))


def test_an_image_large_enough_for_pillows_warning_is_read_without_it(folder, monkeypatch):
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 1000)  # warns from 1,000 pixels: b.jpg's 1,600
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, _ = load_training_images("train", str(folder))
    assert len(images) == 6 and not [w for w in caught if w.category is PIL.Image.DecompressionBombWarning]


def test_a_folder_too_large_for_memory_is_refused_before_reading(folder, monkeypatch):
    monkeypatch.setattr(data, "MAX_FOLDER_IMAGES", 5)
    monkeypatch.setattr(data, "read_image", lambda *a: pytest.fail("read before the count was checked"))
    with pytest.raises(UsageError, match="holds 7 images, more than the 5 that fit in memory"):
        load_training_images("train", str(folder))


def test_progress_is_printed_while_a_large_folder_is_read(folder, monkeypatch, capsys):
    monkeypatch.setattr(data, "PROGRESS_EVERY", 2)
    load_training_images("train", str(folder))
    assert "read 2 of 7 images" in capsys.readouterr().out


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """40 small photographs of a shape, JPEG and PNG in two class folders: 4 batches of 8 and a rest."""
    root = tmp_path_factory.mktemp("pictures")
    images, _ = tiny_digits(40)
    for index, image in enumerate(images):
        folder = root / ("a" if index % 2 else "b")
        folder.mkdir(exist_ok=True)
        picture = PIL.Image.fromarray(image).resize((64, 48)).convert("RGB")
        picture.save(folder / "{:02d}.{}".format(index, "jpg" if index % 3 else "png"))
    return root


def test_a_folder_of_images_trains_saves_its_grids_and_resumes(pictures, tmp_path, run):
    flags = ["--data_dir", pictures, "--batch_size", 8, "--max_batches", 4, "--output", tmp_path]
    first = run(*flags, "--epoch", 1)
    assert first.returncode == 0, first.stderr
    assert "reading 40 image files" in first.stdout
    assert "Epoch ID=0 Batch ID=0 " in first.stdout
    assert os.path.isfile(tmp_path / "0000_0000.png") and os.path.isfile(tmp_path / "progress.gif")
    resumed = run(*flags, "--epoch", 2, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from" in resumed.stdout and os.path.isfile(tmp_path / "0001_0000.png")
    assert len(checkpoint(tmp_path)["state/d_losses"]) == 2 * 4


def test_a_folder_with_fewer_images_than_a_batch(pictures, tmp_path):
    result = run_main("--data_dir", pictures, "--batch_size", 64, "--output", tmp_path / "out")
    assert_one_line_error(result, "--batch_size 64 is larger than the 40 images of {}".format(pictures))
    assert not (tmp_path / "out").exists()


def test_resuming_on_a_folder_whose_images_changed_is_refused(pictures, tmp_path, run):
    mine = tmp_path / "mine"
    shutil.copytree(pictures, mine)
    flags = ["--data_dir", mine, "--batch_size", 8, "--max_batches", 1, "--epoch", 2,
             "--output", tmp_path / "out"]
    assert run(*flags, "--epoch", 1).returncode == 0
    first = sorted(os.listdir(mine / "b"))[0]
    with PIL.Image.open(mine / "b" / first) as picture:
        inverted = PIL.ImageOps.invert(picture.convert("RGB"))
    inverted.save(mine / "b" / first)  # as many images, one of them other
    before = fingerprint(tmp_path / "out")
    result = run_main("--resume", "--output", tmp_path / "out")
    assert_one_line_error(result, "was trained on other images than these 40", "pass the same data")
    for name in sorted(os.listdir(mine / "a"))[:10]:
        os.remove(mine / "a" / name)
    result = run_main("--resume", "--output", tmp_path / "out")
    assert_one_line_error(result, "was trained on 40 images, this data has 30")
    assert fingerprint(tmp_path / "out") == before


@pytest.mark.slow  # a run and its resume
def test_the_output_folder_inside_the_data_folder_is_not_read_as_training_images(pictures, tmp_path,
                                                                                 run):
    mine = tmp_path / "mine"
    shutil.copytree(pictures, mine)
    flags = ["--data_dir", mine, "--batch_size", 8, "--max_batches", 2, "--output", mine / "run"]
    first = run(*flags, "--epoch", 1)
    assert first.returncode == 0, first.stderr
    assert os.path.isfile(mine / "run" / "0000_0000.png") and os.path.isfile(mine / "run" / "losses.png")
    resumed = run("--resume", "--epoch", 2, "--output", mine / "run")
    assert resumed.returncode == 0, resumed.stderr
    assert "reading 40 image files" in resumed.stdout and "Epoch ID=1 Batch ID=0 " in resumed.stdout
    inside = run_main("--data_dir", mine / "run", "--output", mine / "run", "--batch_size", 2)
    assert_one_line_error(inside, "is the --output folder", "pass another --output")
