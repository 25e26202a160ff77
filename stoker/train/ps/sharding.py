"""Which shard owns which parameter bytes.

All parameters are laid end to end in one flat vector (in ``named_parameters`` order) and cut
into ``n`` contiguous ranges of nearly equal bytes, as BytePS cuts large tensors into
partitions: a model with one dominant weight matrix still spreads evenly, and a shard's
optimiser (elementwise: SGD, Adam) only ever sees its own range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ParamSpec:
    """One parameter tensor's place in the flat vector.

    Attributes:
        name: ``named_parameters`` name.
        shape: Tensor shape.
        offset: First element in the flat vector.
        numel: Number of elements.
    """

    name: str
    shape: tuple[int, ...]
    offset: int
    numel: int


@dataclass(frozen=True)
class Layout:
    """The flat layout and its cut into shards.

    Attributes:
        params: Every parameter, in order.
        bounds: ``n + 1`` element offsets; shard ``i`` owns ``[bounds[i], bounds[i+1])``.
        itemsize: Bytes per element (one dtype for all parameters).
    """

    params: tuple[ParamSpec, ...]
    bounds: tuple[int, ...]
    itemsize: int

    @property
    def total(self) -> int:
        """Elements in the flat vector."""
        return self.bounds[-1]

    @property
    def num_shards(self) -> int:
        return len(self.bounds) - 1

    def shard_range(self, shard: int) -> tuple[int, int]:
        """``(start, stop)`` element offsets of ``shard``."""
        return self.bounds[shard], self.bounds[shard + 1]

    def shard_bytes(self) -> list[int]:
        """Bytes each shard holds."""
        return [(b - a) * self.itemsize for a, b in zip(self.bounds, self.bounds[1:])]


def plan_layout(shapes: Sequence[tuple[str, tuple[int, ...]]], num_shards: int, itemsize: int = 4) -> Layout:
    """Lays parameters end to end and cuts them into ``num_shards`` ranges balanced by bytes.

    Ranges differ by at most one element, so balance is within one element's bytes.

    Args:
        shapes: ``(name, shape)`` of each parameter, in order.
        num_shards: Number of shards.
        itemsize: Bytes per element.
    """
    if num_shards < 1:
        raise ValueError(f"{num_shards=} should be >= 1")
    specs, offset = [], 0
    for name, shape in shapes:
        numel = 1
        for d in shape:
            numel *= int(d)
        specs.append(ParamSpec(name, tuple(int(d) for d in shape), offset, numel))
        offset += numel
    if num_shards > offset:
        raise ValueError(f"{num_shards=} exceeds the {offset} parameter elements; use fewer shards")
    bounds = tuple(offset * i // num_shards for i in range(num_shards + 1))
    return Layout(tuple(specs), bounds, itemsize)
