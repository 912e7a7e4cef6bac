"""The MNIST reader (dcgan_port.data) and what an epoch takes of it."""
import gzip

import numpy as np
import pytest

from conftest import idx_bytes, tiny_digits, write_idx
from dcgan_port.data import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, load_mnist, read_idx
from dcgan_port.errors import UsageError
from dcgan_port.training_run import batches_per_epoch


def test_reader_scales_pixels_to_minus_one_one(tmp_path):
    images, labels = tiny_digits(10)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, IDX_IMAGES_MAGIC)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels, IDX_LABELS_MAGIC)
    data = load_mnist("test", str(tmp_path))
    assert data.shape == (10, 784) and data.dtype == np.float32
    assert data.min() == -1.0 and data.max() == 1.0
    np.testing.assert_allclose(data, images.reshape(10, 784) / 255.0 * 2 - 1, atol=1e-6)


def test_reader_takes_raw_files_as_well_as_gzip(tmp_path):
    images, labels = tiny_digits(10)
    write_idx(tmp_path / "train-images-idx3-ubyte", images, IDX_IMAGES_MAGIC, compress=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, IDX_LABELS_MAGIC, compress=False)
    assert load_mnist("train", str(tmp_path)).shape == (10, 784)


@pytest.mark.parametrize("content, complaint", [
    (idx_bytes(np.zeros((3, 28, 28)), 2049), "expected magic number 2051"),
    (idx_bytes(np.zeros((3, 28, 28)), 2051)[:-5], "truncated or corrupt"),
    (gzip.compress(idx_bytes(np.zeros((3, 28, 28)), 2051))[:-20], "cannot read"),
    (b"", "not an MNIST IDX file"),
])
def test_reader_rejects_a_bad_header_or_size_with_the_file_name(tmp_path, content, complaint):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=complaint) as error:
        read_idx(str(path), IDX_IMAGES_MAGIC)
    assert str(path) in str(error.value)


def test_reader_names_the_missing_file_and_the_flag(tmp_path):
    with pytest.raises(UsageError, match="train-images-idx3-ubyte.gz .*missing"):
        load_mnist("train", str(tmp_path))


def test_reader_rejects_images_and_labels_of_different_counts(tmp_path):
    images, labels = tiny_digits(10)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images, IDX_IMAGES_MAGIC)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:7], IDX_LABELS_MAGIC)
    with pytest.raises(UsageError, match="10 images .* 7 labels"):
        load_mnist("test", str(tmp_path))


def test_an_epoch_is_full_batches_only_capped_by_max_batches():
    assert batches_per_epoch(60000, 128) == 468
    assert batches_per_epoch(100, 32) == 3
    assert batches_per_epoch(100, 32, max_batches=2) == 2
    assert batches_per_epoch(100, 128) == 0
