"""Runs a pipeline on one split: the code every worker (and the in-process mode) executes.

Pure with respect to the split: the output depends only on (pipeline, seed, split), which is
what makes re-issued splits and any number of workers give the same stream.
"""

from __future__ import annotations

import time
import traceback
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from torch.utils.data import default_collate

from stoker.data.outcome import DROP, OpFailed, SkipRecord, SplitFailure, SplitResult, failure
from stoker.data.pipeline import Op, Pipeline
from stoker.data.rng import BATCH_NAMESPACE, hash_index, preserved_rngs, seeded
from stoker.data.splits import Split
from stoker.data.transport import Arena, arena_collate

# The records live in stoker.data.outcome (the stream runner imports them from there, so the
# dependency runs one way); the backends import them from here too.
__all__ = ["Executor", "SkipRecord", "SplitFailure", "SplitResult"]


class Executor:
    """Runs a :class:`Pipeline`'s operators on splits.

    Args:
        pipeline: The pipeline to run.
        seed: Seed of the per-sample RNG keys.
        on_error: ``"raise"`` or ``"skip"``.
        arena: In a worker process, the shared-memory arena that the default collate stacks
            large tensors into (saves copying the batch once more).
        catch: What a user function may raise and still become a record. Worker processes
            pass ``BaseException``, so a ``SystemExit`` or ``KeyboardInterrupt`` raised by user
            code reaches the trainer with its type instead of killing the worker; in-process
            the default lets a real Ctrl-C interrupt the trainer.
        in_trainer: Runs in the trainer's process (``workers=0``): the global RNG states are
            restored after each split, so the trainer's own randomness is left as it was.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        seed: int,
        on_error: str,
        arena: Arena | None = None,
        catch: type[BaseException] = Exception,
        in_trainer: bool = False,
    ) -> None:
        self.pipeline = pipeline
        self.catch = catch
        self.seed = seed
        self.on_error = on_error
        self.sample_ops = pipeline.sample_ops()
        self.batch_op = pipeline.batch_op
        if arena is not None and self.batch_op is not None and self.batch_op.fn is default_collate:
            self.batch_op = replace(self.batch_op, fn=arena_collate(arena))
        self.batch_ops = pipeline.batch_ops()
        self._streams: Any = None  # the StreamRunner, made on the first stream split
        # A worker_init_fn makes the worker's own RNG state part of the stream (torch's semantics),
        # so the global RNGs are then not re-seeded per sample (see stoker.data.worker_setup).
        setup = getattr(pipeline, "worker_setup", None)
        self.reseed = setup is None or setup.per_sample_seed
        self.in_trainer = in_trainer
        # Worker processes set this to report each sample of a traced split (Split.trace).
        self.on_sample: Callable[[Split, int], None] | None = None

    def _stream_runner(self) -> Any:
        if self._streams is None:
            from stoker.data.streams.runner import StreamRunner

            self._streams = StreamRunner(self)
        return self._streams

    def apply(self, ops: list[Op], value: Any, stage: dict[str, float], result: SplitResult) -> Any:
        """Runs ``ops`` on ``value``; :data:`DROP` when a filter drops it.

        Adds each operator's seconds to ``stage`` and filtered samples to ``result``; raises
        :class:`OpFailed` naming the operator when user code raises.
        """
        for op in ops:
            t0 = time.perf_counter()
            try:
                out = op.fn(value)  # type: ignore[misc]
            except self.catch as exc:
                raise OpFailed(op.name, exc) from exc
            finally:
                stage[op.name] += time.perf_counter() - t0
            if op.kind == "filter":
                if not out:
                    result.filtered += 1
                    return DROP
            else:
                value = out
        return value

    def _sample(self, split: Split, idx: int, stage: dict[str, float], result: SplitResult) -> Any:
        source = self.pipeline.source
        key = idx if isinstance(idx, int) else hash_index(idx)
        with seeded(self.seed, split.epoch, key, self.reseed):
            t0 = time.perf_counter()
            try:
                value = source.get(idx)
            except self.catch as exc:
                raise OpFailed(f"read:{source.name}", exc) from exc
            finally:
                stage["read"] += time.perf_counter() - t0
            return self.apply(self.sample_ops, value, stage, result)

    def _fail(self, split: Split, indices: tuple[int, ...], err: OpFailed) -> SplitFailure:
        file = self.pipeline.source.file_of(indices[0]) if len(indices) == 1 and isinstance(indices[0], int) else None
        where = f"sample {indices[0]}" if len(indices) == 1 else f"the batch of samples {list(indices)}"
        if file:
            where += f" (file {file!r})"
        msg = (
            f"{type(err.exc).__name__} in {err.op!r} on {where}, epoch {split.epoch}: {err.exc}. "
            f"Fix the input or the function, or pass on_error='skip' to drop such samples."
        )
        return failure(split.key, msg, indices, file, err.op, err.exc, err.tb)

    def _skip(self, split: Split, indices: tuple[int, ...], err: OpFailed, result: SplitResult) -> None:
        for idx in indices:
            file = self.pipeline.source.file_of(idx) if isinstance(idx, int) else None
            result.skipped.append(SkipRecord(split.epoch, idx, file, err.op, f"{type(err.exc).__name__}: {err.exc}"))

    def _skip_crashed(self, split: Split, indices: tuple[int, ...], reason: str, result: SplitResult) -> None:
        for idx in indices:
            file = self.pipeline.source.file_of(idx) if isinstance(idx, int) else None
            result.skipped.append(SkipRecord(split.epoch, idx, file, "worker", f"the worker running it {reason}"))

    def run(self, split: Split) -> SplitResult | SplitFailure:
        """Runs the split; never raises for errors in user code (they come back as records).

        Operators' errors become records where they happen, naming the sample; anything else that
        escapes (a data set method called outside an operator, a bug) comes back as a record too,
        because raised in a worker it would end the process and reach the trainer only as a lost
        worker, with the real error left on the worker's stderr.
        """
        try:
            if self.in_trainer and self.reseed:
                with preserved_rngs():
                    return self._run(split)
            return self._run(split)
        except self.catch as exc:
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            msg = f"{type(exc).__name__} in the data worker while running split {split.key}: {exc}"
            return failure(split.key, msg, tuple(split.indices), None, "worker", exc, tb)

    def _run(self, split: Split) -> SplitResult | SplitFailure:
        from stoker.data.streams.split import StreamSplit  # here: that module imports this one

        if isinstance(split, StreamSplit):  # a block of a virtual shard of a stream
            return self._stream_runner().run(split)
        t_start = time.perf_counter()
        stage: dict[str, float] = defaultdict(float)
        result = SplitResult(split.key, [], samples=len(split.indices))
        kept: list[Any] = []
        kept_idx: list[int] = []
        crashed = dict(split.crashed)
        for pos, idx in enumerate(split.indices):
            if pos in crashed:  # it killed a worker before: skip it rather than lose another
                self._skip_crashed(split, (idx,), crashed[pos], result)
                continue
            if split.trace and self.on_sample is not None:
                self.on_sample(split, pos)
            try:
                value = self._sample(split, idx, stage, result)
            except OpFailed as err:
                if self.on_error == "raise":
                    return self._fail(split, (idx,), err)
                self._skip(split, (idx,), err, result)
                continue
            if value is not DROP:
                kept.append(value)
                kept_idx.append(idx)
        if self.batch_op is None:
            result.items = kept
        elif kept and len(split.indices) in crashed:
            self._skip_crashed(split, tuple(kept_idx), crashed[len(split.indices)], result)
        elif kept:
            if split.trace and self.on_sample is not None:
                self.on_sample(split, len(split.indices))
            try:
                with seeded(self.seed, split.epoch, BATCH_NAMESPACE + split.index, self.reseed):
                    batch = self.apply([self.batch_op, *self.batch_ops], kept, stage, result)
            except OpFailed as err:
                if self.on_error == "raise":
                    return self._fail(split, tuple(kept_idx), err)
                self._skip(split, tuple(kept_idx), err, result)
            else:
                result.items = [] if batch is DROP else [batch]
        result.stage_s = dict(stage)
        result.busy_s = time.perf_counter() - t_start
        return result
