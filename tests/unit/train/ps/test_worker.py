import pytest
import torch

from stoker.train.ps.server import ParameterServer
from stoker.train.ps.worker import LRPlan, TrainSpec


def test_plan_follows_the_named_rule_with_warmup() -> None:
    plan = LRPlan("linear", base_lr=0.03, base_batch=64, batch=314, warmup_steps=20)
    assert plan.at(0) == pytest.approx(0.03)
    assert plan.at(20) == pytest.approx(0.03 * 314 / 64)
    assert LRPlan("sqrt", 0.01, 16, 64).at(0) == pytest.approx(0.02)


def test_adascale_gain_comes_from_the_gradient_statistics() -> None:
    plan = LRPlan("adascale", base_lr=0.03, base_batch=64, batch=256)
    assert plan.at(5, grad_var=1.0, grad_sqr=0.0) == pytest.approx(0.12)
    assert plan.at(5, grad_var=0.0, grad_sqr=1.0) == pytest.approx(0.03)


def test_adascale_needs_bsp_rounds_of_several_workers() -> None:
    model = torch.nn.Linear(4, 2)
    spec = TrainSpec(model_fn=lambda: model, feed=lambda r, n, e: iter(()), lr=LRPlan("adascale"))
    with pytest.raises(ValueError, match="consistency='bsp'"):
        ParameterServer(model, consistency="asp", num_workers=2).train(spec)
    with pytest.raises(ValueError, match="num_workers >= 2"):
        ParameterServer(model, num_workers=1).train(spec)
