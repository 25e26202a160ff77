"""Kept for the benchmarks that import from here; the suite lives in :mod:`stoker.bench.pipelines`."""

from stoker.bench.pipelines.jpeg import JpegDataset, decode_augment

__all__ = ["JpegDataset", "decode_augment"]
