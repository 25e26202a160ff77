import math

import pytest

from stoker.train.lr import LRInput, lr_rule
from stoker.train.lr.sqrt import sqrt


def test_scales_with_the_square_root_of_the_batch_ratio() -> None:
    assert sqrt(LRInput(1e-3, 32, 512)) == pytest.approx(4e-3)
    assert lr_rule("sqrt")(LRInput(1e-3, 32, 64)) == pytest.approx(1e-3 * math.sqrt(2))


def test_warmup_starts_at_base_lr() -> None:
    assert sqrt(LRInput(1e-3, 32, 512, step=0, warmup_steps=5)) == pytest.approx(1e-3)
    assert sqrt(LRInput(1e-3, 32, 512, step=5, warmup_steps=5)) == pytest.approx(4e-3)
