"""Time and memory to the first batch of a 1e8-length virtual data set; see stoker/bench/first_batch.py."""

import sys

from stoker.bench.first_batch import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
