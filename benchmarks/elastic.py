"""Autoscaling against a simulated accelerator; see stoker/bench/elastic.py."""

import sys

from stoker.bench.elastic import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
