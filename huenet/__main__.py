"""``python -m huenet``: the ``huenet`` command line."""

import sys

from huenet.cli import main

sys.exit(main())
