"""Batch formats: dicts and dataclasses (keyword inputs), several targets, inputs the loss reads, carried state."""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import stoker
from stoker.graph.batch import Carry, Unsplit, spec_of
from tests.common.state import run_test_save_load_state


class Keyword(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, pixels: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return self.fc(pixels.float() / 255.0 * scale.unsqueeze(-1))


def _dicts(n: int = 8) -> list[dict[str, torch.Tensor]]:
    return [
        {"pixels": torch.arange(4, dtype=torch.uint8) * i, "scale": torch.tensor(1.0 + i), "label": torch.tensor(i % 3)}
        for i in range(n)
    ]


@dataclass
class Batch:
    pixels: torch.Tensor
    scale: torch.Tensor
    label: torch.Tensor


def _as_dataclass(batch: dict[str, torch.Tensor]) -> Batch:
    return Batch(**batch)


@pytest.mark.parametrize("as_dataclass", [False, True])
def test_dict_and_dataclass_batches_are_keyword_inputs_and_train_like_unsplit(as_dataclass: bool) -> None:
    pipe = stoker.from_items(_dicts()).batch(4)
    if as_dataclass:
        pipe = pipe.map(_as_dataclass)
    torch.manual_seed(0)
    model = Keyword()
    twin = copy.deepcopy(model)
    plan = stoker.partition(pipe, model, F.cross_entropy, workers=1)
    assert plan.failure is None and plan.spec is not None and plan.spec.targets == ("label",)
    assert plan.chosen.moved  # the cast and scale of "pixels" move
    with stoker.Loader(plan, workers=0, seed=0) as split, stoker.Loader(pipe, workers=0, seed=0) as plain:
        for received, batch in zip(split, plain, strict=True):
            b = batch if as_dataclass else Batch(**batch)
            expected = F.cross_entropy(twin(pixels=b.pixels, scale=b.scale), b.label)
            assert torch.allclose(plan.train_module(*received), expected, atol=1e-6, rtol=0)


def test_an_input_the_loss_also_reads_crosses_once() -> None:
    class AutoEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc, self.dec = nn.Linear(4, 2), nn.Linear(2, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.dec(self.enc(x))

    pipe = stoker.from_items([(torch.full((4,), float(i)), i) for i in range(8)]).batch(4)
    plan = stoker.partition(pipe, AutoEncoder(), F.mse_loss, inputs=0, target=0, workers=1)
    assert plan.failure is None
    inputs = [n for n in plan.crossing if plan.graph[n].kind == "input"]
    assert len(inputs) == 1  # element 0 feeds the model and the loss, and crosses once


def test_several_targets_reach_the_loss_in_order() -> None:
    seen: list[object] = []

    def loss_fn(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        seen.append(b)  # real tensors when run eagerly (probe, measure), proxies while traced
        return (out.sum() - a.float().sum()) ** 2

    items = [(torch.ones(4), torch.tensor(1), torch.tensor(7)) for _ in range(4)]
    plan = stoker.partition(stoker.from_items(items).batch(2), nn.Linear(4, 1), loss_fn, target=(1, 2), workers=1)
    assert plan.failure is None and plan.spec is not None and plan.spec.targets == (1, 2)
    values = {int(v[0]) for v in seen if isinstance(v, torch.Tensor)}
    assert values == {7}


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(3, 5, batch_first=True)
        self.out = nn.Linear(5, 2)

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = x.view(x.size(0), 4, 3)  # shape code: the trace specialises on the batch size
        y, hidden = self.rnn(x.float() / 10.0, hidden)
        return self.out(y[:, -1]), hidden


def test_carried_state_never_crosses_and_is_kept_between_steps() -> None:
    items = [(torch.full((4, 3), float(i)), i % 2) for i in range(8)]
    pipe = stoker.from_items(items).batch(2, drop_last=True)
    torch.manual_seed(0)
    model = Recurrent()
    twin = copy.deepcopy(model)
    state = stoker.carry(hidden=torch.zeros(1, 2, 5))
    plan = stoker.partition(pipe, model, F.cross_entropy, carry=state, workers=1)
    assert plan.failure is None
    carried = [n for n in plan.graph.nodes if plan.graph[n].kind == "carry"]
    assert carried and not set(carried) & set(plan.crossing)
    assert all(n not in plan.data_nodes for n in plan.graph.descendants(carried))
    assert plan.assumptions and plan.signature is not None
    hidden = torch.zeros(1, 2, 5)
    with (
        warnings.catch_warnings(),
        stoker.Loader(plan, workers=0, seed=0) as split,
        stoker.Loader(pipe, workers=0, seed=0) as plain,
    ):
        warnings.simplefilter("error")  # every batch has the traced shapes: none may run unsplit
        for received, (x, y) in zip(split, plain, strict=True):
            assert not isinstance(received[0], Unsplit)
            state.hidden = state.hidden.detach()
            loss = plan.train_module(*received)
            out, hidden = twin(x, hidden.detach())
            assert torch.allclose(loss, F.cross_entropy(out, y), atol=1e-6, rtol=0)
            assert torch.allclose(state.hidden, hidden, atol=1e-6, rtol=0)


def test_spec_errors_name_the_elements() -> None:
    with pytest.raises(ValueError, match=r"target=\['nope'\] names no element"):
        spec_of({"x": torch.zeros(1)}, True, target="nope")
    with pytest.raises(TypeError, match="tensors, tuples, dicts and dataclasses"):
        spec_of("text", False)
    with pytest.raises(ValueError, match="at least one"):
        stoker.carry()


def test_carry_round_trips_its_state() -> None:
    torch.manual_seed(0)
    cell = nn.GRUCell(3, 4)
    xs = torch.randn(6, 1, 3)

    def factory() -> Carry:
        return stoker.carry(hidden=torch.zeros(1, 4), step=0)

    def advance(state: Carry) -> torch.Tensor:
        with torch.no_grad():
            state.hidden = cell(xs[state.step], state.hidden)
        state.step = state.step + 1
        return state.hidden

    run_test_save_load_state(factory, advance, steps=6)
    with pytest.raises(ValueError, match="this carry holds"):
        factory().load_state_dict({"h": torch.zeros(1)})
