from __future__ import annotations

import pytest

from stoker.paths import data_dir
from stoker.train.hetero.gavel import load_throughputs


@pytest.fixture(scope="session")
def gavel() -> dict:
    path = data_dir() / "gavel_isolated_throughputs.json"
    if not path.exists():
        pytest.skip(f"{path} missing: set STOKER_DATA_DIR to the folder holding the Gavel throughputs")
    return load_throughputs(path)
