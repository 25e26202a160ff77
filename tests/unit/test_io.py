"""stoker.io's JPEG fast path (simplejpeg) gives Pillow's pixels, and leaves what it cannot match to Pillow."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from stoker import io as sio
from stoker.sample_data import make_jpeg_folder

pytest.importorskip("simplejpeg", reason="the fast path needs stoker[fast] (in dev)")


def _pillow(path: str, mode: str = "RGB") -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert(mode))


def test_fast_decode_gives_pillows_pixels_on_real_jpegs(tmp_path) -> None:
    paths = make_jpeg_folder(tmp_path, 12, sizes=(97, 256, 384), qualities=(50, 75, 95))
    for path in paths:
        with open(path, "rb") as f:
            assert sio._fast_jpeg(f.read()) is not None  # the fast path ran
        assert np.array_equal(np.asarray(sio.read_image(path)), _pillow(path)), path


def test_grayscale_and_png_take_pillows_path_with_its_conversion(tmp_path) -> None:
    rgb = np.asarray(Image.open(make_jpeg_folder(tmp_path / "src", 1)[0]))
    gray, png = str(tmp_path / "gray.jpg"), str(tmp_path / "x.png")
    Image.fromarray(rgb).convert("L").save(gray, quality=90)
    Image.fromarray(rgb).save(png)
    with open(gray, "rb") as f:
        assert sio._fast_jpeg(f.read()) is None
    for path in (gray, png):
        assert np.array_equal(np.asarray(sio.read_image(path)), _pillow(path))


def test_a_truncated_jpeg_still_raises_oserror(tmp_path) -> None:
    path = make_jpeg_folder(tmp_path, 1)[0]
    with open(path, "rb") as f:
        data = f.read()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError):
        sio.read_image(str(cut))
