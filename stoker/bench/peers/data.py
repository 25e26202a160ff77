"""The two pipelines every system runs, as plain functions: images (JPEG decode, random-resized-crop
to 224, flip, uint8 CHW, batch 64) and text (an 8k BPE ``tokenizers`` model trained here, a random
512-token window, padding, batch 32).

Random choices draw from the global torch RNG, as torchvision's transforms do: torch's DataLoader
seeds it per worker, stoker per sample from ``(seed, epoch, index)``, and Ray Data and
torchdata.nodes leave it as their workers find it. tf.data uses its own ops (see ``systems``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from stoker.bench._imagefolder import ImageFolder, make_image_folder, train_transform
from stoker.bench._util import bench_dir

IMAGE_BATCH = 64
TEXT_BATCH = 32
WINDOW = 512
VOCAB = 8192


@dataclass(frozen=True)
class Inputs:
    """Where a pipeline's inputs lie (made once, kept in the bench folder).

    Attributes:
        name: ``"image"`` or ``"text"``.
        items: JPEG paths, or documents (str).
        batch: Batch size.
        tokenizer: Path of the BPE model (text only).
    """

    name: str
    items: list[str]
    batch: int
    tokenizer: str = ""


def image_inputs(count: int) -> Inputs:
    root = make_image_folder(bench_dir(f"imagefolder-{count}"), count)
    return Inputs("image", [p for p, _ in ImageFolder(root).samples], IMAGE_BATCH)


def _documents(count: int) -> list[str]:
    """Real English-and-code text: the standard library's sources, cut into documents of 8-16 KB."""
    import sysconfig

    text = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        text.append(path.read_text(errors="replace"))
    blob = "\n".join(text)
    rng = np.random.default_rng(0)
    docs = []
    for _ in range(count):
        size = int(rng.integers(8_000, 16_000))
        start = int(rng.integers(0, len(blob) - size))
        docs.append(blob[start : start + size])
    return docs


def text_inputs(count: int) -> Inputs:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    docs = _documents(count)
    path = os.path.join(bench_dir("peers"), f"bpe{VOCAB}-{count}.json")
    if not os.path.exists(path):
        tok = Tokenizer(models.BPE(unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel()
        tok.train_from_iterator(docs, trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["[PAD]", "[UNK]"]))
        tok.save(path)
    return Inputs("text", docs, TEXT_BATCH, path)


# -- per-sample work (module-level: every system's workers must import it) -------------------------


def load_image(path: str) -> Image.Image:
    with open(path, "rb") as f:
        return Image.open(f).convert("RGB")


_AUGMENT = train_transform(224)


def augment_image(img: Image.Image) -> torch.Tensor:
    return _AUGMENT(img)


def stoker_image(path: str) -> torch.Tensor:
    """The same pipeline as a stoker user writes it (README): ``stoker.io``'s decode (libjpeg-turbo through
    simplejpeg when installed, Pillow's exact pixels), Inception-style crop and flip drawn from the sample's own
    generator (seed, epoch, index)."""
    from stoker.io import random_hflip, random_resized_crop, read_image, to_uint8_tensor

    return to_uint8_tensor(random_hflip(random_resized_crop(read_image(path), 224)))


def image_sample(path: str) -> torch.Tensor:
    return augment_image(load_image(path))


@functools.lru_cache(maxsize=2)
def tokenizer(path: str) -> Any:
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


class Tokenize:
    """Document -> int32 token ids (a picklable callable holding only the model's path)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self, doc: str) -> np.ndarray:
        return np.asarray(tokenizer(self.path).encode(doc).ids, dtype=np.int32)


def random_window(ids: np.ndarray) -> torch.Tensor:
    """A random ``WINDOW``-token window (the whole document when shorter)."""
    start = int(torch.randint(0, max(1, len(ids) - WINDOW + 1), ()).item())
    return torch.from_numpy(ids[start : start + WINDOW].astype(np.int64))


def pad_collate(windows: list[torch.Tensor]) -> torch.Tensor:
    out = torch.zeros((len(windows), WINDOW), dtype=torch.int64)  # [PAD] is id 0
    for i, w in enumerate(windows):
        out[i, : len(w)] = w
    return out


def image_collate(images: list[torch.Tensor]) -> torch.Tensor:
    return torch.stack(images)


class TextSample:
    def __init__(self, path: str) -> None:
        self.tokenize = Tokenize(path)

    def __call__(self, doc: str) -> torch.Tensor:
        return random_window(self.tokenize(doc))


class Samples(torch.utils.data.Dataset):
    """A map-style Dataset applying ``fn`` to ``items`` (what a DataLoader user writes)."""

    def __init__(self, items: list[str], fn: Any) -> None:
        self.items, self.fn = items, fn

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.fn(self.items[i])


def sample_fn(inputs: Inputs) -> Any:
    return image_sample if inputs.name == "image" else TextSample(inputs.tokenizer)


def collate_fn(inputs: Inputs) -> Any:
    return image_collate if inputs.name == "image" else pad_collate
