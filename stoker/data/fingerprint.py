"""What defines a Loader's stream, so a resumed run refuses a state saved for another stream.

A state names delivered splits by number; under another shuffle seed, batch size, data length
or rank the same numbers hold other samples, and loading it would silently repeat and skip
samples. The worker count and the backend are not part of the stream (any number of workers
on any backend produces the same splits), so they may change between save and resume.

The image decoder (``image_decoder``) is recorded so a state says which decoder made its pixels,
but not checked: the decoders give bit-identical pixels (see :mod:`stoker.io_kernels`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from stoker.data.pipeline import Pipeline
from stoker.errors import InputError
from stoker.io_kernels import image_backend

RECORDED = ("image_decoder",)  # in the fingerprint for the record, not checked on resume
FIELDS = ("length", "source", "operators", "shuffle", "batch_size", "drop_last", "seed", "rank", "world_size")
_MAX_HASHED = 100_000  # file lists longer than this are identified by length, ends and kind only


def _source_identity(pipeline: Pipeline) -> str:
    """The source's kind and name, plus a digest of its file list when it is one."""
    src = pipeline.source
    ident = f"{src.kind}:{src.name}:{type(src.data).__module__}.{type(src.data).__qualname__}"
    files = src.data if src.kind == "files" else getattr(src.data, "files", None) if src.kind == "stream" else None
    if files:
        paths = [str(p) for p in files] if len(files) <= _MAX_HASHED else [str(files[0]), str(files[-1])]
        ident += ":" + hashlib.sha1("\n".join(paths).encode()).hexdigest()[:16]
    return ident


def stream_fingerprint(pipeline: Pipeline, *, seed: int, split_size: int, rank: int, world_size: int) -> dict[str, Any]:
    """The fields that define a Loader's stream (see :data:`FIELDS`), as plain picklable values.

    Args:
        pipeline: The Loader's pipeline.
        seed: The Loader's per-sample seed.
        split_size: Samples per split (the batch size of a batched pipeline).
        rank: This trainer's rank.
        world_size: Ranks in the job.
    """
    batch = pipeline.batch_op
    shuffle = pipeline.shuffle_op
    shuffle_seed = None if shuffle is None else (shuffle.args["seed"] if shuffle.args["seed"] is not None else seed)
    return {
        # A stream's length is unknown until it ends; its name carries the virtual shard count instead.
        "length": None if pipeline.source.kind == "stream" else len(pipeline),
        "source": _source_identity(pipeline),
        "operators": [f"{op.kind}:{op.name}" for op in pipeline.ops if op.kind != "shuffle"],
        "shuffle": shuffle_seed,
        "batch_size": batch.args["size"] if batch is not None else split_size,
        "drop_last": bool(batch.args["drop_last"]) if batch is not None else False,
        "seed": seed,
        "rank": rank,
        "world_size": world_size,
        "image_decoder": _image_decoder(),  # recorded, not in FIELDS: the decoders give the same pixels
    }


def _image_decoder() -> str | None:
    """The process's image decoder, or None when ``$STOKER_IMAGE_BACKEND`` names none installed.

    A bad name is refused by the first ``read_image``; a Loader whose pipeline reads no images
    must not fail over it.
    """
    try:
        return image_backend()
    except InputError:
        return None


def check_fingerprint(saved: dict[str, Any] | None, current: dict[str, Any]) -> None:
    """Refuses a state whose stream differs from this Loader's.

    Args:
        saved: The fingerprint in the state (None for states saved before fingerprints existed,
            which keep only the older checks).
        current: This Loader's fingerprint.

    Raises:
        ValueError: Names the first field that differs, both values, and the way out.
    """
    if saved is None:
        return
    for name in FIELDS:
        if name in saved and saved[name] != current.get(name):
            raise ValueError(
                f"this state was saved for another stream: {name}={saved[name]!r} in the state, "
                f"{name}={current.get(name)!r} in this Loader. Resuming would repeat and skip samples; "
                f"build the Loader with the same {name}, or start the epoch afresh without load_state_dict."
            )
