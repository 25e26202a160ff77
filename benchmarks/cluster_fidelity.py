import sys

from stoker.bench.cluster_fidelity import main

sys.exit(main(sys.argv[1:]))
