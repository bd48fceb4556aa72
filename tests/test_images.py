"""Bad input in image folders: skipped and reported, converted, or a clear error."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from course_utils.images import ImageFolderError, load_image_folder, read_image


def _save(path, mode="RGB", fmt="JPEG", size=(40, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    color = {"RGB": (200, 10, 10), "L": 128, "CMYK": (0, 255, 255, 0), "RGBA": (0, 0, 255, 0),
             "P": 3, "LA": (50, 255)}[mode]
    Image.new(mode, size, color).save(path, fmt)
    return path


@pytest.fixture
def messy(tmp_path):
    root = tmp_path / "pets"
    _save(root / "cats/good.jpg")
    _save(root / "cats/gray.png", "L", "PNG")
    _save(root / "cats/cmyk.jpg", "CMYK", "JPEG")
    _save(root / "cats/alpha.png", "RGBA", "PNG")
    (root / "cats/empty.jpg").write_bytes(b"")
    (root / "cats/notes.txt").write_text("not an image")
    (root / "cats/fake.jpg").write_text("<html>this is not a jpeg</html>")
    good = _save(root / "dogs/good.jpg").read_bytes()
    (root / "dogs/truncated.jpg").write_bytes(good[: len(good) // 2])
    _save(root / "dogs/palette.png", "P", "PNG")
    return root


def test_bad_files_are_skipped_and_reported_by_name(messy, capsys):
    x, y, report = load_image_folder(messy, 32)
    skipped = {p.split("/")[-1]: why for p, why in report.skipped}
    assert set(skipped) == {"empty.jpg", "notes.txt", "fake.jpg", "truncated.jpg"}
    assert "empty" in skipped["empty.jpg"] and "not an image" in skipped["fake.jpg"]
    assert "corrupt" in skipped["truncated.jpg"]
    assert report.counts == {"cats": 4, "dogs": 2}
    assert x.shape == (6, 32, 32, 3) and x.dtype == np.uint8 and list(y) == [0, 0, 0, 0, 1, 1]
    out = capsys.readouterr().out
    assert "skipped 4 files" in out and "truncated.jpg" in out


def test_grayscale_cmyk_alpha_and_palette_become_rgb(messy):
    _, _, report = load_image_folder(messy, 16)
    assert {m for _, m in report.converted} == {"L", "CMYK", "RGBA", "P"}
    rgba, mode = read_image(messy / "cats/alpha.png", None)
    assert mode == "RGBA" and rgba.shape[-1] == 3
    assert (rgba == 255).all(), "a fully transparent pixel is composited on white"


def test_empty_class_folder_is_an_error_naming_it(tmp_path):
    _save(tmp_path / "data/cats/a.jpg")
    (tmp_path / "data/dogs").mkdir()
    with pytest.raises(ImageFolderError, match="dogs is empty"):
        load_image_folder(tmp_path / "data", 16)


def test_class_folder_with_only_bad_files_is_an_error(tmp_path):
    _save(tmp_path / "data/cats/a.jpg")
    (tmp_path / "data/dogs").mkdir()
    (tmp_path / "data/dogs/broken.jpg").write_bytes(b"")
    with pytest.raises(ImageFolderError, match="dogs has no readable images"):
        load_image_folder(tmp_path / "data", 16, verbose=False)


def test_inconsistent_class_names_is_an_error(tmp_path):
    _save(tmp_path / "data/cats/a.jpg")
    _save(tmp_path / "data/dgos/b.jpg")
    with pytest.raises(ImageFolderError, match="inconsistent class names"):
        load_image_folder(tmp_path / "data", 16, class_names=["cats", "dogs"])


def test_folder_without_classes_is_an_error(tmp_path):
    (tmp_path / "flat").mkdir()
    _save(tmp_path / "flat/a.jpg")
    with pytest.raises(ImageFolderError, match="no class folders"):
        load_image_folder(tmp_path / "flat", 16)


def test_per_class_sampling_is_seeded_and_replaces_bad_files(messy):
    a = load_image_folder(messy, 8, per_class=2, seed=3, verbose=False)
    b = load_image_folder(messy, 8, per_class=2, seed=3, verbose=False)
    assert np.array_equal(a[0], b[0]) and a[2].counts == {"cats": 2, "dogs": 2}
