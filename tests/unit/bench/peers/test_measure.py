"""A peer run's figures: steady and from-building samples/s, and the medians and ratio the table reports."""

from __future__ import annotations

import pytest

from stoker.bench.peers import _summary, _vs_best_peer
from stoker.bench.peers.measure import Measured


def test_steady_rate_leaves_out_the_first_epoch_and_from_build_keeps_it() -> None:
    m = Measured("torch", "image", samples=[100, 100, 100], seconds=[4.0, 1.0, 1.0])
    assert m.sps == pytest.approx(100.0)
    assert m.sps_from_build == pytest.approx(50.0)
    assert Measured("x", "image", samples=[10], seconds=[2.0]).sps == pytest.approx(5.0)


def _rec(sps: float, build: float, random: bool = True) -> dict[str, object]:
    return {
        "sps": sps,
        "sps_from_build": build,
        "first_batch_s": 0.5,
        "pss_bytes": 2**20 * 100,
        "random_per_epoch": random,
    }


def test_summary_takes_medians_and_flags_a_repeat_in_any_round() -> None:
    got = _summary([_rec(10, 5), _rec(30, 7, random=False), _rec(20, 6)])
    assert got == {"sps": 20.0, "sps_from_build": 6.0, "first_batch_s": 0.5, "pss_mb": 100, "random_per_epoch": False}


def test_a_peer_that_repeats_its_augmentation_is_not_the_best_peer() -> None:
    table = {
        "stoker": {"sps_from_build": 100.0, "random_per_epoch": True},
        "stoker_optimize": {"sps_from_build": 150.0, "random_per_epoch": True},
        "torch": {"sps_from_build": 120.0, "random_per_epoch": True},
        "torchdata_nodes": {"sps_from_build": 300.0, "random_per_epoch": False},
    }
    assert _vs_best_peer(table) == pytest.approx(1.25)
    assert _vs_best_peer({"stoker": {"sps_from_build": 1.0, "random_per_epoch": True}}) is None
