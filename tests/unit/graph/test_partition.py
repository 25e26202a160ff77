"""The split program computes what the unsplit one computes: outputs, gradients, training steps."""

from __future__ import annotations

import copy

import pytest
import torch

import stoker
from tests.unit.graph.models import Case, cases, uint8_image_case

CASES = {c.name: c for c in cases()}


def _batches(case: Case, n: int = 3) -> list:
    loader = stoker.Loader(case.pipe, workers=0, seed=0)
    return [b for _, b in zip(range(n), loader)]


def _step(model, loss_fn, batch):
    *xs, y = batch
    return loss_fn(model(*xs), y)


@pytest.mark.parametrize("objective", ["fewest_bytes", "all_stateless"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_split_equals_unsplit_outputs_and_gradients(name: str, objective: str) -> None:
    case = CASES[name]
    model = copy.deepcopy(case.model)
    twin = copy.deepcopy(case.model)
    plan = stoker.partition(case.pipe, model, case.loss_fn, objective=objective, workers=2)
    batch = _batches(case, 1)[0]
    received = plan.send(batch)
    got = plan.train_module(*received)
    want = _step(twin, case.loss_fn, batch)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-6)
    got.backward()
    want.backward()
    for (pname, p), q in zip(model.named_parameters(), twin.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-6, atol=1e-6, msg=f"gradient of {pname}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_all_stateless_moves_the_prefix(name: str) -> None:
    case = CASES[name]
    plan = stoker.partition(case.pipe, copy.deepcopy(case.model), case.loss_fn, objective="all_stateless")
    assert plan.chosen.moved, plan.explain()
    assert plan.data_module is not None


@pytest.mark.parametrize("name", sorted(CASES))
def test_training_through_the_split_matches(name: str) -> None:
    case = CASES[name]
    split_model = copy.deepcopy(case.model)
    plain_model = copy.deepcopy(case.model)
    plan = stoker.partition(case.pipe, split_model, case.loss_fn, objective="all_stateless")
    opt_a = torch.optim.SGD(split_model.parameters(), lr=0.1, momentum=0.9)
    opt_b = torch.optim.SGD(plain_model.parameters(), lr=0.1, momentum=0.9)
    with stoker.Loader(plan, workers=0, seed=0) as loader:
        received = [b for _, b in zip(range(3), loader)]
    for recv, batch in zip(received, _batches(case, 3), strict=True):
        opt_a.zero_grad()
        plan.train_module(*recv).backward()
        opt_a.step()
        opt_b.zero_grad()
        _step(plain_model, case.loss_fn, batch).backward()
        opt_b.step()
    for (pname, p), q in zip(split_model.state_dict().items(), plain_model.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-6, msg=f"after 3 steps: {pname}")


def test_cost_aware_cut_never_crosses_more_than_naive() -> None:
    for case in [*cases(), uint8_image_case()]:
        plan = stoker.partition(case.pipe, case.model, case.loss_fn, workers=2)
        assert plan.chosen.bytes_per_sample <= plan.naive.bytes_per_sample, (case.name, plan.explain())


def test_uint8_images_cross_four_times_fewer_bytes() -> None:
    case = uint8_image_case()
    plan = stoker.partition(case.pipe, case.model, case.loss_fn, workers=2)
    ratio = plan.naive.bytes_per_sample / plan.chosen.bytes_per_sample
    assert ratio >= 4.0, plan.explain()
    shapes = [plan.costs.shapes[n] for n in plan.crossing]
    assert any(s.startswith("uint8[") for s in shapes), shapes
    assert f"{ratio:.1f}x fewer bytes" in plan.explain()


def test_example_overrides_the_measured_batch() -> None:
    case = CASES["prefix_cnn"]
    batch = _batches(case, 1)[0]
    example = (batch[0][:2], batch[1][:2])
    plan = stoker.partition(case.pipe, copy.deepcopy(case.model), case.loss_fn, example=example)
    assert plan.costs.shapes["getitem"].endswith("[2, 3, 16, 16]")


def test_loss_needs_a_target() -> None:
    pipe = stoker.from_items([torch.zeros(3) for _ in range(4)]).batch(2)
    with pytest.raises(ValueError, match=r"pass target="):
        stoker.partition(pipe, torch.nn.Linear(3, 1), torch.nn.functional.mse_loss)
