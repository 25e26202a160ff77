"""``python -m stoker`` runs the command line, like the ``stoker`` console script."""

import sys

from stoker.cli import main

sys.exit(main())
