"""diagnose() on real loaders names the bottleneck built into each pipeline (the class, not timings)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import stoker
from tests.integration.obs.pipelines import decode_bound, train, trainer_bound, transport_bound

WARMUP = 4  # batches before the judged window: worker start-up is not what we diagnose


@pytest.mark.parametrize(
    ("make", "step_s", "batches", "want", "stage"),
    [
        (decode_bound, 0.0, 30, "data", "decode"),
        (trainer_bound, 0.25, 8, "trainer", None),
        (transport_bound, 0.0, 12, "transport", None),
    ],
    ids=["decode-bound", "trainer-bound", "transport-bound"],
)
def test_diagnosis_names_the_bottleneck(
    make: Callable[[], stoker.Pipeline], step_s: float, batches: int, want: str, stage: str | None
) -> None:
    with stoker.Loader(make(), workers=1) as loader:
        it = iter(loader)
        train(it, WARMUP, step_s)
        since = loader.stats()
        train(it, batches, step_s)
        d = loader.diagnose(since=since)
    assert d.bottleneck == want, str(d)
    if stage is not None:
        assert d.dominant_stage == stage
    if want == "data":
        assert {a.action for a in d.advice} & {"add_local_workers", "add_remote_workers", "raise_budget"}
    if want == "trainer":
        assert "nothing on the data side" in str(d)
    if want == "transport":
        assert "larger_prefetch" in {a.action for a in d.advice}
