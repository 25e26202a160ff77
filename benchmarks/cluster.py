import sys

from stoker.bench.cluster import main

sys.exit(main(sys.argv[1:]))
