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


class DataTimeoutError(WorkerLostError):
    """No data arrived for ``timeout`` seconds (``stoker.DataLoader`` words it as torch does)."""


class PipelineSerializationError(StokerError):
    """A pipeline function could not be sent to worker processes."""


def find_class(module: str, qualname: str) -> type[BaseException] | None:
    """The exception class ``module.qualname`` as this process knows it, or None.

    A user's class defined in the training script is found in ``__main__`` here even though the
    worker saw a copy: that is what lets ``except MyError:`` in the script catch it.
    """
    import sys

    obj: object = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if isinstance(obj, type) and issubclass(obj, BaseException) else None


_AS_SAMPLE_ERROR: dict[type[BaseException], type[SampleError]] = {}


def _rebuild(original: type[BaseException] | None, fields: tuple[object, ...]) -> SampleError:
    return sample_error(original, *fields)  # type: ignore[arg-type]


def _sample_error_type(original: type[BaseException]) -> type[SampleError]:
    """A subclass of both ``original`` and :class:`SampleError`, made once per original type."""
    cls = _AS_SAMPLE_ERROR.get(original)
    if cls is None:

        def __str__(self: SampleError) -> str:  # KeyError would otherwise print the message's repr
            return str(self.args[0]) if self.args else ""

        def __reduce__(self: SampleError) -> tuple[object, ...]:  # the made-up class is not importable
            return (_rebuild, (original, (self.args[0], self.indices, self.file, self.op, self.remote_traceback)))

        cls = type(
            original.__name__,
            (original, SampleError),
            {"__str__": __str__, "__reduce__": __reduce__, "__module__": original.__module__},
        )
        cls.__qualname__ = original.__qualname__
        _AS_SAMPLE_ERROR[original] = cls
    return cls


def sample_error(
    original: type[BaseException] | None,
    message: str,
    indices: tuple[int, ...],
    file: str | None,
    op: str,
    remote_traceback: str,
) -> SampleError:
    """The error to raise in the trainer for a sample that failed in a worker.

    It is an instance of the worker's original exception type (so ``except KeyError:`` keeps
    working, as with torch's DataLoader) and of :class:`SampleError` (so stoker's fields are there).
    When the two types cannot be combined (an unknown type, a layout conflict, a final class) a
    plain :class:`SampleError` is raised; its message still names the original type.

    Args:
        original: The exception type raised in the worker, None if this process cannot import it.
        message: What failed, on which sample, file and operator, with the worker traceback.
        indices: The sample indices involved.
        file: The sample's file, when the source has files.
        op: The operator that failed.
        remote_traceback: The worker traceback as text.
    """
    cls: type[SampleError] = SampleError
    if original is not None and not issubclass(original, SampleError) and issubclass(original, Exception):
        try:
            cls = _sample_error_type(original)
        except TypeError:  # e.g. a class that forbids subclassing or whose layout conflicts
            cls = SampleError
    err = cls.__new__(cls, message)
    BaseException.__init__(err, message)  # skip a user __init__ that takes other arguments
    err.indices = indices
    err.file = file
    err.op = op
    err.remote_traceback = remote_traceback
    return err
