from __future__ import annotations

import textwrap

from stoker.cli import main

SCRIPT = """
import torch
import torch.nn.functional as F
from torch import nn
import stoker

items = [(torch.full((3, 8, 8), i, dtype=torch.uint8), i % 2) for i in range(16)]
pipe = stoker.from_items(items).batch(4)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)

    def forward(self, x):
        x = x[:, :, 1:7, 1:7]          # a centre crop: fewer bytes, so it moves
        x = x.float() / 255.0          # a cast: 4x the bytes, so it stays in the trainer
        return self.conv(x).mean(dim=(2, 3))

model = Net()
loss_fn = F.cross_entropy

if __name__ == "__main__":
    raise SystemExit("the training loop must not run under stoker plan")
"""


def test_plan_prints_explain_and_writes_png_and_dot(tmp_path, capsys) -> None:
    # 64 workers: the data side never limits, so the choice depends on bytes alone (not on timings).
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    png, dot = tmp_path / "p.png", tmp_path / "p.dot"
    assert main(["plan", str(script), "--out", str(png), "--dot", str(dot), "--workers", "64"]) == 0
    out = capsys.readouterr().out
    assert "Data side" in out and "moved from forward" in out
    data_part = out.split("Training side")[0]
    assert "getitem_2" in data_part and "float_1" not in data_part
    assert "uint8[4, 3, 6, 6]" in out and "3.8x fewer bytes than the naive cut" in out  # (108 + 8) vs (432 + 8) B
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert dot.read_text().startswith("digraph")


def test_plan_names_what_the_script_lacks(tmp_path, capsys) -> None:
    script = tmp_path / "empty.py"
    script.write_text("x = 1\n")
    # Bad input is one line on stderr and status 2 (stoker.errors.InputError through the CLI).
    assert main(["plan", str(script)]) == 2
    assert "should define `pipe`" in capsys.readouterr().err
    assert main(["plan", str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
