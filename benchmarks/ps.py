import sys

from stoker.bench.ps import main

sys.exit(main(sys.argv[1:]))
