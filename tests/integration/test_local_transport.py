"""Results crossing from real worker processes: only a view's bytes, and sample types from ``__main__``."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

import stoker

STORAGE = 1 << 22  # floats: a 16 MiB storage behind every sample's 256-byte view


@dataclasses.dataclass
class Sample:
    index: int
    view: torch.Tensor


def _view_of_big(i: int) -> Sample:
    big = torch.empty(STORAGE)  # untouched pages: only the view is ever written
    big[:64] = float(i)
    return Sample(i, big[:64])


def _shm_mapped_bytes() -> int:
    """Bytes of ``/dev/shm`` files this process maps (stoker's payloads, torch's shared storages)."""
    total = 0
    for line in Path("/proc/self/maps").read_text().splitlines():
        if "/dev/shm/" in line:
            lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
            total += hi - lo
    return total


def test_a_view_in_a_dataclass_costs_its_bytes_not_its_storage() -> None:
    pipe = stoker.from_items(list(range(16))).map(_view_of_big)
    with stoker.Loader(pipe, workers=1, split_size=4) as loader:
        before = _shm_mapped_bytes()
        held = list(loader)  # hold every sample: each one's mapping stays alive
        grown = _shm_mapped_bytes() - before
    assert [s.index for s in held] == list(range(16)) and all(
        torch.equal(s.view, torch.full((64,), float(s.index))) for s in held
    )
    print(f"/dev/shm mapped for 16 views of 16 MiB storages: {grown} bytes")
    assert grown <= 4 * 4096  # 4 splits, one page each; shipping the storages would be 256 MiB


SCRIPT = """
    import dataclasses
    from typing import NamedTuple

    import torch

    import stoker


    class Pair(NamedTuple):
        x: torch.Tensor
        label: int


    @dataclasses.dataclass
    class Record:
        pair: Pair
        name: str


    def make(i):
        return Record(Pair(torch.full((2,), float(i)), i), f"s{i}")


    if __name__ == "__main__":
        with stoker.Loader(stoker.from_items(list(range(6))).map(make), workers=1, split_size=2) as loader:
            out = list(loader)
        assert all(type(r) is Record and type(r.pair) is Pair for r in out), [type(r) for r in out]
        assert [r.pair.label for r in out] == list(range(6)) and out[3].name == "s3"
        assert torch.equal(out[5].pair.x, torch.full((2,), 5.0))
        print("ok", len(out))
"""


def test_sample_types_defined_in_main_come_back_as_the_scripts_own(tmp_path: Path) -> None:
    script = tmp_path / "train_main_types.py"
    script.write_text(textwrap.dedent(SCRIPT))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("ok 6")
