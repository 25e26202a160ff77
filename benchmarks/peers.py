"""stoker vs torch DataLoader, tf.data, Ray Data and torchdata.nodes; see stoker/bench/peers/.

Needs ``pip install 'stoker[peers]'`` (``make venv-peers`` builds .venv-peers with it).
"""

import sys

from stoker.bench.peers import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
