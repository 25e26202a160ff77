"""Choosing the decoder: fastest installed, pinned by env, refused by name when missing."""

from __future__ import annotations

import importlib.util
import io

import numpy as np
import pytest
from PIL import Image

import stoker.io as sio
from stoker.errors import InputError
from stoker.io_kernels import ENV_VAR, available_backends, decoder, image_backend


@pytest.fixture(autouse=True)
def _fresh_choice() -> object:
    image_backend.cache_clear()
    yield
    image_backend.cache_clear()


def test_default_is_the_fastest_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    has_simplejpeg = importlib.util.find_spec("simplejpeg") is not None
    assert image_backend() == ("simplejpeg" if has_simplejpeg else "pillow")


def test_falls_back_to_pillow_without_simplejpeg(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "simplejpeg" else real(name, *a))
    assert available_backends() == ["pillow"]
    assert image_backend() == "pillow"
    buf = io.BytesIO()
    Image.fromarray(np.full((20, 30, 3), 128, np.uint8)).save(buf, format="JPEG")
    buf.seek(0)
    assert sio.read_image(buf, as_array=True).shape == (20, 30, 3)


def test_env_pins_the_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "pillow")
    assert image_backend() == "pillow"


def test_unknown_or_missing_decoder_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "nope")
    with pytest.raises(InputError, match="nope"):
        image_backend()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "simplejpeg" else real(name, *a))
    with pytest.raises(InputError, match=r"'simplejpeg' is not installed.*stoker\[fast\]"):
        decoder("simplejpeg")


def test_png_and_cmyk_go_to_pillow(tmp_path: object) -> None:
    for backend in available_backends():
        for fmt, mode in (("PNG", "RGBA"), ("JPEG", "CMYK"), ("JPEG", "L")):
            buf = io.BytesIO()
            Image.fromarray(np.arange(20 * 30 * len(mode), dtype=np.uint8).reshape(20, 30, -1).squeeze(), mode).save(
                buf, format=fmt
            )
            buf.seek(0)
            ref = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
            out = sio.read_image(buf, backend=backend, as_array=True)
            assert np.array_equal(out, ref), (backend, fmt, mode)


def test_a_bad_pinned_decoder_fails_at_the_first_image_not_at_the_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    import stoker

    monkeypatch.setenv(ENV_VAR, "nope")
    with stoker.Loader(stoker.from_items([1, 2, 3]), workers=0) as loader:
        assert list(loader) == [1, 2, 3]
        assert loader.state_dict()["fingerprint"]["image_decoder"] is None
    with pytest.raises(InputError, match=r"image decoder 'nope'.*'pillow', 'simplejpeg'"):
        sio.read_image(io.BytesIO(b"\xff\xd8\xff"))
