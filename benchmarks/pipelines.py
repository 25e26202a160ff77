"""Six pipelines: DataLoader vs stoker vs stoker optimised; see stoker/bench/pipelines/bench.py."""

import sys

from stoker.bench.pipelines import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
