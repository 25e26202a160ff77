import sys

from stoker.bench.peers import main

sys.exit(main(sys.argv[1:]))
