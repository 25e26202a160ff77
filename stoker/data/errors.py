"""Errors the Loader raises in the trainer, carrying what a user needs to find the bad input."""

from __future__ import annotations


class StokerError(RuntimeError):
    """Base class of stoker's runtime errors."""


class SampleError(StokerError):
    """A pipeline function failed on a sample (or a batch could not be collated).

    Attributes:
        indices: The sample indices involved (one for a sample, all of a batch for collate).
        file: The file the sample came from, when the source has files.
        op: The name of the operator that failed.
        remote_traceback: The traceback from the worker, as text.
    """

    def __init__(
        self, message: str, indices: tuple[int, ...], file: str | None, op: str, remote_traceback: str
    ) -> None:
        super().__init__(message)
        self.indices = indices
        self.file = file
        self.op = op
        self.remote_traceback = remote_traceback

    def __reduce__(self):  # keep all fields across pickling (Ray, multiprocessing)
        return (type(self), (self.args[0], self.indices, self.file, self.op, self.remote_traceback))


class WorkerLostError(StokerError):
    """Workers kept dying on the same split, or the pool could not recover in time."""


class PipelineSerializationError(StokerError):
    """A pipeline function could not be sent to worker processes."""
