"""Tracing on the example batch: shape code specialises, assumptions are recorded and checked at run time."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import stoker


class ShapeCoded(nn.Module):
    """The constructs plain torch.fx cannot trace: an assert on a size, arange of a length, a
    causal-mask buffer sliced by the length, zeros of the batch size, a loop over time steps."""

    def __init__(self, block: int = 8) -> None:
        super().__init__()
        self.block = block
        self.emb = nn.Embedding(20, 6)
        self.cell = nn.GRUCell(6, 6)
        self.register_buffer("mask", torch.tril(torch.ones(block, block)))
        self.out = nn.Linear(6, 20)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        _, t = idx.size()
        assert t <= self.block, f"sequence of length {t} is longer than {self.block}"
        pos = torch.arange(0, t)
        x = self.emb(idx) + pos.unsqueeze(-1).float() / t
        x = x + self.mask[:t, :t].sum(-1, keepdim=True) / len(idx[0])
        h = torch.zeros(x.size(0), 6)
        outs = []
        for step in x.unbind(1):
            h = self.cell(step, h)
            outs.append(self.out(h))
        return torch.stack(outs, 1)


def lm_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.reshape(-1, out.size(-1)), y.reshape(-1))


def _tokens(n: int, t: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, 20, (n, t + 1), generator=g)
    return [(row[:-1], row[1:]) for row in data]


def test_shape_code_specialises_and_records_what_it_assumed() -> None:
    pipe = stoker.from_items(_tokens(8, 5)).batch(4, drop_last=True)
    plan = stoker.partition(pipe, ShapeCoded(), lm_loss, workers=1)
    assert plan.failure is None
    assert plan.method == "values"
    facts = " | ".join(a.what for a in plan.assumptions)
    assert "size() = (4, 5)" in facts and "iterate over" in facts and "len(" in facts
    assert plan.signature == (((4, 5), "torch.int64"), ((4, 5), "torch.int64"))
    assert "specialised on" in plan.explain()


def test_a_batch_of_other_shapes_runs_unsplit_with_one_warning_and_the_same_result() -> None:
    pipe = stoker.from_items(_tokens(10, 5)).batch(4)  # 4, 4, then a short batch of 2
    torch.manual_seed(0)
    model = ShapeCoded()
    twin = copy.deepcopy(model)
    plan = stoker.partition(pipe, model, lm_loss, workers=1)
    with warnings.catch_warnings(record=True) as seen, stoker.Loader(plan, workers=0, seed=0) as split:
        warnings.simplefilter("always")
        losses = [plan.train_module(*received) for received in split]
    with stoker.Loader(pipe, workers=0, seed=0) as plain:
        expected = [lm_loss(twin(x), y) for x, y in plain]
    assert len(losses) == 3
    for a, b in zip(losses, expected, strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=0)
    unsplit = [w for w in seen if "ran unsplit" in str(w.message)]
    assert len(unsplit) == 1


class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255.0
        if x.sum() > 0:  # decided by the data: no single graph holds
            x = x * 2
        return self.fc(x)


def test_a_data_dependent_branch_falls_back_naming_the_construct_with_fitting_advice() -> None:
    pipe = stoker.from_items([(torch.full((4,), i, dtype=torch.uint8), i % 2) for i in range(8)]).batch(4)
    with pytest.warns(UserWarning, match="stoker.partition") as seen:
        plan = stoker.partition(pipe, Branchy(), F.cross_entropy, workers=1)
    assert len([w for w in seen if "stoker.partition" in str(w.message)]) == 1
    assert plan.failure is not None
    assert "Branchy.forward" in plan.failure and "if x.sum() > 0" in plan.failure
    assert "torch.where" in plan.failure


class Plain(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.float() / 255.0)


def _uint8_rows(n: int = 8) -> list[tuple[torch.Tensor, int]]:
    return [(torch.arange(4, dtype=torch.uint8) * i, i % 3) for i in range(n)]


def test_a_loss_that_fails_is_named_as_the_loss_and_the_model_still_traces() -> None:
    def picky(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if y.max() > 1:  # data-dependent, in the loss
            y = y.clamp(max=1)
        return F.cross_entropy(out, y)

    pipe = stoker.from_items(_uint8_rows()).batch(4)
    with pytest.warns(UserWarning):
        plan = stoker.partition(pipe, Plain(), picky, objective="all_stateless", workers=1)
    assert plan.failure is not None and plan.failure.startswith("cannot trace the loss function")
    assert any(plan.graph[n].label.startswith("model.fc") for n in plan.graph.nodes)  # the model traced
    assert plan.chosen.moved  # its stateless prefix (cast, scale) can still move


def test_a_loss_closing_over_a_loss_module_traces() -> None:
    criterion = nn.CrossEntropyLoss()

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return criterion(out, y)

    plan = stoker.partition(stoker.from_items(_uint8_rows()).batch(4), Plain(), loss_fn, workers=1)
    assert plan.failure is None
    assert any("criterion" in plan.graph[n].label for n in plan.graph.nodes)


def test_random_factories_with_python_shapes_stay_random() -> None:
    class Noisy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(x + torch.randn(x.size(0), 4))

    plan = stoker.partition(stoker.from_items([torch.ones(4)] * 4).batch(2), Noisy(), workers=1)
    x = torch.ones(2, 4)
    with torch.no_grad():
        assert not torch.equal(plan.step(x), plan.step(x))  # not a constant baked in at trace time


class Numpyish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.from_numpy(x.numpy().clip(0, 1)))


class ReadsAValue(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)[:, : int(x.max())]


@pytest.mark.parametrize(
    ("model", "advice"),
    [(Numpyish(), "move that step into the pipeline"), (ReadsAValue(), "keep it a tensor")],
)
def test_each_kind_of_failure_gets_its_own_advice(model: nn.Module, advice: str) -> None:
    pipe = stoker.from_items([torch.ones(4)] * 4).batch(2)
    with pytest.warns(UserWarning, match="stoker.partition"):
        plan = stoker.partition(pipe, model, workers=1)
    assert plan.failure is not None and advice in plan.failure
    assert "torch.where" not in plan.failure
