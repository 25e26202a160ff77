import pytest
import torch

from stoker.train.swap import SwapToHost


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    for _ in range(4):
        layers += [torch.nn.Linear(32, 32), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(32, 5))


def _loss_and_grads(swap: bool, device: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model = _model().to(device)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(16, 32, generator=gen).to(device)
    y = torch.randint(0, 5, (16,), generator=gen).to(device)
    with SwapToHost(enabled=swap):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return loss.detach().cpu(), [p.grad.cpu() for p in model.parameters()]


DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.mark.parametrize("device", DEVICES)
def test_loss_and_grads_are_the_same_with_and_without_swap(device: str) -> None:
    loss0, grads0 = _loss_and_grads(False, device)
    loss1, grads1 = _loss_and_grads(True, device)
    torch.testing.assert_close(loss1, loss0)
    for a, b in zip(grads1, grads0):
        torch.testing.assert_close(a, b)


def test_accounting_counts_each_activation_once_and_skips_parameters() -> None:
    model = _model()
    x = torch.randn(16, 32)
    with SwapToHost(swap=False) as acct:
        model(x)
    # Saved: the input, and each ReLU output once (it is also the next Linear's input);
    # the Linear weights are parameters and stay out of the count.
    assert acct.stats.saved == [16 * 32 * 4] * 5
    assert acct.stats.largest_bytes == 16 * 32 * 4
    assert acct.stats.swapped_bytes == 0  # on CPU nothing moves


def test_disabled_context_installs_no_hooks() -> None:
    with SwapToHost(enabled=False) as acct:
        _model()(torch.randn(2, 32))
    assert acct.stats.saved == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_activations_go_to_pinned_host_memory() -> None:
    model = _model().cuda()
    with SwapToHost() as acct:
        model(torch.randn(16, 32, device="cuda")).sum().backward()
    assert acct.stats.swapped_bytes == acct.stats.total_bytes > 0
