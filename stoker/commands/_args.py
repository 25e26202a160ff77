"""Argument types and up-front checks shared by every command (and ``stoker bench`` modules).

An argparse ``type=`` that raises :class:`argparse.ArgumentTypeError` makes argparse print its
usage line and one line naming the flag, then exit with status 2: bad numbers never reach the
code that would divide by them. Checks that need more than one flag, or the file system, raise
:class:`stoker.errors.InputError` (one line, status 2, from :func:`stoker.cli.main`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Callable

from stoker.errors import InputError


def int_at_least(low: int, what: str = "") -> Callable[[str], int]:
    """An argparse type: an integer ``>= low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} should be >= {low}{what}")
        return value

    parse.__name__ = f"int>={low}"
    return parse


def float_above(low: float, inclusive: bool = False, what: str = "") -> Callable[[str], float]:
    """An argparse type: a finite float ``> low`` (``>= low`` when ``inclusive``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        ok = value >= low if inclusive else value > low
        if not ok or value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{value:g} should be {'>=' if inclusive else '>'} {low:g}{what}")
        return value

    parse.__name__ = f"float>{'=' if inclusive else ''}{low:g}"
    return parse


def int_between(low: int, high: int, what: str = "") -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]`` (a count that would start ``high`` + 1 processes)."""
    at_least = int_at_least(low, what)

    def parse(text: str) -> int:
        value = at_least(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"{value} should be <= {high}{what}")
        return value

    parse.__name__ = f"int in [{low}, {high}]"
    return parse


def float_between(low: float, high: float, inclusive_low: bool = False, what: str = "") -> Callable[[str], float]:
    """An argparse type: a finite float in ``(low, high]`` (``[low, high]`` when ``inclusive_low``)."""
    above = float_above(low, inclusive_low, what)

    def parse(text: str) -> float:
        value = above(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"{value:g} should be <= {high:g}{what}")
        return value

    parse.__name__ = f"float in {'[' if inclusive_low else '('}{low:g}, {high:g}]"
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
positive_float = float_above(0.0)
non_negative_float = float_above(0.0, inclusive=True)


def workers_or_auto(text: str) -> int | str:
    """An argparse type: ``auto`` or a worker count ``>= 0``."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} should be 'auto' or a worker count") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} should be 'auto' or a worker count >= 0")
    return value


def existing_file(path: str, flag: str) -> str:
    """Checks that ``path`` is a readable file.

    Raises:
        InputError: It is missing, a folder, or unreadable; names the flag.
    """
    if not os.path.exists(path):
        raise InputError(f"{flag} {path!r}: no such file; check the path")
    if not os.path.isfile(path):
        raise InputError(f"{flag} {path!r} is not a file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{flag} {path!r} cannot be read; check its permissions")
    return path


def writable_dir(path: str, flag: str) -> str:
    """Makes ``path`` (a folder) if needed and proves it writable by writing a probe file, before any work.

    Raises:
        InputError: It cannot be created or written to; names the flag and the reason.
    """
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".stoker-probe-"):
            pass
    except OSError as exc:
        raise InputError(f"{flag} {path!r} is not a writable folder ({exc.strerror or exc}); choose another") from None
    return path


def writable_file(path: str, flag: str) -> str:
    """Checks, before any work, that a file can be written at ``path`` (its folder is made if needed).

    Raises:
        InputError: It cannot; names the flag and the reason.
    """
    folder = os.path.dirname(os.path.abspath(path))
    writable_dir(folder, flag)
    if os.path.isdir(path):
        raise InputError(f"{flag} {path!r} is a folder; give a file name")
    with contextlib.suppress(OSError):
        if os.path.exists(path) and not os.access(path, os.W_OK):
            raise InputError(f"{flag} {path!r} cannot be overwritten; check its permissions")
    return path
