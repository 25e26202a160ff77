"""One test per state rule, the unsure -> stateful default, pins, and the untraceable fallback."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import stoker

ITEMS = [
    (torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8, generator=torch.Generator().manual_seed(i)), i % 4)
    for i in range(16)
]
PIPE = stoker.from_items(ITEMS).batch(4)


def opaque_scale(x: torch.Tensor) -> torch.Tensor:
    return x * 2.0


torch.fx.wrap("opaque_scale")


def _verdict(plan: stoker.Plan, label_part: str):
    hits = [n for n in plan.graph if label_part in n.label]
    assert hits, [n.label for n in plan.graph]
    return plan.verdicts[hits[0].name], hits[0].name


def _batch():
    return next(iter(stoker.Loader(PIPE, workers=0)))


def _check_equal(plan: stoker.Plan, twin: nn.Module) -> None:
    batch = _batch()
    got = plan.train_module(*plan.send(batch))
    torch.testing.assert_close(got, F.cross_entropy(twin(batch[0]), batch[1]), rtol=1e-6, atol=1e-6)


class Head(nn.Module):
    def __init__(self, pre: nn.Module | None = None) -> None:
        super().__init__()
        self.pre = pre if pre is not None else nn.Identity()
        self.fc = nn.Linear(3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre(x.float() / 255.0)
        return self.fc(x.mean(dim=(2, 3)))


def test_parameters_are_state_and_everything_after_them_stays() -> None:
    plan = stoker.partition(PIPE, Head(), F.cross_entropy, objective="all_stateless")
    v, name = _verdict(plan, "model.fc")
    assert v.stateful and v.certain and "holds parameters weight, bias" in v.reason
    assert name not in plan.data_nodes
    assert "cross_entropy" in plan.sides.blocked and "depends on state" in plan.sides.blocked["cross_entropy"]


def test_read_only_buffer_is_a_constant_and_its_users_move() -> None:
    class Norm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x - self.mean

    model = Head(Norm())
    plan = stoker.partition(PIPE, model, F.cross_entropy, objective="all_stateless")
    v, name = _verdict(plan, "model.pre.mean")
    assert not v.stateful and name in plan.sides.constants
    assert "sub" in plan.chosen.moved
    _check_equal(plan, copy.deepcopy(model))


def test_buffer_written_in_forward_is_state() -> None:
    model = Head(nn.BatchNorm2d(3, affine=False))
    plan = stoker.partition(PIPE, model, F.cross_entropy, objective="all_stateless")
    v, name = _verdict(plan, "BatchNorm2d")
    assert v.certain and "writes buffer(s)" in v.reason and "running_mean" in v.reason
    assert name not in plan.chosen.moved
    twin = copy.deepcopy(model)
    _check_equal(plan, twin)
    torch.testing.assert_close(model.pre.running_mean, twin.pre.running_mean)  # the split updated the model's stats


def test_eval_mode_batchnorm_is_unsure_and_a_pin_moves_it() -> None:
    model = Head(nn.BatchNorm2d(3, affine=False)).eval()
    plan = stoker.partition(PIPE, model, F.cross_entropy, objective="all_stateless")
    v, name = _verdict(plan, "BatchNorm2d")
    assert v.stateful and not v.certain and "train and eval mode" in v.reason
    pinned = stoker.partition(PIPE, model, F.cross_entropy, objective="all_stateless", pin={"model.pre": "data"})
    assert name in pinned.chosen.moved
    assert name in pinned.sides.overridden and "pinned to data over" in pinned.explain()
    _check_equal(pinned, copy.deepcopy(model))


def test_dropout_is_unsure_so_stateful() -> None:
    plan = stoker.partition(PIPE, Head(nn.Dropout(0.5)), F.cross_entropy, objective="all_stateless")
    v, name = _verdict(plan, "Dropout")
    assert v.stateful and not v.certain and v.reason.startswith("unsure")
    assert name not in plan.chosen.moved
    assert "STATEFUL: unsure" in plan.explain()


def test_module_changing_attributes_across_calls_is_state_and_kept_whole() -> None:
    class Counter(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            return x * 1.5

    model = Head(Counter())
    plan = stoker.partition(PIPE, model, F.cross_entropy, objective="all_stateless")
    v, name = _verdict(plan, "model.pre (Counter)")
    assert v.certain and "calls" in v.reason and "between calls" in v.reason
    assert plan.graph[name].kind == "call_module"  # not traced through: the side effect stays
    before = model.pre.calls
    _check_equal(plan, copy.deepcopy(model))
    assert model.pre.calls == before + 1


def test_user_marked_module_and_function_are_state() -> None:
    @stoker.stateful(reason="keeps a running max")
    class Marked(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + 1

    @stoker.stateful
    def helper(x: torch.Tensor) -> torch.Tensor:
        return x * 3

    class Model(Head):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(helper(self.pre(x.float())).mean(dim=(2, 3)))

    plan = stoker.partition(PIPE, Model(Marked()), F.cross_entropy, objective="all_stateless")
    v, _ = _verdict(plan, "Marked")
    assert v.certain and "keeps a running max" in v.reason
    v, _ = _verdict(plan, "helper")
    assert v.certain and "marked by the user" in v.reason
    assert plan.chosen.moved == {"float_1"}


def test_call_stoker_cannot_look_inside_is_unsure() -> None:
    class Model(Head):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(opaque_scale(x.float()).mean(dim=(2, 3)))

    plan = stoker.partition(PIPE, Model(), F.cross_entropy, objective="all_stateless")
    v, name = _verdict(plan, "opaque_scale")
    assert v.stateful and not v.certain and "cannot look inside" in v.reason
    pinned = stoker.partition(PIPE, Model(), F.cross_entropy, objective="all_stateless", pin={name: "data"})
    assert name in pinned.chosen.moved


def test_random_tensor_op_is_not_state_but_noted() -> None:
    class Model(Head):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.float() + torch.rand(x.shape) * 0.01
            return self.fc(x.mean(dim=(2, 3)))

    plan = stoker.partition(PIPE, Model(), F.cross_entropy, objective="all_stateless")
    v, name = _verdict(plan, "rand")
    assert not v.stateful and "per-batch generator" in v.note
    assert name in plan.chosen.moved


def test_pins_to_the_training_side_keep_node_and_users() -> None:
    model = Head()
    plan = stoker.partition(PIPE, model, F.cross_entropy, objective="all_stateless", pin={"truediv": "train"})
    assert plan.chosen.moved == {"float_1"}
    assert plan.sides.blocked["truediv"] == "pinned to the training side"
    _check_equal(plan, copy.deepcopy(model))


def test_pin_cannot_override_certain_state_and_names_must_exist() -> None:
    with pytest.raises(ValueError, match=r"cannot pin 'model_fc'.*holds parameters"):
        stoker.partition(PIPE, Head(), F.cross_entropy, pin={"model.fc": "data"})
    with pytest.raises(ValueError, match="names no node"):
        stoker.partition(PIPE, Head(), F.cross_entropy, pin={"nope": "data"})
    with pytest.raises(ValueError, match="should be 'data' or 'train'"):
        stoker.partition(PIPE, Head(), F.cross_entropy, pin={"truediv": "gpu"})


def test_untraceable_forward_names_the_line_and_falls_back() -> None:
    class Branchy(Head):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = x.float() / 255.0
            if x.sum() > 0:  # data-dependent control flow
                x = x * 2
            return self.fc(x.mean(dim=(2, 3)))

    model = Branchy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = stoker.partition(PIPE, model, F.cross_entropy, objective="all_stateless")
    assert plan.failure is not None
    assert "test_analysis.py:" in plan.failure and "if x.sum() > 0" in plan.failure
    assert "whole model stays on the training side" in plan.failure
    assert any("if x.sum() > 0" in str(w.message) for w in caught)
    assert not plan.chosen.moved
    v, _ = _verdict(plan, "model (Branchy)")
    assert v.stateful and "could not be traced" in v.reason
    _check_equal(plan, copy.deepcopy(model))


def test_per_sample_rng_in_the_pipeline_is_not_state() -> None:
    def jitter(sample):
        img, y = sample
        return img.float() + float(stoker.sample_rng().random()), y

    plan = stoker.partition(stoker.from_items(ITEMS).map(jitter).batch(4), Head(), F.cross_entropy)
    assert not plan.verdicts["p1:jitter"].stateful


def test_stateful_per_sample_pipeline_function_is_refused() -> None:
    seen: list[int] = []

    def counting(sample):
        seen.append(1)
        return sample

    with pytest.raises(ValueError, match=r"map\(counting\).*closure seen.*sample_rng"):
        stoker.partition(stoker.from_items(ITEMS).map(counting).batch(4), Head(), F.cross_entropy)


def test_stateful_batch_function_runs_in_the_trainer() -> None:
    class Tally:
        def __init__(self) -> None:
            self.batches = 0

        def __call__(self, batch):
            self.batches += 1
            return batch

    tally = Tally()
    model = Head()
    plan = stoker.partition(stoker.from_items(ITEMS).batch(4).map(tally), model, F.cross_entropy)
    assert plan.sides.tail == ["p2:Tally"] and not plan.chosen.moved
    assert plan.__stoker_pipeline__().ops[-1].name == "send"
    before = tally.batches
    batch = next(iter(stoker.Loader(PIPE, workers=0)))
    got = plan.train_module(*plan.send(batch))
    assert tally.batches == before + 1
    torch.testing.assert_close(got, F.cross_entropy(copy.deepcopy(model)(batch[0]), batch[1]))


def test_dataset_that_changes_between_reads_is_refused() -> None:
    class Leaky(torch.utils.data.Dataset):
        def __init__(self) -> None:
            self.reads = 0

        def __len__(self) -> int:
            return len(ITEMS)

        def __getitem__(self, i: int):
            self.reads += 1
            return ITEMS[i]

    pipe = stoker.from_dataset(Leaky()).batch(4)
    with pytest.raises(ValueError, match=r"Leaky.__getitem__.*reads.*pin=\{'p0:dataset': 'data'\}"):
        stoker.partition(pipe, Head(), F.cross_entropy)
    plan = stoker.partition(pipe, Head(), F.cross_entropy, pin={"p0:dataset": "data"})
    assert "p0:dataset" in plan.data_nodes and "pinned to data over: changes reads" in plan.explain()


def test_optimizer_is_state() -> None:
    model = Head()
    opt = torch.optim.Adam(model.parameters())
    plan = stoker.partition(PIPE, model, F.cross_entropy, optimizer=opt)
    assert plan.verdicts["optimizer"].certain and "optimiser state" in plan.verdicts["optimizer"].reason


def test_compose_is_expanded_one_node_per_transform() -> None:
    class Compose:
        def __init__(self, transforms):
            self.transforms = transforms

        def __call__(self, x):
            for t in self.transforms:
                x = t(x)
            return x

    def to_float(s):
        return s[0].float(), s[1]

    def halve(s):
        return s[0] / 2, s[1]

    pipe = stoker.from_items(ITEMS).map(Compose([to_float, halve]), name="augment").batch(4)
    plan = stoker.partition(pipe, Head(), F.cross_entropy)
    labels = [n.label for n in plan.graph if n.kind == "transform"]
    assert labels == ["augment[0] to_float", "augment[1] halve"]


def test_bound_method_with_changing_instance_state_is_refused() -> None:
    class Stats:
        def __init__(self) -> None:
            self.count = 0

        def update(self, sample):
            self.count += 1
            return sample

    with pytest.raises(ValueError, match="changes count between calls"):
        stoker.partition(stoker.from_items(ITEMS).map(Stats().update).batch(4), Head(), F.cross_entropy)


def test_module_with_forward_hook_is_kept_whole() -> None:
    calls: list[int] = []

    class Scale(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    model = Head(Scale())
    model.pre.register_forward_hook(lambda mod, inp, out: calls.append(1))
    plan = stoker.partition(PIPE, model, F.cross_entropy, objective="all_stateless")
    _, name = _verdict(plan, "model.pre (Scale)")
    assert plan.graph[name].kind == "call_module"
    before = len(calls)
    plan.train_module(*plan.send(_batch()))
    assert len(calls) == before + (0 if name in plan.chosen.moved else 1)


def test_pipeline_steps_after_batch_can_be_pinned_to_the_trainer() -> None:
    def scale(batch):
        return batch[0], batch[1]

    pipe = stoker.from_items(ITEMS).batch(4).map(scale)
    plan = stoker.partition(pipe, Head(), F.cross_entropy, pin={"p2:scale": "train"})
    assert plan.sides.tail == ["p2:scale"]
    with pytest.raises(ValueError, match="only steps after batch"):
        stoker.partition(
            stoker.from_items(ITEMS).map(scale).batch(4), Head(), F.cross_entropy, pin={"p1:scale": "train"}
        )
