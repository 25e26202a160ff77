import time

import numpy as np
import pytest

from stoker.data.order import LAZY_SHUFFLE_MIN, Feistel, Natural, Stored, epoch_order
from stoker.data.rng import derive_seed
from stoker.data.splits import make_split, num_splits


@pytest.mark.parametrize("length", [1, 2, 3, 17, 1000, 4099])
def test_feistel_is_a_permutation_of_every_length(length: int) -> None:
    perm = Feistel(length, seed=5).take(np.arange(length))
    assert sorted(perm.tolist()) == list(range(length))


def test_feistel_repeats_per_seed_and_changes_with_it() -> None:
    a, b = Feistel(5000, 1).take(np.arange(5000)), Feistel(5000, 2).take(np.arange(5000))
    assert np.array_equal(a, Feistel(5000, 1).take(np.arange(5000)))
    assert not np.array_equal(a, b)
    assert np.mean(a[:2500] < 2500) < 0.6  # mixed, not an identity on halves


def test_small_data_sets_keep_numpys_permutation() -> None:
    seed = derive_seed(7, 3, -1) & ((1 << 63) - 1)
    assert isinstance(epoch_order(1000, 3, 7), Stored)
    assert np.array_equal(np.asarray(epoch_order(1000, 3, 7)), np.random.default_rng(seed).permutation(1000))


def test_a_virtual_1e8_epoch_is_computed_per_split() -> None:
    length = 100_000_000
    start = time.perf_counter()
    natural, shuffled = epoch_order(length, 0, None), epoch_order(length, 0, 11)
    first = make_split(natural, 0, 0, 32, num_splits(length, 32, False))
    last = make_split(shuffled, 0, num_splits(length, 32, False) - 1, 32)
    elapsed = time.perf_counter() - start
    assert isinstance(natural, Natural) and isinstance(shuffled, Feistel) and length >= LAZY_SHUFFLE_MIN
    assert first.indices == tuple(range(32))
    assert len(last.indices) == 32 and all(0 <= i < length for i in last.indices)
    assert len(set(last.indices)) == 32
    print(f"first split of a 1e8 epoch, natural and shuffled: {elapsed * 1e3:.2f} ms")
