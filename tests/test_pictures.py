"""Your own images: folders and zips of pictures in any mode and size, RGB .npz files, the prepared-data cache,
and the refusals, each one line."""

import io
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import run_script
from gan_keras.data import ImageRequest, fingerprint, load_local
from gan_keras.errors import DataError


def picture(mode: str, size: tuple[int, int], colour, **info) -> Image.Image:
    image = Image.new(mode, size, colour)
    image.info.update(info)
    return image


def make_mixed_folder(folder) -> dict[str, str]:
    """Two classes in subfolders (one nested deeper), every mode, three sizes, a corrupt file and a text file;
    returns {name: what it is}."""
    (folder / "cats" / "indoor").mkdir(parents=True)
    (folder / "dogs").mkdir()
    made = {
        "cats/gray.png": picture("L", (64, 64), 100),
        "cats/gray_alpha.png": picture("LA", (40, 30), (200, 255)),
        "cats/indoor/rgb.jpg": picture("RGB", (100, 80), (255, 0, 0)),
        "cats/indoor/rgba.png": picture("RGBA", (64, 64), (0, 0, 255, 0)),  # fully transparent
        "dogs/palette.gif": picture("RGB", (50, 50), (0, 255, 0)).convert("P"),
        "dogs/cmyk.jpg": picture("CMYK", (64, 64), (0, 0, 0, 0)),
        "dogs/bilevel.bmp": picture("1", (32, 32), 1),
        "dogs/deep16.png": Image.fromarray(np.full((64, 64), 40000, np.uint16)),
        "dogs/flat.tiff": picture("RGB", (64, 64), (10, 20, 30)),
        "dogs/wide.webp": picture("RGB", (120, 60), (5, 5, 5)),
    }
    for name, image in made.items():
        image.save(folder / name)
    good = (folder / "cats" / "gray.png").read_bytes()
    (folder / "dogs" / "broken.png").write_bytes(good[:len(good) // 2])  # truncated
    (folder / "cats" / "notes.txt").write_text("not a picture")
    (folder / ".hidden.png").write_bytes(good)  # hidden: not read
    return {name: "picture" for name in made}


def test_a_folder_of_pictures_in_every_mode_and_size(tmp_path, capsys):
    folder = tmp_path / "pictures"
    pictures = make_mixed_folder(folder)
    dataset = load_local(str(folder), ImageRequest(background="black"))
    out = capsys.readouterr().out
    assert dataset.x_train.shape == (len(pictures), 64, 64, 3) and dataset.x_train.dtype == np.uint8
    assert isinstance(dataset.x_train, np.memmap) and not dataset.has_test_split
    assert "--image-size 64: the pictures are not all one of 28, 32, 64 or 128 px square" in out
    assert dataset.class_names == ("cats", "dogs")
    assert list(dataset.y_train) == [0] * 4 + [1] * 6  # cats/..., then dogs/..., in name order
    assert [name for name, _ in dataset.skipped] == ["cats/notes.txt", "dogs/broken.png"]
    assert "skipped 2 files" in out and "the first cats/notes.txt" in out and "config.json lists them all" in out
    order = sorted(pictures)
    pixels = {name: dataset.x_train[order.index(name)] for name in order}
    assert (pixels["cats/indoor/rgba.png"] == 0).all()  # transparent, laid on the black background
    assert (pixels["cats/gray.png"] == 100).all() and (pixels["dogs/deep16.png"] == 40000 >> 8).all()
    assert tuple(pixels["cats/indoor/rgb.jpg"][32, 32]) == pytest.approx((254, 0, 0), abs=2)
    assert tuple(pixels["dogs/flat.tiff"][0, 0]) == (10, 20, 30)


def test_grayscale_pictures_of_one_size_keep_it_and_one_channel(tmp_path):
    folder = tmp_path / "gray"
    folder.mkdir()
    for index in range(3):
        picture("L", (32, 32), 50 * index).save(folder / f"{index}.png")
    dataset = load_local(str(folder))
    assert dataset.image_shape == (32, 32, 1) and dataset.class_names is None
    assert [int(image.mean()) for image in dataset.x_train] == [0, 50, 100]


@pytest.mark.parametrize("resize, expected", [("center-crop", (255, 0, 0)), ("stretch", (255, 0, 0)),
                                              ("pad", (0, 0, 0))])
def test_another_aspect_is_cropped_stretched_or_padded(tmp_path, resize, expected):
    folder = tmp_path / "wide"
    folder.mkdir()
    image = Image.new("RGB", (60, 20), (0, 0, 255))
    image.paste((255, 0, 0), (20, 0, 40, 20))  # red in the middle third, blue at both sides
    image.save(folder / "wide.png")
    dataset = load_local(str(folder), ImageRequest(size=28, resize=resize, background="black"))
    top_middle = tuple(dataset.x_train[0, 0, 14])
    assert top_middle == pytest.approx(expected, abs=3)  # pad: black above and below the picture
    if resize == "center-crop":
        assert tuple(dataset.x_train[0, 14, 1]) == pytest.approx((255, 0, 0), abs=3)  # the sides cut off
    if resize == "stretch":
        assert tuple(dataset.x_train[0, 14, 1]) == pytest.approx((0, 0, 255), abs=3)  # the sides squeezed in


def test_a_zip_gives_what_its_folder_gives(tmp_path):
    folder = tmp_path / "pictures"
    make_mixed_folder(folder)
    archive = tmp_path / "pictures.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for parent, _, names in os.walk(folder):
            for name in names:
                handle.write(os.path.join(parent, name), os.path.relpath(os.path.join(parent, name), folder))
    from_folder, from_zip = load_local(str(folder)), load_local(str(archive))
    assert fingerprint(from_zip) == fingerprint(from_folder) and from_zip.class_names == ("cats", "dogs")


def test_an_rgb_npz_and_a_large_one_memory_mapped(tmp_path, monkeypatch):
    import gan_keras.data as data

    images = np.random.default_rng(0).integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    path = tmp_path / "colour.npz"
    np.savez(path, images=images, labels=np.arange(40) % 4)
    small = load_local(str(path))
    assert small.image_shape == (32, 32, 3) and not isinstance(small.x_train, np.memmap)
    np.testing.assert_array_equal(small.x_train, images)
    monkeypatch.setattr(data, "IN_MEMORY_BYTES", 1000)  # as if it were large
    large = load_local(str(path))
    assert isinstance(large.x_train, np.memmap) and fingerprint(large) == fingerprint(small)
    np.testing.assert_array_equal(large.x_train, images)
    resized = load_local(str(path), ImageRequest(size=64, channels=1))
    assert resized.image_shape == (64, 64, 1) and list(resized.y_train) == list(np.arange(40) % 4)


def test_prepared_images_are_reused_and_rebuilt_when_a_file_changes(tmp_path, capsys):
    folder = tmp_path / "pictures"
    make_mixed_folder(folder)
    first = load_local(str(folder))
    assert "reusing" not in capsys.readouterr().out
    again = load_local(str(folder))
    assert "data: reusing the images prepared in" in capsys.readouterr().out
    assert again.x_train.filename == first.x_train.filename and fingerprint(again) == fingerprint(first)
    picture("L", (64, 64), 7).save(folder / "cats" / "gray.png")  # one picture changes
    changed = load_local(str(folder))
    assert "reusing" not in capsys.readouterr().out and changed.x_train.filename != first.x_train.filename
    assert fingerprint(changed) != fingerprint(first)


def test_unreadable_files_of_every_kind_are_skipped_and_named(tmp_path):
    folder = tmp_path / "hostile"
    folder.mkdir()
    picture("RGB", (32, 32), (1, 2, 3)).save(folder / "good.png")
    bomb = io.BytesIO()
    Image.new("1", (10000, 10000)).save(bomb, "PNG")  # 100 million pixels, a few kB
    (folder / "bomb.png").write_bytes(bomb.getvalue())
    os.mkfifo(folder / "pipe.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / b"\xff\xfename.png".decode(errors="surrogateescape")).write_bytes(b"\x89PNG broken")
    dataset = load_local(str(folder))
    reasons = dict(dataset.skipped)
    assert len(dataset.x_train) == 1 and set(reasons) == {"bomb.png", "pipe.png", "loop.png", "\\xff\\xfename.png"}
    assert "decompression bomb" in reasons["bomb.png"] and "not a regular file" in reasons["pipe.png"]


def deny_reading(monkeypatch, *denied) -> None:
    """Takes the read permission from ``denied`` paths: chmod, and for root (whom chmod does not stop) the refusal
    an unreadable file or folder gives, patched into open and scandir."""
    import builtins

    denied = {os.fspath(path) for path in denied}
    for path in denied:
        os.chmod(path, 0)

    def refused(path) -> bool:
        return isinstance(path, (str, os.PathLike)) and os.fspath(path) in denied

    def guarded(real):
        def call(path, *args, **kwargs):
            if refused(path):
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real(path, *args, **kwargs)
        return call

    monkeypatch.setattr(builtins, "open", guarded(builtins.open))
    monkeypatch.setattr(os, "scandir", guarded(os.scandir))


def test_unreadable_pictures_and_subfolders_are_skipped_and_named(tmp_path, monkeypatch):
    folder = tmp_path / "private"
    (folder / "locked").mkdir(parents=True)
    for index in range(3):
        picture("RGB", (32, 32), (index, 2, 3)).save(folder / f"good_{index}.png")
    picture("RGB", (32, 32), (9, 9, 9)).save(folder / "secret.png")
    picture("RGB", (32, 32), (8, 8, 8)).save(folder / "locked" / "inside.png")
    deny_reading(monkeypatch, folder / "secret.png", folder / "locked")
    dataset = load_local(str(folder), progress=False)
    assert len(dataset.x_train) == 3
    assert dict(dataset.skipped) == {"secret.png": "Permission denied", "locked/": "Permission denied"}


def test_an_unreadable_folder_or_data_file_is_refused_naming_it(tmp_path, monkeypatch):
    folder, data = tmp_path / "closed", tmp_path / "closed.npz"
    folder.mkdir()
    picture("RGB", (32, 32), (1, 2, 3)).save(folder / "good.png")
    np.savez(data, x_train=np.zeros((4, 28, 28), np.uint8), y_train=np.zeros(4, np.uint8))
    deny_reading(monkeypatch, folder, data)
    with pytest.raises(DataError, match=f"^cannot read {folder}: Permission denied"):
        load_local(str(folder))
    with pytest.raises(DataError, match=f"^{data} is not .*unreadable: Permission denied"):
        load_local(str(data))


@pytest.mark.parametrize("make, says", [
    (lambda folder: None, "holds no files to read pictures from"),
    (lambda folder: (folder / "a.txt").write_text("no"), "holds no picture that can be read: 1 file, a.txt"),
])
def test_a_folder_without_pictures_is_refused_naming_it(tmp_path, make, says):
    folder = tmp_path / "empty"
    folder.mkdir()
    make(folder)
    with pytest.raises(DataError, match=f"^{folder} {says}"):
        load_local(str(folder))


def test_a_zip_member_that_would_inflate_too_far_is_skipped(tmp_path, monkeypatch):
    from gan_keras.data import pictures

    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("zeros.png", b"\0" * 5_000_000)
        buffer = io.BytesIO()
        picture("RGB", (32, 32), (9, 9, 9)).save(buffer, "PNG")
        handle.writestr("good.png", buffer.getvalue())
    monkeypatch.setattr(pictures, "MAX_MEMBER_BYTES", 1_000_000)
    dataset = load_local(str(archive))
    assert len(dataset.x_train) == 1 and "would inflate to 5,000,000 bytes" in dict(dataset.skipped)["zeros.png"]


@pytest.mark.parametrize("arguments, says", [
    (["--batch-size", "64"], "holds 10 images, fewer than one batch of 64"),
    (["--conditional", "--data-from", "gray"], "has no classes for --conditional"),
    (["--background", "glitter"], "--background 'glitter' is not a colour"),
    (["--image-size", "48"], "argument --image-size: invalid choice: 48"),
])
def test_refusals_are_one_line(tmp_path, arguments, says):
    folder = tmp_path / "pictures"
    make_mixed_folder(folder)
    gray = tmp_path / "gray"
    gray.mkdir()
    for index in range(40):
        picture("L", (28, 28), index).save(gray / f"{index}.png")
    data = str(gray) if "--data-from" in arguments else str(folder)
    arguments = [argument for argument in arguments if argument not in ("--data-from", "gray")]
    result = run_script("train.py", "--data", data, "--out", str(tmp_path / "run"), "--no-progress", *arguments)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0 and len(lines) == 1 and says in lines[0], result.stderr
    assert not (tmp_path / "run").exists()
