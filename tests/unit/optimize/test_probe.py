"""The probe finds RNG readers and key-dependent ops on real samples; marks add what it cannot see."""

from __future__ import annotations

import pytest
import torch

import stoker
from stoker.optimize.chain import Chain
from stoker.optimize.marks import mark, traits_of
from stoker.optimize.probe import probe, probe_indices
from tests.common import optimize as fns


def facts(*ops):
    pipe = stoker.from_items(list(range(20)))
    for op in ops:
        pipe = pipe.map(op)
    return {f.name: f for f in probe(Chain.of(pipe), seed=0, samples=4).ops}


@pytest.mark.parametrize("rng_op", [fns.jitter, fns.global_jitter, fns.numpy_global_jitter])
def test_every_kind_of_rng_read_is_found(rng_op) -> None:
    got = facts(fns.heavy, rng_op)
    assert got["heavy"].deterministic and not got["heavy"].uses_rng
    assert got[rng_op.__name__].uses_rng and not got[rng_op.__name__].deterministic


def test_an_op_that_reads_the_sample_key_is_not_deterministic() -> None:
    got = facts(fns.heavy, fns.keyed)
    assert not got["keyed"].uses_rng
    assert not got["keyed"].deterministic
    assert "changed with the sample key" in got["keyed"].why


def test_a_declared_random_op_counts_as_an_rng_user_even_without_a_draw() -> None:
    def rarely_random(rec):
        return rec

    mark(rarely_random, random=True)
    assert facts(fns.heavy, rarely_random)["rarely_random"].uses_rng


def test_declaring_random_false_never_hides_a_draw() -> None:
    def draws(rec):
        return fns.jitter(rec)

    mark(draws, random=False)
    assert facts(fns.heavy, draws)["draws"].uses_rng


def test_marks_reject_unknown_traits_and_read_back() -> None:
    with pytest.raises(ValueError, match="unknown traits"):
        mark(lambda x: x, colourful=True)
    assert traits_of(fns.half).selects_pixels and traits_of(fns.lut_jitter).pointwise
    assert traits_of(fns.heavy).random is None


def test_probe_indices_spread_over_the_source() -> None:
    assert probe_indices(100, 3) == [0, 49, 99]
    assert probe_indices(2, 6) == [0, 1]
    with pytest.raises(ValueError, match="samples=0"):
        probe_indices(10, 0)


def test_probing_copies_the_sample_not_the_data_set() -> None:
    from stoker.optimize.values import fresh_copy

    big = torch.utils.data.TensorDataset(torch.zeros(1024, 256), torch.arange(1024))
    row, label = fresh_copy(big[3])
    # deepcopy of a view copies the whole 1 MB storage; the probe's copy holds one row only.
    assert row.untyped_storage().nbytes() == 256 * 4 and label.untyped_storage().nbytes() == 8
    assert torch.equal(row, big[3][0]) and row.data_ptr() != big[3][0].data_ptr()
