"""Resume: state taken mid-epoch, loaded into a fresh Loader in a new process, continues exactly."""

import subprocess
import sys
import textwrap
from pathlib import Path

import torch

import stoker
from tests.common.pipelines import numbers

SCRIPT = textwrap.dedent(
    """
    import sys, torch, stoker
    from tests.common.pipelines import numbers
    state = torch.load(sys.argv[1], weights_only=False)
    with stoker.Loader(numbers(100, 8), workers=2, seed=5) as loader:
        loader.load_state_dict(state)
        rest = [b.clone() for b in loader] + [b.clone() for b in loader]
    torch.save(rest, sys.argv[2])
    """
)


def test_state_dict_resumes_in_a_new_process(tmp_path) -> None:
    with stoker.Loader(numbers(100, 8), workers=1, seed=5) as loader:
        it = iter(loader)
        head = [next(it).clone() for _ in range(5)]
        state = loader.state_dict()
        tail = [b.clone() for b in it] + [b.clone() for b in loader]
    torch.save(state, tmp_path / "state.pt")
    subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "state.pt"), str(tmp_path / "rest.pt")],
        check=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    rest = torch.load(tmp_path / "rest.pt", weights_only=False)
    assert len(head) + len(tail) == 13 + 13
    assert len(rest) == len(tail) and all(torch.equal(a, b) for a, b in zip(rest, tail))
