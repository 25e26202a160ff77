import pytest

from stoker.train.lr import LRInput, lr_rule
from stoker.train.lr.linear import linear


def test_scales_with_the_batch_after_warmup() -> None:
    assert linear(LRInput(base_lr=0.1, base_batch=256, batch=8192, step=10, warmup_steps=10)) == pytest.approx(3.2)


def test_warmup_ramps_linearly_from_base_lr() -> None:
    lrs = [linear(LRInput(0.1, 32, 128, step=s, warmup_steps=4)) for s in range(6)]
    assert lrs == pytest.approx([0.1, 0.175, 0.25, 0.325, 0.4, 0.4])


def test_same_batch_keeps_base_lr() -> None:
    assert linear(LRInput(0.05, 64, 64)) == pytest.approx(0.05)


def test_registry_finds_it_and_names_the_choices_on_a_typo() -> None:
    assert lr_rule("linear") is linear
    with pytest.raises(ValueError, match="adascale"):
        lr_rule("lineer")


def test_invalid_input_names_the_value() -> None:
    with pytest.raises(ValueError, match="base_batch"):
        LRInput(0.1, 0, 32)
