import math
import threading

import torch

from stoker.graph.measure import nbytes


def test_bytes_are_tensor_payloads_and_pickled_sizes() -> None:
    assert nbytes(torch.zeros(4, 3, dtype=torch.uint8)) == 12
    assert nbytes((torch.zeros(2), 3, None)) == 2 * 4 + 8
    assert nbytes("abc") > 0


def test_a_value_that_cannot_be_pickled_cannot_cross_so_it_costs_infinite_bytes() -> None:
    def local() -> None: ...

    assert nbytes(threading.Lock()) == math.inf
    assert nbytes([torch.zeros(1), local]) == math.inf  # a local function does not pickle
