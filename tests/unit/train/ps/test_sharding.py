import pytest
import torch

from stoker.train.ps.sharding import plan_layout


def test_one_dominant_tensor_still_balances_within_ten_percent() -> None:
    shapes = [("emb", (10_000, 64)), ("b", (64,)), ("head", (64, 10)), ("hb", (10,))]
    for n in (1, 2, 3, 5, 8):
        sizes = plan_layout(shapes, n).shard_bytes()
        assert max(sizes) <= 1.1 * min(sizes), (n, sizes)
        assert sum(sizes) == 4 * (10_000 * 64 + 64 + 640 + 10)


def test_random_models_balance_and_cover_every_element_once() -> None:
    gen = torch.Generator().manual_seed(0)
    for _ in range(50):
        k = int(torch.randint(1, 12, (1,), generator=gen))
        shapes = [(f"p{i}", tuple(int(d) for d in torch.randint(1, 40, (2,), generator=gen))) for i in range(k)]
        total = sum(a * b for _, (a, b) in shapes)
        n = int(torch.randint(1, min(total, 9) + 1, (1,), generator=gen))
        layout = plan_layout(shapes, n)
        assert layout.bounds[0] == 0 and layout.bounds[-1] == total
        assert all(a <= b for a, b in zip(layout.bounds, layout.bounds[1:]))
        counts = [b - a for a, b in zip(layout.bounds, layout.bounds[1:])]
        assert max(counts) - min(counts) <= 1


def test_offsets_follow_parameter_order() -> None:
    layout = plan_layout([("w", (3, 4)), ("b", (4,))], 2)
    assert [(p.name, p.offset, p.numel) for p in layout.params] == [("w", 0, 12), ("b", 12, 4)]
    assert layout.shard_range(1) == (8, 16)


def test_more_shards_than_elements_is_refused() -> None:
    with pytest.raises(ValueError, match="fewer shards"):
        plan_layout([("b", (3,))], 4)
