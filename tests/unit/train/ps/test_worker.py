import pytest

from stoker.train.ps.worker import LRPlan


def test_plan_follows_the_named_rule_with_warmup() -> None:
    plan = LRPlan("linear", base_lr=0.03, base_batch=64, batch=314, warmup_steps=20)
    assert plan.at(0) == pytest.approx(0.03)
    assert plan.at(20) == pytest.approx(0.03 * 314 / 64)
    assert LRPlan("sqrt", 0.01, 16, 64).at(0) == pytest.approx(0.02)


def test_adascale_is_refused_with_the_alternatives() -> None:
    with pytest.raises(ValueError, match="'linear' or 'sqrt'"):
        LRPlan("adascale")
