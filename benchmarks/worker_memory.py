"""Private memory of the data workers, DataLoader vs stoker; see stoker/bench/worker_memory.py."""

import sys

from stoker.bench.worker_memory import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
