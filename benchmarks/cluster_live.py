import sys

from stoker.bench.cluster_live import main

sys.exit(main(sys.argv[1:]))
