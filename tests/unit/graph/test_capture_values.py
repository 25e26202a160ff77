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


# --- library code: item assignment, buffer writes, checks, loss modules, constants, graph breaks ---


class ShiftRight(nn.Module):
    """Hugging Face's shift_tokens_right, then an embedding: item assignment into a fresh tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(20, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        shifted = ids.new_zeros(ids.shape)
        shifted[:, 1:] = ids[:, :-1].clone()
        shifted[:, 0] = 3
        return self.emb(shifted).sum(-1)


def test_item_assignment_is_captured_and_moves() -> None:
    ids = [torch.arange(5) + i for i in range(8)]
    model = ShiftRight()
    plan = stoker.partition(stoker.from_items(ids).batch(4), model, workers=1, objective="all_stateless")
    assert plan.failure is None and plan.method == "values"
    assigns = [n for n in plan.graph.nodes if plan.graph[n].label == "assign"]
    assert len(assigns) == 2 and all(n in plan.chosen.moved for n in assigns)  # the shift runs on the data side
    batch = torch.stack(ids[:4])
    before = batch.clone()
    with torch.no_grad():
        assert torch.equal(plan.step(batch), model(before))
    assert torch.equal(batch, before)  # the batch itself is not written


class NormAct(nn.BatchNorm2d):
    """timm's BatchNormAct2d pattern: BatchNorm2d.forward copied, so the buffer update is user code."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, True, 0.1, self.eps)
        return F.relu(x)


class WithNormAct(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = NormAct(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.float() / 255).mean((1, 2, 3))


def test_a_buffer_written_in_traced_through_code_is_in_the_graph_on_the_training_side() -> None:
    pipe = stoker.from_items([torch.full((2, 3, 3), i, dtype=torch.uint8) for i in range(8)]).batch(4)
    model = WithNormAct()
    plan = stoker.partition(pipe, model, workers=1)
    assert int(model.norm.num_batches_tracked) == 0  # partition did not run the update on the model
    adds = [n for n in plan.graph.nodes if plan.graph[n].label == ".add_()"]
    assert adds and all(plan.side_of(n) == "train" for n in adds)
    with stoker.Loader(plan, workers=0) as loader:
        for received in loader:
            plan.train_module(*received)
    assert int(model.norm.num_batches_tracked) == 2  # one per step, as in plain training


class ChecksLabels(nn.Module):
    """A check that only raises (transformers' label checks), and a loss module built in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if labels.max() >= 3:
            raise ValueError("labels out of range")
        loss_fct = nn.CrossEntropyLoss()
        return loss_fct(self.fc(x.float() / 255), labels)


def test_a_check_that_only_raises_becomes_a_runtime_assertion() -> None:
    rows = [(torch.arange(4, dtype=torch.uint8) * i, i % 3) for i in range(8)]
    pipe = stoker.from_items(rows).batch(4)
    plan = stoker.partition(pipe, ChecksLabels(), target=(), inputs=(0, 1), workers=1)
    assert plan.failure is None and plan.method == "values"
    assert any("a check that only raises" in a.what for a in plan.assumptions)
    x = torch.zeros(4, 4, dtype=torch.uint8)
    plan.step(x, torch.tensor([0, 1, 2, 0]))
    with pytest.raises(Exception, match="check failed"):
        plan.step(x, torch.tensor([0, 1, 7, 0]))  # bad data still refused, now at run time


class Flags(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor, return_loss: bool) -> torch.Tensor:
        out = self.fc(x)
        return out.pow(2).mean() if return_loss else out


def test_a_non_tensor_batch_entry_is_a_constant_and_another_value_runs_unsplit() -> None:
    from collections import UserDict

    class Encoding(UserDict):  # transformers' BatchEncoding is a UserDict: a Mapping, not a dict
        pass

    def collate(batch: dict) -> Encoding:
        return Encoding({**batch, "return_loss": True})

    rows = [{"x": torch.ones(4) * i} for i in range(8)]
    pipe = stoker.from_items(rows).batch(4).map(collate)
    plan = stoker.partition(pipe, Flags(), target=(), workers=1)
    assert plan.failure is None and plan.method == "values"
    assert any("return_loss" in a.what or "True" in a.what for a in plan.assumptions)
    assert plan.signature[-1] is True  # the constant is part of what a batch must match


class Breaks(nn.Module):
    """A submodule whose code cannot be captured (a value read into Python) after a movable prefix."""

    class Picky(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            keep = int(x.abs().max() > 0) + 3  # a value of the data in Python: a graph break
            return self.fc(x)[:, :keep]

    def __init__(self) -> None:
        super().__init__()
        self.picky = Breaks.Picky()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.picky(x.float() / 255 - 0.5).sum(-1)


def test_a_graph_break_keeps_that_module_eager_and_the_prefix_still_moves() -> None:
    pipe = stoker.from_items([torch.full((4,), i, dtype=torch.uint8) for i in range(8)]).batch(4)
    with pytest.warns(UserWarning, match="graph break"):
        plan = stoker.partition(pipe, Breaks(), workers=1, objective="all_stateless")
    assert plan.failure is None and plan.method == "partial"
    assert len(plan.breaks) == 1 and "model.picky (Picky)" in plan.breaks[0] and "int(" in plan.breaks[0]
    assert "keep it a tensor" in plan.breaks[0]  # the advice for its kind
    assert "graph break 1" in plan.explain()
    assert plan.chosen.moved  # the cast and the scaling still move
    assert all(plan.side_of(n) == "train" for n in plan.graph.nodes if "picky" in plan.graph[n].label)


def test_partition_leaves_every_global_random_generator_as_it_was() -> None:
    import random

    import numpy as np

    def noisy(x: torch.Tensor) -> torch.Tensor:  # the pipeline draws from all three
        return x + torch.rand(1) + float(np.random.rand()) + random.random()

    pipe = stoker.from_items([torch.ones(4)] * 8).map(noisy).batch(4)
    model = Plain()
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    expected = (torch.rand(1), np.random.rand(), random.random())
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    stoker.partition(pipe, model, workers=1)
    assert (torch.rand(1), np.random.rand(), random.random()) == expected


class Frozen(nn.Module):
    """A front end whose matrix is a frozen nn.Parameter (torchlibrosa's STFT and mel matrices)."""

    def __init__(self) -> None:
        super().__init__()
        self.mel = nn.Parameter(torch.rand(4, 2), requires_grad=False)
        self.fc = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.log1p(x @ self.mel))


def test_frozen_parameters_are_constants_and_their_front_end_moves() -> None:
    pipe = stoker.from_items([torch.rand(4) for _ in range(8)]).batch(4)
    plan = stoker.partition(pipe, Frozen(), workers=1, objective="all_stateless")
    moved = {plan.graph[n].label for n in plan.chosen.moved}
    assert "matmul" in moved and "log1p" in moved
    assert all(plan.side_of(n) == "train" for n in plan.graph.nodes if plan.graph[n].label.startswith("model.fc"))


def test_errors_inside_third_party_libraries_name_their_file_and_line() -> None:
    import os

    from stoker.graph.trace import is_internal

    site = os.path.dirname(os.path.dirname(torch.__file__))
    assert is_internal(os.path.join(site, "torch", "nn", "functional.py"))
    for lib in ("torchaudio", "torchvision", "torchlibrosa"):  # share torch's prefix, are not torch
        assert not is_internal(os.path.join(site, lib, "functional.py")), lib


class WritesBuffer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 1)
        self.register_buffer("last", torch.zeros(2, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.last[0] = x[0]  # item assignment into a buffer: state, not a value to copy
        return self.fc(x)


def test_item_assignment_into_a_buffer_is_not_copied_and_stays_in_the_trainer() -> None:
    from stoker.graph.advice import advice_for
    from stoker.graph.specialise import TraceStop
    from stoker.graph.trace import classify

    pipe = stoker.from_items([torch.ones(4)] * 4).batch(2)
    plan = stoker.partition(pipe, WritesBuffer(), workers=1, objective="all_stateless")
    assert plan.method == "fx"  # the value trace refused to copy it; plain fx records the write itself
    writes = [n for n in plan.graph.nodes if "setitem" in plan.graph[n].label]
    assert writes and all(plan.side_of(n) == "train" for n in writes)
    stop = TraceStop("in_place", "item assignment into last, a buffer")
    assert "assign into a fresh tensor" in advice_for(classify(stop))
