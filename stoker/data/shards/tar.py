"""WebDataset-style tar shards: consecutive members sharing a key make one sample.

``images/000123.jpg`` and ``images/000123.cls`` are the sample ``{"__key__": "images/000123",
"__url__": <shard>, "jpg": <bytes>, "cls": <bytes>}``. A reader streams the shard from its first
byte; only a reader that must start at sample ``r > 0`` needs the shard's index (the header
offset of each sample's first member), which is built on first use by reading the headers alone,
and kept per shard in memory and in a small file in the user's cache folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from stoker.data.shards.files import fingerprint, open_file

_NAME = re.compile(r"^((?:.*/|)[^./]+)\.([^/]*)$")  # WebDataset's split: key up to the basename's first dot
_MEMORY_CACHE = 256  # shard indexes kept per process


def split_name(name: str) -> tuple[str, str] | None:
    """(key, extension) of a member name, or None for a name without an extension (skipped)."""
    m = _NAME.match(name)
    return (m.group(1), m.group(2)) if m else None


def _cache_dir() -> str:
    root = os.environ.get("STOKER_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "stoker"
    )
    return os.path.join(root, "tar-index")


class TarIndex:
    """Sample start offsets of tar shards, built lazily, cached per shard (memory, then disk)."""

    def __init__(self) -> None:
        self._memory: OrderedDict[tuple[str, int, str], np.ndarray] = OrderedDict()

    def offsets(self, url: str) -> np.ndarray:
        """Header offset (bytes) of each sample's first member, in sample order (int64)."""
        mark = fingerprint(url)
        hit = self._memory.get(mark)
        if hit is not None:
            self._memory.move_to_end(mark)
            return hit
        path = os.path.join(_cache_dir(), hashlib.sha1(repr(mark).encode()).hexdigest() + ".npy")
        try:
            offsets = np.load(path)
        except (OSError, ValueError):
            offsets = build_index(url)
            _save(path, offsets)
        self._memory[mark] = offsets
        while len(self._memory) > _MEMORY_CACHE:
            self._memory.popitem(last=False)
        return offsets


def _save(path: str, offsets: np.ndarray) -> None:
    """Writes the index atomically (workers may build the same one at once); a failure only costs a rebuild."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            np.save(f, offsets)
        os.replace(tmp, path)
    except OSError:
        pass


def _members(tf: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The shard's members, without tarfile's growing member list (flat memory on big shards)."""
    while (m := tf.next()) is not None:
        tf.members = []  # type: ignore[attr-defined]
        if m.isfile():
            yield m


def build_index(url: str) -> np.ndarray:
    """Reads only the headers (``r:`` mode seeks over member data) and notes where samples start."""
    starts: list[int] = []
    current = None
    with open_file(url) as f, tarfile.open(fileobj=f, mode="r:") as tf:
        for m in _members(tf):
            parts = split_name(m.name)
            if parts is not None and parts[0] != current:
                current = parts[0]
                starts.append(m.offset)
    return np.asarray(starts, dtype=np.int64)


class TarFormat:
    """Reads WebDataset tar shards (see the module docstring)."""

    name = "tar"

    def __init__(self) -> None:
        self.index = TarIndex()

    def count(self, url: str) -> int:
        return len(self.index.offsets(url))

    def records(self, url: str, start: int) -> Iterator[tuple[dict[str, Any], str]]:
        with open_file(url) as f:
            if start > 0:
                offsets = self.index.offsets(url)
                if start >= len(offsets):
                    return
                f.seek(int(offsets[start]))  # a tar is headers and data: any header starts a valid stream
            with tarfile.open(fileobj=f, mode="r|") as tf:
                sample: dict[str, Any] = {}
                for m in _members(tf):
                    parts = split_name(m.name)
                    if parts is None:
                        continue
                    key, ext = parts
                    if sample and sample["__key__"] != key:
                        yield sample, f"{url}:{sample['__key__']}"
                        sample = {}
                    if not sample:
                        sample = {"__key__": key, "__url__": url}
                    data = tf.extractfile(m)
                    sample[ext] = data.read() if data is not None else b""
                if sample:
                    yield sample, f"{url}:{sample['__key__']}"
