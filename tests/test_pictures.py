"""The picture grid the chapter's plot draws, and the training film (dcgan_port.pictures, .film)."""
import json

import numpy as np
import PIL.Image

from dcgan_port import film as film_module
from dcgan_port.film import Film, film_frame
from dcgan_port.pictures import image_grid


def test_grid_of_a_chapter_batch_is_16_by_16_tiles_reals_on_top():
    real = np.full((128, 784), 1.0, dtype="float32")
    fake = np.full((128, 784), -0.5, dtype="float32")
    grid = image_grid(np.concatenate([real, fake]))
    assert grid.shape == (16 * 29, 16 * 29)
    tiles = grid.reshape(16, 29, 16, 29)
    assert (tiles[:, 0, :, :] == 0).all() and (tiles[:, :, :, 0] == 0).all()  # 1-pixel borders
    assert (tiles[:8, 1:, :, 1:] == 1.0).all()
    assert (tiles[8:, 1:, :, 1:] == -0.5).all()


def test_grid_places_images_row_by_row():
    images = np.arange(9, dtype="float32").repeat(784).reshape(9, 784)
    grid = image_grid(images)
    assert grid.shape == (3 * 29, 3 * 29)
    assert grid[1 * 29 + 5, 2 * 29 + 5] == 5  # tile (row 1, column 2) is image 5


def frame(value):
    return film_frame(np.full((4, 784), value, dtype="float32"), 2, "")


def test_a_film_frame_tiles_gs_drawings_in_greys_under_a_caption():
    pixels = np.asarray(film_frame(np.full((4, 784), 1.0, dtype="float32"), 2, "Epoch ID=0"))
    assert pixels.shape == (16 + 2 * 29, 2 * 29)
    assert pixels[:16].max() > 200  # the caption's white letters on black
    assert pixels[16 + 1, 1] == 255 and pixels[16, 0] == 128  # a white digit in a grey border
    assert np.asarray(frame(-1.0))[17, 1] == 0


def test_a_long_film_is_thinned_evenly_and_ends_on_the_newest_drawing(tmp_path, monkeypatch):
    monkeypatch.setattr(film_module, "FILM_MAX_FRAMES", 4)
    film = Film(str(tmp_path / "progress.gif"))
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
    monkeypatch.setattr(film_module, "FILM_MAX_FRAMES", 4)
    path = str(tmp_path / "progress.gif")
    first = Film(path)
    for grid in range(12):
        first.add((grid // 5, grid % 5), frame(grid / 12.0))
    first.write()
    resumed = Film(path)
    resumed.resume(before=(1, 3))  # the checkpoint was saved before grid 8, (1, 3)
    assert resumed.labels == [[0, 0], [0, 4]] and resumed.stride == 4
    assert resumed.newest[0] == [0, 4]  # grid 7, (1, 2), was not in the film
    resumed.add((1, 3), frame(0.5))  # the resumed run's next grid continues the spacing
    assert resumed.labels == [[0, 0], [0, 4], [1, 3]]


def test_no_film_to_resume_starts_a_new_one(tmp_path):
    film = Film(str(tmp_path / "progress.gif"))
    film.resume(before=(3, 0))
    assert film.labels == [] and film.newest is None
