"""The data reader, the picture grid and the flag parsing."""
import gzip
import json

import numpy as np
import PIL.Image
import pytest

import dc_gan
from conftest import idx_bytes, tiny_digits, write_idx


def test_grid_of_a_chapter_batch_is_16_by_16_tiles_reals_on_top():
    real = np.full((128, 784), 1.0, dtype="float32")
    fake = np.full((128, 784), -0.5, dtype="float32")
    grid = dc_gan.image_grid(np.concatenate([real, fake]))
    assert grid.shape == (16 * 29, 16 * 29)
    tiles = grid.reshape(16, 29, 16, 29)
    assert (tiles[:, 0, :, :] == 0).all() and (tiles[:, :, :, 0] == 0).all()  # 1-pixel borders
    assert (tiles[:8, 1:, :, 1:] == 1.0).all()
    assert (tiles[8:, 1:, :, 1:] == -0.5).all()


def test_grid_places_images_row_by_row():
    images = np.arange(9, dtype="float32").repeat(784).reshape(9, 784)
    grid = dc_gan.image_grid(images)
    assert grid.shape == (3 * 29, 3 * 29)
    assert grid[1 * 29 + 5, 2 * 29 + 5] == 5  # tile (row 1, column 2) is image 5


def test_reader_scales_pixels_to_minus_one_one(tmp_path):
    images, labels = tiny_digits(10)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, dc_gan.IDX_IMAGES_MAGIC)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, dc_gan.IDX_LABELS_MAGIC)
    data = dc_gan.load_mnist("test", str(tmp_path))
    assert data.shape == (10, 784) and data.dtype == np.float32
    assert data.min() == -1.0 and data.max() == 1.0
    np.testing.assert_allclose(data, images.reshape(10, 784) / 255.0 * 2 - 1, atol=1e-6)


def test_reader_takes_raw_files_as_well_as_gzip(tmp_path):
    images, labels = tiny_digits(10)
    write_idx(tmp_path / "train-images-idx3-ubyte", images, dc_gan.IDX_IMAGES_MAGIC,
              compress=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, dc_gan.IDX_LABELS_MAGIC,
              compress=False)
    assert dc_gan.load_mnist("train", str(tmp_path)).shape == (10, 784)


@pytest.mark.parametrize("content, complaint", [
    (idx_bytes(np.zeros((3, 28, 28)), 2049), "expected magic number 2051"),
    (idx_bytes(np.zeros((3, 28, 28)), 2051)[:-5], "truncated or corrupt"),
    (gzip.compress(idx_bytes(np.zeros((3, 28, 28)), 2051))[:-20], "cannot read"),
    (b"", "not an MNIST IDX file"),
])
def test_reader_rejects_a_bad_header_or_size_with_the_file_name(tmp_path, content, complaint):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(dc_gan.UsageError, match=complaint) as error:
        dc_gan.read_idx(str(path), dc_gan.IDX_IMAGES_MAGIC)
    assert str(path) in str(error.value)


def test_reader_names_the_missing_file_and_the_flag(tmp_path):
    with pytest.raises(dc_gan.UsageError, match="train-images-idx3-ubyte.gz .*missing"):
        dc_gan.load_mnist("train", str(tmp_path))


def test_reader_rejects_images_and_labels_of_different_counts(tmp_path):
    images, labels = tiny_digits(10)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, dc_gan.IDX_IMAGES_MAGIC)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:7], dc_gan.IDX_LABELS_MAGIC)
    with pytest.raises(dc_gan.UsageError, match="10 images .* 7 labels"):
        dc_gan.load_mnist("test", str(tmp_path))


def test_an_epoch_is_full_batches_only_capped_by_max_batches():
    assert dc_gan.batches_per_epoch(60000, 128) == 468
    assert dc_gan.batches_per_epoch(100, 32) == 3
    assert dc_gan.batches_per_epoch(100, 32, max_batches=2) == 2
    assert dc_gan.batches_per_epoch(100, 128) == 0


def test_chapter_defaults_and_true_false_flags():
    args = dc_gan.parse_args([])
    assert (args.batch_size, args.epoch, args.output) == (128, 20, "./output_dcgan")
    assert not args.use_gpu and not args.enable_ce and not args.raw_logits and not args.resume
    args = dc_gan.parse_args(["--use_gpu", "True", "--enable_ce", "false", "--resume"])
    assert args.use_gpu is True and args.enable_ce is False and args.resume is True


@pytest.mark.parametrize("word, value", [(w, True) for w in ("y", "yes", "t", "true", "on", "1", "ON")]
                         + [(w, False) for w in ("n", "no", "f", "false", "off", "0", "Off")])
def test_boolean_flags_take_every_word_the_books_strtobool_took(word, value):
    assert dc_gan.parse_args(["--raw_logits", word]).raw_logits is value


def test_use_cudnn_follows_the_books_code_and_a_flag_builds_the_chapter_texts_programs():
    assert dc_gan.parse_args([]).use_cudnn is True
    text = dc_gan.build_programs(use_cudnn=dc_gan.parse_args(["--use_cudnn", "false"]).use_cudnn)
    for progs, cudnn in ((dc_gan.build_programs(), True), (text, False)):
        convolutions = [op for program in (progs.d_program, progs.dg_program, progs.g_program_test)
                        for op in program.global_block().ops
                        if op.type in ("conv2d", "conv2d_transpose")]
        assert len(convolutions) == 2 + 4 + 2  # D; G and D; G
        assert all(op.attr("use_cudnn") is cudnn for op in convolutions)


def test_the_configuration_is_printed_first_flag_by_flag_as_the_books_scripts_did(capsys):
    args = dc_gan.parse_args(["--epoch", "3", "--raw_logits", "on"])
    dc_gan.print_arguments(args)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "-----------  Configuration Arguments -----------"
    assert lines[-1] == "-" * 48
    names = [name for name, _ in (line.split(": ", 1) for line in lines[1:-1])]
    assert names == sorted(vars(args)) and len(names) == len(vars(args))
    assert "epoch: 3" in lines and "raw_logits: True" in lines


def frame(value):
    return dc_gan.film_frame(np.full((4, 784), value, dtype="float32"), 2, "")


def test_a_film_frame_tiles_gs_drawings_in_greys_under_a_caption():
    pixels = np.asarray(dc_gan.film_frame(np.full((4, 784), 1.0, dtype="float32"), 2, "Epoch ID=0"))
    assert pixels.shape == (16 + 2 * 29, 2 * 29)
    assert pixels[:16].max() > 200  # the caption's white letters on black
    assert pixels[16 + 1, 1] == 255 and pixels[16, 0] == 128  # a white digit in a grey border
    assert np.asarray(frame(-1.0))[17, 1] == 0


def test_a_long_film_is_thinned_evenly_and_ends_on_the_newest_drawing(tmp_path, monkeypatch):
    monkeypatch.setattr(dc_gan, "FILM_MAX_FRAMES", 4)
    film = dc_gan.Film(str(tmp_path / "progress.gif"))
    for grid in range(12):
        film.add((0, grid * 10), frame(grid / 12.0))
    film.write()
    assert [batch for _, batch in film.labels] == [0, 40, 80]  # every 4th grid
    with PIL.Image.open(tmp_path / "progress.gif") as gif:
        labels = json.loads(gif.info["comment"])["labels"]
        assert gif.n_frames == len(labels) == 4
    assert labels[-1] == [0, 110]  # the newest grid ends it although it is not every 4th


def test_a_resumed_film_drops_frames_past_the_checkpoint_and_keeps_its_spacing(tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr(dc_gan, "FILM_MAX_FRAMES", 4)
    path = str(tmp_path / "progress.gif")
    first = dc_gan.Film(path)
    for grid in range(12):
        first.add((grid // 5, grid % 5), frame(grid / 12.0))
    first.write()
    resumed = dc_gan.Film(path)
    resumed.resume(before=(1, 3))  # the checkpoint was saved before grid 8, (1, 3)
    assert resumed.labels == [[0, 0], [0, 4]] and resumed.stride == 4
    assert resumed.newest[0] == [0, 4]  # grid 7, (1, 2), was not in the film
    resumed.add((1, 3), frame(0.5))  # the resumed run's next grid continues the spacing
    assert resumed.labels == [[0, 0], [0, 4], [1, 3]]


def test_no_film_to_resume_starts_a_new_one(tmp_path):
    film = dc_gan.Film(str(tmp_path / "progress.gif"))
    film.resume(before=(3, 0))
    assert film.labels == [] and film.newest is None


def test_chapter_constants_are_kept():
    assert (dc_gan.gf_dim, dc_gan.df_dim, dc_gan.gfc_dim, dc_gan.dfc_dim, dc_gan.img_dim) == (
        64, 64, 2048, 1024, 28)
    assert (dc_gan.NOISE_SIZE, dc_gan.LEARNING_RATE, dc_gan.NUM_TRAIN_TIMES_OF_DG) == (100, 2e-4, 2)
