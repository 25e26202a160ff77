"""stoker vs torch DataLoader on a real JPEG pipeline; see stoker/bench/loader.py."""

import sys

from stoker.bench.loader import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
