import pytest
import torch

from stoker.train.ps.optim import OptimSpec


@pytest.mark.parametrize(
    ("spec", "torch_opt"),
    [
        (
            OptimSpec("sgd", {"momentum": 0.9, "weight_decay": 1e-4}),
            lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-4, foreach=False),
        ),
        (
            OptimSpec("adam", {"weight_decay": 1e-4}),
            lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=1e-4, foreach=False),
        ),
    ],
)
def test_matches_torch_optimizer_step_for_step(spec, torch_opt) -> None:
    gen = torch.Generator().manual_seed(0)
    ref = torch.nn.Parameter(torch.randn(50, generator=gen))
    mine = ref.detach().clone()
    opt, ours = torch_opt([ref]), spec.build()
    for _ in range(20):
        grad = torch.randn(50, generator=gen)
        ref.grad = grad.clone()
        opt.step()
        ours.step(mine, grad, lr=0.05)
    torch.testing.assert_close(mine, ref.detach(), rtol=1e-6, atol=1e-7)


def test_unknown_optimizer_names_the_choices() -> None:
    with pytest.raises(ValueError, match="adam"):
        OptimSpec("lamb")
