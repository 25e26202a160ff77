"""A small training job for the top/dashboard tests: serves metrics, runs until a stop file appears.

    python -m tests.integration.obs.job ADDRESS_FILE STOP_FILE [NAME]

Writes its metrics address to ADDRESS_FILE once serving.
"""

from __future__ import annotations

import os
import sys

import stoker
from tests.integration.obs.pipelines import decode_bound, spin


def main(address_file: str, stop_file: str, name: str = "tmux-job") -> None:
    with stoker.Loader(decode_bound(), workers=1, metrics_port=0, name=name) as loader:
        tmp = address_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(loader.metrics_address))
        os.replace(tmp, address_file)  # the test never reads half an address
        while not os.path.exists(stop_file):
            for _ in loader:
                spin(0.01)
                if os.path.exists(stop_file):
                    break


if __name__ == "__main__":
    main(*sys.argv[1:])
