from __future__ import annotations

import pytest

from stoker.train.hetero.gavel import default_data_dir, load_throughputs


@pytest.fixture(scope="session")
def gavel() -> dict:
    path = default_data_dir() / "gavel_isolated_throughputs.json"
    if not path.exists():
        pytest.skip(f"{path} missing: set STOKER_DATA_DIR to the folder holding the Gavel throughputs")
    return load_throughputs(path)
