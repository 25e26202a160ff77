"""Subcommands of the ``stoker`` CLI, one module each (see :mod:`stoker.cli`)."""
