"""``python -m simserve`` runs the command line."""

import sys

from simserve.cli import main

sys.exit(main())
