import numpy as np

from stoker.data.splits import epoch_order, make_split, num_splits


def test_orders_are_permutations_that_change_per_epoch_and_repeat_per_seed() -> None:
    a0, a1 = np.asarray(epoch_order(100, 0, 7)), np.asarray(epoch_order(100, 1, 7))
    assert sorted(a0.tolist()) == list(range(100))
    assert not np.array_equal(a0, a1)
    assert np.array_equal(a0, epoch_order(100, 0, 7))
    assert np.array_equal(epoch_order(5, 3, None), np.arange(5))


def test_splits_cover_the_epoch_once() -> None:
    order = epoch_order(23, 0, 1)
    total = num_splits(23, 5, drop_last=False)
    got = [i for k in range(total) for i in make_split(order, 0, k, 5).indices]
    assert sorted(got) == list(range(23)) and total == 5
    assert num_splits(23, 5, drop_last=True) == 4


def test_padding_splits_wrap_around_the_order() -> None:
    order = epoch_order(10, 0, None)
    assert make_split(order, 0, 3, 4, total=3).indices == (0, 1, 2, 3)
    assert make_split(order, 0, 4, 4, total=3).indices == (4, 5, 6, 7)
