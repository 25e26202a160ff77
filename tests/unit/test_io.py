"""stoker.io: every op on PIL images and arrays, determinism per (seed, epoch, index), bad files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import stoker.io as sio
from stoker.data.rng import seeded
from stoker.errors import InputError
from stoker.io_kernels import available_backends


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Real photographs (scikit-learn's), cropped to 500x375 and re-encoded at three qualities."""
    if importlib.util.find_spec("sklearn") is None:  # its photographs, not the package
        pytest.skip("needs scikit-learn's sample photographs: pip install 'stoker[demo]'")
    from benchmarks.image_kernels import sample_photos

    root = tmp_path_factory.mktemp("jpegs")
    paths = []
    for i, photo in enumerate(sample_photos()):
        for quality in (75, 95):
            path = root / f"{i}_{quality}.jpg"
            Image.fromarray(photo[20:395, 40:540]).save(path, quality=quality)
            paths.append(str(path))
    return paths


def _pipeline(path: str, backend: str, as_array: bool) -> torch.Tensor:
    img = sio.read_image(path, backend=backend, as_array=as_array)
    return sio.normalize(sio.to_uint8_tensor(sio.random_hflip(sio.random_resized_crop(img, 224))))


@pytest.mark.parametrize("backend", available_backends())
@pytest.mark.parametrize("as_array", [False, True])
def test_pipeline_shapes_and_same_pixels_per_key(jpegs: list[str], backend: str, as_array: bool) -> None:
    for index, path in enumerate(jpegs):
        with seeded(7, 1, index):
            ref = _pipeline(path, "pillow", as_array=False)
        with seeded(7, 1, index):
            out = _pipeline(path, backend, as_array)
        assert out.shape == (3, 224, 224) and out.dtype == torch.float32
        assert torch.equal(out, ref), f"{backend=} {as_array=} differs from Pillow on {path}"


def test_read_image_kinds(jpegs: list[str]) -> None:
    img = sio.read_image(jpegs[0])
    arr = sio.read_image(jpegs[0], as_array=True)
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (500, 375)
    assert isinstance(arr, np.ndarray) and arr.shape == (375, 500, 3) and arr.dtype == np.uint8
    with open(jpegs[0], "rb") as f:
        assert np.array_equal(np.asarray(sio.read_image(f)), arr)
    grey = sio.read_image(jpegs[0], mode="L", as_array=True)
    assert grey.shape == (375, 500)
    assert sio.to_uint8_tensor(grey).shape == (1, 375, 500)


def test_ops_on_arrays_match_pil(jpegs: list[str]) -> None:
    img = sio.read_image(jpegs[1], backend="pillow")
    arr = np.asarray(img)
    with seeded(3, 0, 5):
        crop_img, flip_img = sio.random_resized_crop(img, 96), sio.random_hflip(img, p=1.0)
    with seeded(3, 0, 5):
        crop_arr, flip_arr = sio.random_resized_crop(arr, 96), sio.random_hflip(arr, p=1.0)
    assert crop_arr.shape == (96, 96, 3) and crop_arr.dtype == np.uint8
    assert np.array_equal(np.asarray(crop_img), crop_arr)
    assert np.array_equal(np.asarray(flip_img), flip_arr)
    t = sio.to_uint8_tensor(flip_arr)
    assert t.dtype == torch.uint8 and t.shape == (3, 375, 500) and t.is_contiguous()
    assert torch.equal(t, sio.to_uint8_tensor(flip_img))


def test_random_params_change_with_the_key(jpegs: list[str]) -> None:
    arr = sio.read_image(jpegs[0], as_array=True)
    outs = []
    for epoch in (0, 1):
        with seeded(0, epoch, 3):
            outs.append(sio.random_resized_crop(arr, 64))
    assert not np.array_equal(outs[0], outs[1])


def test_normalize_same_bits_and_leaves_input() -> None:
    x = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    m = torch.tensor(sio.IMAGENET_MEAN).view(-1, 1, 1)
    s = torch.tensor(sio.IMAGENET_STD).view(-1, 1, 1)
    assert torch.equal(sio.normalize(x), (x.to(torch.float32) / 255.0 - m) / s)
    f = x.to(torch.float32)
    before = f.clone()
    sio.normalize(f)
    assert torch.equal(f, before)


def test_draft_is_smaller_and_opt_in(jpegs: list[str]) -> None:
    full = sio.read_image(jpegs[0], as_array=True)
    for backend in available_backends():
        small = sio.read_image(jpegs[0], backend=backend, draft=(100, 80), as_array=True)
        assert 100 <= small.shape[1] < full.shape[1] and 80 <= small.shape[0] < full.shape[0], backend


@pytest.mark.parametrize("backend", available_backends())
def test_corrupt_and_truncated_files_name_the_file(tmp_path: Path, jpegs: list[str], backend: str) -> None:
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg at all" * 4)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(Path(jpegs[0]).read_bytes()[:4000])
    for bad in (garbage, truncated):
        with pytest.raises(OSError, match=bad.name):
            sio.read_image(str(bad), backend=backend)


def test_torch_resize_kernel(jpegs: list[str]) -> None:
    arr = sio.read_image(jpegs[0], as_array=True)
    with seeded(1, 0, 2):
        ref = sio.random_resized_crop(arr, 128, scale=(0.9, 1.0))
    with seeded(1, 0, 2):
        out = sio.random_resized_crop(arr, 128, scale=(0.9, 1.0), kernel="torch")
    with seeded(1, 0, 2):
        out_pil = sio.random_resized_crop(Image.fromarray(arr), 128, scale=(0.9, 1.0), kernel="torch")
    assert out.shape == (128, 128, 3) and out.dtype == np.uint8
    assert np.array_equal(np.asarray(out_pil), out)
    # The same crop box, another kernel: equal within 1 level inside, differing only near the edges.
    inner = np.abs(out.astype(int) - ref.astype(int))[4:-4, 4:-4]
    assert inner.max() <= 1 and np.abs(out.astype(int) - ref.astype(int)).sum() > 0
    with pytest.raises(InputError, match="'pillow', 'torch'"):
        sio.random_resized_crop(arr, 128, kernel="cv2")
