"""stoker keeps accelerators fed.

The public API is re-exported here; importing :mod:`stoker` starts nothing (no processes,
no servers, no logging configuration).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
