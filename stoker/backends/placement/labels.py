"""Matching node labels against a Ray label selector, so policies only see eligible nodes.

Follows Ray's selector syntax: ``"v"`` (equals), ``"!v"`` (not equal or absent),
``"in(a, b)"`` and ``"!in(a, b)"``.
"""

from __future__ import annotations

from collections.abc import Mapping


def _values(expr: str) -> tuple[bool, set[str]]:
    negate = expr.startswith("!")
    body = expr[1:] if negate else expr
    if body.startswith("in(") and body.endswith(")"):
        return negate, {v.strip() for v in body[3:-1].split(",")}
    return negate, {body}


def matches(labels: Mapping[str, str], selector: Mapping[str, str] | None) -> bool:
    """True if a node with ``labels`` satisfies every term of ``selector``."""
    for key, expr in (selector or {}).items():
        negate, values = _values(expr)
        present = labels.get(key) in values
        if present == negate:
            return False
    return True


def with_avoided(selector: Mapping[str, str] | None, avoid: tuple[str, ...]) -> dict[str, str] | None:
    """The selector plus a term that keeps the worker off the ``avoid`` node ids."""
    out = dict(selector or {})
    if avoid and "ray.io/node-id" not in out:
        out["ray.io/node-id"] = f"!in({', '.join(avoid)})"
    return out or None
