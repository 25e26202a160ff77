"""A pipeline taken apart into the pieces the rewrites move: source, per-sample ops, batch, batch ops."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch.utils.data import default_collate

from stoker.data.pipeline import Op, Pipeline, Source


@dataclass
class Chain:
    """The working form of a pipeline during optimisation (rewrites edit it in place).

    Attributes:
        source: Where samples come from (a rewrite may wrap it, e.g. in a cache).
        shuffle: The shuffle operator, if any (its place in the op list does not matter).
        sample_ops: The per-sample ``map``/``filter`` operators, in order.
        batch: The ``batch`` operator, if any.
        batch_ops: Operators on whole batches, after ``batch``.
    """

    source: Source
    shuffle: Op | None
    sample_ops: list[Op]
    batch: Op | None
    batch_ops: list[Op] = field(default_factory=list)

    @classmethod
    def of(cls, pipe: Pipeline) -> Chain:
        return cls(pipe.source, pipe.shuffle_op, pipe.sample_ops(), pipe.batch_op, pipe.batch_ops())

    def to_pipeline(self) -> Pipeline:
        ops: list[Op] = [self.shuffle] if self.shuffle is not None else []
        ops += self.sample_ops
        if self.batch is not None:
            ops.append(self.batch)
            ops += self.batch_ops
        return Pipeline(self.source, tuple(ops))

    @property
    def default_collate(self) -> bool:
        """Whether batches are collated by ``torch.utils.data.default_collate`` (stacking)."""
        return self.batch is not None and self.batch.fn is default_collate

    def names(self) -> list[str]:
        return [op.name for op in self.sample_ops]
