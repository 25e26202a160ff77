"""``stoker train ps`` end to end in a real process."""

from __future__ import annotations

import re
import subprocess
import sys


def test_train_ps_prints_batch_lr_and_rounds() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "stoker.cli", "train", "ps", "--epochs", "6", "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    assert re.search(r"largest batch 32 without swap, (\d+) with swap", out), out
    batch = int(re.search(r"chosen batch (\d+) per worker", out).group(1))  # type: ignore[union-attr]
    assert batch > 4 * 32
    assert re.search(r"-> 0\.1\d+ at batch \d+", out), out
    rounds = int(re.search(r"rounds per epoch: (\d+)", out).group(1))  # type: ignore[union-attr]
    assert rounds == 1437 // (2 * batch)
    assert float(re.search(r"test accuracy ([\d.]+)%", out).group(1)) > 80  # type: ignore[union-attr]
