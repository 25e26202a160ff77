"""What a kept cache was made from: the source's content and the cached operators' code and values.

A kept ``cache_dir`` is only reused when this identity is the same, so a changed input never
gets an old entry:

- **files** (``from_files``, or a dataset with a ``files``/``samples`` list such as
  ``ImageFolder``): every path with its size and modification time (``os.stat``, about a
  microsecond per file); ``content_hash=True`` hashes the bytes too (for file systems whose
  modification times cannot be trusted).
- **items** (``from_items``) and a ``TensorDataset``: a BLAKE2b hash of their bytes (pickle
  protocol 5, arrays and tensors hashed in place, no copy).
- **any other dataset**: it cannot be read without running it, so it has no identity unless the
  user names one (``optimize(..., cache_version="v3")``); without it the cache is private to
  this process and removed with the report.
- **operators**: each function's byte code (nested functions included), defaults, closure values
  and the user-level functions and classes it calls by global name (recursively); a callable
  object's class code and attributes; a ``functools.partial``'s function and arguments.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import pickle
import sys
import types
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from stoker.data.pipeline import Op, Source

_UNSTABLE = -1  # put in the walk's `seen` ids (never a real id) when a value has no byte identity
_LIBRARY_ROOTS = tuple(p for p in {sys.prefix, sys.base_prefix, sys.exec_prefix} if p)


def _hasher() -> Any:
    return hashlib.blake2b(digest_size=16)


def _paths(source: Source) -> Sequence[Any] | None:
    if source.kind == "files":
        return source.data  # type: ignore[no-any-return]
    for attr in ("files", "samples"):
        paths = getattr(source.data, attr, None)
        if isinstance(paths, Sequence) and len(paths) == len(source):
            return paths
    return None


def _files_digest(paths: Iterable[Any], content: bool) -> str:
    h = _hasher()
    for entry in paths:
        path = str(entry[0] if isinstance(entry, tuple) else entry)
        try:
            st = os.stat(path)
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{path}\0missing\n".encode())
            continue
        if content:
            with open(path, "rb") as f:
                for block in iter(functools.partial(f.read, 1 << 20), b""):
                    h.update(block)
        if isinstance(entry, tuple):  # ImageFolder's (path, class): the label is part of the item
            h.update(repr(entry[1:]).encode())
    return h.hexdigest()


def _bytes_digest(value: Any) -> str | None:
    h = _hasher()

    def keep(buf: pickle.PickleBuffer) -> bool:
        h.update(buf.raw())
        return False  # out of band: hashed in place, not copied into the pickle

    if isinstance(value, torch.utils.data.TensorDataset):
        for t in value.tensors:
            h.update(f"{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().data)
        return h.hexdigest()
    try:
        h.update(pickle.dumps(value, protocol=5, buffer_callback=keep))
    except Exception:  # an item that does not pickle has no content identity
        return None
    return h.hexdigest()


def source_identity(source: Source, version: str | None = None, content_hash: bool = False) -> str | None:
    """A digest of what ``source`` reads, or None when it cannot be known (name a ``version``).

    Args:
        source: The pipeline's source.
        version: A name the user gives the data (replaces the content digest of a dataset).
        content_hash: Also hash every file's bytes (files only; reads them all once).
    """
    kind = f"{source.kind}:{type(source.data).__module__}.{type(source.data).__qualname__}:{len(source)}"
    if version is not None:
        return f"{kind}:version={version}"
    paths = _paths(source)
    if paths is not None:
        return f"{kind}:files={_files_digest(paths, content_hash)}"
    if source.kind == "items" or isinstance(source.data, torch.utils.data.TensorDataset):
        digest = _bytes_digest(source.data)
        return None if digest is None else f"{kind}:bytes={digest}"
    return None


def _user_code(obj: Any) -> bool:
    """A function or class defined outside the interpreter and installed packages (the user's own)."""
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    path = getattr(module, "__file__", None)
    return path is None or not os.path.abspath(path).startswith(_LIBRARY_ROOTS)


def _function(fn: types.FunctionType, h: Any, seen: set[int]) -> None:
    h.update(marshal.dumps(fn.__code__))
    _value((fn.__defaults__, fn.__kwdefaults__), h, seen)
    for cell in fn.__closure__ or ():
        try:
            _value(cell.cell_contents, h, seen)
        except ValueError:  # an empty cell (a name bound later)
            h.update(b"<empty cell>")
    names = set(fn.__code__.co_names)
    for const in fn.__code__.co_consts:  # names used by nested functions and comprehensions
        if isinstance(const, types.CodeType):
            names |= set(const.co_names)
    for name in sorted(names):
        target = fn.__globals__.get(name)
        if isinstance(target, (types.FunctionType, type)) and _user_code(target):
            h.update(name.encode())
            _callable(target, h, seen)


def _callable(fn: Any, h: Any, seen: set[int]) -> None:
    if id(fn) in seen:
        return
    seen.add(id(fn))
    if isinstance(fn, functools.partial):
        _callable(fn.func, h, seen)
        _value((fn.args, fn.keywords), h, seen)
    elif isinstance(fn, types.FunctionType):
        _function(fn, h, seen)
    elif isinstance(fn, types.MethodType):
        _callable(fn.__func__, h, seen)
        _value(fn.__self__, h, seen)
    elif isinstance(fn, type):
        h.update(f"{fn.__module__}.{fn.__qualname__}".encode())
        if _user_code(fn):
            for attr, member in sorted(vars(fn).items()):
                if isinstance(member, types.FunctionType):
                    h.update(attr.encode())
                    _function(member, h, seen)
    else:  # a callable object: its class's code and its attributes
        _callable(type(fn), h, seen)
        _value(getattr(fn, "__dict__", None), h, seen)


def _value(value: Any, h: Any, seen: set[int]) -> None:
    if callable(value) and not isinstance(value, (torch.Tensor, type(None))):
        _callable(value, h, seen)
        return
    if isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}{len(value)}".encode())
        for v in value:
            _value(v, h, seen)
        return
    if isinstance(value, dict):
        for k in sorted(value, key=repr):
            h.update(repr(k).encode())
            _value(value[k], h, seen)
        return
    digest = _bytes_digest(value)
    if digest is None:
        seen.add(_UNSTABLE)
    h.update((digest or f"<unpicklable {type(value).__qualname__}>").encode())


def ops_identity(ops: Sequence[Op]) -> str | None:
    """A digest of the operators' kinds, names, code and values (see the module docstring).

    None when a value they hold cannot be pickled (a lock, an open file): it has no identity
    that another process could check, so such a cache is private to this process.
    """
    h = _hasher()
    seen: set[int] = set()
    for op in ops:
        h.update(f"{op.kind}:{op.name}\n".encode())
        _callable(op.fn, h, seen)
    return None if _UNSTABLE in seen else h.hexdigest()
