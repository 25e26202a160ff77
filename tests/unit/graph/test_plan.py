"""The plan's views (explain, dot, PNG) and its data part as a Loader source."""

from __future__ import annotations

import copy
import pickle

import cloudpickle
import torch

import stoker
from tests.unit.graph.models import uint8_image_case


def _plan(objective: str = "fewest_bytes") -> stoker.Plan:
    case = uint8_image_case()
    return stoker.partition(case.pipe, copy.deepcopy(case.model), case.loss_fn, objective=objective, workers=2)


def test_explain_shows_sides_reasons_cut_and_figures() -> None:
    text = _plan().explain()
    assert "Data side" in text and "Training side" in text
    assert "STATEFUL: holds parameters weight, bias" in text
    assert "uint8[8, 3, 32, 32]" in text and "3,072 B/sample" in text
    assert "naive (all stateless)" in text and "12,328" in text
    assert "model.norm.mean" in text  # read-only buffers listed as constants


def test_to_dot_has_clusters_and_a_send_recv_pair_per_cut_edge() -> None:
    plan = _plan("all_stateless")
    dot = plan.to_dot()
    assert dot.startswith("digraph") and "cluster_data" in dot and "cluster_train" in dot
    for name in plan.crossing:
        assert f'"send:{name}" -> "recv:{name}"' in dot


def test_render_writes_a_png(tmp_path) -> None:
    path = _plan().render(str(tmp_path / "plan.png"))
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_loader_yields_what_the_training_module_takes() -> None:
    plan = _plan("all_stateless")
    case = uint8_image_case()
    with stoker.Loader(plan, workers=0, seed=0) as loader:
        received = next(iter(loader))
    batch = next(iter(stoker.Loader(case.pipe, workers=0, seed=0)))
    assert len(received) == len(plan.crossing)
    for got, want in zip(received, plan.send(batch), strict=True):
        torch.testing.assert_close(got, want)
    assert received[0].dtype == torch.float32  # the normalisation ran on the data side


def test_data_part_pickles_without_the_model() -> None:
    plan = _plan("all_stateless")
    blob = cloudpickle.dumps(plan.__stoker_pipeline__())
    pipe = pickle.loads(blob)
    assert pipe.ops[-1].name == "send"
    half = pipe.ops[-1].fn.half
    assert not list(half.parameters())  # only constants travel to the workers
    assert len(blob) < 200_000


def test_summary_is_plain_data() -> None:
    s = _plan().summary()
    assert s["bytes_per_sample"] * 4 <= s["naive_bytes_per_sample"] and s["traced"] is True


class Noisy(torch.nn.Module):
    """A prefix with a random tensor op: on the data side it draws from the per-batch generator."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255.0 + torch.rand(x.shape) * 0.1
        return self.fc(x.mean(dim=(2, 3)))


def test_loader_over_a_plan_resumes_exactly_including_moved_randomness() -> None:
    from tests.common.state import LoaderStream, run_test_save_load_state

    items = [(torch.full((3, 4, 4), i, dtype=torch.uint8), i % 2) for i in range(24)]
    pipe = stoker.from_items(items).shuffle().batch(4)
    plan = stoker.partition(pipe, Noisy(), torch.nn.functional.cross_entropy, objective="all_stateless")
    assert "rand" in plan.chosen.moved

    run_test_save_load_state(
        lambda: LoaderStream(stoker.Loader(plan, workers=0, seed=5)),
        LoaderStream.next,
        steps=14,
        checkpoints=[0, 4, 6, 13],
    )
