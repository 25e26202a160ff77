import random

import numpy as np
import pytest
import torch

from stoker.data.rng import derive_seed, sample_generator, sample_key, sample_rng, seeded


def test_seeds_depend_on_every_part_of_the_key() -> None:
    keys = {(s, e, i) for s in range(3) for e in range(3) for i in range(50)}
    assert len({derive_seed(*k) for k in keys}) == len(keys)


def test_every_rng_repeats_for_the_same_key() -> None:
    def draw() -> tuple[float, ...]:
        with seeded(1, 2, 3):
            return (
                random.random(),
                float(np.random.rand()),
                float(torch.rand(())),
                float(sample_rng().random()),
                float(torch.rand((), generator=sample_generator())),
            )

    assert draw() == draw()
    with seeded(1, 2, 4):
        other = float(sample_rng().random())
    assert other != draw()[3]


def test_sample_rng_outside_a_pipeline_is_an_error() -> None:
    assert sample_key() is None
    with pytest.raises(RuntimeError, match="inside a pipeline"):
        sample_rng()
