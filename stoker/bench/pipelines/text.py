"""Text: read a document, BPE-tokenise it, drop test files, take a random window, pack fixed blocks.

The corpus is text that ships with this Python installation: the standard library's ``.py``
sources and the licence / readme files of installed packages. A byte-level BPE tokenizer
(Hugging Face ``tokenizers``) is trained locally on part of it once and kept in the benchmark
folder. The filter on the file name sits after the tokenizer, as it often does in real code; the
optimiser moves it to the front (it reads only the path), and autocache keeps the token ids.
"""

from __future__ import annotations

import glob
import os
import sysconfig
from typing import Any

import numpy as np
import torch

import stoker
from stoker.bench._util import bench_dir
from stoker.bench.pipelines._base import Case

NAME = "text"
BLOCK = 128  # tokens per packed row
WINDOW = 1024  # longest random window taken from one document
EOS = "<|endoftext|>"


def corpus(limit: int) -> list[str]:
    """Up to ``limit`` text files shipped with this Python: stdlib sources, package licences and readmes."""
    stdlib = sysconfig.get_paths()["stdlib"]
    purelib = sysconfig.get_paths()["purelib"]
    files = sorted(glob.glob(os.path.join(stdlib, "*.py")))
    files += sorted(glob.glob(os.path.join(stdlib, "*", "*.py")))
    for pattern in ("*.dist-info/LICENSE*", "*.dist-info/licenses/*", "*.dist-info/METADATA"):
        files += sorted(glob.glob(os.path.join(purelib, pattern)))
    files = [f for f in files if os.path.isfile(f) and 1_000 <= os.path.getsize(f) <= 24_000]
    step = max(1, len(files) // limit)
    return files[::step][:limit]


def train_tokenizer(path: str, files: list[str], vocab: int = 8000) -> str:
    """Trains a byte-level BPE on ``files`` and saves it to ``path`` (kept if it exists)."""
    if os.path.exists(path):
        return path
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=[EOS], show_progress=False)
    tok.train(files, trainer)
    tok.save(path + ".tmp")
    os.replace(path + ".tmp", path)
    return path


def read_doc(doc: dict[str, Any]) -> dict[str, Any]:
    with open(doc["path"], encoding="utf-8", errors="replace") as f:
        return {"path": doc["path"], "text": f.read()}


class Tokenize:
    """Text -> int32 token ids with the trained BPE (loaded lazily once per worker process)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._tok: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_tok": None}  # workers load the file themselves

    def __call__(self, doc: dict[str, Any]) -> dict[str, Any]:
        if self._tok is None:
            from tokenizers import Tokenizer

            self._tok = Tokenizer.from_file(self.path)
        ids = np.asarray(self._tok.encode(doc["text"]).ids, dtype=np.int32)
        return {"path": doc["path"], "ids": ids}


def not_a_test(doc: dict[str, Any]) -> bool:
    """Drops test modules: the file name alone decides."""
    name = os.path.basename(doc["path"])
    return not (name.startswith("test") or name.endswith("_test.py"))


def random_window(doc: dict[str, Any]) -> np.ndarray:
    """A window of up to WINDOW tokens at a random offset (per-sample RNG)."""
    ids = doc["ids"]
    if len(ids) <= WINDOW:
        return ids
    start = int(stoker.sample_rng().integers(0, len(ids) - WINDOW + 1))
    return ids[start : start + WINDOW]


class PackBlocks:
    """Collate: joins the windows with an end-of-text token and cuts rows of BLOCK + 1 tokens.

    Returns ``(inputs, targets)``, both ``(rows, BLOCK)`` int64; the tail shorter than a row is
    dropped, as in GPT-style packing.
    """

    def __init__(self, eos_id: int) -> None:
        self.eos_id = eos_id

    def __call__(self, windows: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        sep = np.array([self.eos_id], dtype=np.int32)
        stream = np.concatenate([p for w in windows for p in (w, sep)])
        rows = len(stream) // (BLOCK + 1)
        blocks = torch.from_numpy(stream[: rows * (BLOCK + 1)].astype(np.int64)).view(rows, BLOCK + 1)
        return blocks[:, :-1].contiguous(), blocks[:, 1:].contiguous()


def build(docs: int = 384, seed: int = 0) -> Case:
    root = bench_dir("text")
    files = corpus(docs)
    if len(files) < 2:
        raise RuntimeError("found no text files shipped with this Python to build the text pipeline from")
    tok_path = train_tokenizer(os.path.join(root, "bpe-8000.json"), files[::4])
    from tokenizers import Tokenizer

    eos = Tokenizer.from_file(tok_path).token_to_id(EOS)
    if eos is None:
        raise RuntimeError(f"the tokenizer {tok_path} has no {EOS!r} token; delete it to retrain")
    pipe = (
        stoker.from_items([{"path": f} for f in files])
        .shuffle(seed=seed)
        .map(read_doc)
        .map(Tokenize(tok_path), name="tokenize")
        .filter(not_a_test)
        .map(random_window)
        .batch(16, collate=PackBlocks(eos))
    )
    return Case(NAME, pipe, f"{len(files)} shipped text files, BPE 8k, filter, random window, pack {BLOCK}")
