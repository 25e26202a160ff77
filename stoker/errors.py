"""Errors about the user's input that every layer shares.

:class:`InputError` is raised for bad arguments and bad input files (a missing trace, a malformed CSV, a negative
count). Its message is one line that names the value and what to do; the CLI prints it and exits with status 2
instead of a traceback (see :func:`stoker.cli.main`).
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: an argument or an input file that cannot be used as given.

    The message is one line naming the value (or file) and the way out.
    """
