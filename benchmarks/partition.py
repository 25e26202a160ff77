"""Bytes across the cut and training throughput per cut on a real JPEG program; see stoker/bench/partition.py."""

import sys

from stoker.bench.partition import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
