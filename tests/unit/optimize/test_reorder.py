"""Reordering: filters move before maps they do not depend on; downscales before per-pixel colour ops."""

from __future__ import annotations

import stoker
from tests.common import optimize as fns
from tests.unit.optimize.conftest import identical, run


def moves(report, name: str) -> list:
    return [r for r in report.rewrites if r.strategy == name and r.applied]


def test_a_cheap_filter_moves_before_expensive_maps_it_does_not_read(optimize_in) -> None:
    pipe = stoker.from_items(list(range(30))).map(fns.as_record).map(fns.heavy_record).filter(fns.is_even)
    pipe = pipe.map(fns.jitter).batch(5)
    new, report = optimize_in(pipe, strategies=["reorder_filter"])
    # Not before as_record: on the raw int the filter fails, so that is as far as it goes.
    assert [op.name for op in new.sample_ops()] == ["as_record", "is_even", "heavy_record", "jitter"]
    assert moves(report, "reorder_filter")[0].exact
    assert identical(run(pipe, 2), run(new, 2))


def test_a_filter_on_a_field_a_map_adds_stays_after_it(optimize_in) -> None:
    pipe = stoker.from_items(list(range(20))).map(fns.heavy).filter(fns.keep_odd_flag).batch(4)
    new, report = optimize_in(pipe, strategies=["reorder_filter"])
    assert not moves(report, "reorder_filter")
    assert [op.name for op in new.sample_ops()] == ["heavy", "keep_odd_flag"]


def test_a_filter_reading_the_rng_is_never_moved(optimize_in) -> None:
    pipe = stoker.from_items(list(range(20))).map(fns.as_record).map(fns.heavy_record).filter(fns.coin_filter)
    new, report = optimize_in(pipe.batch(4), strategies=["reorder_filter"])
    assert not moves(report, "reorder_filter")
    assert new.sample_ops()[-1].name == "coin_filter" and "RNG" in report.rewrites[0].why


def images(*ops) -> stoker.Pipeline:
    pipe = stoker.from_items(list(range(12))).map(fns.image)
    for op in ops:
        pipe = pipe.map(op)
    return pipe.map(fns.to_tensor).batch(4)


def test_a_pixel_selecting_downscale_moves_before_pointwise_colour_ops_exactly(optimize_in) -> None:
    pipe = images(fns.lut_jitter, fns.invert, fns.half)
    new, report = optimize_in(pipe, strategies=["reorder_downscale"])
    assert [op.name for op in new.sample_ops()] == ["image", "half", "lut_jitter", "invert", "to_tensor"]
    assert moves(report, "reorder_downscale")[0].exact
    assert identical(run(pipe, 2), run(new, 2))


def test_two_rng_users_never_swap(optimize_in) -> None:
    pipe = images(fns.lut_jitter, fns.random_crop)
    new, report = optimize_in(pipe, strategies=["reorder_downscale"])
    assert not moves(report, "reorder_downscale")
    assert [op.name for op in new.sample_ops()] == ["image", "lut_jitter", "random_crop", "to_tensor"]


def test_a_rng_free_colour_op_may_swap_with_a_random_crop(optimize_in) -> None:
    pipe = images(fns.invert, fns.random_crop)
    new, _ = optimize_in(pipe, strategies=["reorder_downscale"])
    assert [op.name for op in new.sample_ops()] == ["image", "random_crop", "invert", "to_tensor"]
    assert identical(run(pipe, 2), run(new, 2))


def test_an_interpolating_downscale_moves_only_when_approximation_is_allowed(optimize_in) -> None:
    pipe = images(fns.lut_jitter, fns.box_half)
    _, report = optimize_in(pipe, strategies=["reorder_downscale"])
    assert not moves(report, "reorder_downscale") and "approximate=True" in report.rewrites[0].why
    new, report = optimize_in(pipe, strategies=["reorder_downscale"], approximate=True)
    (rw,) = moves(report, "reorder_downscale")
    assert not rw.exact and "largest difference" in rw.why and not report.exact
    assert [op.name for op in new.sample_ops()][:2] == ["image", "box_half"]
