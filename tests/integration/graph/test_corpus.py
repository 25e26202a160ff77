"""Every corpus program (tests/corpus) splits, traces without fallback, and trains exactly like the original.

For each program: partition it, train ``case.steps`` steps through ``stoker.Loader(plan,
workers=2)`` + ``plan.train_module``, and run the original, unsplit step on the same batches;
the loss and every gradient at every step, and every parameter and buffer after the steps,
agree to ``atol=1e-6, rtol=0``.
"""

from __future__ import annotations

import copy
import importlib
from typing import Any

import pytest
import torch

import stoker

PROGRAMS = [
    "mnist",
    "vae",
    "dcgan",
    "word_lm_lstm",
    "word_lm_transformer",
    "nanogpt",
    "time_sequence",
    "actor_critic",
    "resnet",
    "super_resolution",
    "fast_neural_style",
]
CLOSE = {"atol": 1e-6, "rtol": 0.0}


def _close(a: Any, b: Any, what: str) -> None:
    if a is None or b is None:
        assert a is None and b is None, f"{what}: one side has no value"
        return
    assert torch.allclose(a, b, **CLOSE), f"{what}: max difference {(a - b).abs().max().item():.3g}"


def _train(name: str) -> stoker.Plan:
    case = importlib.import_module(f"tests.corpus.{name}").case()
    split_model, plain_model = case.model, copy.deepcopy(case.model)
    carry = stoker.carry(**case.carry_init(split_model)) if case.carry_init else None
    state: dict[str, Any] = case.carry_init(plain_model) if case.carry_init else {}
    plan = stoker.partition(case.pipe, split_model, case.loss_fn, workers=2, carry=carry, **case.kwargs)
    opt_a = torch.optim.SGD(split_model.parameters(), lr=case.lr)
    opt_b = torch.optim.SGD(plain_model.parameters(), lr=case.lr)
    steps = 0
    with stoker.Loader(plan, workers=2, seed=1) as split, stoker.Loader(case.pipe, workers=0, seed=1) as plain:
        for received, batch in zip(split, plain, strict=True):
            torch.manual_seed(100 + steps)  # the same dropout masks and noise on both sides
            if carry is not None and case.before_step is not None:
                for key, value in case.before_step(dict(zip(carry.names, carry.values()))).items():
                    setattr(carry, key, value)
            loss_a = plan.train_module(*received)
            opt_a.zero_grad()
            loss_a.backward()
            torch.manual_seed(100 + steps)
            if case.before_step is not None:
                state = case.before_step(state)
            loss_b = case.plain_step(plain_model, batch, state)
            opt_b.zero_grad()
            loss_b.backward()
            _close(loss_a, loss_b, f"{name} step {steps} loss")
            for (pname, p), q in zip(split_model.named_parameters(), plain_model.parameters(), strict=True):
                _close(p.grad, q.grad, f"{name} step {steps} grad {pname}")
            opt_a.step()
            opt_b.step()
            steps += 1
    assert steps == case.steps
    for (key, a), b in zip(split_model.state_dict().items(), plain_model.state_dict().values(), strict=True):
        _close(a.float(), b.float(), f"{name} after {steps} steps: {key}")
    return plan


@pytest.mark.parametrize("name", PROGRAMS)
def test_program_traces_and_trains_like_the_original(name: str) -> None:
    plan = _train(name)
    assert plan.failure is None, plan.failure
    assert plan.method in ("values", "fx")
