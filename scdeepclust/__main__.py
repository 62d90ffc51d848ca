"""``python -m scdeepclust``: the command line (see :mod:`scdeepclust.cli`)."""

import sys

from .cli import main

sys.exit(main())
