"""Each system's idiomatic loader for the two pipelines of :mod:`stoker.bench.peers.data`, 2 CPUs each.

A system is a function ``(inputs, workers) -> Run`` registered in :data:`SYSTEMS`; ``Run.epoch()``
iterates one epoch of torch tensors (what a PyTorch trainer takes), ``Run.close()`` ends it. Imports
are inside the functions: a system's library is only loaded in the process that measures it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from stoker.bench.peers import data as d
from stoker.registry import Registry


@dataclass
class Run:
    """A built loader: ``epoch()`` gives one epoch of batches, ``close()`` releases its workers."""

    epoch: Callable[[], Iterator[torch.Tensor]]
    close: Callable[[], None] = lambda: None


def torch_dataloader(inp: d.Inputs, workers: int) -> Run:
    """torch's DataLoader, 2 persistent workers, shuffled (the issue's reference)."""
    dl = torch.utils.data.DataLoader(
        d.Samples(inp.items, d.sample_fn(inp)),
        batch_size=inp.batch,
        shuffle=True,
        num_workers=workers,
        persistent_workers=True,
        collate_fn=d.collate_fn(inp),
    )
    return Run(lambda: iter(dl))


def _stoker(inp: d.Inputs, workers: int, optimize: bool) -> Run:
    import stoker

    pipe = stoker.from_items(inp.items).shuffle()
    if inp.name == "image":
        pipe = pipe.map(d.stoker_image)  # stoker.io's kernels, as the README writes it
    else:
        pipe = pipe.map(d.Tokenize(inp.tokenizer)).map(d.random_window)
    loader = stoker.Loader(pipe.batch(inp.batch, collate=d.collate_fn(inp)), workers=workers, seed=0, optimize=optimize)

    def close() -> None:
        loader.close()
        if loader.optimize_report is not None:
            loader.optimize_report.close()  # its cache goes with the run

    return Run(lambda: iter(loader), close)


def stoker_plain(inp: d.Inputs, workers: int) -> Run:
    """``stoker.Loader(pipe, workers=2)``."""
    return _stoker(inp, workers, False)


def stoker_optimized(inp: d.Inputs, workers: int) -> Run:
    """``stoker.Loader(pipe, workers=2, optimize=True)`` (the optimiser's probing counts)."""
    return _stoker(inp, workers, True)


def _tf(workers: int) -> Any:
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_inter_op_parallelism_threads(workers)
    tf.config.threading.set_intra_op_parallelism_threads(workers)
    return tf


def _tf_image_ops(tf: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    def decode(path: Any) -> Any:
        return tf.io.decode_jpeg(tf.io.read_file(path), channels=3)

    def augment(img: Any) -> Any:
        begin, size, _ = tf.image.sample_distorted_bounding_box(
            tf.shape(img),
            bounding_boxes=tf.zeros([1, 0, 4]),
            area_range=(0.08, 1.0),
            aspect_ratio_range=(3 / 4, 4 / 3),
            max_attempts=10,
            use_image_if_no_bounding_boxes=True,
        )
        crop = tf.image.resize(tf.slice(img, begin, size), (224, 224), method="bilinear")
        crop = tf.image.random_flip_left_right(crop)
        return tf.transpose(tf.cast(tf.round(crop), tf.uint8), (2, 0, 1))

    return decode, augment


def _tf_text_ops(tf: Any, inp: d.Inputs) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    tokenize = d.Tokenize(inp.tokenizer)

    def encode(doc: Any) -> Any:
        ids = tf.py_function(lambda s: tokenize(s.numpy().decode()), [doc], tf.int32)
        ids.set_shape([None])
        return ids

    def window(ids: Any) -> Any:
        start = tf.random.uniform((), 0, tf.maximum(1, tf.shape(ids)[0] - d.WINDOW + 1), dtype=tf.int32)
        return tf.cast(ids[start : start + d.WINDOW], tf.int64)

    return encode, window


def _tf_data(inp: d.Inputs, workers: int, cache: bool) -> Run:
    tf = _tf(workers)
    first, second = _tf_image_ops(tf) if inp.name == "image" else _tf_text_ops(tf, inp)
    ds = tf.data.Dataset.from_tensor_slices(inp.items)
    if cache:  # decode / tokenise once, then shuffle what the cache holds, augment every epoch
        ds = ds.map(first, num_parallel_calls=workers).cache().shuffle(256 if inp.name == "image" else len(inp.items))
        ds = ds.map(second, num_parallel_calls=workers)
    else:
        ds = ds.shuffle(len(inp.items)).map(lambda x: second(first(x)), num_parallel_calls=workers)
    ds = ds.batch(inp.batch) if inp.name == "image" else ds.padded_batch(inp.batch, padded_shapes=[d.WINDOW])
    options = tf.data.Options()
    options.threading.private_threadpool_size = workers
    ds = ds.with_options(options).prefetch(2)

    def epoch() -> Iterator[torch.Tensor]:
        for batch in ds:
            yield torch.from_numpy(batch.numpy())

    return Run(epoch)


def tf_data(inp: d.Inputs, workers: int) -> Run:
    """tf.data with ``map(num_parallel_calls=2)`` (tokenisation through ``tf.py_function``)."""
    return _tf_data(inp, workers, False)


def tf_data_cache(inp: d.Inputs, workers: int) -> Run:
    """tf.data with ``.cache()`` after decode / tokenise."""
    return _tf_data(inp, workers, True)


def _ray(workers: int) -> Any:
    import ray
    import ray.data

    # address="local": a cluster of its own, never one another job on this machine started.
    ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


class _RayImage:
    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"x": d.image_sample(row["item"]).numpy()}


class _RayDecode:
    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"img": np.asarray(d.load_image(row["item"]))}


class _RayAugment:
    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        from PIL import Image

        return {"x": d.augment_image(Image.fromarray(row["img"])).numpy()}


class _RayTokens:
    def __init__(self, path: str) -> None:
        self.tokenize = d.Tokenize(path)

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"ids": self.tokenize(row["item"])}


class _RayWindow:
    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        return {"x": d.pad_collate([d.random_window(np.asarray(row["ids"], dtype=np.int32))])[0].numpy()}


class _RayText:
    def __init__(self, path: str) -> None:
        self.tokens, self.window = _RayTokens(path), _RayWindow()

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        return self.window(self.tokens(row))


def _ray_data(inp: d.Inputs, workers: int, materialize: bool) -> Run:
    ray = _ray(workers)
    ds = ray.data.from_items([{"item": x} for x in inp.items])
    if materialize:  # decode / tokenise once into the object store; augment every epoch
        first = _RayDecode() if inp.name == "image" else _RayTokens(inp.tokenizer)
        ds = ds.map(first).materialize().map(_RayAugment() if inp.name == "image" else _RayWindow())
    else:
        ds = ds.map(_RayImage() if inp.name == "image" else _RayText(inp.tokenizer))

    def epoch() -> Iterator[torch.Tensor]:
        for batch in ds.iter_torch_batches(batch_size=inp.batch, local_shuffle_buffer_size=4 * inp.batch):
            yield batch["x"]

    return Run(epoch, ray.shutdown)


def ray_data(inp: d.Inputs, workers: int) -> Run:
    """Ray Data ``map`` + ``iter_torch_batches`` (local shuffle buffer), ``ray.init(num_cpus=2)``."""
    return _ray_data(inp, workers, False)


def ray_data_materialize(inp: d.Inputs, workers: int) -> Run:
    """Ray Data with ``materialize()`` after decode / tokenise."""
    return _ray_data(inp, workers, True)


class _ItemFn:
    def __init__(self, items: list[str], fn: Any) -> None:
        self.items, self.fn = items, fn

    def __call__(self, i: int) -> torch.Tensor:
        return self.fn(self.items[i])


def torchdata_nodes(inp: d.Inputs, workers: int) -> Run:
    """torchdata.nodes: ``Prefetcher(Mapper(Batcher(ParallelMapper(SamplerWrapper, method="process"))))``."""
    from torchdata.nodes import Batcher, Loader, Mapper, ParallelMapper, Prefetcher, SamplerWrapper

    node: Any = SamplerWrapper(torch.utils.data.RandomSampler(range(len(inp.items))))
    node = ParallelMapper(node, _ItemFn(inp.items, d.sample_fn(inp)), num_workers=workers, method="process")
    node = Prefetcher(Mapper(Batcher(node, batch_size=inp.batch), d.collate_fn(inp)), prefetch_factor=2)
    loader = Loader(node)
    return Run(lambda: iter(loader))


LIBRARIES = {
    "tf_data": "tensorflow",
    "tf_data_cache": "tensorflow",
    "ray_data": "ray.data",
    "ray_data_materialize": "ray.data",
    "torchdata_nodes": "torchdata.nodes",
    "stoker": "stoker",
    "stoker_optimize": "stoker",
}
"""The module each system imports, before the clock starts: importing a library is not building a loader."""

SYSTEMS: Registry[Callable[[d.Inputs, int], Run]] = Registry(
    "peer system",
    {
        "torch": torch_dataloader,
        "stoker": stoker_plain,
        "stoker_optimize": stoker_optimized,
        "tf_data": tf_data,
        "tf_data_cache": tf_data_cache,
        "ray_data": ray_data,
        "ray_data_materialize": ray_data_materialize,
        "torchdata_nodes": torchdata_nodes,
    },
)
STOKER = ("stoker", "stoker_optimize")
