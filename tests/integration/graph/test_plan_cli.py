"""``stoker plan`` on a script whose forward cannot be traced: the failure is printed once, with its advice."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = """
import torch
import torch.nn.functional as F
from torch import nn

import stoker


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        if x.sum() > 0:
            x = x * 2
        return self.fc(x)


pipe = stoker.from_items([(torch.full((4,), float(i)), i % 2) for i in range(8)]).batch(4)
model = Branchy()
loss_fn = F.cross_entropy
"""


def test_stoker_plan_prints_a_trace_failure_once(tmp_path) -> None:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, "-m", "stoker", "plan", str(script), "--out", str(tmp_path / "plan.png"), "--workers", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    text = done.stdout + done.stderr
    assert text.count("cannot trace Branchy.forward") == 1
    assert "torch.where" in text and "if x.sum() > 0" in text
