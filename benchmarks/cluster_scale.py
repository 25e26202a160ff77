import sys

from stoker.bench.cluster_scale import main

sys.exit(main(sys.argv[1:]))
