"""stoker.DataLoader with worker processes yields what torch's DataLoader yields (unshuffled)."""

import torch

import stoker


def test_same_batches_as_torch_dataloader() -> None:
    ds = torch.utils.data.TensorDataset(torch.randn(50, 3, 8, 8), torch.arange(50))
    ours = [tuple(t.clone() for t in b) for b in stoker.DataLoader(ds, batch_size=8, num_workers=2)]
    theirs = list(torch.utils.data.DataLoader(ds, batch_size=8, num_workers=2))
    assert len(ours) == len(theirs) == 7
    assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(ours, theirs))
