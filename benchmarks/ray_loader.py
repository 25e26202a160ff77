"""``stoker bench ray``: stoker's Ray backend vs Ray Data vs the local backend on real JPEGs."""

import sys

from stoker.bench.ray import main

sys.exit(main(sys.argv[1:]))
