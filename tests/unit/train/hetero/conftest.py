from __future__ import annotations

import pytest

from stoker.paths import data_file
from stoker.train.hetero.gavel import load_throughputs


@pytest.fixture(scope="session")
def gavel() -> dict:
    # data_file falls back to the copy shipped in stoker/resources, so this never skips on a fresh clone.
    return load_throughputs(data_file("gavel_isolated_throughputs.json"))
