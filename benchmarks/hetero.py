import sys

from stoker.bench.hetero import main

sys.exit(main(sys.argv[1:]))
