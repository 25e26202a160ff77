"""Turning what a user passes to ``stoker.Loader`` into a pipeline, and that into bytes for workers."""

from __future__ import annotations

from typing import Any

from stoker.data.errors import PipelineSerializationError
from stoker.data.pipeline import Pipeline, from_dataset


def as_pipeline(source: Any) -> Pipeline:
    """Accepts a Pipeline, a partition plan (``__stoker_pipeline__``) or a map-style Dataset."""
    if isinstance(source, Pipeline):
        return source
    hook = getattr(source, "__stoker_pipeline__", None)
    if callable(hook):
        return hook()
    if hasattr(source, "__len__") and hasattr(source, "__getitem__"):
        return from_dataset(source)
    raise TypeError(
        f"Loader() takes a stoker pipeline, a partition plan or a map-style Dataset, got {type(source).__name__}"
    )


def serialize_pipeline(pipeline: Pipeline) -> bytes:
    """Cloudpickles the pipeline, naming the operator that cannot be sent to workers."""
    import cloudpickle

    from stoker.data import mp_pickle

    try:
        # mp_pickle: multiprocessing Values/Locks held by a dataset travel as torch's DataLoader lets them.
        return mp_pickle.dumps(pipeline)
    except Exception as exc:
        for op in pipeline.ops:
            try:
                cloudpickle.dumps(op.fn)
            except Exception as op_exc:
                raise PipelineSerializationError(
                    f"the {op.kind} function {op.name!r} cannot be sent to worker processes "
                    f"({type(op_exc).__name__}: {op_exc}). Make it a module-level function or a "
                    f"picklable object, open resources lazily inside it, or use workers=0."
                ) from op_exc
        try:
            cloudpickle.dumps(pipeline.source.data)
        except Exception as src_exc:
            raise PipelineSerializationError(
                f"the source {pipeline.source.name!r} cannot be sent to worker processes "
                f"({type(src_exc).__name__}: {src_exc}). Open files or connections lazily in "
                f"__getitem__ instead of holding them on the dataset."
            ) from src_exc
        raise PipelineSerializationError(f"the pipeline cannot be sent to workers: {exc}") from exc
